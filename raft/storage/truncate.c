/*
 * raft/storage/truncate.c — removing entries: a conflicting suffix
 * (raft_log_truncate, Raft dissertation §3.5: "If an existing entry
 * conflicts with a new one ..., delete the existing entry and all that
 * follow it"), whole segments below the snapshot (raft_log_compact, §5.1),
 * and the whole log when a snapshot replaces it (st_log_remove_all, §5).
 *
 * Crash safety: a suffix is removed newest segment first, each removal
 * made durable (directory fsync) before the next, so a crash leaves a
 * prefix of the log; the cut inside a segment is fsynced before returning.
 * Compaction removes oldest first with one directory fsync at the end: a
 * crash may leave any subset of the removed segments, all of them covered
 * by the snapshot, and raft_log_open removes them.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "codec.h"
#include "storage_internal.h"

static int
fail_io(struct raft_log *log, int err, const char *what, raft_index first)
{
	char		name[SEG_NAME_LEN + 1];
	char		es[128];

	st_seg_name(name, first);
	st_io_strerror(err, es, sizeof(es));
	st_log_set_broken(log);
	return st_log_fail(log, RAFT_EIO, "could not %s %s/%s: %s", what, log->dir,
					   name, es);
}

/* Unlinks the last segment and makes that durable. */
static int
remove_last_segment(struct raft_log *log)
{
	struct segment *seg = &log->segs[log->n_segs - 1];
	char		name[SEG_NAME_LEN + 1];
	int			err;

	if (log->seg_fd >= 0)
	{
		close(log->seg_fd);
		log->seg_fd = -1;
	}
	st_seg_name(name, seg->first);
	if (unlinkat(log->dir_fd, name, 0) != 0 && errno != ENOENT)
		return fail_io(log, errno, "remove", seg->first);
	log->n_segs--;
	if ((err = st_io_dirsync(&log->opt, log->dir_fd, &log->sync_time)) != 0)
		return fail_io(log, err, "fsync the directory after removing", seg->first);
	log->dir_syncs++;
	return RAFT_OK;
}

/*
 * Opens the last segment and finds the byte offset of entry index in it
 * (index = last + 1: the end of its data).  Records were checked when the
 * log was opened or written; a mismatch now means the file changed under
 * us, and the log stops.
 */
static int
locate(struct raft_log *log, raft_index index, uint64_t *offset)
{
	struct segment *seg = &log->segs[log->n_segs - 1];
	char		name[SEG_NAME_LEN + 1];
	struct stat st;
	uint8_t    *buf;
	uint64_t	off = SEG_HEADER_SIZE;
	raft_index	at = seg->first;
	int			err;

	st_seg_name(name, seg->first);
	if (log->seg_fd < 0)
	{
		log->seg_fd = openat(log->dir_fd, name, O_RDWR | O_CLOEXEC);
		if (log->seg_fd < 0)
			return fail_io(log, errno, "open", seg->first);
	}
	if (fstat(log->seg_fd, &st) != 0)
		return fail_io(log, errno, "stat", seg->first);
	log->seg_file_size = (uint64_t) st.st_size;
	if ((buf = malloc(st.st_size > 0 ? (size_t) st.st_size : 1)) == NULL)
		return fail_io(log, ENOMEM, "read", seg->first);
	if ((err = st_io_read_all(log->seg_fd, buf, (size_t) st.st_size, 0)) != 0)
	{
		free(buf);
		return fail_io(log, err, "read", seg->first);
	}
	while (at < index)
	{
		uint32_t	len;
		const char *why;
		struct raft_entry e;

		if (st_rec_check(buf + off, (uint64_t) st.st_size - off,
					  log->opt.max_record_bytes, &len, &why) != REC_OK ||
			raft_decode_entry(buf + off + REC_HEADER_SIZE, len, &e) != RAFT_OK ||
			e.index != at)
		{
			free(buf);
			st_log_set_broken(log);
			return st_log_fail(log, RAFT_ECORRUPT,
							   "log damaged: record %llu not found at %s/%s offset %llu",
							   (unsigned long long) at, log->dir, name,
							   (unsigned long long) off);
		}
		off += rec_size(len);
		at++;
	}
	free(buf);
	*offset = off;
	return RAFT_OK;
}

/* Cuts the last segment at offset (entries from index on), durably. */
static int
cut_last_segment(struct raft_log *log, raft_index index, uint64_t offset)
{
	struct segment *seg = &log->segs[log->n_segs - 1];
	int			err;

	if (ftruncate(log->seg_fd, (off_t) offset) != 0)
		return fail_io(log, errno, "truncate", seg->first);
	log->seg_file_size = offset;
	if (log->opt.preallocate && offset < log->opt.segment_bytes &&
		st_io_allocate(&log->opt, log->seg_fd, offset,
					   log->opt.segment_bytes - offset) == 0)
		log->seg_file_size = log->opt.segment_bytes;
	if ((err = st_io_fsync(&log->opt, log->seg_fd, &log->sync_time)) != 0)
		return fail_io(log, err, "fsync", seg->first);
	log->data_syncs++;
	seg->last = index - 1;
	log->seg_end = offset;
	return RAFT_OK;
}

