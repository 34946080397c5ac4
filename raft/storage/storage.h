/*
 * raft/storage/storage.h — pg_raft's durable Raft log: the entries, the
 * hard state (term, vote, commit) and the latest snapshot's metadata, kept
 * in one directory the host names (the extension uses $PGDATA/pg_raft/).
 *
 * On disk:
 *
 *   00000000000000000001.seg   segments, named by their first index
 *   hardstate                  term, vote, commit (replaced atomically)
 *   snapshot                   struct raft_snapshot incl. its data (same)
 *   LOCK                       flock()ed while a process has the log open
 *
 * A segment is a 32-byte header (magic, format version, first index, CRC)
 * followed by records: u32 length, u32 CRC32C (of the length and the
 * payload), the payload (raft_encode_entry) and zero padding to 8 bytes.
 * Segments are preallocated and created under a temporary name, synced and
 * renamed, so a segment that has its final name always has a valid header.
 *
 * Durability (Raft dissertation §3.8, §10.2.1: group commit):
 *   raft_log_append only copies the entries into memory; raft_log_sync
 *   writes everything appended so far and makes it durable with one
 *   fdatasync (more only when a segment fills up: the full one is synced
 *   before the next is created, and a new segment costs an fsync of it and
 *   of the directory).  The host acknowledges an entry only after a sync
 *   that covers it returned RAFT_OK.
 *
 * Recovery (raft_log_open) reads and checks every record.  Only a torn
 * tail is repaired: a partial or garbage record at the end of the last
 * segment with no valid record after it is cut off, and the repair is
 * described in loaded->report for the host's server log.  Any other damage
 * (a bad CRC before the tail, a missing segment, an index gap, a term that
 * goes down, a bad header, a committed entry that is missing) refuses to
 * open with RAFT_ECORRUPT and a message naming the file and byte offset.
 *
 * Errors are raft.h codes.  Every function that fails leaves a message in
 * the log's buffer (raft_log_errmsg), with strerror(errno) for I/O errors.
 * A failed append or sync (ENOSPC, EIO) leaves the log consistent: what was
 * durable stays durable, the unsynced entries stay buffered, and the host
 * may call raft_log_sync again later.  A failure in the middle of truncate,
 * compact or a snapshot's log reset leaves the log unusable: every later
 * call returns RAFT_EIO until the host closes and reopens it (recovery then
 * sees a consistent prefix or suffix).
 *
 * The host's use, step by step (raft.h's loop):
 *
 *     raft_log_open(dir, NULL, &log, &l);    log l.report if l.repaired
 *     l.fresh ? raft_bootstrap(...) : raft_load(r, &l.hard_state,
 *                          &l.snapshot, l.entries, l.n_entries);
 *     raft_log_loaded_free(&l);
 *     per ready:
 *       1. rd.snapshot:  raft_log_save_snapshot(log, rd.snapshot)
 *       2. rd.entries:   raft_log_truncate(log, first) if first <= last
 *                        index, raft_log_append(log, ...), raft_log_sync(log)
 *          hard state:   raft_log_save_hard_state(log, &rd.hard_state)
 *       3. only now send the messages, acknowledge the entries
 *     after applying and taking a snapshot at i: raft_log_save_snapshot,
 *       then raft_log_compact(log, i - what followers may still need).
 *
 * A hard state save costs two fsyncs (the file and the directory).  Only
 * term and vote must be durable before messages go out (§3.8); a host that
 * saves the hard state only when term or vote changed (and lets commit be
 * re-learned from the leader) keeps group commit at one fdatasync a batch.
 *
 * The sync off the host's thread (§10.2.1: the leader keeps receiving,
 * sending and batching proposals while its own write is in flight):
 *
 *     raft_log_sync_begin(log, &job)   writes what was appended (pwrite;
 *                                      a full segment is synced and the
 *                                      next one created here, as in
 *                                      raft_log_sync); job holds the one
 *                                      fdatasync still to do
 *     raft_log_sync_run(&job)          that fdatasync: touches only job and
 *                                      the file, so any thread may run it
 *     raft_log_sync_finish(log, &job)  back on the log's thread: RAFT_OK and
 *                                      the entries up to job.index are
 *                                      durable, or the write is undone and
 *                                      the entries stay buffered (as a
 *                                      failed raft_log_sync leaves them)
 *
 * raft_log_sync is exactly these three in a row.  Between begin and finish
 * the log takes raft_log_append (buffered for the next sync), the hard
 * state, and the read-only calls; sync, truncate, compact and a snapshot
 * are refused (RAFT_EINVAL), and the log must not be closed.
 *
 * Threads: the functions of one log must not run concurrently, but any
 * thread may call them (e.g. raft_log_sync in libuv's thread pool).  There
 * is no static or global state; different logs are independent.
 *
 * Plain C11 + POSIX.
 */
