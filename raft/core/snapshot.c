/*
 * raft/core/snapshot.c — log compaction and InstallSnapshot (§5).
 *
 * The host compacts with raft_compact once it has durably applied up to an
 * index: the core keeps the snapshot's index, term, the configuration in
 * force there (§5.1) and the host's opaque data, and drops the entries.  A
 * follower that needs an entry before the first kept one gets the snapshot
 * (RAFT_MSG_SNAPSHOT); it resets its log to it, hands it to its host in a
 * ready (persist, then restore the state machine) and answers with an
 * APPEND_RESP as if it had appended up to the snapshot's index.
 */
#include "core.h"

#include <string.h>

void
snapshot_clear(struct raft_snapshot *s)
{
	blob_unref(s->data.base);
	memset(s, 0, sizeof(*s));
}

/*
 * What the host has on disk: the stable entries, and while a ready is out,
 * its entries too (the host persists them before it applies anything).
 */
static raft_index
durable_index(const struct raft *r)
{
	raft_index	durable = r->log.stable;

	if (r->ready_taken && r->n_rd_entries > 0)
	{
		const struct raft_entry *e = &r->rd_entries[r->n_rd_entries - 1];

		if (e->index > durable && log_match_term(&r->log, e->index, e->term))
			durable = e->index;
	}
	return durable;
}

int
raft_compact(struct raft *r, raft_index index, const struct raft_buffer *data)
{
	struct raft_snapshot s;
	raft_term	term;
	int			rv;

	if (data != NULL && data->len > 0 && data->base == NULL)
		return RAFT_EINVAL;
	if (index <= r->log.offset)
		return RAFT_ECOMPACTED;
	if (index > r->handed_committed || index > durable_index(r))
		return RAFT_EINVAL;		/* never past what was applied (§5.1) */
	rv = log_term(&r->log, index, &term);
	if (rv != RAFT_OK)
		return rv;
	memset(&s, 0, sizeof(s));
	s.index = index;
	s.term = term;
	config_at(r, index, &s.config);
	if (data != NULL && data->len > 0)
	{
		s.data.base = blob_new(data->base, data->len);
		if (s.data.base == NULL)
			return RAFT_ENOMEM;
		s.data.len = data->len;
	}
	snapshot_clear(&r->snapshot);
	r->snapshot = s;
	log_compact_to(&r->log, index);
	raft_tracef(r, "compacted the log up to %llu (term %llu)",
				(unsigned long long) index, (unsigned long long) term);
	return RAFT_OK;
}

/* The follower needs entries we no longer have (§5). */
void
snapshot_send(struct raft *r, struct raft_progress *p)
{
	struct raft_message m;

	if (r->snapshot.index == 0)
	{
		raft_tracef(r, "cannot send %llu a snapshot: none taken",
					(unsigned long long) p->id);
		return;
	}
	memset(&m, 0, sizeof(m));
	m.type = RAFT_MSG_SNAPSHOT;
	m.to = p->id;
	m.term = r->term;
	m.snapshot = r->snapshot;
	outbox_send(r, &m);
	progress_become_snapshot(p, r->snapshot.index);
	raft_tracef(r, "sent snapshot %llu/%llu to %llu",
				(unsigned long long) r->snapshot.index,
				(unsigned long long) r->snapshot.term,
				(unsigned long long) p->id);
}

static void
answer(struct raft *r, raft_id to, raft_index index)
{
	struct raft_message resp;

	memset(&resp, 0, sizeof(resp));
	resp.type = RAFT_MSG_APPEND_RESP;
	resp.to = to;
	resp.term = r->term;
	resp.index = index;
	outbox_send(r, &resp);
}

void
snapshot_recv(struct raft *r, const struct raft_message *m)
{
	const struct raft_snapshot *s = &m->snapshot;
	struct raft_snapshot copy;

	if (s->index == 0 || (s->data.len > 0 && s->data.base == NULL) ||
		s->config.n > RAFT_MAX_MEMBERS)
		return;
	if (s->index <= r->commit)
	{
		answer(r, m->from, r->commit);
		return;
	}
	if (log_match_term(&r->log, s->index, s->term))
	{
		/* We have the entries: only the commit index moves. */
		commit_to(r, s->index);
		answer(r, m->from, log_last_index(&r->log));
		return;
	}
	copy = *s;
	copy.data.base = NULL;
	if (s->data.len > 0)
	{
		copy.data.base = blob_new(s->data.base, s->data.len);
		if (copy.data.base == NULL)
			return;				/* no memory: the leader retries */
	}
	/* Whatever the old log acknowledged may be gone with it. */
	outbox_drop_acks_from(r, 0);
	snapshot_clear(&r->snapshot);
	r->snapshot = copy;
	r->snapshot_to_restore = true;
	r->restore_index = copy.index;
	log_reset(&r->log, s->index, s->term);
	r->commit = s->index;
	/* The host restores the state machine from it: applied moves along. */
	r->applied = s->index;
	r->handed_committed = s->index;
	r->has_state = true;
	config_set(r, &s->config, s->index);
	raft_tracef(r, "restored snapshot %llu/%llu from %llu",
				(unsigned long long) s->index, (unsigned long long) s->term,
				(unsigned long long) m->from);
	answer(r, m->from, s->index);
}

void
raft_report_snapshot(struct raft *r, raft_id id, bool ok)
{
	struct raft_progress *p;

	if (r->role != RAFT_LEADER)
		return;
	p = progress_find(r, id);
	if (p == NULL || p->state != RAFT_PROGRESS_SNAPSHOT)
		return;
	if (!ok)
		p->pending_snapshot = 0;
	progress_become_probe(p);
	/* Wait for the follower's answer (or a heartbeat) before sending. */
	p->probe_sent = true;
	raft_tracef(r, "snapshot to %llu %s", (unsigned long long) id,
				ok ? "finished" : "failed");
}

void
raft_report_unreachable(struct raft *r, raft_id id)
{
	struct raft_progress *p;

	if (r->role != RAFT_LEADER)
		return;
	p = progress_find(r, id);
	if (p != NULL && p->state == RAFT_PROGRESS_REPLICATE)
		progress_become_probe(p);
}
