/*
 * raft/transport/conn.c — one TCP connection of the transport: connect or
 * accept, the handshake (handshake.c), reading into a bounded buffer,
 * cutting frames (frame.c), decoding and delivering messages, timeouts and
 * closing.  A dialed connection only sends after its handshake (the writes
 * are peer.c's); an accepted one only receives.  Anything unexpected closes
 * this connection alone.
 */
#include "transport_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "codec.h"
#include "frame.h"

struct hs_write
{
	uv_write_t	req;
	uint8_t		bytes[RAFT_HELLO_SIZE + RAFT_PROOF_SIZE];
};

static void
conn_handle_closed(uv_handle_t *h)
{
	struct raft_conn *c = h->data;
	struct raft_transport *t = c->t;

	if (--c->open_handles == 0)
	{
		free(c->rbuf);
		free(c->entries);
		free(c);
	}
	raft_transport_handle_closed(t);
}

struct raft_conn *
raft_conn_new(struct raft_transport *t, bool dialer)
{
	struct raft_conn *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	c->t = t;
	c->dialer = dialer;
	uv_tcp_init(t->loop, &c->tcp);
	uv_timer_init(t->loop, &c->timer);
	c->tcp.data = c;
	c->timer.data = c;
	c->open_handles = 2;
	t->open_handles += 2;
	return c;
}

void
raft_conn_close(struct raft_conn *c, const char *why)
{
	struct raft_transport *t = c->t;
	struct raft_peer *p = c->peer;

	if (c->closing)
		return;
	c->closing = true;
	if (why != NULL)
		raft_tlog(t, RAFT_TRANSPORT_LOG_WARNING, c->remote,
				  "closing %s connection: %s",
				  c->dialer ? "outgoing" : "incoming", why);
	uv_timer_stop(&c->timer);
	uv_close((uv_handle_t *) &c->timer, conn_handle_closed);
	uv_close((uv_handle_t *) &c->tcp, conn_handle_closed);
	if (c->dialer)
	{
		if (p != NULL)
			raft_peer_conn_lost(p, c);
	}
	else
	{
		if (c->prev != NULL)
			c->prev->next = c->next;
		else
			t->incoming = c->next;
		if (c->next != NULL)
			c->next->prev = c->prev;
		c->next = c->prev = NULL;
		t->n_incoming--;
	}
}

static void
timer_fired(uv_timer_t *timer)
{
	struct raft_conn *c = timer->data;

	if (!c->ready)
	{
		c->t->stats.handshakes_failed++;
		raft_conn_close(c, "handshake timed out");
	}
	else
		raft_conn_close(c, c->dialer ? "peer stopped reading (write stalled)"
						: "peer stalled in the middle of a frame");
}

void
raft_conn_stall_timer(struct raft_conn *c, bool on)
{
	if (c->closing)
		return;
	if (on)
		uv_timer_start(&c->timer, timer_fired, c->t->opt.stall_timeout_ms, 0);
	else
		uv_timer_stop(&c->timer);
}

static void
hs_write_done(uv_write_t *req, int status)
{
	free(req->data);
}

/* Sends what the handshake produced (copied: it outlives hs->out). */
static void
send_handshake_out(struct raft_conn *c)
{
	struct hs_write *w;
	uv_buf_t	buf;
	int			rc;

	if (c->hs.out_len == 0)
		return;
	w = malloc(sizeof(*w));
	if (w == NULL)
	{
		raft_conn_close(c, "out of memory");
		return;
	}
	memcpy(w->bytes, c->hs.out, c->hs.out_len);
	buf = uv_buf_init((char *) w->bytes, (unsigned) c->hs.out_len);
	c->hs.out_len = 0;
	w->req.data = w;
	rc = uv_write(&w->req, (uv_stream_t *) &c->tcp, &buf, 1, hs_write_done);
	if (rc != 0)
	{
		free(w);
		raft_conn_close(c, uv_strerror(rc));
	}
}

