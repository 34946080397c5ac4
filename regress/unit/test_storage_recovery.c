/*
 * regress/unit/test_storage_recovery.c — raft_log_open after crashes and
 * damage.  A torn tail (the last segment cut or zeroed inside its last
 * record, at every offset, and at random offsets) opens, loses only the
 * partial records and reports the cut; anything else refuses with the file
 * and byte offset: a flipped byte in a record that is followed by valid
 * ones, a missing segment, a bad header, an index gap, a term going down,
 * a damaged hard state, committed entries missing.  Interrupted
 * compactions and snapshot installs are completed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "codec.h"
#include "crc32c.h"
#include "test_storage_util.h"

#define N_ENTRIES 60
#define MAX_DATA 300

/*
 * A log of N_ENTRIES entries written one sync at a time without
 * preallocation, so that each entry's record ends where the file ends: the
 * test knows every record's segment and byte range.
 */
struct fixture
{
	char		pristine[DIR_LEN];
	char		dir[DIR_LEN];
	struct raft_log_options opt;
	raft_index	seg_of[N_ENTRIES + 1];	/* first index of its segment */
	off_t		start[N_ENTRIES + 1];	/* record's offset in it */
	off_t		end[N_ENTRIES + 1];
	struct raft_log *log;
	struct raft_log_loaded loaded;
};

static raft_index
last_segment(const char *dir)
{
	raft_index	segs[256];
	size_t		n = list_segments(dir, segs, 256);

	assert_true(n > 0);
	return segs[n - 1];
}

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct raft_log *log;
	struct raft_log_loaded l;

	scratch_dir(f->pristine, sizeof(f->pristine));
	scratch_dir(f->dir, sizeof(f->dir));
	small_options(&f->opt);
	f->opt.preallocate = false;
	assert_int_equal(raft_log_open(f->pristine, &f->opt, &log, &l), RAFT_OK);
	for (raft_index i = 1; i <= N_ENTRIES; i++)
	{
		char		path[PATH_LEN];
		raft_index	seg;

		append_range(log, i, i, 1 + i / 20, MAX_DATA);
		assert_int_equal(raft_log_sync(log), RAFT_OK);
		seg = last_segment(f->pristine);
		seg_path(path, sizeof(path), f->pristine, seg);
		f->seg_of[i] = seg;
		f->end[i] = file_size(path);
		f->start[i] = (i > 1 && f->seg_of[i - 1] == seg) ? f->end[i - 1] : 32;
	}
	raft_log_close(log);
	raft_log_loaded_free(&l);
	/* The fixture needs at least three segments, and two records in the last. */
	assert_true(f->seg_of[1] != f->seg_of[N_ENTRIES]);
	assert_true(f->seg_of[N_ENTRIES - 1] == f->seg_of[N_ENTRIES]);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	raft_log_close(f->log);
	raft_log_loaded_free(&f->loaded);
	remove_dir(f->pristine);
	remove_dir(f->dir);
	free(f);
	return 0;
}

/* f->dir becomes a fresh copy of the pristine log. */
static void
fresh_copy(struct fixture *f)
{
	raft_log_close(f->log);
	raft_log_loaded_free(&f->loaded);
	f->log = NULL;
	remove_dir(f->dir);
	assert_int_equal(mkdir(f->dir, 0700), 0);
	copy_dir(f->pristine, f->dir);
}

static int
open_log(struct fixture *f)
{
	raft_log_close(f->log);
	raft_log_loaded_free(&f->loaded);
	f->log = NULL;
	return raft_log_open(f->dir, &f->opt, &f->log, &f->loaded);
}

/* Entry i as the fixture wrote it. */
static void
check_entries(struct fixture *f, raft_index last)
{
	assert_int_equal(f->loaded.n_entries, last);
	for (raft_index i = 1; i <= last; i++)
		entry_check(&f->loaded.entries[i - 1], i, 1 + i / 20,
					data_len_for(i, MAX_DATA));
}

