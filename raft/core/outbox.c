/*
 * raft/core/outbox.c — messages waiting for the next ready.
 *
 * A queued message holds references to the data of its entries and of its
 * snapshot; message_release drops them.  When memory runs out the message
 * is dropped: Raft tolerates lost messages (§3.5), so this never harms
 * safety, only speed.
 */
#include "core.h"

#include <stdlib.h>
#include <string.h>

static bool
outbox_grow(struct raft *r)
{
	size_t		cap;
	struct raft_message *grown;

	if (r->n_outbox < r->cap_outbox)
		return true;
	if (r->cap_outbox >= RAFT_MAX_OUTBOX)
		return false;
	cap = r->cap_outbox == 0 ? 16 : r->cap_outbox * 2;
	grown = realloc(r->outbox, cap * sizeof(*grown));
	if (grown == NULL)
		return false;
	r->outbox = grown;
	r->cap_outbox = cap;
	return true;
}

void
outbox_send(struct raft *r, const struct raft_message *m)
{
	struct raft_message *q;
	struct raft_entry *ents = NULL;

	if (!outbox_grow(r))
	{
		raft_tracef(r, "dropped a message to %llu: outbox full or no memory",
					(unsigned long long) m->to);
		return;
	}
	if (m->n_entries > 0)
	{
		ents = malloc(m->n_entries * sizeof(*ents));
		if (ents == NULL)
		{
			raft_tracef(r, "dropped a message to %llu: no memory",
						(unsigned long long) m->to);
			return;
		}
		memcpy(ents, m->entries, m->n_entries * sizeof(*ents));
		for (uint32_t i = 0; i < m->n_entries; i++)
			blob_ref(ents[i].data.base);
	}
	q = &r->outbox[r->n_outbox++];
	*q = *m;
	q->from = r->id;
	q->entries = ents;
	blob_ref(q->snapshot.data.base);
}

/*
 * The log is about to lose entries >= from: queued acknowledgements of
 * them would reach a leader after the entries are gone, and it could count
 * them towards commit (§3.5: entries are acknowledged only once durable).
 * Drop them; the leader will ask again.  Messages already handed out in a
 * ready are not touched: the host persists that ready's entries first.
 */
void
outbox_drop_acks_from(struct raft *r, raft_index from)
{
	size_t		kept = 0;

	for (size_t k = 0; k < r->n_outbox; k++)
	{
		struct raft_message *m = &r->outbox[k];

		if (m->type == RAFT_MSG_APPEND_RESP && !m->reject && m->index >= from)
		{
			raft_tracef(r, "withdrew the acknowledgement of %llu to %llu",
						(unsigned long long) m->index,
						(unsigned long long) m->to);
			message_release(m);
			continue;
		}
		r->outbox[kept++] = *m;
	}
	r->n_outbox = kept;
}

void
message_release(struct raft_message *m)
{
	for (uint32_t i = 0; i < m->n_entries; i++)
		blob_unref(m->entries[i].data.base);
	free(m->entries);
	blob_unref(m->snapshot.data.base);
	memset(m, 0, sizeof(*m));
}
