/*
 * raft/codec/codec.h — wire and disk encodings of the core's types.
 *
 * Every encoding starts with a version byte (RAFT_CODEC_VERSION), then
 * fixed-width little-endian integers; byte strings are a u32 length and the
 * bytes.  Encoders write into a caller buffer and return the bytes written,
 * or 0 when it is too small (raft_encoded_size_* says how much is needed).
 * Decoders check every bound, never allocate and never read past len: data
 * pointers in what they fill in point into the input buffer, and arrays
 * (entries) are provided by the caller with their capacity.  They return
 * RAFT_OK, RAFT_EMALFORMED, RAFT_EVERSION or RAFT_ETOOBIG (more entries
 * than the capacity given).
 *
 * More precisely (the byte tables are at the top of raft/codec/codec_*.c):
 *  - len must be the exact length of the encoding: trailing bytes are
 *    RAFT_EMALFORMED.  Encodings are canonical: what decodes re-encodes to
 *    the same bytes.
 *  - Encoders also return 0 for a value the decoder would refuse (message
 *    or entry type out of range, more than RAFT_MAX_MEMBERS members, an
 *    address without a NUL in RAFT_ADDR_LEN, unknown member flag bits,
 *    member id 0 or twice, entry data over RAFT_MAX_ENTRY_BYTES, a buffer
 *    with len > 0 and base NULL): whatever encodes also decodes.
 *  - A decoded struct raft_buffer points into buf (base is void * only
 *    because the struct is shared): treat it as read-only, valid while buf
 *    is; an empty one is {NULL, 0}.  On an error the output is unspecified.
 */
#ifndef RAFT_CODEC_H
#define RAFT_CODEC_H

#include "raft.h"

#define RAFT_CODEC_VERSION 1

/* Messages (transport payloads). */
size_t		raft_encoded_size_message(const struct raft_message *m);
size_t		raft_encode_message(const struct raft_message *m, uint8_t *buf, size_t cap);
int			raft_decode_message(const uint8_t *buf, size_t len,
								struct raft_message *m,
								struct raft_entry *entries, size_t max_entries);

/* One log entry (a storage record's payload). */
size_t		raft_encoded_size_entry(const struct raft_entry *e);
size_t		raft_encode_entry(const struct raft_entry *e, uint8_t *buf, size_t cap);
int			raft_decode_entry(const uint8_t *buf, size_t len, struct raft_entry *e);

/* A configuration (the data of RAFT_ENTRY_CONFIG entries; snapshots). */
size_t		raft_encoded_size_config(const struct raft_config *c);
size_t		raft_encode_config(const struct raft_config *c, uint8_t *buf, size_t cap);
int			raft_decode_config(const uint8_t *buf, size_t len, struct raft_config *c);

/* Hard state (term, vote, commit): fixed size. */
#define RAFT_HARD_STATE_ENCODED_SIZE 25
size_t		raft_encode_hard_state(const struct raft_hard_state *hs, uint8_t *buf, size_t cap);
int			raft_decode_hard_state(const uint8_t *buf, size_t len, struct raft_hard_state *hs);

/* Snapshot metadata and its opaque data. */
size_t		raft_encoded_size_snapshot(const struct raft_snapshot *s);
size_t		raft_encode_snapshot(const struct raft_snapshot *s, uint8_t *buf, size_t cap);
int			raft_decode_snapshot(const uint8_t *buf, size_t len, struct raft_snapshot *s);

#endif							/* RAFT_CODEC_H */
