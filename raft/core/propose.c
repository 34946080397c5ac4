/*
 * raft/core/propose.c — proposals: a leader appends them to its log; a
 * follower forwards them to the leader it knows (RAFT_MSG_PROPOSE), which
 * the dissertation leaves to clients (§6.2) and etcd-io/raft does in the
 * node.  Refused during a leadership transfer (§3.10) and, when
 * max_uncommitted_bytes is set, past that much uncommitted data.
 */
#include "core.h"

#include <string.h>

static int
leader_accepts(struct raft *r, size_t len)
{
	if (r->transferee != RAFT_NONE)
		return RAFT_ETRANSFER;
	if (r->opt.max_uncommitted_bytes > 0 && r->uncommitted_bytes > 0 &&
		r->uncommitted_bytes + len > r->opt.max_uncommitted_bytes)
		return RAFT_EFULL;
	return RAFT_OK;
}

int
raft_propose(struct raft *r, const void *data, size_t len, raft_index *index)
{
	struct raft_message m;
	struct raft_entry e;
	int			rv;

	if (index != NULL)
		*index = 0;
	if (len > RAFT_MAX_ENTRY_BYTES)
		return RAFT_ETOOBIG;
	if (len > 0 && data == NULL)
		return RAFT_EINVAL;
	if (r->role == RAFT_LEADER)
	{
		rv = leader_accepts(r, len);
		if (rv != RAFT_OK)
			return rv;
		return replication_append_local(r, RAFT_ENTRY_COMMAND, data, len, index);
	}
	if (r->leader == RAFT_NONE || r->role != RAFT_FOLLOWER)
		return RAFT_ENOLEADER;

	memset(&e, 0, sizeof(e));
	e.type = RAFT_ENTRY_COMMAND;
	if (len > 0)
	{
		e.data.base = blob_new(data, len);
		if (e.data.base == NULL)
			return RAFT_ENOMEM;
		e.data.len = len;
	}
	memset(&m, 0, sizeof(m));
	m.type = RAFT_MSG_PROPOSE;
	m.to = r->leader;
	m.n_entries = 1;
	m.entries = &e;
	outbox_send(r, &m);
	blob_unref(e.data.base);
	return RAFT_OK;
}

/* The leader takes forwarded proposals; a refused one is dropped. */
void
propose_recv(struct raft *r, const struct raft_message *m)
{
	for (uint32_t i = 0; i < m->n_entries; i++)
	{
		const struct raft_entry *e = &m->entries[i];
		int			rv;

		if (e->type != RAFT_ENTRY_COMMAND || (e->data.len > 0 && e->data.base == NULL))
			continue;
		rv = leader_accepts(r, e->data.len);
		if (rv == RAFT_OK)
			rv = replication_append_local(r, RAFT_ENTRY_COMMAND, e->data.base,
										  e->data.len, NULL);
		if (rv != RAFT_OK)
			raft_tracef(r, "dropped a proposal from %llu: %s",
						(unsigned long long) m->from, raft_strerror(rv));
	}
}
