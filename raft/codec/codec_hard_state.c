/*
 * raft/codec/codec_hard_state.c — the encoding of the durable hard state
 * (term, vote, commit; Raft dissertation §3.8: term and vote must be on
 * stable storage before any reply that depends on them).
 *
 * Fixed size, RAFT_HARD_STATE_ENCODED_SIZE = 25 bytes, little-endian:
 *
 *   offset  size  field
 *   ------  ----  -----------------------------------------
 *        0     1  version (RAFT_CODEC_VERSION)
 *        1     8  term
 *        9     8  vote (RAFT_NONE = 0 when none this term)
 *       17     8  commit
 */
#include "codec_internal.h"

size_t
raft_encode_hard_state(const struct raft_hard_state *hs, uint8_t *buf,
					   size_t cap)
{
	uint8_t    *p = buf;

	if (hs == NULL || buf == NULL || cap < RAFT_HARD_STATE_ENCODED_SIZE)
		return 0;
	codec_put_u8(&p, RAFT_CODEC_VERSION);
	codec_put_u64(&p, hs->term);
	codec_put_u64(&p, hs->vote);
	codec_put_u64(&p, hs->commit);
	return (size_t) (p - buf);
}

int
raft_decode_hard_state(const uint8_t *buf, size_t len,
					   struct raft_hard_state *hs)
{
	struct codec_reader r;
	int			rv;

	if ((rv = codec_begin(buf, len, &r)) != RAFT_OK)
		return rv;
	memset(hs, 0, sizeof(*hs));
	if (!codec_get_u64(&r, &hs->term) ||
		!codec_get_u64(&r, &hs->vote) ||
		!codec_get_u64(&r, &hs->commit))
		return RAFT_EMALFORMED;
	return codec_end(&r);
}