/* The open refused; its message names path and "offset off". */
static void
check_refused(struct fixture *f, int rv, const char *path, off_t off)
{
	char		where[64];

	assert_int_equal(rv, RAFT_ECORRUPT);
	assert_null(f->log);
	assert_int_equal(f->loaded.n_entries, 0);
	assert_non_null(strstr(f->loaded.error, "log damaged"));
	if (path != NULL)
		assert_non_null(strstr(f->loaded.error, path));
	if (off >= 0)
	{
		snprintf(where, sizeof(where), "offset %lld", (long long) off);
		assert_non_null(strstr(f->loaded.error, where));
	}
}

/* A torn tail was cut at off of path: reported, and a reopen is clean. */
static void
check_repaired(struct fixture *f, const char *path, off_t off, raft_index last)
{
	char		where[64];

	assert_true(f->loaded.repaired);
	assert_non_null(strstr(f->loaded.report, path));
	snprintf(where, sizeof(where), "offset %lld", (long long) off);
	assert_non_null(strstr(f->loaded.report, where));
	check_entries(f, last);
	assert_int_equal(open_log(f), RAFT_OK);
	assert_false(f->loaded.repaired);
	check_entries(f, last);
}

static void
test_clean_open(void **state)
{
	struct fixture *f = *state;

	fresh_copy(f);
	assert_int_equal(open_log(f), RAFT_OK);
	assert_false(f->loaded.repaired);
	check_entries(f, N_ENTRIES);
}

/* The last segment cut at every offset inside its last record. */
static void
test_torn_tail_every_offset(void **state)
{
	struct fixture *f = *state;
	char		path[PATH_LEN];
	raft_index	n = N_ENTRIES;

	for (off_t cut = f->start[n]; cut < f->end[n]; cut++)
	{
		fresh_copy(f);
		seg_path(path, sizeof(path), f->dir, f->seg_of[n]);
		file_cut(path, cut);
		assert_int_equal(open_log(f), RAFT_OK);
		if (cut == f->start[n])
		{
			/* A record boundary: nothing partial, nothing to report. */
			assert_false(f->loaded.repaired);
			check_entries(f, n - 1);
			continue;
		}
		check_repaired(f, path, f->start[n], n - 1);

		/* The log goes on from there. */
		append_range(f->log, n, n, 1 + n / 20, MAX_DATA);
		assert_int_equal(raft_log_sync(f->log), RAFT_OK);
		assert_int_equal(open_log(f), RAFT_OK);
		check_entries(f, n);
	}
}

/*
 * The last record partly written: its first k bytes there, the rest zeros
 * (a preallocated file) or garbage.
 */
static void
test_torn_tail_zeros_and_garbage(void **state)
{
	struct fixture *f = *state;
	char		path[PATH_LEN];
	raft_index	n = N_ENTRIES;
	off_t		len = f->end[n] - f->start[n];
	uint64_t	x = 12345;
	uint8_t		junk[8192];

	assert_true((size_t) len <= sizeof(junk));
	for (off_t k = 1; k < 8 + 22 + (off_t) data_len_for(n, MAX_DATA); k++)
	{
		uint8_t		zeros[8192] = {0};

		fresh_copy(f);
		seg_path(path, sizeof(path), f->dir, f->seg_of[n]);
		file_write(path, f->start[n] + k, zeros, (size_t) (len - k));
		/* and a preallocated tail of zeros after it */
		file_write(path, f->end[n], zeros, 4096 - (size_t) f->end[n] % 4096);
		assert_int_equal(open_log(f), RAFT_OK);
		check_repaired(f, path, f->start[n], n - 1);
	}
	for (off_t k = 0; k < len; k += 3)
	{
		for (size_t i = 0; i < sizeof(junk); i++)
		{
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			junk[i] = (uint8_t) x;
		}
		fresh_copy(f);
		seg_path(path, sizeof(path), f->dir, f->seg_of[n]);
		file_write(path, f->start[n] + k, junk, (size_t) (len - k) + 100);
		assert_int_equal(open_log(f), RAFT_OK);
		check_repaired(f, path, f->start[n], n - 1);
	}
}

