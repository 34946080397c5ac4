/*
 * raft/core/core.h — the inside of struct raft, shared by the files of the
 * core and by nothing else.  Each rule of the Raft dissertation (Ongaro
 * 2014) lives in its own file; this header is the map:
 *
 *   raft.c         new/free/options, bootstrap, load, status
 *   role.c         becoming follower / pre-candidate / candidate / leader,
 *                  ticks (§3.3, §3.4, §6.2)
 *   step.c         raft_step: the term rules (§3.3) and dispatch by role
 *   election.c     campaigns, votes (§3.4, §3.6.1), pre-vote (§9.6), the
 *                  check-quorum lease (§6.2, §4.2.3)
 *   quorum.c       majorities over simple and joint configurations (§4.3)
 *   log.c          the in-memory log above the snapshot (§3.5, §5)
 *   blob.c         reference-counted entry data
 *   replication.c  AppendEntries and heartbeats (§3.5, §5.3 fast back-off)
 *   progress.c     per-follower probe/replicate/snapshot state, inflights
 *   propose.c      proposals, forwarding (§6.2)
 *   commit.c       the commit rule (§3.6.2), what follows a commit
 *   read_index.c   ReadIndex and lease reads (§6.4)
 *   transfer.c     leadership transfer (§3.10)
 *   config.c       membership changes by joint consensus (§4.3)
 *   snapshot.c     compaction and InstallSnapshot (§5)
 *   ready.c        the ready/advance hand-over to the host (§10.2.1)
 *   outbox.c       outgoing messages
 *   prng.c         the seeded generator of election jitter
 *   trace.c        trace lines
 *   errors.c       raft_strerror, raft_role_name
 */
#ifndef RAFT_CORE_H
#define RAFT_CORE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "raft.h"

/*
 * Internal functions are hidden: linked into pg_raft.so they bind inside
 * it and are not exported, so no symbol of the server can interpose.
 */
#if defined(__GNUC__)
#pragma GCC visibility push(hidden)
#endif

/* Limits of the core (everything bounded). */
#define RAFT_MAX_INFLIGHT 256	/* upper bound of options.max_inflight */
#define RAFT_MAX_PENDING_READS 1024 /* ReadIndex requests waiting */
#define RAFT_MAX_READY_COMMITTED 1024	/* committed entries per ready */
#define RAFT_MAX_OUTBOX 65536	/* queued messages; more are dropped */
#define RAFT_TRACE_LEN 256		/* one trace line */

/* ------------------------------------------------------------------------
 * Reference-counted data of entries and snapshots (blob.c).  base is the
 * pointer stored in struct raft_buffer; NULL for empty data.
 * ------------------------------------------------------------------------ */
void	   *blob_new(const void *data, size_t len);
void		blob_ref(void *base);
void		blob_unref(void *base);

/* ------------------------------------------------------------------------
 * Seeded PRNG (prng.c): splitmix64.
 * ------------------------------------------------------------------------ */
struct prng
{
	uint64_t	state;
};

void		prng_seed(struct prng *p, uint64_t seed);
uint64_t	prng_next(struct prng *p);
/* Uniform in [lo, hi), hi > lo. */
unsigned	prng_range(struct prng *p, unsigned lo, unsigned hi);

/* ------------------------------------------------------------------------
 * The log (log.c): entries offset+1 .. offset+n above the snapshot point.
 * ------------------------------------------------------------------------ */
struct raft_log
{
	struct raft_entry *ents;	/* ents[i].index == offset + 1 + i */
	size_t		n;
	size_t		cap;
	raft_index	offset;			/* index covered by the snapshot (0: none) */
	raft_term	offset_term;
	raft_index	stable;			/* the host confirmed entries <= stable */
	raft_index	persist_from;	/* first index the next ready must carry */
	uint64_t   *bytes_to;		/* bytes_to[i]: data bytes up to ents[i],
								 * counted from bytes_base */
	uint64_t	bytes_base;		/* the same, just before ents[0] */
};

void		log_init(struct raft_log *l);
void		log_free(struct raft_log *l);
raft_index	log_first_index(const struct raft_log *l);
raft_index	log_last_index(const struct raft_log *l);
raft_term	log_last_term(const struct raft_log *l);
/* RAFT_OK, RAFT_ECOMPACTED or RAFT_EUNAVAILABLE. */
int			log_term(const struct raft_log *l, raft_index i, raft_term *term);
/* The term of i, or 0 when it is not known. */
raft_term	log_term_or_zero(const struct raft_log *l, raft_index i);
bool		log_match_term(const struct raft_log *l, raft_index i, raft_term t);
const struct raft_entry *log_get(const struct raft_log *l, raft_index i);
/* Appends after the last entry; takes over the references of data. */
int			log_append_owned(struct raft_log *l, const struct raft_entry *e);
int			log_reserve(struct raft_log *l, size_t more);
/* Data bytes of the entries after i (those at or below offset: unknown). */
uint64_t	log_bytes_after(const struct raft_log *l, raft_index i);
/* Drops entries >= i. */
void		log_truncate_from(struct raft_log *l, raft_index i);
/* Drops entries <= i (i must be in the log). */
void		log_compact_to(struct raft_log *l, raft_index i);
/* Drops everything and restarts above (index, term). */
void		log_reset(struct raft_log *l, raft_index index, raft_term term);
/* Largest j <= i whose term is <= t (§5.3 fast back-off). */
raft_index	log_find_conflict_by_term(const struct raft_log *l, raft_index i,
									  raft_term t);
