/*
 * raft/core/read_index.c — linearizable reads without log writes (§6.4).
 *
 * ReadIndex: the leader (1) waits until it has committed an entry of its
 * own term (its no-op), so its commit index is at least that of any earlier
 * leader; (2) records commit as the read index; (3) confirms it is still
 * leader with a round of heartbeats acknowledged by a majority; (4) the
 * host serves the read once it has applied up to the read index.  A
 * follower forwards the request (RAFT_MSG_READ_INDEX) and gets the index
 * back (§6.4.1 on followers).
 *
 * Rounds: every request gets a new round number and heartbeats carry the
 * latest one; a follower's answer to round k confirms every request up to
 * k, so pending requests are released in order once a majority has
 * acknowledged their round.
 *
 * Lease reads (§6.4.1): with lease_reads and check_quorum the leader
 * answers at once, trusting that no other leader can be elected within an
 * election timeout (assumes bounded clock drift between servers); not
 * during or after a leadership transfer in the same term.
 */
#include "core.h"

#include <string.h>

void
read_index_reset(struct raft *r)
{
	r->n_pending_reads = 0;
	r->read_round = 0;
}

static bool
committed_in_term(const struct raft *r)
{
	return log_term_or_zero(&r->log, r->commit) == r->term;
}

static void
deliver(struct raft *r, raft_id to, uint64_t ctx, raft_index index)
{
	struct raft_message m;

	if (to == r->id)
	{
		if (r->n_reads >= RAFT_MAX_PENDING_READS)
		{
			raft_tracef(r, "dropped read state %llu: queue full",
						(unsigned long long) ctx);
			return;
		}
		r->reads[r->n_reads].ctx = ctx;
		r->reads[r->n_reads].index = index;
		r->n_reads++;
		return;
	}
	memset(&m, 0, sizeof(m));
	m.type = RAFT_MSG_READ_INDEX_RESP;
	m.to = to;
	m.term = r->term;
	m.context = ctx;
	m.index = index;
	outbox_send(r, &m);
}

static void
reject(struct raft *r, raft_id to, uint64_t ctx)
{
	struct raft_message m;

	if (to == r->id)
		return;
	memset(&m, 0, sizeof(m));
	m.type = RAFT_MSG_READ_INDEX_RESP;
	m.to = to;
	m.term = r->term;
	m.context = ctx;
	m.reject = true;
	outbox_send(r, &m);
}

/*
 * The lease (§6.4.1): a majority answered within the last half election
 * timeout.  Those followers reset their election timers no earlier than the
 * leader sent what they answered, and with check_quorum they refuse to vote
 * for anyone else for a full election timeout after that (§4.2.3); the half
 * left over absorbs message delay and clock drift.  A leadership transfer
 * ends it: the target campaigns past the voters' lease.  Without a lease
 * the request takes the ReadIndex path.
 */
bool
raft_lease_held(const struct raft *r, raft_index *commit)
{
	raft_id		ids[RAFT_MAX_MEMBERS];
	bool		fresh[RAFT_MAX_MEMBERS];
	uint64_t	limit = r->opt.election_ticks / 2;
	unsigned	n = 0;

	if (r->role != RAFT_LEADER || !r->opt.check_quorum || !committed_in_term(r))
		return false;
#ifndef RAFT_BUG_LEASE_AFTER_TRANSFER
	if (r->transferee != RAFT_NONE || r->lease_revoked)
		return false;			/* §3.10: the target skips the voters' lease */
#endif
	if (limit == 0)
		limit = 1;
	for (unsigned i = 0; i < r->n_progress; i++)
	{
		ids[n] = r->progress[i].id;
		fresh[n] = r->progress[i].id == r->id ||
			r->progress[i].ticks_since_contact < limit;
		n++;
	}
	if (quorum_vote_result(&r->config, ids, fresh, n) != VOTE_WON)
		return false;
	if (commit != NULL)
		*commit = r->commit;
	return true;
}

static bool
lease_valid(const struct raft *r)
{
	return r->opt.lease_reads && raft_lease_held(r, NULL);
}

