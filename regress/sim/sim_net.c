/*
 * regress/sim/sim_net.c — the simulated network.
 *
 * One options struct (TigerBeetle's VOPR network): minimum and mean delay,
 * loss, duplication (replay), reordering on or off (off: every link is
 * FIFO), a capacity per link past which messages are lost.  Partitions are
 * a matrix of blocked directed links, so symmetric partitions, one-way
 * partitions and isolating a node are all the same thing; a link blocked
 * when a message is sent or when it would arrive loses it.  Messages in
 * flight are bytes (sim_wire.c): encoded by the codec when sent, decoded
 * when they arrive.  In the fault phase, a leader that sends TIMEOUT_NOW
 * may go deaf at that moment (it hears nobody until healed): it keeps
 * believing it leads while the transfer's target takes over.
 */
#include <stdlib.h>
#include <string.h>

#include "sim.h"

void
sim_net_init(struct sim_net *n, const struct sim_net_options *o, uint64_t seed)
{
	memset(n, 0, sizeof(*n));
	n->opt = *o;
	sim_rng_init(&n->rng, seed, 1);
}

void
sim_net_heal(struct sim_net *n)
{
	memset(n->blocked, 0, sizeof(n->blocked));
}

struct raft_message *
sim_msg_copy(const struct raft_message *m)
{
	size_t size =
		sizeof(*m) + (size_t) m->n_entries * sizeof(struct raft_entry);
	struct raft_message *c;
	uint8_t *p;

	for (uint32_t k = 0; k < m->n_entries; k++)
		size += m->entries[k].data.len;
	size += m->snapshot.data.len;
	p = sim_xmalloc(size);
	c = (struct raft_message *) p;
	*c = *m;
	p += sizeof(*m);
	c->entries = NULL;
	if (m->n_entries)
	{
		c->entries = (struct raft_entry *) p;
		p += (size_t) m->n_entries * sizeof(struct raft_entry);
		for (uint32_t k = 0; k < m->n_entries; k++)
		{
			c->entries[k] = m->entries[k];
			c->entries[k].data.base = p;
			if (m->entries[k].data.len)
				memcpy(p, m->entries[k].data.base, m->entries[k].data.len);
			p += m->entries[k].data.len;
		}
	}
	c->snapshot.data.base = NULL;
	if (m->snapshot.data.len)
	{
		c->snapshot.data.base = p;
		memcpy(p, m->snapshot.data.base, m->snapshot.data.len);
	}
	return c;
}

void
sim_msg_free(struct raft_message *m)
{
	free(m);
}

const char *
sim_msg_name(uint8_t type)
{
	static const char *const names[] = {"?",
										"APPEND",
										"APPEND_RESP",
										"VOTE",
										"VOTE_RESP",
										"PREVOTE",
										"PREVOTE_RESP",
										"HEARTBEAT",
										"HEARTBEAT_RESP",
										"SNAPSHOT",
										"TIMEOUT_NOW",
										"READ_INDEX",
										"READ_INDEX_RESP",
										"PROPOSE",
										"TRANSFER"};

	if (type > RAFT_MSG_TYPE_MAX)
		return "?";
	return names[type];
}

