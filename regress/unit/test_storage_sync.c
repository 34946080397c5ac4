/*
 * regress/unit/test_storage_sync.c — the sync split in three steps
 * (raft_log_sync_begin / _run / _finish, Raft dissertation §10.2.1): the
 * fdatasync runs on another thread while the log takes appends for the
 * next batch; nothing is durable (synced_index) before finish; a failed
 * fdatasync keeps the entries buffered for a retry; calls that would
 * change the segment under the sync are refused; every sync is counted
 * and timed (raft_log_info sync_us_total / sync_us_max), hard state saves
 * included.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "test_storage_util.h"

#define MAX_DATA 200

struct fixture
{
	char		dir[DIR_LEN];
	struct faults faults;
	struct raft_log_options opt;
	struct raft_log *log;
	struct raft_log_loaded loaded;
};

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	scratch_dir(f->dir, sizeof(f->dir));
	small_options(&f->opt);
	f->opt.fault = fault_hook;
	f->opt.fault_arg = &f->faults;
	assert_int_equal(raft_log_open(f->dir, &f->opt, &f->log, &f->loaded), RAFT_OK);
	raft_log_loaded_free(&f->loaded);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	if (f->log)
		raft_log_close(f->log);
	remove_dir(f->dir);
	free(f);
	return 0;
}

static void
reopen(struct fixture *f)
{
	raft_log_close(f->log);
	f->log = NULL;
	assert_int_equal(raft_log_open(f->dir, &f->opt, &f->log, &f->loaded), RAFT_OK);
}

static raft_index
synced(struct raft_log *log)
{
	struct raft_log_info info;

	raft_log_get_info(log, &info);
	return info.synced_index;
}

static void *
run_thread(void *arg)
{
	raft_log_sync_run(arg);
	return NULL;
}

/* Entries are durable only once finish returned RAFT_OK. */
static void
durable_only_after_finish(void **state)
{
	struct fixture *f = *state;
	struct raft_log_sync job;
	struct raft_log_info info;

	append_range(f->log, 1, 5, 1, MAX_DATA);
	assert_int_equal(raft_log_sync_begin(f->log, &job), RAFT_OK);
	assert_int_equal(job.index, 5);
	raft_log_get_info(f->log, &info);
	assert_true(info.sync_inflight);
	assert_int_equal(info.synced_index, 0);
	assert_int_equal(info.last_index, 5);
	raft_log_sync_run(&job);
	assert_int_equal(synced(f->log), 0);
	assert_int_equal(raft_log_sync_finish(f->log, &job), RAFT_OK);
	raft_log_get_info(f->log, &info);
	assert_false(info.sync_inflight);
	assert_int_equal(info.synced_index, 5);
	assert_int_equal(info.pending_bytes, 0);
	reopen(f);
	loaded_check(&f->loaded, 1, 5, 1, MAX_DATA);
	raft_log_loaded_free(&f->loaded);
}

/*
 * §10.2.1 group commit: while the fdatasync runs on another thread, the
 * log takes the next batch's appends; they become durable with the next
 * sync, not this one.
 */
static void
appends_while_a_sync_runs_wait_for_the_next(void **state)
{
	struct fixture *f = *state;
	struct raft_log_sync job;
	pthread_t	th;

	append_range(f->log, 1, 3, 1, MAX_DATA);
	assert_int_equal(raft_log_sync_begin(f->log, &job), RAFT_OK);
	assert_int_equal(pthread_create(&th, NULL, run_thread, &job), 0);
	append_range(f->log, 4, 9, 2, MAX_DATA);
	assert_int_equal(raft_log_term_at(f->log, 9), 2);
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_int_equal(raft_log_sync_finish(f->log, &job), RAFT_OK);
	assert_int_equal(synced(f->log), 3);

	assert_int_equal(raft_log_sync_begin(f->log, &job), RAFT_OK);
	assert_int_equal(job.index, 9);
	raft_log_sync_run(&job);
	assert_int_equal(raft_log_sync_finish(f->log, &job), RAFT_OK);
	assert_int_equal(synced(f->log), 9);
	reopen(f);
	assert_int_equal(f->loaded.n_entries, 9);
	for (raft_index i = 1; i <= 9; i++)
		entry_check(&f->loaded.entries[i - 1], i, i <= 3 ? 1 : 2,
					data_len_for(i, MAX_DATA));
	raft_log_loaded_free(&f->loaded);
}

/* Nothing appended: a job with index 0, run and finish do nothing. */
static void
empty_sync_is_a_no_op(void **state)
{
	struct fixture *f = *state;
	struct raft_log_sync job;
	struct raft_log_info before;
	struct raft_log_info after;

	raft_log_get_info(f->log, &before);
	assert_int_equal(raft_log_sync_begin(f->log, &job), RAFT_OK);
	assert_int_equal(job.index, 0);
	raft_log_sync_run(&job);
	assert_int_equal(raft_log_sync_finish(f->log, &job), RAFT_OK);
	raft_log_get_info(f->log, &after);
	assert_int_equal(after.data_syncs, before.data_syncs);
	assert_false(after.sync_inflight);
}

