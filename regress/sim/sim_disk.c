/*
 * regress/sim/sim_disk.c — a node's simulated disk.
 *
 * Writes (hard state, entries, a received snapshot) land in an unsynced
 * buffer; a sync makes them durable in order.  A crash drops the unsynced
 * buffer and nothing else: synced data is never damaged here (torn and
 * corrupted records are the storage layer's tests, regress/unit).  The
 * host's own compaction writes its snapshot and drops the log prefix
 * atomically and durably at once, as a storage layer that writes the
 * snapshot file, fsyncs it and renames it would.
 *
 * Two views are kept: `durable`, what a restart loads, and `cur`, durable
 * plus the unsynced writes, which is the log the core believes it has.
 */
#include <stdlib.h>
#include <string.h>

#include "sim.h"

uint64_t
sim_entry_hash(uint8_t type, const void *data, size_t len)
{
	uint64_t h = sim_hash_bytes(0, &type, 1);

	return sim_mix64(sim_hash_bytes(h, data, len));
}

raft_index
sim_log_last(const struct sim_log *l)
{
	return l->snap_index + l->n;
}

const struct sim_entry *
sim_log_get(const struct sim_log *l, raft_index i)
{
	if (i <= l->snap_index || i > sim_log_last(l))
		return NULL;
	return &l->e[i - l->snap_index - 1];
}

raft_term
sim_log_term(const struct sim_log *l, raft_index i, bool *found)
{
	const struct sim_entry *e;

	*found = true;
	if (i == l->snap_index)
		return l->snap_term;
	e = sim_log_get(l, i);
	if (e != NULL)
		return e->term;
	*found = false;
	return 0;
}

static void
entry_copy(struct sim_entry *dst, const struct sim_entry *src)
{
	*dst = *src;
	dst->data = sim_xmalloc(src->len);
	if (src->len)
		memcpy(dst->data, src->data, src->len);
}

static void
log_truncate(struct sim_log *l, raft_index from)
{
	while (l->n > 0 && sim_log_last(l) >= from)
	{
		l->n--;
		free(l->e[l->n].data);
	}
}

static void
log_clear(struct sim_log *l, raft_index snap_index, raft_term snap_term)
{
	log_truncate(l, 0);
	l->snap_index = snap_index;
	l->snap_term = snap_term;
}

static void
log_free(struct sim_log *l)
{
	log_truncate(l, 0);
	free(l->e);
	memset(l, 0, sizeof(*l));
}

/* Truncates from the first entry's index and appends; false on a gap. */
static bool
log_write(struct sim_log *l, const struct sim_entry *e, size_t n)
{
	size_t k = 0;

	while (k < n && e[k].index <= l->snap_index)
		k++; /* already covered by the snapshot */
	if (k == n)
		return true;
	if (e[k].index > sim_log_last(l) + 1)
		return false;
	log_truncate(l, e[k].index);
	for (; k < n; k++)
	{
		if (e[k].index != sim_log_last(l) + 1)
			return false;
		if (l->n == l->cap)
		{
			l->cap = l->cap ? l->cap * 2 : 64;
			l->e = sim_xrealloc(l->e, l->cap * sizeof(*l->e));
		}
		entry_copy(&l->e[l->n++], &e[k]);
	}
	return true;
}

static void
log_drop_prefix(struct sim_log *l, raft_index upto, raft_term term)
{
	size_t drop;

	if (upto <= l->snap_index)
		return;
	if (upto >= sim_log_last(l))
	{
		log_clear(l, upto, term);
		return;
	}
	drop = upto - l->snap_index;
	for (size_t k = 0; k < drop; k++)
		free(l->e[k].data);
	memmove(l->e, l->e + drop, (l->n - drop) * sizeof(*l->e));
	l->n -= drop;
	l->snap_index = upto;
	l->snap_term = term;
}

static void
store_copy(struct sim_store *dst, const struct sim_store *src)
{
	dst->hs = src->hs;
	dst->snap = src->snap;
	log_clear(&dst->log, src->log.snap_index, src->log.snap_term);
	if (src->log.n)
		log_write(&dst->log, src->log.e, src->log.n);
}

