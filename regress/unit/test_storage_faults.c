/*
 * regress/unit/test_storage_faults.c — I/O failures through the options'
 * fault hook: ENOSPC when a segment is created or written, EIO from
 * fdatasync and from the directory fsync, a failed rename of the hard
 * state.  Each must be reported with strerror's text, keep what was
 * durable, keep the unsynced entries for a retry, and leave nothing behind
 * that a later open would misread (stale records after a failed sync).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "test_storage_util.h"

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
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	raft_log_close(f->log);
	raft_log_loaded_free(&f->loaded);
	remove_dir(f->dir);
	free(f);
	return 0;
}

static void
arm(struct fixture *f, enum raft_log_op op, int err, int skip, int times)
{
	f->faults.op = op;
	f->faults.err = err;
	f->faults.skip = skip;
	f->faults.times = times;
}

/* Reopens without faults; the open must need no repair. */
static void
reopen(struct fixture *f)
{
	raft_log_close(f->log);
	raft_log_loaded_free(&f->loaded);
	f->log = NULL;
	f->faults.times = 0;
	assert_int_equal(raft_log_open(f->dir, &f->opt, &f->log, &f->loaded), RAFT_OK);
	assert_false(f->loaded.repaired);
}

static bool
any_tmp_file(const char *dir)
{
	DIR		   *d = opendir(dir);
	struct dirent *de;
	bool		found = false;

	assert_non_null(d);
	while ((de = readdir(d)) != NULL)
		if (strstr(de->d_name, ".tmp") != NULL)
			found = true;
	closedir(d);
	return found;
}

static void
test_enospc_creating_first_segment(void **state)
{
	struct fixture *f = *state;
	struct raft_log_info info;
	raft_index	segs[8];
	char		es[128];

	append_range(f->log, 1, 5, 1, 50);
	arm(f, RAFT_LOG_OP_ALLOCATE, ENOSPC, 0, 1);
	assert_int_equal(raft_log_sync(f->log), RAFT_EIO);
	snprintf(es, sizeof(es), "%s", strerror(ENOSPC));
	assert_non_null(strstr(raft_log_errmsg(f->log), es));
	assert_non_null(strstr(raft_log_errmsg(f->log), "00000000000000000001.seg"));
	raft_log_get_info(f->log, &info);
	assert_int_equal(info.synced_index, 0);
	assert_int_equal(info.last_index, 5);
	assert_true(info.pending_bytes > 0);
	assert_int_equal(list_segments(f->dir, segs, 8), 0);
	assert_false(any_tmp_file(f->dir));

	/* Space is back: the same entries become durable. */
	assert_int_equal(raft_log_sync(f->log), RAFT_OK);
	reopen(f);
	loaded_check(&f->loaded, 1, 5, 1, 50);
}

/* A batch across a rollover: the full segment stays durable. */
static void
test_enospc_at_rollover(void **state)
{
	struct fixture *f = *state;
	struct raft_log_info info;

	append_range(f->log, 1, 2, 1, 100);
	assert_int_equal(raft_log_sync(f->log), RAFT_OK);
	append_range(f->log, 3, 80, 1, 100);	/* several segments' worth */
	arm(f, RAFT_LOG_OP_ALLOCATE, ENOSPC, 0, 1);
	assert_int_equal(raft_log_sync(f->log), RAFT_EIO);
	raft_log_get_info(f->log, &info);
	assert_true(info.synced_index > 2);
	assert_true(info.synced_index < 80);
	assert_int_equal(info.n_segments, 1);
	assert_int_equal(info.last_index, 80);

	/* What the failed sync made durable survives a close right now. */
	{
		raft_index	synced = info.synced_index;

		reopen(f);
		loaded_check(&f->loaded, 1, synced, 1, 100);
		append_range(f->log, synced + 1, 80, 1, 100);
	}
	assert_int_equal(raft_log_sync(f->log), RAFT_OK);
	reopen(f);
	loaded_check(&f->loaded, 1, 80, 1, 100);
}

