/*
 * regress/sim/sim_host.c — one simulated server: a struct raft, its disk
 * and its state machine, driven the way raft.h says a host must.
 *
 * A ready is carried out in the documented order: a received snapshot,
 * the hard state and entries go to the disk's unsynced buffer; a sync
 * completes after a simulated delay (SIM_EV_SYNC); only then are the
 * ready's messages sent, its committed entries applied, its read states
 * handed out and raft_advance called.  Meanwhile the node keeps ticking and
 * receiving, as a real host with an fsync in flight would.  Everything the
 * ready points to is copied when it is taken.
 *
 * In most seeds the host is the fast one raft.h allows (like pg_raft's
 * worker): when the ready leaves term and vote as they are on disk, the
 * messages raft_message_waits_for_sync lets go (the leader's appends and
 * heartbeats) are sent as the ready is taken, before the sync (§10.2.1);
 * and the hard state is written only when term or vote change, so a
 * restart finds an old commit index (§3.8).  The durability checks on
 * every message sent catch a message that left too early.
 *
 * The state machine is the applied sequence itself, kept as a rolling hash
 * of (index, term, entry hash), plus where it applied the run's final marker;
 * it is volatile: a restart rebuilds it from the latest durable snapshot and
 * the core hands the entries after it out again.  A snapshot's data is that
 * state serialized (index, term, rolling hash, marker), so a node restored
 * from one continues the checker's prefix check.
 */
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "sim.h"

#define SNAP_CHECK_SALT 0x534e4150ull /* "SNAP" */

size_t
sim_make_command(uint8_t *buf, size_t cap, uint32_t magic, uint64_t id,
				 raft_id from, size_t pad)
{
	size_t len = 16 + pad;

	if (len > cap)
		len = cap;
	memset(buf, 0, len);
	memcpy(buf, &magic, 4);
	memcpy(buf + 4, &id, 8);
	buf[12] = (uint8_t) from;
	for (size_t k = 16; k < len; k++)
		buf[k] = (uint8_t) (sim_mix64(id + k) & 0xff);
	return len;
}

static void
put64(uint8_t *p, uint64_t v)
{
	memcpy(p, &v, 8);
}

static uint64_t
get64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return v;
}

static void
snap_encode(struct sim_snapshot *s, raft_index index, raft_term term,
			uint64_t rolling, uint64_t marker)
{
	s->index = index;
	s->term = term;
	s->len = SIM_SNAP_DATA;
	put64(s->data, index);
	put64(s->data + 8, term);
	put64(s->data + 16, rolling);
	put64(s->data + 24, marker);
	put64(s->data + 32,
		  sim_mix64(index ^ sim_mix64(term ^ sim_mix64(rolling ^ marker))) ^
			  SNAP_CHECK_SALT);
}

static bool
snap_decode(const uint8_t *data, size_t len, raft_index *index,
			uint64_t *rolling, uint64_t *marker)
{
	raft_term term;

	if (len != SIM_SNAP_DATA)
		return false;
	*index = get64(data);
	term = get64(data + 8);
	*rolling = get64(data + 16);
	*marker = get64(data + 24);
	return get64(data + 32) ==
		   (sim_mix64(*index ^
					  sim_mix64(term ^ sim_mix64(*rolling ^ *marker))) ^
			SNAP_CHECK_SALT);
}

static void compact_now(struct sim *s, struct sim_host *h, raft_index tail);

static void
core_trace(void *arg, raft_id id, const char *line)
{
	sim_tracef((struct sim *) arg, "n%llu : %s", (unsigned long long) id,
			   line);
}

/* ------------------------------------------------------------------------
 * The state machine.
 * ------------------------------------------------------------------------ */
static void
sm_reset(struct sim_host *h, raft_index index, raft_term term,
		 uint64_t rolling, uint64_t marker)
{
	h->applied = index;
	h->rolling = rolling;
	h->marker_at = marker;
	h->hist_base = index;
	h->hist_n = 0;
	if (h->hist_cap == 0)
	{
		h->hist_cap = 256;
		h->hist = sim_xmalloc(h->hist_cap * sizeof(*h->hist));
		h->hist_term = sim_xmalloc(h->hist_cap * sizeof(*h->hist_term));
	}
	h->hist[0] = rolling;
	h->hist_term[0] = term;
	h->hist_n = 1;
}

