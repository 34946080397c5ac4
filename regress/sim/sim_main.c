/*
 * regress/sim/sim_main.c — raft-sim, pg_raft's deterministic simulator of
 * the Raft core (in the manner of TigerBeetle's VOPR), and its README.
 *
 *   raft-sim --seeds N [--first-seed F]     N runs, seeds F..F+N-1 (F = 1)
 *   raft-sim --seed S [--trace]             one run; --trace prints it live
 *   options: --nodes 3|5   --steps MAX   --trace-tail LINES
 *            --replay-check (every seed runs twice, traces must hash equal;
 *            without it one seed in 100 is replayed)   --lease-reads
 *            --clock-drift (clocks 20% fast to 20% slow)
 *            --safety-only (leave out the checks of individual rules: the
 *            commit rule, vote durability, one vote per term; keep the
 *            safety properties themselves)
 *            --expect-violation (exit 0 only if a violation is found; stop
 *            at the first)
 *   make sim SEEDS=2000 · make sim SEED=S · make sim-bugs
 *
 * What a run is.  One seed drives everything through splitmix64 streams:
 * the cluster (3 or 5 nodes), the core's options (election and heartbeat
 * ticks, pre-vote, check-quorum, message and in-flight limits), the
 * network, the disks, the fault profile (calm: none; normal; storm: frequent
 * faults aimed at the leader), the fault schedule and the workload
 * (proposals on the leader and on followers, read_index anywhere,
 * membership changes and leadership transfers, compaction on every host).
 * Simulated time is in milliseconds; nodes tick every 10 ms.  A fault
 * phase of 3 to 7 simulated seconds is followed by a liveness phase:
 * everything heals, a leader must appear within 60 election timeouts, and
 * a final marker entry proposed on it must be applied by every member of
 * its configuration, with no stall of progress longer than that.
 * Invariants (sim_check.c) are checked after every step; the first
 * violation stops the run and prints the seed, the invariant and the last
 * lines of the trace, keyed by simulated ms:
 *
 *   [   1200] n2 > leader term 4, leader n2 ***   role change (status)
 *   [   1201] n2 -> n3 APPEND t=4 prev=6/3 ents=2 [7..8] commit=5
 *   [   1203] n3 <- n2 APPEND ...                  delivery
 *   [   1203] n3 . ready hs=t4/v0/c5 ents=[7/4..8/4] msgs=1
 *   [   1205] n3 . synced                          the ready is durable
 *   [   1205] n3 : <a line of the core's own trace>
 *   [   1290] n1 * crash: 2 unsynced writes lost   host and fault events
 *
 * The same seed replays exactly: same trace, same hash.
 *
 * The fault model.  What the simulation injects is what the protocol must
 * survive, and nothing more:
 *
 *   network  delay (a minimum, a mean of at most a fifth of the election
 *            timeout, a rare long tail), loss, duplicates, reordering (per
 *            seed; otherwise each link is FIFO), a capacity per link beyond
 *            which messages are lost, symmetric partitions, one-way link
 *            cuts, isolating a node or only its sending or receiving side,
 *            loss bursts; all healed after a while.  The transport reports
 *            what a real one would notice: snapshot delivered or not, and
 *            (in half the seeds) appends to a cut-off or dead peer.
 *   disk     writes are buffered until a sync that completes after 0 to
 *            50 ms, in some seeds stalling now and then for 50 to 400 ms;
 *            a crash loses exactly the unsynced writes.  Synced data is
 *            never corrupted, torn or lost here: that is the storage
 *            layer's business and its own tests (CRC32C records, torn
 *            tails).
 *   nodes    crash at any millisecond (the struct raft is freed, unsynced
 *            writes are gone) and restart from the durable hard state,
 *            snapshot and entries with raft_load, within milliseconds (a
 *            supervisor) or up to a second later; removed nodes are shut
 *            down for good once a configuration without them is committed;
 *            new nodes start empty, not bootstrapped, and catch up.
 *   clocks   every node ticks at the same rate, at its own phase; there is
 *            no clock drift (lease reads, off unless --lease-reads, rely on
 *            that).  --clock-drift gives each node a clock 20% fast to 20%
 *            slow: with --lease-reads it shows what that assumption is
 *            worth; without, Raft must not care.
 *
 * Liveness is only asked for once the healed cluster meets Raft's timing
 * requirement (§3.4, broadcastTime << electionTimeout): no loss, no
 * capacity drops, no fsync stalls, every non-removed node up.  Voters are
 * removed only in seeds with check-quorum or pre-vote on (§4.2.3: without
 * either, a removed node that keeps running can disrupt every term).
 *
 * Files: sim_world.c (a run and its loop), sim_sched.c (faults, workload,
 * membership, liveness), sim_host.c (a server: ready, sync, apply, crash,
 * restart, compaction), sim_disk.c, sim_net.c, sim_check.c (the
 * invariants), sim_trace.c, sim_util.c (PRNG, hash, map).
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sim.h"

#define ULL(x) ((unsigned long long) (x))

static struct sim *current; /* for the report of a crash in the core */
static bool expect_violation;
static const char *program = "raft-sim";