/* The last segment cut at random offsets: only partial records go. */
static void
test_torn_tail_random_offsets(void **state)
{
	struct fixture *f = *state;
	char		path[PATH_LEN];
	raft_index	seg = f->seg_of[N_ENTRIES];
	uint64_t	x = 0x9e3779b97f4a7c15u;

	for (int round = 0; round < 200; round++)
	{
		off_t		cut;
		raft_index	kept = 0;
		bool		boundary = false;

		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		cut = 32 + (off_t) (x % (uint64_t) (f->end[N_ENTRIES] - 32 + 1));
		for (raft_index i = 1; i <= N_ENTRIES; i++)
		{
			if (f->seg_of[i] != seg || f->end[i] <= cut)
				kept = i;
			if (f->seg_of[i] == seg && (f->start[i] == cut || f->end[i] == cut))
				boundary = true;
		}
		fresh_copy(f);
		seg_path(path, sizeof(path), f->dir, seg);
		file_cut(path, cut);
		assert_int_equal(open_log(f), RAFT_OK);
		if (boundary)
		{
			assert_false(f->loaded.repaired);
			check_entries(f, kept);
		}
		else
			check_repaired(f, path, f->start[kept + 1], kept);
	}
}

/* One flipped byte in a record followed by valid ones: refused. */
static void
test_flipped_byte_refuses(void **state)
{
	struct fixture *f = *state;
	char		path[PATH_LEN];
	raft_index	last = N_ENTRIES;
	raft_index	victims[] = {last - 1, f->seg_of[last] + 1, 2, f->seg_of[last] - 1};

	for (size_t v = 0; v < sizeof(victims) / sizeof(victims[0]); v++)
	{
		raft_index	i = victims[v];

		if (i == last)
			continue;			/* that one is a torn tail */
		for (off_t at = f->start[i]; at < f->start[i] + 30 && at < f->end[i]; at += 7)
		{
			fresh_copy(f);
			seg_path(path, sizeof(path), f->dir, f->seg_of[i]);
			file_flip(path, (f->start[i] + f->end[i]) / 2);
			check_refused(f, open_log(f), path, f->start[i]);
			/* Refusing changed nothing: the same again. */
			check_refused(f, open_log(f), path, f->start[i]);

			fresh_copy(f);
			file_flip(path, at);
			check_refused(f, open_log(f), path, f->start[i]);
		}
	}
}

/* The last record of the last segment damaged is a torn tail. */
static void
test_flipped_last_record_is_torn(void **state)
{
	struct fixture *f = *state;
	char		path[PATH_LEN];
	raft_index	n = N_ENTRIES;

	fresh_copy(f);
	seg_path(path, sizeof(path), f->dir, f->seg_of[n]);
	file_flip(path, (f->start[n] + f->end[n]) / 2);
	assert_int_equal(open_log(f), RAFT_OK);
	check_repaired(f, path, f->start[n], n - 1);
}

/* A zeroed record with records after it is not an end of the log. */
static void
test_zeroed_middle_record_refuses(void **state)
{
	struct fixture *f = *state;
	char		path[PATH_LEN];
	raft_index	i = N_ENTRIES - 1;
	uint8_t		zeros[8192] = {0};

	fresh_copy(f);
	seg_path(path, sizeof(path), f->dir, f->seg_of[i]);
	file_write(path, f->start[i], zeros, (size_t) (f->end[i] - f->start[i]));
	check_refused(f, open_log(f), path, f->start[i]);
	assert_non_null(strstr(f->loaded.error, "valid record follows"));
}

/* A segment other than the last may not end in a partial record. */
static void
test_cut_inside_earlier_segment_refuses(void **state)
{
	struct fixture *f = *state;
	char		path[PATH_LEN];
	raft_index	i = f->seg_of[N_ENTRIES] - 1;	/* last of the segment before */

	fresh_copy(f);
	seg_path(path, sizeof(path), f->dir, f->seg_of[i]);
	file_cut(path, f->end[i] - 3);
	check_refused(f, open_log(f), path, f->start[i]);
}

static void
test_missing_segment_refuses(void **state)
{
	struct fixture *f = *state;
	raft_index	segs[256];
	size_t		n;
	char		path[PATH_LEN];
	char		next[PATH_LEN];

	fresh_copy(f);
	n = list_segments(f->dir, segs, 256);
	assert_true(n >= 3);
	seg_path(path, sizeof(path), f->dir, segs[1]);
	seg_path(next, sizeof(next), f->dir, segs[2]);
	assert_int_equal(unlink(path), 0);
	check_refused(f, open_log(f), next, -1);
	assert_non_null(strstr(f->loaded.error, "gap"));

	/* The first one, with no snapshot to cover it. */
	fresh_copy(f);
	seg_path(path, sizeof(path), f->dir, segs[0]);
	seg_path(next, sizeof(next), f->dir, segs[1]);
	assert_int_equal(unlink(path), 0);
	check_refused(f, open_log(f), next, -1);
	assert_non_null(strstr(f->loaded.error, "gap"));
}

