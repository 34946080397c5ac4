/*
 * raft/transport/transport.h — the Raft transport: raft_message over libuv
 * TCP between the members of one cluster.
 *
 * Runs inside the caller's uv_loop_t and never blocks it.  Every call below
 * is made from the loop's thread.  The process must ignore SIGPIPE (as
 * PostgreSQL's processes do): libuv writes with write(2) on Linux, so a
 * write to a peer that just died would otherwise kill the process.
 *
 * Connections.  Each node dials every peer for its own outgoing messages;
 * a connection it accepts is receive-only.  So there is one connection per
 * direction and pair, and no tie-breaking.  Outgoing connections bind to the
 * host of listen_addr (port 0), so a node's packets carry its own source
 * address.  Addresses are numeric "host:port" (IPv4 "1.2.3.4:5", IPv6
 * "[::1]:5"); names are not resolved.
 *
 * Handshake (every connection, before any frame; see handshake.h):
 *   dialer   -> HELLO(magic, version, cluster id, from, to, nonce_c)
 *   acceptor -> HELLO(..., nonce_s) PROOF_s
 *   dialer   -> PROOF_c
 * PROOF = HMAC-SHA256(secret, label, direction, cluster id, both ids, both
 * nonces).  The secret never crosses the wire; proofs are compared in
 * constant time.  A wrong magic, version, cluster id, node id or proof
 * closes that connection and is logged.  An acceptor takes any node id
 * that proves the secret (a joining member may not be configured yet), but
 * every message it delivers must come from that id; and a peer it knows
 * (raft_transport_set_peer) must connect from the host it is listed at,
 * unless listed at a wildcard host: otherwise two servers have the same
 * id, or the address is wrong, and the connection is refused and logged.
 *
 * Frames (see frame.h): u32 payload length, u32 CRC-32C of (length bytes,
 * payload), payload = raft_encode_message.  A frame longer than
 * max_frame_bytes, a bad CRC, a payload the codec refuses, or a message
 * whose `from` is not the authenticated peer or whose `to` is not this node
 * closes that connection only.
 *
 * Send queue policy.  Each peer has a queue bounded by queue_max_bytes and
 * queue_max_msgs (counting the messages being written).  When a message
 * does not fit, THE NEW MESSAGE IS DROPPED and counted (stats.dropped_full);
 * raft_transport_send then returns RAFT_EBUSY.  Raft tolerates lost
 * messages: the core retransmits (heartbeats, probes).  Messages queued
 * while the peer is unreachable stay queued (within the bounds) and go out
 * once a connection is authenticated; a message whose write was under way
 * when a connection broke is lost.
 *
 * Reconnect: after a failed dial or a broken connection, the next dial is
 * after a jittered exponential back-off: attempt k waits a uniform random
 * time in [d/2, d], d = min(backoff_max_ms, backoff_min_ms * 2^k); k resets
 * when a handshake succeeds.  The randomness comes from options.seed.
 *
 * Timeouts: a connection whose handshake is not done after
 * handshake_timeout_ms, or that holds part of a frame and receives nothing
 * for stall_timeout_ms, is closed; so is a dialed connection whose write
 * makes no progress for stall_timeout_ms (a peer that stopped reading).
 * Accepted connections are bounded by max_incoming; more are closed at
 * once.  A new authenticated connection from a node closes its older ones
 * (stale); TCP keepalive finds peers that vanished.
 *
 * Logging goes through options.log only (never stdio), rate-limited: at
 * most one line per peer (node id, or remote host before the handshake)
 * and level per log_interval_ms; a later line says how many were
 * suppressed.
 *
 * Received messages are delivered by options.on_message.  Entry data and
 * snapshot data point into the connection's receive buffer and are valid
 * only during the callback (raft_step copies).  The callback may call any
 * function of this API, including raft_transport_close.
 *
 * Errors are returned as enum raft_error codes (raft.h); nothing longjmps.
 */
#ifndef RAFT_TRANSPORT_H
#define RAFT_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "raft.h"

#define RAFT_TRANSPORT_MAX_PEERS 64 /* outgoing peers, and ids remembered */
#define RAFT_TRANSPORT_SECRET_MAX 256	/* bytes of shared secret */

/*
 * The largest max_frame_bytes: a whole frame (header and payload) must fit
 * the u32 length of the wire format and of a libuv buffer.
 */
#define RAFT_TRANSPORT_MAX_FRAME_BYTES ((size_t) UINT32_MAX - 8)

struct raft_transport;

enum raft_transport_log_level
{
	RAFT_TRANSPORT_LOG_DEBUG = 1,
	RAFT_TRANSPORT_LOG_INFO = 2,
	RAFT_TRANSPORT_LOG_WARNING = 3
};

struct raft_transport_options
{
	raft_id		id;				/* this node, >= 1 */
	const char *listen_addr;	/* "host:port"; copied */
	uint64_t	cluster_id;		/* peers with another id are refused */
	const void *secret;			/* shared secret; copied; 1..SECRET_MAX */
	size_t		secret_len;
	uint64_t	seed;			/* back-off jitter */

