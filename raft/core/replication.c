/*
 * raft/core/replication.c — log replication (§3.5): the leader's
 * AppendEntries and heartbeats, the follower's consistency check, the
 * leader's handling of the answers with fast back-off (§5.3, etcd's
 * findConflictByTerm) and pipelining within the inflight window (§10.2.1).
 */
#include "core.h"

#include <string.h>

/*
 * Appends one entry of the leader's own term (proposal, no-op, config).
 * It is sent at the next ready, batched with whatever else was proposed
 * meanwhile; the leader counts it towards commit once it is persisted.
 */
int
replication_append_local(struct raft *r, uint8_t type, const void *data,
						 size_t len, raft_index *index)
{
	struct raft_entry e;
	int			rv;

	if (len > RAFT_MAX_ENTRY_BYTES)
		return RAFT_ETOOBIG;
	memset(&e, 0, sizeof(e));
	e.term = r->term;
	e.index = log_last_index(&r->log) + 1;
	e.type = type;
	if (len > 0)
	{
		e.data.base = blob_new(data, len);
		if (e.data.base == NULL)
			return RAFT_ENOMEM;
		e.data.len = len;
	}
	rv = log_append_owned(&r->log, &e);
	if (rv != RAFT_OK)
	{
		blob_unref(e.data.base);
		return rv;
	}
	if (type == RAFT_ENTRY_CONFIG)
		config_on_append(r, &e);
	r->uncommitted_bytes += len;
	r->broadcast_pending = true;
	if (index != NULL)
		*index = e.index;
	return RAFT_OK;
}

/*
 * Sends p the entries from p->next, at most max_msg_bytes of them (but at
 * least one), or a snapshot when they were compacted away (§5).  Returns
 * whether a message was sent.
 */
bool
replication_send_append(struct raft *r, struct raft_progress *p,
						bool send_if_empty)
{
	struct raft_message m;
	struct raft_entry batch[256];
	raft_index	prev;
	raft_term	prev_term;
	raft_index	last = log_last_index(&r->log);
	size_t		bytes = 0;
	uint32_t	n = 0;

	if (p->id == r->id || progress_is_paused(p, r->opt.max_inflight))
		return false;
	prev = p->next - 1;
	switch (log_term(&r->log, prev, &prev_term))
	{
		case RAFT_OK:
			break;
		case RAFT_ECOMPACTED:
			snapshot_send(r, p);
			return p->state == RAFT_PROGRESS_SNAPSHOT;
		default:
			/* Beyond our log (cannot happen to a leader): start over. */
			p->next = last + 1;
			return false;
	}
	for (raft_index i = p->next; i <= last && n < 256; i++)
	{
		const struct raft_entry *e = log_get(&r->log, i);

		if (n > 0 && bytes + e->data.len > r->opt.max_msg_bytes)
			break;
		batch[n++] = *e;
		bytes += e->data.len;
	}
	if (n == 0 && !send_if_empty)
		return false;
	memset(&m, 0, sizeof(m));
	m.type = RAFT_MSG_APPEND;
	m.to = p->id;
	m.term = r->term;
	m.log_term = prev_term;
	m.index = prev;
	m.commit = r->commit;
	m.n_entries = n;
	m.entries = n > 0 ? batch : NULL;
	outbox_send(r, &m);
	p->commit_sent = r->commit;
	if (n > 0)
	{
		raft_index	sent_last = batch[n - 1].index;

		if (p->state == RAFT_PROGRESS_REPLICATE)
		{
			/* §10.2.1: optimistic, pipelined. */
			p->next = sent_last + 1;
			progress_inflight_add(p, sent_last);
		}
		else
			p->probe_sent = true;
	}
	else if (p->state == RAFT_PROGRESS_PROBE)
		p->probe_sent = true;
	return true;
}

/*
 * Fills each follower's window (bounded by max_inflight per follower).  A
 * follower that has nothing new to receive still gets an empty append if
 * no append has yet carried it the current commit index.
 */
static void
send_all(struct raft *r)
{
	for (unsigned i = 0; i < r->n_progress; i++)
	{
		struct raft_progress *p = &r->progress[i];
		bool		empty_ok = p->commit_sent < r->commit;

		for (unsigned k = 0; k < r->opt.max_inflight; k++)
		{
			if (!replication_send_append(r, p, empty_ok))
				break;
			empty_ok = false;
			if (p->state != RAFT_PROGRESS_REPLICATE)
				break;
		}
	}
}

/* Sends now, to every follower, with the commit index even if empty. */
void
replication_broadcast_append(struct raft *r)
{
	if (r->role != RAFT_LEADER)
		return;
	r->broadcast_pending = false;
	send_all(r);
}

