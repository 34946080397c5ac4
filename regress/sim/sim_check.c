/*
 * regress/sim/sim_check.c — the invariants, checked as the run goes.
 *
 * Raft's safety properties (Ongaro 2014, §3.6.3, figure 3.2) and the
 * host contract of raft.h, each checked at the moment it can first be
 * seen to break, so the trace ends right where it went wrong:
 *
 *   election safety      at most one leader per term, ever (term -> id map)
 *   log matching         (index, term) names one entry and one prefix: each
 *                        entry a host writes is recorded with the term of
 *                        the entry before it; a different entry or previous
 *                        term under the same (index, term) is a violation
 *   leader completeness  a leader of term T, once its host holds its whole
 *                        log, has every entry committed by a term < T
 *   apply                a node applies only entries of its own durable log
 *   committed entries    a node's commit index commits its log up to there:
 *                        once its host holds that log, each entry is recorded
 *                        as committed; two nodes committing different entries
 *                        at one index is a violation
 *   state machine safety every applied (index, term, entry) is the one
 *                        committed there, and the rolling hash of the applied
 *                        prefix is the same everywhere (also across snapshot
 *                        restores)
 *   committed not lost   no append from a leader of the committing term or
 *                        a later one replaces a committed entry; commit
 *                        never goes back within one incarnation of a node
 *   terms                never go back, not even across a crash (a restart
 *                        is at least the durable term)
 *   durability (§3.8)    a message leaves only once the term it carries is
 *                        durable; a granted vote only once that vote, or a
 *                        later term, has been synced; an
 *                        append is acknowledged only once durable; one vote
 *                        per node and term, across crashes too
 *   commit rule (§3.6.2) a leader advances its commit index only onto an
 *                        entry of its own term
 *   reads (§6.4)         a read index is at least the highest commit index
 *                        known anywhere when the read was asked, and comes
 *                        back to the node that asked
 *   host view            once a host has taken every ready, its log ends
 *                        where the core's does
 */
#include <stdlib.h>
#include <string.h>

#include "sim.h"

#define ULL(x) ((unsigned long long) (x))

void
sim_check_init(struct sim_check *c)
{
	memset(c, 0, sizeof(*c));
}

void
sim_check_free(struct sim_check *c)
{
	sim_map_free(&c->leaders);
	sim_map_free(&c->votes);
	sim_map_free(&c->durable_votes);
	sim_map_free(&c->entries);
	free(c->committed);
	memset(c, 0, sizeof(*c));
}

static struct sim_committed *
committed_at(struct sim *s, raft_index i)
{
	struct sim_check *c = &s->chk;

	if (i >= SIM_MAX_INDEX)
	{
		sim_fail(s, "run size: index %llu is beyond the simulator's bound %u",
				 ULL(i), SIM_MAX_INDEX);
		return NULL;
	}
	if (i >= c->cap_committed)
	{
		size_t cap = c->cap_committed ? c->cap_committed : 1024;

		while (cap <= i)
			cap *= 2;
		c->committed = sim_xrealloc(c->committed, cap * sizeof(*c->committed));
		memset(c->committed + c->cap_committed, 0,
			   (cap - c->cap_committed) * sizeof(*c->committed));
		c->cap_committed = cap;
	}
	return &c->committed[i];
}

static uint64_t
entry_key(raft_index i, raft_term t)
{
	return (i << 24) ^ t;
}

