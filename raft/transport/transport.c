/*
 * raft/transport/transport.c — the transport's lifecycle and public API
 * (transport.h): options, the listener and accepted connections, the peer
 * table, send, stats and the clean close.
 */
#include "transport_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"

void
raft_transport_options_default(struct raft_transport_options *opt)
{
	memset(opt, 0, sizeof(*opt));
	opt->max_frame_bytes = (size_t) RAFT_MAX_ENTRY_BYTES + 64 * 1024;
	opt->queue_max_bytes = 128u * 1024 * 1024;
	opt->queue_max_msgs = 4096;
	opt->backoff_min_ms = 50;
	opt->backoff_max_ms = 2000;
	opt->handshake_timeout_ms = 5000;
	opt->stall_timeout_ms = 30000;
	opt->max_incoming = 64;
	opt->log_interval_ms = 10000;
}

/* Every handle of the transport ends here; the last one finishes close. */
void
raft_transport_handle_closed(struct raft_transport *t)
{
	if (t->open_handles == 0)
		abort();				/* more closes than opens: a bug */
	t->open_handles--;
	if (t->closing && t->open_handles == 0)
	{
		void		(*cb) (void *) = t->close_cb;
		void	   *arg = t->close_arg;

		free(t);
		if (cb != NULL)
			cb(arg);
	}
}

static void
listener_closed(uv_handle_t *h)
{
	raft_transport_handle_closed(h->data);
}

static void
on_connection(uv_stream_t *server, int status)
{
	struct raft_transport *t = server->data;
	struct raft_conn *c;

	if (t->closing)
		return;
	if (status != 0)
	{
		raft_tlog(t, RAFT_TRANSPORT_LOG_WARNING, "listener", "accept: %s",
				  uv_strerror(status));
		return;
	}
	c = raft_conn_new(t, false);
	if (c == NULL)
		return;					/* the connection waits in the backlog */
	c->next = t->incoming;
	if (t->incoming != NULL)
		t->incoming->prev = c;
	t->incoming = c;
	t->n_incoming++;
	snprintf(c->remote, sizeof(c->remote), "listener");
	if (uv_accept(server, (uv_stream_t *) &c->tcp) != 0)
	{
		raft_conn_close(c, "accept failed");
		return;
	}
	t->stats.accepted++;
	raft_conn_name_remote(c);
	if (t->n_incoming > t->opt.max_incoming)
	{
		t->stats.refused_incoming++;
		raft_conn_close(c, "too many incoming connections");
		return;
	}
	raft_conn_accept(c);
}

_Static_assert(RAFT_TRANSPORT_MAX_FRAME_BYTES + RAFT_FRAME_HEADER == UINT32_MAX,
			   "a whole frame fits a u32 length");

static bool
options_valid(const struct raft_transport_options *opt)
{
	return opt->id != RAFT_NONE && opt->listen_addr != NULL &&
		opt->secret != NULL && opt->secret_len > 0 &&
		opt->secret_len <= RAFT_TRANSPORT_SECRET_MAX &&
		opt->max_frame_bytes > 0 &&
		opt->max_frame_bytes <= RAFT_TRANSPORT_MAX_FRAME_BYTES &&
		opt->queue_max_bytes > 0 && opt->queue_max_msgs > 0 &&
		opt->backoff_min_ms > 0 && opt->backoff_max_ms >= opt->backoff_min_ms &&
		opt->handshake_timeout_ms > 0 && opt->stall_timeout_ms > 0 &&
		opt->max_incoming > 0;
}

int
raft_transport_new(uv_loop_t *loop, const struct raft_transport_options *opt,
				   struct raft_transport **out)
{
	struct raft_transport *t;
	int			rc;

	*out = NULL;
	if (!options_valid(opt) || strlen(opt->listen_addr) >= RAFT_ADDR_LEN)
		return RAFT_EINVAL;
	t = calloc(1, sizeof(*t));
	if (t == NULL)
		return RAFT_ENOMEM;
	t->loop = loop;
	t->opt = *opt;
	snprintf(t->listen_addr, sizeof(t->listen_addr), "%s", opt->listen_addr);
	t->opt.listen_addr = t->listen_addr;
	memcpy(t->secret, opt->secret, opt->secret_len);
	t->opt.secret = t->secret;
	t->rng = opt->seed;
	if (raft_parse_addr(t->listen_addr, &t->listen_sa) != RAFT_OK)
	{
		free(t);
		return RAFT_EINVAL;
	}
	t->bind_sa = t->listen_sa;
	if (t->bind_sa.ss_family == AF_INET)
		((struct sockaddr_in *) &t->bind_sa)->sin_port = 0;
	else
		((struct sockaddr_in6 *) &t->bind_sa)->sin6_port = 0;

