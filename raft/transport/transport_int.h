/*
 * raft/transport/transport_int.h — the transport's private types, shared by
 * transport.c (lifecycle, listener, API), peer.c (outgoing side: queue,
 * dial, back-off), peer_write.c (writing a peer's queue to its connection),
 * conn.c (one TCP connection: handshake, reading, frames) and tlog.c
 * (rate-limited log, addresses, jitter).
 */
#ifndef RAFT_TRANSPORT_INT_H
#define RAFT_TRANSPORT_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "handshake.h"
#include "transport.h"

#define RAFT_CONN_READ_MIN (64 * 1024)	/* receive buffer kept per connection */
#define RAFT_WRITE_BATCH 64		/* frames per writev or uv_write */
#define RAFT_TLOG_SLOTS 32		/* peers the log rate limit remembers */
#define RAFT_TLOG_KEY_LEN 80
#define RAFT_TLOG_LINE_LEN 256

struct raft_peer;

/* One frame waiting in a peer's send queue. */
struct raft_out_msg
{
	struct raft_out_msg *next;
	uint8_t    *frame;
	size_t		len;
};

/* One TCP connection, dialed (send-only) or accepted (receive-only). */
struct raft_conn
{
	uv_tcp_t	tcp;
	uv_timer_t	timer;			/* handshake, then stall timeout */
	uv_connect_t connect_req;
	struct raft_transport *t;
	struct raft_peer *peer;		/* dialed: owner, NULL once detached */
	bool		dialer;
	bool		closing;
	bool		ready;			/* handshake done */
	int			open_handles;	/* freed when it drops to 0 */
	struct raft_handshake hs;
	char		remote[RAFT_TLOG_KEY_LEN];	/* "node 3" or "127.0.0.9:4321" */
	uint8_t    *rbuf;
	size_t		rlen;
	size_t		rcap;
	struct raft_entry *entries; /* decode array for received messages */
	size_t		entries_cap;
	struct raft_conn *next;		/* transport's accepted list */
	struct raft_conn *prev;
};

/* An outgoing destination. */
struct raft_peer
{
	struct raft_transport *t;
	raft_id		id;
	char		addr[RAFT_ADDR_LEN];
	struct sockaddr_storage sa;
	struct raft_conn *conn;		/* current outgoing connection, or NULL */
	uv_timer_t	backoff_timer;
	bool		removed;		/* waiting for its timer to close */
	unsigned	attempts;		/* failed dials since the last success */
	/* queue: not yet handed to the socket */
	struct raft_out_msg *head;
	struct raft_out_msg *tail;
	/* bounded together with what is being written */
	size_t		queued_bytes;
	unsigned	queued_msgs;
	size_t		inflight_bytes;
	unsigned	inflight_msgs;
	bool		writing;
};

struct raft_tlog_slot
{
	char		key[RAFT_TLOG_KEY_LEN];
	uint64_t	last_ms;
	uint64_t	suppressed;
	bool		used;
};

struct raft_transport
{
	uv_loop_t  *loop;
	struct raft_transport_options opt;
	char		listen_addr[RAFT_ADDR_LEN];
	uint8_t		secret[RAFT_TRANSPORT_SECRET_MAX];
	struct sockaddr_storage listen_sa;
	struct sockaddr_storage bind_sa;	/* listen host, port 0 */
	uv_tcp_t	listener;
	bool		listener_open;
	struct raft_peer *peers[RAFT_TRANSPORT_MAX_PEERS];
	unsigned	n_peers;
	struct raft_conn *incoming;
	unsigned	n_incoming;
	uint64_t	rng;
	struct raft_transport_stats stats;
	struct raft_tlog_slot tlog[RAFT_TLOG_SLOTS];
	bool		corked;			/* sends only queue (raft_transport_cork) */
	bool		closing;
	unsigned	open_handles;
	void		(*close_cb) (void *arg);
	void	   *close_arg;
};

/* transport.c */
void		raft_transport_handle_closed(struct raft_transport *t);

/* conn.c */
struct raft_conn *raft_conn_new(struct raft_transport *t, bool dialer);
int			raft_conn_dial(struct raft_conn *c, struct raft_peer *p);
int			raft_conn_accept(struct raft_conn *c);
void		raft_conn_name_remote(struct raft_conn *c);	/* "from host" */
void		raft_conn_close(struct raft_conn *c, const char *why);
void		raft_conn_stall_timer(struct raft_conn *c, bool on);

/* peer.c */
struct raft_peer *raft_peer_new(struct raft_transport *t, raft_id id,
								const char *addr,
								const struct sockaddr_storage *sa);
void		raft_peer_destroy(struct raft_peer *p);
void		raft_peer_dial(struct raft_peer *p);
void		raft_peer_conn_ready(struct raft_peer *p);
void		raft_peer_conn_lost(struct raft_peer *p, struct raft_conn *c);
int			raft_peer_enqueue(struct raft_peer *p, uint8_t *frame, size_t len);
void		raft_peer_drop_queue(struct raft_peer *p);

/* peer_write.c */
void		raft_peer_flush(struct raft_peer *p);
void		raft_out_msg_free(struct raft_out_msg *m);

/* tlog.c */
void		raft_tlog(struct raft_transport *t, int level, const char *key,
					  const char *fmt,...) __attribute__((format(printf, 4, 5)));
int			raft_parse_addr(const char *addr, struct sockaddr_storage *sa);
void		raft_format_sockaddr(const struct sockaddr_storage *sa, char *out,
								 size_t cap);
uint64_t	raft_transport_random(struct raft_transport *t);
uint64_t	raft_backoff_ms(unsigned min_ms, unsigned max_ms, unsigned attempt,
							uint64_t random);

#endif							/* RAFT_TRANSPORT_INT_H */