static void
op_free(struct sim_op *op)
{
	for (size_t k = 0; k < op->n; k++)
		free(op->entries[k].data);
	free(op->entries);
	memset(op, 0, sizeof(*op));
}

static struct sim_op *
op_new(struct sim_disk *d, uint8_t kind)
{
	struct sim_op *op;

	if (d->n_pending == d->cap_pending)
	{
		d->cap_pending = d->cap_pending ? d->cap_pending * 2 : 8;
		d->pending =
			sim_xrealloc(d->pending, d->cap_pending * sizeof(*d->pending));
	}
	op = &d->pending[d->n_pending++];
	memset(op, 0, sizeof(*op));
	op->kind = kind;
	return op;
}

static bool
store_apply(struct sim_store *st, const struct sim_op *op)
{
	switch (op->kind)
	{
		case SIM_OP_HARD_STATE:
			st->hs = op->hs;
			return true;
		case SIM_OP_ENTRIES:
			return log_write(&st->log, op->entries, op->n);
		case SIM_OP_SNAPSHOT:
			st->snap = op->snap;
			log_clear(&st->log, op->snap.index, op->snap.term);
			return true;
	}
	return false;
}

void
sim_disk_init(struct sim_disk *d)
{
	memset(d, 0, sizeof(*d));
}

void
sim_disk_free(struct sim_disk *d)
{
	sim_disk_crash(d);
	log_free(&d->durable.log);
	log_free(&d->cur.log);
	free(d->pending);
	memset(d, 0, sizeof(*d));
}

bool
sim_disk_empty(const struct sim_disk *d)
{
	return d->durable.hs.term == 0 && d->durable.hs.vote == 0 &&
		   d->durable.snap.index == 0 && sim_log_last(&d->durable.log) == 0;
}

void
sim_disk_write_hard_state(struct sim_disk *d, const struct raft_hard_state *hs)
{
	struct sim_op *op = op_new(d, SIM_OP_HARD_STATE);

	op->hs = *hs;
	store_apply(&d->cur, op);
}

bool
sim_disk_write_entries(struct sim_disk *d, const struct raft_entry *e,
					   size_t n)
{
	struct sim_op *op;

	if (n == 0)
		return true;
	op = op_new(d, SIM_OP_ENTRIES);
	op->entries = sim_xcalloc(n, sizeof(*op->entries));
	op->n = n;
	for (size_t k = 0; k < n; k++)
	{
		struct sim_entry *x = &op->entries[k];

		x->term = e[k].term;
		x->index = e[k].index;
		x->type = e[k].type;
		x->len = (uint32_t) e[k].data.len;
		x->data = sim_xmalloc(x->len);
		if (x->len)
			memcpy(x->data, e[k].data.base, x->len);
		x->hash = sim_entry_hash(x->type, x->data, x->len);
	}
	return store_apply(&d->cur, op);
}

void
sim_disk_write_snapshot(struct sim_disk *d, const struct sim_snapshot *s)
{
	struct sim_op *op = op_new(d, SIM_OP_SNAPSHOT);

	op->snap = *s;
	store_apply(&d->cur, op);
}

bool
sim_disk_has_pending(const struct sim_disk *d)
{
	return d->n_pending > 0;
}

void
sim_disk_sync(struct sim_disk *d)
{
	for (size_t k = 0; k < d->n_pending; k++)
	{
		store_apply(&d->durable, &d->pending[k]);
		op_free(&d->pending[k]);
	}
	d->n_pending = 0;
}

/* The only fault this disk injects: unsynced writes are gone. */
void
sim_disk_crash(struct sim_disk *d)
{
	for (size_t k = 0; k < d->n_pending; k++)
		op_free(&d->pending[k]);
	d->n_pending = 0;
	store_copy(&d->cur, &d->durable);
}

void
sim_disk_compact(struct sim_disk *d, const struct sim_snapshot *s)
{
	d->durable.snap = *s;
	log_drop_prefix(&d->durable.log, s->index, s->term);
	d->cur.snap = *s;
	log_drop_prefix(&d->cur.log, s->index, s->term);
}
