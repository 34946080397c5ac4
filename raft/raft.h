/*
 * raft/raft.h — the public interface of pg_raft's consensus core.
 *
 * The core is a pure state machine in the style of etcd-io/raft's RawNode:
 * inputs go in (raft_tick, raft_step, raft_propose, raft_read_index,
 * raft_change_config, raft_transfer_leadership), and what the host must do
 * comes out as a struct raft_ready.  The core performs no I/O, reads no
 * clock (time arrives as ticks), draws randomness only from the seed the
 * host gives it, and keeps no globals, so many nodes can run in one process
 * under a deterministic simulator.
 *
 * The host's loop, in this order (Raft dissertation §3.8, §10.2):
 *
 *     if (raft_has_ready(r)) {
 *         raft_ready(r, &rd);
 *         1. if rd.snapshot: persist it, then restore the state machine;
 *         2. if rd.hard_state's term or vote changed: persist the hard
 *            state durably, now (commit alone need not be durable, §3.8:
 *            a restarted node re-learns it; raft_load clamps it);
 *         3. write rd.entries (if the first entry's index is <= the last
 *            index on disk, truncate the log from there first) and start
 *            making them durable;
 *         4. send the messages for which raft_message_waits_for_sync is
 *            false: the leader's AppendEntries and heartbeats go out while
 *            its own write is in flight (§10.2.1);
 *         5. once the entries are durable: send the other messages
 *            (acknowledgements, votes), apply rd.committed in order, hand
 *            rd.reads to whoever waits on them;
 *         6. raft_advance(r, &rd): only now does a leader count its own
 *            new entries towards commit.
 *     }
 *
 * While step 3's write is in flight the host keeps calling raft_step,
 * raft_tick, raft_propose and the other inputs; it takes the next ready
 * only after raft_advance, so what arrived meanwhile is written with the
 * next batch (group commit).  A host that does steps 2 to 5 in one go
 * (write, sync, send everything) is also correct, only slower.
 *
 * Everything a ready points to belongs to the core and stays valid until
 * raft_advance.  Inputs are copied: the caller may free what it passed in
 * once the call returns.
 *
 * Plain C11.  No PostgreSQL, libuv or system header beyond the C library.
 */
#ifndef RAFT_RAFT_H
#define RAFT_RAFT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef uint64_t raft_id;		/* node id, >= 1; RAFT_NONE means nobody */
typedef uint64_t raft_term;
typedef uint64_t raft_index;

#define RAFT_NONE 0

/* Limits.  Everything has one (TigerBeetle: "put a limit on everything"). */
#define RAFT_MAX_MEMBERS 16		/* voters + learners in one configuration */
#define RAFT_ADDR_LEN 64		/* "host:port" including the final NUL */
#define RAFT_MAX_ENTRY_BYTES (64u * 1024 * 1024)	/* one entry's data */

/* ------------------------------------------------------------------------
 * Errors: an int enum and a table of messages (cowsql/raft src/err.h).
 * ------------------------------------------------------------------------ */
#define RAFT_ERRORS(X)                                                       \
	X(RAFT_OK, "ok")                                                         \
	X(RAFT_ENOMEM, "out of memory")                                          \
	X(RAFT_EINVAL, "invalid argument")                                       \
	X(RAFT_ENOTLEADER, "this node is not the leader")                        \
	X(RAFT_ENOLEADER, "no leader is known")                                  \
	X(RAFT_EBUSY, "a configuration change is already in progress")          \
	X(RAFT_ETRANSFER, "a leadership transfer is in progress")                \
	X(RAFT_EUNKNOWNNODE, "the node is not a member of the configuration")    \
	X(RAFT_EDUPLICATE, "the node is already a member of the configuration")  \
	X(RAFT_EQUORUM, "the change would leave the cluster without a quorum")   \
	X(RAFT_ETOOMANY, "too many members")                                     \
	X(RAFT_ETOOBIG, "the entry is too large")                                \
	X(RAFT_ECOMPACTED, "the index has been compacted away")                  \
	X(RAFT_EUNAVAILABLE, "the index is beyond the end of the log")           \
	X(RAFT_EMALFORMED, "malformed input")                                    \
	X(RAFT_EVERSION, "unsupported encoding version")                         \
	X(RAFT_ECORRUPT, "damaged data")                                         \
	X(RAFT_EIO, "input/output error")                                        \
	X(RAFT_ESHUTDOWN, "the node is shutting down")                           \
	X(RAFT_EFULL, "too many requests are waiting; retry later")