static void
sm_push(struct sim_host *h, raft_term term)
{
	if (h->hist_n == h->hist_cap)
	{
		h->hist_cap *= 2;
		h->hist = sim_xrealloc(h->hist, h->hist_cap * sizeof(*h->hist));
		h->hist_term =
			sim_xrealloc(h->hist_term, h->hist_cap * sizeof(*h->hist_term));
	}
	h->hist[h->hist_n] = h->rolling;
	h->hist_term[h->hist_n] = term;
	h->hist_n++;
}

static void
sm_restore(struct sim *s, struct sim_host *h, const struct sim_snapshot *snap)
{
	raft_index index = 0;
	uint64_t rolling = 0, marker = 0;

	if (snap->index == 0)
	{
		sm_reset(h, 0, 0, 0, 0);
		return;
	}
	if (!snap_decode(snap->data, snap->len, &index, &rolling, &marker) ||
		index != snap->index)
	{
		sim_fail(s,
				 "snapshot data: n%llu got a snapshot at %llu whose data is "
				 "not the state the host serialized",
				 (unsigned long long) h->id, (unsigned long long) snap->index);
		return;
	}
	sm_reset(h, index, snap->term, rolling, marker);
}

/* A committed configuration without a host means that host is out. */
static void
config_applied(struct sim *s, struct sim_host *h, const struct sim_entry *e)
{
	struct raft_config cfg;
	int rc = raft_decode_config(e->data, e->len, &cfg);

	if (rc != RAFT_OK)
	{
		sim_fail(s,
				 "config entry: n%llu applied a configuration entry at %llu "
				 "that does not decode (%s)",
				 (unsigned long long) h->id, (unsigned long long) e->index,
				 raft_strerror(rc));
		return;
	}
	if (cfg.joint)
		return;
	for (raft_id id = 1; id <= SIM_MAX_NODES; id++)
	{
		struct sim_host *x = &s->hosts[id];

		if (!x->exists || x->removed || x->shutdown_at != 0 ||
			x->add_index >= e->index)
			continue;
		if (raft_config_find(&cfg, id) != NULL)
			continue;
		x->shutdown_at =
			s->now + sim_rng_range(&s->rng_host, 1, 5) * SIM_TICK_MS;
		sim_tracef(s, "n%llu * configuration %llu without n%llu is committed",
				   (unsigned long long) h->id, (unsigned long long) e->index,
				   (unsigned long long) id);
	}
}

static void
host_apply(struct sim *s, struct sim_host *h, const struct sim_entry *e)
{
	if (e->index != h->applied + 1)
	{
		sim_fail(
			s, "apply order: n%llu was handed entry %llu to apply after %llu",
			(unsigned long long) h->id, (unsigned long long) e->index,
			(unsigned long long) h->applied);
		return;
	}
	h->rolling = sim_mix64(h->rolling ^
						   sim_mix64(e->index * 1000003u + e->term) ^ e->hash);
	h->applied = e->index;
	sm_push(h, e->term);
	sim_check_apply(s, h, e);
	if (e->type == RAFT_ENTRY_COMMAND && e->len >= 12)
	{
		uint32_t magic;
		uint64_t id;

		memcpy(&magic, e->data, 4);
		memcpy(&id, e->data + 4, 8);
		if (magic == SIM_MARKER_MAGIC && id == s->marker_id &&
			s->marker_id != 0)
			if (h->marker_at == 0)
				h->marker_at = e->index;
	}
	else if (e->type == RAFT_ENTRY_CONFIG)
		config_applied(s, h, e);
}

/* ------------------------------------------------------------------------
 * Life cycle.
 * ------------------------------------------------------------------------ */
static struct raft *
host_new_raft(struct sim *s, struct sim_host *h)
{
	struct raft_options opt;
	struct raft *r;

	raft_options_default(
		&opt, h->id,
		sim_mix64(s->cfg.seed ^ sim_mix64(h->id * 131 + h->incarnation)));
	opt.election_ticks = s->election_ticks;
	opt.heartbeat_ticks = s->heartbeat_ticks;
	opt.pre_vote = s->pre_vote;
	opt.check_quorum = s->check_quorum;
	opt.lease_reads = s->lease_reads;
	opt.max_msg_bytes = s->max_msg_bytes;
	opt.max_inflight = s->max_inflight;
	opt.max_uncommitted_bytes = s->max_uncommitted;
	opt.trace = core_trace;
	opt.trace_arg = s;
	r = raft_new(&opt);
	if (r == NULL)
		sim_fail(s, "raft_new: refused the options for n%llu",
				 (unsigned long long) h->id);
	return r;
}

