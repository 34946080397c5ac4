/*
 * regress/unit/test_transport_wire.c — the transport's pure parts, without
 * sockets: frame sealing and parsing, message frames, the handshake state
 * machine (success, each refusal, byte-by-byte delivery, no reflection) and
 * address parsing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "codec.h"
#include "frame.h"
#include "handshake.h"
#include "transport_int.h"

/* ---- frames ---------------------------------------------------------- */

static void
test_frame_round_trip(void **state)
{
	uint8_t		buf[RAFT_FRAME_HEADER + 5];
	const uint8_t *payload;
	size_t		plen;
	size_t		need;

	memcpy(buf + RAFT_FRAME_HEADER, "hello", 5);
	raft_frame_seal(buf, 5);
	assert_int_equal(raft_frame_parse(buf, sizeof(buf), 100, &payload, &plen,
									  &need), RAFT_FRAME_OK);
	assert_int_equal(plen, 5);
	assert_memory_equal(payload, "hello", 5);

	/* Every proper prefix asks for more, and says how much. */
	for (size_t n = 0; n < sizeof(buf); n++)
	{
		assert_int_equal(raft_frame_parse(buf, n, 100, &payload, &plen, &need),
						 RAFT_FRAME_NEED_MORE);
		assert_int_equal(need, n < RAFT_FRAME_HEADER ? RAFT_FRAME_HEADER
						 : sizeof(buf));
	}
}

static void
test_frame_damage(void **state)
{
	uint8_t		buf[RAFT_FRAME_HEADER + 16];
	const uint8_t *payload;
	size_t		plen;
	size_t		need;

	memset(buf + RAFT_FRAME_HEADER, 'x', 16);
	raft_frame_seal(buf, 16);
	/* Any flipped bit, in the length, the CRC or the payload, is caught. */
	for (size_t i = 0; i < sizeof(buf); i++)
		for (int bit = 0; bit < 8; bit++)
		{
			int			rc;

			buf[i] ^= (uint8_t) (1 << bit);
			rc = raft_frame_parse(buf, sizeof(buf), 1000, &payload, &plen, &need);
			assert_int_not_equal(rc, RAFT_FRAME_OK);
			buf[i] ^= (uint8_t) (1 << bit);
		}
	assert_int_equal(raft_frame_parse(buf, sizeof(buf), 1000, &payload, &plen,
									  &need), RAFT_FRAME_OK);
	/* Larger than allowed: refused from the header alone. */
	assert_int_equal(raft_frame_parse(buf, RAFT_FRAME_HEADER, 15, &payload,
									  &plen, &need), RAFT_FRAME_TOO_BIG);
	assert_int_equal(raft_frame_parse(buf, RAFT_FRAME_HEADER, 16, &payload,
									  &plen, &need), RAFT_FRAME_NEED_MORE);
}

static void
test_frame_message(void **state)
{
	struct raft_entry entries[2] = {
		{.term = 3,.index = 7,.type = RAFT_ENTRY_COMMAND,
		.data = {.base = "abc",.len = 3}},
		{.term = 3,.index = 8,.type = RAFT_ENTRY_NOOP},
	};
	struct raft_message m = {
		.type = RAFT_MSG_APPEND,.from = 1,.to = 2,.term = 3,.log_term = 2,
		.index = 6,.commit = 5,.n_entries = 2,.entries = entries,
	};
	struct raft_message out;
	struct raft_entry dec[4];
	uint8_t    *frame;
	size_t		len;
	const uint8_t *payload;
	size_t		plen;
	size_t		need;

	assert_int_equal(raft_frame_encode_message(&m, 1 << 20, &frame, &len),
					 RAFT_OK);
	assert_int_equal(raft_frame_parse(frame, len, 1 << 20, &payload, &plen,
									  &need), RAFT_FRAME_OK);
	assert_int_equal(RAFT_FRAME_HEADER + plen, len);
	assert_int_equal(raft_decode_message(payload, plen, &out, dec, 4), RAFT_OK);
	assert_int_equal(out.type, RAFT_MSG_APPEND);
	assert_int_equal(out.from, 1);
	assert_int_equal(out.to, 2);
	assert_int_equal(out.commit, 5);
	assert_int_equal(out.n_entries, 2);
	assert_int_equal(out.entries[0].index, 7);
	assert_int_equal(out.entries[0].data.len, 3);
	assert_memory_equal(out.entries[0].data.base, "abc", 3);
	/* Entry data points into the frame: no copy. */
	assert_true((uint8_t *) out.entries[0].data.base > frame &&
				(uint8_t *) out.entries[0].data.base < frame + len);
	free(frame);

	assert_int_equal(raft_frame_encode_message(&m, 10, &frame, &len),
					 RAFT_ETOOBIG);
	assert_null(frame);
}

/* ---- handshake ------------------------------------------------------- */

