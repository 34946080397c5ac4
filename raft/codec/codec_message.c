/*
 * raft/codec/codec_message.c — the encoding of a Raft message, the payload
 * of a transport frame.  Every field of struct raft_message is carried,
 * whatever the type (raft.h says which fields each type uses; the others
 * travel as the zeros they should be).
 *
 *   offset  size  field
 *   ------  ----  ---------------------------------------------------------
 *        0     1  version (RAFT_CODEC_VERSION)
 *        1     1  type: enum raft_msg_type, 1..RAFT_MSG_TYPE_MAX
 *        2     8  from
 *       10     8  to
 *       18     8  term
 *       26     8  log_term
 *       34     8  index
 *       42     8  commit
 *       50     1  reject: 0 or 1
 *       51     8  reject_hint
 *       59     8  hint_term
 *       67     8  context
 *       75     4  k = n_entries
 *       79        k entries, each the body of codec_entry.c (term, index,
 *                 type, u32 length, data: 21 bytes + data)
 *        .     1  has_snapshot: 0 or 1; 1 only if the snapshot is not all
 *                 zero (index, term, config, data)
 *        .     s  if has_snapshot: the body of codec_snapshot.c
 *
 * The smallest message is 80 bytes.  Decoding, k is checked against the
 * bytes left (each entry takes at least 21: a larger k is RAFT_EMALFORMED)
 * and then against the caller's capacity (RAFT_ETOOBIG).  Entries go into
 * the caller's array, their data and the snapshot's data point into the
 * input buffer (read-only); m->entries is NULL when k is 0.
 */
#include "codec_internal.h"

#define MESSAGE_HEADER_SIZE 79	/* version .. n_entries */

static bool
message_valid(const struct raft_message *m)
{
	if (m->type < RAFT_MSG_APPEND || m->type > RAFT_MSG_TYPE_MAX)
		return false;
	if (m->n_entries > 0 && m->entries == NULL)
		return false;
	for (uint32_t i = 0; i < m->n_entries; i++)
		if (!codec_entry_valid(&m->entries[i]))
			return false;
	return codec_snapshot_is_empty(&m->snapshot) ||
		codec_snapshot_valid(&m->snapshot);
}

size_t
raft_encoded_size_message(const struct raft_message *m)
{
	size_t		size = MESSAGE_HEADER_SIZE + 1;

	if (m->entries != NULL)
		for (uint32_t i = 0; i < m->n_entries; i++)
			size = codec_size_add(size, codec_entry_body_size(&m->entries[i]));
	if (!codec_snapshot_is_empty(&m->snapshot))
		size = codec_size_add(size, codec_snapshot_body_size(&m->snapshot));
	return size;
}

size_t
raft_encode_message(const struct raft_message *m, uint8_t *buf, size_t cap)
{
	uint8_t    *p = buf;
	size_t		size;
	bool		has_snapshot;

	if (m == NULL || buf == NULL || !message_valid(m))
		return 0;
	size = raft_encoded_size_message(m);
	if (size > cap)
		return 0;
	has_snapshot = !codec_snapshot_is_empty(&m->snapshot);

	codec_put_u8(&p, RAFT_CODEC_VERSION);
	codec_put_u8(&p, m->type);
	codec_put_u64(&p, m->from);
	codec_put_u64(&p, m->to);
	codec_put_u64(&p, m->term);
	codec_put_u64(&p, m->log_term);
	codec_put_u64(&p, m->index);
	codec_put_u64(&p, m->commit);
	codec_put_u8(&p, m->reject ? 1 : 0);
	codec_put_u64(&p, m->reject_hint);
	codec_put_u64(&p, m->hint_term);
	codec_put_u64(&p, m->context);
	codec_put_u32(&p, m->n_entries);
	for (uint32_t i = 0; i < m->n_entries; i++)
		codec_put_entry_body(&p, &m->entries[i]);
	codec_put_u8(&p, has_snapshot ? 1 : 0);
	if (has_snapshot)
		codec_put_snapshot_body(&p, &m->snapshot);
	return (size_t) (p - buf);
}

static int
get_entries(struct codec_reader *r, struct raft_message *m,
			struct raft_entry *entries, size_t max_entries)
{
	uint32_t	k;

	if (!codec_get_u32(r, &k))
		return RAFT_EMALFORMED;
	if (k > r->left / CODEC_ENTRY_HEADER_SIZE)
		return RAFT_EMALFORMED;
	if (entries == NULL)
		max_entries = 0;
	if (k > max_entries)
		return RAFT_ETOOBIG;
	for (uint32_t i = 0; i < k; i++)
	{
		int			rv = codec_get_entry_body(r, &entries[i]);

		if (rv != RAFT_OK)
			return rv;
	}
	m->n_entries = k;
	m->entries = k > 0 ? entries : NULL;
	return RAFT_OK;
}

int
raft_decode_message(const uint8_t *buf, size_t len, struct raft_message *m,
					struct raft_entry *entries, size_t max_entries)
{
	struct codec_reader r;
	bool		has_snapshot;
	int			rv;

	if ((rv = codec_begin(buf, len, &r)) != RAFT_OK)
		return rv;
	memset(m, 0, sizeof(*m));
	if (!codec_get_u8(&r, &m->type) ||
		!codec_get_u64(&r, &m->from) ||
		!codec_get_u64(&r, &m->to) ||
		!codec_get_u64(&r, &m->term) ||
		!codec_get_u64(&r, &m->log_term) ||
		!codec_get_u64(&r, &m->index) ||
		!codec_get_u64(&r, &m->commit) ||
		!codec_get_bool(&r, &m->reject) ||
		!codec_get_u64(&r, &m->reject_hint) ||
		!codec_get_u64(&r, &m->hint_term) ||
		!codec_get_u64(&r, &m->context))
		return RAFT_EMALFORMED;
	if (m->type < RAFT_MSG_APPEND || m->type > RAFT_MSG_TYPE_MAX)
		return RAFT_EMALFORMED;
	if ((rv = get_entries(&r, m, entries, max_entries)) != RAFT_OK)
		return rv;
	if (!codec_get_bool(&r, &has_snapshot))
		return RAFT_EMALFORMED;
	if (has_snapshot)
	{
		if ((rv = codec_get_snapshot_body(&r, &m->snapshot)) != RAFT_OK)
			return rv;
		/* Canonical form: an all-zero snapshot is sent as absent. */
		if (codec_snapshot_is_empty(&m->snapshot))
			return RAFT_EMALFORMED;
	}
	return codec_end(&r);
}
