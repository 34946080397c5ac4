/*
 * raft/core/progress.c — what the leader knows of each member's log
 * (nextIndex/matchIndex of §3.5, Figure 3.1) and how it sends to it, in
 * the three states of etcd-io/raft's progress tracker:
 *
 *   probe      one AppendEntries at a time until the follower's log end
 *              is found (§3.5, fast back-off §5.3);
 *   replicate  optimistic pipelining (§10.2.1): next moves ahead as soon as
 *              a message is sent, with at most options.max_inflight
 *              messages unacknowledged (the inflight ring);
 *   snapshot   an InstallSnapshot is on its way (§5); nothing else is sent.
 */
#include "core.h"

#include <assert.h>
#include <string.h>

struct raft_progress *
progress_find(struct raft *r, raft_id id)
{
	for (unsigned i = 0; i < r->n_progress; i++)
		if (r->progress[i].id == id)
			return &r->progress[i];
	return NULL;
}

static void
progress_init(struct raft *r, struct raft_progress *p, raft_id id)
{
	memset(p, 0, sizeof(*p));
	p->id = id;
	p->state = RAFT_PROGRESS_PROBE;
	p->next = log_last_index(&r->log) + 1;
	/* Not heard from yet (matters for lease reads, §6.4.1). */
	p->ticks_since_contact = r->opt.election_ticks;
	if (id == r->id)
	{
		p->match = r->log.stable;
		p->state = RAFT_PROGRESS_REPLICATE;
	}
	p->recent_active = true;
}

/* A new leader starts every member afresh (§3.5: nextIndex = last + 1). */
void
progress_reset_all(struct raft *r)
{
	struct raft_config prev;

	r->n_progress = 0;
	for (uint32_t i = 0; i < r->config.n && i < RAFT_MAX_MEMBERS; i++)
		progress_init(r, &r->progress[r->n_progress++], r->config.members[i].id);
	/* Members the latest change removed are departing (see below). */
	if (r->config_index == 0 || config_at(r, r->config_index - 1, &prev) != RAFT_OK)
		return;
	for (uint32_t i = 0; i < prev.n && r->n_progress < RAFT_MAX_MEMBERS; i++)
	{
		raft_id		id = prev.members[i].id;

		if (id == r->id || raft_config_find(&r->config, id) != NULL)
			continue;
		progress_init(r, &r->progress[r->n_progress], id);
		r->progress[r->n_progress].departing = true;
		r->n_progress++;
	}
}

/* After a configuration change: keep the members that stay, add the rest. */
void
progress_sync_config(struct raft *r)
{
	struct raft_progress old[RAFT_MAX_MEMBERS];
	unsigned	n_old = r->n_progress;

	memcpy(old, r->progress, n_old * sizeof(old[0]));
	r->n_progress = 0;
	for (uint32_t i = 0; i < r->config.n && i < RAFT_MAX_MEMBERS; i++)
	{
		raft_id		id = r->config.members[i].id;
		struct raft_progress *p = &r->progress[r->n_progress++];
		bool		found = false;

		for (unsigned k = 0; k < n_old; k++)
			if (old[k].id == id)
			{
				*p = old[k];
				found = true;
				break;
			}
		if (!found)
			progress_init(r, p, id);
		p->departing = false;
	}

	/*
	 * Members this change removed stay in the list, departing: they count
	 * for nothing, but keep getting entries and heartbeats, so they learn
	 * that the configuration removing them is committed and stop
	 * campaigning (see raft_promotable, §4.2.2).  Until the next change.
	 */
	for (unsigned k = 0; k < n_old && r->n_progress < RAFT_MAX_MEMBERS; k++)
	{
		if (old[k].departing || old[k].id == r->id ||
			raft_config_find(&r->config, old[k].id) != NULL)
			continue;
		r->progress[r->n_progress] = old[k];
		r->progress[r->n_progress].departing = true;
		r->n_progress++;
	}
}