/* §3.6.1: is (term, index) at least as up-to-date as this log? */
bool		log_is_up_to_date(const struct raft_log *l, raft_term term,
							  raft_index index);

/* ------------------------------------------------------------------------
 * Progress of one member, as the leader sees it (progress.c).
 * ------------------------------------------------------------------------ */
struct raft_progress
{
	raft_id		id;
	uint8_t		state;			/* enum raft_progress_state */
	raft_index	match;
	raft_index	next;
	raft_index	pending_snapshot;	/* snapshot state: index sent */
	bool		probe_sent;		/* probe state: wait for an answer */
	bool		recent_active;	/* heard from since the last quorum check */
	uint64_t	ticks_since_contact;
	uint64_t	read_ack;		/* highest ReadIndex round acknowledged */
	unsigned	snapshot_ticks; /* snapshot state: ticks since it was sent */
	raft_index	commit_sent;	/* commit index the latest append carried */
	bool		departing;		/* removed by the latest change (§4.2.2) */
	unsigned	in_start;		/* inflights: a ring of last indexes sent */
	unsigned	in_count;
	raft_index	inflight[RAFT_MAX_INFLIGHT];
};

/* ------------------------------------------------------------------------
 * ReadIndex requests waiting on the leader (read_index.c).
 * ------------------------------------------------------------------------ */
struct raft_pending_read
{
	uint64_t	ctx;
	raft_id		from;			/* this node, or the follower that asked */
	raft_index	index;
	uint64_t	round;			/* 0: waits for the first commit of the term */
};

struct raft
{
	struct raft_options opt;
	raft_id		id;
	struct prng prng;
	bool		has_state;		/* bootstrapped, loaded or taught by a leader */

	/* Persistent state (§3.2, Figure 3.1). */
	raft_term	term;
	raft_id		vote;
	struct raft_log log;

	/* Volatile state. */
	uint8_t		role;
	raft_id		leader;
	raft_index	commit;
	raft_index	applied;		/* last committed index taken by the host */

	/* The latest configuration in the log is in force (§4.1). */
	struct raft_config config;
	raft_index	config_index;	/* its entry (or the snapshot's index) */

	/* The latest snapshot: from raft_compact, raft_load or a leader. */
	struct raft_snapshot snapshot;
	bool		snapshot_to_restore;	/* received: hand it in the next ready */
	raft_index	restore_index;	/* the received one's index (raft_compact
								 * may replace snapshot meanwhile) */

	/* Timers, in ticks (§3.4). */
	unsigned	election_elapsed;
	unsigned	heartbeat_elapsed;
	unsigned	randomized_timeout;

	/* Candidate: votes received, by member id. */
	unsigned	n_votes;
	raft_id		vote_from[RAFT_MAX_MEMBERS];
	bool		vote_granted[RAFT_MAX_MEMBERS];

	/* Leader. */
	unsigned	n_progress;
	struct raft_progress progress[RAFT_MAX_MEMBERS];
	raft_id		transferee;
	unsigned	transfer_elapsed;
	bool		lease_revoked;	/* sent TIMEOUT_NOW this term: no lease */
	bool		broadcast_pending;	/* send appends at the next ready */
	size_t		uncommitted_bytes;
	uint64_t	read_round;
	unsigned	n_pending_reads;
	struct raft_pending_read pending_reads[RAFT_MAX_PENDING_READS];

	/* Outputs waiting for the next ready. */
	struct raft_message *outbox;
	size_t		n_outbox;
	size_t		cap_outbox;
	unsigned	n_reads;
	struct raft_read_state reads[RAFT_MAX_PENDING_READS];

	/* What the last ready handed out, kept until raft_advance. */
	bool		ready_taken;
	struct raft_hard_state prev_hs; /* as last handed out */
	raft_id		prev_leader;
	uint8_t		prev_role;
	struct raft_message *sent;
	size_t		n_sent;
	size_t		cap_sent;
	struct raft_entry *rd_entries;
	size_t		n_rd_entries;
	size_t		cap_rd_entries;
	struct raft_entry *rd_committed;
	size_t		n_rd_committed;
	size_t		cap_rd_committed;
	unsigned	n_rd_reads;
	struct raft_read_state rd_reads[RAFT_MAX_PENDING_READS];
	struct raft_hard_state rd_hs;
	bool		rd_snapshot;
	struct raft_snapshot rd_snap;	/* a referenced copy of the one handed */
	raft_index	handed_committed;	/* last index handed out as committed */

	uint64_t	elections;
};

