/*
 * regress/sim/sim.h — the deterministic simulator's shared types.
 *
 * One struct sim is one seeded run: an event queue keyed by simulated
 * milliseconds, a network (sim_net.c), one host per node (sim_host.c) each
 * owning a struct raft and a simulated disk (sim_disk.c), a scheduler of
 * faults and workload (sim_world.c) and the invariant checker
 * (sim_check.c).  Everything nondeterministic comes from the run's seed
 * through splitmix64 streams (sim_util.c).  See sim_main.c for the fault
 * model.
 */
#ifndef RAFT_SIM_H
#define RAFT_SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "raft.h"

#define SIM_MAX_NODES 9			  /* node ids 1..SIM_MAX_NODES over a run */
#define SIM_TICK_MS 10			  /* one raft_tick every 10 simulated ms */
#define SIM_LINE 200			  /* one trace line */
#define SIM_SNAP_DATA 40		  /* serialized state machine, bytes */
#define SIM_MAX_INDEX (1u << 20)  /* log indexes a run may reach */
#define SIM_MAX_EVENTS (1u << 20) /* event queue capacity */
#define SIM_MAX_READS 64		  /* outstanding read_index requests */
#define SIM_MAX_PENDING_CHECKS 8  /* per node: leader commit term checks */

/* ------------------------------------------------------------------------
 * Utilities (sim_util.c).
 * ------------------------------------------------------------------------ */
struct sim_rng
{
	uint64_t state;
};

void sim_rng_init(struct sim_rng *g, uint64_t seed, uint64_t stream);
uint64_t sim_rng_next(struct sim_rng *g);
uint64_t sim_rng_below(struct sim_rng *g, uint64_t n); /* [0, n) */
uint64_t sim_rng_range(struct sim_rng *g, uint64_t lo,
					   uint64_t hi); /* [lo, hi] */
bool sim_rng_chance(struct sim_rng *g, unsigned per_10k);
uint64_t sim_mix64(uint64_t x);
uint64_t sim_hash_bytes(uint64_t h, const void *p, size_t len);

/* An open-addressing map from a u64 key to two u64 values. */
struct sim_map
{
	uint64_t *keys;
	uint64_t *a;
	uint64_t *b;
	uint8_t *used;
	size_t cap;
	size_t n;
};

bool sim_map_get(const struct sim_map *m, uint64_t key, uint64_t *a,
				 uint64_t *b);
void sim_map_put(struct sim_map *m, uint64_t key, uint64_t a, uint64_t b);
void sim_map_free(struct sim_map *m);

void *sim_xmalloc(size_t n);
void *sim_xcalloc(size_t n, size_t size);
void *sim_xrealloc(void *p, size_t n);

/* ------------------------------------------------------------------------
 * Trace: a ring of the last lines, a running hash of all of them, and
 * optionally every line printed as it happens (sim_trace.c).
 * ------------------------------------------------------------------------ */
struct sim_trace
{
	char *ring; /* cap lines of SIM_LINE bytes */
	size_t cap;
	size_t next;
	size_t count;
	uint64_t hash;
	uint64_t lines;
	bool live;
};

void sim_trace_init(struct sim_trace *t, size_t cap, bool live);
void sim_trace_free(struct sim_trace *t);
void sim_trace_line(struct sim_trace *t, const char *line);
void sim_trace_dump(const struct sim_trace *t, FILE *out, size_t last);

/* ------------------------------------------------------------------------
 * The event queue: a binary heap ordered by (time, sequence number).
 * ------------------------------------------------------------------------ */
enum sim_event_kind
{
	SIM_EV_TICK = 1,	/* raft_tick on node */
	SIM_EV_DELIVER = 2, /* msg arrives at msg->to */
	SIM_EV_SYNC = 3,	/* node's disk sync completes */
	SIM_EV_SCHED = 4,	/* the fault/workload scheduler runs */
	SIM_EV_REPORT = 5,	/* raft_report_snapshot/_unreachable (msg) */
	SIM_EV_CRASH = 6,	/* node (0: the leader then) crashes */
	SIM_EV_RESTART = 7	/* node comes back if still that incarnation */
};

struct sim_event
{
	uint64_t time;
	uint64_t seq;
	uint8_t kind;
	raft_id node;
	uint64_t incarnation;	  /* a crash makes older events moot */
	struct raft_message *msg; /* SIM_EV_DELIVER: a deep copy, owned */
};

/* ------------------------------------------------------------------------
 * Network (sim_net.c): the one options struct, and the link state.
 * ------------------------------------------------------------------------ */