static void
host_schedule_tick(struct sim *s, struct sim_host *h)
{
	uint64_t next = (s->now / SIM_TICK_MS + 1) * SIM_TICK_MS + h->tick_phase;

	sim_push(s, next, SIM_EV_TICK, h->id, h->incarnation, NULL);
}

static void
host_load(struct sim *s, struct sim_host *h)
{
	const struct sim_store *d = &h->disk.durable;
	struct raft_snapshot snap;
	struct raft_entry *ents;
	int rc;

	memset(&snap, 0, sizeof(snap));
	snap.index = d->snap.index;
	snap.term = d->snap.term;
	snap.config = d->snap.config;
	snap.data.base = (void *) d->snap.data;
	snap.data.len = d->snap.len;
	ents = sim_xcalloc(d->log.n, sizeof(*ents));
	for (size_t k = 0; k < d->log.n; k++)
	{
		ents[k].term = d->log.e[k].term;
		ents[k].index = d->log.e[k].index;
		ents[k].type = d->log.e[k].type;
		ents[k].data.base = d->log.e[k].data;
		ents[k].data.len = d->log.e[k].len;
	}
	rc = raft_load(h->r, &d->hs, d->snap.index ? &snap : NULL, ents, d->log.n);
	free(ents);
	if (rc != RAFT_OK)
		sim_fail(s, "raft_load: n%llu refused its own durable state (%s)",
				 (unsigned long long) h->id, raft_strerror(rc));
	sm_restore(s, h, &d->snap);
}

/* A fresh start: bootstrap (first configuration) or empty (joining). */
void
sim_host_start(struct sim *s, struct sim_host *h, bool bootstrap)
{
	int rc;

	h->exists = true;
	h->up = true;
	h->incarnation++;
	sim_disk_init(&h->disk);
	sm_reset(h, 0, 0, 0, 0);
	h->r = host_new_raft(s, h);
	if (h->r == NULL)
	{
		h->up = false;
		return;
	}
	sim_tracef(s, "n%llu * start%s", (unsigned long long) h->id,
			   bootstrap ? " (bootstrap)" : " (empty, joining)");
	if (bootstrap)
	{
		rc = raft_bootstrap(h->r, &s->initial_cfg);
		if (rc != RAFT_OK)
			sim_fail(s, "raft_bootstrap: n%llu refused (%s)",
					 (unsigned long long) h->id, raft_strerror(rc));
	}
	host_schedule_tick(s, h);
	sim_host_pump(s, h);
}

void
sim_host_restart(struct sim *s, struct sim_host *h)
{
	h->up = true;
	h->incarnation++;
	h->restart_at = 0;
	h->have_status = false;
	h->n_pending_checks = 0;
	h->seen_commit = 0;
	h->ready_step = h->prev_ready_step = s->steps; /* its log is the disk's */
	h->r = host_new_raft(s, h);
	if (h->r == NULL)
	{
		h->up = false;
		return;
	}
	sim_tracef(s,
			   "n%llu * restart: term %llu vote n%llu commit %llu "
			   "snapshot %llu last %llu",
			   (unsigned long long) h->id,
			   (unsigned long long) h->disk.durable.hs.term,
			   (unsigned long long) h->disk.durable.hs.vote,
			   (unsigned long long) h->disk.durable.hs.commit,
			   (unsigned long long) h->disk.durable.snap.index,
			   (unsigned long long) sim_log_last(&h->disk.durable.log));
	if (sim_disk_empty(&h->disk))
	{
		/* Nothing reached the disk: start over, as pg_raft does. */
		sm_reset(h, 0, 0, 0, 0);
		if (h->initial)
		{
			int rc = raft_bootstrap(h->r, &s->initial_cfg);

			if (rc != RAFT_OK)
				sim_fail(s, "raft_bootstrap: n%llu refused (%s)",
						 (unsigned long long) h->id, raft_strerror(rc));
		}
	}
	else
		host_load(s, h);
	host_schedule_tick(s, h);
	sim_host_pump(s, h);
}

