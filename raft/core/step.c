/*
 * raft/core/step.c — raft_step: a message from the network.  First the
 * term rules every server follows (§3.3: a higher term makes it a
 * follower, a lower one is stale), with the exceptions of pre-vote (§9.6)
 * and of the check-quorum lease (§6.2, §4.2.3); then what the message means
 * in the current role.
 */
#include "core.h"

#include <string.h>

static bool
is_from_leader(uint8_t type)
{
	return type == RAFT_MSG_APPEND || type == RAFT_MSG_HEARTBEAT ||
		type == RAFT_MSG_SNAPSHOT || type == RAFT_MSG_TIMEOUT_NOW;
}

/* Messages forwarded by followers: their term is informational. */
static bool
is_forwarded(uint8_t type)
{
	return type == RAFT_MSG_PROPOSE || type == RAFT_MSG_READ_INDEX ||
		type == RAFT_MSG_TRANSFER;
}

/* Returns false when the message must be dropped. */
static bool
step_term(struct raft *r, const struct raft_message *m)
{
	if (m->term == 0 || is_forwarded(m->type))
		return true;
	if (m->term > r->term)
	{
		if (m->type == RAFT_MSG_VOTE || m->type == RAFT_MSG_PREVOTE)
		{
			/* §4.2.3: a live leader's followers ignore disruptive voters. */
			if (m->context != 1 && election_in_lease(r))
			{
				raft_tracef(r, "ignored %s from %llu at term %llu: "
							"leader %llu is alive",
							m->type == RAFT_MSG_VOTE ? "vote" : "pre-vote",
							(unsigned long long) m->from,
							(unsigned long long) m->term,
							(unsigned long long) r->leader);
				return false;
			}
		}
		if (m->type == RAFT_MSG_PREVOTE)
			return true;		/* §9.6: a pre-vote changes no term */
		if (m->type == RAFT_MSG_PREVOTE_RESP && !m->reject)
			return true;		/* granted for term + 1: counted below */
		raft_tracef(r, "saw term %llu (type %u from %llu) at term %llu",
					(unsigned long long) m->term, (unsigned) m->type,
					(unsigned long long) m->from, (unsigned long long) r->term);
		become_follower(r, m->term,
						is_from_leader(m->type) ? m->from : RAFT_NONE);
		return true;
	}
	if (m->term < r->term)
	{
		struct raft_message resp;

		memset(&resp, 0, sizeof(resp));
		resp.to = m->from;
		resp.term = r->term;
		if ((r->opt.check_quorum || r->opt.pre_vote) &&
			(m->type == RAFT_MSG_APPEND || m->type == RAFT_MSG_HEARTBEAT))
		{
			/*
			 * A stale leader, maybe cut off while we moved on without it:
			 * tell it the term so it steps down (etcd's rule, needed because
			 * a lease or pre-vote may keep our vote requests from it).
			 */
			resp.type = RAFT_MSG_APPEND_RESP;
			outbox_send(r, &resp);
		}
		else if (m->type == RAFT_MSG_PREVOTE)
		{
			resp.type = RAFT_MSG_PREVOTE_RESP;
			resp.reject = true;
			outbox_send(r, &resp);
		}
		return false;
	}
	return true;
}

static void
step_leader(struct raft *r, const struct raft_message *m)
{
	switch (m->type)
	{
		case RAFT_MSG_APPEND_RESP:
			replication_recv_append_resp(r, m);
			break;
		case RAFT_MSG_HEARTBEAT_RESP:
			replication_recv_heartbeat_resp(r, m);
			break;
		case RAFT_MSG_PROPOSE:
			propose_recv(r, m);
			break;
		case RAFT_MSG_READ_INDEX:
			read_index_recv_request(r, m);
			break;
		case RAFT_MSG_TRANSFER:
			transfer_recv_request(r, m);
			break;
		default:
			break;
	}
}

static void
step_candidate(struct raft *r, const struct raft_message *m)
{
	switch (m->type)
	{
		case RAFT_MSG_APPEND:
		case RAFT_MSG_HEARTBEAT:
		case RAFT_MSG_SNAPSHOT:
			/* §3.4: a leader of this term exists. */
			become_follower(r, m->term, m->from);
			if (m->type == RAFT_MSG_APPEND)
				replication_recv_append(r, m);
			else if (m->type == RAFT_MSG_HEARTBEAT)
				replication_recv_heartbeat(r, m);
			else
				snapshot_recv(r, m);
			break;
		case RAFT_MSG_PREVOTE_RESP:
		case RAFT_MSG_VOTE_RESP:
			election_recv_response(r, m);
			break;
		default:
			break;
	}
}

