/*
 * extension/worker_apply_queue.c — committed entries from the Raft worker
 * to the applier.
 *
 * The worker keeps every committed entry that the applier has not yet
 * confirmed applied (pgraft_shared->applied_index), and writes them in
 * order to a shm_mq in shared memory without ever blocking (nowait; a send
 * that would block is resumed on the next loop).
 *
 * Handshake, so either side may restart alone: the applier, once detached
 * from any previous queue, publishes its durable applied index and bumps
 * applier_generation.  The worker answers by recreating the queue for that
 * generation (sender = worker, receiver = applier), sets queue_generation
 * and resends from applied + 1.  A worker that starts while the applier is
 * still attached to its predecessor's queue (queue_generation ==
 * applier_generation) waits: the applier sees the old queue detached and
 * asks again.  After a full restart the core hands out every committed
 * entry again; those <= the applied index are dropped here or skipped by
 * the applier.
 *
 * While a received snapshot is not installed (snapshot_install.c), entries
 * after its index are held back: they apply only to the installed tables.
 *
 * Memory: the core cannot hold committed entries back, so what bounds the
 * pending entries is flow control on this server's own proposals
 * (PGRAFT_MAX_PENDING_BYTES, worker_requests.c); entries that other servers
 * propose still arrive.  They are freed as soon as they are applied.
 */
#include "postgres.h"

#include "miscadmin.h"
#include "storage/proc.h"

#include "pg_raft.h"
#include "shmem.h"
#include "snapshot.h"
#include "worker.h"

#define PGRAFT_PENDING_INITIAL 256

void
pgraft_queue_committed(PgRaftWorker *w, const struct raft_entry *e)
{
	PgRaftPendingEntry *p;

	if (e->index <= pg_atomic_read_u64(&pgraft_shared->applied_index))
		return;					/* applied before a restart */
	if (w->pending_count > 0)
	{
		PgRaftPendingEntry *last = &w->pending[(w->pending_head + w->pending_count - 1) %
											   w->pending_cap];

		if (e->index <= last->index)
			return;				/* handed out again: already queued */
	}
	if (w->pending_count == w->pending_cap)
	{
		uint32		newcap = w->pending_cap ? w->pending_cap * 2 : PGRAFT_PENDING_INITIAL;
		PgRaftPendingEntry *n = MemoryContextAlloc(w->queue_cxt,
												   sizeof(PgRaftPendingEntry) * newcap);
		uint32		i;

		for (i = 0; i < w->pending_count; i++)
			n[i] = w->pending[(w->pending_head + i) % w->pending_cap];
		if (w->pending)
			pfree(w->pending);
		w->pending = n;
		w->pending_cap = newcap;
		w->pending_head = 0;
	}
	p = &w->pending[(w->pending_head + w->pending_count) % w->pending_cap];
	p->index = e->index;
	p->term = e->term;
	p->type = e->type;
	p->len = e->data.len;
	p->data = NULL;
	if (e->data.len > 0)
	{
		p->data = MemoryContextAllocHuge(w->queue_cxt, e->data.len);
		memcpy(p->data, e->data.base, e->data.len);
	}
	w->pending_count++;
	w->pending_bytes += e->data.len;
}

static void
drop_applied(PgRaftWorker *w)
{
	uint64		applied = pg_atomic_read_u64(&pgraft_shared->applied_index);

	while (w->pending_count > 0)
	{
		PgRaftPendingEntry *p = &w->pending[w->pending_head];

		if (p->index > applied)
			break;
		if (p->data)
			pfree(p->data);
		w->pending_bytes -= p->len;
		w->pending_head = (w->pending_head + 1) % w->pending_cap;
		w->pending_count--;
	}
}

static shm_mq_handle *
attach_queue_handle(shm_mq *mq)
{
	MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);
	shm_mq_handle *h = shm_mq_attach(mq, NULL, NULL);

	MemoryContextSwitchTo(old);
	return h;
}

/* Answers an applier that asked for a (new) queue. */
static void
serve_handshake(PgRaftWorker *w)
{
	uint64		gen;
	uint64		served;
	uint64		start;
	PGPROC	   *proc;
	shm_mq	   *mq;

	LWLockAcquire(pgraft_shared->lock, LW_SHARED);
	gen = pgraft_shared->applier_generation;
	served = pgraft_shared->queue_generation;
	start = pgraft_shared->applier_start_index;
	proc = pgraft_shared->applier_proc;
	LWLockRelease(pgraft_shared->lock);

	if (gen == 0 || gen == served || proc == NULL)
		return;

	pgraft_queue_detach(w);
	mq = shm_mq_create(pgraft_apply_queue(), PGRAFT_APPLY_QUEUE_BYTES);
	shm_mq_set_sender(mq, MyProc);
	shm_mq_set_receiver(mq, proc);
	/* the handle outlives this loop iteration's memory context */
	w->mqh = attach_queue_handle(mq);
	w->queue_generation = gen;
	w->queue_detached = false;
	w->sent_index = start;

	LWLockAcquire(pgraft_shared->lock, LW_EXCLUSIVE);
	pgraft_shared->queue_generation = gen;
	LWLockRelease(pgraft_shared->lock);
	SetLatch(&proc->procLatch);
	ereport(DEBUG1,
			(errmsg_internal("pg_raft: apply queue %llu ready, resending after index %llu",
							 (unsigned long long) gen, (unsigned long long) start)));
}

void
pgraft_queue_pump(PgRaftWorker *w)
{
	uint32		i;
	uint64		hold_back;

	serve_handshake(w);
	drop_applied(w);
	if (w->mqh == NULL || w->queue_detached)
		return;
	hold_back = pgraft_restore_hold_back();

	for (i = 0; i < w->pending_count; i++)
	{
		PgRaftPendingEntry *p = &w->pending[(w->pending_head + i) % w->pending_cap];
		PgRaftApplyHeader h;
		shm_mq_iovec iov[2];
		shm_mq_result res;

		if (p->index <= w->sent_index)
			continue;
		if (p->index > hold_back)
			break;				/* after a snapshot the tables lack yet */
		memset(&h, 0, sizeof(h));
		h.index = p->index;
		h.term = p->term;
		h.type = p->type;
		iov[0].data = (const char *) &h;
		iov[0].len = sizeof(h);
		iov[1].data = p->data ? p->data : "";
		iov[1].len = p->len;
#if PG_VERSION_NUM >= 150000
		res = shm_mq_sendv(w->mqh, iov, 2, true, true);
#else
		res = shm_mq_sendv(w->mqh, iov, 2, true);
#endif
		if (res == SHM_MQ_WOULD_BLOCK)
			break;				/* the applier's read sets our latch */
		if (res == SHM_MQ_DETACHED)
		{
			w->queue_detached = true;
			break;
		}
		w->sent_index = p->index;
	}
}

void
pgraft_queue_detach(PgRaftWorker *w)
{
	if (w->mqh)
	{
		shm_mq_detach(w->mqh);
		w->mqh = NULL;
	}
}
