/*
 * regress/sim/sim_world.c — one seeded run: the seed's choices, the event
 * queue and the loop that turns each event into a step, with the checks
 * after every step.
 *
 * Time is simulated milliseconds.  Each node ticks every SIM_TICK_MS at
 * its own phase (or its own rate, with --clock-drift); messages arrive after
 * the network's delay; disk syncs complete after the disk's delay; the
 * scheduler (sim_sched.c) runs once per tick interval.  Events at the same
 * millisecond run in the order they were scheduled, so a seed replays exactly.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "sim.h"

#define ULL(x) ((unsigned long long) (x))

void
sim_tracef(struct sim *s, const char *fmt, ...)
{
	char line[SIM_LINE];
	int n;
	va_list ap;

	n = snprintf(line, sizeof(line), "[%7llu] ", ULL(s->now));
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof(line) - n, fmt, ap);
	va_end(ap);
	sim_trace_line(&s->trace, line);
}

void
sim_fail(struct sim *s, const char *fmt, ...)
{
	va_list ap;

	if (s->violated)
		return;
	s->violated = true;
	s->violation_time = s->now;
	va_start(ap, fmt);
	vsnprintf(s->violation, sizeof(s->violation), fmt, ap);
	va_end(ap);
	sim_tracef(s, "!!! VIOLATION %s", s->violation);
}

struct sim_host *
sim_host_of(struct sim *s, raft_id id)
{
	if (id == RAFT_NONE || id > SIM_MAX_NODES || !s->hosts[id].exists)
		return NULL;
	return &s->hosts[id];
}

/* ------------------------------------------------------------------------
 * The event queue: a binary heap on (time, seq).
 * ------------------------------------------------------------------------ */
static bool
ev_before(const struct sim_event *a, const struct sim_event *b)
{
	return a->time < b->time || (a->time == b->time && a->seq < b->seq);
}

void
sim_push(struct sim *s, uint64_t time, uint8_t kind, raft_id node,
		 uint64_t incarnation, struct raft_message *msg)
{
	size_t i;

	if (s->n_heap == s->cap_heap)
	{
		if (s->cap_heap == SIM_MAX_EVENTS)
		{
			sim_fail(s, "run size: more than %u events pending",
					 SIM_MAX_EVENTS);
			free(msg);
			return;
		}
		s->cap_heap *= 2;
		s->heap = sim_xrealloc(s->heap, s->cap_heap * sizeof(*s->heap));
	}
	i = s->n_heap++;
	s->heap[i].time = time;
	s->heap[i].seq = s->seq++;
	s->heap[i].kind = kind;
	s->heap[i].node = node;
	s->heap[i].incarnation = incarnation;
	s->heap[i].msg = msg;
	while (i > 0 && ev_before(&s->heap[i], &s->heap[(i - 1) / 2]))
	{
		struct sim_event t = s->heap[i];

		s->heap[i] = s->heap[(i - 1) / 2];
		s->heap[(i - 1) / 2] = t;
		i = (i - 1) / 2;
	}
}

static struct sim_event
pop(struct sim *s)
{
	struct sim_event top = s->heap[0];
	size_t i = 0;

	s->heap[0] = s->heap[--s->n_heap];
	for (;;)
	{
		size_t l = 2 * i + 1, r = l + 1, m = i;

		if (l < s->n_heap && ev_before(&s->heap[l], &s->heap[m]))
			m = l;
		if (r < s->n_heap && ev_before(&s->heap[r], &s->heap[m]))
			m = r;
		if (m == i)
			break;
		struct sim_event t = s->heap[i];

		s->heap[i] = s->heap[m];
		s->heap[m] = t;
		i = m;
	}
	return top;
}

/* ------------------------------------------------------------------------
 * The seed's choices.
 * ------------------------------------------------------------------------ */
static uint64_t
pick(struct sim_rng *g, const uint64_t *choices, size_t n)
{
	return choices[sim_rng_below(g, n)];
}

#define PICK(g, ...)                                                          \
	pick((g), (const uint64_t[]){__VA_ARGS__},                                \
		 sizeof((const uint64_t[]){__VA_ARGS__}) / sizeof(uint64_t))

