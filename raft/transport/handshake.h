/*
 * raft/transport/handshake.h — the connection handshake as a pure state
 * machine: bytes in, bytes to send out, a verdict.  No sockets, no clock,
 * no randomness (the caller passes the nonce), so the fuzzer can drive it.
 *
 *   dialer   -> HELLO{role 'C', from = dialer, to = acceptor, nonce_c}
 *   acceptor -> HELLO{role 'S', from = acceptor, to = dialer, nonce_s}
 *               PROOF_s
 *   dialer   -> PROOF_c
 *
 * HELLO (64 bytes): "PGRF", u16 version, u8 role, u8 0, u64 cluster id,
 * u64 from, u64 to, 32-byte nonce; integers little-endian.
 * PROOF_x (32 bytes) = HMAC-SHA256(secret, "pg_raft/transport/v1" || x ||
 * cluster id || dialer id || acceptor id || nonce_c || nonce_s), x = 'S' or
 * 'C': the direction byte keeps a proof from being reflected back.
 * Each side checks the other's proof with CRYPTO_memcmp; the secret itself
 * is never sent.  The acceptor learns who dials from the HELLO and trusts
 * it only once PROOF_c checks out.
 */
#ifndef RAFT_TRANSPORT_HANDSHAKE_H
#define RAFT_TRANSPORT_HANDSHAKE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "raft.h"

#define RAFT_PROTOCOL_VERSION 1
#define RAFT_HELLO_SIZE 64
#define RAFT_PROOF_SIZE 32
#define RAFT_NONCE_SIZE 32
#define RAFT_HS_ERROR_LEN 128

struct raft_hello
{
	uint16_t	version;
	uint8_t		role;			/* 'C' dialer, 'S' acceptor */
	uint64_t	cluster_id;
	raft_id		from;
	raft_id		to;
	uint8_t		nonce[RAFT_NONCE_SIZE];
};

void		raft_hello_encode(const struct raft_hello *h, uint8_t *out);

/* RAFT_OK, RAFT_EMALFORMED (size, magic, role, padding), RAFT_EVERSION. */
int			raft_hello_decode(const uint8_t *buf, size_t len,
							  struct raft_hello *h);

enum raft_hs_state
{
	RAFT_HS_WAIT_HELLO = 1,		/* dialer: HELLO + PROOF_s; acceptor: HELLO */
	RAFT_HS_WAIT_PROOF = 2,		/* acceptor: PROOF_c */
	RAFT_HS_DONE = 3,
	RAFT_HS_FAILED = 4
};

struct raft_handshake
{
	bool		dialer;
	int			state;			/* enum raft_hs_state */
	raft_id		self;
	raft_id		peer;			/* dialer: expected; acceptor: learned */
	uint64_t	cluster_id;
	const uint8_t *secret;		/* not copied: outlives the handshake */
	size_t		secret_len;
	uint8_t		nonce_c[RAFT_NONCE_SIZE];
	uint8_t		nonce_s[RAFT_NONCE_SIZE];
	uint8_t		in[RAFT_HELLO_SIZE + RAFT_PROOF_SIZE];
	size_t		in_len;
	/* Bytes the caller must send now; it sets out_len = 0 once taken. */
	uint8_t		out[RAFT_HELLO_SIZE + RAFT_PROOF_SIZE];
	size_t		out_len;
	bool		auth_failed;	/* FAILED because a proof did not match */
	char		error[RAFT_HS_ERROR_LEN];	/* why FAILED */
};

/* The dialer's HELLO is in hs->out on return. */
void		raft_handshake_start_dialer(struct raft_handshake *hs, raft_id self,
										raft_id peer, uint64_t cluster_id,
										const uint8_t *secret, size_t secret_len,
										const uint8_t *nonce);

void		raft_handshake_start_acceptor(struct raft_handshake *hs,
										  raft_id self, uint64_t cluster_id,
										  const uint8_t *secret,
										  size_t secret_len,
										  const uint8_t *nonce);

/*
 * Consumes handshake bytes from buf and returns how many it took; it takes
 * none once DONE or FAILED, so what follows the handshake (frames) stays
 * with the caller.  After each call the caller sends hs->out if out_len > 0.
 */
size_t		raft_handshake_feed(struct raft_handshake *hs, const uint8_t *buf,
								size_t len);

/* The proof a side sends (exposed for the tests). */
void		raft_handshake_proof(const uint8_t *secret, size_t secret_len,
								 uint8_t direction, uint64_t cluster_id,
								 raft_id dialer, raft_id acceptor,
								 const uint8_t *nonce_c, const uint8_t *nonce_s,
								 uint8_t *out);

#endif							/* RAFT_TRANSPORT_HANDSHAKE_H */
