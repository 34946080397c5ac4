/*
 * raft/codec/codec_snapshot.c — the encoding of a snapshot's metadata and
 * its opaque data (§5): stored by the host and carried by
 * RAFT_MSG_SNAPSHOT (inside a message, without the version byte).
 *
 *   offset  size  field
 *   ------  ----  -------------------------------------------------------
 *        0     1  version (RAFT_CODEC_VERSION)      -- standalone only
 *        1     8  index: last index the snapshot covers (0 = none)
 *        9     8  term of that entry
 *       17     c  the configuration in force at index: the body of
 *                 codec_config.c (joint, n, members), without a version
 *     17+c     4  d = data length (u32; bounded by the bytes present)
 *     21+c     d  data (opaque to the core)
 *
 * Decoded data points into the input buffer (read-only; {NULL, 0} when
 * empty); the configuration is copied into struct raft_snapshot.
 */
#include "codec_internal.h"

bool
codec_snapshot_valid(const struct raft_snapshot *s)
{
	if (!codec_config_valid(&s->config))
		return false;
	if ((uint64_t) s->data.len > UINT32_MAX)
		return false;
	if (s->data.len > 0 && s->data.base == NULL)
		return false;
	return true;
}

/* All zero as far as the encoding goes (what "no snapshot" looks like). */
bool
codec_snapshot_is_empty(const struct raft_snapshot *s)
{
	return s->index == 0 && s->term == 0 && !s->config.joint &&
		s->config.n == 0 && s->data.len == 0;
}

size_t
codec_snapshot_body_size(const struct raft_snapshot *s)
{
	size_t		size = 16 + codec_config_body_size(&s->config) + 4;

	return codec_size_add(size, s->data.len);
}

void
codec_put_snapshot_body(uint8_t **p, const struct raft_snapshot *s)
{
	codec_put_u64(p, s->index);
	codec_put_u64(p, s->term);
	codec_put_config_body(p, &s->config);
	codec_put_u32(p, (uint32_t) s->data.len);
	codec_put_bytes(p, s->data.base, s->data.len);
}

int
codec_get_snapshot_body(struct codec_reader *r, struct raft_snapshot *s)
{
	uint32_t	d;
	const uint8_t *data;
	int			rv;

	memset(s, 0, sizeof(*s));
	if (!codec_get_u64(r, &s->index) || !codec_get_u64(r, &s->term))
		return RAFT_EMALFORMED;
	if ((rv = codec_get_config_body(r, &s->config)) != RAFT_OK)
		return rv;
	if (!codec_get_u32(r, &d) || !codec_get_bytes(r, d, &data))
		return RAFT_EMALFORMED;
	s->data = codec_buffer_in_place(data, d);
	return RAFT_OK;
}

size_t
raft_encoded_size_snapshot(const struct raft_snapshot *s)
{
	return codec_size_add(1, codec_snapshot_body_size(s));
}

size_t
raft_encode_snapshot(const struct raft_snapshot *s, uint8_t *buf, size_t cap)
{
	uint8_t    *p = buf;
	size_t		size;

	if (s == NULL || buf == NULL || !codec_snapshot_valid(s))
		return 0;
	size = raft_encoded_size_snapshot(s);
	if (size > cap)
		return 0;
	codec_put_u8(&p, RAFT_CODEC_VERSION);
	codec_put_snapshot_body(&p, s);
	return (size_t) (p - buf);
}

int
raft_decode_snapshot(const uint8_t *buf, size_t len, struct raft_snapshot *s)
{
	struct codec_reader r;
	int			rv;

	if ((rv = codec_begin(buf, len, &r)) != RAFT_OK)
		return rv;
	if ((rv = codec_get_snapshot_body(&r, s)) != RAFT_OK)
		return rv;
	return codec_end(&r);
}
