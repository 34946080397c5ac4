/*
 * raft/storage/meta.c — the two small files beside the segments: the hard
 * state (term, vote, commit) and the latest snapshot (metadata and opaque
 * data).  Each is replaced atomically: written to name.tmp, fsynced,
 * renamed over name, and the directory fsynced (Raft dissertation §3.8:
 * term and vote are durable before any message that depends on them).
 *
 *   0  magic ("PGRAFTHS" / "PGRAFTSN")
 *   8  u32 format version (1)
 *  12  u64 payload length n
 *  20  payload: raft_encode_hard_state / raft_encode_snapshot
 *  20+n u32 CRC32C of bytes 0..19+n
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "crc32c.h"
#include "storage_internal.h"

/* Wraps payload (at buf + META_HEADER_SIZE, n bytes) into a file image. */
static size_t
meta_frame(uint8_t *buf, const char *magic, size_t n)
{
	memcpy(buf, magic, 8);
	st_put_le32(buf + 8, META_FORMAT_VERSION);
	st_put_le64(buf + 12, n);
	st_put_le32(buf + META_HEADER_SIZE + n,
				raft_crc32c(0, buf, META_HEADER_SIZE + n));
	return META_HEADER_SIZE + n + 4;
}

/* NULL if buf is a good file image; else what is wrong with it. */
static const char *
meta_check(const uint8_t *buf, size_t len, const char *magic,
		   const uint8_t **payload, size_t *n)
{
	uint64_t	plen;

	if (len < META_HEADER_SIZE + 4)
		return "file too short";
	if (memcmp(buf, magic, 8) != 0)
		return "bad magic";
	plen = st_get_le64(buf + 12);
	if (plen != len - META_HEADER_SIZE - 4)
		return "length does not match the file size";
	if (st_get_le32(buf + len - 4) != raft_crc32c(0, buf, len - 4))
		return "bad CRC";
	if (st_get_le32(buf + 8) != META_FORMAT_VERSION)
		return "unsupported format version";
	*payload = buf + META_HEADER_SIZE;
	*n = (size_t) plen;
	return NULL;
}

static int
meta_save(struct raft_log *log, const char *name, const uint8_t *buf,
		  size_t len)
{
	const char *step;
	int			err;
	char		es[128];

	err = st_io_replace_file(&log->opt, log->dir_fd, name, buf, len, &step,
							 &log->sync_time);
	if (err == 0)
	{
		log->data_syncs++;		/* the file's fsync */
		log->dir_syncs++;		/* and the directory's */
		return RAFT_OK;
	}
	st_io_strerror(err, es, sizeof(es));
	return st_log_fail(log, RAFT_EIO, "could not save %s/%s (%s): %s",
					   log->dir, name, step, es);
}

static int
log_fail_commit(struct raft_log *log, raft_index commit, raft_index durable)
{
	return st_log_fail(log, RAFT_EINVAL,
					   "hard state commit %llu is beyond the last durable entry %llu",
					   (unsigned long long) commit, (unsigned long long) durable);
}

int
raft_log_save_hard_state(struct raft_log *log, const struct raft_hard_state *hs)
{
	uint8_t		buf[META_HEADER_SIZE + RAFT_HARD_STATE_ENCODED_SIZE + 4];
	size_t		n;
	raft_index	durable;
	int			rv;

	if (log->broken)
		return st_log_fail(log, RAFT_EIO, "log unusable after an earlier failure: reopen it");
	if (hs->term < log->hard_state.term)
		return st_log_fail(log, RAFT_EINVAL, "hard state term %llu is below the saved %llu",
						   (unsigned long long) hs->term,
						   (unsigned long long) log->hard_state.term);

	/* A durable commit index never points past durable entries. */
	durable = st_log_synced_index(log);
	if (durable < log->snap_index)
		durable = log->snap_index;
	if (hs->commit > durable && log->n_pending > 0)
	{
		if ((rv = raft_log_sync(log)) != RAFT_OK)
			return rv;
		durable = st_log_synced_index(log);
	}
	if (hs->commit > durable)
		return log_fail_commit(log, hs->commit, durable);

	n = raft_encode_hard_state(hs, buf + META_HEADER_SIZE,
							   RAFT_HARD_STATE_ENCODED_SIZE);
	if (n == 0)
		return st_log_fail(log, RAFT_EINVAL, "could not encode the hard state");
	rv = meta_save(log, HARD_STATE_FILE, buf, meta_frame(buf, META_MAGIC_HARD_STATE, n));
	if (rv == RAFT_OK)
		log->hard_state = *hs;
	return rv;
}