/*
 * Room for the next read: at least what the current frame needs (bounded by
 * max_frame_bytes, grown by doubling so a half frame costs only what was
 * sent), and never shrinking below what is buffered.
 */
static void
alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct raft_conn *c = h->data;
	size_t		want = c->rlen + RAFT_CONN_READ_MIN;
	uint8_t    *nb;

	if (c->ready && !c->dialer && c->rlen >= RAFT_FRAME_HEADER)
	{
		const uint8_t *payload;
		size_t		plen;
		size_t		need;

		if (raft_frame_parse(c->rbuf, c->rlen, c->t->opt.max_frame_bytes,
							 &payload, &plen, &need) == RAFT_FRAME_NEED_MORE &&
			need > want)
		{
			size_t		doubled = c->rcap * 2 > want ? c->rcap * 2 : want;

			want = need < doubled ? need : doubled;
		}
	}
	if (want < RAFT_CONN_READ_MIN)
		want = RAFT_CONN_READ_MIN;
	if (c->rcap < want || c->rbuf == NULL)
	{
		nb = realloc(c->rbuf, want);
		if (nb == NULL)
		{
			buf->base = NULL;
			buf->len = 0;		/* libuv reports UV_ENOBUFS */
			return;
		}
		c->rbuf = nb;
		c->rcap = want;
	}
	buf->base = (char *) c->rbuf + c->rlen;
	buf->len = c->rcap - c->rlen;
}

/* Decodes one payload and hands it to the host; false if the conn closed. */
static bool
deliver(struct raft_conn *c, const uint8_t *payload, size_t len)
{
	struct raft_transport *t = c->t;
	struct raft_message m;
	int			rc;

	rc = raft_frame_decode_message(payload, len, &m, &c->entries,
								   &c->entries_cap);
	if (rc == RAFT_ENOMEM)
	{
		raft_conn_close(c, "out of memory");
		return false;
	}
	if (rc != RAFT_OK)
	{
		t->stats.bad_frames++;
		raft_conn_close(c, raft_strerror(rc));
		return false;
	}
	if (m.from != c->hs.peer || m.to != t->opt.id)
	{
		t->stats.bad_frames++;
		raft_conn_close(c, "message with a wrong sender or destination");
		return false;
	}
	t->stats.msgs_received++;
	if (t->opt.on_message != NULL)
		t->opt.on_message(t, &m, t->opt.arg);
	/* Do not keep a huge decode array after a huge message. */
	if (c->entries_cap > 1024)
	{
		free(c->entries);
		c->entries = NULL;
		c->entries_cap = 0;
	}
	return !c->closing;
}

/* The host part of a socket address, as bytes; 0 if not IP. */
static size_t
host_bytes(const struct sockaddr_storage *sa, const uint8_t **out)
{
	if (sa->ss_family == AF_INET)
	{
		*out = (const uint8_t *) &((const struct sockaddr_in *) sa)->sin_addr;
		return 4;
	}
	if (sa->ss_family == AF_INET6)
	{
		*out = (const uint8_t *) &((const struct sockaddr_in6 *) sa)->sin6_addr;
		return 16;
	}
	return 0;
}

/*
 * An authenticated peer that this node knows at another host: two servers
 * with the same node id, or a server listed under the wrong address.  A
 * node dials from the host of its listen address (transport.h), so an
 * incoming connection from node N comes from N's listed host.  Unknown ids
 * (a server joining) and peers listed at a wildcard host are not checked.
 * Returns false, and closes c, on a mismatch.
 */