int
raft_log_truncate(struct raft_log *log, raft_index from)
{
	uint64_t	offset;
	size_t		k;
	int			rv;

	if (log->broken)
		return st_log_fail(log, RAFT_EIO, "log unusable after an earlier failure: reopen it");
	if (log->sync_inflight)
		return st_refuse_inflight(log);
	if (from == 0 || from <= log->hard_state.commit || from <= log->snap_index)
		return st_log_fail(log, RAFT_EINVAL,
						   "refusing to truncate from %llu: entries up to %llu are committed",
						   (unsigned long long) from,
						   (unsigned long long) (log->hard_state.commit > log->snap_index ?
						   log->hard_state.commit : log->snap_index));
	if (from > st_log_last_index(log))
		return RAFT_OK;

	/* Buffered entries are simply forgotten. */
	for (k = 0; k < log->n_pending && log->pending[k].index < from; k++)
		;
	if (k < log->n_pending)
	{
		log->pending_len = log->pending[k].offset;
		log->n_pending = k;
	}
	st_runs_cut(log, from);
	if (from > st_log_synced_index(log))
		return RAFT_OK;

	/* All pending entries were > synced >= from: none is left. */
	while (log->n_segs > 0 && log->segs[log->n_segs - 1].first >= from)
	{
		if ((rv = remove_last_segment(log)) != RAFT_OK)
			return rv;
	}
	if (log->n_segs == 0)
		return RAFT_OK;
	if ((rv = locate(log, from, &offset)) != RAFT_OK)
		return rv;
	if (from <= log->segs[log->n_segs - 1].last)
		return cut_last_segment(log, from, offset);
	log->seg_end = offset;
	return RAFT_OK;
}

int
raft_log_compact(struct raft_log *log, raft_index index)
{
	size_t		k = 0;
	int			unlink_err = 0;
	raft_index	failed = 0;
	int			err;

	if (log->broken)
		return st_log_fail(log, RAFT_EIO, "log unusable after an earlier failure: reopen it");
	if (log->sync_inflight)
		return st_refuse_inflight(log);
	if (index > log->snap_index)
		return st_log_fail(log, RAFT_EINVAL,
						   "refusing to compact to %llu: the snapshot ends at %llu",
						   (unsigned long long) index,
						   (unsigned long long) log->snap_index);

	/* Never the last segment: appends go there. */
	while (k + 1 < log->n_segs && log->segs[k].last <= index)
	{
		char		name[SEG_NAME_LEN + 1];

		st_seg_name(name, log->segs[k].first);
		if (unlinkat(log->dir_fd, name, 0) != 0 && errno != ENOENT)
		{
			unlink_err = errno;
			failed = log->segs[k].first;
			break;
		}
		k++;
	}
	if (k == 0 && unlink_err != 0)
		return fail_io(log, unlink_err, "remove", failed);
	if (k == 0)
		return RAFT_OK;
	memmove(log->segs, log->segs + k, (log->n_segs - k) * sizeof(*log->segs));
	log->n_segs -= k;
	if (log->n_runs > 0)
	{
		/* Keep the run in force at the new first index. */
		raft_index	first = log->segs[0].first;
		size_t		r = 0;

		while (r + 1 < log->n_runs && log->runs[r + 1].first <= first)
			r++;
		memmove(log->runs, log->runs + r, (log->n_runs - r) * sizeof(*log->runs));
		log->n_runs -= r;
	}
	log->dir_dirty = true;
	if ((err = st_io_dirsync(&log->opt, log->dir_fd, &log->sync_time)) != 0)
	{
		char		es[128];

		st_io_strerror(err, es, sizeof(es));
		return st_log_fail(log, RAFT_EIO, "could not fsync directory %s: %s",
						   log->dir, es);
	}
	log->dir_syncs++;
	log->dir_dirty = false;
	if (unlink_err != 0)
		return fail_io(log, unlink_err, "remove", failed);
	return RAFT_OK;
}

int
st_log_remove_all(struct raft_log *log)
{
	int			rv;

	st_pending_clear(log);
	log->n_runs = 0;
	while (log->n_segs > 0)
	{
		if ((rv = remove_last_segment(log)) != RAFT_OK)
			return rv;
	}
	log->seg_end = 0;
	log->seg_file_size = 0;
	return RAFT_OK;
}
