/*
 * regress/unit/test_transport.c — the transport over real loopback sockets
 * (each node on its own 127.0.0.x): delivery both ways, queue bounds,
 * unknown peers, reconnect, membership changes, and hostile input — a raw
 * client sending garbage, a wrong secret, a wrong cluster id, and an
 * authenticated client sending bad, oversized, spoofed and half frames —
 * after which the node still serves.  Also the log rate limit and a clean
 * close.  Waits are bounded by a guard (a hang fails the test), never by a
 * timing threshold.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <openssl/rand.h>

#include "codec.h"
#include "frame.h"
#include "handshake.h"
#include "transport.h"

#define GUARD_MS 15000			/* a test that waits longer has hung */
#define CLUSTER 4242
#define MAX_NODES 4

static const char secret[] = "s3cret-for-tests";

struct node
{
	struct raft_transport *t;
	raft_id		id;
	char		ip[32];
	char		addr[64];
	int			received;
	struct raft_message last;
	char		last_data[64];
	char		seq[256];		/* entry data of what arrived, '|'-ended */
	int			log_lines;
	char		log_match[64];	/* lines containing it are counted */
	int			log_matched;
	bool		closed;
};

struct world
{
	uv_loop_t	loop;
	uv_timer_t	ticker;
	struct node nodes[MAX_NODES + 1];	/* by id */
};

static void
on_message(struct raft_transport *t, const struct raft_message *m, void *arg)
{
	struct node *n = arg;

	n->received++;
	n->last = *m;
	n->last.entries = NULL;
	n->last_data[0] = '\0';
	if (m->n_entries > 0 && m->entries[0].data.len < sizeof(n->last_data))
	{
		memcpy(n->last_data, m->entries[0].data.base, m->entries[0].data.len);
		n->last_data[m->entries[0].data.len] = '\0';
		if (strlen(n->seq) + strlen(n->last_data) + 2 < sizeof(n->seq))
		{
			strcat(n->seq, n->last_data);
			strcat(n->seq, "|");
		}
	}
}

static void
on_log(void *arg, int level, const char *line)
{
	struct node *n = arg;

	n->log_lines++;
	if (n->log_match[0] != '\0' && strstr(line, n->log_match) != NULL)
		n->log_matched++;
	if (getenv("TEST_TRANSPORT_VERBOSE") != NULL)
		fprintf(stderr, "log: %s\n", line);
}

static void
tick(uv_timer_t *timer)
{
}

static int
setup(void **state)
{
	struct world *w = calloc(1, sizeof(*w));

	assert_int_equal(uv_loop_init(&w->loop), 0);
	uv_timer_init(&w->loop, &w->ticker);
	uv_timer_start(&w->ticker, tick, 5, 5);
	uv_unref((uv_handle_t *) &w->ticker);
	*state = w;
	return 0;
}

static void
closed_cb(void *arg)
{
	((struct node *) arg)->closed = true;
}

static int
teardown(void **state)
{
	struct world *w = *state;

	for (int i = 1; i <= MAX_NODES; i++)
		if (w->nodes[i].t != NULL)
			raft_transport_close(w->nodes[i].t, closed_cb, &w->nodes[i]);
	uv_close((uv_handle_t *) &w->ticker, NULL);
	uv_run(&w->loop, UV_RUN_DEFAULT);
	for (int i = 1; i <= MAX_NODES; i++)
		if (w->nodes[i].t != NULL)
			assert_true(w->nodes[i].closed);
	/* Every handle is gone: a clean close. */
	assert_int_equal(uv_loop_close(&w->loop), 0);
	free(w);
	return 0;
}

typedef bool (*pred_fn) (struct world *w, void *arg);

/* Runs the loop until pred holds; false if the guard ran out first. */
static bool
run_until(struct world *w, pred_fn pred, void *arg)
{
	uint64_t	start;

	uv_update_time(&w->loop);
	start = uv_now(&w->loop);
	while (!pred(w, arg))
	{
		if (uv_now(&w->loop) - start > GUARD_MS)
			return false;
		uv_ref((uv_handle_t *) &w->ticker);
		uv_run(&w->loop, UV_RUN_ONCE);
		uv_unref((uv_handle_t *) &w->ticker);
	}
	return true;
}

/* Runs the loop for ms (to let something that should not happen, not). */
static bool
never(struct world *w, void *arg)
{
	return false;
}

static void
run_for(struct world *w, uint64_t ms)
{
	uint64_t	start;

	uv_update_time(&w->loop);
	start = uv_now(&w->loop);
	while (uv_now(&w->loop) - start < ms)
	{
		uv_ref((uv_handle_t *) &w->ticker);
		uv_run(&w->loop, UV_RUN_ONCE);
		uv_unref((uv_handle_t *) &w->ticker);
	}
	(void) never;
}