static void
usage(void)
{
	fprintf(stderr, "usage: raft-sim (--seeds N [--first-seed F] | --seed S "
					"[--trace])\n                [--nodes 3|5] [--steps MAX] "
					"[--trace-tail LINES]\n                [--replay-check] "
					"[--lease-reads] [--clock-drift]\n                "
					"[--safety-only]\n                [--expect-violation]\n");
	exit(2);
}

static void
on_fatal_signal(int sig)
{
	struct sim *s = current;

	fflush(stdout);
	if (s != NULL)
	{
		fprintf(stderr,
				"sim: seed %llu: VIOLATION crash (signal %d: %s) at %llu "
				"ms, step %llu; the stack is in the core or the simulator\n",
				ULL(s->cfg.seed), sig,
				sig == SIGABRT ? "abort, an assertion?" : "segmentation fault",
				ULL(s->now), ULL(s->steps));
		fprintf(stderr, "--- last trace lines (seed %llu) ---\n",
				ULL(s->cfg.seed));
		sim_trace_dump(&s->trace, stderr, 0);
		fprintf(stderr, "--- replay: %s --seed %llu --trace ---\n", program,
				ULL(s->cfg.seed));
	}
	fflush(stderr);
	_exit(expect_violation ? 0 : 128 + sig);
}

static double
wall_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

struct outcome
{
	bool violated;
	uint64_t steps;
	uint64_t trace_hash;
	uint64_t trace_lines;
	struct sim_stats stats;
};

static struct outcome
run_one(const struct sim_config *cfg, bool report, bool summary)
{
	static struct sim s;
	struct outcome o;

	sim_init(&s, cfg);
	current = &s;
	sim_run(&s);
	current = NULL;
	o.violated = s.violated;
	o.steps = s.steps;
	o.trace_hash = s.trace.hash;
	o.trace_lines = s.trace.lines;
	o.stats = s.stats;
	if (s.violated && report)
	{
		fflush(stdout);
		printf("sim: seed %llu: VIOLATION %s\n", ULL(cfg->seed), s.violation);
		if (!cfg->live_trace)
		{
			printf("--- last %zu trace lines (seed %llu, %u nodes) ---\n",
				   s.trace.count, ULL(cfg->seed), s.n_initial);
			sim_trace_dump(&s.trace, stdout, 0);
		}
		printf("--- at %llu ms, step %llu; replay: %s --seed %llu%s%s --trace "
			   "---\n",
			   ULL(s.violation_time), ULL(s.steps), program, ULL(cfg->seed),
			   cfg->lease_reads ? " --lease-reads" : "",
			   cfg->clock_drift ? " --clock-drift" : "");
	}
	else if (s.violated)
		printf("sim: seed %llu: VIOLATION %s\n", ULL(cfg->seed), s.violation);
	if (summary)
		printf("sim: seed %llu: %s; %u nodes, %llu steps, %llu ms "
			   "simulated, %llu proposals, %llu crashes, %llu partitions, "
			   "%llu config changes, %llu transfers, %llu reads answered, "
			   "highest applied index %llu, trace %llu lines hash "
			   "%016llx\n",
			   ULL(cfg->seed), s.violated ? "VIOLATION" : "ok", s.n_initial,
			   ULL(s.steps), ULL(s.now), ULL(s.stats.proposals),
			   ULL(s.stats.crashes), ULL(s.stats.partitions),
			   ULL(s.stats.config_changes), ULL(s.stats.transfers),
			   ULL(s.stats.reads_answered), ULL(s.stats.applied),
			   ULL(s.trace.lines), ULL(s.trace.hash));
	fflush(stdout);
	sim_free(&s);
	return o;
}

static uint64_t
parse_u64(const char *arg)
{
	char *end;
	unsigned long long v;

	if (arg == NULL)
		usage();
	v = strtoull(arg, &end, 10);
	if (*arg == '\0' || *end != '\0')
		usage();
	return v;
}