int
raft_log_save_snapshot(struct raft_log *log, const struct raft_snapshot *snap)
{
	size_t		n = raft_encoded_size_snapshot(snap);
	uint8_t    *buf;
	bool		keep_log;
	int			rv;

	if (log->broken)
		return st_log_fail(log, RAFT_EIO, "log unusable after an earlier failure: reopen it");
	if (log->sync_inflight)
		return st_refuse_inflight(log);
	if (snap->index == 0 || snap->term == 0)
		return st_log_fail(log, RAFT_EINVAL, "snapshot without index or term");
	if (snap->index < log->snap_index)
		return st_log_fail(log, RAFT_EINVAL, "snapshot at %llu is older than the saved one at %llu",
						   (unsigned long long) snap->index,
						   (unsigned long long) log->snap_index);
	if (n == 0 || n > log->opt.max_snapshot_bytes)
		return st_log_fail(log, RAFT_ETOOBIG, "snapshot of %zu bytes encoded exceeds the maximum of %zu",
						   n, log->opt.max_snapshot_bytes);
	buf = malloc(META_HEADER_SIZE + n + 4);
	if (buf == NULL)
		return st_log_fail(log, RAFT_ENOMEM, "out of memory saving a snapshot");
	if (raft_encode_snapshot(snap, buf + META_HEADER_SIZE, n) != n)
	{
		free(buf);
		return st_log_fail(log, RAFT_EINVAL, "could not encode the snapshot");
	}
	/* Decide before the snapshot changes what term_at can see. */
	keep_log = raft_log_term_at(log, snap->index) == snap->term;
	rv = meta_save(log, SNAPSHOT_FILE, buf, meta_frame(buf, META_MAGIC_SNAPSHOT, n));
	free(buf);
	if (rv != RAFT_OK)
		return rv;
	log->snap_index = snap->index;
	log->snap_term = snap->term;

	/*
	 * §5 (InstallSnapshot receiver, step 6-7): keep the entries after the
	 * snapshot only if the log has its last entry.  A crash between the
	 * rename above and this is repaired the same way by raft_log_open.
	 */
	if (!keep_log)
		return st_log_remove_all(log);
	return RAFT_OK;
}

/* Reads one meta file; 0 if missing (*buf NULL), RAFT_* error otherwise. */
static int
meta_read(int dir_fd, const char *dir, const char *name, const char *magic,
		  size_t max, uint8_t **buf, const uint8_t **payload, size_t *n,
		  char *err, size_t errlen)
{
	size_t		len;
	int			e = st_io_read_file(dir_fd, name, max, buf, &len);
	const char *why;
	char		es[128];

	if (e == ENOENT)
		return RAFT_OK;
	if (e == EFBIG)
	{
		snprintf(err, errlen, "log damaged: %s/%s is larger than %zu bytes",
				 dir, name, max);
		return RAFT_ECORRUPT;
	}
	if (e != 0)
	{
		st_io_strerror(e, es, sizeof(es));
		snprintf(err, errlen, "could not read %s/%s: %s", dir, name, es);
		return e == ENOMEM ? RAFT_ENOMEM : RAFT_EIO;
	}
	if ((why = meta_check(*buf, len, magic, payload, n)) != NULL)
	{
		snprintf(err, errlen, "log damaged: %s in %s/%s (offset 0, %zu bytes)",
				 why, dir, name, len);
		free(*buf);
		*buf = NULL;
		return RAFT_ECORRUPT;
	}
	return RAFT_OK;
}

int
st_meta_load(int dir_fd, const char *dir, size_t max_snapshot,
			 struct raft_hard_state *hs, bool *have_hs,
			 struct raft_snapshot *snap, uint8_t **snap_buf,
			 char *err, size_t errlen)
{
	uint8_t    *buf = NULL;
	const uint8_t *payload;
	size_t		n;
	int			rv;

	memset(hs, 0, sizeof(*hs));
	memset(snap, 0, sizeof(*snap));
	*have_hs = false;
	*snap_buf = NULL;

	rv = meta_read(dir_fd, dir, HARD_STATE_FILE, META_MAGIC_HARD_STATE,
				   META_HEADER_SIZE + RAFT_HARD_STATE_ENCODED_SIZE + 4,
				   &buf, &payload, &n, err, errlen);
	if (rv != RAFT_OK)
		return rv;
	if (buf != NULL)
	{
		rv = raft_decode_hard_state(payload, n, hs);
		free(buf);
		if (rv != RAFT_OK)
		{
			snprintf(err, errlen, "log damaged: %s/%s does not decode: %s",
					 dir, HARD_STATE_FILE, raft_strerror(rv));
			return RAFT_ECORRUPT;
		}
		*have_hs = true;
	}

	rv = meta_read(dir_fd, dir, SNAPSHOT_FILE, META_MAGIC_SNAPSHOT,
				   META_HEADER_SIZE + max_snapshot + 4,
				   &buf, &payload, &n, err, errlen);
	if (rv != RAFT_OK)
		return rv;
	if (buf != NULL)
	{
		rv = raft_decode_snapshot(payload, n, snap);
		if (rv != RAFT_OK || snap->index == 0 || snap->term == 0)
		{
			free(buf);
			memset(snap, 0, sizeof(*snap));
			snprintf(err, errlen, "log damaged: %s/%s does not decode: %s",
					 dir, SNAPSHOT_FILE,
					 rv != RAFT_OK ? raft_strerror(rv) : "no index or term");
			return RAFT_ECORRUPT;
		}
		*snap_buf = buf;		/* snap->data points into it */
	}
	return RAFT_OK;
}