static void
ready_free(struct sim_host *h)
{
	for (size_t k = 0; k < h->rd_n_msgs; k++)
		sim_msg_free(h->rd_msgs[k]);
	for (size_t k = 0; k < h->rd_n_committed; k++)
		free(h->rd_committed[k].data);
	free(h->rd_msgs);
	free(h->rd_committed);
	free(h->rd_reads);
	h->rd_msgs = NULL;
	h->rd_committed = NULL;
	h->rd_reads = NULL;
	h->rd_n_msgs = h->rd_n_committed = h->rd_n_reads = 0;
	h->rd_has_snapshot = false;
	h->syncing = false;
}

void
sim_host_crash(struct sim *s, struct sim_host *h)
{
	if (!h->up)
		return;
	sim_tracef(s, "n%llu * crash: %zu unsynced writes lost",
			   (unsigned long long) h->id, h->disk.n_pending);
	raft_free(h->r);
	h->r = NULL;
	ready_free(h);
	sim_disk_crash(&h->disk);
	h->up = false;
	h->have_status = false;
	h->n_pending_checks = 0;
	h->seen_commit = 0;
}

void
sim_host_shutdown(struct sim *s, struct sim_host *h)
{
	if (h->up)
	{
		sim_tracef(s, "n%llu * shut down: removed from the cluster",
				   (unsigned long long) h->id);
		raft_free(h->r);
		h->r = NULL;
		ready_free(h);
	}
	h->up = false;
	h->removed = true;
	h->have_status = false;
}

void
sim_host_free(struct sim_host *h)
{
	if (h->r)
		raft_free(h->r);
	h->r = NULL;
	ready_free(h);
	sim_disk_free(&h->disk);
	free(h->hist);
	free(h->hist_term);
	h->hist = NULL;
	h->hist_term = NULL;
	h->hist_cap = 0;
}

/* ------------------------------------------------------------------------
 * Ready.
 * ------------------------------------------------------------------------ */
static void
trace_ready(struct sim *s, struct sim_host *h, const struct raft_ready *rd)
{
	char line[SIM_LINE];
	int n = 0;

	n += snprintf(line + n, sizeof(line) - n, "n%llu . ready",
				  (unsigned long long) h->id);
	if (rd->snapshot)
		n += snprintf(line + n, sizeof(line) - n, " snap=%llu/%llu",
					  (unsigned long long) rd->snapshot->index,
					  (unsigned long long) rd->snapshot->term);
	if (rd->hard_state_changed)
		n += snprintf(line + n, sizeof(line) - n, " hs=t%llu/v%llu/c%llu",
					  (unsigned long long) rd->hard_state.term,
					  (unsigned long long) rd->hard_state.vote,
					  (unsigned long long) rd->hard_state.commit);
	if (rd->n_entries && n < (int) sizeof(line))
		n += snprintf(
			line + n, sizeof(line) - n, " ents=[%llu/%llu..%llu/%llu]",
			(unsigned long long) rd->entries[0].index,
			(unsigned long long) rd->entries[0].term,
			(unsigned long long) rd->entries[rd->n_entries - 1].index,
			(unsigned long long) rd->entries[rd->n_entries - 1].term);
	if (rd->n_committed && n < (int) sizeof(line))
		n += snprintf(
			line + n, sizeof(line) - n, " apply=[%llu..%llu]",
			(unsigned long long) rd->committed[0].index,
			(unsigned long long) rd->committed[rd->n_committed - 1].index);
	if (rd->n_messages && n < (int) sizeof(line))
		n += snprintf(line + n, sizeof(line) - n, " msgs=%u", rd->n_messages);
	if (rd->n_reads && n < (int) sizeof(line))
		snprintf(line + n, sizeof(line) - n, " reads=%u", rd->n_reads);
	sim_tracef(s, "%s", line);
}