static bool
check_peer_host(struct raft_conn *c)
{
	struct raft_transport *t = c->t;
	struct sockaddr_storage sa;
	int			len = sizeof(sa);
	const uint8_t *want;
	const uint8_t *got;
	size_t		want_len;
	size_t		got_len;
	char		from[64];
	char		why[RAFT_TLOG_LINE_LEN];

	for (unsigned i = 0; i < t->n_peers; i++)
	{
		struct raft_peer *p = t->peers[i];
		bool		wildcard = true;

		if (p->id != c->hs.peer)
			continue;
		want_len = host_bytes(&p->sa, &want);
		for (size_t k = 0; k < want_len; k++)
			if (want[k] != 0)
				wildcard = false;
		memset(&sa, 0, sizeof(sa));
		if (want_len == 0 || wildcard ||
			uv_tcp_getpeername(&c->tcp, (struct sockaddr *) &sa, &len) != 0)
			return true;
		got_len = host_bytes(&sa, &got);
		if (got_len == want_len && memcmp(got, want, got_len) == 0)
			return true;
		raft_format_sockaddr(&sa, from, sizeof(from));
		snprintf(why, sizeof(why),
				 "node %llu connects from %s but is listed at %s "
				 "(the same node id on two servers, or a wrong address?)",
				 (unsigned long long) c->hs.peer, from, p->addr);
		t->stats.handshakes_failed++;
		raft_conn_close(c, why);
		return false;
	}
	return true;
}

static void
handshake_done(struct raft_conn *c)
{
	struct raft_transport *t = c->t;

	if (!c->dialer && !check_peer_host(c))
		return;
	c->ready = true;
	t->stats.handshakes_ok++;
	uv_timer_stop(&c->timer);
	snprintf(c->remote, sizeof(c->remote), "node %llu",
			 (unsigned long long) c->hs.peer);
	raft_tlog(t, RAFT_TRANSPORT_LOG_INFO, c->remote, "%s connection ready",
			  c->dialer ? "outgoing" : "incoming");
	if (c->dialer && c->peer != NULL)
		raft_peer_conn_ready(c->peer);
	if (!c->dialer)
	{
		/*
		 * A peer dials one connection at a time: an older one from the
		 * same node is stale (say, half-open after the peer crashed).
		 */
		struct raft_conn *o = t->incoming;

		while (o != NULL)
		{
			struct raft_conn *next = o->next;

			if (o != c && o->ready && o->hs.peer == c->hs.peer)
				raft_conn_close(o, "replaced by a newer connection");
			o = next;
		}
	}
}

/* Consumes c->rbuf[0..rlen): handshake bytes, then frames. */
static void
process_input(struct raft_conn *c)
{
	struct raft_transport *t = c->t;
	size_t		off = 0;

	if (!c->ready)
	{
		off = raft_handshake_feed(&c->hs, c->rbuf, c->rlen);
		send_handshake_out(c);
		if (c->closing)
			return;
		if (c->hs.state == RAFT_HS_FAILED)
		{
			t->stats.handshakes_failed++;
			raft_conn_close(c, c->hs.error);
			return;
		}
		if (c->hs.state == RAFT_HS_DONE)
			handshake_done(c);
		if (c->closing)
			return;
	}
	if (c->ready && c->dialer && off < c->rlen)
	{
		raft_conn_close(c, "unexpected data on an outgoing connection");
		return;
	}
	while (c->ready && off < c->rlen)
	{
		const uint8_t *payload;
		size_t		plen;
		size_t		need;
		int			rc;

		rc = raft_frame_parse(c->rbuf + off, c->rlen - off,
							  t->opt.max_frame_bytes, &payload, &plen, &need);
		if (rc == RAFT_FRAME_NEED_MORE)
			break;
		if (rc != RAFT_FRAME_OK)
		{
			t->stats.bad_frames++;
			raft_conn_close(c, rc == RAFT_FRAME_TOO_BIG ?
							"frame larger than max_frame_bytes" :
							"frame checksum mismatch");
			return;
		}
		if (!deliver(c, payload, plen))
			return;
		off += RAFT_FRAME_HEADER + plen;
	}
	if (off > 0)
	{
		memmove(c->rbuf, c->rbuf + off, c->rlen - off);
		c->rlen -= off;
	}
	/* Give back a big buffer once the big frame is gone. */
	if (c->rcap > 16 * RAFT_CONN_READ_MIN && c->rlen <= RAFT_CONN_READ_MIN)
	{
		uint8_t    *nb = realloc(c->rbuf, RAFT_CONN_READ_MIN);

		if (nb != NULL)
		{
			c->rbuf = nb;
			c->rcap = RAFT_CONN_READ_MIN;
		}
	}
	if (c->ready && !c->dialer)
		raft_conn_stall_timer(c, c->rlen > 0);
}