/*
 * The commit index moved: the followers learn it at the next ready, in the
 * append that carries new entries if there are any by then (proposals
 * taken in the same loop pass), in an empty one otherwise.  One message per
 * follower instead of two: under load a commit-only append, its answer and
 * the wake-ups of both ends were half the messages of a batch.
 */
void
replication_commit_advanced(struct raft *r)
{
	if (r->role == RAFT_LEADER)
		r->broadcast_pending = true;
}

/*
 * At ready time: new entries to every follower, in as few messages as fit,
 * and the commit index to those no append has told it yet.
 */
void
replication_flush(struct raft *r)
{
	if (r->role != RAFT_LEADER || !r->broadcast_pending)
		return;
	r->broadcast_pending = false;
	send_all(r);
}

/* A heartbeat carries commit clamped to what the follower matches (§3.5). */
void
replication_send_heartbeat(struct raft *r, raft_id to, uint64_t ctx)
{
	struct raft_progress *p = progress_find(r, to);
	struct raft_message m;

	if (p == NULL || to == r->id)
		return;
	memset(&m, 0, sizeof(m));
	m.type = RAFT_MSG_HEARTBEAT;
	m.to = to;
	m.term = r->term;
	m.commit = p->match < r->commit ? p->match : r->commit;
	m.context = ctx;
	outbox_send(r, &m);
}

void
replication_broadcast_heartbeat(struct raft *r, uint64_t ctx)
{
	for (unsigned i = 0; i < r->n_progress; i++)
		replication_send_heartbeat(r, r->progress[i].id, ctx);
}

/* Appends copies of the entries after the last one (a follower). */
int
log_append_copies(struct raft *r, const struct raft_entry *ents, size_t n)
{
	int			rv;
	size_t		k;

	rv = log_reserve(&r->log, n);
	if (rv != RAFT_OK)
		return rv;
	for (k = 0; k < n; k++)
	{
		struct raft_entry e = ents[k];

		if (e.data.len > RAFT_MAX_ENTRY_BYTES)
			return RAFT_ETOOBIG;
		e.data.base = NULL;
		if (ents[k].data.len > 0)
		{
			if (ents[k].data.base == NULL)
				return RAFT_EINVAL;
			e.data.base = blob_new(ents[k].data.base, ents[k].data.len);
			if (e.data.base == NULL)
				return RAFT_ENOMEM;
		}
		rv = log_append_owned(&r->log, &e);
		if (rv != RAFT_OK)
		{
			blob_unref(e.data.base);
			return rv;
		}
		if (e.type == RAFT_ENTRY_CONFIG)
			config_on_append(r, &e);
	}
	return RAFT_OK;
}

static void
send_append_resp(struct raft *r, raft_id to, raft_index index, bool reject,
				 raft_index hint, raft_term hint_term)
{
	struct raft_message resp;

	memset(&resp, 0, sizeof(resp));
	resp.type = RAFT_MSG_APPEND_RESP;
	resp.to = to;
	resp.term = r->term;
	resp.index = index;
	resp.reject = reject;
	resp.reject_hint = hint;
	resp.hint_term = hint_term;
	outbox_send(r, &resp);
}

/*
 * §3.5: the follower's consistency check.  If its log has an entry at
 * m->index of term m->log_term, it drops any conflicting suffix, appends
 * what is new and advances commit to min(leader commit, last new entry).
 * Otherwise it rejects with a hint (§5.3): the last index whose term is at
 * most m->log_term, so the leader can skip a whole term per round trip.
 */
void
replication_recv_append(struct raft *r, const struct raft_message *m)
{
	raft_index	last_new = m->index + m->n_entries;
	uint32_t	skip = 0;

	if (m->index < r->commit)
	{
		/* Already committed here: the leader can move on. */
		send_append_resp(r, m->from, r->commit, false, 0, 0);
		return;
	}
	if (!log_match_term(&r->log, m->index, m->log_term))
	{
		raft_index	hint = m->index;
		raft_index	last = log_last_index(&r->log);

		if (hint > last)
			hint = last;
		hint = log_find_conflict_by_term(&r->log, hint, m->log_term);
		raft_tracef(r, "rejected append from %llu at %llu/%llu (hint %llu/%llu)",
					(unsigned long long) m->from, (unsigned long long) m->index,
					(unsigned long long) m->log_term, (unsigned long long) hint,
					(unsigned long long) log_term_or_zero(&r->log, hint));
		send_append_resp(r, m->from, m->index, true, hint,
						 log_term_or_zero(&r->log, hint));
		return;
	}
	/* Skip what matches; truncate at the first conflict (§3.5). */
	while (skip < m->n_entries)
	{
		const struct raft_entry *e = &m->entries[skip];

		if (e->index != m->index + 1 + skip)
			return;				/* malformed: not consecutive */
		if (!log_match_term(&r->log, e->index, e->term))
			break;
		skip++;
	}
	if (skip < m->n_entries)
	{
		raft_index	from = m->entries[skip].index;

		if (from <= r->commit)
		{
			raft_tracef(r, "refused to truncate committed entry %llu",
						(unsigned long long) from);
			return;
		}
		for (uint32_t k = skip; k < m->n_entries; k++)
			if (m->entries[k].index != m->index + 1 + k)
				return;
		if (from <= log_last_index(&r->log))
		{
			raft_tracef(r, "truncated the log from %llu",
						(unsigned long long) from);
			outbox_drop_acks_from(r, from);
			log_truncate_from(&r->log, from);
			config_on_truncate(r, from);
		}
		if (log_append_copies(r, m->entries + skip, m->n_entries - skip) != RAFT_OK)
		{
			/* Out of memory: keep what fit, answer nothing; the leader retries. */
			return;
		}
	}
	if (!r->has_state)
		r->has_state = true;
	commit_to(r, m->commit < last_new ? m->commit : last_new);
	send_append_resp(r, m->from, last_new, false, 0, 0);
}