/* The last one: only the hard state's commit index can tell. */
static void
test_missing_committed_entries_refuses(void **state)
{
	struct fixture *f = *state;
	struct raft_hard_state hs = {.term = 4, .vote = 1, .commit = N_ENTRIES};
	char		path[PATH_LEN];

	fresh_copy(f);
	assert_int_equal(open_log(f), RAFT_OK);
	assert_int_equal(raft_log_save_hard_state(f->log, &hs), RAFT_OK);
	raft_log_close(f->log);
	f->log = NULL;
	seg_path(path, sizeof(path), f->dir, f->seg_of[N_ENTRIES]);
	assert_int_equal(unlink(path), 0);
	check_refused(f, open_log(f), NULL, -1);
	assert_non_null(strstr(f->loaded.error, "commit"));
}

static void
test_bad_header_refuses(void **state)
{
	struct fixture *f = *state;
	char		path[PATH_LEN];
	raft_index	seg = f->seg_of[N_ENTRIES];

	for (off_t at = 0; at < 32; at += 5)
	{
		fresh_copy(f);
		seg_path(path, sizeof(path), f->dir, seg);
		file_flip(path, at);
		check_refused(f, open_log(f), path, 0);
	}
	/* A header that names another first index than the file. */
	fresh_copy(f);
	seg_path(path, sizeof(path), f->dir, seg);
	{
		char		other[PATH_LEN];

		seg_path(other, sizeof(other), f->dir, seg + 1);
		assert_int_equal(rename(path, other), 0);
		check_refused(f, open_log(f), other, 0);
	}
}

/* A valid record, framed by hand from the documented format. */
static void
write_record(const char *path, off_t off, raft_index index, raft_term term)
{
	struct raft_entry e;
	uint8_t		rec[512] = {0};
	size_t		len;
	uint32_t	crc;

	entry_make(&e, index, term, 40);
	len = raft_encode_entry(&e, rec + 8, sizeof(rec) - 8);
	entry_free(&e);
	assert_true(len > 0);
	for (int i = 0; i < 4; i++)
		rec[i] = (uint8_t) (len >> (8 * i));
	crc = raft_crc32c(raft_crc32c(0, rec, 4), rec + 8, len);
	for (int i = 0; i < 4; i++)
		rec[4 + i] = (uint8_t) (crc >> (8 * i));
	file_write(path, off, rec, (8 + len + 7) & ~(size_t) 7);
}

static void
test_index_gap_and_term_down_refuse(void **state)
{
	struct fixture *f = *state;
	char		path[PATH_LEN];
	raft_index	n = N_ENTRIES;
	raft_term	term = 1 + n / 20;

	/* The hand-made record is accepted when it is right... */
	fresh_copy(f);
	seg_path(path, sizeof(path), f->dir, f->seg_of[n]);
	write_record(path, f->end[n], n + 1, term);
	assert_int_equal(open_log(f), RAFT_OK);
	assert_int_equal(f->loaded.n_entries, n + 1);

	/* ...and refused with an index that skips one, */
	fresh_copy(f);
	write_record(path, f->end[n], n + 2, term);
	check_refused(f, open_log(f), path, f->end[n]);
	assert_non_null(strstr(f->loaded.error, "index"));

	/* or a term below the one before it. */
	fresh_copy(f);
	write_record(path, f->end[n], n + 1, term - 1);
	check_refused(f, open_log(f), path, f->end[n]);
	assert_non_null(strstr(f->loaded.error, "term"));
}

static void
test_damaged_hard_state_refuses(void **state)
{
	struct fixture *f = *state;
	struct raft_hard_state hs = {.term = 4, .vote = 1, .commit = 3};
	char		path[PATH_LEN];

	fresh_copy(f);
	assert_int_equal(open_log(f), RAFT_OK);
	assert_int_equal(raft_log_save_hard_state(f->log, &hs), RAFT_OK);
	raft_log_close(f->log);
	f->log = NULL;
	snprintf(path, sizeof(path), "%s/hardstate", f->dir);
	file_flip(path, 22);
	check_refused(f, open_log(f), path, 0);
}

