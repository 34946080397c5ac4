/*
 * regress/sim/sim_sched.c — what happens to the cluster: the fault
 * schedule, the workload, membership changes and, at the end, the
 * liveness phase.  Runs once per tick interval (SIM_EV_SCHED), drawing from
 * the run's scheduler and workload streams.
 *
 * Fault phase: partitions (symmetric split, isolation, one-way links,
 * one-way isolation) and loss bursts, each healed after a while; crashes
 * at any millisecond (of a random node or of the leader), each followed
 * by a restart within milliseconds or up to a second; membership changes
 * on the leader (add a learner, promote it, add a voter, remove a voter or
 * learner, the leader too: the host starts new nodes empty and stops
 * removed ones once a configuration without them is committed);
 * leadership transfers asked of the leader or of a follower, and hosts
 * calling raft_campaign (a leader may go deaf as its TIMEOUT_NOW leaves,
 * sim_net.c, and then gets half of the reads); proposals on the leader
 * and on followers (forwarded); read_index requests anywhere; compaction
 * on every host.
 *
 * Liveness phase: everything heals (links, loss, capacity, fsync stalls;
 * crashed nodes restart).  A leader must appear, and a marker entry
 * proposed on it must be applied by every member of its configuration,
 * without progress stalling for longer than the bound.
 */
#include <string.h>

#include "sim.h"

#define ULL(x) ((unsigned long long) (x))

static struct sim_host *
find_leader(struct sim *s)
{
	struct sim_host *best = NULL;

	for (raft_id id = 1; id <= SIM_MAX_NODES; id++)
	{
		struct sim_host *h = &s->hosts[id];

		if (h->up && h->have_status && h->st.role == RAFT_LEADER &&
			(best == NULL || h->st.term > best->st.term))
			best = h;
	}
	return best;
}

static struct sim_host *
random_up(struct sim *s, struct sim_rng *g)
{
	raft_id ids[SIM_MAX_NODES];
	size_t n = 0;

	for (raft_id id = 1; id <= SIM_MAX_NODES; id++)
		if (s->hosts[id].up)
			ids[n++] = id;
	if (n == 0)
		return NULL;
	return &s->hosts[ids[sim_rng_below(g, n)]];
}

static size_t
members_alive(struct sim *s, raft_id *ids)
{
	size_t n = 0;

	for (raft_id id = 1; id <= SIM_MAX_NODES; id++)
		if (s->hosts[id].exists && !s->hosts[id].removed)
			ids[n++] = id;
	return n;
}

/* ------------------------------------------------------------------------
 * Network faults.
 * ------------------------------------------------------------------------ */
static void
heal_network(struct sim *s, const char *why)
{
	sim_net_heal(&s->net);
	s->net.opt.loss_10k = s->net_base.loss_10k;
	s->heal_at = 0;
	s->faults_active = false;
	s->deaf_handing_over = RAFT_NONE;
	sim_tracef(s, "* network healed (%s)", why);
}

