/*
 * regress/fuzz/fuzz_handshake.c — libFuzzer target for the transport's
 * handshake state machine (raft/transport/handshake.c).
 *
 * Mode 0: the input, cut into chunks, is what an unknown peer sends to an
 * acceptor or a dialer.  Oracles: bytes taken never exceed what was given;
 * the state is always a valid one; nothing is taken once finished; the
 * only way to DONE is a valid proof, which random input cannot forge.
 *
 * Mode 1: a real dialer and acceptor talk, and the input XORs the bytes in
 * transit (a tampering network).  Oracle: both sides finish exactly when
 * nothing the handshake reads was altered, and never with a different
 * peer than the real one.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "handshake.h"

#define CHECK(cond) \
	do { if (!(cond)) { fprintf(stderr, "check failed: %s (%s:%d)\n", \
		#cond, __FILE__, __LINE__); abort(); } } while (0)

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t secret[] = "fuzzing secret";
static const uint8_t nonce_a[RAFT_NONCE_SIZE] = {0xaa, 1, 2};
static const uint8_t nonce_d[RAFT_NONCE_SIZE] = {0xdd, 3, 4};

static bool
finished(const struct raft_handshake *hs)
{
	return hs->state == RAFT_HS_DONE || hs->state == RAFT_HS_FAILED;
}

static void
raw_peer(const uint8_t *data, size_t size)
{
	struct raft_handshake hs;
	size_t		off = 1;
	size_t		chunk;

	if (size < 2)
		return;
	if (data[0] & 2)
		raft_handshake_start_dialer(&hs, 1, 2, 7, secret, sizeof(secret), nonce_d);
	else
		raft_handshake_start_acceptor(&hs, 2, 7, secret, sizeof(secret), nonce_a);
	chunk = (size_t) (data[0] >> 2) + 1;
	hs.out_len = 0;
	while (off < size)
	{
		size_t		n = size - off < chunk ? size - off : chunk;
		size_t		took = raft_handshake_feed(&hs, data + off, n);

		CHECK(took <= n);
		CHECK(hs.state >= RAFT_HS_WAIT_HELLO && hs.state <= RAFT_HS_FAILED);
		CHECK(hs.out_len <= sizeof(hs.out));
		hs.out_len = 0;
		if (finished(&hs))
		{
			CHECK(raft_handshake_feed(&hs, data, size) == 0);
			break;
		}
		CHECK(took == n);
		off += took;
	}
	/* Forging HMAC-SHA256 by chance does not happen. */
	CHECK(hs.state != RAFT_HS_DONE);
	if (hs.state == RAFT_HS_FAILED)
		CHECK(hs.error[0] != '\0');
}

/* Moves from->out to `to`, XORed with the next mask bytes. */
static bool
transit(struct raft_handshake *from, struct raft_handshake *to,
		const uint8_t *mask, size_t mask_len, size_t *mpos)
{
	uint8_t		bytes[sizeof(from->out)];
	size_t		n = from->out_len;
	size_t		took;
	bool		altered = false;

	for (size_t i = 0; i < n; i++)
	{
		uint8_t		x = *mpos < mask_len ? mask[(*mpos)++] : 0;

		bytes[i] = from->out[i] ^ x;
		altered |= x != 0;
	}
	from->out_len = 0;
	took = raft_handshake_feed(to, bytes, n);
	CHECK(took <= n);
	return altered;
}

static void
tampering_network(const uint8_t *data, size_t size)
{
	struct raft_handshake d;
	struct raft_handshake a;
	size_t		mpos = 0;
	bool		altered_c;
	bool		altered_s = false;
	bool		altered_p = false;

	raft_handshake_start_dialer(&d, 1, 2, 7, secret, sizeof(secret), nonce_d);
	raft_handshake_start_acceptor(&a, 2, 7, secret, sizeof(secret), nonce_a);
	altered_c = transit(&d, &a, data, size, &mpos);		/* HELLO_c */
	if (!finished(&a))
		altered_s = transit(&a, &d, data, size, &mpos);	/* HELLO_s PROOF_s */
	if (d.state == RAFT_HS_DONE)
		altered_p = transit(&d, &a, data, size, &mpos);	/* PROOF_c */

	CHECK((d.state == RAFT_HS_DONE) == (!altered_c && !altered_s));
	CHECK((a.state == RAFT_HS_DONE) ==
		  (!altered_c && !altered_s && !altered_p));
	if (d.state == RAFT_HS_DONE)
		CHECK(d.peer == 2);
	if (a.state == RAFT_HS_DONE)
		CHECK(a.peer == 1);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	if (data[0] & 1)
		tampering_network(data + 1, size - 1);
	else
		raw_peer(data, size);
	return 0;
}
