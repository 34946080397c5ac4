/*
 * raft/codec/codec_config.c — the encoding of a configuration (§4.3): the
 * data of RAFT_ENTRY_CONFIG entries and part of every snapshot.
 *
 *   offset  size  field
 *   ------  ----  ----------------------------------------------------
 *        0     1  version (RAFT_CODEC_VERSION)   -- standalone only
 *        1     1  joint: 0 or 1
 *        2     4  n = member count, <= RAFT_MAX_MEMBERS
 *        6        n members, each:
 *                   +0   8  id (>= 1; ids are distinct)
 *                   +8   1  flags: RAFT_VOTER_NEW | RAFT_VOTER_OLD only
 *                   +9   1  a = address length, < RAFT_ADDR_LEN
 *                   +10  a  address bytes, no NUL (the final NUL of
 *                           struct raft_member.addr is not sent)
 *
 * Size: 6 + sum(10 + a) bytes (5 + ... for the body inside a snapshot).
 * The decoder zeroes struct raft_config first, so members past n and the
 * tail of each addr are zero.  Which flags make sense outside a joint
 * configuration is the core's rule, not the codec's.
 */
#include "codec_internal.h"

#define MEMBER_HEADER_SIZE 10			/* id, flags, address length */
#define MEMBER_FLAGS_KNOWN (RAFT_VOTER_NEW | RAFT_VOTER_OLD)

/* A member's address length: bytes before its NUL, at most RAFT_ADDR_LEN. */
static size_t
addr_length(const struct raft_member *m)
{
	const char *nul = memchr(m->addr, '\0', RAFT_ADDR_LEN);

	return nul != NULL ? (size_t) (nul - m->addr) : RAFT_ADDR_LEN;
}

static bool
member_valid(const struct raft_member *m)
{
	return m->id != RAFT_NONE &&
		(m->flags & ~MEMBER_FLAGS_KNOWN) == 0 &&
		addr_length(m) < RAFT_ADDR_LEN;
}

/* Members 0..n-1 have distinct ids (n <= RAFT_MAX_MEMBERS: 120 compares). */
static bool
ids_distinct(const struct raft_config *c, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		for (uint32_t j = i + 1; j < n; j++)
			if (c->members[i].id == c->members[j].id)
				return false;
	return true;
}

bool
codec_config_valid(const struct raft_config *c)
{
	if (c->n > RAFT_MAX_MEMBERS)
		return false;
	for (uint32_t i = 0; i < c->n; i++)
		if (!member_valid(&c->members[i]))
			return false;
	return ids_distinct(c, c->n);
}

size_t
codec_config_body_size(const struct raft_config *c)
{
	size_t		size = 5;
	uint32_t	n = c->n <= RAFT_MAX_MEMBERS ? c->n : RAFT_MAX_MEMBERS;

	for (uint32_t i = 0; i < n; i++)
		size += MEMBER_HEADER_SIZE +
			addr_length(&c->members[i]);
	return size;
}

void
codec_put_config_body(uint8_t **p, const struct raft_config *c)
{
	codec_put_u8(p, c->joint ? 1 : 0);
	codec_put_u32(p, c->n);
	for (uint32_t i = 0; i < c->n; i++)
	{
		const struct raft_member *m = &c->members[i];
		size_t		a = addr_length(m);

		codec_put_u64(p, m->id);
		codec_put_u8(p, m->flags);
		codec_put_u8(p, (uint8_t) a);
		codec_put_bytes(p, m->addr, a);
	}
}

static int
get_member(struct codec_reader *r, struct raft_member *m)
{
	uint8_t		a;
	const uint8_t *addr;

	if (!codec_get_u64(r, &m->id) ||
		!codec_get_u8(r, &m->flags) ||
		!codec_get_u8(r, &a))
		return RAFT_EMALFORMED;
	if (m->id == RAFT_NONE || (m->flags & ~MEMBER_FLAGS_KNOWN) != 0)
		return RAFT_EMALFORMED;
	if (a >= RAFT_ADDR_LEN || !codec_get_bytes(r, a, &addr))
		return RAFT_EMALFORMED;
	if (memchr(addr, '\0', a) != NULL)
		return RAFT_EMALFORMED;
	memcpy(m->addr, addr, a);
	m->addr[a] = '\0';
	return RAFT_OK;
}

int
codec_get_config_body(struct codec_reader *r, struct raft_config *c)
{
	uint32_t	n;

	memset(c, 0, sizeof(*c));
	if (!codec_get_bool(r, &c->joint) || !codec_get_u32(r, &n))
		return RAFT_EMALFORMED;
	if (n > RAFT_MAX_MEMBERS)
		return RAFT_EMALFORMED;
	for (uint32_t i = 0; i < n; i++)
	{
		int			rv = get_member(r, &c->members[i]);

		if (rv != RAFT_OK)
			return rv;
	}
	if (!ids_distinct(c, n))
		return RAFT_EMALFORMED;
	c->n = n;
	return RAFT_OK;
}

size_t
raft_encoded_size_config(const struct raft_config *c)
{
	return 1 + codec_config_body_size(c);
}

size_t
raft_encode_config(const struct raft_config *c, uint8_t *buf, size_t cap)
{
	uint8_t    *p = buf;
	size_t		size;

	if (c == NULL || buf == NULL || !codec_config_valid(c))
		return 0;
	size = raft_encoded_size_config(c);
	if (size > cap)
		return 0;
	codec_put_u8(&p, RAFT_CODEC_VERSION);
	codec_put_config_body(&p, c);
	return (size_t) (p - buf);
}

int
raft_decode_config(const uint8_t *buf, size_t len, struct raft_config *c)
{
	struct codec_reader r;
	int			rv;

	if ((rv = codec_begin(buf, len, &r)) != RAFT_OK)
		return rv;
	if ((rv = codec_get_config_body(&r, c)) != RAFT_OK)
		return rv;
	return codec_end(&r);
}
