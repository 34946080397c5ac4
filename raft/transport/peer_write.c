/*
 * raft/transport/peer_write.c — the write pump of a peer's outgoing
 * connection: takes frames from the head of the peer's send queue, in
 * order, and writes them to the authenticated connection, one batch in
 * flight at a time; counts what was sent and what a broken connection lost.
 *
 * A batch is first offered to uv_try_write (one writev, no request) when
 * nothing is in flight on the connection: ours (p->writing) or libuv's (its
 * write queue, say a handshake write).  The frames it writes whole are freed
 * and counted at once; only what is left (a frame cut in the middle and the
 * frames after it) becomes a uv_write request.  A request costs a later loop
 * pass for its callback, and libuv's completion path an epoll_ctl; a writev
 * that the socket takes whole costs neither.  Every byte of the queue goes
 * to the socket once, in queue order: a uv_write starts where the writev
 * stopped, and nothing is written while a uv_write is pending.
 */
#include "transport_int.h"

#include <stdlib.h>

struct write_batch
{
	uv_write_t	req;
	struct raft_conn *conn;
	unsigned	n;
	size_t		bytes;			/* whole frames, as counted in inflight_bytes */
	struct raft_out_msg *msgs[RAFT_WRITE_BATCH];
	uv_buf_t	bufs[RAFT_WRITE_BATCH];
};

void
raft_out_msg_free(struct raft_out_msg *m)
{
	free(m->frame);
	free(m);
}

static bool
can_write(const struct raft_peer *p)
{
	const struct raft_conn *c = p->conn;

	return c != NULL && c->ready && !c->closing && !p->writing &&
		p->head != NULL;
}

/* Takes the head frame off the queue; the caller frees or writes it. */
static struct raft_out_msg *
pop_head(struct raft_peer *p)
{
	struct raft_out_msg *m = p->head;

	p->head = m->next;
	if (p->head == NULL)
		p->tail = NULL;
	p->queued_bytes -= m->len;
	p->queued_msgs--;
	return m;
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

/*
 * Hands up to RAFT_WRITE_BATCH queued frames to uv_write, the first of
 * which already has head_done bytes on the socket.
 */
static void
start_write(struct raft_peer *p, size_t head_done)
{
	struct raft_conn *c = p->conn;
	struct write_batch *b;
	int			rc;

	b = calloc(1, sizeof(*b));
	if (b == NULL)
	{
		if (head_done > 0)		/* the stream is cut inside a frame */
			raft_conn_close(c, "out of memory");
		return;					/* else retried by the next send */
	}
	b->conn = c;
	while (p->head != NULL && b->n < RAFT_WRITE_BATCH)
	{
		struct raft_out_msg *m = pop_head(p);
		size_t		skip = b->n == 0 ? head_done : 0;

		b->msgs[b->n] = m;
		b->bufs[b->n] = uv_buf_init((char *) m->frame + skip,
									(unsigned) (m->len - skip));
		b->bytes += m->len;
		b->n++;
	}
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

enum try_result
{
	TRY_ALL,					/* the whole batch went: try the next one */
	TRY_REST,					/* *head_done bytes of the head frame went */
	TRY_BROKEN					/* the connection is closed */
};

/*
 * Offers up to RAFT_WRITE_BATCH frames from the head of the queue to one
 * writev; frees and counts those it wrote whole, as write_done does.
 */
static enum try_result
try_write(struct raft_peer *p, size_t *head_done)
{
	struct raft_conn *c = p->conn;
	uv_stream_t *stream = (uv_stream_t *) &c->tcp;
	uv_buf_t	bufs[RAFT_WRITE_BATCH];
	unsigned	n = 0;
	unsigned	whole = 0;
	size_t		done;
	int			rc;

	*head_done = 0;
	if (uv_stream_get_write_queue_size(stream) != 0)
		return TRY_REST;		/* behind libuv's own writes: queue after */
	for (struct raft_out_msg *m = p->head; m != NULL && n < RAFT_WRITE_BATCH;
		 m = m->next)
		bufs[n++] = uv_buf_init((char *) m->frame, (unsigned) m->len);
	rc = uv_try_write(stream, bufs, n);
	if (rc == UV_EAGAIN)
		return TRY_REST;		/* nothing written */
	if (rc < 0)
	{
		/* as a uv_write that fails: the batch is lost with the connection */
		for (unsigned i = 0; i < n; i++)
			raft_out_msg_free(pop_head(p));
		p->t->stats.dropped_broken += n;
		raft_conn_close(c, uv_strerror(rc));
		return TRY_BROKEN;
	}
	done = (size_t) rc;
	while (whole < n && done >= bufs[whole].len)
	{
		done -= bufs[whole].len;
		raft_out_msg_free(pop_head(p));
		whole++;
	}
	p->t->stats.msgs_sent += whole;
	raft_conn_stall_timer(c, false);
	if (whole == n)
		return TRY_ALL;
	*head_done = done;
	return TRY_REST;
}

/* Writes what the queue holds, as far as the connection takes it now. */
void
raft_peer_flush(struct raft_peer *p)
{
	size_t		head_done = 0;

	while (can_write(p))
	{
		enum try_result r = try_write(p, &head_done);

		if (r == TRY_BROKEN)
			return;
		if (r == TRY_REST)
		{
			if (can_write(p))
				start_write(p, head_done);
			return;
		}
	}
}