static struct raft_transport_options
node_options(struct node *n, const char *sec, uint64_t cluster)
{
	struct raft_transport_options opt;

	raft_transport_options_default(&opt);
	opt.id = n->id;
	opt.listen_addr = n->addr;
	opt.cluster_id = cluster;
	opt.secret = sec;
	opt.secret_len = strlen(sec);
	opt.seed = n->id;
	opt.backoff_min_ms = 10;
	opt.backoff_max_ms = 100;
	opt.on_message = on_message;
	opt.log = on_log;
	opt.arg = n;
	return opt;
}

/* Starts node id on 127.0.0.id, on port (0: any). */
static struct node *
start_node_with(struct world *w, raft_id id, int port,
				const struct raft_transport_options *custom)
{
	struct node *n = &w->nodes[id];
	struct raft_transport_options opt;
	char		log_match[64];

	memcpy(log_match, n->log_match, sizeof(log_match));
	memset(n, 0, sizeof(*n));
	memcpy(n->log_match, log_match, sizeof(log_match));
	n->id = id;
	snprintf(n->ip, sizeof(n->ip), "127.0.0.%d", (int) id);
	snprintf(n->addr, sizeof(n->addr), "127.0.0.%d:%d", (int) id, port);
	opt = custom != NULL ? *custom : node_options(n, secret, CLUSTER);
	opt.listen_addr = n->addr;
	opt.arg = n;
	assert_int_equal(raft_transport_new(&w->loop, &opt, &n->t), RAFT_OK);
	snprintf(n->addr, sizeof(n->addr), "127.0.0.%d:%d", (int) id,
			 raft_transport_port(n->t));
	return n;
}

static struct node *
start_node(struct world *w, raft_id id)
{
	return start_node_with(w, id, 0, NULL);
}

static void
connect_nodes(struct node *a, struct node *b)
{
	assert_int_equal(raft_transport_set_peer(a->t, b->id, b->addr), RAFT_OK);
	assert_int_equal(raft_transport_set_peer(b->t, a->id, a->addr), RAFT_OK);
}

static int
send_append(struct node *from, raft_id to, const char *text, uint64_t commit)
{
	struct raft_entry e = {.term = 2,.index = 5,.type = RAFT_ENTRY_COMMAND,
	.data = {.base = (void *) text,.len = strlen(text)}};
	struct raft_message m = {.type = RAFT_MSG_APPEND,.from = from->id,.to = to,
		.term = 2,.log_term = 1,.index = 4,.commit = commit,.n_entries = 1,
	.entries = &e};

	return raft_transport_send(from->t, &m);
}

struct want
{
	struct node *n;
	int			count;
};

static bool
received_at_least(struct world *w, void *arg)
{
	struct want *x = arg;

	return x->n->received >= x->count;
}

static void
wait_received(struct world *w, struct node *n, int count)
{
	struct want x = {n, count};

	assert_true(run_until(w, received_at_least, &x));
}

static struct raft_transport_stats
stats(struct node *n)
{
	struct raft_transport_stats st;

	raft_transport_get_stats(n->t, &st);
	return st;
}

/* ---- a raw TCP client: the hostile side ------------------------------ */

struct raw
{
	uv_tcp_t	tcp;
	uv_connect_t creq;
	bool		connected;
	bool		eof;			/* the node closed the connection */
	bool		handle_closed;
	bool		authenticate;
	struct raft_handshake hs;
	raft_id		self;
	raft_id		peer;
	uint8_t		in[256];
	size_t		in_len;
};

static void
raw_write(struct raw *r, const void *bytes, size_t len)
{
	uv_write_t *req = malloc(sizeof(*req) + len);
	uv_buf_t	buf;

	memcpy(req + 1, bytes, len);
	buf = uv_buf_init((char *) (req + 1), (unsigned) len);
	req->data = req;
	if (uv_write(req, (uv_stream_t *) &r->tcp, &buf, 1,
				 (uv_write_cb) (void (*) (void)) free) != 0)
		free(req);
}

static void
raw_write_done(uv_write_t *req, int status)
{
	free(req);
}

static void
raw_send(struct raw *r, const void *bytes, size_t len)
{
	uv_write_t *req = malloc(sizeof(*req) + len);
	uv_buf_t	buf;

	memcpy(req + 1, bytes, len);
	buf = uv_buf_init((char *) (req + 1), (unsigned) len);
	if (uv_write(req, (uv_stream_t *) &r->tcp, &buf, 1, raw_write_done) != 0)
		free(req);
}

static void
raw_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct raw *r = h->data;

	buf->base = (char *) r->in;
	buf->len = sizeof(r->in);
}

static void
raw_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct raw *r = s->data;

	if (nread < 0)
	{
		r->eof = true;
		uv_read_stop(s);
		return;
	}
	if (r->authenticate && r->hs.state != RAFT_HS_DONE)
	{
		raft_handshake_feed(&r->hs, r->in, (size_t) nread);
		if (r->hs.out_len > 0)
		{
			raw_send(r, r->hs.out, r->hs.out_len);
			r->hs.out_len = 0;
		}
	}
}

