/*
 * regress/unit/test_storage.c — the durable log's normal life: round trips
 * across segment rollover and reopen, group commit (one fdatasync per
 * sync), truncation of a conflicting suffix (§3.5), compaction below the
 * snapshot (§5.1), the snapshot replacing a log it does not continue (§5),
 * atomic hard state, and the checks on what the host appends.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <pthread.h>

#include "test_storage_util.h"

struct fixture
{
	char		dir[DIR_LEN];
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

/* Closes and reopens f->log; the open must succeed without repairs. */
static void
reopen(struct fixture *f)
{
	raft_log_close(f->log);
	raft_log_loaded_free(&f->loaded);
	f->log = NULL;
	assert_int_equal(raft_log_open(f->dir, &f->opt, &f->log, &f->loaded), RAFT_OK);
	assert_false(f->loaded.repaired);
	assert_string_equal(f->loaded.report, "");
}

static void
test_fresh(void **state)
{
	struct fixture *f = *state;
	struct raft_hard_state hs = {.term = 3, .vote = 2, .commit = 0};

	reopen(f);
	assert_true(f->loaded.fresh);
	assert_int_equal(f->loaded.n_entries, 0);
	assert_int_equal(f->loaded.snapshot.index, 0);
	assert_int_equal(raft_log_save_hard_state(f->log, &hs), RAFT_OK);
	reopen(f);
	assert_false(f->loaded.fresh);
	assert_int_equal(f->loaded.hard_state.term, 3);
	assert_int_equal(f->loaded.hard_state.vote, 2);
}

/* A directory that does not exist yet is created. */
static void
test_creates_directory(void **state)
{
	struct fixture *f = *state;
	char		sub[DIR_LEN + 16];
	struct raft_log *log;
	struct raft_log_loaded l;

	snprintf(sub, sizeof(sub), "%s/pg_raft", f->dir);
	assert_int_equal(raft_log_open(sub, NULL, &log, &l), RAFT_OK);
	assert_true(l.fresh);
	raft_log_close(log);
	raft_log_loaded_free(&l);
	remove_dir(sub);
}

static void
test_round_trip_rollover(void **state)
{
	struct fixture *f = *state;
	struct raft_log_info info;

	reopen(f);
	for (raft_index i = 1; i <= 300; i += 7)
	{
		append_range(f->log, i, i + 6, 1 + i / 100, 300);
		assert_int_equal(raft_log_sync(f->log), RAFT_OK);
	}
	raft_log_get_info(f->log, &info);
	assert_int_equal(info.last_index, 301);	/* 43 batches of 7 */
	assert_int_equal(info.synced_index, info.last_index);
	assert_true(info.n_segments > 5);
	reopen(f);
	assert_int_equal(f->loaded.n_entries, 301);
	for (raft_index i = 1; i <= 301; i++)
	{
		raft_index	batch = 1 + ((i - 1) / 7) * 7;

		entry_check(&f->loaded.entries[i - 1], i, 1 + batch / 100,
					data_len_for(i, 300));
	}
	raft_log_get_info(f->log, &info);
	assert_int_equal(info.first_index, 1);
	assert_int_equal(info.last_index, 301);
	assert_int_equal(info.last_term, 1 + 295 / 100);

	/* Appending continues where the reopened log ends. */
	append_range(f->log, 302, 310, 4, 300);
	assert_int_equal(raft_log_sync(f->log), RAFT_OK);
	reopen(f);
	assert_int_equal(f->loaded.n_entries, 310);
	entry_check(&f->loaded.entries[309], 310, 4, data_len_for(310, 300));
}