static void
test_write_failure_then_retry(void **state)
{
	struct fixture *f = *state;
	struct raft_log_info info;

	append_range(f->log, 1, 10, 1, 50);
	assert_int_equal(raft_log_sync(f->log), RAFT_OK);
	append_range(f->log, 11, 20, 1, 50);
	arm(f, RAFT_LOG_OP_WRITE, ENOSPC, 0, 1);
	assert_int_equal(raft_log_sync(f->log), RAFT_EIO);
	raft_log_get_info(f->log, &info);
	assert_int_equal(info.synced_index, 10);
	assert_int_equal(info.last_index, 20);
	assert_int_equal(raft_log_sync(f->log), RAFT_OK);
	reopen(f);
	loaded_check(&f->loaded, 1, 20, 1, 50);
}

/*
 * fdatasync fails after the records were written.  The log cuts them off
 * again, so when the host then replaces those entries with shorter ones,
 * none of the old records can be read back after the new ones.
 */
static void
test_fdatasync_failure_leaves_no_stale_records(void **state)
{
	struct fixture *f = *state;

	f->opt.segment_bytes = 64 * 1024;
	reopen(f);
	append_range(f->log, 1, 10, 1, 200);
	assert_int_equal(raft_log_sync(f->log), RAFT_OK);
	append_range(f->log, 11, 20, 1, 200);
	arm(f, RAFT_LOG_OP_SYNC, EIO, 0, 1);
	assert_int_equal(raft_log_sync(f->log), RAFT_EIO);
	assert_non_null(strstr(raft_log_errmsg(f->log), strerror(EIO)));

	/* The host gives up on 11..20 (a new leader's entries replace them). */
	assert_int_equal(raft_log_truncate(f->log, 11), RAFT_OK);
	append_range(f->log, 11, 12, 2, 5);
	assert_int_equal(raft_log_sync(f->log), RAFT_OK);
	reopen(f);
	assert_int_equal(f->loaded.n_entries, 12);
	for (raft_index i = 1; i <= 10; i++)
		entry_check(&f->loaded.entries[i - 1], i, 1, data_len_for(i, 200));
	for (raft_index i = 11; i <= 12; i++)
		entry_check(&f->loaded.entries[i - 1], i, 2, data_len_for(i, 5));
}

/* A new segment whose directory entry may not be durable is not used
 * for acknowledged entries until the directory fsync succeeds. */
static void
test_dirsync_failure_after_create(void **state)
{
	struct fixture *f = *state;
	struct raft_log_info info;
	uint64_t	dir_syncs;

	append_range(f->log, 1, 3, 1, 50);
	arm(f, RAFT_LOG_OP_DIRSYNC, EIO, 0, 1);
	assert_int_equal(raft_log_sync(f->log), RAFT_EIO);
	raft_log_get_info(f->log, &info);
	assert_int_equal(info.n_segments, 1);
	assert_int_equal(info.synced_index, 0);
	dir_syncs = info.dir_syncs;
	assert_int_equal(raft_log_sync(f->log), RAFT_OK);
	raft_log_get_info(f->log, &info);
	assert_int_equal(info.dir_syncs, dir_syncs + 1);
	assert_int_equal(info.synced_index, 3);
	reopen(f);
	loaded_check(&f->loaded, 1, 3, 1, 50);
}

static void
test_hard_state_failure_keeps_old(void **state)
{
	struct fixture *f = *state;
	struct raft_hard_state hs = {.term = 2, .vote = 1, .commit = 0};
	enum raft_log_op ops[] = {RAFT_LOG_OP_WRITE, RAFT_LOG_OP_SYNC, RAFT_LOG_OP_RENAME};

	assert_int_equal(raft_log_save_hard_state(f->log, &hs), RAFT_OK);
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
	{
		struct raft_hard_state next = {.term = 3 + i, .vote = 2, .commit = 0};

		arm(f, ops[i], ENOSPC, 0, 1);
		assert_int_equal(raft_log_save_hard_state(f->log, &next), RAFT_EIO);
		assert_non_null(strstr(raft_log_errmsg(f->log), "hardstate"));
		assert_false(any_tmp_file(f->dir));
		reopen(f);
		assert_int_equal(f->loaded.hard_state.term, 2);
		assert_int_equal(f->loaded.hard_state.vote, 1);
	}
}