#ifndef RAFT_STORAGE_H
#define RAFT_STORAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "raft.h"

#define RAFT_LOG_MSG_LEN 512	/* error and report buffers, NUL-ended */
#define RAFT_LOG_DEFAULT_SEGMENT_BYTES (8u * 1024 * 1024)
#define RAFT_LOG_MIN_SEGMENT_BYTES 4096u
#define RAFT_LOG_MAX_SEGMENT_BYTES (1024u * 1024 * 1024)
#define RAFT_LOG_DEFAULT_PENDING_BYTES (64u * 1024 * 1024)
#define RAFT_LOG_DEFAULT_SNAPSHOT_BYTES (256u * 1024 * 1024)
/* An encoded entry: version byte, 21 bytes of header, the data. */
#define RAFT_LOG_DEFAULT_RECORD_BYTES (22u + RAFT_MAX_ENTRY_BYTES)

/* The operations the fault hook can fail (tests). */
enum raft_log_op
{
	RAFT_LOG_OP_WRITE = 1,		/* pwrite of records, headers, files */
	RAFT_LOG_OP_SYNC = 2,		/* fdatasync/fsync of a file */
	RAFT_LOG_OP_DIRSYNC = 3,	/* fsync of the directory */
	RAFT_LOG_OP_ALLOCATE = 4,	/* posix_fallocate of a new segment */
	RAFT_LOG_OP_RENAME = 5		/* rename of a temporary file */
};

struct raft_log_options
{
	/*
	 * Size of a segment file (rounded up to 4 KiB).  A record that does not
	 * fit in what is left starts the next segment; a record larger than a
	 * whole segment gets a segment of its own, grown to fit.
	 */
	size_t		segment_bytes;
	size_t		max_record_bytes;	/* encoded entry; RAFT_ETOOBIG past it */
	size_t		max_pending_bytes;	/* append syncs by itself past it */
	size_t		max_snapshot_bytes; /* encoded snapshot incl. data */
	bool		preallocate;	/* posix_fallocate new segments */

	/*
	 * Tests only: called before each operation of the kind named; a
	 * non-zero return is taken as that operation's errno (e.g. ENOSPC).
	 */
	int			(*fault) (void *arg, enum raft_log_op op);
	void	   *fault_arg;
};

/* 8 MiB segments, records up to a whole entry, preallocation on. */
void		raft_log_options_default(struct raft_log_options *opt);

/*
 * What raft_log_open found, in the form raft_load takes:
 *     raft_load(r, &l.hard_state, &l.snapshot, l.entries, l.n_entries)
 * Entries and snapshot data point into memory owned by this struct, valid
 * until raft_log_loaded_free.
 */
struct raft_log_loaded
{
	bool		fresh;			/* nothing on disk: the host bootstraps */
	struct raft_hard_state hard_state;	/* zero if never saved */
	struct raft_snapshot snapshot;	/* index 0 if none */
	struct raft_entry *entries; /* those after the snapshot, in order */
	size_t		n_entries;
	bool		repaired;		/* a torn tail was cut off: see report */
	char		report[RAFT_LOG_MSG_LEN];	/* repairs made, "" if none */
	char		error[RAFT_LOG_MSG_LEN];	/* why open failed, "" if it did not */
	void	   *mem_;			/* private: the buffers the above point into */
};

struct raft_log;				/* opaque */

/*
 * Opens (creating it if missing) the log in dir, checks everything on disk
 * and fills *loaded.  opt may be NULL (defaults).  On failure *log is NULL,
 * loaded->error says why (file and offset for damage), and nothing needs
 * freeing.  Returns RAFT_OK, RAFT_ECORRUPT, RAFT_EIO, RAFT_ENOMEM or
 * RAFT_EINVAL.
 */
int			raft_log_open(const char *dir, const struct raft_log_options *opt,
						  struct raft_log **log, struct raft_log_loaded *loaded);
