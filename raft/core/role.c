/*
 * raft/core/role.c — the roles (§3.3, Figure 3.3) and what a tick means in
 * each: followers and candidates count towards an election timeout drawn
 * from [election_ticks, 2 * election_ticks) (§3.4); a leader sends
 * heartbeats and, with check_quorum, steps down when it has not heard from
 * a majority within an election timeout (§6.2).
 */
#include "core.h"

#include <string.h>

void
reset_randomized_timeout(struct raft *r)
{
	r->randomized_timeout = prng_range(&r->prng, r->opt.election_ticks,
									   2 * r->opt.election_ticks);
}

/*
 * May this node campaign?  A voter of the configuration in force.  A
 * joiner that has no configuration yet or a learner waits; so does a node
 * removed by a committed configuration.  But a voter removed by a
 * configuration that is not committed yet may still be needed to commit it
 * (§4.2.2, Figure 4.6: its log may be the only up-to-date one the remaining
 * voters accept), so it keeps campaigning until then; if it wins, it leads
 * without counting itself and steps down once the change commits.
 */
bool
raft_promotable(const struct raft *r)
{
	struct raft_config prev;

	if (r->config.n == 0)
		return false;
	if (raft_config_is_voter(&r->config, r->id))
		return true;
	if (r->config_index <= r->commit)
		return false;
	if (config_at(r, r->config_index - 1, &prev) != RAFT_OK)
		return false;
	return raft_config_is_voter(&prev, r->id);
}

static void
reset_role_state(struct raft *r, raft_term term)
{
	if (r->term != term)
	{
		r->term = term;
		r->vote = RAFT_NONE;
	}
	r->leader = RAFT_NONE;
	r->election_elapsed = 0;
	r->heartbeat_elapsed = 0;
	reset_randomized_timeout(r);
	r->n_votes = 0;
	r->transferee = RAFT_NONE;
	r->transfer_elapsed = 0;
	r->lease_revoked = false;
	r->broadcast_pending = false;
	r->uncommitted_bytes = 0;
	read_index_reset(r);
}

void
become_follower(struct raft *r, raft_term term, raft_id leader)
{
	uint8_t		was = r->role;

	reset_role_state(r, term);
	r->role = RAFT_FOLLOWER;
	r->leader = leader;
	r->n_progress = 0;
	if (was != RAFT_FOLLOWER)
		raft_tracef(r, "became follower at term %llu",
					(unsigned long long) term);
}

/* §9.6: a pre-candidate asks for votes without raising its term. */
void
become_pre_candidate(struct raft *r)
{
	r->role = RAFT_PRE_CANDIDATE;
	r->leader = RAFT_NONE;
	r->n_votes = 0;
	r->election_elapsed = 0;
	reset_randomized_timeout(r);
	r->n_progress = 0;
	raft_tracef(r, "became pre-candidate at term %llu",
				(unsigned long long) r->term);
}

/* §3.4: increment the term, vote for oneself. */
void
become_candidate(struct raft *r)
{
	reset_role_state(r, r->term + 1);
	r->vote = r->id;
	r->role = RAFT_CANDIDATE;
	r->n_progress = 0;
	raft_tracef(r, "became candidate at term %llu",
				(unsigned long long) r->term);
}

/*
 * §3.4, §3.6.2, §6.4: a new leader resets every member's progress and
 * appends a no-op entry of its term, whose commit commits everything before
 * it and lets ReadIndex start.
 */
void
become_leader(struct raft *r)
{
	raft_index	index;

	reset_role_state(r, r->term);
	r->role = RAFT_LEADER;
	r->leader = r->id;
	progress_reset_all(r);
	raft_tracef(r, "became leader at term %llu", (unsigned long long) r->term);
	if (replication_append_local(r, RAFT_ENTRY_NOOP, NULL, 0, &index) != RAFT_OK)
		raft_tracef(r, "could not append the no-op entry: no memory");
	/* A joint configuration committed under an earlier leader: leave it. */
	config_on_commit(r);
}

static void
tick_election(struct raft *r)
{
	if (r->election_elapsed < r->randomized_timeout)
		r->election_elapsed++;	/* bounded: a node that may not campaign waits */
	if (r->election_elapsed >= r->randomized_timeout && raft_promotable(r))
	{
		r->election_elapsed = 0;
		election_start(r, r->opt.pre_vote, false);
	}
}

static void
tick_heartbeat(struct raft *r)
{
	r->heartbeat_elapsed++;
	r->election_elapsed++;
	for (unsigned i = 0; i < r->n_progress; i++)
	{
		struct raft_progress *p = &r->progress[i];

		p->ticks_since_contact++;
		/*
		 * §5: a snapshot that was lost (and never reported by the host with
		 * raft_report_snapshot) is sent again after two election timeouts.
		 */
		if (p->state == RAFT_PROGRESS_SNAPSHOT &&
			++p->snapshot_ticks >= 2 * r->opt.election_ticks)
		{
			raft_tracef(r, "snapshot to %llu timed out",
						(unsigned long long) p->id);
			p->pending_snapshot = 0;
			progress_become_probe(p);
		}
	}

	if (r->election_elapsed >= r->opt.election_ticks)
	{
		r->election_elapsed = 0;
		/* §6.2: step down without a quorum heard from in a timeout. */
		if (r->opt.check_quorum)
		{
			if (!quorum_active(r))
			{
				raft_tracef(r, "stepped down: no quorum heard from at term %llu",
							(unsigned long long) r->term);
				become_follower(r, r->term, RAFT_NONE);
				return;
			}
			for (unsigned i = 0; i < r->n_progress; i++)
				r->progress[i].recent_active = r->progress[i].id == r->id;
		}
	}
	transfer_tick(r);
	/* Retry what running out of memory may have left undone. */
	if (log_last_term(&r->log) != r->term &&
		replication_append_local(r, RAFT_ENTRY_NOOP, NULL, 0, NULL) != RAFT_OK)
		return;
	config_on_commit(r);
	if (r->role != RAFT_LEADER)
		return;
	if (r->heartbeat_elapsed >= r->opt.heartbeat_ticks)
	{
		r->heartbeat_elapsed = 0;
		replication_broadcast_heartbeat(r, r->read_round);
	}
}

void
raft_tick(struct raft *r)
{
	if (r->role == RAFT_LEADER)
		tick_heartbeat(r);
	else
		tick_election(r);
}
