/*
 * raft/core/ready.c — the hand-over to the host (etcd-io/raft's Ready and
 * Advance).  A ready holds, in the order the host must carry them out: a
 * snapshot to restore, the hard state and entries to persist, messages to
 * send only after that (§3.8: term and vote are durable before any message
 * that depends on them; entries before they are acknowledged), committed
 * entries to apply exactly once, and read states.  Everything it points to
 * stays valid until raft_advance: entry data is referenced, messages are
 * moved out of the outbox.  Asking again before raft_advance returns the
 * same ready.  raft_advance tells the core what is now durable: only then
 * does the leader count its own entries towards commit (§10.2.1), so the
 * host may send the leader's appends before its own write is done
 * (raft_message_waits_for_sync names the messages that must wait).
 */
#include "core.h"

#include <stdlib.h>
#include <string.h>

static raft_index
committed_from(const struct raft *r)
{
	raft_index	from = r->applied > r->log.offset ? r->applied : r->log.offset;

	return from + 1;
}

static raft_index
committed_to(const struct raft *r)
{
	raft_index	to = r->commit < log_last_index(&r->log) ? r->commit
		: log_last_index(&r->log);
	raft_index	from = committed_from(r);

	if (to >= from && to - from + 1 > RAFT_MAX_READY_COMMITTED)
		to = from + RAFT_MAX_READY_COMMITTED - 1;
	return to;
}

bool
raft_message_waits_for_sync(const struct raft_message *m)
{
	switch (m->type)
	{
		case RAFT_MSG_APPEND_RESP:
		case RAFT_MSG_VOTE:
		case RAFT_MSG_VOTE_RESP:
			return true;
		default:
			return false;
	}
}

bool
raft_has_ready(const struct raft *r)
{
	if (r->snapshot_to_restore)
		return true;
	if (r->term != r->prev_hs.term || r->vote != r->prev_hs.vote ||
		r->commit != r->prev_hs.commit)
		return true;
	if (r->leader != r->prev_leader || r->role != r->prev_role)
		return true;
	if (r->log.persist_from <= log_last_index(&r->log))
		return true;
	if (r->n_outbox > 0 || r->n_reads > 0)
		return true;
	if (r->role == RAFT_LEADER && r->broadcast_pending)
		return true;
	return committed_to(r) >= committed_from(r);
}

static bool
reserve_entries(struct raft_entry **arr, size_t *cap, size_t n)
{
	struct raft_entry *grown;
	size_t		want = *cap == 0 ? 16 : *cap;

	if (n <= *cap)
		return true;
	while (want < n)
		want *= 2;
	grown = realloc(*arr, want * sizeof(*grown));
	if (grown == NULL)
		return false;
	*arr = grown;
	*cap = want;
	return true;
}

/* Copies log entries from..to into arr, taking a reference on each. */
static size_t
copy_entries(struct raft *r, struct raft_entry **arr, size_t *cap,
			 raft_index from, raft_index to)
{
	size_t		n;

	if (from <= r->log.offset)
		from = r->log.offset + 1;
	if (to < from)
		return 0;
	n = to - from + 1;
	if (!reserve_entries(arr, cap, n))
		return SIZE_MAX;
	for (size_t k = 0; k < n; k++)
	{
		(*arr)[k] = *log_get(&r->log, from + k);
		blob_ref((*arr)[k].data.base);
	}
	return n;
}

static void
unref_entries(struct raft_entry *arr, size_t *n)
{
	for (size_t k = 0; k < *n; k++)
		blob_unref(arr[k].data.base);
	*n = 0;
}

static void
fill(const struct raft *r, struct raft_ready *rd)
{
	memset(rd, 0, sizeof(*rd));
	rd->hard_state = r->rd_hs;
	rd->hard_state_changed = r->rd_hs.term != r->prev_hs.term ||
		r->rd_hs.vote != r->prev_hs.vote || r->rd_hs.commit != r->prev_hs.commit;
	rd->leader = r->prev_leader;
	rd->role = r->prev_role;
	rd->snapshot = r->rd_snapshot ? &r->rd_snap : NULL;
	rd->n_entries = (uint32_t) r->n_rd_entries;
	rd->entries = r->n_rd_entries > 0 ? r->rd_entries : NULL;
	rd->n_messages = (uint32_t) r->n_sent;
	rd->messages = r->n_sent > 0 ? r->sent : NULL;
	rd->n_committed = (uint32_t) r->n_rd_committed;
	rd->committed = r->n_rd_committed > 0 ? r->rd_committed : NULL;
	rd->n_reads = r->n_rd_reads;
	rd->reads = r->n_rd_reads > 0 ? r->rd_reads : NULL;
}

