/*
 * raft/codec/codec_internal.h — what the codec's files share and nobody
 * else uses: little-endian byte order, a bounds-checked read cursor, and
 * the encodings of the pieces that appear inside several top-level
 * encodings (an entry inside a message, a configuration inside a snapshot,
 * a snapshot inside a message) without their own version byte.
 *
 * Writers do not check bounds: every encoder first computes the exact size,
 * compares it with the caller's capacity, and only then writes.  Readers
 * check every byte they take against what is left.
 */
#ifndef RAFT_CODEC_INTERNAL_H
#define RAFT_CODEC_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "codec.h"

/* ------------------------------------------------------------------------
 * Writing (no bounds checks: the caller has checked the total size).
 * ------------------------------------------------------------------------ */
static inline void
codec_put_u8(uint8_t **p, uint8_t v)
{
	(*p)[0] = v;
	*p += 1;
}

static inline void
codec_put_u32(uint8_t **p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		(*p)[i] = (uint8_t) (v >> (8 * i));
	*p += 4;
}

static inline void
codec_put_u64(uint8_t **p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		(*p)[i] = (uint8_t) (v >> (8 * i));
	*p += 8;
}

static inline void
codec_put_bytes(uint8_t **p, const void *src, size_t n)
{
	if (n > 0)
		memcpy(*p, src, n);
	*p += n;
}

/* ------------------------------------------------------------------------
 * Reading: every getter fails (false) rather than read past the end.
 * ------------------------------------------------------------------------ */
struct codec_reader
{
	const uint8_t *p;
	size_t		left;
};

static inline bool
codec_get_u8(struct codec_reader *r, uint8_t *v)
{
	if (r->left < 1)
		return false;
	*v = r->p[0];
	r->p += 1;
	r->left -= 1;
	return true;
}

static inline bool
codec_get_u32(struct codec_reader *r, uint32_t *v)
{
	uint32_t	x = 0;

	if (r->left < 4)
		return false;
	for (int i = 0; i < 4; i++)
		x |= (uint32_t) r->p[i] << (8 * i);
	*v = x;
	r->p += 4;
	r->left -= 4;
	return true;
}

static inline bool
codec_get_u64(struct codec_reader *r, uint64_t *v)
{
	uint64_t	x = 0;

	if (r->left < 8)
		return false;
	for (int i = 0; i < 8; i++)
		x |= (uint64_t) r->p[i] << (8 * i);
	*v = x;
	r->p += 8;
	r->left -= 8;
	return true;
}

/* A bool is one byte, 0 or 1; anything else is malformed. */
static inline bool
codec_get_bool(struct codec_reader *r, bool *v)
{
	uint8_t		b;

	if (!codec_get_u8(r, &b) || b > 1)
		return false;
	*v = (b == 1);
	return true;
}

/* n bytes, returned in place (no copy). */
static inline bool
codec_get_bytes(struct codec_reader *r, size_t n, const uint8_t **out)
{
	if (r->left < n)
		return false;
	*out = r->p;
	r->p += n;
	r->left -= n;
	return true;
}

/*
 * A decoded byte string: points into the input, which the decoder only
 * reads.  struct raft_buffer.base is void *, so the const is cast away
 * here, in one place; whoever holds a decoded buffer must treat it as
 * read-only.  An empty string decodes as {NULL, 0}.
 */
static inline struct raft_buffer
codec_buffer_in_place(const uint8_t *p, size_t n)
{
	struct raft_buffer b;

	b.base = n > 0 ? (void *) (uintptr_t) p : NULL;
	b.len = n;
	return b;
}

/* Saturating size arithmetic for raft_encoded_size_*. */
static inline size_t
codec_size_add(size_t a, size_t b)
{
	return a > SIZE_MAX - b ? SIZE_MAX : a + b;
}

/* The version byte: RAFT_OK and a reader over the rest, or an error. */
int			codec_begin(const uint8_t *buf, size_t len,
						struct codec_reader *r);

/* RAFT_OK if every byte was used; trailing bytes are malformed. */
int			codec_end(const struct codec_reader *r);

/* ------------------------------------------------------------------------
 * Pieces without a version byte (layouts at the top of each .c file).
 * Each "valid" function is what the encoder refuses and the decoder
 * rejects, so anything that encodes also decodes.
 * ------------------------------------------------------------------------ */
#define CODEC_ENTRY_HEADER_SIZE 21	/* term, index, type, data length */

bool		codec_entry_valid(const struct raft_entry *e);
size_t		codec_entry_body_size(const struct raft_entry *e);
void		codec_put_entry_body(uint8_t **p, const struct raft_entry *e);
int			codec_get_entry_body(struct codec_reader *r, struct raft_entry *e);

bool		codec_config_valid(const struct raft_config *c);
size_t		codec_config_body_size(const struct raft_config *c);
void		codec_put_config_body(uint8_t **p, const struct raft_config *c);
int			codec_get_config_body(struct codec_reader *r,
								  struct raft_config *c);

bool		codec_snapshot_valid(const struct raft_snapshot *s);
bool		codec_snapshot_is_empty(const struct raft_snapshot *s);
size_t		codec_snapshot_body_size(const struct raft_snapshot *s);
void		codec_put_snapshot_body(uint8_t **p,
									const struct raft_snapshot *s);
int			codec_get_snapshot_body(struct codec_reader *r,
									struct raft_snapshot *s);

#endif							/* RAFT_CODEC_INTERNAL_H */
