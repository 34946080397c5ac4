/*
 * regress/unit/test_codec_util.h — helpers shared by the codec's unit
 * tests and its fuzz targets (regress/fuzz/fuzz_decode_*.c): field-by-field
 * equality of the core's types (memcmp would compare padding and the
 * bytes after an address's NUL), and a byte builder that writes
 * encodings by hand from the tables in raft/codec/codec_*.c, independently of
 * the codec's own writer.
 */
#ifndef TEST_CODEC_UTIL_H
#define TEST_CODEC_UTIL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"

static inline bool
buffer_equal(const struct raft_buffer *a, const struct raft_buffer *b)
{
	if (a->len != b->len)
		return false;
	return a->len == 0 || memcmp(a->base, b->base, a->len) == 0;
}

static inline bool
entry_equal(const struct raft_entry *a, const struct raft_entry *b)
{
	return a->term == b->term && a->index == b->index &&
		a->type == b->type && buffer_equal(&a->data, &b->data);
}

static inline bool
config_equal(const struct raft_config *a, const struct raft_config *b)
{
	if (a->joint != b->joint || a->n != b->n)
		return false;
	for (uint32_t i = 0; i < a->n && i < RAFT_MAX_MEMBERS; i++)
	{
		const struct raft_member *x = &a->members[i];
		const struct raft_member *y = &b->members[i];

		if (x->id != y->id || x->flags != y->flags ||
			strncmp(x->addr, y->addr, RAFT_ADDR_LEN) != 0)
			return false;
	}
	return true;
}

static inline bool
hard_state_equal(const struct raft_hard_state *a,
				 const struct raft_hard_state *b)
{
	return a->term == b->term && a->vote == b->vote &&
		a->commit == b->commit;
}

static inline bool
snapshot_equal(const struct raft_snapshot *a, const struct raft_snapshot *b)
{
	return a->index == b->index && a->term == b->term &&
		config_equal(&a->config, &b->config) &&
		buffer_equal(&a->data, &b->data);
}

static inline bool
message_equal(const struct raft_message *a, const struct raft_message *b)
{
	if (a->type != b->type || a->from != b->from || a->to != b->to ||
		a->term != b->term || a->log_term != b->log_term ||
		a->index != b->index || a->commit != b->commit ||
		a->reject != b->reject || a->reject_hint != b->reject_hint ||
		a->hint_term != b->hint_term || a->context != b->context ||
		a->n_entries != b->n_entries)
		return false;
	for (uint32_t i = 0; i < a->n_entries; i++)
		if (!entry_equal(&a->entries[i], &b->entries[i]))
			return false;
	return snapshot_equal(&a->snapshot, &b->snapshot);
}

/* A byte builder: little-endian, bounds left to the test's buffer size. */
struct bytes
{
	uint8_t    *p;
	size_t		len;
};

static inline void
bytes_u8(struct bytes *b, uint8_t v)
{
	b->p[b->len++] = v;
}

static inline void
bytes_u32(struct bytes *b, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		bytes_u8(b, (uint8_t) (v >> (8 * i)));
}

static inline void
bytes_u64(struct bytes *b, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		bytes_u8(b, (uint8_t) (v >> (8 * i)));
}

static inline void
bytes_raw(struct bytes *b, const void *src, size_t n)
{
	memcpy(b->p + b->len, src, n);
	b->len += n;
}

/* Overwrites a little-endian u32 at an offset (to corrupt an encoding). */
static inline void
patch_u32(uint8_t *p, size_t off, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[off + i] = (uint8_t) (v >> (8 * i));
}

/*
 * Runs a decoder on a heap copy of exactly len bytes, so that a read past
 * the end is caught when the tests are built with -fsanitize=address.
 */
typedef int (*decode_fn) (const uint8_t *buf, size_t len);

static inline int
decode_exact_copy(decode_fn decode, const uint8_t *buf, size_t len)
{
	uint8_t    *copy = malloc(len > 0 ? len : 1);
	int			rv;

	if (copy == NULL)
		abort();
	if (len > 0)
		memcpy(copy, buf, len);
	rv = decode(copy, len);
	free(copy);
	return rv;
}

#endif							/* TEST_CODEC_UTIL_H */
