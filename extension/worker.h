/*
 * extension/worker.h — the Raft worker's state, shared by its files:
 *   worker.c              main, signals, start-up and shut-down, the loop
 *   worker_ready.c        carrying out a ready in the order raft.h gives,
 *                         the log's fdatasync in libuv's thread pool
 *   worker_requests.c     request slots -> core, read states -> slots
 *   worker_apply_queue.c  committed entries -> the applier (shm_mq)
 *   worker_config.c       settings parsing and checks
 *   worker_compact.c      log compaction behind the applier
 */
#ifndef PGRAFT_WORKER_H
#define PGRAFT_WORKER_H

#include "postgres.h"

#include <uv.h>

#include "storage/shm_mq.h"
#include "utils/memutils.h"

#include "raft.h"
#include "shmem.h"
#include "storage/storage.h"
#include "transport/transport.h"

#define PGRAFT_WORKER_LOG_LINES 64	/* lines queued by callbacks per loop */
#define PGRAFT_WORKER_LOG_LINE 256
#define PGRAFT_MAX_READIES_PER_LOOP 64

/* A committed entry not yet confirmed applied (worker_apply_queue.c). */
typedef struct PgRaftPendingEntry
{
	raft_index	index;
	raft_term	term;
	uint8		type;
	Size		len;
	char	   *data;			/* in queue_cxt */
} PgRaftPendingEntry;

typedef struct PgRaftWorker
{
	uv_loop_t	loop;
	struct raft *raft;
	struct raft_log *log;
	struct raft_transport *transport;
	bool		transport_closed;
	struct raft_config peers;	/* peers as given to the transport */
	struct raft_config address_book;	/* pg_raft.initial_cluster */
	uint64		cluster_id;

	MemoryContext loop_cxt;		/* reset every iteration */
	MemoryContext queue_cxt;	/* pending entries */

	/* committed entries for the applier: a ring, oldest first */
	PgRaftPendingEntry *pending;
	uint32		pending_cap;
	uint32		pending_head;	/* oldest */
	uint32		pending_count;
	Size		pending_bytes;
	raft_index	sent_index;		/* last index written to the queue */
	shm_mq_handle *mqh;
	uint64		queue_generation;
	bool		queue_detached;

	/* lines from libuv / core callbacks, logged by the loop */
	char		log_lines[PGRAFT_WORKER_LOG_LINES][PGRAFT_WORKER_LOG_LINE];
	int			log_levels[PGRAFT_WORKER_LOG_LINES];
	int			n_log_lines;
	uint64		log_lines_dropped;
	uint64		step_errors;
	int			last_step_error;


	PgRaftCounters counters;	/* published with the status */
	TimestampTz next_tick;		/* when the core's next tick is due */
	TimestampTz lease_after;	/* no lease reads before (lease.c) */

	/* the ReadIndex round in flight, 0 if none (worker_requests.c) */
	uint64		read_round;
	raft_term	read_round_term;
	raft_id		read_round_leader;
	TimestampTz read_round_since;

	/*
	 * The ready being carried out (worker_ready.c): taken, its fdatasync
	 * in libuv's thread pool, not yet advanced.
	 */
	bool		rd_active;
	struct raft_ready rd;
	bool		sync_begun;		/* raft_log_sync_begin done, finish due */
	bool		sync_inflight;	/* sync_req queued, not yet completed */
	int			sync_status;	/* of the thread pool request */
	bool		sync_pool_started;
	uv_work_t	sync_req;
	struct raft_log_sync sync_job;
	struct raft_hard_state saved_hs;	/* as last saved: term, vote, commit */

	/* at or after the latest CONFIG entry persisted (worker_compact.c) */
	raft_index	last_config_index;
} PgRaftWorker;

/* worker.c */
extern void pgraft_worker_queue_log(PgRaftWorker *w, int level, const char *line);

/* lease.c */
extern bool pgraft_worker_lease(PgRaftWorker *w, raft_index *index);
extern void pgraft_lease_publish(PgRaftWorker *w);
extern void pgraft_lease_withdraw(void);

/* worker_ready.c */
extern void pgraft_worker_handle_ready(PgRaftWorker *w);
extern void pgraft_worker_wait_sync(PgRaftWorker *w);
extern void pgraft_worker_sync_peers(PgRaftWorker *w);

/* worker_requests.c */
extern void pgraft_worker_recover_slots(void);
extern void pgraft_worker_take_requests(PgRaftWorker *w);
extern void pgraft_worker_answer_reads(PgRaftWorker *w,
									   const struct raft_read_state *reads,
									   uint32 n);

/* worker_apply_queue.c */
extern void pgraft_queue_committed(PgRaftWorker *w, const struct raft_entry *e);
extern void pgraft_queue_pump(PgRaftWorker *w);
extern void pgraft_queue_detach(PgRaftWorker *w);

/* worker_compact.c */
extern void pgraft_compact_note_config(PgRaftWorker *w, raft_index index);
extern void pgraft_compact_note_loaded(PgRaftWorker *w,
									   const struct raft_log_loaded *l);
extern void pgraft_worker_maybe_compact(PgRaftWorker *w);

#endif							/* PGRAFT_WORKER_H */