void
sim_msg_describe(const struct raft_message *m, char *buf, size_t cap)
{
	const char *name = sim_msg_name(m->type);
	unsigned long long t = m->term;

	switch (m->type)
	{
		case RAFT_MSG_APPEND:
			if (m->n_entries)
				snprintf(
					buf, cap,
					"%s t=%llu prev=%llu/%llu ents=%u [%llu..%llu] "
					"commit=%llu",
					name, t, (unsigned long long) m->index,
					(unsigned long long) m->log_term, m->n_entries,
					(unsigned long long) m->entries[0].index,
					(unsigned long long) m->entries[m->n_entries - 1].index,
					(unsigned long long) m->commit);
			else
				snprintf(buf, cap,
						 "%s t=%llu prev=%llu/%llu ents=0 commit=%llu", name,
						 t, (unsigned long long) m->index,
						 (unsigned long long) m->log_term,
						 (unsigned long long) m->commit);
			break;
		case RAFT_MSG_APPEND_RESP:
			if (m->reject)
				snprintf(buf, cap, "%s t=%llu reject idx=%llu hint=%llu/%llu",
						 name, t, (unsigned long long) m->index,
						 (unsigned long long) m->reject_hint,
						 (unsigned long long) m->hint_term);
			else
				snprintf(buf, cap, "%s t=%llu idx=%llu", name, t,
						 (unsigned long long) m->index);
			break;
		case RAFT_MSG_VOTE:
		case RAFT_MSG_PREVOTE:
			snprintf(buf, cap, "%s t=%llu last=%llu/%llu%s", name, t,
					 (unsigned long long) m->index,
					 (unsigned long long) m->log_term,
					 m->context ? " (transfer)" : "");
			break;
		case RAFT_MSG_VOTE_RESP:
		case RAFT_MSG_PREVOTE_RESP:
			snprintf(buf, cap, "%s t=%llu %s", name, t,
					 m->reject ? "rejected" : "granted");
			break;
		case RAFT_MSG_HEARTBEAT:
			snprintf(buf, cap, "%s t=%llu commit=%llu ctx=%llu", name, t,
					 (unsigned long long) m->commit,
					 (unsigned long long) m->context);
			break;
		case RAFT_MSG_HEARTBEAT_RESP:
			snprintf(buf, cap, "%s t=%llu ctx=%llu", name, t,
					 (unsigned long long) m->context);
			break;
		case RAFT_MSG_SNAPSHOT:
			snprintf(buf, cap, "%s t=%llu snap=%llu/%llu", name, t,
					 (unsigned long long) m->snapshot.index,
					 (unsigned long long) m->snapshot.term);
			break;
		case RAFT_MSG_READ_INDEX:
			snprintf(buf, cap, "%s t=%llu ctx=%llu", name, t,
					 (unsigned long long) m->context);
			break;
		case RAFT_MSG_READ_INDEX_RESP:
			snprintf(buf, cap, "%s t=%llu ctx=%llu idx=%llu%s", name, t,
					 (unsigned long long) m->context,
					 (unsigned long long) m->index,
					 m->reject ? " rejected" : "");
			break;
		case RAFT_MSG_PROPOSE:
			snprintf(buf, cap, "%s t=%llu ents=%u", name, t, m->n_entries);
			break;
		case RAFT_MSG_TRANSFER:
			snprintf(buf, cap, "%s t=%llu target=n%llu", name, t,
					 (unsigned long long) m->index);
			break;
		default:
			snprintf(buf, cap, "%s t=%llu", name, t);
			break;
	}
}

/* Uniform around the mean, with a rare long tail. */
static uint64_t
net_delay(struct sim_net *n)
{
	uint64_t lo = n->opt.delay_min_ms;
	uint64_t spread =
		n->opt.delay_mean_ms > lo ? n->opt.delay_mean_ms - lo : 0;
	uint64_t d = lo + sim_rng_below(&n->rng, 2 * spread + 1);

	if (sim_rng_chance(&n->rng, 100))
		d += sim_rng_below(&n->rng, 10 * (spread + 1));
	return d ? d : 1;
}

/*
 * What the sender's transport would notice, as an event for later: a
 * snapshot delivered or not (raft_report_snapshot), and, if the seed's
 * transport reports it, an append it could not get through to a peer that
 * is cut off or down (raft_report_unreachable).  Plain loss goes unnoticed.
 */
static void
net_report(struct sim *s, const struct raft_message *m, uint8_t what, bool ok)
{
	struct sim_host *from = sim_host_of(s, m->from);
	struct raft_message *r;

	if (from == NULL || !from->up)
		return;
	r = sim_xcalloc(1, sizeof(*r));
	r->type = what;
	r->from = m->from;
	r->to = m->to;
	r->reject = !ok;
	sim_push(s, s->now + 1, SIM_EV_REPORT, m->from, from->incarnation, r);
}

static void
net_drop_noticed(struct sim *s, const struct raft_message *m)
{
	if (m->type == RAFT_MSG_SNAPSHOT)
		net_report(s, m, RAFT_MSG_SNAPSHOT, false);
	else if (m->type == RAFT_MSG_APPEND && s->report_unreachable)
		net_report(s, m, RAFT_MSG_APPEND, false);
}