static void
progress_reset_state(struct raft_progress *p, uint8_t state)
{
	p->state = state;
	p->probe_sent = false;
	p->pending_snapshot = 0;
	p->snapshot_ticks = 0;
	p->in_start = 0;
	p->in_count = 0;
}

void
progress_become_probe(struct raft_progress *p)
{
	/*
	 * After a snapshot, resume after it (or after match if that is later);
	 * otherwise right after what is known to match.
	 */
	if (p->state == RAFT_PROGRESS_SNAPSHOT)
	{
		raft_index	pending = p->pending_snapshot;

		progress_reset_state(p, RAFT_PROGRESS_PROBE);
		p->next = (p->match > pending ? p->match : pending) + 1;
	}
	else
	{
		progress_reset_state(p, RAFT_PROGRESS_PROBE);
		p->next = p->match + 1;
	}
}

void
progress_become_replicate(struct raft_progress *p)
{
	progress_reset_state(p, RAFT_PROGRESS_REPLICATE);
	p->next = p->match + 1;
}

void
progress_become_snapshot(struct raft_progress *p, raft_index index)
{
	progress_reset_state(p, RAFT_PROGRESS_SNAPSHOT);
	p->pending_snapshot = index;
}

/* An acknowledgement up to n; false if it was stale. */
bool
progress_maybe_update(struct raft_progress *p, raft_index n)
{
	bool		updated = false;

	if (p->match < n)
	{
		p->match = n;
		updated = true;
		p->probe_sent = false;
	}
	if (p->next < n + 1)
		p->next = n + 1;
	return updated;
}

/*
 * A rejection of the append whose previous index was rejected; match_hint
 * is where the follower suggests to retry (§5.3).  False if stale.
 */
bool
progress_maybe_decr_to(struct raft_progress *p, raft_index rejected,
					   raft_index match_hint)
{
	raft_index	next;

	if (p->state == RAFT_PROGRESS_REPLICATE)
	{
		/* Stale if it rejects what is already known to match. */
		if (rejected <= p->match)
			return false;
		p->next = p->match + 1;
		return true;
	}
	/* Probe: only the answer to the last probe counts. */
	if (p->next == 0 || p->next - 1 != rejected)
		return false;
	next = rejected < match_hint + 1 ? rejected : match_hint + 1;
	if (next < 1)
		next = 1;
	if (next <= p->match)
	{
		/*
		 * The follower lacks an entry it acknowledged: its storage lost
		 * synced data, which Raft assumes never happens (§3.8).  Keeping
		 * match would probe at match forever; start again from what it
		 * has.  The commit index never moves back (commit.c), so nothing
		 * committed is undone; the follower is sent the entries again.
		 */
		p->match = next - 1;
	}
	p->next = next;
	p->probe_sent = false;
	return true;
}

bool
progress_is_paused(const struct raft_progress *p, unsigned max_inflight)
{
	switch (p->state)
	{
		case RAFT_PROGRESS_PROBE:
			return p->probe_sent;
		case RAFT_PROGRESS_REPLICATE:
			return p->in_count >= max_inflight;
		default:
			return true;
	}
}

void
progress_inflight_add(struct raft_progress *p, raft_index last)
{
	assert(p->in_count < RAFT_MAX_INFLIGHT);
	p->inflight[(p->in_start + p->in_count) % RAFT_MAX_INFLIGHT] = last;
	p->in_count++;
}

/* Frees every in-flight message whose last index is <= index. */
void
progress_inflight_free_to(struct raft_progress *p, raft_index index)
{
	while (p->in_count > 0 && p->inflight[p->in_start] <= index)
	{
		p->in_start = (p->in_start + 1) % RAFT_MAX_INFLIGHT;
		p->in_count--;
	}
}

void
progress_inflight_free_first(struct raft_progress *p)
{
	if (p->in_count == 0)
		return;
	p->in_start = (p->in_start + 1) % RAFT_MAX_INFLIGHT;
	p->in_count--;
}