static void
start_partition(struct sim *s)
{
	struct sim_rng *g = &s->rng_sched;
	struct sim_net *n = &s->net;
	raft_id ids[SIM_MAX_NODES];
	size_t count = members_alive(s, ids);
	raft_id x;
	char what[SIM_LINE];
	int len = 0;

	if (count < 2)
		return;
	x = ids[sim_rng_below(g, count)];
	switch (sim_rng_below(g, 4))
	{
		case 0:
		{
			bool side[SIM_MAX_NODES + 1] = {false};
			size_t left = 0;

			for (size_t k = 0; k < count; k++)
				left += side[ids[k]] = sim_rng_chance(g, 5000);
			if (left == 0 || left == count)
				side[x] = !side[x];
			len += snprintf(what, sizeof(what), "split {");
			for (size_t k = 0; k < count; k++)
				if (side[ids[k]])
					len += snprintf(what + len, sizeof(what) - len, " n%llu",
									ULL(ids[k]));
			len += snprintf(what + len, sizeof(what) - len, " } | {");
			for (size_t k = 0; k < count; k++)
				if (!side[ids[k]])
					len += snprintf(what + len, sizeof(what) - len, " n%llu",
									ULL(ids[k]));
			snprintf(what + len, sizeof(what) - len, " }");
			for (size_t a = 0; a < count; a++)
				for (size_t b = 0; b < count; b++)
					if (side[ids[a]] != side[ids[b]])
						n->blocked[ids[a]][ids[b]] = true;
			break;
		}
		case 1:
			if (sim_rng_chance(g, s->leader_bias_10k) &&
				find_leader(s) != NULL)
				x = find_leader(s)->id;
			snprintf(what, sizeof(what), "n%llu isolated", ULL(x));
			for (raft_id id = 1; id <= SIM_MAX_NODES; id++)
				n->blocked[x][id] = n->blocked[id][x] = true;
			break;
		case 2:
		{
			size_t links = sim_rng_range(g, 1, 3);

			len += snprintf(what, sizeof(what), "one-way:");
			for (size_t k = 0; k < links; k++)
			{
				raft_id a = ids[sim_rng_below(g, count)];
				raft_id b = ids[sim_rng_below(g, count)];

				if (a == b)
					continue;
				n->blocked[a][b] = true;
				len += snprintf(what + len, sizeof(what) - len,
								" n%llu-x>n%llu", ULL(a), ULL(b));
			}
			break;
		}
		default:
		{
			bool deaf = sim_rng_chance(g, 5000);

			snprintf(what, sizeof(what), "n%llu %s", ULL(x),
					 deaf ? "hears nobody (sends)" : "cannot send (hears)");
			for (raft_id id = 1; id <= SIM_MAX_NODES; id++)
			{
				if (deaf)
					n->blocked[id][x] = true;
				else
					n->blocked[x][id] = true;
			}
			break;
		}
	}
	s->heal_at = s->now + sim_rng_range(g, 10, 150) * SIM_TICK_MS;
	s->faults_active = true;
	s->stats.partitions++;
	sim_tracef(s, "* partition: %s", what);
}

static void
start_loss_burst(struct sim *s)
{
	struct sim_rng *g = &s->rng_sched;

	s->net.opt.loss_10k = (unsigned) sim_rng_range(g, 2000, 8000);
	s->heal_at = s->now + sim_rng_range(g, 5, 60) * SIM_TICK_MS;
	s->faults_active = true;
	sim_tracef(s, "* loss burst: %u/10k", s->net.opt.loss_10k);
}

/* ------------------------------------------------------------------------
 * Membership and leadership.
 * ------------------------------------------------------------------------ */
static const char *
change_name(uint8_t kind)
{
	switch (kind)
	{
		case RAFT_CHANGE_ADD_LEARNER:
			return "add learner";
		case RAFT_CHANGE_PROMOTE:
			return "promote";
		case RAFT_CHANGE_ADD_VOTER:
			return "add voter";
		case RAFT_CHANGE_REMOVE:
			return "remove";
	}
	return "?";
}

static void
change_membership(struct sim *s)
{
	struct sim_rng *g = &s->rng_sched;
	struct sim_host *l = find_leader(s);
	const struct raft_config *cfg;
	struct raft_change ch;
	raft_id learners[RAFT_MAX_MEMBERS], members[RAFT_MAX_MEMBERS];
	size_t n_learners = 0, n_voters = 0, n_members = 0;
	uint64_t what = sim_rng_below(g, 10);
	raft_index index = 0;
	int rc;

	if (l == NULL)
		return;
	cfg = &l->st.config;
	for (uint32_t k = 0; k < cfg->n; k++)
	{
		members[n_members++] = cfg->members[k].id;
		if (cfg->members[k].flags & RAFT_VOTER_NEW)
			n_voters++;
		else
			learners[n_learners++] = cfg->members[k].id;
	}
	memset(&ch, 0, sizeof(ch));
	if (what < 3 || (what == 3 && s->next_id <= SIM_MAX_NODES))
	{
		if (s->next_id > SIM_MAX_NODES)
			return;
		ch.kind = what < 3 ? RAFT_CHANGE_ADD_LEARNER : RAFT_CHANGE_ADD_VOTER;
		ch.id = s->next_id;
		snprintf(ch.addr, sizeof(ch.addr), "127.0.0.%llu:7000", ULL(ch.id));
	}
	else if (what < 6)
	{
		if (n_learners == 0)
			return;
		ch.kind = RAFT_CHANGE_PROMOTE;
		ch.id = learners[sim_rng_below(g, n_learners)];
	}
	else
	{
		ch.kind = RAFT_CHANGE_REMOVE;
		ch.id = members[sim_rng_below(g, n_members)];
		if (raft_config_is_voter(cfg, ch.id) && n_voters <= 2)
			return;

		/*
		 * §4.2.3: a removed voter that is still running times out and
		 * campaigns; the check-quorum lease makes the others ignore it,
		 * and pre-vote keeps it from raising terms with a stale log.
		 * With neither, removing a voter may never finish (the removed
		 * node disrupts every term before C_new commits; seed 804 at core
		 * 71dea13), so leave voters in then.
		 */
		if (raft_config_is_voter(cfg, ch.id) && !s->check_quorum &&
			!s->pre_vote)
			return;
	}
	rc = raft_change_config(l->r, &ch, 1, &index);
	sim_tracef(s, "n%llu * change config: %s n%llu: %s (index %llu)",
			   ULL(l->id), change_name(ch.kind), ULL(ch.id), raft_strerror(rc),
			   ULL(index));
	if (rc == RAFT_OK)
	{
		s->stats.config_changes++;
		if (ch.kind == RAFT_CHANGE_ADD_LEARNER ||
			ch.kind == RAFT_CHANGE_ADD_VOTER)
		{
			struct sim_host *h = &s->hosts[ch.id];

			s->next_id++;
			h->initial = false;
			h->add_index = index;
			sim_host_start(s, h, false);
		}
	}
	sim_host_pump(s, l);
}