enum raft_error
{
#define RAFT_ERROR_ENUM_(name, text) name,
	RAFT_ERRORS(RAFT_ERROR_ENUM_)
#undef RAFT_ERROR_ENUM_
	RAFT_ERROR_COUNT_
};

/* A static message for an error code; never NULL. */
const char *raft_strerror(int err);

/* ------------------------------------------------------------------------
 * Log entries.
 * ------------------------------------------------------------------------ */
struct raft_buffer
{
	void	   *base;
	size_t		len;
};

enum raft_entry_type
{
	RAFT_ENTRY_COMMAND = 1,		/* host data: apply it to the state machine */
	RAFT_ENTRY_NOOP = 2,		/* appended by a new leader (§3.6.2, §6.4) */
	RAFT_ENTRY_CONFIG = 3		/* data = encoded struct raft_config (codec) */
};

struct raft_entry
{
	raft_term	term;
	raft_index	index;
	uint8_t		type;			/* enum raft_entry_type */
	struct raft_buffer data;
};

/* ------------------------------------------------------------------------
 * Configurations (§4.3, joint consensus).
 *
 * Outside a joint configuration only RAFT_VOTER_NEW counts: a member with it
 * is a voter, a member without it is a learner.  In a joint configuration
 * (joint == true) decisions need a majority of the members with
 * RAFT_VOTER_OLD (C_old) and, separately, a majority of those with
 * RAFT_VOTER_NEW (C_new); members with neither are learners.
 * ------------------------------------------------------------------------ */
#define RAFT_VOTER_NEW 0x01
#define RAFT_VOTER_OLD 0x02

struct raft_member
{
	raft_id		id;
	uint8_t		flags;			/* RAFT_VOTER_NEW | RAFT_VOTER_OLD */
	char		addr[RAFT_ADDR_LEN];	/* the host's address string, NUL-ended */
};

struct raft_config
{
	bool		joint;
	uint32_t	n;				/* members in use */
	struct raft_member members[RAFT_MAX_MEMBERS];
};

/* One step of a membership change, proposed with raft_change_config. */
enum raft_change_kind
{
	RAFT_CHANGE_ADD_LEARNER = 1,	/* new member, non-voting */
	RAFT_CHANGE_PROMOTE = 2,	/* learner -> voter */
	RAFT_CHANGE_ADD_VOTER = 3,	/* new member, voting at once */
	RAFT_CHANGE_REMOVE = 4		/* voter or learner leaves */
};

struct raft_change
{
	uint8_t		kind;			/* enum raft_change_kind */
	raft_id		id;
	char		addr[RAFT_ADDR_LEN];	/* for ADD_*; ignored otherwise */
};

/* ------------------------------------------------------------------------
 * Durable state.
 * ------------------------------------------------------------------------ */
struct raft_hard_state
{
	raft_term	term;
	raft_id		vote;			/* RAFT_NONE if none in this term */
	raft_index	commit;
};

/*
 * A snapshot: the state machine as of index/term.  The content is the
 * host's business (data is opaque to the core: a reference, a small blob,
 * or the whole thing); the core carries it and the configuration in force
 * at index.
 */
struct raft_snapshot
{
	raft_index	index;			/* last index the snapshot covers; 0 = none */
	raft_term	term;			/* term of that entry */
	struct raft_config config;
	struct raft_buffer data;
};

/* ------------------------------------------------------------------------
 * Messages.
 * ------------------------------------------------------------------------ */