static void
test_snapshot_failure_keeps_old(void **state)
{
	struct fixture *f = *state;
	struct raft_snapshot snap;
	char		old[] = "old";
	char		new[] = "newer";

	append_range(f->log, 1, 20, 1, 50);
	assert_int_equal(raft_log_sync(f->log), RAFT_OK);
	memset(&snap, 0, sizeof(snap));
	snap.index = 10;
	snap.term = 1;
	snap.data.base = old;
	snap.data.len = sizeof(old);
	assert_int_equal(raft_log_save_snapshot(f->log, &snap), RAFT_OK);
	snap.index = 15;
	snap.data.base = new;
	snap.data.len = sizeof(new);
	arm(f, RAFT_LOG_OP_WRITE, ENOSPC, 0, 1);
	assert_int_equal(raft_log_save_snapshot(f->log, &snap), RAFT_EIO);
	/* Compaction is bounded by the snapshot that was saved. */
	assert_int_equal(raft_log_compact(f->log, 15), RAFT_EINVAL);
	reopen(f);
	assert_int_equal(f->loaded.snapshot.index, 10);
	assert_memory_equal(f->loaded.snapshot.data.base, old, sizeof(old));
	loaded_check(&f->loaded, 11, 20, 1, 50);
}

/* A failure halfway through a truncation stops the log until reopened;
 * the reopened log is a consistent prefix. */
static void
test_truncate_failure_breaks_until_reopen(void **state)
{
	struct fixture *f = *state;
	struct raft_log_info info;

	append_range(f->log, 1, 100, 1, 200);
	assert_int_equal(raft_log_sync(f->log), RAFT_OK);
	raft_log_get_info(f->log, &info);
	assert_true(info.n_segments >= 4);
	arm(f, RAFT_LOG_OP_DIRSYNC, EIO, 1, 1);	/* the second removal's */
	assert_int_equal(raft_log_truncate(f->log, 5), RAFT_EIO);
	assert_int_equal(raft_log_sync(f->log), RAFT_EIO);
	assert_non_null(strstr(raft_log_errmsg(f->log), "reopen"));
	reopen(f);
	assert_true(f->loaded.n_entries >= 4);
	assert_true(f->loaded.n_entries < 100);
	loaded_check(&f->loaded, 1, f->loaded.n_entries, 1, 200);
	assert_int_equal(raft_log_truncate(f->log, 5), RAFT_OK);
	reopen(f);
	loaded_check(&f->loaded, 1, 4, 1, 200);
}

/* The append buffer is bounded: past max_pending_bytes append syncs. */
static void
test_bounded_pending(void **state)
{
	struct fixture *f = *state;
	struct raft_log_info info;

	f->opt.max_pending_bytes = 2000;
	reopen(f);
	append_range(f->log, 1, 100, 1, 100);
	raft_log_get_info(f->log, &info);
	assert_true(info.synced_index > 0);
	assert_true(info.pending_bytes <= 2000);
	assert_true(info.data_syncs > 0);

	/* A failing implicit sync fails the append, which changes nothing. */
	arm(f, RAFT_LOG_OP_SYNC, EIO, 0, 100);
	{
		struct raft_entry e;
		int			rv = RAFT_OK;
		raft_index	i;

		for (i = 101; i < 200 && rv == RAFT_OK; i++)
		{
			entry_make(&e, i, 1, data_len_for(i, 100));
			rv = raft_log_append(f->log, &e, 1);
			entry_free(&e);
		}
		assert_int_equal(rv, RAFT_EIO);
		raft_log_get_info(f->log, &info);
		assert_int_equal(info.last_index, i - 2);
	}
}

int
main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_enospc_creating_first_segment),
		T(test_enospc_at_rollover),
		T(test_write_failure_then_retry),
		T(test_fdatasync_failure_leaves_no_stale_records),
		T(test_dirsync_failure_after_create),
		T(test_hard_state_failure_keeps_old),
		T(test_snapshot_failure_keeps_old),
		T(test_truncate_failure_breaks_until_reopen),
		T(test_bounded_pending),
	};
#undef T

	return cmocka_run_group_tests_name("storage faults", tests, NULL, NULL);
}