	size_t		max_frame_bytes;	/* payload bytes; default 64 MiB + 64 KiB;
									 * at most RAFT_TRANSPORT_MAX_FRAME_BYTES */
	size_t		queue_max_bytes;	/* per peer; default 128 MiB */
	unsigned	queue_max_msgs; /* per peer; default 4096 */
	unsigned	backoff_min_ms; /* default 50 */
	unsigned	backoff_max_ms; /* default 2000 */
	unsigned	handshake_timeout_ms;	/* default 5000 */
	unsigned	stall_timeout_ms;	/* default 30000 */
	unsigned	max_incoming;	/* accepted connections; default 64 */
	unsigned	log_interval_ms;	/* per-peer log rate limit; default 10000 */

	/* A message from an authenticated peer (see above). */
	void		(*on_message) (struct raft_transport *t,
							   const struct raft_message *m, void *arg);

	/* Optional: one line of log, without newline. */
	void		(*log) (void *arg, int level, const char *line);

	void	   *arg;			/* passed to on_message and log */
};

/* Counters since raft_transport_new. */
struct raft_transport_stats
{
	uint64_t	msgs_sent;		/* written to a socket */
	uint64_t	msgs_received;	/* delivered to on_message */
	uint64_t	dropped_full;	/* refused: send queue full */
	uint64_t	dropped_no_peer;	/* refused: unknown destination */
	uint64_t	dropped_broken; /* lost with a broken connection */
	uint64_t	dials;			/* outgoing connection attempts */
	uint64_t	handshakes_ok;	/* both directions */
	uint64_t	handshakes_failed;	/* refused or timed out */
	uint64_t	bad_frames;		/* oversized, bad CRC, undecodable, spoofed */
	uint64_t	accepted;		/* incoming connections */
	uint64_t	refused_incoming;	/* closed at once: max_incoming reached */
	uint64_t	log_suppressed; /* log lines dropped by the rate limit */
};

/* Fills in the defaults above; the caller then sets id, addr, secret... */
void		raft_transport_options_default(struct raft_transport_options *opt);

/*
 * Creates the transport and starts listening.  RAFT_EINVAL for a bad option
 * or address, RAFT_EIO if the address cannot be bound (a line is logged),
 * RAFT_ENOMEM.  On error *out is NULL; after RAFT_EIO the listener handle
 * is still closing: the next run of the loop frees it.
 */
int			raft_transport_new(uv_loop_t *loop,
							   const struct raft_transport_options *opt,
							   struct raft_transport **out);

/* The port actually bound (useful with port 0), in host order. */
int			raft_transport_port(const struct raft_transport *t);

/*
 * Adds a peer or changes its address (a change drops the connection and
 * the queue, and redials).  The first dial is immediate.  RAFT_EINVAL for
 * id == own id, RAFT_NONE or a bad address, RAFT_ETOOMANY.
 */
int			raft_transport_set_peer(struct raft_transport *t, raft_id id,
									const char *addr);

/* Forgets a peer: closes its outgoing connection, drops its queue. */
int			raft_transport_remove_peer(struct raft_transport *t, raft_id id);

/*
 * Encodes m and queues it for m->to.  RAFT_OK when queued; RAFT_EBUSY when
 * dropped because the queue is full; RAFT_EUNKNOWNNODE when m->to is not a
 * peer; RAFT_ETOOBIG beyond max_frame_bytes; RAFT_ESHUTDOWN after close.
 * m is not referenced after the call.
 */
int			raft_transport_send(struct raft_transport *t,
								const struct raft_message *m);

/*
 * Batching the sends of one pass (say, one raft_ready's messages).  After
 * raft_transport_cork, raft_transport_send only queues (same bounds, same
 * return codes); raft_transport_flush uncorks and writes every peer's queue,
 * so the messages to one peer leave in one writev where the socket takes
 * them.  Without cork, each send writes at once.  Call flush before
 * returning to the loop: while corked, queued messages wait (a write that
 * completes, or a connection that becomes ready, still writes its peer's
 * queue).  Both are no-ops after raft_transport_close.
 */
void		raft_transport_cork(struct raft_transport *t);
void		raft_transport_flush(struct raft_transport *t);

/* True when the outgoing connection to id is authenticated. */
bool		raft_transport_connected(const struct raft_transport *t, raft_id id);

void		raft_transport_get_stats(const struct raft_transport *t,
									 struct raft_transport_stats *st);

/*
 * Closes every handle; cb runs (from the loop) once all are closed, after
 * which the transport is freed.  No callback runs after cb.  Calling it
 * twice is a no-op.
 */
void		raft_transport_close(struct raft_transport *t,
								 void (*cb) (void *arg), void *arg);

#endif							/* RAFT_TRANSPORT_H */