void
replication_recv_heartbeat(struct raft *r, const struct raft_message *m)
{
	struct raft_message resp;
	raft_index	commit = m->commit;

	if (commit > log_last_index(&r->log))
		commit = log_last_index(&r->log);
	commit_to(r, commit);
	memset(&resp, 0, sizeof(resp));
	resp.type = RAFT_MSG_HEARTBEAT_RESP;
	resp.to = m->from;
	resp.term = r->term;
	resp.context = m->context;
	outbox_send(r, &resp);
}

/* The leader learns what a follower has (§3.5) or where to retry (§5.3). */
void
replication_recv_append_resp(struct raft *r, const struct raft_message *m)
{
	struct raft_progress *p = progress_find(r, m->from);

	if (p == NULL || m->index > log_last_index(&r->log))
		return;					/* unknown sender, or a claim beyond our log */
	p->recent_active = true;
	p->ticks_since_contact = 0;
	if (m->reject)
	{
		raft_index	next_probe = m->reject_hint;
		raft_index	match = p->match;

		/*
		 * §5.3: the follower's last entry of term <= hint_term is at
		 * reject_hint; our own last entry of term <= hint_term is the
		 * latest place both logs can agree.
		 */
		if (m->hint_term > 0)
			next_probe = log_find_conflict_by_term(&r->log, m->reject_hint,
												   m->hint_term);
		if (progress_maybe_decr_to(p, m->index, next_probe))
		{
			if (p->match < match)
				raft_tracef(r, "%llu lost entries it acknowledged (had %llu, has %llu): sending them again",
							(unsigned long long) m->from,
							(unsigned long long) match,
							(unsigned long long) p->match);
			raft_tracef(r, "%llu rejected %llu, retrying from %llu",
						(unsigned long long) m->from,
						(unsigned long long) m->index,
						(unsigned long long) p->next);
			if (p->state == RAFT_PROGRESS_REPLICATE)
				progress_become_probe(p);
			replication_send_append(r, p, true);
		}
		return;
	}
	if (progress_maybe_update(p, m->index))
	{
		if (p->state == RAFT_PROGRESS_PROBE)
			progress_become_replicate(p);
		else if (p->state == RAFT_PROGRESS_SNAPSHOT &&
				 p->match >= p->pending_snapshot)
		{
			progress_become_probe(p);
			progress_become_replicate(p);
		}
		else if (p->state == RAFT_PROGRESS_REPLICATE)
			progress_inflight_free_to(p, m->index);

		if (commit_maybe_advance(r))
			replication_commit_advanced(r);
		if (r->role != RAFT_LEADER)
			return;
		/* Fill the window (bounded by max_inflight). */
		for (unsigned k = 0; k < r->opt.max_inflight; k++)
			if (!replication_send_append(r, p, false))
				break;
		transfer_on_progress(r, p);
	}
}

void
replication_recv_heartbeat_resp(struct raft *r, const struct raft_message *m)
{
	struct raft_progress *p = progress_find(r, m->from);

	if (p == NULL)
		return;
	p->recent_active = true;
	p->ticks_since_contact = 0;
	p->probe_sent = false;
	/* A full window whose messages may be lost: let one more go. */
	if (p->state == RAFT_PROGRESS_REPLICATE &&
		p->in_count >= r->opt.max_inflight)
		progress_inflight_free_first(p);
	/*
	 * Behind: send what it lacks, or an empty append at next so that a
	 * follower whose pipelined messages were lost rejects it and the probe
	 * starts again (etcd's rule).
	 */
	if (p->match < log_last_index(&r->log))
		replication_send_append(r, p, true);
	if (m->context != 0 && m->context > p->read_ack)
	{
		p->read_ack = m->context;
		read_index_on_ack(r);
	}
}