/* Many appends, one fdatasync (§10.2.1). */
static void
test_group_commit(void **state)
{
	struct fixture *f = *state;
	struct raft_log_info before;
	struct raft_log_info after;

	f->opt.segment_bytes = 1024 * 1024;
	reopen(f);
	append_range(f->log, 1, 1, 1, 10);
	assert_int_equal(raft_log_sync(f->log), RAFT_OK);	/* creates the segment */
	raft_log_get_info(f->log, &before);
	append_range(f->log, 2, 501, 1, 100);
	raft_log_get_info(f->log, &after);
	assert_int_equal(after.synced_index, 1);
	assert_int_equal(after.data_syncs, before.data_syncs);
	assert_int_equal(raft_log_sync(f->log), RAFT_OK);
	raft_log_get_info(f->log, &after);
	assert_int_equal(after.synced_index, 501);
	assert_int_equal(after.data_syncs, before.data_syncs + 1);
	assert_int_equal(after.dir_syncs, before.dir_syncs);

	/* Nothing to do: no sync at all. */
	assert_int_equal(raft_log_sync(f->log), RAFT_OK);
	raft_log_get_info(f->log, &before);
	assert_int_equal(before.data_syncs, after.data_syncs);
}

/* Closing without a sync drops what was only appended. */
static void
test_unsynced_lost_on_close(void **state)
{
	struct fixture *f = *state;

	reopen(f);
	append_range(f->log, 1, 10, 1, 50);
	assert_int_equal(raft_log_sync(f->log), RAFT_OK);
	append_range(f->log, 11, 20, 1, 50);
	reopen(f);
	loaded_check(&f->loaded, 1, 10, 1, 50);
}

/* A record larger than a segment gets a segment of its own. */
static void
test_oversized_record(void **state)
{
	struct fixture *f = *state;
	struct raft_entry e;
	struct raft_log_info info;

	reopen(f);
	append_range(f->log, 1, 3, 1, 100);
	entry_make(&e, 4, 1, 3 * 4096);
	assert_int_equal(raft_log_append(f->log, &e, 1), RAFT_OK);
	entry_free(&e);
	append_range(f->log, 5, 6, 1, 100);
	assert_int_equal(raft_log_sync(f->log), RAFT_OK);
	raft_log_get_info(f->log, &info);
	assert_int_equal(info.n_segments, 3);
	reopen(f);
	assert_int_equal(f->loaded.n_entries, 6);
	entry_check(&f->loaded.entries[3], 4, 1, 3 * 4096);
	entry_check(&f->loaded.entries[5], 6, 1, data_len_for(6, 100));
}

static void
test_truncate_then_append(void **state)
{
	struct fixture *f = *state;
	raft_index	segs[64];
	size_t		before;

	reopen(f);
	append_range(f->log, 1, 120, 1, 400);
	assert_int_equal(raft_log_sync(f->log), RAFT_OK);
	before = list_segments(f->dir, segs, 64);
	assert_true(before > 4);

	/* Buffered entries are just dropped. */
	append_range(f->log, 121, 130, 1, 400);
	assert_int_equal(raft_log_truncate(f->log, 125), RAFT_OK);
	assert_int_equal(raft_log_term_at(f->log, 124), 1);
	assert_int_equal(raft_log_term_at(f->log, 125), 0);
	append_range(f->log, 125, 126, 2, 200);
	assert_int_equal(raft_log_sync(f->log), RAFT_OK);

	/* A durable suffix across several segments. */
	assert_int_equal(raft_log_truncate(f->log, 30), RAFT_OK);
	assert_true(list_segments(f->dir, segs, 64) < before);
	for (size_t i = 0; i < list_segments(f->dir, segs, 64); i++)
		assert_true(segs[i] < 30);
	append_range(f->log, 30, 60, 3, 10);
	assert_int_equal(raft_log_sync(f->log), RAFT_OK);
	reopen(f);
	assert_int_equal(f->loaded.n_entries, 60);
	for (raft_index i = 1; i <= 29; i++)
		entry_check(&f->loaded.entries[i - 1], i, 1, data_len_for(i, 400));
	for (raft_index i = 30; i <= 60; i++)
		entry_check(&f->loaded.entries[i - 1], i, 3, data_len_for(i, 10));

	/* Truncating everything, then starting again at 1. */
	assert_int_equal(raft_log_truncate(f->log, 1), RAFT_OK);
	assert_int_equal(list_segments(f->dir, segs, 64), 0);
	append_range(f->log, 1, 5, 4, 10);
	assert_int_equal(raft_log_sync(f->log), RAFT_OK);
	reopen(f);
	loaded_check(&f->loaded, 1, 5, 4, 10);
}