static void
net_drop(struct sim *s, const struct raft_message *m, const char *why)
{
	char d[SIM_LINE];

	s->net.dropped++;
	sim_msg_describe(m, d, sizeof(d));
	sim_tracef(s, "n%llu -x n%llu %s (%s)", (unsigned long long) m->from,
			   (unsigned long long) m->to, d, why);
}

static void
net_enqueue(struct sim *s, const struct raft_message *m)
{
	struct sim_net *n = &s->net;
	uint64_t at = s->now + net_delay(n);
	struct raft_message *wire;

	if (n->inflight[m->from][m->to] >= n->opt.capacity)
	{
		net_drop(s, m, "link full");
		if (m->type == RAFT_MSG_SNAPSHOT)
			net_report(s, m, RAFT_MSG_SNAPSHOT, false);
		return;
	}
	if (!n->opt.reorder && at < n->last_arrival[m->from][m->to])
		at = n->last_arrival[m->from][m->to];
	if (at > n->last_arrival[m->from][m->to])
		n->last_arrival[m->from][m->to] = at;
	wire = sim_wire_pass(s, m);
	if (wire == NULL)
		return;
	n->inflight[m->from][m->to]++;
	sim_push(s, at, SIM_EV_DELIVER, m->to, 0, wire);
}

void
sim_net_send(struct sim *s, const struct raft_message *m)
{
	struct sim_net *n = &s->net;
	char d[SIM_LINE];

	n->sent++;
	if (m->to == RAFT_NONE || m->to > SIM_MAX_NODES || m->from == RAFT_NONE ||
		m->from > SIM_MAX_NODES)
	{
		net_drop(s, m, "no such node");
		return;
	}
	sim_msg_describe(m, d, sizeof(d));
	sim_tracef(s, "n%llu -> n%llu %s", (unsigned long long) m->from,
			   (unsigned long long) m->to, d);
	if (n->blocked[m->from][m->to])
	{
		net_drop(s, m, "partitioned");
		net_drop_noticed(s, m);
		return;
	}
	if (sim_rng_chance(&n->rng, n->opt.loss_10k))
	{
		net_drop(s, m, "lost");
		if (m->type == RAFT_MSG_SNAPSHOT)
			net_report(s, m, RAFT_MSG_SNAPSHOT, false);
		return;
	}
	net_enqueue(s, m);
	if (sim_rng_chance(&n->rng, n->opt.dup_10k))
		net_enqueue(s, m);
	if (m->type == RAFT_MSG_TIMEOUT_NOW && s->phase == SIM_PHASE_FAULTS &&
		!s->faults_active && sim_rng_chance(&n->rng, 5000))
	{
		/*
		 * The leader that hands over goes deaf as its TIMEOUT_NOW leaves:
		 * it still sends, but does not hear of the new term, so it goes on
		 * believing it leads while the target takes over and commits.
		 * What it answers meanwhile (reads from its lease) must hold.
		 */
		for (raft_id id = 1; id <= SIM_MAX_NODES; id++)
			n->blocked[id][m->from] = true;
		s->heal_at = s->now + sim_rng_range(&n->rng, 5, 60) * SIM_TICK_MS;
		s->faults_active = true;
		s->deaf_handing_over = m->from;
		s->stats.partitions++;
		sim_tracef(s, "* partition: n%llu hears nobody (it sent TIMEOUT_NOW)",
				   (unsigned long long) m->from);
	}
}

bool
sim_net_arrive(struct sim *s, struct raft_message *m)
{
	struct sim_net *n = &s->net;
	struct sim_host *to = sim_host_of(s, m->to);

	if (n->inflight[m->from][m->to] > 0)
		n->inflight[m->from][m->to]--;
	if (n->blocked[m->from][m->to])
	{
		net_drop(s, m, "partitioned in flight");
		net_drop_noticed(s, m);
		return false;
	}
	if (to == NULL || !to->up)
	{
		net_drop(s, m, "node down");
		net_drop_noticed(s, m);
		return false;
	}
	if (m->type == RAFT_MSG_SNAPSHOT)
		net_report(s, m, RAFT_MSG_SNAPSHOT, true);
	return true;
}