struct sim_net_options
{
	unsigned delay_min_ms;	/* every message takes at least this */
	unsigned delay_mean_ms; /* mean of the delay (>= delay_min_ms) */
	unsigned loss_10k;		/* probability of loss, per 10,000 */
	unsigned dup_10k;		/* probability of a duplicate (replay) */
	bool reorder;			/* false: each link is FIFO */
	unsigned capacity;		/* messages in flight per link; more are lost */
};

struct sim_net
{
	struct sim_net_options opt;
	struct sim_rng rng;
	bool blocked[SIM_MAX_NODES + 1][SIM_MAX_NODES + 1]; /* [from][to] */
	unsigned inflight[SIM_MAX_NODES + 1][SIM_MAX_NODES + 1];
	uint64_t last_arrival[SIM_MAX_NODES + 1][SIM_MAX_NODES + 1];
	uint64_t sent;
	uint64_t dropped;
};

/* ------------------------------------------------------------------------
 * Disk (sim_disk.c): what is synced, and what a crash would lose.
 * ------------------------------------------------------------------------ */
struct sim_entry
{
	raft_term term;
	raft_index index;
	uint8_t type;
	uint32_t len;
	uint8_t *data;
	uint64_t hash; /* of type and data */
};

/* Entries snap_index+1 .. snap_index+n. */
struct sim_log
{
	raft_index snap_index;
	raft_term snap_term;
	struct sim_entry *e;
	size_t n;
	size_t cap;
};

struct sim_snapshot
{
	raft_index index; /* 0: none */
	raft_term term;
	struct raft_config config;
	uint32_t len;
	uint8_t data[SIM_SNAP_DATA];
};

struct sim_store
{
	struct raft_hard_state hs;
	struct sim_snapshot snap;
	struct sim_log log;
};

enum sim_op_kind
{
	SIM_OP_HARD_STATE = 1,
	SIM_OP_ENTRIES = 2, /* truncate from the first index, append */
	SIM_OP_SNAPSHOT = 3 /* replaces the snapshot and the log */
};

struct sim_op
{
	uint8_t kind;
	struct raft_hard_state hs;
	struct sim_snapshot snap;
	struct sim_entry *entries;
	size_t n;
};

struct sim_disk
{
	struct sim_store durable; /* survives a crash */
	struct sim_store cur;	  /* durable + pending: what the core sees */
	struct sim_op *pending;	  /* written, not yet synced */
	size_t n_pending;
	size_t cap_pending;
};

uint64_t sim_entry_hash(uint8_t type, const void *data, size_t len);
raft_index sim_log_last(const struct sim_log *l);
raft_term sim_log_term(const struct sim_log *l, raft_index i, bool *found);
const struct sim_entry *sim_log_get(const struct sim_log *l, raft_index i);

void sim_disk_init(struct sim_disk *d);
void sim_disk_free(struct sim_disk *d);
bool sim_disk_empty(const struct sim_disk *d);
void sim_disk_write_hard_state(struct sim_disk *d,
							   const struct raft_hard_state *hs);
/* Returns false on a gap: entries would not follow the log. */
bool sim_disk_write_entries(struct sim_disk *d, const struct raft_entry *e,
							size_t n);
void sim_disk_write_snapshot(struct sim_disk *d, const struct sim_snapshot *s);
bool sim_disk_has_pending(const struct sim_disk *d);
void sim_disk_sync(struct sim_disk *d);
void sim_disk_crash(struct sim_disk *d);
/* Atomic and durable at once: the host's own compaction. */
void sim_disk_compact(struct sim_disk *d, const struct sim_snapshot *s);

/* ------------------------------------------------------------------------
 * Hosts (sim_host.c).
 * ------------------------------------------------------------------------ */
struct sim_commit_check
{
	raft_term term;
	raft_index index;
};

struct sim_read
{
	uint64_t ctx;
	raft_index lower_bound; /* max commit index known at the start */
	uint64_t started;
	raft_id node; /* who asked */
};

struct sim_host
{
	raft_id id;
	bool exists;		  /* a host was created for this id */
	bool up;			  /* running (not crashed, not shut down) */
	bool removed;		  /* shut down for good after its removal */
	bool initial;		  /* member of the first configuration */
	raft_index add_index; /* index of the change that added it */
	uint64_t incarnation;
	uint64_t restart_at;  /* while crashed: when it comes back */
	uint64_t shutdown_at; /* removed: when the host stops it */
	uint64_t tick_phase;  /* ms offset of its ticks */
	unsigned tick_ms;	  /* its clock: ms between ticks */

	struct raft *r;
	struct sim_disk disk;

	/* The ready being persisted (valid while syncing). */
	bool syncing;
	struct raft_ready rd;
	bool rd_has_snapshot;
	struct sim_snapshot rd_snapshot;
	struct raft_message **rd_msgs;
	size_t rd_n_msgs;
	struct sim_entry *rd_committed;
	size_t rd_n_committed;
	struct raft_read_state *rd_reads;
	size_t rd_n_reads;