/* Committed entries never change (§3.5): truncation below commit fails. */
static void
test_truncate_refuses_committed(void **state)
{
	struct fixture *f = *state;
	struct raft_hard_state hs = {.term = 1, .vote = 1, .commit = 8};

	reopen(f);
	append_range(f->log, 1, 10, 1, 10);
	/* Saving commit 8 first syncs the entries it covers. */
	assert_int_equal(raft_log_save_hard_state(f->log, &hs), RAFT_OK);
	assert_int_equal(raft_log_truncate(f->log, 8), RAFT_EINVAL);
	assert_non_null(strstr(raft_log_errmsg(f->log), "committed"));
	assert_int_equal(raft_log_truncate(f->log, 9), RAFT_OK);
	reopen(f);
	loaded_check(&f->loaded, 1, 8, 1, 10);
	assert_int_equal(f->loaded.hard_state.commit, 8);
}

static void
test_compact_whole_segments(void **state)
{
	struct fixture *f = *state;
	struct raft_snapshot snap;
	raft_index	segs[64];
	size_t		n;
	struct raft_log_info info;
	char		data[] = "state machine at 150";

	reopen(f);
	append_range(f->log, 1, 200, 1, 200);
	assert_int_equal(raft_log_sync(f->log), RAFT_OK);
	n = list_segments(f->dir, segs, 64);
	assert_true(n > 6);

	/* Not past the snapshot. */
	assert_int_equal(raft_log_compact(f->log, 10), RAFT_EINVAL);

	memset(&snap, 0, sizeof(snap));
	snap.index = 150;
	snap.term = 1;
	snap.config.n = 1;
	snap.config.members[0].id = 1;
	snap.config.members[0].flags = RAFT_VOTER_NEW;
	snprintf(snap.config.members[0].addr, RAFT_ADDR_LEN, "127.0.0.1:5001");
	snap.data.base = data;
	snap.data.len = sizeof(data);
	assert_int_equal(raft_log_save_snapshot(f->log, &snap), RAFT_OK);
	assert_int_equal(raft_log_compact(f->log, 150), RAFT_OK);

	/* The segment holding 150 stays, so does everything after it. */
	n = list_segments(f->dir, segs, 64);
	assert_true(segs[0] <= 151);
	assert_true(segs[0] > 1);
	raft_log_get_info(f->log, &info);
	assert_int_equal(info.first_index, segs[0]);
	assert_int_equal(info.last_index, 200);
	assert_int_equal(raft_log_term_at(f->log, 150), 1);

	/* The segment before the first kept one must have ended <= 150. */
	reopen(f);
	assert_int_equal(f->loaded.snapshot.index, 150);
	assert_int_equal(f->loaded.snapshot.term, 1);
	assert_int_equal(f->loaded.snapshot.data.len, sizeof(data));
	assert_memory_equal(f->loaded.snapshot.data.base, data, sizeof(data));
	assert_int_equal(f->loaded.snapshot.config.n, 1);
	assert_string_equal(f->loaded.snapshot.config.members[0].addr, "127.0.0.1:5001");
	loaded_check(&f->loaded, 151, 200, 1, 200);

	/* The last segment is never removed, even when all of it is covered. */
	snap.index = 200;
	assert_int_equal(raft_log_save_snapshot(f->log, &snap), RAFT_OK);
	assert_int_equal(raft_log_compact(f->log, 200), RAFT_OK);
	assert_int_equal(list_segments(f->dir, segs, 64), 1);
	append_range(f->log, 201, 210, 2, 20);
	assert_int_equal(raft_log_sync(f->log), RAFT_OK);
	reopen(f);
	loaded_check(&f->loaded, 201, 210, 2, 20);
}