void
sim_check_write(struct sim *s, struct sim_host *h, const struct raft_entry *e,
				size_t n)
{
	const struct sim_log *l = &h->disk.cur.log;

	for (size_t k = 0; k < n && !s->violated; k++)
	{
		uint64_t hash =
			sim_entry_hash(e[k].type, e[k].data.base, e[k].data.len);
		uint64_t old_hash, old_prev;
		raft_term prev;
		bool found = true;

		if (e[k].term >= (1u << 24) || e[k].index == 0)
		{
			sim_fail(s, "entry: n%llu writes entry %llu/%llu out of bounds",
					 ULL(h->id), ULL(e[k].index), ULL(e[k].term));
			return;
		}
		if (e[k].index <= l->snap_index)
		{
			sim_fail(s,
					 "ready entries: n%llu is asked to write %llu, covered by "
					 "its snapshot %llu",
					 ULL(h->id), ULL(e[k].index), ULL(l->snap_index));
			return;
		}
		if (k > 0 && e[k].index != e[k - 1].index + 1)
		{
			sim_fail(s, "ready entries: n%llu gets %llu after %llu",
					 ULL(h->id), ULL(e[k].index), ULL(e[k - 1].index));
			return;
		}
		prev = k > 0 ? e[k - 1].term : sim_log_term(l, e[k].index - 1, &found);
		if (!found)
			return; /* a gap: the disk write reports it */
		if (e[k].term < prev)
		{
			sim_fail(
				s,
				"log terms: n%llu writes %llu/%llu after an entry of term "
				"%llu",
				ULL(h->id), ULL(e[k].index), ULL(e[k].term), ULL(prev));
			return;
		}
		if (sim_map_get(&s->chk.entries, entry_key(e[k].index, e[k].term),
						&old_hash, &old_prev))
		{
			if (old_hash != hash)
				sim_fail(
					s,
					"log matching: n%llu writes an entry %llu/%llu different "
					"from another node's %llu/%llu",
					ULL(h->id), ULL(e[k].index), ULL(e[k].term),
					ULL(e[k].index), ULL(e[k].term));
			else if (old_prev != prev)
				sim_fail(
					s,
					"log matching: n%llu has %llu/%llu after an entry of term "
					"%llu, another node after one of term %llu",
					ULL(h->id), ULL(e[k].index), ULL(e[k].term), ULL(prev),
					ULL(old_prev));
		}
		else
			sim_map_put(&s->chk.entries, entry_key(e[k].index, e[k].term),
						hash, prev);
		if (e[k].index < s->chk.cap_committed &&
			s->chk.committed[e[k].index].known)
		{
			const struct sim_committed *c = &s->chk.committed[e[k].index];
			const struct sim_entry *old = sim_log_get(l, e[k].index);

			/*
			 * A diverged log may hold something else at a committed index
			 * (a stale leader appends there), and even the committed entry
			 * may be replaced on a node that lags behind, by a delayed
			 * append from the leader of a term older than the one that
			 * committed it (leader completeness binds later terms only).
			 * What must never happen: a leader of a term at least the
			 * committing one has it replaced.  The node's term after this
			 * ready is that leader's; the committing term is at most
			 * seen_term.  And the core decided on the replacement after
			 * it handed out its previous ready: the entry must have been
			 * known committed before that.
			 */
			if (old != NULL && old->term == c->term && old->hash == c->hash &&
				(c->term != e[k].term || c->hash != hash) &&
				c->known_at < h->prev_ready_step &&
				c->seen_term <= h->disk.cur.hs.term)
				sim_fail(
					s,
					"committed entry lost: n%llu writes %llu/%llu over the "
					"committed %llu/%llu (first applied by n%llu)",
					ULL(h->id), ULL(e[k].index), ULL(e[k].term),
					ULL(e[k].index), ULL(c->term), ULL(c->by));
		}
	}
}

static bool
is_prevote(uint8_t type)
{
	return type == RAFT_MSG_PREVOTE || type == RAFT_MSG_PREVOTE_RESP;
}

void
sim_check_send(struct sim *s, struct sim_host *h, const struct raft_message *m)
{
	const struct sim_store *d = &h->disk.durable;

	if (m->from != h->id)
	{
		sim_fail(s, "message: n%llu sends %s claiming to be from n%llu",
				 ULL(h->id), sim_msg_name(m->type), ULL(m->from));
		return;
	}
	if (m->type == 0 || m->type > RAFT_MSG_TYPE_MAX)
	{
		sim_fail(s, "message: n%llu sends an unknown message type %u",
				 ULL(h->id), m->type);
		return;
	}
	/* A pre-vote carries the term it would campaign for (§9.6). */
	if (!is_prevote(m->type) && m->term > d->hs.term)
		sim_fail(s,
				 "durability: n%llu sends %s of term %llu while its durable "
				 "term is %llu",
				 ULL(h->id), sim_msg_name(m->type), ULL(m->term),
				 ULL(d->hs.term));
	if (m->type == RAFT_MSG_VOTE_RESP && !m->reject)
	{
		uint64_t key = m->term * (SIM_MAX_NODES + 1) + h->id;
		uint64_t cand;

		if (s->cfg.safety_only)
			return;
		/*
		 * Safe once the vote is durable, or once a later term is: a node
		 * restarted at a later term never votes in this one again.
		 */
		if (d->hs.term <= m->term &&
			(!sim_map_get(&s->chk.durable_votes, key, &cand, NULL) ||
			 cand != m->to))
			sim_fail(s,
					 "durability: n%llu grants its vote to n%llu in term %llu "
					 "before that vote is durable (durable: term %llu vote "
					 "n%llu)",
					 ULL(h->id), ULL(m->to), ULL(m->term), ULL(d->hs.term),
					 ULL(d->hs.vote));
		if (sim_map_get(&s->chk.votes, key, &cand, NULL) && cand != m->to)
			sim_fail(s,
					 "double vote: n%llu grants votes to n%llu and n%llu in "
					 "term %llu",
					 ULL(h->id), ULL(cand), ULL(m->to), ULL(m->term));
		sim_map_put(&s->chk.votes, key, m->to, 0);
	}
	if (m->type == RAFT_MSG_APPEND_RESP && !m->reject &&
		m->index > sim_log_last(&d->log))
		sim_fail(s,
				 "durability: n%llu acknowledges entries up to %llu, but "
				 "only %llu are durable",
				 ULL(h->id), ULL(m->index), ULL(sim_log_last(&d->log)));
}

