/*
 * regress/sim/sim_wire.c — messages cross the simulated network as bytes.
 *
 * Each message sent is encoded with the codec (raft_encode_message), and
 * what arrives is what raft_decode_message makes of those bytes, as over
 * the real transport: the core steps messages whose entry and snapshot
 * data point into a receive buffer.  The decoded message must equal the
 * one sent, field by field; anything else is a violation of the codec's
 * round trip.
 */
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "sim.h"

#define ULL(x) ((unsigned long long) (x))

static bool
buffer_equal(const struct raft_buffer *a, const struct raft_buffer *b)
{
	return a->len == b->len &&
		   (a->len == 0 || memcmp(a->base, b->base, a->len) == 0);
}

static bool
config_equal(const struct raft_config *a, const struct raft_config *b)
{
	if (a->joint != b->joint || a->n != b->n || a->n > RAFT_MAX_MEMBERS)
		return false;
	for (uint32_t k = 0; k < a->n; k++)
	{
		const struct raft_member *x = &a->members[k];
		const struct raft_member *y = &b->members[k];

		if (x->id != y->id || x->flags != y->flags ||
			strncmp(x->addr, y->addr, RAFT_ADDR_LEN) != 0)
			return false;
	}
	return true;
}

/* The first field that differs, or NULL. */
static const char *
message_diff(const struct raft_message *a, const struct raft_message *b)
{
	if (a->type != b->type)
		return "type";
	if (a->from != b->from || a->to != b->to)
		return "from/to";
	if (a->term != b->term || a->log_term != b->log_term)
		return "term/log_term";
	if (a->index != b->index || a->commit != b->commit)
		return "index/commit";
	if (a->reject != b->reject || a->reject_hint != b->reject_hint ||
		a->hint_term != b->hint_term)
		return "reject";
	if (a->context != b->context)
		return "context";
	if (a->n_entries != b->n_entries)
		return "n_entries";
	for (uint32_t k = 0; k < a->n_entries; k++)
	{
		const struct raft_entry *x = &a->entries[k];
		const struct raft_entry *y = &b->entries[k];

		if (x->term != y->term || x->index != y->index || x->type != y->type ||
			!buffer_equal(&x->data, &y->data))
			return "an entry";
	}
	if (a->snapshot.index != b->snapshot.index ||
		a->snapshot.term != b->snapshot.term)
		return "snapshot index/term";
	if (a->snapshot.index != 0 &&
		!config_equal(&a->snapshot.config, &b->snapshot.config))
		return "snapshot configuration";
	if (!buffer_equal(&a->snapshot.data, &b->snapshot.data))
		return "snapshot data";
	return NULL;
}

/*
 * One allocation: the decoded message, its entries array, then the bytes
 * they point into.  NULL (and the run fails) if the codec refuses.
 */
struct raft_message *
sim_wire_pass(struct sim *s, const struct raft_message *m)
{
	size_t len = raft_encoded_size_message(m);
	size_t head = sizeof(struct raft_message) +
				  (size_t) m->n_entries * sizeof(struct raft_entry);
	uint8_t *block;
	struct raft_message *d;
	struct raft_entry *entries;
	const char *diff;
	int rc;

	if (len == 0)
	{
		sim_fail(s, "codec: n%llu's %s has no encoded size", ULL(m->from),
				 sim_msg_name(m->type));
		return NULL;
	}
	block = sim_xmalloc(head + len);
	d = (struct raft_message *) block;
	entries = (struct raft_entry *) (block + sizeof(*d));
	if (raft_encode_message(m, block + head, len) != len)
	{
		sim_fail(s, "codec: n%llu's %s does not encode into its %zu bytes",
				 ULL(m->from), sim_msg_name(m->type), len);
		free(block);
		return NULL;
	}
	memset(d, 0, sizeof(*d));
	rc = raft_decode_message(block + head, len, d, entries, m->n_entries);
	if (rc != RAFT_OK)
	{
		sim_fail(s, "codec: n%llu's %s (%zu bytes) does not decode: %s",
				 ULL(m->from), sim_msg_name(m->type), len, raft_strerror(rc));
		free(block);
		return NULL;
	}
	diff = message_diff(m, d);
	if (diff != NULL)
	{
		sim_fail(s,
				 "codec: n%llu's %s comes out of the wire with a different %s",
				 ULL(m->from), sim_msg_name(m->type), diff);
		free(block);
		return NULL;
	}
	return d;
}