	uv_tcp_init(loop, &t->listener);
	t->listener.data = t;
	t->listener_open = true;
	t->open_handles = 1;
	rc = uv_tcp_bind(&t->listener, (const struct sockaddr *) &t->listen_sa, 0);
	if (rc == 0)
		rc = uv_listen((uv_stream_t *) &t->listener, 128, on_connection);
	if (rc != 0)
	{
		raft_tlog(t, RAFT_TRANSPORT_LOG_WARNING, "listener",
				  "cannot listen on %s: %s", t->listen_addr, uv_strerror(rc));
		/* The loop frees t once the listener has closed. */
		raft_transport_close(t, NULL, NULL);
		return RAFT_EIO;
	}
	*out = t;
	return RAFT_OK;
}

int
raft_transport_port(const struct raft_transport *t)
{
	struct sockaddr_storage sa;
	int			len = sizeof(sa);

	if (uv_tcp_getsockname(&t->listener, (struct sockaddr *) &sa, &len) != 0)
		return -1;
	if (sa.ss_family == AF_INET)
		return ntohs(((struct sockaddr_in *) &sa)->sin_port);
	return ntohs(((struct sockaddr_in6 *) &sa)->sin6_port);
}

static int
peer_slot(const struct raft_transport *t, raft_id id)
{
	for (unsigned i = 0; i < t->n_peers; i++)
		if (t->peers[i]->id == id)
			return (int) i;
	return -1;
}

int
raft_transport_remove_peer(struct raft_transport *t, raft_id id)
{
	int			i = peer_slot(t, id);

	if (t->closing)
		return RAFT_ESHUTDOWN;
	if (i < 0)
		return RAFT_EUNKNOWNNODE;
	raft_peer_destroy(t->peers[i]);
	t->peers[i] = t->peers[--t->n_peers];
	t->peers[t->n_peers] = NULL;
	return RAFT_OK;
}

int
raft_transport_set_peer(struct raft_transport *t, raft_id id, const char *addr)
{
	struct sockaddr_storage sa;
	struct raft_peer *p;
	int			i;

	if (t->closing)
		return RAFT_ESHUTDOWN;
	if (id == RAFT_NONE || id == t->opt.id || addr == NULL ||
		raft_parse_addr(addr, &sa) != RAFT_OK)
		return RAFT_EINVAL;
	i = peer_slot(t, id);
	if (i >= 0)
	{
		if (strcmp(t->peers[i]->addr, addr) == 0)
			return RAFT_OK;
		raft_transport_remove_peer(t, id);
	}
	if (t->n_peers >= RAFT_TRANSPORT_MAX_PEERS)
		return RAFT_ETOOMANY;
	p = raft_peer_new(t, id, addr, &sa);
	if (p == NULL)
		return RAFT_ENOMEM;
	t->peers[t->n_peers++] = p;
	raft_peer_dial(p);
	return RAFT_OK;
}

int
raft_transport_send(struct raft_transport *t, const struct raft_message *m)
{
	uint8_t    *frame;
	size_t		len;
	int			i;
	int			rc;

	if (t->closing)
		return RAFT_ESHUTDOWN;
	i = peer_slot(t, m->to);
	if (i < 0)
	{
		t->stats.dropped_no_peer++;
		return RAFT_EUNKNOWNNODE;
	}
	rc = raft_frame_encode_message(m, t->opt.max_frame_bytes, &frame, &len);
	if (rc != RAFT_OK)
	{
		raft_tlog(t, RAFT_TRANSPORT_LOG_WARNING, "send",
				  "cannot encode a message of type %u to node %llu: %s",
				  (unsigned) m->type, (unsigned long long) m->to,
				  raft_strerror(rc));
		return rc;
	}
	return raft_peer_enqueue(t->peers[i], frame, len);
}

void
raft_transport_cork(struct raft_transport *t)
{
	if (!t->closing)
		t->corked = true;
}

void
raft_transport_flush(struct raft_transport *t)
{
	t->corked = false;
	if (t->closing)
		return;
	for (unsigned i = 0; i < t->n_peers; i++)
		raft_peer_flush(t->peers[i]);
}

bool
raft_transport_connected(const struct raft_transport *t, raft_id id)
{
	int			i = peer_slot(t, id);

	return i >= 0 && t->peers[i]->conn != NULL && t->peers[i]->conn->ready &&
		!t->peers[i]->conn->closing;
}

void
raft_transport_get_stats(const struct raft_transport *t,
						 struct raft_transport_stats *st)
{
	*st = t->stats;
}

void
raft_transport_close(struct raft_transport *t, void (*cb) (void *arg),
					 void *arg)
{
	if (t->closing)
		return;
	t->closing = true;
	t->close_cb = cb;
	t->close_arg = arg;
	while (t->n_peers > 0)
	{
		raft_peer_destroy(t->peers[--t->n_peers]);
		t->peers[t->n_peers] = NULL;
	}
	while (t->incoming != NULL)
		raft_conn_close(t->incoming, NULL);
	if (t->listener_open)
	{
		t->listener_open = false;
		uv_close((uv_handle_t *) &t->listener, listener_closed);
	}
}
