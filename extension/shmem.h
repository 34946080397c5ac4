/*
 * extension/shmem.h — the shared memory of pg_raft: request slots that
 * client backends fill for the Raft worker, the status snapshot the worker
 * publishes, the applied index the applier publishes, and the queue that
 * carries committed entries from the worker to the applier.
 *
 * Locking: PgRaftShared.lock (an LWLock) protects the slots, the status
 * snapshot and the applier handshake fields.  applied_index is an atomic
 * so waiters can poll it without the lock; the published lease has a
 * spinlock of its own (lease.c).
 */
#ifndef PGRAFT_SHMEM_H
#define PGRAFT_SHMEM_H

#include "postgres.h"

#include "port/atomics.h"
#include "storage/condition_variable.h"
#include "storage/dsm.h"
#include "storage/latch.h"
#include "storage/lwlock.h"
#include "storage/spin.h"
#include "storage/proc.h"
#include "storage/shm_mq.h"

#include "raft.h"

/* Bounds.  A full slot table is an error with a hint, never a wait. */
#define PGRAFT_MAX_REQUESTS 64
#define PGRAFT_INLINE_BYTES (16 * 1024)	/* larger requests go through DSM */
#define PGRAFT_ERRMSG_LEN 512
#define PGRAFT_ERRDETAIL_LEN 512
#define PGRAFT_ERRHINT_LEN 256
#define PGRAFT_APPLY_QUEUE_BYTES (4 * 1024 * 1024)	/* worker -> applier */
#define PGRAFT_MAX_PENDING_BYTES ((Size) 256 * 1024 * 1024)	/* committed, not applied */
#define PGRAFT_CONNINFO_LEN 512

typedef enum PgRaftSlotState
{
	PGRAFT_SLOT_FREE = 0,
	PGRAFT_SLOT_FILLED,			/* backend wrote a request; worker not yet */
	PGRAFT_SLOT_TAKEN,			/* worker is handing it to the core */
	PGRAFT_SLOT_PROPOSED,		/* in the core; result comes from the applier */
	PGRAFT_SLOT_READ_WAIT,		/* read index asked; answer comes in a ready */
	PGRAFT_SLOT_DONE			/* result below is final */
} PgRaftSlotState;

typedef enum PgRaftSlotKind
{
	PGRAFT_REQ_PROPOSE = 1,		/* payload = encoded statement */
	PGRAFT_REQ_READ_INDEX,		/* ReadIndex (§6.4) */
	PGRAFT_REQ_READ_LEASE,		/* the leader's lease if it holds one (§6.4.1),
								 * else ReadIndex */
	PGRAFT_REQ_CHANGE,			/* membership change: change below */
	PGRAFT_REQ_TRANSFER			/* leadership transfer to change.id */
} PgRaftSlotKind;

/* How a request ended (PGRAFT_SLOT_DONE). */
typedef enum PgRaftOutcome
{
	PGRAFT_OUT_OK = 0,			/* rows / read_index / index valid */
	PGRAFT_OUT_ERROR,			/* the statement's own error: fields below */
	PGRAFT_OUT_NOT_PROPOSED,	/* refused before the log: safe to retry */
	PGRAFT_OUT_LOST,			/* another entry took its index: not applied */
	PGRAFT_OUT_UNKNOWN			/* may or may not be applied */
} PgRaftOutcome;

typedef struct PgRaftSlot
{
	ConditionVariable cv;		/* the owner sleeps here */
	PgRaftSlotState state;
	PgRaftSlotKind kind;
	uint32		generation;		/* bumped on every acquire */
	int			owner_pid;
	uint64		request_id;		/* PROPOSE: matched by the applier */
	TimestampTz submitted_at;
	TimestampTz proposed_at;	/* when it entered the core */
	raft_index	index;			/* leader: the entry's index; 0 if forwarded */
	raft_term	term;
	uint64		read_round;		/* READ_WAIT: the ReadIndex round it waits for */
	struct raft_change change;	/* CHANGE / TRANSFER */

	/* result */
	PgRaftOutcome outcome;
	uint64		rows;			/* PROPOSE: rows affected */
	raft_index	read_index;		/* READ_INDEX; CHANGE: entry index */
	int			sqlerrcode;
	char		errmsg[PGRAFT_ERRMSG_LEN];
	char		errdetail[PGRAFT_ERRDETAIL_LEN];
	char		errhint[PGRAFT_ERRHINT_LEN];

	Size		len;
	dsm_handle	payload_dsm;	/* if not 0, the payload is in this segment */
	char		payload[PGRAFT_INLINE_BYTES];
} PgRaftSlot;