/* After each sync: the vote a node has durably cast, per term. */
void
sim_check_synced(struct sim *s, struct sim_host *h)
{
	const struct raft_hard_state *hs = &h->disk.durable.hs;
	uint64_t key = hs->term * (SIM_MAX_NODES + 1) + h->id;
	uint64_t cand;

	if (hs->vote == RAFT_NONE)
		return;
	if (sim_map_get(&s->chk.durable_votes, key, &cand, NULL))
	{
		if (cand != hs->vote && !s->cfg.safety_only)
			sim_fail(
				s,
				"double vote: n%llu durably voted for n%llu and then n%llu "
				"in term %llu",
				ULL(h->id), ULL(cand), ULL(hs->vote), ULL(hs->term));
		return;
	}
	sim_map_put(&s->chk.durable_votes, key, hs->vote, 0);
}

void
sim_check_apply(struct sim *s, struct sim_host *h, const struct sim_entry *e)
{
	struct sim_committed *c = committed_at(s, e->index);
	const struct sim_store *d = &h->disk.durable;
	const struct sim_entry *mine = sim_log_get(&d->log, e->index);

	if (c == NULL)
		return;
	/* What a node applies is in its own log, on its disk (§3.8). */
	if (e->index > d->snap.index &&
		(mine == NULL || mine->term != e->term || mine->hash != e->hash))
	{
		sim_fail(s,
				 "apply: n%llu applies %llu/%llu, which is not in its "
				 "durable log (it has %s%llu)",
				 ULL(h->id), ULL(e->index), ULL(e->term),
				 mine ? "term " : "no entry, last ",
				 mine ? ULL(mine->term) : ULL(sim_log_last(&d->log)));
		return;
	}
	if (!c->known)
	{
		c->known = true;
		c->known_at = s->steps;
		c->term = e->term;
		c->hash = e->hash;
		c->seen_term = h->disk.cur.hs.term;
		c->by = h->id;
		if (e->index > s->chk.max_committed)
			s->chk.max_committed = e->index;
	}
	if (e->index > s->stats.applied)
		s->stats.applied = e->index;
	if (c->term != e->term || c->hash != e->hash)
		sim_fail(s,
				 "state machine safety: n%llu applies %llu/%llu, but "
				 "%llu/%llu was committed there (first seen on n%llu)",
				 ULL(h->id), ULL(e->index), ULL(e->term), ULL(e->index),
				 ULL(c->term), ULL(c->by));
	else if (!c->rolling_known)
	{
		c->rolling = h->rolling;
		c->rolling_known = true;
	}
	else if (c->rolling != h->rolling)
		sim_fail(s,
				 "state machine safety: n%llu's applied sequence up to %llu "
				 "differs from the one applied before",
				 ULL(h->id), ULL(e->index));
}

/*
 * A node's commit index says its log up to there is committed (§3.6.2:
 * a leader's directly, a follower's as min(leader commit, last new
 * entry)).  Called when the host holds the node's whole log.
 */
static void
check_committed_prefix(struct sim *s, struct sim_host *h,
					   const struct raft_status *st)
{
	const struct sim_log *l = &h->disk.cur.log;
	raft_index from = h->seen_commit > l->snap_index ? h->seen_commit + 1
													 : l->snap_index + 1;

	for (raft_index i = from; i <= st->commit && !s->violated; i++)
	{
		const struct sim_entry *e = sim_log_get(l, i);
		struct sim_committed *c = committed_at(s, i);

		if (e == NULL || c == NULL)
			return;
		if (!c->known)
		{
			c->known = true;
			c->known_at = s->steps;
			c->term = e->term;
			c->hash = e->hash;
			c->seen_term = st->term;
			c->by = h->id;
			if (i > s->chk.max_committed)
				s->chk.max_committed = i;
		}
		else if (c->term != e->term || c->hash != e->hash)
			sim_fail(
				s,
				"committed entries differ: n%llu has committed %llu/%llu, "
				"n%llu had committed %llu/%llu",
				ULL(h->id), ULL(i), ULL(e->term), ULL(c->by), ULL(i),
				ULL(c->term));
	}
	if (st->commit > h->seen_commit)
		h->seen_commit = st->commit;
}

