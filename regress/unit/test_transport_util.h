/*
 * regress/unit/test_transport_util.h — the harness of the transport's
 * socket tests (test_transport.c, test_transport_hostile.c): a loop, nodes
 * on 127.0.0.x, bounded waits (a hang fails the test; no timing threshold)
 * and a raw TCP client that can speak the handshake or send anything.
 */
#ifndef TEST_TRANSPORT_UTIL_H
#define TEST_TRANSPORT_UTIL_H

#include <setjmp.h>
#include <signal.h>
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

static inline void
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

static inline void
on_log(void *arg, int level, const char *line)
{
	struct node *n = arg;

	n->log_lines++;
	if (n->log_match[0] != '\0' && strstr(line, n->log_match) != NULL)
		n->log_matched++;
	if (getenv("TEST_TRANSPORT_VERBOSE") != NULL)
		fprintf(stderr, "log: %s\n", line);
}

static inline void
tick(uv_timer_t *timer)
{
}

static inline int
setup(void **state)
{
	struct world *w = calloc(1, sizeof(*w));

	signal(SIGPIPE, SIG_IGN);	/* as transport.h requires */
	assert_int_equal(uv_loop_init(&w->loop), 0);
	uv_timer_init(&w->loop, &w->ticker);
	uv_timer_start(&w->ticker, tick, 5, 5);
	uv_unref((uv_handle_t *) &w->ticker);
	*state = w;
	return 0;
}

static inline void
closed_cb(void *arg)
{
	((struct node *) arg)->closed = true;
}

static inline int
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
static inline bool
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
static inline void
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
}

static inline struct raft_transport_options
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
static inline struct node *
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

static inline struct node *
start_node(struct world *w, raft_id id)
{
	return start_node_with(w, id, 0, NULL);
}

static inline void
connect_nodes(struct node *a, struct node *b)
{
	assert_int_equal(raft_transport_set_peer(a->t, b->id, b->addr), RAFT_OK);
	assert_int_equal(raft_transport_set_peer(b->t, a->id, a->addr), RAFT_OK);
}

static inline int
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

static inline bool
received_at_least(struct world *w, void *arg)
{
	struct want *x = arg;

	return x->n->received >= x->count;
}

static inline void
wait_received(struct world *w, struct node *n, int count)
{
	struct want x = {n, count};

	assert_true(run_until(w, received_at_least, &x));
}

static inline struct raft_transport_stats
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

static inline void
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

static inline void
raw_write_done(uv_write_t *req, int status)
{
	free(req);
}

static inline void
raw_send(struct raw *r, const void *bytes, size_t len)
{
	uv_write_t *req = malloc(sizeof(*req) + len);
	uv_buf_t	buf;

	memcpy(req + 1, bytes, len);
	buf = uv_buf_init((char *) (req + 1), (unsigned) len);
	if (uv_write(req, (uv_stream_t *) &r->tcp, &buf, 1, raw_write_done) != 0)
		free(req);
}

static inline void
raw_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct raw *r = h->data;

	buf->base = (char *) r->in;
	buf->len = sizeof(r->in);
}

static inline void
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

static inline void
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
static inline void
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

static inline void
raw_handle_closed(uv_handle_t *h)
{
	((struct raw *) h->data)->handle_closed = true;
}

static inline bool
raw_is_closed_by_node(struct world *w, void *arg)
{
	return ((struct raw *) arg)->eof;
}

static inline bool
raw_is_ready(struct world *w, void *arg)
{
	struct raw *r = arg;

	return r->eof || (r->connected &&
					  (!r->authenticate || r->hs.state == RAFT_HS_DONE ||
					   r->hs.state == RAFT_HS_FAILED));
}

static inline bool
raw_handle_is_closed(struct world *w, void *arg)
{
	return ((struct raw *) arg)->handle_closed;
}

static inline void
raw_close(struct world *w, struct raw *r)
{
	uv_close((uv_handle_t *) &r->tcp, raw_handle_closed);
	assert_true(run_until(w, raw_handle_is_closed, r));
}

/* A frame holding m, as a peer would send it. */
static inline uint8_t *
frame_of(const struct raft_message *m, size_t *len)
{
	uint8_t    *frame;

	assert_int_equal(raft_frame_encode_message(m, 1 << 20, &frame, len), RAFT_OK);
	return frame;
}

static inline bool
port_closed(struct world *w, void *arg)
{
	return *(bool *) arg;
}

static inline void
set_true(uv_handle_t *h)
{
	*(bool *) h->data = true;
}

static inline int
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

#endif							/* TEST_TRANSPORT_UTIL_H */
