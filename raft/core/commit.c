/*
 * raft/core/commit.c — when an entry is committed (§3.6.2): the leader
 * commits the highest index stored by a majority (a majority of each half
 * of a joint configuration, §4.3), but only when that entry is of its own
 * term; earlier entries are then committed indirectly (Figure 3.7).  The
 * leader counts its own log only as far as the host confirmed it durable
 * (raft_advance), so it may send AppendEntries while its own write is in
 * flight (§10.2.1).
 */
#include "core.h"

/* Leader: recompute commit from the matches; true if it moved. */
bool
commit_maybe_advance(struct raft *r)
{
	raft_id		ids[RAFT_MAX_MEMBERS];
	raft_index	matches[RAFT_MAX_MEMBERS];
	unsigned	n = 0;
	raft_index	index;
	raft_index	old = r->commit;

	if (r->role != RAFT_LEADER)
		return false;
	for (unsigned i = 0; i < r->n_progress; i++)
	{
		ids[n] = r->progress[i].id;
		matches[n] = r->progress[i].id == r->id ? r->log.stable
			: r->progress[i].match;
		n++;
	}
	if (progress_find(r, r->id) == NULL && n < RAFT_MAX_MEMBERS)
	{
		/* Removed but still leading (§4.2.2): not counted, listed for none. */
		ids[n] = r->id;
		matches[n] = r->log.stable;
		n++;
	}
	index = quorum_committed(&r->config, ids, matches, n);
	if (index > log_last_index(&r->log))
		index = log_last_index(&r->log);
	if (index <= r->commit)
		return false;
#ifndef RAFT_BUG_COMMIT_OLD_TERMS
	/* §3.6.2: never count replicas of an entry from an earlier term. */
	if (log_term_or_zero(&r->log, index) != r->term)
		return false;
#endif
	r->commit = index;
	for (raft_index i = old + 1; i <= index; i++)
	{
		const struct raft_entry *e = log_get(&r->log, i);

		if (e != NULL && e->term == r->term)
			r->uncommitted_bytes = r->uncommitted_bytes > e->data.len ?
				r->uncommitted_bytes - e->data.len : 0;
	}
	read_index_on_commit_in_term(r);
	config_on_commit(r);
	return true;
}

/* Follower: the leader says index is committed (already clamped). */
void
commit_to(struct raft *r, raft_index index)
{
	if (index > r->commit)
		r->commit = index;
}