static void
transfer(struct sim *s)
{
	struct sim_rng *g = &s->rng_sched;
	struct sim_host *l = find_leader(s);
	struct sim_host *via;
	raft_id voters[RAFT_MAX_MEMBERS];
	size_t n = 0;
	int rc;

	if (l == NULL)
		return;
	for (uint32_t k = 0; k < l->st.config.n; k++)
		if (l->st.config.members[k].id != l->id &&
			raft_config_is_voter(&l->st.config, l->st.config.members[k].id))
			voters[n++] = l->st.config.members[k].id;
	if (n == 0)
		return;
	via = sim_rng_chance(g, 5000) ? l : random_up(s, g);
	if (via == NULL)
		return;
	if (via != l && sim_rng_chance(g, 2000))
	{
		/* A host that thinks it knows better (raft_campaign). */
		rc = raft_campaign(via->r);
		sim_tracef(s, "n%llu * campaign: %s", ULL(via->id), raft_strerror(rc));
		sim_host_pump(s, via);
		return;
	}
	rc = raft_transfer_leadership(via->r, voters[sim_rng_below(g, n)]);
	sim_tracef(s, "n%llu * transfer leadership of n%llu: %s", ULL(via->id),
			   ULL(l->id), raft_strerror(rc));
	s->stats.transfers++;
	sim_host_pump(s, via);
}

/* ------------------------------------------------------------------------
 * Workload.
 * ------------------------------------------------------------------------ */
static void
propose(struct sim *s)
{
	struct sim_rng *g = &s->rng_work;
	struct sim_host *l = find_leader(s);
	struct sim_host *h = (l && sim_rng_chance(g, 6000)) ? l : random_up(s, g);
	uint64_t n = sim_rng_range(g, 1, 3);
	uint8_t buf[16 + 2048];

	if (h == NULL)
		return;
	for (uint64_t k = 0; k < n; k++)
	{
		uint64_t id = ++s->next_cmd_id;
		size_t len =
			sim_make_command(buf, sizeof(buf), SIM_CMD_MAGIC, id, h->id,
							 sim_rng_below(g, s->payload_max + 1));
		raft_index index = 0;
		int rc = raft_propose(h->r, buf, len, &index);

		s->stats.proposals++;
		sim_tracef(s, "n%llu * propose #%llu: %s (index %llu)", ULL(h->id),
				   ULL(id), raft_strerror(rc), ULL(index));
	}
	sim_host_pump(s, h);
}

static void
read_index(struct sim *s)
{
	struct sim_host *h = random_up(s, &s->rng_work);

	/* Half of the reads go to a leader that went deaf handing over. */
	if (s->deaf_handing_over != RAFT_NONE && sim_rng_chance(&s->rng_work, 5000) &&
		s->hosts[s->deaf_handing_over].up)
		h = &s->hosts[s->deaf_handing_over];
	uint64_t ctx;
	int rc;

	if (h == NULL)
		return;
	ctx = ++s->next_read_ctx;
	sim_check_read_start(s, h, ctx);
	rc = raft_read_index(h->r, ctx);
	if (rc != RAFT_OK)
		sim_tracef(s, "n%llu * read_index ctx=%llu: %s", ULL(h->id), ULL(ctx),
				   raft_strerror(rc));
	sim_host_pump(s, h);
}

