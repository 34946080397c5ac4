/*
 * raft/storage/storage_internal.h — what the storage files share and
 * nobody else uses: the on-disk formats' constants, the in-memory state of
 * an open log, and the helpers each file provides to the others.
 */
#ifndef RAFT_STORAGE_INTERNAL_H
#define RAFT_STORAGE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <limits.h>

#include "storage.h"

/* ------------------------------------------------------------------------
 * On-disk formats (format.c).
 * ------------------------------------------------------------------------ */
#define SEG_MAGIC "PGRAFTSG"
#define SEG_FORMAT_VERSION 1u
#define SEG_HEADER_SIZE 32		/* magic 8, version 4, header size 4,
								 * first index 8, reserved 4, CRC32C 4 */
#define REC_HEADER_SIZE 8		/* length 4, CRC32C 4 */
#define REC_ALIGN 8
#define SEG_NAME_LEN 24			/* "%020llu.seg" */
#define META_MAGIC_HARD_STATE "PGRAFTHS"
#define META_MAGIC_SNAPSHOT "PGRAFTSN"
#define META_FORMAT_VERSION 1u
#define META_HEADER_SIZE 20		/* magic 8, version 4, payload length 8 */
#define HARD_STATE_FILE "hardstate"
#define SNAPSHOT_FILE "snapshot"
#define LOCK_FILE "LOCK"
#define TMP_SUFFIX ".tmp"

/* Bytes a record with a payload of len takes, padding included. */
static inline uint64_t
rec_size(uint64_t len)
{
	return (REC_HEADER_SIZE + len + REC_ALIGN - 1) & ~(uint64_t) (REC_ALIGN - 1);
}

void		st_put_le32(uint8_t *p, uint32_t v);
void		st_put_le64(uint8_t *p, uint64_t v);
uint32_t	st_get_le32(const uint8_t *p);
uint64_t	st_get_le64(const uint8_t *p);

void		st_seg_name(char *buf, raft_index first);	/* SEG_NAME_LEN + 1 */
bool		st_seg_parse_name(const char *name, raft_index *first);
void		st_seg_header_encode(uint8_t *buf, raft_index first);

/* NULL if good, else what is wrong with it. */
const char *st_seg_header_check(const uint8_t *buf, size_t len, raft_index *first);

/* Frames payload (already at buf + REC_HEADER_SIZE): header and padding. */
void		st_rec_frame(uint8_t *buf, uint32_t payload_len);

/*
 * Checks the record at buf (avail bytes readable).  REC_OK: *payload_len
 * says how long it is.  REC_END: only zeros from here (end of the data).
 * REC_BAD: anything else; *why says what.
 */
enum st_rec_check
{
	REC_OK,
	REC_END,
	REC_BAD
};
enum st_rec_check st_rec_check(const uint8_t *buf, uint64_t avail, size_t max_payload,
							   uint32_t *payload_len, const char **why);

/* ------------------------------------------------------------------------
 * The open log.
 * ------------------------------------------------------------------------ */
struct segment
{
	raft_index	first;			/* from the name and the header */
	raft_index	last;			/* last durable entry; first - 1 if empty */
};

/* The terms of the log as runs: entries first.. (up to the next run). */
struct term_run
{
	raft_index	first;
	raft_term	term;
};

/* An appended entry not yet written: its framed record in pending_buf. */
struct pending_rec
{
	raft_index	index;
	raft_term	term;
	size_t		offset;			/* in pending_buf */
	size_t		size;			/* rec_size(payload) */
};

/* What syncs cost, in microseconds (fileio.c adds to it). */
struct st_sync_time
{
	uint64_t	us_total;
	uint64_t	us_max;
};

struct raft_log
{
	char		dir[PATH_MAX];
	int			dir_fd;
	int			lock_fd;
	struct raft_log_options opt;

	/* Durable segments, oldest first; the last one is open in seg_fd. */
	struct segment *segs;
	size_t		n_segs;
	size_t		cap_segs;
	int			seg_fd;			/* -1 when there is no segment */
	uint64_t	seg_end;		/* durable end of data in the last segment */
	uint64_t	seg_file_size;	/* its size on disk (preallocated) */
	bool		dir_dirty;		/* a created/removed file awaits a dir fsync */

	/* Terms of every entry, durable and pending (raft_log_term_at). */
	struct term_run *runs;
	size_t		n_runs;
	size_t		cap_runs;

	/* Appended, not yet durable. */
	uint8_t    *pending_buf;
	size_t		pending_len;
	size_t		pending_cap;
	struct pending_rec *pending;
	size_t		n_pending;
	size_t		cap_pending;

	struct raft_hard_state hard_state;	/* as saved */
	raft_index	snap_index;
	raft_term	snap_term;

