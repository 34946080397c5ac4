/*
 * raft/core/election.c — leader election (§3.4), the election restriction
 * (§3.6.1), pre-vote (§9.6) and the check-quorum lease that makes a
 * follower ignore disruptive candidates (§4.2.3, §6.2).
 */
#include "core.h"

#include <string.h>

static void
record_vote(struct raft *r, raft_id from, bool granted)
{
	for (unsigned i = 0; i < r->n_votes; i++)
		if (r->vote_from[i] == from)
			return;				/* the first answer counts */
	if (r->n_votes >= RAFT_MAX_MEMBERS)
		return;
	r->vote_from[r->n_votes] = from;
	r->vote_granted[r->n_votes] = granted;
	r->n_votes++;
}

static enum vote_result
tally(struct raft *r)
{
	return quorum_vote_result(&r->config, r->vote_from, r->vote_granted,
							  r->n_votes);
}

/*
 * §3.4: a follower that times out becomes a candidate, votes for itself
 * and asks every other voter.  With pre_vote (§9.6) it first asks whether
 * it could win at term + 1, without raising its own term, so that a node
 * cut off from the cluster cannot disrupt it when it comes back.
 * transfer: the campaign comes from TIMEOUT_NOW (§3.10); no pre-vote, and
 * the requests carry context 1 to pass the voters' lease check.
 */
void
election_start(struct raft *r, bool pre_vote, bool transfer)
{
	raft_term	term;
	uint8_t		type;

	if (!raft_promotable(r))
		return;
	/* A campaign counts once, pre-vote and vote together. */
	if (pre_vote || r->role != RAFT_PRE_CANDIDATE)
		r->elections++;
	if (pre_vote)
	{
		become_pre_candidate(r);
		term = r->term + 1;
		type = RAFT_MSG_PREVOTE;
	}
	else
	{
		become_candidate(r);
		term = r->term;
		type = RAFT_MSG_VOTE;
	}
	raft_tracef(r, "started %s election for term %llu%s",
				pre_vote ? "a pre-vote" : "an", (unsigned long long) term,
				transfer ? " (leadership transfer)" : "");
	record_vote(r, r->id, true);
	if (tally(r) == VOTE_WON)
	{
		/* A single voter wins at once. */
		if (pre_vote)
			election_start(r, false, transfer);
		else
			become_leader(r);
		return;
	}
	for (uint32_t i = 0; i < r->config.n && i < RAFT_MAX_MEMBERS; i++)
	{
		const struct raft_member *mb = &r->config.members[i];
		struct raft_message m;

		if (mb->id == r->id || !raft_config_is_voter(&r->config, mb->id))
			continue;
		memset(&m, 0, sizeof(m));
		m.type = type;
		m.to = mb->id;
		m.term = term;
		m.log_term = log_last_term(&r->log);
		m.index = log_last_index(&r->log);
		m.context = transfer ? 1 : 0;
		outbox_send(r, &m);
	}
}

/*
 * §6.2 / §4.2.3: with check_quorum, a node that heard from a leader within
 * the minimum election timeout believes that leader is alive and refuses to
 * help start an election.
 */
bool
election_in_lease(const struct raft *r)
{
	return r->opt.check_quorum && r->leader != RAFT_NONE &&
		r->election_elapsed < r->opt.election_ticks;
}

/* RequestVote / PreVote arriving at a node of any role (§3.4, §9.6). */
int
election_recv_request(struct raft *r, const struct raft_message *m)
{
	struct raft_message resp;
	bool		can_vote;
	bool		pre = m->type == RAFT_MSG_PREVOTE;

	/* §3.4: at most one vote per term, first come first served. */
	can_vote = r->vote == m->from ||
		(r->vote == RAFT_NONE && r->leader == RAFT_NONE) ||
		(pre && m->term > r->term);
#ifdef RAFT_BUG_DOUBLE_VOTE
	can_vote = can_vote || (!pre && m->term == r->term);	/* deliberate bug */
#endif

	memset(&resp, 0, sizeof(resp));
	resp.type = pre ? RAFT_MSG_PREVOTE_RESP : RAFT_MSG_VOTE_RESP;
	resp.to = m->from;

	/* §3.6.1: only for a candidate whose log is at least as up-to-date. */
	if (can_vote && log_is_up_to_date(&r->log, m->log_term, m->index))
	{
		raft_tracef(r, "granted %s to %llu at term %llu",
					pre ? "pre-vote" : "vote", (unsigned long long) m->from,
					(unsigned long long) m->term);
		/* A pre-vote answer carries the term asked about (§9.6). */
		resp.term = m->term;
		if (!pre)
		{
			r->election_elapsed = 0;
			r->vote = m->from;
		}
	}
	else
	{
		raft_tracef(r, "rejected %s from %llu at term %llu "
					"(voted for %llu, last %llu/%llu, theirs %llu/%llu)",
					pre ? "pre-vote" : "vote", (unsigned long long) m->from,
					(unsigned long long) m->term, (unsigned long long) r->vote,
					(unsigned long long) log_last_index(&r->log),
					(unsigned long long) log_last_term(&r->log),
					(unsigned long long) m->index,
					(unsigned long long) m->log_term);
		resp.term = r->term;
		resp.reject = true;
	}
	outbox_send(r, &resp);
	return RAFT_OK;
}

/* A (pre-)candidate counts the answers (§3.4, §9.6). */
void
election_recv_response(struct raft *r, const struct raft_message *m)
{
	enum vote_result res;

	if ((r->role == RAFT_PRE_CANDIDATE && m->type != RAFT_MSG_PREVOTE_RESP) ||
		(r->role == RAFT_CANDIDATE && m->type != RAFT_MSG_VOTE_RESP))
		return;
	record_vote(r, m->from, !m->reject);
	res = tally(r);
	if (res == VOTE_WON)
	{
		if (r->role == RAFT_PRE_CANDIDATE)
			election_start(r, false, false);
		else
			become_leader(r);
	}
	else if (res == VOTE_LOST)
	{
		raft_tracef(r, "lost the %s at term %llu",
					r->role == RAFT_PRE_CANDIDATE ? "pre-vote" : "election",
					(unsigned long long) r->term);
		become_follower(r, r->term, RAFT_NONE);
	}
}
