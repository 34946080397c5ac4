/*
 * raft/transport/peer_write.c — the write pump of a peer's outgoing
 * connection: takes frames from the head of the peer's send queue, in
 * order, and writes them to the authenticated connection, one batch in
 * flight at a time; counts what was sent and what a broken connection lost.
 */
#include "transport_int.h"

#include <stdlib.h>

struct write_batch
{
	uv_write_t	req;
	struct raft_conn *conn;
	unsigned	n;
	size_t		bytes;
	struct raft_out_msg *msgs[RAFT_WRITE_BATCH];
	uv_buf_t	bufs[RAFT_WRITE_BATCH];
};

void
raft_out_msg_free(struct raft_out_msg *m)
{
	free(m->frame);
	free(m);
}

static void
write_done(uv_write_t *req, int status)
{
	struct write_batch *b = req->data;
	struct raft_conn *c = b->conn;
	struct raft_peer *p = c->peer;

	for (unsigned i = 0; i < b->n; i++)
		raft_out_msg_free(b->msgs[i]);
	if (p != NULL && p->conn == c)
	{
		p->inflight_bytes -= b->bytes;
		p->inflight_msgs -= b->n;
		p->writing = false;
		if (status == 0)
		{
			c->t->stats.msgs_sent += b->n;
			raft_conn_stall_timer(c, false);
			raft_peer_flush(p);
		}
		else
		{
			c->t->stats.dropped_broken += b->n;
			raft_conn_close(c, uv_strerror(status));
		}
	}
	free(b);
}

/* Hands up to RAFT_WRITE_BATCH queued frames to the connection. */
void
raft_peer_flush(struct raft_peer *p)
{
	struct raft_conn *c = p->conn;
	struct write_batch *b;
	int			rc;

	if (c == NULL || !c->ready || c->closing || p->writing || p->head == NULL)
		return;
	b = calloc(1, sizeof(*b));
	if (b == NULL)
		return;					/* retried by the next send */
	b->conn = c;
	while (p->head != NULL && b->n < RAFT_WRITE_BATCH)
	{
		struct raft_out_msg *m = p->head;

		p->head = m->next;
		b->msgs[b->n] = m;
		b->bufs[b->n] = uv_buf_init((char *) m->frame, (unsigned) m->len);
		b->bytes += m->len;
		b->n++;
	}
	if (p->head == NULL)
		p->tail = NULL;
	p->queued_bytes -= b->bytes;
	p->queued_msgs -= b->n;
	p->inflight_bytes += b->bytes;
	p->inflight_msgs += b->n;
	p->writing = true;
	b->req.data = b;
	rc = uv_write(&b->req, (uv_stream_t *) &c->tcp, b->bufs, b->n, write_done);
	if (rc != 0)
	{
		p->inflight_bytes -= b->bytes;
		p->inflight_msgs -= b->n;
		p->writing = false;
		p->t->stats.dropped_broken += b->n;
		for (unsigned i = 0; i < b->n; i++)
			raft_out_msg_free(b->msgs[i]);
		free(b);
		raft_conn_close(c, uv_strerror(rc));
		return;
	}
	raft_conn_stall_timer(c, true);
}
