/*
 * regress/unit/test_status.c — raft_get_status as raft.nodes() reads it:
 * per-member match, progress state and lag in bytes (entry data after
 * match up to the last index, over the entries the leader still holds).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "lib/cluster.h"

static struct test_cluster cl;

/* the status of node i of this file's cluster */
#define status_of(i) cluster_status_of(&cl, (i))

/* The leader's progress entry for node i (id i + 1); fails if none. */
static struct raft_progress_info
progress_of(const struct raft_status *st, unsigned i)
{
	for (uint32_t k = 0; k < st->n_progress; k++)
		if (st->progress[k].id == (raft_id) i + 1)
			return st->progress[k];
	fail_msg("no progress for node %u", i + 1);
	return st->progress[0];
}

/* Proposes n entries of len bytes each on the leader and delivers them. */
static uint64_t
propose_bytes(unsigned leader, unsigned n, size_t len)
{
	char		text[128];

	assert_true(len > 0 && len < sizeof(text));
	memset(text, 'x', len);
	text[len] = '\0';
	for (unsigned k = 0; k < n; k++)
	{
		assert_int_equal(cluster_propose(&cl, leader, text, NULL), RAFT_OK);
		cluster_stabilize(&cl);
	}
	return (uint64_t) n * len;
}

/* Caught up: every member's lag is zero, in entries and bytes. */
static void
no_lag_when_caught_up(void **state)
{
	struct raft_status st;

	(void) state;
	cluster_init(&cl, 3, 3, NULL);
	cluster_elect(&cl, 0);
	propose_bytes(0, 4, 10);
	cluster_run(&cl, 2);
	st = status_of(0);
	assert_int_equal(st.n_progress, 3);
	for (unsigned i = 0; i < 3; i++)
	{
		struct raft_progress_info p = progress_of(&st, i);

		assert_int_equal(p.match, st.last_index);
		assert_int_equal(p.lag_bytes, 0);
	}
	/* a follower publishes no progress */
	assert_int_equal(status_of(1).n_progress, 0);
	cluster_free(&cl);
}

/*
 * Two followers cut off at different points: each lag counts the data of
 * the entries after its own match (the no-op and configuration entries of
 * the leader's term come before, and carry no command data here).
 */
static void
lag_bytes_per_member(void **state)
{
	struct raft_status st;
	uint64_t	after_3 = 0;
	uint64_t	after_2 = 0;

	(void) state;
	cluster_init(&cl, 3, 3, NULL);
	cluster_elect(&cl, 0);
	propose_bytes(0, 2, 5);
	cluster_run(&cl, 1);

	cluster_isolate(&cl, 2);
	after_3 += propose_bytes(0, 3, 7);
	cluster_isolate(&cl, 1);
	after_2 += propose_bytes(0, 2, 11);
	after_3 += after_2;

	st = status_of(0);
	assert_int_equal(progress_of(&st, 1).lag_bytes, after_2);
	assert_int_equal(progress_of(&st, 2).lag_bytes, after_3);
	assert_int_equal(st.last_index - progress_of(&st, 1).match, 2);
	assert_int_equal(st.last_index - progress_of(&st, 2).match, 5);
	/* the leader's own entries are durable once the ready is advanced */
	assert_int_equal(progress_of(&st, 0).lag_bytes, 0);

	/* once healed, everyone catches up */
	cluster_heal(&cl);
	cluster_run(&cl, 3);
	st = status_of(0);
	for (unsigned i = 0; i < 3; i++)
		assert_int_equal(progress_of(&st, i).lag_bytes, 0);
	cluster_free(&cl);
}

/* The leader's own row: entries proposed but not yet persisted. */
static void
leader_counts_what_is_not_durable(void **state)
{
	struct raft_status st;

	(void) state;
	cluster_init(&cl, 3, 3, NULL);
	cluster_elect(&cl, 0);
	assert_int_equal(cluster_propose(&cl, 0, "twelve bytes", NULL), RAFT_OK);
	st = status_of(0);
	assert_int_equal(progress_of(&st, 0).lag_bytes, 12);
	cluster_stabilize(&cl);
	st = status_of(0);
	assert_int_equal(progress_of(&st, 0).lag_bytes, 0);
	cluster_free(&cl);
}