/* A crash in the middle of raft_log_compact: leftovers are removed. */
static void
test_interrupted_compaction(void **state)
{
	struct fixture *f = *state;
	struct raft_snapshot snap;
	char		from[PATH_LEN];
	char		keep[PATH_LEN];
	raft_index	cover = f->seg_of[N_ENTRIES] - 1;

	fresh_copy(f);
	assert_int_equal(open_log(f), RAFT_OK);
	memset(&snap, 0, sizeof(snap));
	snap.index = cover;
	snap.term = 1 + cover / 20;
	assert_int_equal(raft_log_save_snapshot(f->log, &snap), RAFT_OK);
	seg_path(from, sizeof(from), f->dir, 1);
	snprintf(keep, sizeof(keep), "%s/kept-aside", f->dir);
	assert_int_equal(link(from, keep), 0);
	assert_int_equal(raft_log_compact(f->log, cover), RAFT_OK);
	raft_log_close(f->log);
	f->log = NULL;
	assert_false(file_exists(f->dir, "00000000000000000001.seg"));
	assert_int_equal(rename(keep, from), 0);	/* as if not yet removed */

	assert_int_equal(open_log(f), RAFT_OK);
	assert_int_equal(f->loaded.snapshot.index, cover);
	assert_int_equal(f->loaded.n_entries, N_ENTRIES - cover);
	entry_check(&f->loaded.entries[0], cover + 1, 1 + (cover + 1) / 20,
				data_len_for(cover + 1, MAX_DATA));
	assert_false(file_exists(f->dir, "00000000000000000001.seg"));
}

/* A crash between saving a snapshot and discarding the log it replaces. */
static void
test_interrupted_snapshot_install(void **state)
{
	struct fixture *f = *state;
	struct raft_snapshot snap;
	char		other[DIR_LEN];
	char		src[PATH_LEN];
	char		dst[PATH_LEN];
	struct raft_log *log;
	struct raft_log_loaded l;

	scratch_dir(other, sizeof(other));
	assert_int_equal(raft_log_open(other, &f->opt, &log, &l), RAFT_OK);
	memset(&snap, 0, sizeof(snap));
	snap.index = 30;
	snap.term = 9;				/* the fixture has term 2 at 30 */
	assert_int_equal(raft_log_save_snapshot(log, &snap), RAFT_OK);
	raft_log_close(log);
	raft_log_loaded_free(&l);

	fresh_copy(f);
	snprintf(src, sizeof(src), "%s/snapshot", other);
	snprintf(dst, sizeof(dst), "%s/snapshot", f->dir);
	assert_int_equal(rename(src, dst), 0);
	remove_dir(other);

	assert_int_equal(open_log(f), RAFT_OK);
	assert_true(f->loaded.repaired);
	assert_non_null(strstr(f->loaded.report, "discarded entries"));
	assert_int_equal(f->loaded.snapshot.index, 30);
	assert_int_equal(f->loaded.n_entries, 0);
	append_range(f->log, 31, 32, 9, 10);
	assert_int_equal(raft_log_sync(f->log), RAFT_OK);
	assert_int_equal(open_log(f), RAFT_OK);
	assert_false(f->loaded.repaired);
	loaded_check(&f->loaded, 31, 32, 9, 10);
}

int
main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_clean_open),
		T(test_torn_tail_every_offset),
		T(test_torn_tail_zeros_and_garbage),
		T(test_torn_tail_random_offsets),
		T(test_flipped_byte_refuses),
		T(test_flipped_last_record_is_torn),
		T(test_zeroed_middle_record_refuses),
		T(test_cut_inside_earlier_segment_refuses),
		T(test_missing_segment_refuses),
		T(test_missing_committed_entries_refuses),
		T(test_bad_header_refuses),
		T(test_index_gap_and_term_down_refuse),
		T(test_damaged_hard_state_refuses),
		T(test_interrupted_compaction),
		T(test_interrupted_snapshot_install),
	};
#undef T

	return cmocka_run_group_tests_name("storage recovery", tests, NULL, NULL);
}