/* Copies what the ready points to and starts persisting it. */
static bool
take_ready(struct sim *s, struct sim_host *h)
{
	struct raft_ready *rd = &h->rd;
	bool persist = false;
	bool early;

	raft_ready(h->r, rd);
	h->prev_ready_step = h->ready_step;
	h->ready_step = s->steps;
	trace_ready(s, h, rd);
	if (rd->snapshot)
	{
		struct sim_snapshot *snap = &h->rd_snapshot;

		memset(snap, 0, sizeof(*snap));
		snap->index = rd->snapshot->index;
		snap->term = rd->snapshot->term;
		snap->config = rd->snapshot->config;
		if (rd->snapshot->data.len > SIM_SNAP_DATA)
			sim_fail(
				s,
				"snapshot data: n%llu got %zu bytes of snapshot data, the "
				"host wrote %d",
				(unsigned long long) h->id, rd->snapshot->data.len,
				SIM_SNAP_DATA);
		else
		{
			snap->len = (uint32_t) rd->snapshot->data.len;
			if (snap->len)
				memcpy(snap->data, rd->snapshot->data.base, snap->len);
		}
		h->rd_has_snapshot = true;
		sim_disk_write_snapshot(&h->disk, snap);
		persist = true;
	}
	if (rd->hard_state_changed &&
		(!s->lazy_commit ||
		 rd->hard_state.term != h->disk.cur.hs.term ||
		 rd->hard_state.vote != h->disk.cur.hs.vote))
	{
		sim_disk_write_hard_state(&h->disk, &rd->hard_state);
		persist = true;
	}
	if (rd->n_entries)
	{
		sim_check_write(s, h, rd->entries, rd->n_entries);
		if (!sim_disk_write_entries(&h->disk, rd->entries, rd->n_entries))
			sim_fail(
				s,
				"log gap: n%llu was asked to write entries from %llu after "
				"its last entry %llu",
				(unsigned long long) h->id,
				(unsigned long long) rd->entries[0].index,
				(unsigned long long) sim_log_last(&h->disk.cur.log));
		persist = true;
	}
	/* Term and vote durable already: what needs no sync leaves now. */
	early = s->early_send &&
		rd->hard_state.term == h->disk.durable.hs.term &&
		rd->hard_state.vote == h->disk.durable.hs.vote;
	h->rd_n_msgs = 0;
	h->rd_msgs = sim_xcalloc(rd->n_messages, sizeof(*h->rd_msgs));
	for (uint32_t k = 0; k < rd->n_messages; k++)
	{
#ifndef RAFT_BUG_HOST_SENDS_ALL_EARLY
		if (early && !raft_message_waits_for_sync(&rd->messages[k]))
#else
		/* raft.h's loop broken: acknowledgements and votes leave early. */
		if (early)
#endif
		{
			sim_check_send(s, h, &rd->messages[k]);
			sim_net_send(s, &rd->messages[k]);
			s->stats.early_sends++;
			continue;
		}
		h->rd_msgs[h->rd_n_msgs++] = sim_msg_copy(&rd->messages[k]);
	}
	h->rd_n_committed = rd->n_committed;
	h->rd_committed = sim_xcalloc(rd->n_committed, sizeof(*h->rd_committed));
	for (uint32_t k = 0; k < rd->n_committed; k++)
	{
		const struct raft_entry *e = &rd->committed[k];
		struct sim_entry *x = &h->rd_committed[k];

		x->term = e->term;
		x->index = e->index;
		x->type = e->type;
		x->len = (uint32_t) e->data.len;
		x->data = sim_xmalloc(x->len);
		if (x->len)
			memcpy(x->data, e->data.base, x->len);
		x->hash = sim_entry_hash(x->type, x->data, x->len);
	}
	h->rd_n_reads = rd->n_reads;
	h->rd_reads = sim_xcalloc(rd->n_reads, sizeof(*h->rd_reads));
	if (rd->n_reads)
		memcpy(h->rd_reads, rd->reads, rd->n_reads * sizeof(*rd->reads));
	h->syncing = true;
	return persist;
}

/* The ready's writes are durable: restore, send, apply, read, advance. */
static void
finish_ready(struct sim *s, struct sim_host *h)
{
	sim_disk_sync(&h->disk);
	sim_check_synced(s, h);
	if (h->rd_has_snapshot)
	{
		if (h->rd_snapshot.index < h->applied)
			sim_fail(s,
					 "snapshot restore: n%llu was handed snapshot %llu after "
					 "applying %llu",
					 (unsigned long long) h->id,
					 (unsigned long long) h->rd_snapshot.index,
					 (unsigned long long) h->applied);
		sm_restore(s, h, &h->rd_snapshot);
		sim_check_restore(s, h, &h->rd_snapshot);
		s->stats.snapshots_installed++;
	}
	for (size_t k = 0; k < h->rd_n_msgs; k++)
	{
		sim_check_send(s, h, h->rd_msgs[k]);
		sim_net_send(s, h->rd_msgs[k]);
	}
	for (size_t k = 0; k < h->rd_n_committed; k++)
		host_apply(s, h, &h->rd_committed[k]);
	for (size_t k = 0; k < h->rd_n_reads; k++)
		sim_check_read_done(s, h, &h->rd_reads[k]);
	/* raft.h allows compacting what this ready applied before advancing. */
	if (h->rd_n_committed > 0 &&
		sim_rng_chance(&s->rng_host, s->compact_10k / 4))
		compact_now(s, h, sim_rng_below(&s->rng_host, 4));
	raft_advance(h->r, &h->rd);
	ready_free(h);
}