/* Releases the requests whose round a majority has acknowledged. */
void
read_index_on_ack(struct raft *r)
{
	raft_id		ids[RAFT_MAX_MEMBERS];
	raft_index	acks[RAFT_MAX_MEMBERS];
	unsigned	n = 0;
	uint64_t	confirmed;
	unsigned	done = 0;

	if (r->role != RAFT_LEADER || r->n_pending_reads == 0)
		return;
	for (unsigned i = 0; i < r->n_progress; i++)
	{
		ids[n] = r->progress[i].id;
		acks[n] = r->progress[i].id == r->id ? r->read_round
			: r->progress[i].read_ack;
		n++;
	}
	confirmed = quorum_committed(&r->config, ids, acks, n);
	while (done < r->n_pending_reads)
	{
		struct raft_pending_read *pr = &r->pending_reads[done];

		if (pr->round == 0 || pr->round > confirmed)
			break;
		deliver(r, pr->from, pr->ctx, pr->index);
		done++;
	}
	if (done > 0)
	{
		memmove(r->pending_reads, r->pending_reads + done,
				(r->n_pending_reads - done) * sizeof(r->pending_reads[0]));
		r->n_pending_reads -= done;
	}
}

static int
leader_read(struct raft *r, raft_id from, uint64_t ctx)
{
	struct raft_pending_read *pr;

	if (committed_in_term(r) && lease_valid(r))
	{
		deliver(r, from, ctx, r->commit);
		return RAFT_OK;
	}
	if (r->n_pending_reads >= RAFT_MAX_PENDING_READS)
		return RAFT_EFULL;
	pr = &r->pending_reads[r->n_pending_reads++];
	pr->ctx = ctx;
	pr->from = from;
	pr->index = 0;
	pr->round = 0;
	if (!committed_in_term(r))
		return RAFT_OK;			/* step 1: waits for the no-op */
	pr->index = r->commit;
	pr->round = ++r->read_round;
	replication_broadcast_heartbeat(r, pr->round);
	read_index_on_ack(r);		/* a single voter confirms itself */
	return RAFT_OK;
}

/* The first commit of the term: the waiting requests can start. */
void
read_index_on_commit_in_term(struct raft *r)
{
	bool		any = false;
	unsigned	kept = 0;

	if (r->role != RAFT_LEADER || !committed_in_term(r))
		return;
	for (unsigned i = 0; i < r->n_pending_reads; i++)
	{
		struct raft_pending_read *pr = &r->pending_reads[i];

		if (pr->round == 0 && lease_valid(r))
		{
			deliver(r, pr->from, pr->ctx, r->commit);
			continue;
		}
		if (pr->round == 0)
		{
			if (!any)
				++r->read_round;
			any = true;
			pr->index = r->commit;
			pr->round = r->read_round;
		}
		r->pending_reads[kept++] = *pr;
	}
	r->n_pending_reads = kept;
	if (any)
	{
		replication_broadcast_heartbeat(r, r->read_round);
		read_index_on_ack(r);
	}
}

int
raft_read_index(struct raft *r, uint64_t ctx)
{
	struct raft_message m;

	if (r->role == RAFT_LEADER)
		return leader_read(r, r->id, ctx);
	if (r->role != RAFT_FOLLOWER || r->leader == RAFT_NONE)
		return RAFT_ENOLEADER;
	memset(&m, 0, sizeof(m));
	m.type = RAFT_MSG_READ_INDEX;
	m.to = r->leader;
	m.context = ctx;
	outbox_send(r, &m);
	return RAFT_OK;
}

void
read_index_recv_request(struct raft *r, const struct raft_message *m)
{
	if (leader_read(r, m->from, m->context) != RAFT_OK)
		reject(r, m->from, m->context);
}

void
read_index_recv_response(struct raft *r, const struct raft_message *m)
{
	if (m->reject)
		return;
	if (r->n_reads >= RAFT_MAX_PENDING_READS)
		return;
	r->reads[r->n_reads].ctx = m->context;
	r->reads[r->n_reads].index = m->index;
	r->n_reads++;
}