static const uint8_t secret[] = "correct horse battery staple";
static const uint8_t nonce_c[RAFT_NONCE_SIZE] = {1, 2, 3};
static const uint8_t nonce_s[RAFT_NONCE_SIZE] = {9, 8, 7};

/* Moves hs->out of one side into the other, step chunks at a time. */
static void
pump(struct raft_handshake *from, struct raft_handshake *to, size_t step)
{
	uint8_t		bytes[sizeof(from->out)];
	size_t		n = from->out_len;
	size_t		off = 0;

	memcpy(bytes, from->out, n);
	from->out_len = 0;
	while (off < n && to->state != RAFT_HS_FAILED && to->state != RAFT_HS_DONE)
	{
		size_t		chunk = n - off < step ? n - off : step;

		off += raft_handshake_feed(to, bytes + off, chunk);
	}
	/* Once finished, a handshake takes no more bytes. */
	if (to->state == RAFT_HS_DONE || to->state == RAFT_HS_FAILED)
		assert_int_equal(raft_handshake_feed(to, bytes, n), 0);
}

struct hs_pair
{
	struct raft_handshake d;
	struct raft_handshake a;
};

static void
run_handshake(struct hs_pair *p, const uint8_t *dsecret, size_t dlen,
			  uint64_t dcluster, raft_id expect_peer, raft_id acceptor_id,
			  size_t step)
{
	raft_handshake_start_dialer(&p->d, 1, expect_peer, dcluster, dsecret, dlen,
								nonce_c);
	raft_handshake_start_acceptor(&p->a, acceptor_id, 77, secret,
								  sizeof(secret), nonce_s);
	pump(&p->d, &p->a, step);	/* HELLO_c */
	if (p->a.state == RAFT_HS_FAILED)
		return;
	pump(&p->a, &p->d, step);	/* HELLO_s PROOF_s */
	if (p->d.state == RAFT_HS_FAILED)
		return;
	pump(&p->d, &p->a, step);	/* PROOF_c */
}

static void
test_handshake_ok(void **state)
{
	for (size_t step = 1; step <= 96; step *= 3)
	{
		struct hs_pair p;

		run_handshake(&p, secret, sizeof(secret), 77, 2, 2, step);
		assert_int_equal(p.d.state, RAFT_HS_DONE);
		assert_int_equal(p.a.state, RAFT_HS_DONE);
		assert_int_equal(p.a.peer, 1);
		assert_int_equal(p.d.peer, 2);
	}
}

static void
test_handshake_wrong_secret(void **state)
{
	static const uint8_t other[] = "correct horse battery stapl3";
	struct hs_pair p;

	/* The acceptor proves first: the dialer finds it out and stops. */
	run_handshake(&p, other, sizeof(other), 77, 2, 2, 7);
	assert_int_equal(p.d.state, RAFT_HS_FAILED);
	assert_true(p.d.auth_failed);
	assert_non_null(strstr(p.d.error, "authentication failed"));
	assert_int_not_equal(p.a.state, RAFT_HS_DONE);

	/* A dialer that skips the check sends a bad PROOF_c: refused. */
	{
		uint8_t		forged[RAFT_PROOF_SIZE];

		raft_handshake_start_dialer(&p.d, 1, 2, 77, other, sizeof(other), nonce_c);
		raft_handshake_start_acceptor(&p.a, 2, 77, secret, sizeof(secret), nonce_s);
		pump(&p.d, &p.a, 64);
		raft_handshake_proof(other, sizeof(other), 'C', 77, 1, 2, nonce_c,
							 nonce_s, forged);
		raft_handshake_feed(&p.a, forged, sizeof(forged));
		assert_int_equal(p.a.state, RAFT_HS_FAILED);
		assert_true(p.a.auth_failed);
	}
}

static void
test_handshake_no_reflection(void **state)
{
	struct hs_pair p;
	uint8_t		proof_s[RAFT_PROOF_SIZE];

	/* Echoing the acceptor's own proof back does not authenticate. */
	raft_handshake_start_dialer(&p.d, 1, 2, 77, secret, sizeof(secret), nonce_c);
	raft_handshake_start_acceptor(&p.a, 2, 77, secret, sizeof(secret), nonce_s);
	pump(&p.d, &p.a, 64);
	assert_int_equal(p.a.out_len, RAFT_HELLO_SIZE + RAFT_PROOF_SIZE);
	memcpy(proof_s, p.a.out + RAFT_HELLO_SIZE, RAFT_PROOF_SIZE);
	raft_handshake_feed(&p.a, proof_s, sizeof(proof_s));
	assert_int_equal(p.a.state, RAFT_HS_FAILED);
}