void
sim_check_restore(struct sim *s, struct sim_host *h,
				  const struct sim_snapshot *snap)
{
	struct sim_committed *c;

	if (snap->index == 0)
		return;
	c = committed_at(s, snap->index);
	if (c == NULL)
		return;
	if (!c->known)
		sim_fail(s,
				 "snapshot: n%llu restores a snapshot at %llu, an index "
				 "nobody committed",
				 ULL(h->id), ULL(snap->index));
	else if (c->term != snap->term)
		sim_fail(s,
				 "snapshot: n%llu restores snapshot %llu/%llu, the entry "
				 "applied there has term %llu",
				 ULL(h->id), ULL(snap->index), ULL(snap->term), ULL(c->term));
	else if (c->rolling_known && c->rolling != h->rolling)
		sim_fail(s,
				 "state machine safety: n%llu restores a snapshot at %llu "
				 "whose state differs from what was applied up to there",
				 ULL(h->id), ULL(snap->index));
}

void
sim_check_read_start(struct sim *s, struct sim_host *h, uint64_t ctx)
{
	struct sim_check *c = &s->chk;

	if (c->n_reads == SIM_MAX_READS)
	{
		memmove(c->reads, c->reads + 1,
				(SIM_MAX_READS - 1) * sizeof(c->reads[0]));
		c->n_reads--;
	}
	c->reads[c->n_reads].ctx = ctx;
	c->reads[c->n_reads].lower_bound = c->max_commit;
	c->reads[c->n_reads].started = s->now;
	c->reads[c->n_reads].node = h->id;
	c->n_reads++;
	sim_tracef(s, "n%llu * read_index ctx=%llu (commit known: %llu)",
			   ULL(h->id), ULL(ctx), ULL(c->max_commit));
}

void
sim_check_read_done(struct sim *s, struct sim_host *h,
					const struct raft_read_state *rs)
{
	struct sim_check *c = &s->chk;

	for (size_t k = 0; k < c->n_reads; k++)
	{
		if (c->reads[k].ctx != rs->ctx)
			continue;
		sim_tracef(s, "n%llu * read ctx=%llu at index %llu", ULL(h->id),
				   ULL(rs->ctx), ULL(rs->index));
		if (c->reads[k].node != h->id)
			sim_fail(s, "read: n%llu gets the answer to n%llu's read ctx=%llu",
					 ULL(h->id), ULL(c->reads[k].node), ULL(rs->ctx));
		else if (rs->index < c->reads[k].lower_bound)
			sim_fail(
				s,
				"linearizable read: n%llu answers read ctx=%llu with index "
				"%llu, but %llu was committed when it was asked",
				ULL(h->id), ULL(rs->ctx), ULL(rs->index),
				ULL(c->reads[k].lower_bound));
		c->reads_answered++;
		s->stats.reads_answered++;
		memmove(c->reads + k, c->reads + k + 1,
				(c->n_reads - k - 1) * sizeof(c->reads[0]));
		c->n_reads--;
		return;
	}
}

/* Every entry committed by an earlier term is in this leader's log. */
static void
check_leader_completeness(struct sim *s, struct sim_host *h, raft_term term)
{
	const struct sim_log *l = &h->disk.cur.log;

	s->stats.completeness_checks++;
	for (raft_index i = l->snap_index + 1; i <= s->chk.max_committed; i++)
	{
		const struct sim_committed *c = &s->chk.committed[i];
		const struct sim_entry *e;

		if (!c->known || c->seen_term >= term)
			continue;
		e = sim_log_get(l, i);
		if (e == NULL || e->term != c->term || e->hash != c->hash)
		{
			sim_fail(s,
					 "leader completeness: n%llu leads term %llu without the "
					 "entry %llu/%llu committed by term %llu (it has %s%llu)",
					 ULL(h->id), ULL(term), ULL(i), ULL(c->term),
					 ULL(c->seen_term), e ? "term " : "no entry, last ",
					 e ? ULL(e->term) : ULL(sim_log_last(l)));
			return;
		}
	}
}

