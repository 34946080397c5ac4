/*
 * raft/core/transfer.c — leadership transfer (§3.10): the leader stops
 * accepting proposals, brings the target's log up to date, then sends it
 * TIMEOUT_NOW so it starts an election at once (skipping pre-vote and the
 * voters' lease, context = 1).  If the transfer does not complete within an
 * election timeout, the leader aborts it and takes proposals again.  From
 * the TIMEOUT_NOW on, the leader's own lease no longer holds (the voters
 * may elect the target without waiting for it to expire): no lease reads
 * until the next term.
 */
#include "core.h"

#include <string.h>

void
transfer_abort(struct raft *r)
{
	if (r->transferee != RAFT_NONE)
		raft_tracef(r, "aborted the leadership transfer to %llu",
					(unsigned long long) r->transferee);
	r->transferee = RAFT_NONE;
	r->transfer_elapsed = 0;
}

static void
send_timeout_now(struct raft *r, raft_id to)
{
	struct raft_message m;

	memset(&m, 0, sizeof(m));
	m.type = RAFT_MSG_TIMEOUT_NOW;
	m.to = to;
	m.term = r->term;
	outbox_send(r, &m);
	/*
	 * The target's campaign skips the voters' lease (context 1), so a new
	 * leader may be elected before this one hears of it: no lease reads
	 * for the rest of this term (read_index.c).
	 */
	r->lease_revoked = true;
	raft_tracef(r, "sent timeout-now to %llu", (unsigned long long) to);
}

static int
leader_transfer(struct raft *r, raft_id target)
{
	struct raft_progress *p;

	if (target == r->id)
		return RAFT_OK;			/* already there */
	if (!raft_config_is_voter(&r->config, target))
		return RAFT_EUNKNOWNNODE;
	p = progress_find(r, target);
	if (p == NULL)
		return RAFT_EUNKNOWNNODE;
	if (r->transferee == target)
		return RAFT_OK;
	if (r->transferee != RAFT_NONE)
		transfer_abort(r);
	r->transferee = target;
	r->transfer_elapsed = 0;
	raft_tracef(r, "transferring leadership to %llu at term %llu",
				(unsigned long long) target, (unsigned long long) r->term);
	if (p->match == log_last_index(&r->log))
		send_timeout_now(r, target);
	else
		replication_send_append(r, p, true);
	return RAFT_OK;
}

int
raft_transfer_leadership(struct raft *r, raft_id target)
{
	struct raft_message m;

	if (target == RAFT_NONE)
		return RAFT_EINVAL;
	if (r->role == RAFT_LEADER)
		return leader_transfer(r, target);
	if (r->role != RAFT_FOLLOWER || r->leader == RAFT_NONE)
		return RAFT_ENOLEADER;
	memset(&m, 0, sizeof(m));
	m.type = RAFT_MSG_TRANSFER;
	m.to = r->leader;
	m.index = target;
	outbox_send(r, &m);
	return RAFT_OK;
}

void
transfer_recv_request(struct raft *r, const struct raft_message *m)
{
	int			rv = leader_transfer(r, (raft_id) m->index);

	if (rv != RAFT_OK)
		raft_tracef(r, "refused a transfer to %llu asked by %llu: %s",
					(unsigned long long) m->index,
					(unsigned long long) m->from, raft_strerror(rv));
}

/* The target caught up: tell it to campaign now. */
void
transfer_on_progress(struct raft *r, struct raft_progress *p)
{
	if (r->transferee == p->id && p->match == log_last_index(&r->log))
		send_timeout_now(r, p->id);
}

/* §3.10: abort when an election timeout passes without completion. */
void
transfer_tick(struct raft *r)
{
	if (r->transferee == RAFT_NONE)
		return;
	if (++r->transfer_elapsed >= r->opt.election_ticks)
		transfer_abort(r);
}

void
transfer_recv_timeout_now(struct raft *r, const struct raft_message *m)
{
	if (!raft_promotable(r))
		return;
	raft_tracef(r, "timeout-now from %llu: campaigning at once",
				(unsigned long long) m->from);
	election_start(r, false, true);
}
