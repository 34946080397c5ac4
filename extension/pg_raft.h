/*
 * extension/pg_raft.h — what the parts of the extension share: settings,
 * and the few entry points one part calls in another.
 *
 *   pg_raft.c        _PG_init, GUCs, shared memory hooks, worker registration
 *   worker*.c        the Raft worker: event loop, core, storage, transport
 *   applier*.c       the applier: committed entries -> local transactions
 *   sql_*.c          SQL functions: raft.exec, raft.barrier, raft.status, ...
 *   statement_*.c, guard.c, catalog.c, read_guard.c: see statement.h
 */
#ifndef PGRAFT_H
#define PGRAFT_H

#include "postgres.h"

/* Settings (pg_raft.c). */
extern int	pgraft_node_id;
extern char *pgraft_listen_addr;
extern char *pgraft_initial_cluster;
extern char *pgraft_database;
extern int	pgraft_read_consistency;	/* PgRaftReadConsistency */
extern char *pgraft_cluster_secret;
extern int	pgraft_election_timeout_ms;
extern int	pgraft_heartbeat_interval_ms;
extern int	pgraft_log_keep_entries;
extern char *pgraft_conninfo;

typedef enum PgRaftReadConsistency
{
	PGRAFT_READ_LINEARIZABLE,
	PGRAFT_READ_LEASE,
	PGRAFT_READ_LOCAL
} PgRaftReadConsistency;

/* True when the library was loaded by shared_preload_libraries. */
extern bool pgraft_preloaded;

/*
 * Raises ERROR (OBJECT_NOT_IN_PREREQUISITE_STATE, with a hint) unless the
 * library is preloaded and the Raft worker runs.  Every SQL function calls
 * it first.
 */
extern void pgraft_require_ready(void);

/*
 * Read fence: asks the leader for a read index (ReadIndex, or the lease
 * under pg_raft.read_consistency = lease), then waits until this server
 * has applied it.  Returns the index.  Honours statement_timeout and
 * cancel.  With consistency PGRAFT_READ_LOCAL it returns at once.
 */
extern uint64 pgraft_read_fence(PgRaftReadConsistency consistency);

/* lease.c (backends) */
extern bool pgraft_lease_read_index(uint64 *index);

/*
 * Proposes an encoded statement and waits for its result from this
 * server's applier: rows affected, or the statement's own error re-raised
 * with its SQLSTATE.  When the outcome cannot be known, raises
 * ERRCODE_T_R_STATEMENT_COMPLETION_UNKNOWN (40003).
 */
extern uint64 pgraft_propose_and_wait(bytea *entry_data, uint64 request_id);

/* A request id unique on this server (for PgRaftStatement.request_id). */
extern uint64 pgraft_next_request_id(void);

#endif							/* PGRAFT_H */