/*
 * A member behind the leader's compaction needs a snapshot: its progress
 * state says so, and its lag counts only the entries still in memory.
 */
static void
compacted_lag_is_a_lower_bound(void **state)
{
	struct raft_status st;
	struct raft_progress_info p;
	uint64_t	kept = 0;
	bool		snapshot_seen = false;

	(void) state;
	cluster_init(&cl, 3, 3, NULL);
	cluster_elect(&cl, 0);
	cluster_isolate(&cl, 2);
	propose_bytes(0, 6, 9);
	st = status_of(0);
	assert_int_equal(cluster_compact(&cl, 0, st.commit - 2), RAFT_OK);
	kept = 2 * 9;
	st = status_of(0);
	p = progress_of(&st, 2);
	assert_true(p.match < st.first_index - 1);
	assert_int_equal(p.lag_bytes, kept);

	/* healed, the leader sends a snapshot: visible as the progress state */
	cluster_heal(&cl);
	for (unsigned t = 0; t < 5 && !snapshot_seen; t++)
	{
		cluster_tick_all(&cl, 1);
		for (unsigned k = 0; k < 10 && !snapshot_seen; k++)
		{
			cluster_process_all(&cl);
			st = status_of(0);
			snapshot_seen = progress_of(&st, 2).state == RAFT_PROGRESS_SNAPSHOT;
			cluster_deliver(&cl);
		}
	}
	assert_true(snapshot_seen);
	cluster_run(&cl, 5);
	st = status_of(0);
	p = progress_of(&st, 2);
	assert_int_not_equal(p.state, RAFT_PROGRESS_SNAPSHOT);
	assert_int_equal(p.match, st.last_index);
	assert_int_equal(p.lag_bytes, 0);
	cluster_free(&cl);
}

/* The bytes after match, summed from node i's log on "disk". */
static uint64_t
disk_bytes_after(unsigned i, raft_index match)
{
	uint64_t	bytes = 0;

	for (size_t k = 0; k < cl.nodes[i].n_log; k++)
		if (cl.nodes[i].log[k].index > match)
			bytes += cl.nodes[i].log[k].data.len;
	return bytes;
}

/*
 * The running sums survive truncation: a leader's uncommitted suffix is
 * replaced when it comes back as a follower, then it leads again with a
 * lagging member; its lag_bytes match a sum over its log.
 */
static void
lag_bytes_after_truncation(void **state)
{
	struct raft_status st;
	int			other;

	(void) state;
	cluster_init(&cl, 3, 3, NULL);
	cluster_elect(&cl, 0);
	propose_bytes(0, 3, 4);
	cluster_run(&cl, 1);

	/* node 1 alone: its entries are never committed */
	cluster_isolate(&cl, 0);
	propose_bytes(0, 5, 50);
	cluster_run(&cl, 40);
	other = cluster_leader(&cl);
	assert_true(other == 1 || other == 2);
	propose_bytes((unsigned) other, 2, 6);
	cluster_heal(&cl);
	cluster_run(&cl, 3);
	assert_int_equal(status_of(0).role, RAFT_FOLLOWER);
	assert_int_equal(status_of(0).last_index, status_of((unsigned) other).last_index);
	assert_int_equal(disk_bytes_after(0, 0), disk_bytes_after((unsigned) other, 0));

	/* node 1 leads again; node 3 falls behind */
	assert_int_equal(raft_transfer_leadership(cluster_raft(&cl, (unsigned) other), 1),
					 RAFT_OK);
	cluster_run(&cl, 3);
	assert_int_equal(cluster_leader(&cl), 0);
	cluster_isolate(&cl, 2);
	propose_bytes(0, 4, 3);
	st = status_of(0);
	for (unsigned i = 0; i < 3; i++)
	{
		struct raft_progress_info p = progress_of(&st, i);

		assert_int_equal(p.lag_bytes, disk_bytes_after(0, p.match));
	}
	assert_int_equal(progress_of(&st, 2).lag_bytes, 4 * 3);
	cluster_free(&cl);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(no_lag_when_caught_up),
		cmocka_unit_test(lag_bytes_per_member),
		cmocka_unit_test(leader_counts_what_is_not_durable),
		cmocka_unit_test(compacted_lag_is_a_lower_bound),
		cmocka_unit_test(lag_bytes_after_truncation),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