static void
step_follower(struct raft *r, const struct raft_message *m)
{
	switch (m->type)
	{
		case RAFT_MSG_APPEND:
			r->election_elapsed = 0;
			r->leader = m->from;
			replication_recv_append(r, m);
			break;
		case RAFT_MSG_HEARTBEAT:
			r->election_elapsed = 0;
			r->leader = m->from;
			replication_recv_heartbeat(r, m);
			break;
		case RAFT_MSG_SNAPSHOT:
			r->election_elapsed = 0;
			r->leader = m->from;
			snapshot_recv(r, m);
			break;
		case RAFT_MSG_TIMEOUT_NOW:
			transfer_recv_timeout_now(r, m);
			break;
		case RAFT_MSG_READ_INDEX_RESP:
			read_index_recv_response(r, m);
			break;
		case RAFT_MSG_PROPOSE:
		case RAFT_MSG_READ_INDEX:
		case RAFT_MSG_TRANSFER:
			/* Not the leader (any more): dropped, the sender times out. */
			break;
		default:
			break;
	}
}

/*
 * What no correct peer sends: entries out of order, of term 0 or above the
 * message's term, a previous term above the message's, a snapshot whose
 * configuration cannot be.  Refused before it touches any state.
 */
static bool
message_plausible(const struct raft_message *m)
{
	if (m->type == RAFT_MSG_APPEND)
	{
		raft_term	prev_term = m->log_term;

		if (m->log_term > m->term)
			return false;
		for (uint32_t k = 0; k < m->n_entries; k++)
		{
			const struct raft_entry *e = &m->entries[k];

			if (e->index != m->index + 1 + k || e->term == 0 ||
				e->term > m->term || e->term < prev_term ||
				(e->data.len > 0 && e->data.base == NULL))
				return false;
			prev_term = e->term;
		}
	}
	if (m->type == RAFT_MSG_SNAPSHOT)
	{
		const struct raft_snapshot *s = &m->snapshot;

		if (s->index == 0 || s->term == 0 || s->term > m->term ||
			s->config.n == 0 || s->config.n > RAFT_MAX_MEMBERS ||
			(s->data.len > 0 && s->data.base == NULL))
			return false;
		for (uint32_t i = 0; i < s->config.n; i++)
		{
			if (s->config.members[i].id == RAFT_NONE)
				return false;
			for (uint32_t j = i + 1; j < s->config.n; j++)
				if (s->config.members[i].id == s->config.members[j].id)
					return false;
		}
	}
	if ((m->type == RAFT_MSG_VOTE || m->type == RAFT_MSG_PREVOTE) &&
		m->log_term > m->term)
		return false;
	return true;
}

int
raft_step(struct raft *r, const struct raft_message *m)
{
	if (m == NULL || m->type < RAFT_MSG_APPEND || m->type > RAFT_MSG_TYPE_MAX ||
		m->from == RAFT_NONE || m->from == r->id)
		return RAFT_EINVAL;
	if (m->n_entries > 0 && m->entries == NULL)
		return RAFT_EINVAL;
	if (m->to != RAFT_NONE && m->to != r->id)
		return RAFT_EINVAL;
	if (!message_plausible(m))
	{
		raft_tracef(r, "refused an implausible message (type %u) from %llu",
					(unsigned) m->type, (unsigned long long) m->from);
		return RAFT_EINVAL;
	}
	if (!step_term(r, m))
		return RAFT_OK;
	if (m->type == RAFT_MSG_VOTE || m->type == RAFT_MSG_PREVOTE)
		return election_recv_request(r, m);
	switch (r->role)
	{
		case RAFT_LEADER:
			step_leader(r, m);
			break;
		case RAFT_PRE_CANDIDATE:
		case RAFT_CANDIDATE:
			step_candidate(r, m);
			break;
		default:
			step_follower(r, m);
			break;
	}
	return RAFT_OK;
}