/* trace.c */
void		raft_tracef(struct raft *r, const char *fmt,...)
			__attribute__((format(printf, 2, 3)));

/* outbox.c: queues a message (entries and snapshot data are referenced). */
void		outbox_send(struct raft *r, const struct raft_message *m);
void		message_release(struct raft_message *m);
void		outbox_drop_acks_from(struct raft *r, raft_index from);

/* role.c */
void		become_follower(struct raft *r, raft_term term, raft_id leader);
void		become_pre_candidate(struct raft *r);
void		become_candidate(struct raft *r);
void		become_leader(struct raft *r);
void		reset_randomized_timeout(struct raft *r);
bool		raft_promotable(const struct raft *r);

/* election.c */
void		election_start(struct raft *r, bool pre_vote, bool transfer);
int			election_recv_request(struct raft *r, const struct raft_message *m);
void		election_recv_response(struct raft *r, const struct raft_message *m);
bool		election_in_lease(const struct raft *r);

/* quorum.c */
enum vote_result
{
	VOTE_PENDING,
	VOTE_WON,
	VOTE_LOST
};
/* The highest index a (joint) majority of voters has, given matches. */
raft_index	quorum_committed(const struct raft_config *c, const raft_id *ids,
							 const raft_index *values, unsigned n);
enum vote_result quorum_vote_result(const struct raft_config *c,
									const raft_id *ids, const bool *granted,
									unsigned n);
bool		quorum_active(const struct raft *r);
unsigned	config_voter_count(const struct raft_config *c);

/* progress.c */
struct raft_progress *progress_find(struct raft *r, raft_id id);
void		progress_reset_all(struct raft *r);
void		progress_sync_config(struct raft *r);
void		progress_become_probe(struct raft_progress *p);
void		progress_become_replicate(struct raft_progress *p);
void		progress_become_snapshot(struct raft_progress *p, raft_index index);
bool		progress_maybe_update(struct raft_progress *p, raft_index n);
bool		progress_maybe_decr_to(struct raft_progress *p, raft_index rejected,
								   raft_index match_hint);
bool		progress_is_paused(const struct raft_progress *p,
							   unsigned max_inflight);
void		progress_inflight_add(struct raft_progress *p, raft_index last);
void		progress_inflight_free_to(struct raft_progress *p, raft_index index);
void		progress_inflight_free_first(struct raft_progress *p);

/* replication.c */
bool		replication_send_append(struct raft *r, struct raft_progress *p,
									bool send_if_empty);
void		replication_broadcast_append(struct raft *r);
void		replication_commit_advanced(struct raft *r);
void		replication_flush(struct raft *r);
void		replication_send_heartbeat(struct raft *r, raft_id to, uint64_t ctx);
void		replication_broadcast_heartbeat(struct raft *r, uint64_t ctx);
void		replication_recv_append(struct raft *r, const struct raft_message *m);
void		replication_recv_heartbeat(struct raft *r, const struct raft_message *m);
void		replication_recv_append_resp(struct raft *r, const struct raft_message *m);
void		replication_recv_heartbeat_resp(struct raft *r,
											const struct raft_message *m);
int			replication_append_local(struct raft *r, uint8_t type,
									 const void *data, size_t len,
									 raft_index *index);

/* propose.c */
void		propose_recv(struct raft *r, const struct raft_message *m);

/* commit.c */
bool		commit_maybe_advance(struct raft *r);
void		commit_to(struct raft *r, raft_index index);

/* read_index.c */
void		read_index_recv_request(struct raft *r, const struct raft_message *m);
void		read_index_recv_response(struct raft *r, const struct raft_message *m);
void		read_index_on_ack(struct raft *r);
void		read_index_on_commit_in_term(struct raft *r);
void		read_index_reset(struct raft *r);

/* transfer.c */
void		transfer_abort(struct raft *r);
void		transfer_recv_request(struct raft *r, const struct raft_message *m);
void		transfer_recv_timeout_now(struct raft *r, const struct raft_message *m);
void		transfer_on_progress(struct raft *r, struct raft_progress *p);
void		transfer_tick(struct raft *r);

/* config.c */
void		config_on_append(struct raft *r, const struct raft_entry *e);
void		config_on_truncate(struct raft *r, raft_index from);
void		config_on_commit(struct raft *r);
void		config_set(struct raft *r, const struct raft_config *c,
					   raft_index index);
bool		config_pending(const struct raft *r);
int			config_at(const struct raft *r, raft_index index,
					  struct raft_config *out);

/* snapshot.c */
void		snapshot_send(struct raft *r, struct raft_progress *p);
void		snapshot_recv(struct raft *r, const struct raft_message *m);
void		snapshot_clear(struct raft_snapshot *s);

/* ready.c */
void		ready_free(struct raft *r);

/* replication.c: appends copies of entries (follower, load) */
int			log_append_copies(struct raft *r, const struct raft_entry *ents,
							  size_t n);

#if defined(__GNUC__)
#pragma GCC visibility pop
#endif

#endif							/* RAFT_CORE_H */