static void
choose(struct sim *s)
{
	struct sim_rng *g = &s->rng_sched;
	struct sim_net_options *o = &s->net_base;
	bool calm = sim_rng_chance(g, 1000); /* one seed in ten: no faults */

	s->n_initial =
		s->cfg.nodes ? s->cfg.nodes : (sim_rng_chance(g, 5000) ? 3 : 5);
	s->election_ticks = (unsigned) sim_rng_range(g, 8, 20);
	s->heartbeat_ticks = (unsigned) sim_rng_range(g, 1, s->election_ticks / 4);
	s->pre_vote = sim_rng_chance(g, 7500);
	s->check_quorum = sim_rng_chance(g, 7500);
	s->lease_reads =
		s->cfg.lease_reads && s->check_quorum && sim_rng_chance(g, 5000);
	s->max_msg_bytes = PICK(g, 48, 200, 1024, 65536);
	s->max_inflight = (unsigned) PICK(g, 1, 2, 4, 16, 256);
	s->max_uncommitted = sim_rng_chance(g, 2500) ? 2048 : 0;
	s->payload_max = (unsigned) PICK(g, 48, 48, 300, 2048);
	s->sync_delay_max_ms = (unsigned) PICK(g, 0, 1, 3, 8, 20, 50);
	s->sync_stall_10k = (unsigned) PICK(g, 0, 0, 30, 200, 1000);
	s->report_unreachable = sim_rng_chance(g, 5000);

	o->delay_min_ms = (unsigned) sim_rng_range(g, 1, 5);
	o->delay_mean_ms = o->delay_min_ms +
					   (unsigned) sim_rng_range(g, 0, 2 * s->election_ticks);
	o->loss_10k =
		sim_rng_chance(g, 3000) ? 0 : (unsigned) sim_rng_range(g, 1, 800);
	o->dup_10k =
		sim_rng_chance(g, 3000) ? 0 : (unsigned) sim_rng_range(g, 1, 500);
	o->reorder = sim_rng_chance(g, 5000);
	o->capacity = (unsigned) PICK(g, 8, 32, 256);

	s->fault_end = sim_rng_range(g, 300, 700) * SIM_TICK_MS;
	s->profile = calm ? "calm" : "normal";
	if (calm)
		; /* no faults at all */
	else if (sim_rng_chance(g, 4000))
	{
		/* A storm: frequent faults, aimed at the leader. */
		s->profile = "storm";
		s->crash_10k = (unsigned) sim_rng_range(g, 100, 400);
		s->partition_10k = (unsigned) sim_rng_range(g, 100, 400);
		s->burst_10k = (unsigned) sim_rng_range(g, 0, 100);
		s->member_10k = (unsigned) sim_rng_range(g, 0, 200);
		s->transfer_10k = (unsigned) sim_rng_range(g, 0, 200);
		s->leader_bias_10k = (unsigned) sim_rng_range(g, 3000, 9000);
		s->restart_max_ticks = (unsigned) sim_rng_range(g, 5, 40);
	}
	else
	{
		s->crash_10k = (unsigned) sim_rng_range(g, 0, 80);
		s->partition_10k = (unsigned) sim_rng_range(g, 0, 100);
		s->burst_10k = (unsigned) sim_rng_range(g, 0, 40);
		s->member_10k = (unsigned) sim_rng_range(g, 0, 150);
		s->transfer_10k = (unsigned) sim_rng_range(g, 0, 100);
		s->leader_bias_10k = (unsigned) sim_rng_range(g, 0, 5000);
		s->restart_max_ticks = 100;
	}
	s->propose_10k = (unsigned) sim_rng_range(g, 500, 5000);
	s->read_10k = (unsigned) sim_rng_range(g, 0, 2000);
	s->compact_10k = (unsigned) PICK(g, 0, 50, 300, 1000);
	s->early_send = sim_rng_chance(g, 7500);
	s->lazy_commit = sim_rng_chance(g, 7500);
}

