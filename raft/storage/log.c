/*
 * raft/storage/log.c — the open log's bookkeeping: options, where the log
 * starts and ends, the terms of its entries (kept as runs, one per term
 * change), the error buffer, closing, and introspection.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "storage_internal.h"

void
raft_log_options_default(struct raft_log_options *opt)
{
	memset(opt, 0, sizeof(*opt));
	opt->segment_bytes = RAFT_LOG_DEFAULT_SEGMENT_BYTES;
	opt->max_record_bytes = RAFT_LOG_DEFAULT_RECORD_BYTES;
	opt->max_pending_bytes = RAFT_LOG_DEFAULT_PENDING_BYTES;
	opt->max_snapshot_bytes = RAFT_LOG_DEFAULT_SNAPSHOT_BYTES;
	opt->preallocate = true;
}

int
st_log_fail(struct raft_log *log, int rv, const char *fmt,...)
{
	va_list		ap;

	va_start(ap, fmt);
	vsnprintf(log->errmsg, sizeof(log->errmsg), fmt, ap);
	va_end(ap);
	return rv;
}

void
st_log_set_broken(struct raft_log *log)
{
	log->broken = true;
}

const char *
raft_log_errmsg(const struct raft_log *log)
{
	return log->errmsg;
}

/* The last durable entry; 0 if none is on disk. */
raft_index
st_log_synced_index(const struct raft_log *log)
{
	for (size_t i = log->n_segs; i > 0; i--)
	{
		const struct segment *s = &log->segs[i - 1];

		if (s->last >= s->first)
			return s->last;
	}
	return 0;
}

raft_index
st_log_last_index(const struct raft_log *log)
{
	if (log->n_pending > 0)
		return log->pending[log->n_pending - 1].index;
	return st_log_synced_index(log);
}

raft_index
st_log_first_index(const struct raft_log *log)
{
	for (size_t i = 0; i < log->n_segs; i++)
		if (log->segs[i].last >= log->segs[i].first)
			return log->segs[i].first;
	if (log->n_pending > 0)
		return log->pending[0].index;
	return 0;
}

/* Records that entry index has term (appended in order). */
int
st_runs_push(struct raft_log *log, raft_index index, raft_term term)
{
	if (log->n_runs > 0 && log->runs[log->n_runs - 1].term == term)
		return RAFT_OK;
	if (log->n_runs == log->cap_runs)
	{
		size_t		cap = log->cap_runs ? log->cap_runs * 2 : 16;
		struct term_run *r = realloc(log->runs, cap * sizeof(*r));

		if (r == NULL)
			return RAFT_ENOMEM;
		log->runs = r;
		log->cap_runs = cap;
	}
	log->runs[log->n_runs].first = index;
	log->runs[log->n_runs].term = term;
	log->n_runs++;
	return RAFT_OK;
}

void
st_runs_cut(struct raft_log *log, raft_index from)
{
	while (log->n_runs > 0 && log->runs[log->n_runs - 1].first >= from)
		log->n_runs--;
}

/* The term of entry index as the log itself holds it; 0 if it does not. */
raft_term
st_log_term(const struct raft_log *log, raft_index index)
{
	if (index == 0 || index < st_log_first_index(log) ||
		index > st_log_last_index(log))
		return 0;
	for (size_t i = log->n_runs; i > 0; i--)
		if (log->runs[i - 1].first <= index)
			return log->runs[i - 1].term;
	return 0;
}

raft_term
raft_log_term_at(const struct raft_log *log, raft_index index)
{
	raft_term	term = st_log_term(log, index);

	if (term == 0 && index != 0 && index == log->snap_index)
		return log->snap_term;
	return term;
}

void
st_pending_clear(struct raft_log *log)
{
	log->n_pending = 0;
	log->pending_len = 0;
}

void
raft_log_get_info(const struct raft_log *log, struct raft_log_info *info)
{
	memset(info, 0, sizeof(*info));
	info->first_index = st_log_first_index(log);
	info->last_index = st_log_last_index(log);
	info->last_term = raft_log_term_at(log, info->last_index);
	info->synced_index = st_log_synced_index(log);
	info->snapshot_index = log->snap_index;
	info->snapshot_term = log->snap_term;
	info->n_segments = (uint32_t) log->n_segs;
	info->pending_bytes = log->pending_len;
	info->data_syncs = log->data_syncs;
	info->dir_syncs = log->dir_syncs;
	info->sync_us_total = log->sync_time.us_total;
	info->sync_us_max = log->sync_time.us_max;
	info->sync_inflight = log->sync_inflight;
}

void
raft_log_close(struct raft_log *log)
{
	if (log == NULL)
		return;
	if (log->seg_fd >= 0)
		close(log->seg_fd);
	if (log->dir_fd >= 0)
		close(log->dir_fd);
	if (log->lock_fd >= 0)
		close(log->lock_fd);	/* releases the flock */
	free(log->segs);
	free(log->runs);
	free(log->pending_buf);
	free(log->pending);
	free(log);
}