static void
propose_marker(struct sim *s, struct sim_host *l)
{
	uint8_t buf[32];
	size_t len = sim_make_command(buf, sizeof(buf), SIM_MARKER_MAGIC,
								  s->marker_id, l->id, 0);
	raft_index index = 0;
	int rc = raft_propose(l->r, buf, len, &index);

	sim_tracef(s, "n%llu * propose the final marker: %s (index %llu)",
			   ULL(l->id), raft_strerror(rc), ULL(index));
	if (rc == RAFT_OK)
	{
		if (s->phase == SIM_PHASE_HEALED)
			s->phase = SIM_PHASE_MARKER;
		s->marker_proposed_at = s->now;
	}
	sim_host_pump(s, l);
}

/* ------------------------------------------------------------------------
 * Phases.
 * ------------------------------------------------------------------------ */
static void
heal_all(struct sim *s)
{
	sim_net_heal(&s->net);
	s->net.opt = s->net_base;
	s->net.opt.loss_10k = 0;
	s->net.opt.capacity = 1024; /* healed: the links keep up again */
	/*
	 * And the disks: Raft is live only while a round trip, fsync included,
	 * is well below the election timeout (§3.4's broadcastTime <<
	 * electionTimeout).
	 */
	s->sync_stall_10k = 0;
	if (s->sync_delay_max_ms > s->election_ticks * SIM_TICK_MS / 5)
		s->sync_delay_max_ms = s->election_ticks * SIM_TICK_MS / 5;
	s->heal_at = 0;
	s->faults_active = false;
	s->deaf_handing_over = RAFT_NONE;
	s->phase = SIM_PHASE_HEALED;
	s->phase_since = s->now;
	sim_tracef(s, "* fault phase over: links healed, no loss, no capacity "
				  "drops, no fsync stalls, crashed nodes restart");
	for (raft_id id = 1; id <= SIM_MAX_NODES; id++)
	{
		struct sim_host *h = &s->hosts[id];

		if (h->exists && !h->up && !h->removed)
			sim_host_restart(s, h);
	}
}

static void
faults(struct sim *s)
{
	struct sim_rng *g = &s->rng_sched;

	if (s->heal_at != 0 && s->now >= s->heal_at)
		heal_network(s, "fault over");
	if (!s->faults_active && sim_rng_chance(g, s->partition_10k))
		start_partition(s);
	if (!s->faults_active && sim_rng_chance(g, s->burst_10k))
		start_loss_burst(s);
	if (sim_rng_chance(g, s->crash_10k))
	{
		struct sim_host *h = random_up(s, g);
		raft_id target = h ? h->id : RAFT_NONE;

		/* At any millisecond of the next two ticks, not on the tick. */
		if (sim_rng_chance(g, s->leader_bias_10k))
			target = RAFT_NONE;
		sim_push(s, s->now + sim_rng_below(g, 2 * SIM_TICK_MS), SIM_EV_CRASH,
				 target, 0, NULL);
	}
	if (sim_rng_chance(g, s->member_10k))
		change_membership(s);
	if (sim_rng_chance(g, s->transfer_10k))
		transfer(s);
	if (sim_rng_chance(&s->rng_work, s->propose_10k))
		propose(s);
	if (sim_rng_chance(&s->rng_work, s->read_10k))
		read_index(s);
}

/* SIM_EV_RESTART: a crashed node comes back, unless it already has. */
void
sim_restart_now(struct sim *s, raft_id id, uint64_t incarnation)
{
	struct sim_host *h = sim_host_of(s, id);

	if (h == NULL || h->up || h->removed || h->incarnation != incarnation)
		return;
	sim_host_restart(s, h);
}

