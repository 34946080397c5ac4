/*
 * raft/codec/codec.c — the conventions every encoding shares: the version
 * byte that opens it and the rule that a decoder uses every byte it is
 * given.
 *
 * The encodings themselves live one per file:
 *
 *   codec_hard_state.c   term, vote, commit (fixed 25 bytes)
 *   codec_entry.c        one log entry (storage record payload)
 *   codec_config.c       a configuration (RAFT_ENTRY_CONFIG data, snapshots)
 *   codec_snapshot.c     snapshot metadata and its opaque data
 *   codec_message.c      a Raft message (transport payload)
 *
 * Common rules (each file's header has its byte table):
 *   - byte 0 is RAFT_CODEC_VERSION; any other value is RAFT_EVERSION;
 *   - integers are fixed-width little-endian; bools are one byte, 0 or 1;
 *   - byte strings are a u32 length then the bytes, the length checked
 *     against the bytes left and against the limit for that string before
 *     it is used;
 *   - an encoding is exactly as long as its fields: trailing bytes are
 *     RAFT_EMALFORMED.  With the other checks (bools, flags, no NUL inside
 *     an address, no "present" snapshot that is empty) this makes every
 *     encoding canonical: decode then encode gives back the same bytes;
 *   - encoders refuse (return 0) any value the decoder would reject, so
 *     whatever encodes also decodes.
 */
#include "codec_internal.h"

int
codec_begin(const uint8_t *buf, size_t len, struct codec_reader *r)
{
	if (buf == NULL || len == 0)
		return RAFT_EMALFORMED;
	if (buf[0] != RAFT_CODEC_VERSION)
		return RAFT_EVERSION;
	r->p = buf + 1;
	r->left = len - 1;
	return RAFT_OK;
}

int
codec_end(const struct codec_reader *r)
{
	return r->left == 0 ? RAFT_OK : RAFT_EMALFORMED;
}
