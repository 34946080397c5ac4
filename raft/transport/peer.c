/*
 * raft/transport/peer.c — the outgoing side of the transport, one struct
 * raft_peer per destination: the bounded send queue (full: the newest
 * message is dropped and counted) and dialing with jittered exponential
 * back-off.  Writing the queue to the connection is peer_write.c's.
 */
#include "transport_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void
peer_timer_closed(uv_handle_t *h)
{
	struct raft_peer *p = h->data;
	struct raft_transport *t = p->t;

	free(p);
	raft_transport_handle_closed(t);
}

static void
backoff_fired(uv_timer_t *timer)
{
	raft_peer_dial(timer->data);
}

static uint64_t
backoff_delay(struct raft_peer *p)
{
	struct raft_transport *t = p->t;

	return raft_backoff_ms(t->opt.backoff_min_ms, t->opt.backoff_max_ms,
						   p->attempts, raft_transport_random(t));
}

static void
schedule_dial(struct raft_peer *p)
{
	uint64_t	delay;

	if (p->removed || p->t->closing)
		return;
	delay = backoff_delay(p);
	if (p->attempts < 64)
		p->attempts++;
	uv_timer_start(&p->backoff_timer, backoff_fired, delay, 0);
}

struct raft_peer *
raft_peer_new(struct raft_transport *t, raft_id id, const char *addr,
			  const struct sockaddr_storage *sa)
{
	struct raft_peer *p = calloc(1, sizeof(*p));

	if (p == NULL)
		return NULL;
	p->t = t;
	p->id = id;
	snprintf(p->addr, sizeof(p->addr), "%s", addr);
	p->sa = *sa;
	uv_timer_init(t->loop, &p->backoff_timer);
	p->backoff_timer.data = p;
	t->open_handles++;
	return p;
}

void
raft_peer_drop_queue(struct raft_peer *p)
{
	while (p->head != NULL)
	{
		struct raft_out_msg *m = p->head;

		p->head = m->next;
		raft_out_msg_free(m);
	}
	p->tail = NULL;
	p->queued_bytes = 0;
	p->queued_msgs = 0;
}

void
raft_peer_destroy(struct raft_peer *p)
{
	p->removed = true;
	if (p->conn != NULL)
		raft_conn_close(p->conn, NULL);
	raft_peer_drop_queue(p);
	uv_timer_stop(&p->backoff_timer);
	uv_close((uv_handle_t *) &p->backoff_timer, peer_timer_closed);
}

void
raft_peer_dial(struct raft_peer *p)
{
	struct raft_transport *t = p->t;
	struct raft_conn *c;

	if (p->removed || t->closing || p->conn != NULL)
		return;
	c = raft_conn_new(t, true);
	if (c == NULL)
	{
		schedule_dial(p);
		return;
	}
	t->stats.dials++;
	p->conn = c;
	if (raft_conn_dial(c, p) != RAFT_OK)
		raft_conn_close(c, NULL);	/* -> raft_peer_conn_lost */
}

void
raft_peer_conn_ready(struct raft_peer *p)
{
	p->attempts = 0;
	raft_peer_flush(p);
}

/* c (p's connection) is closing: forget it, count what it lost, redial. */
void
raft_peer_conn_lost(struct raft_peer *p, struct raft_conn *c)
{
	struct raft_transport *t = p->t;

	c->peer = NULL;
	if (p->conn != c)
		return;
	p->conn = NULL;
	t->stats.dropped_broken += p->inflight_msgs;
	p->inflight_bytes = 0;
	p->inflight_msgs = 0;
	p->writing = false;
	if (!c->ready && !p->removed && !t->closing)
		raft_tlog(t, RAFT_TRANSPORT_LOG_INFO, c->remote,
				  "cannot reach %s; retrying", p->addr);
	schedule_dial(p);
}

int
raft_peer_enqueue(struct raft_peer *p, uint8_t *frame, size_t len)
{
	struct raft_transport *t = p->t;
	struct raft_out_msg *m;

	if (p->queued_msgs + p->inflight_msgs >= t->opt.queue_max_msgs ||
		p->queued_bytes + p->inflight_bytes + len > t->opt.queue_max_bytes)
	{
		t->stats.dropped_full++;
		free(frame);
		return RAFT_EBUSY;
	}
	m = malloc(sizeof(*m));
	if (m == NULL)
	{
		free(frame);
		return RAFT_ENOMEM;
	}
	m->next = NULL;
	m->frame = frame;
	m->len = len;
	if (p->tail != NULL)
		p->tail->next = m;
	else
		p->head = m;
	p->tail = m;
	p->queued_bytes += len;
	p->queued_msgs++;
	if (!t->corked)
		raft_peer_flush(p);
	return RAFT_OK;
}