static void
raw_connected(uv_connect_t *req, int status)
{
	struct raw *r = req->data;

	if (status != 0)
	{
		r->eof = true;
		return;
	}
	r->connected = true;
	uv_read_start((uv_stream_t *) &r->tcp, raw_alloc, raw_read);
	if (r->authenticate)
	{
		raw_send(r, r->hs.out, r->hs.out_len);
		r->hs.out_len = 0;
	}
}

/* Connects from ip to node n; authenticates as node self if asked. */
static void
raw_connect(struct world *w, struct raw *r, const char *ip, struct node *n,
			raft_id self, const char *sec)
{
	struct sockaddr_in from;
	struct sockaddr_in to;
	int			port = raft_transport_port(n->t);

	memset(r, 0, sizeof(*r));
	uv_tcp_init(&w->loop, &r->tcp);
	r->tcp.data = r;
	r->creq.data = r;
	uv_ip4_addr(ip, 0, &from);
	uv_ip4_addr(n->ip, port, &to);
	assert_int_equal(uv_tcp_bind(&r->tcp, (struct sockaddr *) &from, 0), 0);
	if (self != RAFT_NONE)
	{
		uint8_t		nonce[RAFT_NONCE_SIZE];

		RAND_bytes(nonce, sizeof(nonce));
		r->authenticate = true;
		r->self = self;
		r->peer = n->id;
		raft_handshake_start_dialer(&r->hs, self, n->id, CLUSTER,
									(const uint8_t *) sec, strlen(sec), nonce);
	}
	assert_int_equal(uv_tcp_connect(&r->creq, &r->tcp, (struct sockaddr *) &to,
									raw_connected), 0);
}

static void
raw_handle_closed(uv_handle_t *h)
{
	((struct raw *) h->data)->handle_closed = true;
}

static bool
raw_is_closed_by_node(struct world *w, void *arg)
{
	return ((struct raw *) arg)->eof;
}

static bool
raw_is_ready(struct world *w, void *arg)
{
	struct raw *r = arg;

	return r->eof || (r->connected &&
					  (!r->authenticate || r->hs.state == RAFT_HS_DONE ||
					   r->hs.state == RAFT_HS_FAILED));
}

static bool
raw_handle_is_closed(struct world *w, void *arg)
{
	return ((struct raw *) arg)->handle_closed;
}

static void
raw_close(struct world *w, struct raw *r)
{
	uv_close((uv_handle_t *) &r->tcp, raw_handle_closed);
	assert_true(run_until(w, raw_handle_is_closed, r));
}

/* A frame holding m, as a peer would send it. */
static uint8_t *
frame_of(const struct raft_message *m, size_t *len)
{
	uint8_t    *frame;

	assert_int_equal(raft_frame_encode_message(m, 1 << 20, &frame, len), RAFT_OK);
	return frame;
}

/* ---- tests ------------------------------------------------------------ */

static void
test_exchange(void **state)
{
	struct world *w = *state;
	struct node *a = start_node(w, 1);
	struct node *b = start_node(w, 2);
	struct raft_message vote = {.type = RAFT_MSG_VOTE,.from = 2,.to = 1,
	.term = 9,.log_term = 8,.index = 77};

	connect_nodes(a, b);
	assert_int_equal(send_append(a, 2, "first", 3), RAFT_OK);
	wait_received(w, b, 1);
	assert_int_equal(b->last.type, RAFT_MSG_APPEND);
	assert_int_equal(b->last.from, 1);
	assert_int_equal(b->last.to, 2);
	assert_int_equal(b->last.commit, 3);
	assert_int_equal(b->last.n_entries, 1);
	assert_string_equal(b->last_data, "first");

	assert_int_equal(raft_transport_send(b->t, &vote), RAFT_OK);
	wait_received(w, a, 1);
	assert_int_equal(a->last.type, RAFT_MSG_VOTE);
	assert_int_equal(a->last.term, 9);
	assert_int_equal(a->last.index, 77);

	/* Many in a row arrive in order. */
	for (int i = 0; i < 500; i++)
		assert_int_equal(send_append(a, 2, "x", (uint64_t) i + 100), RAFT_OK);
	wait_received(w, b, 501);
	assert_int_equal(b->last.commit, 599);
	assert_true(raft_transport_connected(a->t, 2));
	assert_int_equal(stats(a).msgs_sent, 501);
	assert_int_equal(stats(b).msgs_received, 501);
	assert_int_equal(stats(a).dropped_full, 0);
}

static bool
port_closed(struct world *w, void *arg)
{
	return *(bool *) arg;
}

static void
set_true(uv_handle_t *h)
{
	*(bool *) h->data = true;
}