enum raft_msg_type
{
	RAFT_MSG_APPEND = 1,		/* AppendEntries (§3.5) */
	RAFT_MSG_APPEND_RESP = 2,
	RAFT_MSG_VOTE = 3,			/* RequestVote (§3.4) */
	RAFT_MSG_VOTE_RESP = 4,
	RAFT_MSG_PREVOTE = 5,		/* Pre-Vote (§9.6) */
	RAFT_MSG_PREVOTE_RESP = 6,
	RAFT_MSG_HEARTBEAT = 7,		/* empty AppendEntries carrying commit */
	RAFT_MSG_HEARTBEAT_RESP = 8,
	RAFT_MSG_SNAPSHOT = 9,		/* InstallSnapshot (§5); answered by APPEND_RESP */
	RAFT_MSG_TIMEOUT_NOW = 10,	/* leadership transfer (§3.10) */
	RAFT_MSG_READ_INDEX = 11,	/* follower -> leader: ReadIndex (§6.4) */
	RAFT_MSG_READ_INDEX_RESP = 12,
	RAFT_MSG_PROPOSE = 13,		/* follower -> leader: forwarded proposals */
	RAFT_MSG_TRANSFER = 14		/* follower -> leader: please transfer */
};
#define RAFT_MSG_TYPE_MAX 14

/*
 * Field use by type (unused fields are zero):
 *   APPEND:        log_term/index = previous entry; commit; entries
 *   APPEND_RESP:   index = last index now matching (accept), or the rejected
 *                  prev index (reject) with reject_hint/hint_term: the
 *                  follower's suggestion where to retry (§5.3 fast back-off)
 *   VOTE/PREVOTE:  log_term/index = candidate's last entry; context = 1 if
 *                  the campaign was started by TIMEOUT_NOW (transfer)
 *   *_RESP:        reject
 *   HEARTBEAT:     commit; context = read-index round (0 = none)
 *   HEARTBEAT_RESP: context echoed
 *   SNAPSHOT:      snapshot
 *   READ_INDEX:    context = the host's request id
 *   READ_INDEX_RESP: context echoed, index = read index; reject if refused
 *   PROPOSE:       entries (type COMMAND; term/index ignored)
 *   TRANSFER:      index = target node id
 */
struct raft_message
{
	uint8_t		type;			/* enum raft_msg_type */
	raft_id		from;
	raft_id		to;
	raft_term	term;
	raft_term	log_term;
	raft_index	index;
	raft_index	commit;
	bool		reject;
	raft_index	reject_hint;
	raft_term	hint_term;
	uint64_t	context;
	uint32_t	n_entries;
	struct raft_entry *entries;
	struct raft_snapshot snapshot;
};

/* ------------------------------------------------------------------------
 * The node.
 * ------------------------------------------------------------------------ */
enum raft_role
{
	RAFT_FOLLOWER = 1,
	RAFT_PRE_CANDIDATE = 2,
	RAFT_CANDIDATE = 3,
	RAFT_LEADER = 4
};

const char *raft_role_name(int role);

struct raft_options
{
	raft_id		id;
	uint64_t	seed;			/* all randomness (election jitter) */
	unsigned	election_ticks; /* timeout drawn from [n, 2n) (§3.4) */
	unsigned	heartbeat_ticks;
	bool		pre_vote;		/* §9.6 */
	bool		check_quorum;	/* leader steps down without a quorum (§6.2) */
	bool		lease_reads;	/* read_index answers from the lease; needs
								 * check_quorum; assumes bounded clock drift */
	size_t		max_msg_bytes;	/* entry bytes per APPEND message */
	unsigned	max_inflight;	/* APPEND messages in flight per follower */
	size_t		max_uncommitted_bytes;	/* proposals refused past it; 0 = off */

	/*
	 * Optional: called with one line of trace ("became leader at term 3").
	 * The core formats it into a fixed buffer; it never allocates for this.
	 */
	void		(*trace) (void *arg, raft_id id, const char *line);
	void	   *trace_arg;
};

/* Fills in sensible defaults (10/1 ticks, pre-vote and check-quorum on). */
void		raft_options_default(struct raft_options *opt, raft_id id, uint64_t seed);