	bool		broken;			/* a half-done change: reopen */
	bool		sync_inflight;	/* between raft_log_sync_begin and _finish */
	uint64_t	data_syncs;
	uint64_t	dir_syncs;
	struct st_sync_time sync_time;	/* of every sync above */
	char		errmsg[RAFT_LOG_MSG_LEN];
};

/* log.c */
raft_index	st_log_last_index(const struct raft_log *log);
raft_index	st_log_synced_index(const struct raft_log *log);
raft_index	st_log_first_index(const struct raft_log *log);
raft_term	st_log_term(const struct raft_log *log, raft_index index);
int			st_runs_push(struct raft_log *log, raft_index index, raft_term term);
void		st_runs_cut(struct raft_log *log, raft_index from);	/* drop >= from */
int			st_log_fail(struct raft_log *log, int rv, const char *fmt,...)
			__attribute__((format(printf, 3, 4)));
void		st_log_set_broken(struct raft_log *log);
void		st_pending_clear(struct raft_log *log);

/* fileio.c: every syscall that can fail goes through these. */
int			st_io_fault(const struct raft_log_options *opt, enum raft_log_op op);
void		st_io_strerror(int err, char *buf, size_t len);
int			st_io_pwrite_all(const struct raft_log_options *opt, int fd,
							 const void *buf, size_t len, uint64_t off);
int			st_io_read_all(int fd, void *buf, size_t len, uint64_t off);
uint64_t	st_io_now_us(void);	/* monotonic clock */
void		st_sync_time_add(struct st_sync_time *t, uint64_t us);
int			st_io_datasync(const struct raft_log_options *opt, int fd,
						   struct st_sync_time *t);
int			st_io_fsync(const struct raft_log_options *opt, int fd,
						struct st_sync_time *t);
int			st_io_dirsync(const struct raft_log_options *opt, int dir_fd,
						  struct st_sync_time *t);
int			st_io_allocate(const struct raft_log_options *opt, int fd,
						   uint64_t off, uint64_t len);
int			st_io_rename(const struct raft_log_options *opt, int dir_fd,
						 const char *from, const char *to);

/*
 * Writes len bytes as dir/name atomically: name.tmp, fsync, rename, fsync
 * of the directory.  0 or an errno; *step names the step that failed.
 */
int			st_io_replace_file(const struct raft_log_options *opt, int dir_fd,
							   const char *name, const void *buf, size_t len,
							   const char **step, struct st_sync_time *t);

/*
 * Reads dir/name whole (at most max bytes).  0, ENOENT, EFBIG, or an errno.
 * *buf is malloc'd.
 */
int			st_io_read_file(int dir_fd, const char *name, size_t max,
							uint8_t **buf, size_t *len);

/* append.c */
int			st_seg_create(struct raft_log *log, raft_index first);
int			st_refuse_inflight(struct raft_log *log);	/* RAFT_EINVAL if a sync is */

/* truncate.c */
int			st_log_remove_all(struct raft_log *log);

/* meta.c */
int			st_meta_load(int dir_fd, const char *dir, size_t max_snapshot,
						 struct raft_hard_state *hs, bool *have_hs,
						 struct raft_snapshot *snap, uint8_t **snap_buf,
						 char *err, size_t errlen);

/* ------------------------------------------------------------------------
 * Opening (open.c orchestrates, scan.c reads and checks).
 * ------------------------------------------------------------------------ */

/* What raft_log_loaded's mem_ points to. */
struct loaded_mem
{
	uint8_t   **bufs;			/* segment images the entries point into */
	size_t		n_bufs;
	uint8_t    *snap_buf;		/* the snapshot file's image */
};

/* Everything open() collects before deciding. */
struct scan
{
	const char *dir;
	struct raft_log *log;
	struct raft_log_loaded *loaded;
	struct loaded_mem *mem;
	size_t		cap_entries;
	size_t		cap_bufs;
	bool		remove_tmp;		/* *.tmp files seen */
	size_t		n_obsolete;		/* leading segments covered by the snapshot */
	raft_index *obsolete;
	bool		cut_tail;		/* torn tail found at cut_offset of last seg */
	uint64_t	cut_offset;
	uint64_t	cut_bytes;
	const char *cut_why;
	raft_index	log_first;		/* first entry on disk after the obsolete */
	raft_index	log_last;		/* 0 if none */
};

int			st_refuse(struct scan *sc, int rv, const char *fmt,...)
			__attribute__((format(printf, 3, 4)));
int			st_refuse_errno(struct scan *sc, int err, const char *what,
							const char *name);
int			st_scan_list_dir(struct scan *sc, raft_index **firsts, size_t *n);
int			st_scan_segments(struct scan *sc, const raft_index *firsts, size_t n);

#endif							/* RAFT_STORAGE_INTERNAL_H */