void
sim_init(struct sim *s, const struct sim_config *cfg)
{
	memset(s, 0, sizeof(*s));
	s->cfg = *cfg;
	sim_rng_init(&s->rng_sched, cfg->seed, 2);
	sim_rng_init(&s->rng_work, cfg->seed, 3);
	sim_rng_init(&s->rng_host, cfg->seed, 4);
	sim_trace_init(&s->trace, cfg->trace_tail ? cfg->trace_tail : 1,
				   cfg->live_trace);
	sim_check_init(&s->chk);
	choose(s);
	sim_net_init(&s->net, &s->net_base, cfg->seed);
	s->cap_heap = 1024;
	s->heap = sim_xcalloc(s->cap_heap, sizeof(*s->heap));
	for (raft_id id = 1; id <= SIM_MAX_NODES; id++)
	{
		s->hosts[id].id = id;
		s->hosts[id].tick_phase = sim_rng_below(&s->rng_sched, SIM_TICK_MS);
		/* --clock-drift: each clock runs up to 20% fast or slow. */
		s->hosts[id].tick_ms =
			cfg->clock_drift
				? (unsigned) sim_rng_range(&s->rng_sched, SIM_TICK_MS * 8 / 10,
										   SIM_TICK_MS * 12 / 10)
				: SIM_TICK_MS;
	}
	s->initial_cfg.n = s->n_initial;
	for (unsigned k = 0; k < s->n_initial; k++)
	{
		struct raft_member *m = &s->initial_cfg.members[k];

		m->id = k + 1;
		m->flags = RAFT_VOTER_NEW;
		snprintf(m->addr, sizeof(m->addr), "127.0.0.%u:7000", k + 1);
	}
	s->next_id = s->n_initial + 1;
	s->marker_id = sim_mix64(cfg->seed) | 1;
	s->phase = SIM_PHASE_FAULTS;
}

void
sim_free(struct sim *s)
{
	for (size_t k = 0; k < s->n_heap; k++)
		free(s->heap[k].msg);
	free(s->heap);
	for (raft_id id = 1; id <= SIM_MAX_NODES; id++)
		sim_host_free(&s->hosts[id]);
	sim_check_free(&s->chk);
	sim_trace_free(&s->trace);
	memset(s, 0, sizeof(*s));
}

/* ------------------------------------------------------------------------
 * The loop.
 * ------------------------------------------------------------------------ */
static struct sim_host *
live_host(struct sim *s, const struct sim_event *ev)
{
	struct sim_host *h = sim_host_of(s, ev->node);

	if (h == NULL || !h->up || h->incarnation != ev->incarnation)
		return NULL;
	return h;
}

/* Runs one event; returns the id of the node it touched (0: all). */
static raft_id
step(struct sim *s, struct sim_event *ev)
{
	struct sim_host *h;
	char d[SIM_LINE];
	int rc;

	switch (ev->kind)
	{
		case SIM_EV_TICK:
			if ((h = live_host(s, ev)) == NULL)
				return RAFT_NONE;
			raft_tick(h->r);
			sim_push(s, s->now + h->tick_ms, SIM_EV_TICK, h->id,
					 h->incarnation, NULL);
			sim_host_pump(s, h);
			return h->id;
		case SIM_EV_DELIVER:
			if (!sim_net_arrive(s, ev->msg))
				return RAFT_NONE;
			h = sim_host_of(s, ev->msg->to);
			sim_msg_describe(ev->msg, d, sizeof(d));
			sim_tracef(s, "n%llu <- n%llu %s", ULL(ev->msg->to),
					   ULL(ev->msg->from), d);
			rc = raft_step(h->r, ev->msg);
			if (rc != RAFT_OK)
				sim_tracef(s, "n%llu : step %s: %s", ULL(h->id),
						   sim_msg_name(ev->msg->type), raft_strerror(rc));
			sim_host_pump(s, h);
			return h->id;
		case SIM_EV_SYNC:
			if ((h = live_host(s, ev)) == NULL)
				return RAFT_NONE;
			sim_tracef(s, "n%llu . synced", ULL(h->id));
			sim_host_sync_done(s, h);
			return h->id;
		case SIM_EV_REPORT:
			if ((h = live_host(s, ev)) == NULL)
				return RAFT_NONE;
			if (ev->msg->type == RAFT_MSG_SNAPSHOT)
			{
				sim_tracef(s, "n%llu . snapshot to n%llu %s", ULL(h->id),
						   ULL(ev->msg->to),
						   ev->msg->reject ? "failed" : "delivered");
				raft_report_snapshot(h->r, ev->msg->to, !ev->msg->reject);
			}
			else
			{
				sim_tracef(s, "n%llu . n%llu unreachable", ULL(h->id),
						   ULL(ev->msg->to));
				raft_report_unreachable(h->r, ev->msg->to);
			}
			sim_host_pump(s, h);
			return h->id;
		case SIM_EV_CRASH:
			sim_crash_now(s, ev->node);
			return ev->node != RAFT_NONE ? ev->node : SIM_MAX_NODES + 1;
		case SIM_EV_RESTART:
			sim_restart_now(s, ev->node, ev->incarnation);
			return ev->node;
		case SIM_EV_SCHED:
			sim_sched(s);
			if (s->phase != SIM_PHASE_DONE)
				sim_push(s, s->now + SIM_TICK_MS, SIM_EV_SCHED, RAFT_NONE, 0,
						 NULL);
			return RAFT_NONE + SIM_MAX_NODES + 1;
	}
	return RAFT_NONE;
}