struct raft;					/* opaque */

/* NULL on out of memory or invalid options. */
struct raft *raft_new(const struct raft_options *opt);
void		raft_free(struct raft *r);

/*
 * A brand-new member of the first configuration: appends entry 1 (term 1,
 * RAFT_ENTRY_CONFIG, cfg) and sets term 1.  Every initial member must be
 * bootstrapped with the same cfg so their entry 1 is identical.  The host
 * persists what the next ready holds.  A node that joins later is not
 * bootstrapped: it starts empty and learns the configuration from the
 * leader.  Only on a node with no state, else RAFT_EINVAL.
 */
int			raft_bootstrap(struct raft *r, const struct raft_config *cfg);

/*
 * Restart from durable state: hard state, the latest snapshot (NULL or
 * index 0 if none) and the entries after it, in order.  Everything is
 * copied.  Only on a node with no state, else RAFT_EINVAL.
 */
int			raft_load(struct raft *r, const struct raft_hard_state *hs,
					  const struct raft_snapshot *snap,
					  const struct raft_entry *entries, size_t n);

/* One unit of time.  The host calls it every tick interval. */
void		raft_tick(struct raft *r);

/* A message from the network (bounds already checked by the codec). */
int			raft_step(struct raft *r, const struct raft_message *m);

/*
 * Proposes one command.  On the leader the entry is appended and *index is
 * set.  On a follower it is forwarded to the leader (RAFT_MSG_PROPOSE) and
 * *index is set to 0: the host recognises its entry when it is committed,
 * by an id of its own inside the data.  RAFT_ENOLEADER when there is no
 * leader to take it, RAFT_ETRANSFER during a leadership transfer,
 * RAFT_EFULL on a leader holding max_uncommitted_bytes of uncommitted data.
 */
int			raft_propose(struct raft *r, const void *data, size_t len,
						 raft_index *index);

/*
 * Proposes a membership change (leader only).  A change that leaves the set
 * of voters as it is (adding or removing a learner) takes one entry; any
 * other goes through a joint configuration (§4.3): this entry enters it,
 * and the leader appends the entry that leaves it as soon as this one is
 * committed.  Refused with RAFT_EBUSY while an earlier change is not
 * finished, RAFT_EUNKNOWNNODE / RAFT_EDUPLICATE / RAFT_EQUORUM /
 * RAFT_ETOOMANY as named.
 */
int			raft_change_config(struct raft *r, const struct raft_change *changes,
							   size_t n, raft_index *index);

/*
 * ReadIndex (§6.4): when this node has confirmed that index is a safe read
 * point, a struct raft_read_state {ctx, index} appears in a ready; the host
 * may then serve the read once it has applied up to index.  On a follower
 * the request is forwarded to the leader.  Requests whose answer is lost
 * (leader change) are simply never answered: the host times them out.
 * RAFT_EFULL when too many requests already wait on this leader.
 */
int			raft_read_index(struct raft *r, uint64_t ctx);

/*
 * Whether this node, as leader, holds the lease of §6.4.1 now: it has
 * committed an entry of its term, a majority of the voters (of each half
 * of a joint configuration) answered within half an election timeout, it
 * runs with check_quorum, and no leadership transfer has been started in
 * this term.  A host may then serve a read at the commit index (*commit,
 * when not NULL) without a round (what the lease_reads option does inside
 * raft_read_index).
 */
bool		raft_lease_held(const struct raft *r, raft_index *commit);

struct raft_read_state
{
	uint64_t	ctx;
	raft_index	index;
};

/* §3.10: hands leadership to target (forwarded if this is a follower). */
int			raft_transfer_leadership(struct raft *r, raft_id target);

/* Starts an election now (tests, and a host that knows better). */
int			raft_campaign(struct raft *r);

/*
 * The host has durably applied everything up to index and can rebuild the
 * state as of index from data (opaque; copied).  The core forgets entries
 * up to index, keeping them for followers that lag is the host's choice: it
 * calls raft_compact with a lower index.  Never beyond what was handed out
 * as committed.
 */