/* What would change the segment under the running fdatasync is refused. */
static void
changes_are_refused_while_a_sync_is_in_flight(void **state)
{
	struct fixture *f = *state;
	struct raft_log_sync job;
	struct raft_log_sync other;
	struct raft_hard_state hs = {1, 1, 0};
	struct raft_snapshot snap;

	append_range(f->log, 1, 4, 1, MAX_DATA);
	assert_int_equal(raft_log_sync(f->log), RAFT_OK);
	append_range(f->log, 5, 6, 1, MAX_DATA);
	assert_int_equal(raft_log_sync_begin(f->log, &job), RAFT_OK);

	assert_int_equal(raft_log_sync(f->log), RAFT_EINVAL);
	assert_non_null(strstr(raft_log_errmsg(f->log), "in flight"));
	assert_int_equal(raft_log_sync_begin(f->log, &other), RAFT_EINVAL);
	assert_int_equal(raft_log_truncate(f->log, 3), RAFT_EINVAL);
	assert_int_equal(raft_log_compact(f->log, 2), RAFT_EINVAL);
	memset(&snap, 0, sizeof(snap));
	snap.index = 2;
	snap.term = 1;
	assert_int_equal(raft_log_save_snapshot(f->log, &snap), RAFT_EINVAL);
	/* The hard state is another file: saving it is fine. */
	hs.commit = 4;
	assert_int_equal(raft_log_save_hard_state(f->log, &hs), RAFT_OK);

	raft_log_sync_run(&job);
	assert_int_equal(raft_log_sync_finish(f->log, &job), RAFT_OK);
	assert_int_equal(raft_log_sync_finish(f->log, &job), RAFT_EINVAL);
	assert_int_equal(raft_log_truncate(f->log, 6), RAFT_OK);
	reopen(f);
	loaded_check(&f->loaded, 1, 5, 1, MAX_DATA);
	assert_int_equal(f->loaded.hard_state.commit, 4);
	raft_log_loaded_free(&f->loaded);
}

/*
 * A failed fdatasync (EIO) in run: finish reports it with strerror's text,
 * nothing new is durable, the entries stay buffered, and a later sync
 * writes them again (never a second fdatasync of possibly dropped pages).
 */
static void
failed_sync_keeps_entries_for_a_retry(void **state)
{
	struct fixture *f = *state;
	struct raft_log_sync job;

	append_range(f->log, 1, 2, 1, MAX_DATA);
	assert_int_equal(raft_log_sync(f->log), RAFT_OK);
	append_range(f->log, 3, 6, 1, MAX_DATA);
	assert_int_equal(raft_log_sync_begin(f->log, &job), RAFT_OK);
	f->faults.op = RAFT_LOG_OP_SYNC;
	f->faults.times = 1;
	f->faults.err = EIO;
	raft_log_sync_run(&job);
	assert_int_equal(raft_log_sync_finish(f->log, &job), RAFT_EIO);
	assert_non_null(strstr(raft_log_errmsg(f->log), "Input/output error"));
	assert_int_equal(synced(f->log), 2);
	assert_int_equal(raft_log_term_at(f->log, 6), 1);

	append_range(f->log, 7, 7, 1, MAX_DATA);
	assert_int_equal(raft_log_sync(f->log), RAFT_OK);
	assert_int_equal(synced(f->log), 7);
	reopen(f);
	loaded_check(&f->loaded, 1, 7, 1, MAX_DATA);
	raft_log_loaded_free(&f->loaded);
}

/* Segments that fill up are synced in begin; the job syncs the last one. */
static void
segment_rollover_inside_begin(void **state)
{
	struct fixture *f = *state;
	struct raft_log_sync job;
	struct raft_log_info info;

	append_range(f->log, 1, 120, 1, MAX_DATA);	/* several 4 KiB segments */
	assert_int_equal(raft_log_sync_begin(f->log, &job), RAFT_OK);
	assert_int_equal(job.index, 120);
	raft_log_get_info(f->log, &info);
	assert_true(info.n_segments > 1);
	assert_true(info.synced_index > 0 && info.synced_index < 120);
	raft_log_sync_run(&job);
	assert_int_equal(raft_log_sync_finish(f->log, &job), RAFT_OK);
	assert_int_equal(synced(f->log), 120);
	reopen(f);
	loaded_check(&f->loaded, 1, 120, 1, MAX_DATA);
	raft_log_loaded_free(&f->loaded);
}

/* Every sync is counted and timed, the hard state's two included. */
static void
syncs_are_counted_and_timed(void **state)
{
	struct fixture *f = *state;
	struct raft_log_info a;
	struct raft_log_info b;
	struct raft_log_info c;
	struct raft_hard_state hs = {3, 2, 0};

	raft_log_get_info(f->log, &a);
	append_range(f->log, 1, 3, 1, MAX_DATA);
	assert_int_equal(raft_log_sync(f->log), RAFT_OK);
	raft_log_get_info(f->log, &b);
	assert_true(b.data_syncs > a.data_syncs);
	assert_true(b.sync_us_total >= a.sync_us_total);
	assert_true(b.sync_us_max <= b.sync_us_total);

	assert_int_equal(raft_log_save_hard_state(f->log, &hs), RAFT_OK);
	raft_log_get_info(f->log, &c);
	assert_int_equal(c.data_syncs, b.data_syncs + 1);
	assert_int_equal(c.dir_syncs, b.dir_syncs + 1);
	assert_true(c.sync_us_total >= b.sync_us_total);
	assert_true(c.sync_us_max >= b.sync_us_max);
	assert_true(c.sync_us_max <= c.sync_us_total);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(durable_only_after_finish, setup, teardown),
		cmocka_unit_test_setup_teardown(appends_while_a_sync_runs_wait_for_the_next, setup, teardown),
		cmocka_unit_test_setup_teardown(empty_sync_is_a_no_op, setup, teardown),
		cmocka_unit_test_setup_teardown(changes_are_refused_while_a_sync_is_in_flight, setup, teardown),
		cmocka_unit_test_setup_teardown(failed_sync_keeps_entries_for_a_retry, setup, teardown),
		cmocka_unit_test_setup_teardown(segment_rollover_inside_begin, setup, teardown),
		cmocka_unit_test_setup_teardown(syncs_are_counted_and_timed, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