static void
test_handshake_refusals(void **state)
{
	struct hs_pair p;

	run_handshake(&p, secret, sizeof(secret), 78, 2, 2, 64);
	assert_int_equal(p.a.state, RAFT_HS_FAILED);
	assert_non_null(strstr(p.a.error, "wrong cluster id 78"));

	/* Dialed node 3 but node 2 answers (the HELLO_c says to=3). */
	run_handshake(&p, secret, sizeof(secret), 77, 3, 2, 64);
	assert_int_equal(p.a.state, RAFT_HS_FAILED);
	assert_non_null(strstr(p.a.error, "addressed to node 3"));

	/* Own id as the peer's. */
	run_handshake(&p, secret, sizeof(secret), 77, 1, 1, 64);
	assert_int_equal(p.a.state, RAFT_HS_FAILED);

	/* Bad magic: refused without waiting for a whole HELLO. */
	raft_handshake_start_acceptor(&p.a, 2, 77, secret, sizeof(secret), nonce_s);
	raft_handshake_feed(&p.a, (const uint8_t *) "GET / HTTP/1.0\r\n", 16);
	assert_int_equal(p.a.state, RAFT_HS_FAILED);

	/* Another protocol version. */
	{
		struct raft_hello h = {.version = 1,.role = 'C',.cluster_id = 77,
		.from = 1,.to = 2};
		uint8_t		b[RAFT_HELLO_SIZE];
		struct raft_hello back;

		raft_hello_encode(&h, b);
		assert_int_equal(raft_hello_decode(b, sizeof(b), &back), RAFT_OK);
		assert_int_equal(back.from, 1);
		assert_int_equal(back.to, 2);
		b[4] = 2;
		assert_int_equal(raft_hello_decode(b, sizeof(b), &back), RAFT_EVERSION);
		raft_handshake_start_acceptor(&p.a, 2, 77, secret, sizeof(secret), nonce_s);
		raft_handshake_feed(&p.a, b, sizeof(b));
		assert_int_equal(p.a.state, RAFT_HS_FAILED);
		assert_non_null(strstr(p.a.error, "version 2"));
		assert_int_equal(raft_hello_decode(b, sizeof(b) - 1, &back),
						 RAFT_EMALFORMED);
	}
}

/* ---- addresses ------------------------------------------------------- */

static void
test_parse_addr(void **state)
{
	struct sockaddr_storage sa;
	char		out[64];

	assert_int_equal(raft_parse_addr("127.0.0.2:5432", &sa), RAFT_OK);
	raft_format_sockaddr(&sa, out, sizeof(out));
	assert_string_equal(out, "127.0.0.2:5432");
	assert_int_equal(raft_parse_addr("[::1]:7", &sa), RAFT_OK);
	assert_int_equal(sa.ss_family, AF_INET6);
	assert_int_equal(raft_parse_addr("127.0.0.1", &sa), RAFT_EINVAL);
	assert_int_equal(raft_parse_addr("127.0.0.1:", &sa), RAFT_EINVAL);
	assert_int_equal(raft_parse_addr(":80", &sa), RAFT_EINVAL);
	assert_int_equal(raft_parse_addr("127.0.0.1:65536", &sa), RAFT_EINVAL);
	assert_int_equal(raft_parse_addr("127.0.0.1:8x", &sa), RAFT_EINVAL);
	assert_int_equal(raft_parse_addr("localhost:80", &sa), RAFT_EINVAL);
	assert_int_equal(raft_parse_addr("[::1:80", &sa), RAFT_EINVAL);
}

/* ---- reconnect back-off --------------------------------------------- */

static void
test_backoff(void **state)
{
	uint64_t	lo[8] = {0};
	uint64_t	hi[8] = {0};

	/* Attempt k: within [d/2, d], d = min(max, min * 2^k). */
	for (unsigned k = 0; k < 8; k++)
	{
		uint64_t	d = 50u << k;

		if (d > 2000)
			d = 2000;
		lo[k] = UINT64_MAX;
		for (uint64_t r = 0; r < 5000; r++)
		{
			uint64_t	x = raft_backoff_ms(50, 2000, k, r * 0x9e3779b97f4a7c15ULL);

			assert_true(x >= d / 2 && x <= d);
			lo[k] = x < lo[k] ? x : lo[k];
			hi[k] = x > hi[k] ? x : hi[k];
		}
		/* Jittered: the draws spread over the range. */
		assert_true(hi[k] - lo[k] >= (d - d / 2) / 2);
	}
	assert_true(raft_backoff_ms(50, 2000, 1000, 7) <= 2000);
	assert_int_equal(raft_backoff_ms(10, 10, 3, 0), 5);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_frame_round_trip),
		cmocka_unit_test(test_frame_damage),
		cmocka_unit_test(test_frame_message),
		cmocka_unit_test(test_handshake_ok),
		cmocka_unit_test(test_handshake_wrong_secret),
		cmocka_unit_test(test_handshake_no_reflection),
		cmocka_unit_test(test_handshake_refusals),
		cmocka_unit_test(test_parse_addr),
		cmocka_unit_test(test_backoff),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