/* A port on ip where nothing listens. */
static int
dead_port(struct world *w, const char *ip)
{
	uv_tcp_t	tcp;
	struct sockaddr_in sa;
	struct sockaddr_storage got;
	int			len = sizeof(got);
	bool		closed = false;

	uv_tcp_init(&w->loop, &tcp);
	uv_ip4_addr(ip, 0, &sa);
	assert_int_equal(uv_tcp_bind(&tcp, (struct sockaddr *) &sa, 0), 0);
	assert_int_equal(uv_tcp_getsockname(&tcp, (struct sockaddr *) &got, &len), 0);
	tcp.data = &closed;
	uv_close((uv_handle_t *) &tcp, set_true);
	assert_true(run_until(w, port_closed, &closed));
	return ntohs(((struct sockaddr_in *) &got)->sin_port);
}

static void
test_queue_bounds_and_unknown_peer(void **state)
{
	struct world *w = *state;
	struct node *a = &w->nodes[1];
	struct raft_transport_options opt;
	char		addr[64];

	a->id = 1;
	opt = node_options(a, secret, CLUSTER);
	opt.queue_max_msgs = 3;
	start_node_with(w, 1, 0, &opt);
	snprintf(addr, sizeof(addr), "127.0.0.9:%d", dead_port(w, "127.0.0.9"));
	assert_int_equal(raft_transport_set_peer(a->t, 9, addr), RAFT_OK);
	for (int i = 0; i < 3; i++)
		assert_int_equal(send_append(a, 9, "q", 1), RAFT_OK);
	/* Full: the newest message is dropped and counted. */
	assert_int_equal(send_append(a, 9, "q", 1), RAFT_EBUSY);
	assert_int_equal(stats(a).dropped_full, 1);
	assert_int_equal(send_append(a, 5, "q", 1), RAFT_EUNKNOWNNODE);
	assert_int_equal(stats(a).dropped_no_peer, 1);
	/* Bad peers refused. */
	assert_int_equal(raft_transport_set_peer(a->t, 1, addr), RAFT_EINVAL);
	assert_int_equal(raft_transport_set_peer(a->t, 0, addr), RAFT_EINVAL);
	assert_int_equal(raft_transport_set_peer(a->t, 3, "nowhere"), RAFT_EINVAL);
	/* It keeps redialing a dead address without blocking the loop. */
	run_for(w, 200);
	assert_true(stats(a).dials >= 2);
	assert_false(raft_transport_connected(a->t, 9));
}

static void
test_garbage_closes_only_that_connection(void **state)
{
	struct world *w = *state;
	struct node *a = start_node(w, 1);
	struct node *b = start_node(w, 2);
	struct raw	r;
	char		junk[300];

	connect_nodes(a, b);
	raw_connect(w, &r, "127.0.0.3", b, RAFT_NONE, NULL);
	assert_true(run_until(w, raw_is_ready, &r));
	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = (char) (i * 7 + 1);
	raw_write(&r, junk, sizeof(junk));
	assert_true(run_until(w, raw_is_closed_by_node, &r));
	raw_close(w, &r);
	assert_true(stats(b).handshakes_failed >= 1);

	/* A plain HTTP request is no better. */
	raw_connect(w, &r, "127.0.0.3", b, RAFT_NONE, NULL);
	assert_true(run_until(w, raw_is_ready, &r));
	raw_write(&r, "GET / HTTP/1.0\r\n\r\n", 18);
	assert_true(run_until(w, raw_is_closed_by_node, &r));
	raw_close(w, &r);

	/* The node still serves its real peer. */
	assert_int_equal(send_append(a, 2, "after garbage", 1), RAFT_OK);
	wait_received(w, b, 1);
	assert_string_equal(b->last_data, "after garbage");
}

struct hs_fail
{
	struct node *n;
	uint64_t	count;
};

static bool
handshakes_failed_at_least(struct world *w, void *arg)
{
	struct hs_fail *x = arg;

	return stats(x->n).handshakes_failed >= x->count;
}

static void
refused_peer(struct world *w, const char *sec, uint64_t cluster)
{
	struct node *a = start_node(w, 1);
	struct node *b = start_node(w, 2);
	struct node *c = &w->nodes[3];
	struct raft_transport_options opt;
	struct hs_fail fb = {b, 2};
	struct hs_fail fc = {c, 2};

	c->id = 3;
	opt = node_options(c, sec, cluster);
	start_node_with(w, 3, 0, &opt);
	connect_nodes(a, b);
	assert_int_equal(raft_transport_set_peer(c->t, 2, b->addr), RAFT_OK);
	assert_int_equal(send_append(c, 2, "intruder", 1), RAFT_OK);
	/* Both ends refuse, again and again (c keeps redialing). */
	assert_true(run_until(w, handshakes_failed_at_least, &fb));
	assert_true(run_until(w, handshakes_failed_at_least, &fc));
	assert_false(raft_transport_connected(c->t, 2));
	assert_int_equal(b->received, 0);
	assert_int_equal(stats(c).handshakes_ok, 0);

	/* The legitimate peer is unaffected. */
	assert_int_equal(send_append(a, 2, "legit", 1), RAFT_OK);
	wait_received(w, b, 1);
	assert_string_equal(b->last_data, "legit");
	assert_int_equal(b->last.from, 1);
}

