/*
 * raft/storage/append.c — appending entries and making them durable: group
 * commit (Raft dissertation §10.2.1: many appends, one fdatasync), segment
 * rollover and the creation of new segments.
 *
 * raft_log_append only encodes the entries into a memory buffer.
 * raft_log_sync writes the buffer after the durable end of the last
 * segment and fdatasyncs it; raft_log_sync_begin / _run / _finish do the
 * same in three steps, so that the last fdatasync can run on another
 * thread while the host goes on (storage.h).  When a segment fills up, its part is written
 * and synced first, then the next segment is created (temporary name,
 * preallocate, header, fsync, rename, fsync of the directory), so only the
 * last segment can ever end in a torn write.
 *
 * On failure (ENOSPC, EIO) the file is cut back to its durable end and
 * the unwritten entries stay buffered: the host can retry the sync later.
 * Rewriting after a failed fdatasync, rather than retrying the fdatasync,
 * is deliberate: after a failure the kernel may have dropped the dirty
 * pages and a second fdatasync could report success for data it lost.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "codec.h"
#include "storage_internal.h"

static int
fail_errno(struct raft_log *log, int err, const char *what, raft_index first)
{
	char		name[SEG_NAME_LEN + 1];
	char		es[128];

	st_seg_name(name, first);
	st_io_strerror(err, es, sizeof(es));
	return st_log_fail(log, err == ENOMEM ? RAFT_ENOMEM : RAFT_EIO,
					   "could not %s %s/%s: %s", what, log->dir, name, es);
}

/* Creates segment first, empty, and makes it the last one. */
int
st_seg_create(struct raft_log *log, raft_index first)
{
	char		name[SEG_NAME_LEN + 1];
	char		tmp[SEG_NAME_LEN + sizeof(TMP_SUFFIX)];
	uint8_t		header[SEG_HEADER_SIZE];
	uint64_t	size = SEG_HEADER_SIZE;
	const char *what;
	int			fd;
	int			err;

	if (log->n_segs == log->cap_segs)
	{
		size_t		cap = log->cap_segs ? log->cap_segs * 2 : 16;
		struct segment *s = realloc(log->segs, cap * sizeof(*s));

		if (s == NULL)
			return st_log_fail(log, RAFT_ENOMEM, "out of memory creating a segment");
		log->segs = s;
		log->cap_segs = cap;
	}
	st_seg_name(name, first);
	snprintf(tmp, sizeof(tmp), "%s%s", name, TMP_SUFFIX);
	fd = openat(log->dir_fd, tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return fail_errno(log, errno, "create", first);

	what = "preallocate";
	err = 0;
	if (log->opt.preallocate)
	{
		err = st_io_allocate(&log->opt, fd, 0, log->opt.segment_bytes);
		size = log->opt.segment_bytes;
	}
	st_seg_header_encode(header, first);
	if (err == 0)
	{
		what = "write the header of";
		err = st_io_pwrite_all(&log->opt, fd, header, sizeof(header), 0);
	}
	if (err == 0)
	{
		what = "fsync";
		err = st_io_fsync(&log->opt, fd, &log->sync_time);
	}
	if (err == 0)
	{
		what = "rename into place";
		err = st_io_rename(&log->opt, log->dir_fd, tmp, name);
	}
	if (err != 0)
	{
		close(fd);
		unlinkat(log->dir_fd, tmp, 0);
		return fail_errno(log, err, what, first);
	}
	log->data_syncs++;

	/* From here the segment exists: record it even if the dir fsync fails. */
	if (log->seg_fd >= 0)
		close(log->seg_fd);
	log->seg_fd = fd;
	log->seg_end = SEG_HEADER_SIZE;
	log->seg_file_size = size;
	log->segs[log->n_segs].first = first;
	log->segs[log->n_segs].last = first - 1;
	log->n_segs++;
	log->dir_dirty = true;
	if ((err = st_io_dirsync(&log->opt, log->dir_fd, &log->sync_time)) != 0)
		return fail_errno(log, err, "fsync the directory after creating", first);
	log->dir_syncs++;
	log->dir_dirty = false;
	return RAFT_OK;
}

/*
 * Cuts the last segment back to its durable end after a failed write or
 * sync, so nothing of the failed attempt can be read back.  Preallocation
 * is restored if it can be; the file simply grows again otherwise.
 */
static void
seg_rollback(struct raft_log *log)
{
	if (ftruncate(log->seg_fd, (off_t) log->seg_end) != 0)
	{
		st_log_set_broken(log);
		return;
	}
	log->seg_file_size = log->seg_end;
	if (log->opt.preallocate && log->seg_end < log->opt.segment_bytes &&
		st_io_allocate(&log->opt, log->seg_fd, log->seg_end,
					   log->opt.segment_bytes - log->seg_end) == 0)
		log->seg_file_size = log->opt.segment_bytes;
}

/* Drops the first k pending records: they are durable now. */
static void
pending_consume(struct raft_log *log, size_t k)
{
	size_t		off;

	if (k == 0)
		return;
	if (k == log->n_pending)
	{
		st_pending_clear(log);
		return;
	}
	off = log->pending[k].offset;
	memmove(log->pending_buf, log->pending_buf + off, log->pending_len - off);
	log->pending_len -= off;
	memmove(log->pending, log->pending + k, (log->n_pending - k) * sizeof(*log->pending));
	log->n_pending -= k;
	for (size_t i = 0; i < log->n_pending; i++)
		log->pending[i].offset -= off;
}

/* How many pending records from i fit in the last segment. */
static size_t
fitting(const struct raft_log *log, size_t i, size_t *bytes)
{
	uint64_t	end = log->seg_end;
	size_t		j = i;

	*bytes = 0;
	while (j < log->n_pending)
	{
		uint64_t	size = log->pending[j].size;

		/* An oversized record gets an empty segment of its own. */
		if (end + size > log->opt.segment_bytes &&
			!(end == SEG_HEADER_SIZE && j == i))
			break;
		end += size;
		*bytes += size;
		j++;
	}
	return j - i;
}

int
st_refuse_inflight(struct raft_log *log)
{
	return st_log_fail(log, RAFT_EINVAL,
					   "a sync is in flight: call raft_log_sync_finish first");
}

/*
 * Writes the pending records after the durable end of the last segment,
 * creating segments as they fill up.  Each chunk is fdatasynced here,
 * except, when job is not NULL, the chunk that ends the pending records:
 * that one is written only, and job describes the fdatasync still to do
 * (its records stay pending until raft_log_sync_finish).
 */
static int
write_out(struct raft_log *log, struct raft_log_sync *job)
{
	size_t		i = 0;
	int			rv = RAFT_OK;
	int			err;

	if (log->dir_dirty)
	{
		if ((err = st_io_dirsync(&log->opt, log->dir_fd, &log->sync_time)) != 0)
		{
			char		es[128];

			st_io_strerror(err, es, sizeof(es));
			return st_log_fail(log, RAFT_EIO, "could not fsync directory %s: %s",
							   log->dir, es);
		}
		log->dir_syncs++;
		log->dir_dirty = false;
	}

	/*
	 * Each round writes at least one record or creates a segment, and a
	 * new segment takes at least one record: at most 2 * n_pending rounds.
	 */
	while (i < log->n_pending)
	{
		struct segment *seg;
		size_t		bytes;
		size_t		k = 0;

		if (log->n_segs > 0)
			k = fitting(log, i, &bytes);
		if (k == 0)
		{
			if ((rv = st_seg_create(log, log->pending[i].index)) != RAFT_OK)
				break;
			continue;
		}
		seg = &log->segs[log->n_segs - 1];
		/* An empty segment's name promises its first entry's index. */
		if (seg->last + 1 != log->pending[i].index)
		{
			st_log_set_broken(log);
			rv = st_log_fail(log, RAFT_EIO, "internal error: entry %llu does not follow segment end %llu",
							 (unsigned long long) log->pending[i].index,
							 (unsigned long long) seg->last);
			break;
		}
		err = st_io_pwrite_all(&log->opt, log->seg_fd,
							   log->pending_buf + log->pending[i].offset, bytes,
							   log->seg_end);
		if (err == 0 && job != NULL && i + k == log->n_pending)
		{
			/* The last chunk: its fdatasync is the job's. */
			job->index = log->pending[i + k - 1].index;
			job->fd_ = log->seg_fd;
			job->opt_ = &log->opt;
			job->n_records_ = k;
			job->bytes_ = bytes;
			break;
		}
		if (err == 0)
			err = st_io_datasync(&log->opt, log->seg_fd, &log->sync_time);
		if (err != 0)
		{
			seg_rollback(log);
			rv = fail_errno(log, err, "write or sync", seg->first);
			break;
		}
		log->data_syncs++;
		log->seg_end += bytes;
		if (log->seg_end > log->seg_file_size)
			log->seg_file_size = log->seg_end;
		seg->last = log->pending[i + k - 1].index;
		i += k;
	}
	pending_consume(log, i);
	return rv;
}

int
raft_log_sync(struct raft_log *log)
{
	struct raft_log_sync job;
	int			rv;

	if ((rv = raft_log_sync_begin(log, &job)) != RAFT_OK)
		return rv;
	raft_log_sync_run(&job);
	return raft_log_sync_finish(log, &job);
}

int
raft_log_sync_begin(struct raft_log *log, struct raft_log_sync *job)
{
	int			rv;

	memset(job, 0, sizeof(*job));
	job->fd_ = -1;
	if (log->broken)
		return st_log_fail(log, RAFT_EIO, "log unusable after an earlier failure: reopen it");
	if (log->sync_inflight)
		return st_refuse_inflight(log);
	rv = write_out(log, job);
	if (rv != RAFT_OK)
	{
		memset(job, 0, sizeof(*job));
		job->fd_ = -1;
		return rv;
	}
	log->sync_inflight = true;
	return RAFT_OK;
}

void
raft_log_sync_run(struct raft_log_sync *job)
{
	struct st_sync_time t = {0, 0};

	if (job->index == 0)
		return;
	job->err_ = st_io_datasync(job->opt_, job->fd_, &t);
	job->us_ = t.us_total;
	job->ran_ = true;
}

int
raft_log_sync_finish(struct raft_log *log, struct raft_log_sync *job)
{
	struct segment *seg;
	int			err;

	if (!log->sync_inflight)
		return st_log_fail(log, RAFT_EINVAL, "no sync is in flight");
	log->sync_inflight = false;
	if (job->index == 0)
		return RAFT_OK;
	st_sync_time_add(&log->sync_time, job->us_);
	seg = &log->segs[log->n_segs - 1];
	err = job->ran_ ? job->err_ : EINVAL;
	if (err != 0)
	{
		seg_rollback(log);
		return fail_errno(log, err, job->ran_ ? "write or sync" :
						  "sync (raft_log_sync_run was not called)", seg->first);
	}
	log->data_syncs++;
	log->seg_end += job->bytes_;
	if (log->seg_end > log->seg_file_size)
		log->seg_file_size = log->seg_end;
	seg->last = job->index;
	pending_consume(log, job->n_records_);
	return RAFT_OK;
}

/* Checks the batch before anything changes: the append is all or nothing. */
static int
append_check(struct raft_log *log, const struct raft_entry *entries, size_t n,
			  size_t *bytes)
{
	raft_index	next = st_log_last_index(log) + 1;
	raft_term	term = raft_log_term_at(log, next - 1);

	if (st_log_last_index(log) == 0)
	{
		next = log->snap_index + 1;
		term = log->snap_term;
	}
	*bytes = 0;
	for (size_t i = 0; i < n; i++)
	{
		const struct raft_entry *e = &entries[i];
		size_t		len = raft_encoded_size_entry(e);

		if (e->type < RAFT_ENTRY_COMMAND || e->type > RAFT_ENTRY_CONFIG ||
			(e->data.len > 0 && e->data.base == NULL))
			return st_log_fail(log, RAFT_EINVAL, "entry %llu is invalid (type %u)",
							   (unsigned long long) e->index, (unsigned) e->type);
		if (e->index != next + i)
			return st_log_fail(log, RAFT_EINVAL, "entry %llu appended where %llu was expected",
							   (unsigned long long) e->index,
							   (unsigned long long) (next + i));
		if (e->term == 0 || e->term < term)
			return st_log_fail(log, RAFT_EINVAL, "entry %llu has term %llu, below %llu",
							   (unsigned long long) e->index,
							   (unsigned long long) e->term,
							   (unsigned long long) term);
		term = e->term;
		if (len == 0 || len > log->opt.max_record_bytes || len > UINT32_MAX)
			return st_log_fail(log, RAFT_ETOOBIG, "entry %llu of %zu data bytes is too large",
							   (unsigned long long) e->index, e->data.len);
		*bytes += rec_size(len);
	}
	return RAFT_OK;
}

static int
reserve(struct raft_log *log, size_t n, size_t bytes)
{
	if (log->pending_len + bytes > log->pending_cap)
	{
		size_t		cap = log->pending_cap ? log->pending_cap : 4096;
		uint8_t    *b;

		while (cap < log->pending_len + bytes)
			cap *= 2;
		if ((b = realloc(log->pending_buf, cap)) == NULL)
			return RAFT_ENOMEM;
		log->pending_buf = b;
		log->pending_cap = cap;
	}
	if (log->n_pending + n > log->cap_pending)
	{
		size_t		cap = log->cap_pending ? log->cap_pending : 64;
		struct pending_rec *p;

		while (cap < log->n_pending + n)
			cap *= 2;
		if ((p = realloc(log->pending, cap * sizeof(*p))) == NULL)
			return RAFT_ENOMEM;
		log->pending = p;
		log->cap_pending = cap;
	}
	/* Every entry can start a term run. */
	if (log->n_runs + n > log->cap_runs)
	{
		size_t		cap = log->cap_runs ? log->cap_runs : 16;
		struct term_run *r;

		while (cap < log->n_runs + n)
			cap *= 2;
		if ((r = realloc(log->runs, cap * sizeof(*r))) == NULL)
			return RAFT_ENOMEM;
		log->runs = r;
		log->cap_runs = cap;
	}
	return RAFT_OK;
}

int
raft_log_append(struct raft_log *log, const struct raft_entry *entries, size_t n)
{
	size_t		bytes;
	size_t		n0;
	size_t		len0;
	int			rv;

	if (log->broken)
		return st_log_fail(log, RAFT_EIO, "log unusable after an earlier failure: reopen it");
	if (n == 0)
		return RAFT_OK;
	if ((rv = append_check(log, entries, n, &bytes)) != RAFT_OK)
		return rv;
	if (log->n_pending > 0 && log->pending_len + bytes > log->opt.max_pending_bytes &&
		!log->sync_inflight)
	{
		if ((rv = raft_log_sync(log)) != RAFT_OK)
			return rv;
	}
	if (reserve(log, n, bytes) != RAFT_OK)
		return st_log_fail(log, RAFT_ENOMEM, "out of memory buffering %zu entries", n);

	n0 = log->n_pending;
	len0 = log->pending_len;
	for (size_t i = 0; i < n; i++)
	{
		const struct raft_entry *e = &entries[i];
		struct pending_rec *p = &log->pending[log->n_pending];
		uint8_t    *rec = log->pending_buf + log->pending_len;
		size_t		len;

		len = raft_encode_entry(e, rec + REC_HEADER_SIZE,
								log->pending_cap - log->pending_len - REC_HEADER_SIZE);
		if (len == 0)
		{
			/* append_check makes this unreachable; undo all the same. */
			log->n_pending = n0;
			log->pending_len = len0;
			st_runs_cut(log, entries[0].index);
			return st_log_fail(log, RAFT_EINVAL, "entry %llu does not encode",
							   (unsigned long long) e->index);
		}
		st_rec_frame(rec, (uint32_t) len);
		p->index = e->index;
		p->term = e->term;
		p->offset = log->pending_len;
		p->size = rec_size(len);
		log->pending_len += p->size;
		log->n_pending++;
		(void) st_runs_push(log, e->index, e->term);	/* capacity reserved */
	}
	return RAFT_OK;
}