	/* The state machine: the applied sequence, as a rolling hash. */
	raft_index applied;
	uint64_t rolling;
	uint64_t *hist; /* rolling hash at hist_base + k */
	raft_term *hist_term;
	raft_index hist_base;
	size_t hist_n;
	size_t hist_cap;
	raft_index marker_at; /* where the marker was applied; 0: not yet */

	/* What the checker last saw of it. */
	bool have_status;
	struct raft_status st;
	raft_term max_term; /* over every incarnation */
	raft_term leader_checked_term;
	raft_index seen_commit;	  /* committed prefix registered, this life */
	uint64_t ready_step;	  /* the step its latest ready was taken */
	uint64_t prev_ready_step; /* and the one before */
	struct sim_commit_check pending_checks[SIM_MAX_PENDING_CHECKS];
	size_t n_pending_checks;
};

struct sim;

void sim_host_start(struct sim *s, struct sim_host *h, bool bootstrap);
void sim_host_crash(struct sim *s, struct sim_host *h);
void sim_host_restart(struct sim *s, struct sim_host *h);
void sim_host_shutdown(struct sim *s, struct sim_host *h);
void sim_host_free(struct sim_host *h);
void sim_host_pump(struct sim *s, struct sim_host *h);
void sim_host_sync_done(struct sim *s, struct sim_host *h);
void sim_host_compact(struct sim *s, struct sim_host *h, raft_index tail);
bool sim_host_quiet(const struct sim_host *h);

/* Command entries the workload proposes. */
#define SIM_CMD_MAGIC 0x434d44u	   /* "CMD" */
#define SIM_MARKER_MAGIC 0x4d524bu /* "MRK" */
size_t sim_make_command(uint8_t *buf, size_t cap, uint32_t magic, uint64_t id,
						raft_id from, size_t pad);

/* ------------------------------------------------------------------------
 * Checker state (sim_check.c).
 * ------------------------------------------------------------------------ */
struct sim_committed
{
	raft_term term;
	uint64_t hash;
	uint64_t rolling;	 /* of the applied sequence up to here */
	raft_term seen_term; /* a term by which it was committed */
	raft_id by;			 /* the first node seen to commit or apply it */
	bool known;
	uint64_t known_at;	/* the step it became known */
	bool rolling_known; /* someone applied it: rolling is set */
};

struct sim_check
{
	struct sim_map leaders; /* term -> leader id */
	struct sim_map votes;	/* (node, term) -> candidate, from messages */
	struct sim_map durable_votes; /* (node, term) -> candidate, synced */
	struct sim_map entries;		  /* (index, term) -> entry hash, prev term */
	struct sim_committed *committed; /* by index */
	size_t cap_committed;
	raft_index max_committed; /* highest index applied anywhere */
	raft_index max_commit;	  /* highest commit index seen anywhere */
	struct sim_read reads[SIM_MAX_READS];
	size_t n_reads;
	uint64_t reads_answered;
};

void sim_check_init(struct sim_check *c);
void sim_check_free(struct sim_check *c);
/* Each is called by the host at the moment named; each may fail the run. */
void sim_check_write(struct sim *s, struct sim_host *h,
					 const struct raft_entry *e, size_t n);
void sim_check_send(struct sim *s, struct sim_host *h,
					const struct raft_message *m);
void sim_check_synced(struct sim *s, struct sim_host *h);
void sim_check_apply(struct sim *s, struct sim_host *h,
					 const struct sim_entry *e);
void sim_check_restore(struct sim *s, struct sim_host *h,
					   const struct sim_snapshot *snap);
void sim_check_read_start(struct sim *s, struct sim_host *h, uint64_t ctx);
void sim_check_read_done(struct sim *s, struct sim_host *h,
						 const struct raft_read_state *rs);
/* After every step: status-based invariants of the nodes it touched. */
void sim_check_node(struct sim *s, struct sim_host *h);

/* ------------------------------------------------------------------------
 * One run.
 * ------------------------------------------------------------------------ */
struct sim_config
{
	uint64_t seed;
	unsigned nodes;		/* 0: the seed chooses 3 or 5 */
	uint64_t max_steps; /* per run */
	bool live_trace;
	bool lease_reads;  /* let seeds turn lease reads on */
	size_t trace_tail; /* lines printed with a violation */
	bool clock_drift;  /* clocks run at different rates */
	bool safety_only;  /* only the §3.6.3 properties, not the rules */
};