static void
test_wrong_secret(void **state)
{
	refused_peer(*state, "not-the-secret", CLUSTER);
}

static void
test_wrong_cluster(void **state)
{
	refused_peer(*state, secret, CLUSTER + 1);
}

/* Authenticates a raw client as node 3 to n, sends bytes, expects a close. */
static void
authenticated_then(struct world *w, struct node *n, const void *bytes,
				   size_t len, bool expect_close)
{
	struct raw	r;

	raw_connect(w, &r, "127.0.0.3", n, 3, secret);
	assert_true(run_until(w, raw_is_ready, &r));
	assert_int_equal(r.hs.state, RAFT_HS_DONE);
	raw_write(&r, bytes, len);
	if (expect_close)
		assert_true(run_until(w, raw_is_closed_by_node, &r));
	else
	{
		wait_received(w, n, n->received + 1);
		assert_false(r.eof);
	}
	raw_close(w, &r);
}

static void
test_bad_frames_from_authenticated_peer(void **state)
{
	struct world *w = *state;
	struct node *a = start_node(w, 1);
	struct node *b = start_node(w, 2);
	struct raft_message ok = {.type = RAFT_MSG_HEARTBEAT,.from = 3,.to = 2,
	.term = 1,.commit = 11};
	struct raft_message spoofed = ok;
	uint8_t    *frame;
	size_t		len;
	uint8_t		header[RAFT_FRAME_HEADER];

	connect_nodes(a, b);

	/* A good frame from node 3 is delivered. */
	frame = frame_of(&ok, &len);
	authenticated_then(w, b, frame, len, false);
	assert_int_equal(b->last.from, 3);
	assert_int_equal(b->last.commit, 11);

	/* The same frame with one payload byte flipped: CRC mismatch. */
	frame[len - 1] ^= 0x40;
	authenticated_then(w, b, frame, len, true);
	assert_int_equal(stats(b).bad_frames, 1);
	free(frame);

	/* A frame announcing more than max_frame_bytes. */
	memset(header, 0xff, sizeof(header));
	authenticated_then(w, b, header, sizeof(header), true);
	assert_int_equal(stats(b).bad_frames, 2);

	/* A well-formed frame claiming to come from node 1. */
	spoofed.from = 1;
	frame = frame_of(&spoofed, &len);
	authenticated_then(w, b, frame, len, true);
	assert_int_equal(stats(b).bad_frames, 3);
	free(frame);

	/* A CRC-valid frame whose payload is not a message. */
	{
		uint8_t		junk[RAFT_FRAME_HEADER + 10] = {0};

		memset(junk + RAFT_FRAME_HEADER, 0xee, 10);
		raft_frame_seal(junk, 10);
		authenticated_then(w, b, junk, sizeof(junk), true);
		assert_int_equal(stats(b).bad_frames, 4);
	}

	/* Node 1 still gets through. */
	assert_int_equal(send_append(a, 2, "still here", 1), RAFT_OK);
	wait_received(w, b, 2);
	assert_string_equal(b->last_data, "still here");
}

static void
test_half_frame_and_silent_peer_time_out(void **state)
{
	struct world *w = *state;
	struct node *b = &w->nodes[2];
	struct raft_transport_options opt;
	struct raft_message ok = {.type = RAFT_MSG_HEARTBEAT,.from = 3,.to = 2,
	.term = 1};
	struct raw	r;
	struct raw	silent;
	uint8_t    *frame;
	size_t		len;

	b->id = 2;
	opt = node_options(b, secret, CLUSTER);
	opt.stall_timeout_ms = 100;
	opt.handshake_timeout_ms = 100;
	start_node_with(w, 2, 0, &opt);

	/* Half a frame, then nothing: closed by the stall timeout. */
	frame = frame_of(&ok, &len);
	authenticated_then(w, b, frame, len / 2, true);
	assert_int_equal(b->received, 0);

	/* Connects and never says a word: closed by the handshake timeout. */
	raw_connect(w, &silent, "127.0.0.4", b, RAFT_NONE, NULL);
	assert_true(run_until(w, raw_is_closed_by_node, &silent));
	raw_close(w, &silent);

	/* Whole frames still work. */
	raw_connect(w, &r, "127.0.0.3", b, 3, secret);
	assert_true(run_until(w, raw_is_ready, &r));
	raw_write(&r, frame, len);
	wait_received(w, b, 1);
	raw_close(w, &r);
	free(frame);
}