/* §5: a snapshot the log does not lead up to replaces the whole log. */
static void
test_snapshot_discards_other_history(void **state)
{
	struct fixture *f = *state;
	struct raft_snapshot snap;
	struct raft_log_info info;
	raft_index	segs[16];

	reopen(f);
	append_range(f->log, 1, 20, 1, 100);
	assert_int_equal(raft_log_sync(f->log), RAFT_OK);
	memset(&snap, 0, sizeof(snap));
	snap.index = 15;
	snap.term = 2;				/* the log has term 1 at 15 */
	assert_int_equal(raft_log_save_snapshot(f->log, &snap), RAFT_OK);
	raft_log_get_info(f->log, &info);
	assert_int_equal(info.last_index, 0);
	assert_int_equal(list_segments(f->dir, segs, 16), 0);

	/* The log continues at 16; anything else is refused. */
	assert_int_equal(raft_log_append(f->log, &(struct raft_entry) {
		.index = 17,.term = 2,.type = RAFT_ENTRY_COMMAND}, 1), RAFT_EINVAL);
	append_range(f->log, 16, 17, 2, 10);
	assert_int_equal(raft_log_sync(f->log), RAFT_OK);
	reopen(f);
	assert_int_equal(f->loaded.snapshot.index, 15);
	assert_int_equal(f->loaded.snapshot.term, 2);
	loaded_check(&f->loaded, 16, 17, 2, 10);
}

static void
test_snapshot_continued_then_appended(void **state)
{
	struct fixture *f = *state;
	struct raft_snapshot snap;

	reopen(f);
	memset(&snap, 0, sizeof(snap));
	snap.index = 40;
	snap.term = 3;
	assert_int_equal(raft_log_save_snapshot(f->log, &snap), RAFT_OK);
	append_range(f->log, 41, 50, 3, 30);
	assert_int_equal(raft_log_sync(f->log), RAFT_OK);
	reopen(f);
	assert_int_equal(f->loaded.snapshot.index, 40);
	loaded_check(&f->loaded, 41, 50, 3, 30);
	/* An older snapshot is refused. */
	snap.index = 30;
	assert_int_equal(raft_log_save_snapshot(f->log, &snap), RAFT_EINVAL);
}

/* The replace is atomic: a leftover .tmp (a crash mid-save) is ignored. */
static void
test_hard_state_atomic(void **state)
{
	struct fixture *f = *state;
	struct raft_hard_state hs = {.term = 5, .vote = 3, .commit = 0};
	char		tmp[PATH_LEN];
	FILE	   *fp;

	reopen(f);
	assert_int_equal(raft_log_save_hard_state(f->log, &hs), RAFT_OK);
	hs.term = 6;
	hs.vote = 0;
	assert_int_equal(raft_log_save_hard_state(f->log, &hs), RAFT_OK);
	assert_false(file_exists(f->dir, "hardstate.tmp"));

	/* A term never goes down. */
	hs.term = 4;
	assert_int_equal(raft_log_save_hard_state(f->log, &hs), RAFT_EINVAL);
	raft_log_close(f->log);
	f->log = NULL;

	snprintf(tmp, sizeof(tmp), "%s/hardstate.tmp", f->dir);
	fp = fopen(tmp, "w");
	assert_non_null(fp);
	fputs("half-written garbage", fp);
	fclose(fp);
	snprintf(tmp, sizeof(tmp), "%s/00000000000000000001.seg.tmp", f->dir);
	fp = fopen(tmp, "w");
	assert_non_null(fp);
	fclose(fp);

	reopen(f);
	assert_int_equal(f->loaded.hard_state.term, 6);
	assert_int_equal(f->loaded.hard_state.vote, 0);
	assert_false(file_exists(f->dir, "hardstate.tmp"));
	assert_false(file_exists(f->dir, "00000000000000000001.seg.tmp"));
}