/* What a run did, summed over seeds by sim_main.c. */
struct sim_stats
{
	uint64_t proposals;
	uint64_t crashes;
	uint64_t partitions;
	uint64_t config_changes; /* accepted by the leader */
	uint64_t transfers;
	uint64_t snapshots_installed;
	uint64_t reads_answered;
	uint64_t leaders; /* terms that had a leader */
	uint64_t completeness_checks;
	uint64_t commit_rule_checks;
	uint64_t applied; /* highest index applied anywhere */
	uint64_t early_sends; /* messages sent before their ready's sync */
};

enum sim_phase
{
	SIM_PHASE_FAULTS = 1,
	SIM_PHASE_HEALED = 2, /* waiting for a leader */
	SIM_PHASE_MARKER = 3, /* waiting for the marker everywhere */
	SIM_PHASE_DONE = 4
};

struct sim
{
	struct sim_config cfg;
	uint64_t now; /* simulated ms */
	uint64_t steps;
	uint64_t seq;

	struct sim_rng rng_sched; /* the fault schedule */
	struct sim_rng rng_work;  /* the workload */
	struct sim_rng rng_host;  /* disk delays, compaction */

	/* The seed's choices. */
	unsigned n_initial;
	unsigned election_ticks;
	unsigned heartbeat_ticks;
	bool pre_vote;
	bool check_quorum;
	bool lease_reads;
	size_t max_msg_bytes;
	unsigned max_inflight;
	size_t max_uncommitted;
	unsigned payload_max; /* a command's padding, bytes */
	unsigned sync_delay_max_ms;
	unsigned sync_stall_10k; /* a sync stalls 50..400 ms */
	bool report_unreachable; /* the transport tells of cut-off peers */
	bool early_send;  /* messages that need no sync leave before it (§10.2.1) */
	bool lazy_commit; /* hard state saved only when term or vote change (§3.8) */
	struct sim_net_options net_base;
	uint64_t fault_end; /* ms: faults stop, everything heals */
	unsigned crash_10k; /* per scheduler tick */
	unsigned partition_10k;
	unsigned burst_10k;
	unsigned member_10k;
	unsigned transfer_10k;
	unsigned propose_10k;
	unsigned read_10k;
	unsigned compact_10k;
	const char *profile;		/* "calm", "normal" or "storm" */
	unsigned leader_bias_10k;	/* a crash or isolation hits the leader */
	unsigned restart_max_ticks; /* a crashed node is down at most this */

	struct sim_event *heap;
	size_t n_heap;
	size_t cap_heap;

	struct sim_net net;
	uint64_t heal_at; /* partition or loss burst ends */
	raft_id deaf_handing_over; /* a leader deaf since its TIMEOUT_NOW, or 0 */
	bool faults_active;
	struct sim_host hosts[SIM_MAX_NODES + 1];
	raft_id next_id;
	struct raft_config initial_cfg;

	struct sim_check chk;
	struct sim_trace trace;

	enum sim_phase phase;
	uint64_t phase_since;
	uint64_t next_cmd_id;
	uint64_t next_read_ctx;
	uint64_t marker_id;
	uint64_t marker_proposed_at;
	uint64_t progress;	  /* sum of applied indexes, liveness phase */
	uint64_t progress_at; /* when it last grew */
	struct sim_stats stats;

	bool violated;
	char violation[512];
	uint64_t violation_time;
};

/* sim_world.c */
void sim_init(struct sim *s, const struct sim_config *cfg);
void sim_free(struct sim *s);
void sim_run(struct sim *s);

/* A trace line prefixed with the time: "[   1200] n2 > became leader". */
void sim_tracef(struct sim *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Records the first violation; the run stops after the current step. */
void sim_fail(struct sim *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void sim_push(struct sim *s, uint64_t time, uint8_t kind, raft_id node,
			  uint64_t incarnation, struct raft_message *msg);
struct sim_host *sim_host_of(struct sim *s, raft_id id);

/* sim_sched.c: faults, workload, membership, the liveness phase */
void sim_sched(struct sim *s);
void sim_crash_now(struct sim *s, raft_id id);
void sim_restart_now(struct sim *s, raft_id id, uint64_t incarnation);

/* sim_net.c */
void sim_net_init(struct sim_net *n, const struct sim_net_options *o,
				  uint64_t seed);
void sim_net_send(struct sim *s, const struct raft_message *m);
/* Drops and frees a delivery that may no longer happen; true if it may. */
bool sim_net_arrive(struct sim *s, struct raft_message *m);
void sim_net_heal(struct sim_net *n);
struct raft_message *sim_msg_copy(const struct raft_message *m);
void sim_msg_free(struct raft_message *m);
const char *sim_msg_name(uint8_t type);

/* sim_wire.c: through the codec and back; NULL (run failed) if it breaks */
struct raft_message *sim_wire_pass(struct sim *s,
								   const struct raft_message *m);
void sim_msg_describe(const struct raft_message *m, char *buf, size_t cap);

#endif /* RAFT_SIM_H */
