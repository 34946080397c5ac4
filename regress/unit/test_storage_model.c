/*
 * regress/unit/test_storage_model.c — random sequences of operations on a
 * log with small segments (append, sync, truncate, hard state, snapshot
 * that continues or replaces the log, compaction, close without sync and
 * reopen), checked after every reopen against a plain in-memory model of
 * what must be durable.  Seeded: a failure prints the seed and step.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "test_storage_util.h"

#define MAX_INDEX 4096
#define SEEDS 12
#define STEPS 400
#define MAX_DATA 180

/* What the log must hold: entries snap_index+1 .. last, of which those up
 * to durable survive a close. */
struct model
{
	raft_term	term[MAX_INDEX + 1];	/* term of each index in the log */
	raft_index	last;
	raft_index	durable;
	raft_index	snap_index;
	raft_term	snap_term;
	raft_index	commit;
	raft_term	hs_term;
	raft_term	cur_term;		/* term for new entries */
};

static uint64_t
next_rand(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

static raft_index
pick(uint64_t *x, raft_index lo, raft_index hi)
{
	return hi <= lo ? lo : lo + next_rand(x) % (hi - lo + 1);
}

/* Data depends on index and term: a replaced entry reads differently. */
static size_t
model_len(raft_index index, raft_term term)
{
	return data_len_for(index * 13 + term, MAX_DATA);
}

static void
check_against_model(const struct model *m, const struct raft_log_loaded *l,
					struct raft_log *log, uint64_t seed, int step)
{
	raft_index	first = m->snap_index + 1;
	struct raft_log_info info;

	if (l->n_entries != (m->durable >= first ? m->durable - first + 1 : 0) ||
		l->snapshot.index != m->snap_index || l->repaired)
		fail_msg("seed %llu step %d: loaded %zu entries after snapshot %llu, model %llu..%llu after %llu%s",
				 (unsigned long long) seed, step, l->n_entries,
				 (unsigned long long) l->snapshot.index,
				 (unsigned long long) first, (unsigned long long) m->durable,
				 (unsigned long long) m->snap_index,
				 l->repaired ? " (repaired!)" : "");
	for (raft_index i = first; i <= m->durable; i++)
		entry_check(&l->entries[i - first], i, m->term[i],
					model_len(i, m->term[i]));
	assert_int_equal(l->snapshot.term, m->snap_term);
	assert_int_equal(l->hard_state.commit, m->commit);
	assert_int_equal(l->hard_state.term, m->hs_term);
	raft_log_get_info(log, &info);
	assert_int_equal(info.synced_index >= first ? info.synced_index : m->durable,
					 m->durable);
	if (m->durable >= first)
		assert_int_equal(raft_log_term_at(log, m->durable), m->term[m->durable]);
}

static void
run_seed(uint64_t seed)
{
	char		dir[DIR_LEN];
	struct raft_log_options opt;
	struct raft_log *log;
	struct raft_log_loaded l;
	struct model *m = calloc(1, sizeof(*m));
	uint64_t	x = seed * 0x9e3779b97f4a7c15u + 1;

	scratch_dir(dir, sizeof(dir));
	small_options(&opt);
	opt.preallocate = (seed & 1) == 0;
	m->cur_term = 1;
	assert_int_equal(raft_log_open(dir, &opt, &log, &l), RAFT_OK);

	for (int step = 0; step < STEPS; step++)
	{
		unsigned	op = (unsigned) (next_rand(&x) % 100);

		if (op < 40 && m->last + 10 < MAX_INDEX)
		{
			/* append a few, sometimes in a new term */
			raft_index	n = pick(&x, 1, 8);

			if (next_rand(&x) % 8 == 0)
				m->cur_term++;
			for (raft_index i = m->last + 1; i <= m->last + n; i++)
			{
				struct raft_entry e;

				entry_make(&e, i, m->cur_term, model_len(i, m->cur_term));
				assert_int_equal(raft_log_append(log, &e, 1), RAFT_OK);
				entry_free(&e);
				m->term[i] = m->cur_term;
			}
			m->last += n;
		}
		else if (op < 60)
		{
			assert_int_equal(raft_log_sync(log), RAFT_OK);
			m->durable = m->last;
		}
		else if (op < 70)
		{
			/* a conflicting suffix, above what is committed */
			raft_index	floor = m->commit > m->snap_index ? m->commit : m->snap_index;

			if (m->last > floor)
			{
				raft_index	from = pick(&x, floor + 1, m->last);

				assert_int_equal(raft_log_truncate(log, from), RAFT_OK);
				m->last = from - 1;
				if (m->durable > m->last)
					m->durable = m->last;
				m->cur_term++;	/* a new leader's entries follow */
			}
		}
		else if (op < 76)
		{
			/* hard state; commit at most what is appended */
			struct raft_hard_state hs;

			hs.term = m->cur_term;
			hs.vote = 1;
			hs.commit = pick(&x, m->commit, m->last > m->commit ? m->last : m->commit);
			if (hs.commit < m->snap_index)
				hs.commit = m->snap_index;
			assert_int_equal(raft_log_save_hard_state(log, &hs), RAFT_OK);
			if (hs.commit > m->durable)
				m->durable = m->last;	/* it synced what commit covers */
			m->commit = hs.commit;
			m->hs_term = hs.term;
		}
		else if (op < 84 && m->durable > m->snap_index)
		{
			/* a local snapshot of durable entries, then compaction */
			struct raft_snapshot snap;
			raft_index	at = pick(&x, m->snap_index + 1, m->durable);

			memset(&snap, 0, sizeof(snap));
			snap.index = at;
			snap.term = m->term[at];
			assert_int_equal(raft_log_save_snapshot(log, &snap), RAFT_OK);
			m->snap_index = at;
			m->snap_term = snap.term;
			assert_int_equal(raft_log_compact(log, pick(&x, at / 2, at)), RAFT_OK);
		}
		else if (op < 87 && m->last + 50 < MAX_INDEX)
		{
			/* a leader's snapshot from another history replaces the log */
			struct raft_snapshot snap;
			raft_index	at = m->last + pick(&x, 0, 20);

			if (at <= m->snap_index)
				continue;
			m->cur_term++;
			memset(&snap, 0, sizeof(snap));
			snap.index = at;
			snap.term = m->cur_term;
			assert_int_equal(raft_log_save_snapshot(log, &snap), RAFT_OK);
			m->snap_index = at;
			m->snap_term = snap.term;
			m->last = at;
			m->durable = at;
		}
		else
		{
			/* close without syncing (a crash that lost the page cache of
			 * nothing: unsynced entries were never written), reopen */
			raft_log_close(log);
			raft_log_loaded_free(&l);
			m->last = m->durable;
			if (m->snap_index > m->last)
				m->last = m->durable = m->snap_index;
			assert_int_equal(raft_log_open(dir, &opt, &log, &l), RAFT_OK);
			check_against_model(m, &l, log, seed, step);
		}
	}
	raft_log_close(log);
	raft_log_loaded_free(&l);
	m->last = m->durable;
	assert_int_equal(raft_log_open(dir, &opt, &log, &l), RAFT_OK);
	check_against_model(m, &l, log, seed, STEPS);
	raft_log_close(log);
	raft_log_loaded_free(&l);
	remove_dir(dir);
	free(m);
}

static void
test_random_operations(void **state)
{
	for (uint64_t seed = 1; seed <= SEEDS; seed++)
		run_seed(seed);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_random_operations),
	};

	return cmocka_run_group_tests_name("storage model", tests, NULL, NULL);
}