static void
test_reconnect_after_restart(void **state)
{
	struct world *w = *state;
	struct node *a = start_node(w, 1);
	struct node *b = start_node(w, 2);
	int			port = raft_transport_port(b->t);

	connect_nodes(a, b);
	assert_int_equal(send_append(a, 2, "before", 1), RAFT_OK);
	wait_received(w, b, 1);

	raft_transport_close(b->t, closed_cb, b);
	assert_true(run_until(w, port_closed, &b->closed));
	b->t = NULL;

	/* Queued while node 2 is down... */
	for (int i = 0; i < 3; i++)
		assert_int_equal(send_append(a, 2, "while down", 2), RAFT_OK);
	run_for(w, 100);

	/* ...and delivered once it is back on the same address. */
	start_node_with(w, 2, port, NULL);
	assert_int_equal(raft_transport_set_peer(b->t, 1, a->addr), RAFT_OK);
	assert_int_equal(send_append(a, 2, "after", 3), RAFT_OK);
	wait_received(w, b, 4);
	assert_string_equal(b->seq, "while down|while down|while down|after|");
}

static void
test_membership_changes(void **state)
{
	struct world *w = *state;
	struct node *a = start_node(w, 1);
	struct node *b = start_node(w, 2);
	struct node *c = start_node(w, 3);

	connect_nodes(a, b);
	assert_int_equal(send_append(a, 2, "one", 1), RAFT_OK);
	wait_received(w, b, 1);

	/* Node 3 joins at run time. */
	assert_int_equal(raft_transport_set_peer(a->t, 3, c->addr), RAFT_OK);
	assert_int_equal(send_append(a, 3, "welcome", 1), RAFT_OK);
	wait_received(w, c, 1);
	assert_string_equal(c->last_data, "welcome");

	/* Node 2 leaves. */
	assert_int_equal(raft_transport_remove_peer(a->t, 2), RAFT_OK);
	assert_int_equal(raft_transport_remove_peer(a->t, 2), RAFT_EUNKNOWNNODE);
	assert_int_equal(send_append(a, 2, "gone", 1), RAFT_EUNKNOWNNODE);
	assert_false(raft_transport_connected(a->t, 2));

	/* Node 3 moves to another address (a new transport on 127.0.0.4). */
	{
		struct node *d = &w->nodes[4];
		struct raft_transport_options opt;

		d->id = 3;				/* node 3, restarted elsewhere */
		opt = node_options(d, secret, CLUSTER);
		start_node_with(w, 4, 0, &opt);
		assert_int_equal(raft_transport_set_peer(a->t, 3, d->addr), RAFT_OK);
		assert_int_equal(send_append(a, 3, "moved", 1), RAFT_OK);
		wait_received(w, d, 1);
		assert_string_equal(d->last_data, "moved");
		assert_int_equal(c->received, 1);
	}
}

static bool
log_matched(struct world *w, void *arg)
{
	struct node *n = arg;

	return stats(n).log_suppressed >= 4 && n->log_matched >= 1;
}

static void
test_log_rate_limit(void **state)
{
	struct world *w = *state;
	struct node *b = &w->nodes[2];
	struct raft_transport_options opt;

	b->id = 2;
	snprintf(b->log_match, sizeof(b->log_match), "from 127.0.0.4");
	opt = node_options(b, secret, CLUSTER);
	opt.log_interval_ms = 60000;
	start_node_with(w, 2, 0, &opt);
	for (int i = 0; i < 5; i++)
	{
		struct raw	r;

		raw_connect(w, &r, "127.0.0.4", b, RAFT_NONE, NULL);
		assert_true(run_until(w, raw_is_ready, &r));
		raw_write(&r, "garbage!", 8);
		assert_true(run_until(w, raw_is_closed_by_node, &r));
		raw_close(w, &r);
	}
	assert_true(run_until(w, log_matched, b));
	/* Five refusals from one address, one line. */
	assert_int_equal(b->log_matched, 1);
	assert_int_equal(stats(b).handshakes_failed, 5);
}

static void
test_close_from_callback(void **state)
{
	struct world *w = *state;
	struct node *a = start_node(w, 1);
	struct node *b = &w->nodes[2];
	struct raft_transport_options opt;

	b->id = 2;
	opt = node_options(b, secret, CLUSTER);
	start_node_with(w, 2, 0, &opt);
	connect_nodes(a, b);
	for (int i = 0; i < 20; i++)
		send_append(a, 2, "bye", 1);
	wait_received(w, b, 1);
	/* Closing with messages pending and connections open is clean. */
	raft_transport_close(b->t, closed_cb, b);
	raft_transport_close(b->t, closed_cb, b);	/* twice: no-op */
	assert_true(run_until(w, port_closed, &b->closed));
	b->t = NULL;
	assert_int_equal(send_append(a, 2, "x", 1), RAFT_OK);
}

static size_t big_len_seen;
static uint32_t big_sum_seen;