int			raft_compact(struct raft *r, raft_index index,
						 const struct raft_buffer *data);

/* The host could not reach a peer / finished sending it a snapshot. */
void		raft_report_unreachable(struct raft *r, raft_id id);
void		raft_report_snapshot(struct raft *r, raft_id id, bool ok);

/* ------------------------------------------------------------------------
 * Ready / advance.
 * ------------------------------------------------------------------------ */
struct raft_ready
{
	bool		hard_state_changed;
	struct raft_hard_state hard_state;

	bool		soft_state_changed;
	raft_id		leader;
	uint8_t		role;			/* enum raft_role */

	const struct raft_snapshot *snapshot;	/* received: persist + restore */

	uint32_t	n_entries;		/* to persist, in order */
	const struct raft_entry *entries;

	uint32_t	n_messages;		/* to send after persisting */
	const struct raft_message *messages;

	uint32_t	n_committed;	/* to apply, in order, exactly once */
	const struct raft_entry *committed;

	uint32_t	n_reads;
	const struct raft_read_state *reads;
};

/*
 * True if m may leave only once the writes of the ready it came in are
 * durable (step 5 above): it acknowledges entries (APPEND_RESP), or asks
 * for or grants a vote the hard state records (VOTE, VOTE_RESP).  The rest
 * (APPEND, HEARTBEAT and their answers, SNAPSHOT, TIMEOUT_NOW, pre-votes,
 * forwarded proposals and reads) depend only on term and vote, which step 2
 * made durable, and may go out before the entries are (step 4).
 */
bool		raft_message_waits_for_sync(const struct raft_message *m);

bool		raft_has_ready(const struct raft *r);
void		raft_ready(struct raft *r, struct raft_ready *rd);
void		raft_advance(struct raft *r, const struct raft_ready *rd);
/*
 * (raft_ready called again before raft_advance returns the same ready.
 * raft_compact may be called while carrying out a ready, for entries it
 * persisted and applied.)
 */

/* ------------------------------------------------------------------------
 * Introspection, for raft.status(), raft.nodes() and the simulator.
 * ------------------------------------------------------------------------ */
enum raft_progress_state
{
	RAFT_PROGRESS_PROBE = 1,
	RAFT_PROGRESS_REPLICATE = 2,
	RAFT_PROGRESS_SNAPSHOT = 3
};

struct raft_progress_info
{
	raft_id		id;
	uint8_t		flags;			/* member flags as in the configuration */
	uint8_t		state;			/* enum raft_progress_state (leader only) */
	raft_index	match;
	raft_index	next;
	unsigned	inflight;
	bool		recent_active;
	uint64_t	ticks_since_contact;

	/*
	 * Bytes of entry data (struct raft_entry.data.len) after match up to the
	 * last index, counted over the entries the leader still holds: entries it
	 * compacted away (a member that needs a snapshot) are not counted, so
	 * the figure is then a lower bound.  For the leader itself: what is not
	 * yet durable.
	 */
	uint64_t	lag_bytes;
};

struct raft_status
{
	raft_id		id;
	uint8_t		role;
	raft_term	term;
	raft_id		vote;
	raft_id		leader;
	raft_index	commit;
	raft_index	applied;		/* last index handed out as committed */
	raft_index	first_index;	/* first entry still in the log */
	raft_index	last_index;
	raft_term	last_term;
	raft_index	snapshot_index;
	raft_id		transferee;		/* leadership transfer target, or NONE */
	bool		config_pending; /* a change is not finished */
	struct raft_config config;	/* the latest one in the log */
	uint32_t	n_progress;		/* leader only */
	struct raft_progress_info progress[RAFT_MAX_MEMBERS];
	uint64_t	elections;		/* campaigns this node started */
};

void		raft_get_status(const struct raft *r, struct raft_status *st);

/* Helpers on configurations, shared by core, codec and host. */
const struct raft_member *raft_config_find(const struct raft_config *c, raft_id id);
bool		raft_config_is_voter(const struct raft_config *c, raft_id id);

#endif							/* RAFT_RAFT_H */
