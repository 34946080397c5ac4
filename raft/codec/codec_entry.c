/*
 * raft/codec/codec_entry.c — the encoding of one log entry: the payload of
 * a storage record on its own, and (without the version byte) each entry
 * inside an APPEND or PROPOSE message.
 *
 *   offset  size  field
 *   ------  ----  -----------------------------------------------------
 *        0     1  version (RAFT_CODEC_VERSION)     -- standalone only
 *        1     8  term
 *        9     8  index
 *       17     1  type: enum raft_entry_type, 1..3
 *       18     4  n = data length, <= RAFT_MAX_ENTRY_BYTES
 *       22     n  data (opaque; for RAFT_ENTRY_CONFIG an encoded config)
 *
 * The body (offsets 1..) is CODEC_ENTRY_HEADER_SIZE = 21 bytes plus the
 * data.  Decoded data points into the input buffer (read-only; {NULL, 0}
 * when empty).
 */
#include "codec_internal.h"

bool
codec_entry_valid(const struct raft_entry *e)
{
	if (e->type < RAFT_ENTRY_COMMAND || e->type > RAFT_ENTRY_CONFIG)
		return false;
	if (e->data.len > RAFT_MAX_ENTRY_BYTES)
		return false;
	if (e->data.len > 0 && e->data.base == NULL)
		return false;
	return true;
}

size_t
codec_entry_body_size(const struct raft_entry *e)
{
	return codec_size_add(CODEC_ENTRY_HEADER_SIZE, e->data.len);
}

void
codec_put_entry_body(uint8_t **p, const struct raft_entry *e)
{
	codec_put_u64(p, e->term);
	codec_put_u64(p, e->index);
	codec_put_u8(p, e->type);
	codec_put_u32(p, (uint32_t) e->data.len);
	codec_put_bytes(p, e->data.base, e->data.len);
}

int
codec_get_entry_body(struct codec_reader *r, struct raft_entry *e)
{
	uint32_t	n;
	const uint8_t *data;

	memset(e, 0, sizeof(*e));
	if (!codec_get_u64(r, &e->term) ||
		!codec_get_u64(r, &e->index) ||
		!codec_get_u8(r, &e->type) ||
		!codec_get_u32(r, &n))
		return RAFT_EMALFORMED;
	if (e->type < RAFT_ENTRY_COMMAND || e->type > RAFT_ENTRY_CONFIG)
		return RAFT_EMALFORMED;
	if (n > RAFT_MAX_ENTRY_BYTES || !codec_get_bytes(r, n, &data))
		return RAFT_EMALFORMED;
	e->data = codec_buffer_in_place(data, n);
	return RAFT_OK;
}

size_t
raft_encoded_size_entry(const struct raft_entry *e)
{
	return codec_size_add(1, codec_entry_body_size(e));
}

size_t
raft_encode_entry(const struct raft_entry *e, uint8_t *buf, size_t cap)
{
	uint8_t    *p = buf;
	size_t		size;

	if (e == NULL || buf == NULL || !codec_entry_valid(e))
		return 0;
	size = raft_encoded_size_entry(e);
	if (size > cap)
		return 0;
	codec_put_u8(&p, RAFT_CODEC_VERSION);
	codec_put_entry_body(&p, e);
	return (size_t) (p - buf);
}

int
raft_decode_entry(const uint8_t *buf, size_t len, struct raft_entry *e)
{
	struct codec_reader r;
	int			rv;

	if ((rv = codec_begin(buf, len, &r)) != RAFT_OK)
		return rv;
	if ((rv = codec_get_entry_body(&r, e)) != RAFT_OK)
		return rv;
	return codec_end(&r);
}
