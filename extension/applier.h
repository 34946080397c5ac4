/*
 * extension/applier.h — the applier's parts:
 *   applier.c         main, the handshake with the worker, receiving entries
 *   applier_batch.c   applying a batch in one local transaction, results
 */
#ifndef PGRAFT_APPLIER_H
#define PGRAFT_APPLIER_H

#include "postgres.h"

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

/* The durable applied index, or -1 if raft.applied does not exist. */
extern int64 pgraft_read_applied_index(void);

#endif							/* PGRAFT_APPLIER_H */