/* Counters since the worker started, published with the status. */
typedef struct PgRaftCounters
{
	uint64		proposals;		/* this server's proposals the core took */
	uint64		committed;		/* entries handed out as committed */
	uint64		fsyncs;			/* fdatasync/fsync of log files and folder */
	uint64		compactions;	/* log compactions (snapshots taken) */
	uint64		snapshots_sent; /* InstallSnapshot messages sent */
	uint64		snapshots_received;
	uint64		fsync_us_total; /* time spent in those syncs, microseconds */
	uint64		fsync_us_max;	/* the longest one */
	uint64		hard_state_saves;	/* term/vote (and commit) file rewrites */
	uint64		read_requests;	/* reads that asked for a ReadIndex round */
	uint64		read_rounds;	/* ReadIndex rounds asked of the core */
} PgRaftCounters;

typedef struct PgRaftShared
{
	LWLock	   *lock;
	ConditionVariable applied_cv;	/* broadcast when applied_index moves */
	pg_atomic_uint64 applied_index; /* applied (committed) in pg_raft.database */
	pg_atomic_uint64 durable_applied_index; /* ... and its commit record flushed;
											 * compaction never passes it */
	pg_atomic_uint64 next_request_id;
	uint64		next_read_round;	/* ReadIndex rounds (worker_requests.c);
									 * only the worker moves it */

	/* Raft worker */
	int			worker_pid;		/* 0 when not running */
	Latch	   *worker_latch;
	bool		worker_ready;	/* loop running, core loaded */
	char		worker_error[PGRAFT_ERRMSG_LEN];	/* why it is not, if known */
	uint32		worker_quick_exits; /* starts not followed by a healthy run:
									 * the next start waits longer */
	bool		intake_paused;	/* new proposals wait: the applier is behind */

	/* the leader's lease for backends (lease.c); written by the worker */
	slock_t		lease_mutex;
	uint64		lease_index;	/* read index while the lease holds */
	int64		lease_until_us; /* CLOCK_MONOTONIC; 0: no lease */
	struct raft_status status;	/* snapshot published each loop */
	PgRaftCounters counters;	/* published with it */
	bool		status_valid;
	TimestampTz status_time;

	/* Applier handshake (see applier.c) */
	int			applier_pid;
	PGPROC	   *applier_proc;
	uint64		applier_generation; /* bumped by each (re)attach request */
	uint64		applier_start_index;	/* durable applied index at attach */
	uint64		queue_generation;	/* generation the queue was made for */
	bool		applier_waiting_extension;	/* raft.applied missing */

	/*
	 * Snapshot install (snapshot_install.c): the worker persisted a snapshot
	 * at restore_index that the tables must reach before any later entry is
	 * applied; the applier fetches them from restore_node.  The worker holds
	 * back entries after restore_index until applied_index reaches it.
	 */
	uint64		restore_index;	/* 0: none */
	uint64		restore_term;
	int			restore_node;	/* 0: the snapshot names no source */
	char		restore_conninfo[PGRAFT_CONNINFO_LEN];
	uint64		restore_attempts;	/* failed fetches of the current one */
	uint64		restores_done;
	/* other servers' conninfo, from snapshots and raft.add_node (0: free) */
	int			known_node[RAFT_MAX_MEMBERS];
	char		known_conninfo[RAFT_MAX_MEMBERS][PGRAFT_CONNINFO_LEN];
	int			change_pid;		/* backend in raft.add_node/remove_node */
	int			change_node;	/* ... and the node it changes */

	PgRaftSlot	slots[PGRAFT_MAX_REQUESTS];

	/* The worker -> applier queue (shm_mq), recreated per generation. */
	char		queue[FLEXIBLE_ARRAY_MEMBER];
} PgRaftShared;

/* NULL unless preloaded and attached. */
extern PgRaftShared *pgraft_shared;

extern Size pgraft_shmem_size(void);
extern void pgraft_shmem_install_hooks(void);

/* The worker -> applier queue's address. */
static inline shm_mq *
pgraft_apply_queue(void)
{
	return (shm_mq *) pgraft_shared->queue;
}

/*
 * The header of one committed entry on the apply queue; the entry's data
 * follows it in the same shm_mq message.
 */
typedef struct PgRaftApplyHeader
{
	uint64		index;
	uint64		term;
	uint8		type;			/* enum raft_entry_type */
} PgRaftApplyHeader;

#endif							/* PGRAFT_SHMEM_H */