static void
test_append_checks(void **state)
{
	struct fixture *f = *state;
	struct raft_entry e;

	reopen(f);
	/* An empty log starts at 1 (no snapshot). */
	entry_make(&e, 2, 1, 10);
	assert_int_equal(raft_log_append(f->log, &e, 1), RAFT_EINVAL);
	entry_free(&e);
	append_range(f->log, 1, 5, 2, 10);

	entry_make(&e, 7, 2, 10);	/* gap */
	assert_int_equal(raft_log_append(f->log, &e, 1), RAFT_EINVAL);
	assert_non_null(strstr(raft_log_errmsg(f->log), "expected"));
	entry_free(&e);
	entry_make(&e, 6, 1, 10);	/* term going down */
	assert_int_equal(raft_log_append(f->log, &e, 1), RAFT_EINVAL);
	entry_free(&e);
	entry_make(&e, 6, 2, 5000);
	f->opt.max_record_bytes = 1000;
	reopen(f);					/* drops the unsynced 1..5 */
	append_range(f->log, 1, 5, 2, 10);
	assert_int_equal(raft_log_append(f->log, &e, 1), RAFT_ETOOBIG);
	entry_free(&e);

	/* A refused batch changes nothing: all or none. */
	{
		struct raft_entry batch[3];

		entry_make(&batch[0], 6, 2, 10);
		entry_make(&batch[1], 7, 2, 10);
		entry_make(&batch[2], 9, 2, 10);
		assert_int_equal(raft_log_append(f->log, batch, 3), RAFT_EINVAL);
		for (int i = 0; i < 3; i++)
			entry_free(&batch[i]);
	}
	assert_int_equal(raft_log_sync(f->log), RAFT_OK);
	reopen(f);
	loaded_check(&f->loaded, 1, 5, 2, 10);
}

/* Two handles on one directory would corrupt it: the second is refused. */
static void
test_lock(void **state)
{
	struct fixture *f = *state;
	struct raft_log *other;
	struct raft_log_loaded l;

	reopen(f);
	assert_int_equal(raft_log_open(f->dir, &f->opt, &other, &l), RAFT_EIO);
	assert_null(other);
	assert_non_null(strstr(l.error, "in use"));
}

/* Preallocation off: the files grow with the data instead. */
static void
test_no_preallocation(void **state)
{
	struct fixture *f = *state;
	char		path[PATH_LEN];

	f->opt.preallocate = false;
	reopen(f);
	append_range(f->log, 1, 3, 1, 10);
	assert_int_equal(raft_log_sync(f->log), RAFT_OK);
	seg_path(path, sizeof(path), f->dir, 1);
	assert_true(file_size(path) < 4096);
	reopen(f);
	loaded_check(&f->loaded, 1, 3, 1, 10);
}

static void *
sync_in_thread(void *arg)
{
	struct fixture *f = arg;

	return (void *) (intptr_t) raft_log_sync(f->log);
}

/* The host syncs in a worker thread (libuv's pool): no thread affinity. */
static void
test_sync_from_another_thread(void **state)
{
	struct fixture *f = *state;
	pthread_t	t;
	void	   *rv;

	reopen(f);
	for (raft_index i = 1; i <= 100; i += 10)
	{
		append_range(f->log, i, i + 9, 1, 300);
		assert_int_equal(pthread_create(&t, NULL, sync_in_thread, f), 0);
		assert_int_equal(pthread_join(t, &rv), 0);
		assert_int_equal((intptr_t) rv, RAFT_OK);
	}
	reopen(f);
	loaded_check(&f->loaded, 1, 100, 1, 300);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_fresh, setup, teardown),
		cmocka_unit_test_setup_teardown(test_creates_directory, setup, teardown),
		cmocka_unit_test_setup_teardown(test_round_trip_rollover, setup, teardown),
		cmocka_unit_test_setup_teardown(test_group_commit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unsynced_lost_on_close, setup, teardown),
		cmocka_unit_test_setup_teardown(test_oversized_record, setup, teardown),
		cmocka_unit_test_setup_teardown(test_truncate_then_append, setup, teardown),
		cmocka_unit_test_setup_teardown(test_truncate_refuses_committed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_compact_whole_segments, setup, teardown),
		cmocka_unit_test_setup_teardown(test_snapshot_discards_other_history, setup, teardown),
		cmocka_unit_test_setup_teardown(test_snapshot_continued_then_appended, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hard_state_atomic, setup, teardown),
		cmocka_unit_test_setup_teardown(test_append_checks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lock, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_preallocation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sync_from_another_thread, setup, teardown),
	};

	return cmocka_run_group_tests_name("storage", tests, NULL, NULL);
}