void
sim_run(struct sim *s)
{
	sim_tracef(s,
			   "seed %llu: %u nodes, election %u ticks, heartbeat %u, "
			   "pre-vote %s, check-quorum %s, lease reads %s",
			   ULL(s->cfg.seed), s->n_initial, s->election_ticks,
			   s->heartbeat_ticks, s->pre_vote ? "on" : "off",
			   s->check_quorum ? "on" : "off", s->lease_reads ? "on" : "off");
	sim_tracef(s,
			   "  network: delay %u..~%u ms, loss %u/10k, dup %u/10k, %s, "
			   "capacity %u; sync delay <= %u ms, stalls %u/10k; msg "
			   "bytes %zu, inflight %u, payloads <= %u bytes",
			   s->net_base.delay_min_ms, s->net_base.delay_mean_ms,
			   s->net_base.loss_10k, s->net_base.dup_10k,
			   s->net_base.reorder ? "reordering" : "fifo",
			   s->net_base.capacity, s->sync_delay_max_ms, s->sync_stall_10k,
			   s->max_msg_bytes, s->max_inflight, s->payload_max);
	sim_tracef(s,
			   "  host: %s; hard state saved %s",
			   s->early_send ? "appends sent before the sync"
							 : "every message after the sync",
			   s->lazy_commit ? "when term or vote change"
							  : "whenever it changes");
	sim_tracef(s,
			   "  faults (%s; chance per tick in 1/10000): crash %u, "
			   "partition %u, loss burst %u, membership %u, transfer %u; "
			   "%llu ms of faults",
			   s->profile, s->crash_10k, s->partition_10k, s->burst_10k,
			   s->member_10k, s->transfer_10k, ULL(s->fault_end));
	for (raft_id id = 1; id <= s->n_initial; id++)
	{
		s->hosts[id].initial = true;
		sim_host_start(s, &s->hosts[id], true);
	}
	sim_push(s, SIM_TICK_MS / 2, SIM_EV_SCHED, RAFT_NONE, 0, NULL);
	while (!s->violated && s->n_heap > 0 && s->phase != SIM_PHASE_DONE)
	{
		struct sim_event ev = pop(s);
		raft_id touched;

		s->now = ev.time;
		if (++s->steps > s->cfg.max_steps)
		{
			sim_fail(s, "run size: no end after %llu steps",
					 ULL(s->cfg.max_steps));
			free(ev.msg);
			break;
		}
		touched = step(s, &ev);
		free(ev.msg);
		if (touched > SIM_MAX_NODES)
		{
			for (raft_id id = 1; id <= SIM_MAX_NODES; id++)
				if (s->hosts[id].up)
					sim_check_node(s, &s->hosts[id]);
		}
		else if (touched != RAFT_NONE)
			sim_check_node(s, &s->hosts[touched]);
	}
}
