/*
 * raft/transport/handshake.c — the HELLO/PROOF exchange that authenticates
 * both ends of a transport connection (protocol in handshake.h).
 */
#include "handshake.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

static const uint8_t hello_magic[4] = {'P', 'G', 'R', 'F'};
static const char proof_label[] = "pg_raft/transport/v1";

static void
put_u64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t) (v >> (8 * i));
}

static uint64_t
get_u64(const uint8_t *p)
{
	uint64_t	v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

void
raft_hello_encode(const struct raft_hello *h, uint8_t *out)
{
	memcpy(out, hello_magic, 4);
	out[4] = (uint8_t) h->version;
	out[5] = (uint8_t) (h->version >> 8);
	out[6] = h->role;
	out[7] = 0;
	put_u64(out + 8, h->cluster_id);
	put_u64(out + 16, h->from);
	put_u64(out + 24, h->to);
	memcpy(out + 32, h->nonce, RAFT_NONCE_SIZE);
}

int
raft_hello_decode(const uint8_t *buf, size_t len, struct raft_hello *h)
{
	memset(h, 0, sizeof(*h));
	if (len < RAFT_HELLO_SIZE || memcmp(buf, hello_magic, 4) != 0)
		return RAFT_EMALFORMED;
	h->version = (uint16_t) (buf[4] | buf[5] << 8);
	if (h->version != RAFT_PROTOCOL_VERSION)
		return RAFT_EVERSION;
	h->role = buf[6];
	if ((h->role != 'C' && h->role != 'S') || buf[7] != 0)
		return RAFT_EMALFORMED;
	h->cluster_id = get_u64(buf + 8);
	h->from = get_u64(buf + 16);
	h->to = get_u64(buf + 24);
	memcpy(h->nonce, buf + 32, RAFT_NONCE_SIZE);
	return RAFT_OK;
}

void
raft_handshake_proof(const uint8_t *secret, size_t secret_len,
					 uint8_t direction, uint64_t cluster_id, raft_id dialer,
					 raft_id acceptor, const uint8_t *nonce_c,
					 const uint8_t *nonce_s, uint8_t *out)
{
	uint8_t		data[sizeof(proof_label) - 1 + 1 + 24 + 2 * RAFT_NONCE_SIZE];
	uint8_t    *p = data;
	unsigned	out_len = RAFT_PROOF_SIZE;

	memcpy(p, proof_label, sizeof(proof_label) - 1);
	p += sizeof(proof_label) - 1;
	*p++ = direction;
	put_u64(p, cluster_id);
	put_u64(p + 8, dialer);
	put_u64(p + 16, acceptor);
	p += 24;
	memcpy(p, nonce_c, RAFT_NONCE_SIZE);
	memcpy(p + RAFT_NONCE_SIZE, nonce_s, RAFT_NONCE_SIZE);
	if (HMAC(EVP_sha256(), secret, (int) secret_len, data, sizeof(data),
			 out, &out_len) == NULL || out_len != RAFT_PROOF_SIZE)
	{
		/* Never matches a real proof: the handshake fails closed. */
		memset(out, 0, RAFT_PROOF_SIZE);
		out[0] = 0xff;
		out[1] = direction;
	}
}

static void fail(struct raft_handshake *hs, const char *fmt,...)
			__attribute__((format(printf, 2, 3)));

static void
fail(struct raft_handshake *hs, const char *fmt,...)
{
	va_list		ap;

	hs->state = RAFT_HS_FAILED;
	va_start(ap, fmt);
	vsnprintf(hs->error, sizeof(hs->error), fmt, ap);
	va_end(ap);
}

static void
start(struct raft_handshake *hs, bool dialer, raft_id self,
	  uint64_t cluster_id, const uint8_t *secret, size_t secret_len)
{
	memset(hs, 0, sizeof(*hs));
	hs->dialer = dialer;
	hs->state = RAFT_HS_WAIT_HELLO;
	hs->self = self;
	hs->cluster_id = cluster_id;
	hs->secret = secret;
	hs->secret_len = secret_len;
}

void
raft_handshake_start_dialer(struct raft_handshake *hs, raft_id self,
							raft_id peer, uint64_t cluster_id,
							const uint8_t *secret, size_t secret_len,
							const uint8_t *nonce)
{
	struct raft_hello h;

	start(hs, true, self, cluster_id, secret, secret_len);
	hs->peer = peer;
	memcpy(hs->nonce_c, nonce, RAFT_NONCE_SIZE);
	memset(&h, 0, sizeof(h));
	h.version = RAFT_PROTOCOL_VERSION;
	h.role = 'C';
	h.cluster_id = cluster_id;
	h.from = self;
	h.to = peer;
	memcpy(h.nonce, nonce, RAFT_NONCE_SIZE);
	raft_hello_encode(&h, hs->out);
	hs->out_len = RAFT_HELLO_SIZE;
}

void
raft_handshake_start_acceptor(struct raft_handshake *hs, raft_id self,
							  uint64_t cluster_id, const uint8_t *secret,
							  size_t secret_len, const uint8_t *nonce)
{
	start(hs, false, self, cluster_id, secret, secret_len);
	memcpy(hs->nonce_s, nonce, RAFT_NONCE_SIZE);
}

/* Checks a peer's HELLO; false (and FAILED) if it is not acceptable. */
static bool
check_hello(struct raft_handshake *hs, const struct raft_hello *h, int rc)
{
	if (rc == RAFT_EVERSION)
	{
		fail(hs, "unsupported protocol version %u (this node speaks %u)",
			 (unsigned) h->version, (unsigned) RAFT_PROTOCOL_VERSION);
		return false;
	}
	if (rc != RAFT_OK)
	{
		fail(hs, "not a pg_raft handshake (bad magic or fields)");
		return false;
	}
	if (h->role != (hs->dialer ? 'S' : 'C'))
	{
		fail(hs, "unexpected handshake role");
		return false;
	}
	if (h->cluster_id != hs->cluster_id)
	{
		fail(hs, "wrong cluster id %llu (expected %llu)",
			 (unsigned long long) h->cluster_id,
			 (unsigned long long) hs->cluster_id);
		return false;
	}
	if (h->to != hs->self)
	{
		fail(hs, "handshake addressed to node %llu (this is node %llu)",
			 (unsigned long long) h->to, (unsigned long long) hs->self);
		return false;
	}
	if (h->from == RAFT_NONE || h->from == hs->self)
	{
		fail(hs, "invalid peer node id %llu",
			 (unsigned long long) h->from);
		return false;
	}
	if (hs->dialer && h->from != hs->peer)
	{
		fail(hs, "reached node %llu instead of node %llu",
			 (unsigned long long) h->from, (unsigned long long) hs->peer);
		return false;
	}
	return true;
}

static bool
check_proof(struct raft_handshake *hs, const uint8_t *proof)
{
	uint8_t		expected[RAFT_PROOF_SIZE];
	raft_id		dialer = hs->dialer ? hs->self : hs->peer;
	raft_id		acceptor = hs->dialer ? hs->peer : hs->self;

	raft_handshake_proof(hs->secret, hs->secret_len, hs->dialer ? 'S' : 'C',
						 hs->cluster_id, dialer, acceptor, hs->nonce_c,
						 hs->nonce_s, expected);
	if (CRYPTO_memcmp(expected, proof, RAFT_PROOF_SIZE) != 0)
	{
		hs->auth_failed = true;
		fail(hs, "authentication failed for node %llu (wrong secret?)",
			 (unsigned long long) hs->peer);
		return false;
	}
	return true;
}

/* Dialer: HELLO_s + PROOF_s arrived in hs->in. */
static void
dialer_step(struct raft_handshake *hs)
{
	struct raft_hello h;
	int			rc = raft_hello_decode(hs->in, RAFT_HELLO_SIZE, &h);

	if (!check_hello(hs, &h, rc))
		return;
	memcpy(hs->nonce_s, h.nonce, RAFT_NONCE_SIZE);
	if (!check_proof(hs, hs->in + RAFT_HELLO_SIZE))
		return;
	raft_handshake_proof(hs->secret, hs->secret_len, 'C', hs->cluster_id,
						 hs->self, hs->peer, hs->nonce_c, hs->nonce_s,
						 hs->out + hs->out_len);
	hs->out_len += RAFT_PROOF_SIZE;
	hs->state = RAFT_HS_DONE;
}

/* Acceptor: HELLO_c arrived in hs->in; answer HELLO_s + PROOF_s. */
static void
acceptor_hello(struct raft_handshake *hs)
{
	struct raft_hello h;
	struct raft_hello mine;
	int			rc = raft_hello_decode(hs->in, RAFT_HELLO_SIZE, &h);

	if (!check_hello(hs, &h, rc))
		return;
	hs->peer = h.from;
	memcpy(hs->nonce_c, h.nonce, RAFT_NONCE_SIZE);
	memset(&mine, 0, sizeof(mine));
	mine.version = RAFT_PROTOCOL_VERSION;
	mine.role = 'S';
	mine.cluster_id = hs->cluster_id;
	mine.from = hs->self;
	mine.to = hs->peer;
	memcpy(mine.nonce, hs->nonce_s, RAFT_NONCE_SIZE);
	raft_hello_encode(&mine, hs->out + hs->out_len);
	hs->out_len += RAFT_HELLO_SIZE;
	raft_handshake_proof(hs->secret, hs->secret_len, 'S', hs->cluster_id,
						 hs->peer, hs->self, hs->nonce_c, hs->nonce_s,
						 hs->out + hs->out_len);
	hs->out_len += RAFT_PROOF_SIZE;
	hs->in_len = 0;
	hs->state = RAFT_HS_WAIT_PROOF;
}

size_t
raft_handshake_feed(struct raft_handshake *hs, const uint8_t *buf, size_t len)
{
	size_t		consumed = 0;

	while (consumed < len &&
		   (hs->state == RAFT_HS_WAIT_HELLO || hs->state == RAFT_HS_WAIT_PROOF))
	{
		size_t		want;
		size_t		take;

		if (hs->state == RAFT_HS_WAIT_PROOF)
			want = RAFT_PROOF_SIZE;
		else if (hs->dialer)
			want = RAFT_HELLO_SIZE + RAFT_PROOF_SIZE;
		else
			want = RAFT_HELLO_SIZE;
		take = want - hs->in_len;
		if (take > len - consumed)
			take = len - consumed;
		memcpy(hs->in + hs->in_len, buf + consumed, take);
		hs->in_len += take;
		consumed += take;

		/* Refuse a non-pg_raft peer as soon as its magic is wrong. */
		if (hs->state == RAFT_HS_WAIT_HELLO && hs->in_len >= 4 &&
			memcmp(hs->in, hello_magic, 4) != 0)
		{
			fail(hs, "not a pg_raft handshake (bad magic)");
			break;
		}
		if (hs->in_len < want)
			break;
		if (hs->state == RAFT_HS_WAIT_PROOF)
		{
			if (check_proof(hs, hs->in))
				hs->state = RAFT_HS_DONE;
		}
		else if (hs->dialer)
			dialer_step(hs);
		else
			acceptor_hello(hs);
	}
	return consumed;
}