static void
check_pending_commits(struct sim *s, struct sim_host *h)
{
	const struct sim_log *l = &h->disk.cur.log;

	for (size_t k = 0; k < h->n_pending_checks && !s->violated; k++)
	{
		const struct sim_commit_check *pc = &h->pending_checks[k];
		const struct sim_entry *e = sim_log_get(l, pc->index);

		s->stats.commit_rule_checks++;
		if (e != NULL && e->term != pc->term)
			sim_fail(s,
					 "commit rule: n%llu, leader of term %llu, advanced its "
					 "commit index to %llu whose entry has term %llu (§3.6.2: "
					 "only entries of the leader's own term are committed by "
					 "counting replicas)",
					 ULL(h->id), ULL(pc->term), ULL(pc->index), ULL(e->term));
	}
	h->n_pending_checks = 0;
}

void
sim_check_node(struct sim *s, struct sim_host *h)
{
	struct raft_status st;
	const struct raft_status *prev = h->have_status ? &h->st : NULL;
	uint64_t leader;

	if (!h->up || h->r == NULL)
		return;
	raft_get_status(h->r, &st);
	if (st.id != h->id)
		sim_fail(s, "status: n%llu reports id %llu", ULL(h->id), ULL(st.id));
	if (st.term < h->disk.durable.hs.term)
		sim_fail(s, "term: n%llu is at term %llu below its durable term %llu",
				 ULL(h->id), ULL(st.term), ULL(h->disk.durable.hs.term));
	if (prev && st.term < prev->term)
		sim_fail(s, "term: n%llu went from term %llu back to %llu", ULL(h->id),
				 ULL(prev->term), ULL(st.term));
	if (prev && st.commit < prev->commit)
		sim_fail(s, "commit: n%llu's commit index went from %llu back to %llu",
				 ULL(h->id), ULL(prev->commit), ULL(st.commit));
	if (st.commit > st.last_index)
		sim_fail(
			s,
			"commit: n%llu's commit index %llu is beyond its last entry %llu",
			ULL(h->id), ULL(st.commit), ULL(st.last_index));
	if (st.applied > st.commit)
		sim_fail(
			s,
			"commit: n%llu handed out %llu for apply with commit index %llu",
			ULL(h->id), ULL(st.applied), ULL(st.commit));
	if (st.commit > s->chk.max_commit)
		s->chk.max_commit = st.commit;
	if (!prev || prev->role != st.role || prev->term != st.term ||
		prev->leader != st.leader)
		sim_tracef(s, "n%llu > %s term %llu, leader n%llu%s", ULL(h->id),
				   raft_role_name(st.role), ULL(st.term), ULL(st.leader),
				   st.role == RAFT_LEADER ? " ***" : "");
	if (st.role == RAFT_LEADER)
	{
		if (sim_map_get(&s->chk.leaders, st.term, &leader, NULL))
		{
			if (leader != h->id)
				sim_fail(s,
						 "election safety: n%llu and n%llu are both leaders "
						 "of term "
						 "%llu",
						 ULL(leader), ULL(h->id), ULL(st.term));
		}
		else
		{
			sim_map_put(&s->chk.leaders, st.term, h->id, 0);
			s->stats.leaders++;
		}
		if (prev && prev->role == RAFT_LEADER && prev->term == st.term &&
			st.commit > prev->commit && !s->cfg.safety_only)
		{
			if (h->n_pending_checks == SIM_MAX_PENDING_CHECKS)
			{
				memmove(h->pending_checks, h->pending_checks + 1,
						(SIM_MAX_PENDING_CHECKS - 1) *
							sizeof(h->pending_checks[0]));
				h->n_pending_checks--;
			}
			h->pending_checks[h->n_pending_checks].term = st.term;
			h->pending_checks[h->n_pending_checks].index = st.commit;
			h->n_pending_checks++;
		}
	}
	else if (prev && prev->role == RAFT_LEADER && prev->term != st.term)
		h->n_pending_checks = 0; /* what it committed is checked elsewhere */
	if (sim_host_quiet(h))
	{
		bool found;
		raft_term last_term =
			sim_log_term(&h->disk.cur.log, st.last_index, &found);

		if (st.last_index != sim_log_last(&h->disk.cur.log) || !found ||
			last_term != st.last_term)
			sim_fail(s,
					 "host view: n%llu's core log ends at %llu/%llu, but the "
					 "entries it handed out end at %llu",
					 ULL(h->id), ULL(st.last_index), ULL(st.last_term),
					 ULL(sim_log_last(&h->disk.cur.log)));
		check_pending_commits(s, h);
		check_committed_prefix(s, h, &st);
		if (st.role == RAFT_LEADER && h->leader_checked_term != st.term)
		{
			h->leader_checked_term = st.term;
			check_leader_completeness(s, h, st.term);
		}
	}
	if (st.term > h->max_term)
		h->max_term = st.term;
	h->st = st;
	h->have_status = true;
}