static void
read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct raft_conn *c = s->data;

	if (c->closing)
		return;
	if (nread < 0)
	{
		if (!c->ready)
			c->t->stats.handshakes_failed++;
		raft_conn_close(c, nread == UV_EOF ? "closed by peer" :
						uv_strerror((int) nread));
		return;
	}
	if (nread == 0)
		return;
	c->rlen += (size_t) nread;
	process_input(c);
}

static void
start_handshake(struct raft_conn *c)
{
	struct raft_transport *t = c->t;
	uint8_t		nonce[RAFT_NONCE_SIZE];
	int			rc;

	if (RAND_bytes(nonce, sizeof(nonce)) != 1)
	{
		raft_conn_close(c, "no randomness for the handshake nonce");
		return;
	}
	if (c->dialer)
		raft_handshake_start_dialer(&c->hs, t->opt.id, c->peer->id,
									t->opt.cluster_id, t->secret,
									t->opt.secret_len, nonce);
	else
		raft_handshake_start_acceptor(&c->hs, t->opt.id, t->opt.cluster_id,
									  t->secret, t->opt.secret_len, nonce);
	uv_tcp_nodelay(&c->tcp, 1);
	/* Finds peers that vanished without a FIN (power loss, partition). */
	uv_tcp_keepalive(&c->tcp, 1, 30);
	uv_timer_start(&c->timer, timer_fired, t->opt.handshake_timeout_ms, 0);
	rc = uv_read_start((uv_stream_t *) &c->tcp, alloc_cb, read_cb);
	if (rc != 0)
	{
		raft_conn_close(c, uv_strerror(rc));
		return;
	}
	send_handshake_out(c);
}

static void
connect_cb(uv_connect_t *req, int status)
{
	struct raft_conn *c = req->data;

	if (c->closing)
		return;
	if (status != 0)
	{
		raft_conn_close(c, NULL);	/* the peer logs the failed dial */
		return;
	}
	start_handshake(c);
}

int
raft_conn_dial(struct raft_conn *c, struct raft_peer *p)
{
	struct raft_transport *t = c->t;
	int			rc;

	c->peer = p;
	snprintf(c->remote, sizeof(c->remote), "node %llu",
			 (unsigned long long) p->id);
	rc = uv_tcp_bind(&c->tcp, (const struct sockaddr *) &t->bind_sa, 0);
	if (rc == 0)
	{
		c->connect_req.data = c;
		rc = uv_tcp_connect(&c->connect_req, &c->tcp,
							(const struct sockaddr *) &p->sa, connect_cb);
	}
	if (rc != 0)
	{
		raft_tlog(t, RAFT_TRANSPORT_LOG_WARNING, c->remote,
				  "cannot dial %s: %s", p->addr, uv_strerror(rc));
		return RAFT_EIO;
	}
	/* The handshake timer also bounds the connect. */
	uv_timer_start(&c->timer, timer_fired, t->opt.handshake_timeout_ms, 0);
	return RAFT_OK;
}

void
raft_conn_name_remote(struct raft_conn *c)
{
	struct sockaddr_storage sa;
	int			len = sizeof(sa);
	char		full[64];
	char	   *colon;

	/* Before the handshake the log key is the remote host (no port). */
	memset(&sa, 0, sizeof(sa));
	if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *) &sa, &len) == 0)
		raft_format_sockaddr(&sa, full, sizeof(full));
	else
		snprintf(full, sizeof(full), "unknown:0");
	colon = strrchr(full, ':');
	if (colon != NULL)
		*colon = '\0';
	snprintf(c->remote, sizeof(c->remote), "from %s", full);
}

int
raft_conn_accept(struct raft_conn *c)
{
	raft_conn_name_remote(c);
	start_handshake(c);
	return c->closing ? RAFT_EIO : RAFT_OK;
}