static void
on_big_message(struct raft_transport *t, const struct raft_message *m,
			   void *arg)
{
	struct node *n = arg;

	n->received++;
	if (m->n_entries == 1)
	{
		const uint8_t *p = m->entries[0].data.base;
		uint32_t	sum = 0;

		for (size_t i = 0; i < m->entries[0].data.len; i++)
			sum = sum * 31 + p[i];
		big_len_seen = m->entries[0].data.len;
		big_sum_seen = sum;
	}
}

static void
test_large_messages(void **state)
{
	struct world *w = *state;
	struct node *a = &w->nodes[1];
	struct node *b = &w->nodes[2];
	struct raft_transport_options opt;
	size_t		len = 5 * 1024 * 1024 + 7;	/* many reads, buffer growth */
	uint8_t    *data = malloc(len);
	uint32_t	sum = 0;
	struct raft_entry e = {.term = 1,.index = 2,.type = RAFT_ENTRY_COMMAND};
	struct raft_message m = {.type = RAFT_MSG_APPEND,.from = 1,.to = 2,
	.term = 1,.n_entries = 1,.entries = &e};

	a->id = 1;
	opt = node_options(a, secret, CLUSTER);
	opt.max_frame_bytes = 6 * 1024 * 1024;
	start_node_with(w, 1, 0, &opt);
	b->id = 2;
	opt = node_options(b, secret, CLUSTER);
	opt.on_message = on_big_message;
	opt.max_frame_bytes = 6 * 1024 * 1024;
	start_node_with(w, 2, 0, &opt);
	connect_nodes(a, b);

	for (size_t i = 0; i < len; i++)
	{
		data[i] = (uint8_t) (i * 2654435761u >> 13);
		sum = sum * 31 + data[i];
	}
	e.data.base = data;
	e.data.len = len;
	assert_int_equal(raft_transport_send(a->t, &m), RAFT_OK);
	assert_int_equal(raft_transport_send(a->t, &m), RAFT_OK);
	wait_received(w, b, 2);
	assert_int_equal(big_len_seen, len);
	assert_int_equal(big_sum_seen, sum);

	/* Beyond the sender's max_frame_bytes: refused at send. */
	e.data.len = 6 * 1024 * 1024;
	assert_int_equal(raft_transport_send(a->t, &m), RAFT_ETOOBIG);
	free(data);
}

static void
test_newer_connection_replaces_older(void **state)
{
	struct world *w = *state;
	struct node *b = start_node(w, 2);
	struct raw	old;
	struct raw	newer;

	raw_connect(w, &old, "127.0.0.3", b, 3, secret);
	assert_true(run_until(w, raw_is_ready, &old));
	assert_int_equal(old.hs.state, RAFT_HS_DONE);
	/* Node 3 again (say, restarted while the old one looked alive). */
	raw_connect(w, &newer, "127.0.0.3", b, 3, secret);
	assert_true(run_until(w, raw_is_ready, &newer));
	assert_true(run_until(w, raw_is_closed_by_node, &old));
	assert_false(newer.eof);
	raw_close(w, &old);
	raw_close(w, &newer);
}

/* A peer that completes the handshake and then never reads. */
struct sloth
{
	uv_tcp_t	listener;
	uv_tcp_t	conn;
	bool		accepted;
	int			closes;
	struct raft_handshake hs;
	uint8_t		in[256];
	int			port;
};

static void
sloth_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct sloth *s = h->data;

	buf->base = (char *) s->in;
	buf->len = sizeof(s->in);
}

static void
sloth_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
	struct sloth *s = stream->data;

	if (nread <= 0)
		return;
	raft_handshake_feed(&s->hs, s->in, (size_t) nread);
	if (s->hs.out_len > 0)
	{
		uv_write_t *req = malloc(sizeof(*req) + s->hs.out_len);
		uv_buf_t	b;

		memcpy(req + 1, s->hs.out, s->hs.out_len);
		b = uv_buf_init((char *) (req + 1), (unsigned) s->hs.out_len);
		s->hs.out_len = 0;
		uv_write(req, stream, &b, 1, raw_write_done);
	}
	if (s->hs.state == RAFT_HS_DONE || s->hs.state == RAFT_HS_FAILED)
		uv_read_stop(stream);	/* and never read again */
}

static void
sloth_accept(uv_stream_t *server, int status)
{
	struct sloth *s = server->data;
	uint8_t		nonce[RAFT_NONCE_SIZE] = {7};

	if (s->accepted)
		return;					/* one at a time: later dials wait in backlog */
	s->accepted = true;
	uv_tcp_init(server->loop, &s->conn);
	s->conn.data = s;
	uv_accept(server, (uv_stream_t *) &s->conn);
	/* A tiny receive buffer, so the sender's writes stall quickly. */
	{
		int			size = 4096;

		uv_recv_buffer_size((uv_handle_t *) &s->conn, &size);
	}
	raft_handshake_start_acceptor(&s->hs, 9, CLUSTER, (const uint8_t *) secret,
								  strlen(secret), nonce);
	uv_read_start((uv_stream_t *) &s->conn, sloth_alloc, sloth_read);
}

