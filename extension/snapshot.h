/*
 * extension/snapshot.h — compaction and snapshot install (Raft
 * dissertation §5):
 *   worker_compact.c    the worker compacts the log behind the applier
 *   snapshot_data.c     the snapshot's opaque data: where to fetch it from
 *   snapshot_install.c  the worker/applier handshake for a received one
 *   snapshot_fetch.c    the applier fetches the tables (libpq) and loads them
 *
 * The state machine is the replicated tables, so a snapshot's data is not
 * the tables but the node id and libpq conninfo of a server that has them
 * as of the snapshot's index or later, followed by the conninfo of other
 * members the taker knows (from raft.add_node and earlier snapshots):
 * where to fetch them when that server is unreachable.
 */
#ifndef PGRAFT_SNAPSHOT_H
#define PGRAFT_SNAPSHOT_H

#include "postgres.h"

#include "raft.h"
#include "shmem.h"

typedef struct PgRaftSnapshotSource
{
	int			node_id;
	char		conninfo[PGRAFT_CONNINFO_LEN];
	int			n_alt;			/* other servers, in the order given */
	int			alt_node[RAFT_MAX_MEMBERS];
	char		alt_conninfo[RAFT_MAX_MEMBERS][PGRAFT_CONNINFO_LEN];
} PgRaftSnapshotSource;

/*
 * Remembers (in shared memory) how to reach node's tables; lookup copies
 * it into conninfo (PGRAFT_CONNINFO_LEN) and returns false if unknown.
 */
extern void pgraft_remember_conninfo(int node, const char *conninfo);
extern bool pgraft_known_conninfo(int node, char *conninfo);

/* This server's conninfo for the others (palloc'd). */
extern char *pgraft_own_conninfo(void);

/* The data of a snapshot this server takes (palloc'd). */
extern void pgraft_snapshot_data_build(struct raft_buffer *data);

/* Parses a snapshot's data; false if it is not ours or malformed. */
extern bool pgraft_snapshot_data_parse(const struct raft_buffer *data,
									   PgRaftSnapshotSource *src);

/*
 * Worker: a snapshot at snap->index is durable in the log; the tables must
 * be restored to it (or later) before anything after it is applied.
 */
extern void pgraft_request_restore(const struct raft_snapshot *snap);

/* The index entries may be sent to the applier up to (UINT64_MAX: all). */
extern uint64 pgraft_restore_hold_back(void);

/*
 * Applier, between batches: if a restore past applied is requested, fetch
 * and load it in one local transaction.  Returns the new applied index, or
 * applied when nothing was done or the attempt failed (logged; retried).
 */
extern uint64 pgraft_restore_if_needed(uint64 applied);

/*
 * snapshot_fetch.c: fetches the replicated tables from the server at
 * conninfo, which must be node (its pg_raft.node_id), and loads them in
 * one local transaction that also sets raft.applied.  Returns the index
 * loaded (>= min_index), or 0 after a failure (logged; nothing changed
 * here, reported at elevel); *unreachable tells whether the failure was
 * to connect at all.
 */
extern uint64 pgraft_snapshot_fetch(const char *conninfo, int node,
									uint64 min_index, bool *unreachable,
									int elevel);

#endif							/* PGRAFT_SNAPSHOT_H */