void		raft_log_loaded_free(struct raft_log_loaded *loaded);

/* Closes without syncing: entries appended since the last sync are lost. */
void		raft_log_close(struct raft_log *log);

/*
 * Buffers n entries (copied) after the last one.  entries[0].index must be
 * last index + 1 (truncate first on a conflict, §3.5), or the snapshot's
 * index + 1 in an empty log; indexes consecutive, terms never going down.
 * Not durable until raft_log_sync.  RAFT_EINVAL, RAFT_ETOOBIG, RAFT_ENOMEM,
 * or an error of the implicit sync done past max_pending_bytes.
 */
int			raft_log_append(struct raft_log *log, const struct raft_entry *entries,
							size_t n);

/* Makes everything appended so far durable.  RAFT_OK or RAFT_EIO. */
int			raft_log_sync(struct raft_log *log);

/* raft_log_sync in three steps (above); the fields ending in _ are private. */
struct raft_log_sync
{
	raft_index	index;			/* durable after a good finish; 0: nothing
								 * was left to sync (run and finish are
								 * then no-ops, finish is still needed) */
	int			fd_;
	const struct raft_log_options *opt_;
	size_t		n_records_;
	uint64_t	bytes_;
	bool		ran_;
	int			err_;
	uint64_t	us_;			/* the fdatasync took this long */
};

/* RAFT_OK (then finish must follow), RAFT_EIO, RAFT_EINVAL. */
int			raft_log_sync_begin(struct raft_log *log, struct raft_log_sync *job);
void		raft_log_sync_run(struct raft_log_sync *job);
/* RAFT_OK or RAFT_EIO (the entries stay buffered: begin again later). */
int			raft_log_sync_finish(struct raft_log *log, struct raft_log_sync *job);

/*
 * Removes entries from_index and after, durably on return (buffered ones
 * are simply dropped).  Refuses (RAFT_EINVAL) to cut at or below the saved
 * commit or snapshot index: committed entries never change (§3.5).
 */
int			raft_log_truncate(struct raft_log *log, raft_index from_index);

/*
 * Removes the segments all of whose entries are <= index, except the last
 * segment.  index must not pass the saved snapshot's index (§5.1).
 */
int			raft_log_compact(struct raft_log *log, raft_index index);

/*
 * Replaces the hard state atomically and durably (temporary file, fsync,
 * rename, fsync of the directory).  Save it after the raft_log_sync of the
 * same ready, so a durable commit index never points past durable entries.
 */
int			raft_log_save_hard_state(struct raft_log *log,
									 const struct raft_hard_state *hs);

/*
 * Replaces the snapshot (metadata and data) atomically and durably.  If the
 * log does not hold the snapshot's last entry (same index and term), the
 * whole log is discarded and continues at snapshot index + 1 (§5: "If
 * existing log entry has same index and term as snapshot's last included
 * entry, retain log entries following it ... Discard the entire log").
 * A snapshot older than the saved one is refused (RAFT_EINVAL).
 */
int			raft_log_save_snapshot(struct raft_log *log,
								   const struct raft_snapshot *snap);

/* The message of the last failure of this log ("" if none). */
const char *raft_log_errmsg(const struct raft_log *log);

struct raft_log_info
{
	raft_index	first_index;	/* first entry on disk or buffered; 0 if none */
	raft_index	last_index;		/* last appended (durable or not); 0 if none */
	raft_term	last_term;
	raft_index	synced_index;	/* last durable entry */
	raft_index	snapshot_index;
	raft_term	snapshot_term;
	uint32_t	n_segments;
	size_t		pending_bytes;	/* appended, not yet written */
	uint64_t	data_syncs;		/* fdatasync/fsync of segment and meta files */
	uint64_t	dir_syncs;		/* fsync of the directory */
	uint64_t	sync_us_total;	/* time spent in those syncs, microseconds */
	uint64_t	sync_us_max;	/* the longest one */
	bool		sync_inflight;	/* between raft_log_sync_begin and _finish */
};

void		raft_log_get_info(const struct raft_log *log, struct raft_log_info *info);

/*
 * The term of entry index (durable or buffered), or of the snapshot's last
 * entry; 0 if unknown.
 */
raft_term	raft_log_term_at(const struct raft_log *log, raft_index index);

#endif							/* RAFT_STORAGE_H */