static void
sloth_closed(uv_handle_t *h)
{
	((struct sloth *) h->data)->closes++;
}

static bool
dialed_twice(struct world *w, void *arg)
{
	struct node *n = arg;

	return stats(n).dials >= 2 && stats(n).handshakes_ok >= 1;
}

static void
test_peer_that_stops_reading(void **state)
{
	struct world *w = *state;
	struct node *a = &w->nodes[1];
	struct raft_transport_options opt;
	struct sloth s;
	struct sockaddr_in sa;
	struct sockaddr_storage got;
	int			len = sizeof(got);
	char		addr[64];
	static char big[256 * 1024];
	int			busy = 0;

	memset(&s, 0, sizeof(s));
	uv_tcp_init(&w->loop, &s.listener);
	s.listener.data = &s;
	uv_ip4_addr("127.0.0.9", 0, &sa);
	assert_int_equal(uv_tcp_bind(&s.listener, (struct sockaddr *) &sa, 0), 0);
	assert_int_equal(uv_listen((uv_stream_t *) &s.listener, 4, sloth_accept), 0);
	uv_tcp_getsockname(&s.listener, (struct sockaddr *) &got, &len);
	snprintf(addr, sizeof(addr), "127.0.0.9:%d",
			 ntohs(((struct sockaddr_in *) &got)->sin_port));

	a->id = 1;
	opt = node_options(a, secret, CLUSTER);
	opt.stall_timeout_ms = 200;
	opt.queue_max_msgs = 64;
	start_node_with(w, 1, 0, &opt);
	assert_int_equal(raft_transport_set_peer(a->t, 9, addr), RAFT_OK);
	memset(big, 'b', sizeof(big) - 1);
	/* Far more than the socket buffers hold: the queue fills, then drops. */
	for (int i = 0; i < 200; i++)
		busy += send_append(a, 9, big, 1) == RAFT_EBUSY;
	assert_true(busy > 0);
	assert_int_equal(stats(a).dropped_full, (uint64_t) busy);
	/* The stalled connection is closed, and the transport dials again. */
	assert_true(run_until(w, dialed_twice, a));
	assert_true(stats(a).dropped_broken > 0);

	if (s.accepted)
		uv_close((uv_handle_t *) &s.conn, sloth_closed);
	uv_close((uv_handle_t *) &s.listener, sloth_closed);
	while (s.closes < (s.accepted ? 2 : 1))
		uv_run(&w->loop, UV_RUN_ONCE);
}

static bool
has_bad_frame(struct world *w, void *arg)
{
	return stats(arg).bad_frames > 0;
}

static bool
resend_small_until_received(struct world *w, void *arg)
{
	if (w->nodes[2].received > 0)
		return true;
	send_append(arg, 2, "small", 1);
	run_for(w, 20);
	return w->nodes[2].received > 0;
}

static void
test_bigger_than_receiver_allows(void **state)
{
	struct world *w = *state;
	struct node *a = start_node(w, 1);
	struct node *b = &w->nodes[2];
	struct raft_transport_options opt;
	char		text[4096];

	b->id = 2;
	opt = node_options(b, secret, CLUSTER);
	opt.max_frame_bytes = 1024;
	start_node_with(w, 2, 0, &opt);
	connect_nodes(a, b);
	memset(text, 'z', sizeof(text) - 1);
	text[sizeof(text) - 1] = '\0';
	/* The receiver refuses the frame and drops the connection... */
	assert_int_equal(send_append(a, 2, text, 1), RAFT_OK);
	assert_true(run_until(w, has_bad_frame, b));
	assert_int_equal(b->received, 0);
	/*
	 * ...and small ones get through on the next connection (those written
	 * into the dying one are lost, so resend, as Raft does).
	 */
	assert_true(run_until(w, resend_small_until_received, a));
	assert_string_equal(b->last_data, "small");
	assert_true(stats(a).handshakes_ok >= 2);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_exchange, setup, teardown),
		cmocka_unit_test_setup_teardown(test_queue_bounds_and_unknown_peer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_garbage_closes_only_that_connection, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wrong_secret, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wrong_cluster, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_frames_from_authenticated_peer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_half_frame_and_silent_peer_time_out, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reconnect_after_restart, setup, teardown),
		cmocka_unit_test_setup_teardown(test_membership_changes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_log_rate_limit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_close_from_callback, setup, teardown),
		cmocka_unit_test_setup_teardown(test_large_messages, setup, teardown),
		cmocka_unit_test_setup_teardown(test_peer_that_stops_reading, setup, teardown),
		cmocka_unit_test_setup_teardown(test_newer_connection_replaces_older, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bigger_than_receiver_allows, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
