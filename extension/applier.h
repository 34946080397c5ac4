/*
 * extension/applier.h — the applier's parts:
 *   applier.c         main, the handshake with the worker, receiving entries
 *   applier_batch.c   applying a batch in one local transaction, results
 */
#ifndef PGRAFT_APPLIER_H
#define PGRAFT_APPLIER_H

#include "postgres.h"

#include "access/xlogdefs.h"

#include "shmem.h"

#define PGRAFT_APPLY_BATCH_ENTRIES 128
#define PGRAFT_APPLY_BATCH_BYTES (8 * 1024 * 1024)
#define PGRAFT_APPLY_RETRY_MS 1000	/* pause before retrying a batch */

typedef struct PgRaftApplyEntry
{
	uint64		index;
	uint64		term;
	uint8		type;
	Size		len;
	char	   *data;
} PgRaftApplyEntry;

typedef struct PgRaftApplyBatch
{
	int			n;
	Size		bytes;
	PgRaftApplyEntry entries[PGRAFT_APPLY_BATCH_ENTRIES];
} PgRaftApplyBatch;

/*
 * Applies the batch in one transaction that also records the last index in
 * raft.applied, then publishes the applied index and hands this server's
 * waiters their results.  Returns false (nothing applied, transaction
 * rolled back) after a transient failure: the caller pauses and retries
 * the same batch.
 */
extern bool pgraft_apply_batch(PgRaftApplyBatch *batch, MemoryContext cxt);

/*
 * Ends, with outcome, this server's proposals still waiting at an index <=
 * applied, marking them in woke[PGRAFT_MAX_REQUESTS].  Caller holds
 * pgraft_shared->lock exclusively.
 */
extern void pgraft_end_proposals_through(uint64 applied, PgRaftOutcome outcome,
										 bool *woke);

/*
 * The durable applied index (pgraft_shared->durable_applied_index): the
 * applier commits asynchronously, so an applied index is durable once its
 * commit record is flushed.  pgraft_durable_note remembers a commit (its
 * applied index and the end of its commit record); pgraft_durable_advance
 * publishes what the WAL flush has passed, after XLogFlush if the oldest
 * waited flush_after_ms already (-1: never flush), and returns whether some
 * remain; pgraft_durable_reset flushes everything and starts at applied.
 */
#define PGRAFT_DURABLE_FLUSH_MS 1000	/* the WAL writer flushes far sooner */
#define PGRAFT_DURABLE_CHECK_MS 100 /* idle: look again after this */

extern void pgraft_durable_note(uint64 index, XLogRecPtr lsn);
extern bool pgraft_durable_advance(long flush_after_ms);
extern void pgraft_durable_reset(uint64 applied);

/* The committed applied index, or -1 if raft.applied does not exist. */
extern int64 pgraft_read_applied_index(void);

#endif							/* PGRAFT_APPLIER_H */