/* SIM_EV_CRASH: id crashes (RAFT_NONE: whoever leads now, if anyone). */
void
sim_crash_now(struct sim *s, raft_id id)
{
	struct sim_host *h = id == RAFT_NONE ? find_leader(s) : sim_host_of(s, id);

	if (s->phase != SIM_PHASE_FAULTS || h == NULL || !h->up || h->removed)
		return;
	sim_host_crash(s, h);
	/* Down for a while, or (kill -9 and a supervisor) back at once. */
	if (sim_rng_chance(&s->rng_sched, 3000))
		h->restart_at = s->now + sim_rng_range(&s->rng_sched, 1, 20);
	else
		h->restart_at =
			s->now + sim_rng_range(&s->rng_sched, 1, s->restart_max_ticks) *
						 SIM_TICK_MS;
	sim_push(s, h->restart_at, SIM_EV_RESTART, h->id, h->incarnation, NULL);
	s->stats.crashes++;
}

/*
 * After healing: a leader within a bound, then progress until the marker
 * is applied on every member of the leader's configuration.  Progress
 * (indexes applied, entries durable on followers) may be slow when the
 * seed's network is (48-byte messages, one in flight, 50 ms fsyncs), so
 * the bound is on a stall, not on the total time.
 */
static void
liveness(struct sim *s)
{
	struct sim_host *l = find_leader(s);
	uint64_t bound = 60ull * s->election_ticks * SIM_TICK_MS;
	uint64_t progress = 0;

	if (s->phase == SIM_PHASE_HEALED)
	{
		if (l != NULL)
			propose_marker(s, l);
		else if (s->now - s->phase_since >= bound)
			sim_fail(s, "liveness: no leader %llu ms after everything healed",
					 ULL(s->now - s->phase_since));
		s->progress_at = s->now;
		return;
	}
	/* Applying, or followers' logs growing (catching up on old terms). */
	for (raft_id id = 1; id <= SIM_MAX_NODES; id++)
		if (s->hosts[id].up)
			progress += s->hosts[id].applied +
						(s->hosts[id].r != NULL && &s->hosts[id] != l
							 ? sim_log_last(&s->hosts[id].disk.durable.log)
							 : 0);
	if (progress != s->progress)
	{
		s->progress = progress;
		s->progress_at = s->now;
	}
	for (uint32_t k = 0; l != NULL && k < l->st.config.n; k++)
	{
		struct sim_host *h = sim_host_of(s, l->st.config.members[k].id);

		if (h != NULL && h->up && h->marker_at != 0)
			continue;
		if (s->now - s->progress_at >= bound)
			sim_fail(s,
					 "liveness: no progress for %llu ms and the marker is not "
					 "applied on n%llu (%s, applied %llu; leader n%llu term "
					 "%llu commit %llu)",
					 ULL(s->now - s->progress_at),
					 ULL(l->st.config.members[k].id),
					 h == NULL ? "no host"
					 : h->up   ? "up"
							   : "down",
					 ULL(h ? h->applied : 0), ULL(l->id), ULL(l->st.term),
					 ULL(l->st.commit));
		else if (l->marker_at == 0 &&
				 s->now - s->marker_proposed_at >
					 4ull * s->election_ticks * SIM_TICK_MS)
			propose_marker(s, l);
		return;
	}
	if (l == NULL)
	{
		if (s->now - s->progress_at >= bound)
			sim_fail(s, "liveness: no leader and no progress for %llu ms",
					 ULL(s->now - s->progress_at));
		return;
	}
	sim_tracef(s,
			   "* liveness: leader n%llu term %llu; the marker is applied "
			   "on all %u members, %llu ms after healing",
			   ULL(l->id), ULL(l->st.term), l->st.config.n,
			   ULL(s->now - s->phase_since));
	s->phase = SIM_PHASE_DONE;
}

void
sim_sched(struct sim *s)
{
	for (raft_id id = 1; id <= SIM_MAX_NODES; id++)
	{
		struct sim_host *h = &s->hosts[id];

		if (!h->exists || h->removed)
			continue;
		if (h->shutdown_at != 0 && s->now >= h->shutdown_at)
			sim_host_shutdown(s, h);
	}
	if (s->phase == SIM_PHASE_FAULTS && s->now >= s->fault_end)
		heal_all(s);
	if (s->phase == SIM_PHASE_FAULTS)
		faults(s);
	else
		liveness(s);
	for (raft_id id = 1; id <= SIM_MAX_NODES && !s->violated; id++)
	{
		struct sim_host *h = &s->hosts[id];

		if (h->up && sim_rng_chance(&s->rng_host, s->compact_10k))
		{
			sim_host_compact(s, h, sim_rng_below(&s->rng_host, 20));
			sim_host_pump(s, h);
		}
	}
}