void
raft_ready(struct raft *r, struct raft_ready *rd)
{
	size_t		n;
	struct raft_message *swap;
	size_t		swap_cap;
	raft_id		old_leader = r->prev_leader;
	uint8_t		old_role = r->prev_role;

	if (r->ready_taken)
	{
		/* The same ready again, until raft_advance. */
		fill(r, rd);
		rd->soft_state_changed = r->prev_leader != r->leader ||
			r->prev_role != r->role;
		return;
	}
	replication_flush(r);

	/* Entries to persist: from persist_from to the end. */
	n = copy_entries(r, &r->rd_entries, &r->cap_rd_entries,
					 r->log.persist_from, log_last_index(&r->log));
	if (n == SIZE_MAX)
	{
		memset(rd, 0, sizeof(*rd));
		return;					/* no memory: try again later */
	}
	r->n_rd_entries = n;
	n = copy_entries(r, &r->rd_committed, &r->cap_rd_committed,
					 committed_from(r), committed_to(r));
	if (n == SIZE_MAX)
	{
		unref_entries(r->rd_entries, &r->n_rd_entries);
		memset(rd, 0, sizeof(*rd));
		return;
	}
	r->n_rd_committed = n;
	if (n > 0)
		r->handed_committed = r->rd_committed[n - 1].index;

	r->rd_hs.term = r->term;
	r->rd_hs.vote = r->vote;
	r->rd_hs.commit = r->commit;
	r->rd_snapshot = r->snapshot_to_restore;
	if (r->rd_snapshot)
	{
		r->rd_snap = r->snapshot;
		blob_ref(r->rd_snap.data.base);
	}

	/* Messages: move the outbox out; it is released at raft_advance. */
	swap = r->sent;
	swap_cap = r->cap_sent;
	r->sent = r->outbox;
	r->n_sent = r->n_outbox;
	r->cap_sent = r->cap_outbox;
	r->outbox = swap;
	r->n_outbox = 0;
	r->cap_outbox = swap_cap;

	memcpy(r->rd_reads, r->reads, r->n_reads * sizeof(r->reads[0]));
	r->n_rd_reads = r->n_reads;
	r->n_reads = 0;

	r->ready_taken = true;
	fill(r, rd);
	rd->leader = r->leader;
	rd->role = r->role;
	rd->soft_state_changed = old_leader != r->leader || old_role != r->role;
	/* Soft state is informational: it counts as handed out at once. */
	r->prev_leader = r->leader;
	r->prev_role = r->role;
}

void
raft_advance(struct raft *r, const struct raft_ready *rd)
{
	(void) rd;
	if (!r->ready_taken)
		return;
	r->prev_hs = r->rd_hs;
	/*
	 * Restored, unless a newer one arrived since the ready.  Compared with
	 * the received snapshot's index, not with r->snapshot: the host may
	 * have compacted past it while carrying out this ready, and its own
	 * snapshot is nothing to restore.
	 */
	if (r->rd_snapshot && r->restore_index == r->rd_snap.index)
		r->snapshot_to_restore = false;

	/* The entries that are still in the log are durable now. */
	for (size_t k = r->n_rd_entries; k > 0; k--)
	{
		const struct raft_entry *e = &r->rd_entries[k - 1];

		if (log_match_term(&r->log, e->index, e->term) && e->index > r->log.offset)
		{
			if (e->index > r->log.stable)
				r->log.stable = e->index;
			if (e->index + 1 > r->log.persist_from)
				r->log.persist_from = e->index + 1;
			break;
		}
	}
	if (r->n_rd_committed > 0 &&
		r->rd_committed[r->n_rd_committed - 1].index > r->applied)
		r->applied = r->rd_committed[r->n_rd_committed - 1].index;

	for (size_t k = 0; k < r->n_sent; k++)
		message_release(&r->sent[k]);
	r->n_sent = 0;
	unref_entries(r->rd_entries, &r->n_rd_entries);
	unref_entries(r->rd_committed, &r->n_rd_committed);
	r->n_rd_reads = 0;
	if (r->rd_snapshot)
		snapshot_clear(&r->rd_snap);
	r->rd_snapshot = false;
	r->ready_taken = false;

	/* The leader's own entries now count (§10.2.1). */
	if (r->role == RAFT_LEADER)
	{
		struct raft_progress *self = progress_find(r, r->id);

		if (self != NULL && self->match < r->log.stable)
			self->match = r->log.stable;
		if (commit_maybe_advance(r))
			replication_commit_advanced(r);
	}
}

void
ready_free(struct raft *r)
{
	for (size_t k = 0; k < r->n_sent; k++)
		message_release(&r->sent[k]);
	for (size_t k = 0; k < r->n_outbox; k++)
		message_release(&r->outbox[k]);
	free(r->sent);
	free(r->outbox);
	unref_entries(r->rd_entries, &r->n_rd_entries);
	unref_entries(r->rd_committed, &r->n_rd_committed);
	free(r->rd_entries);
	free(r->rd_committed);
	if (r->rd_snapshot)
		snapshot_clear(&r->rd_snap);
}