int
main(int argc, char **argv)
{
	struct sim_config cfg;
	uint64_t seeds = 0, first = 1, total_steps = 0, violations = 0,
			 replayed = 0, replay_diffs = 0, ran = 0;
	bool one = false, replay_all = false;
	double t0;
	struct sim_stats sum;

	program = argv[0];
	memset(&cfg, 0, sizeof(cfg));
	memset(&sum, 0, sizeof(sum));
	cfg.max_steps = 3000000;
	cfg.trace_tail = 150;
	for (int i = 1; i < argc; i++)
	{
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(a, "--seeds") == 0)
			seeds = parse_u64(v), i++;
		else if (strcmp(a, "--seed") == 0)
			cfg.seed = parse_u64(v), one = true, i++;
		else if (strcmp(a, "--first-seed") == 0)
			first = parse_u64(v), i++;
		else if (strcmp(a, "--nodes") == 0)
		{
			cfg.nodes = (unsigned) parse_u64(v), i++;
			if (cfg.nodes != 3 && cfg.nodes != 5)
				usage();
		}
		else if (strcmp(a, "--steps") == 0)
			cfg.max_steps = parse_u64(v), i++;
		else if (strcmp(a, "--trace-tail") == 0)
			cfg.trace_tail = parse_u64(v), i++;
		else if (strcmp(a, "--trace") == 0)
			cfg.live_trace = true;
		else if (strcmp(a, "--replay-check") == 0)
			replay_all = true;
		else if (strcmp(a, "--lease-reads") == 0)
			cfg.lease_reads = true;
		else if (strcmp(a, "--clock-drift") == 0)
			cfg.clock_drift = true;
		else if (strcmp(a, "--safety-only") == 0)
			cfg.safety_only = true;
		else if (strcmp(a, "--expect-violation") == 0)
			expect_violation = true;
		else
			usage();
	}
	if (one == (seeds > 0))
		usage();
	signal(SIGABRT, on_fatal_signal);
	signal(SIGSEGV, on_fatal_signal);
	setvbuf(stdout, NULL, _IOFBF, 1 << 16);

	t0 = wall_seconds();
	if (one)
	{
		seeds = 1;
		first = cfg.seed;
	}
	for (uint64_t k = 0; k < seeds; k++)
	{
		struct outcome o;

		cfg.seed = first + k;
		o = run_one(&cfg, violations < 3 || expect_violation, one);
		ran++;
		total_steps += o.steps;
		if (o.violated)
			violations++;
		sum.proposals += o.stats.proposals;
		sum.crashes += o.stats.crashes;
		sum.partitions += o.stats.partitions;
		sum.config_changes += o.stats.config_changes;
		sum.transfers += o.stats.transfers;
		sum.snapshots_installed += o.stats.snapshots_installed;
		sum.reads_answered += o.stats.reads_answered;
		sum.leaders += o.stats.leaders;
		sum.completeness_checks += o.stats.completeness_checks;
		sum.commit_rule_checks += o.stats.commit_rule_checks;
		sum.early_sends += o.stats.early_sends;
		if (!o.violated && (replay_all || (!one && k % 100 == 0)))
		{
			struct sim_config again = cfg;
			struct outcome p;

			again.live_trace = false;
			p = run_one(&again, false, false);
			replayed++;
			total_steps += p.steps;
			if (p.trace_hash != o.trace_hash || p.steps != o.steps ||
				p.trace_lines != o.trace_lines || p.violated != o.violated)
			{
				printf("sim: seed %llu: VIOLATION determinism: the replay "
					   "differs "
					   "(trace %016llx, %llu lines, %llu steps; then %016llx, "
					   "%llu lines, %llu steps)\n",
					   ULL(cfg.seed), ULL(o.trace_hash), ULL(o.trace_lines),
					   ULL(o.steps), ULL(p.trace_hash), ULL(p.trace_lines),
					   ULL(p.steps));
				violations++;
				replay_diffs++;
			}
		}
		if (violations > 0 && expect_violation)
			break;
	}
	{
		double dt = wall_seconds() - t0;

		if (!one)
			printf("sim: did %llu proposals, %llu crashes, %llu partitions, "
				   "%llu config changes, %llu transfers, %llu snapshots "
				   "installed, %llu reads answered, %llu leaders elected; "
				   "checked leader completeness %llu times, the commit rule "
				   "%llu times; %llu messages sent before their ready's "
				   "sync\n",
				   ULL(sum.proposals), ULL(sum.crashes), ULL(sum.partitions),
				   ULL(sum.config_changes), ULL(sum.transfers),
				   ULL(sum.snapshots_installed), ULL(sum.reads_answered),
				   ULL(sum.leaders), ULL(sum.completeness_checks),
				   ULL(sum.commit_rule_checks), ULL(sum.early_sends));
		if (replayed)
			printf("sim: %llu seeds replayed, %llu with a different trace\n",
				   ULL(replayed), ULL(replay_diffs));
		printf("sim: %llu seeds, %llu simulated steps, %.0f steps/s, %llu "
			   "violations\n",
			   ULL(ran), ULL(total_steps),
			   dt > 0 ? (double) total_steps / dt : 0.0, ULL(violations));
	}
	fflush(stdout);
	if (expect_violation)
		return violations > 0 ? 0 : 1;
	return violations > 0 ? 1 : 0;
}
