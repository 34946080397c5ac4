/*
 * regress/unit/test_transport_hostile.c — the transport against hostile or
 * broken peers, over loopback sockets: garbage and HTTP before the
 * handshake, a wrong secret, a wrong cluster id, an authenticated client
 * sending a bad CRC, an oversized frame, a spoofed sender, an undecodable
 * payload, half a frame then silence, a silent connection, a peer that
 * stops reading, a stale connection replaced by a newer one; each closes
 * that connection only and the node keeps serving.  And the log's per-peer
 * rate limit.
 */
#include "test_transport_util.h"

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

/*
 * Two servers with the same node id: node 2 lists node 3 at 127.0.0.3, so
 * an authenticated node 3 connecting from 127.0.0.9 is refused, and named
 * in the log; node 3 from its listed host is taken.
 */
static void
test_same_id_from_another_host(void **state)
{
	struct world *w = *state;
	struct node *b = &w->nodes[2];
	struct raft_transport_options opt;
	struct raw	impostor;
	struct raw	real;

	b->id = 2;
	snprintf(b->log_match, sizeof(b->log_match),
			 "node 3 connects from 127.0.0.9:");
	opt = node_options(b, secret, CLUSTER);
	start_node_with(w, 2, 0, &opt);
	assert_int_equal(raft_transport_set_peer(b->t, 3, "127.0.0.3:9"), RAFT_OK);

	raw_connect(w, &impostor, "127.0.0.9", b, 3, secret);
	assert_true(run_until(w, raw_is_closed_by_node, &impostor));
	assert_int_equal(b->log_matched, 1);
	raw_close(w, &impostor);

	raw_connect(w, &real, "127.0.0.3", b, 3, secret);
	assert_true(run_until(w, raw_is_ready, &real));
	assert_int_equal(real.hs.state, RAFT_HS_DONE);
	run_for(w, 100);
	assert_false(real.eof);
	raw_close(w, &real);
	assert_int_equal(stats(b).handshakes_failed, 1);
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

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_garbage_closes_only_that_connection, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wrong_secret, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wrong_cluster, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_frames_from_authenticated_peer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_half_frame_and_silent_peer_time_out, setup, teardown),
		cmocka_unit_test_setup_teardown(test_log_rate_limit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_same_id_from_another_host, setup, teardown),
		cmocka_unit_test_setup_teardown(test_newer_connection_replaces_older, setup, teardown),
		cmocka_unit_test_setup_teardown(test_peer_that_stops_reading, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