void
sim_host_pump(struct sim *s, struct sim_host *h)
{
	unsigned rounds = 0;

	while (h->up && !h->syncing && !s->violated && raft_has_ready(h->r))
	{
		if (++rounds > 64)
		{
			sim_fail(s,
					 "ready loop: n%llu still has a ready after 64 rounds in "
					 "one step",
					 (unsigned long long) h->id);
			return;
		}
		if (take_ready(s, h))
		{
			uint64_t delay =
				sim_rng_below(&s->rng_host, s->sync_delay_max_ms + 1);

			/* Now and then an fsync stalls, far longer than a round trip. */
			if (sim_rng_chance(&s->rng_host, s->sync_stall_10k))
				delay += sim_rng_range(&s->rng_host, 50, 400);

			sim_push(s, s->now + delay, SIM_EV_SYNC, h->id, h->incarnation,
					 NULL);
			return;
		}
		finish_ready(s, h);
	}
}

void
sim_host_sync_done(struct sim *s, struct sim_host *h)
{
	if (!h->up || !h->syncing)
		return;
	finish_ready(s, h);
	sim_host_pump(s, h);
}

bool
sim_host_quiet(const struct sim_host *h)
{
	return h->up && !h->syncing && !raft_has_ready(h->r);
}

/* ------------------------------------------------------------------------
 * Compaction: the host's snapshot at applied - tail, then raft_compact.
 * ------------------------------------------------------------------------ */
static bool
config_at(struct sim *s, struct sim_host *h, raft_index index,
		  struct raft_config *cfg)
{
	const struct sim_log *l = &h->disk.cur.log;

	for (raft_index i = index; i > l->snap_index; i--)
	{
		const struct sim_entry *e = sim_log_get(l, i);

		if (e != NULL && e->type == RAFT_ENTRY_CONFIG)
			return raft_decode_config(e->data, e->len, cfg) == RAFT_OK;
	}
	if (h->disk.cur.snap.index == 0)
		return false;
	*cfg = h->disk.cur.snap.config;
	return true;
}

void
sim_host_compact(struct sim *s, struct sim_host *h, raft_index tail)
{
	if (h->up && !h->syncing)
		compact_now(s, h, tail);
}

/* Also called in the middle of a ready: applied, not yet advanced. */
static void
compact_now(struct sim *s, struct sim_host *h, raft_index tail)
{
	struct sim_snapshot snap;
	struct raft_buffer buf;
	struct raft_status st;
	raft_index index;
	int rc;

	if (h->applied <= tail)
		return;
	index = h->applied - tail;
	if (index <= h->disk.cur.snap.index || index < h->hist_base ||
		index - h->hist_base >= h->hist_n)
		return;
	memset(&snap, 0, sizeof(snap));
	if (!config_at(s, h, index, &snap.config))
	{
		sim_fail(s,
				 "compaction: n%llu finds no configuration at or before %llu",
				 (unsigned long long) h->id, (unsigned long long) index);
		return;
	}
	snap_encode(&snap, index, h->hist_term[index - h->hist_base],
				h->hist[index - h->hist_base],
				h->marker_at != 0 && h->marker_at <= index ? h->marker_at : 0);
	buf.base = snap.data;
	buf.len = snap.len;
	raft_get_status(h->r, &st);
	rc = raft_compact(h->r, index, &buf);
	if (rc != RAFT_OK)
	{
		if (index > st.snapshot_index && index <= st.applied)
			sim_fail(s,
					 "raft_compact: n%llu refused to compact to %llu (applied "
					 "%llu, snapshot %llu): %s",
					 (unsigned long long) h->id, (unsigned long long) index,
					 (unsigned long long) st.applied,
					 (unsigned long long) st.snapshot_index,
					 raft_strerror(rc));
		return;
	}
	sim_disk_compact(&h->disk, &snap);
	sim_tracef(s, "n%llu * compact to %llu/%llu", (unsigned long long) h->id,
			   (unsigned long long) index, (unsigned long long) snap.term);
}
