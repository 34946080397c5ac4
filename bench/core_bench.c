/*
 * bench/core_bench.c — the Raft core alone: entries/s through the state
 * machine of three nodes in one process, with in-memory I/O.
 *
 * Each node's host carries out its ready in the documented order (raft.h;
 * Raft dissertation §10.2): "persist" copies the hard state and the
 * entries' bytes into a bounded in-memory ring, "send" steps each message
 * straight into the target node (raft_step copies it), "apply" counts the
 * entry, then raft_advance.  A closed loop of W proposers keeps W entries
 * in flight on the leader (a proposer proposes again once its entry has
 * been applied on the leader), so W plays the part of pgbench's clients.
 * Hosts compact their logs behind the applied index to keep memory
 * bounded.  Ticks follow the wall clock (one per 10 ms).
 *
 *   core_bench [--seconds S] [--size BYTES] [--proposers 1,8,32,64]
 *
 * Prints one line per proposer count:
 *   proposers=8 entries/s=… readies/s=… p50_us=… p99_us=…
 * A program that prints figures, not a test: it asserts no timing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "raft.h"

#define NODES 3
#define MAX_PROPOSERS 512
#define MAX_SIZE 65536
#define DISK_RING (4u * 1024 * 1024)	/* bytes of "disk" per node, reused */
#define KEEP_ENTRIES 4096		/* log kept behind the applied index */
#define COMPACT_EVERY 8192
#define MAX_SAMPLES (4u * 1024 * 1024)	/* latencies kept for percentiles */
#define PENDING_RING 1024		/* > MAX_PROPOSERS */
#define TICK_NS 10000000ull

struct host
{
	struct raft *r;
	struct raft_hard_state hs;
	unsigned char *disk;		/* ring of persisted entry bytes */
	size_t		disk_pos;
	raft_index	applied;
	raft_index	compacted;
	uint64_t	readies;
};

struct bench
{
	struct host hosts[NODES];
	unsigned char payload[MAX_SIZE];
	size_t		size;

	/* propose time of each entry in flight on the leader, by index */
	uint64_t	pending_ns[PENDING_RING];
	raft_index	pending_index[PENDING_RING];
	uint64_t   *samples;
	size_t		n_samples;
	uint64_t	applied_commands;	/* on the leader */
	unsigned	in_flight;
	int			failed;
};

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t) ts.tv_sec * 1000000000ull + (uint64_t) ts.tv_nsec;
}

static void
persist(struct host *h, const struct raft_entry *e)
{
	size_t		len = e->data.len;

	if (len > DISK_RING)
		len = DISK_RING;
	if (h->disk_pos + len > DISK_RING)
		h->disk_pos = 0;
	if (len > 0)
		memcpy(h->disk + h->disk_pos, e->data.base, len);
	h->disk_pos += len;
}

static void
applied_on_leader(struct bench *b, const struct raft_entry *e, uint64_t t)
{
	unsigned	slot = (unsigned) (e->index % PENDING_RING);

	if (e->type != RAFT_ENTRY_COMMAND || b->pending_index[slot] != e->index)
		return;
	b->pending_index[slot] = 0;
	if (b->n_samples < MAX_SAMPLES)
		b->samples[b->n_samples++] = t - b->pending_ns[slot];
	b->applied_commands++;
	b->in_flight--;
}

/* Carries out node i's ready, if it has one; true if it did. */
static bool
process(struct bench *b, unsigned i, unsigned leader)
{
	struct host *h = &b->hosts[i];
	struct raft_ready rd;

	if (!raft_has_ready(h->r))
		return false;
	raft_ready(h->r, &rd);
	h->readies++;
	if (rd.snapshot != NULL)
	{
		fprintf(stderr, "core_bench: unexpected snapshot on node %u\n", i + 1);
		b->failed = 1;
	}
	if (rd.hard_state_changed)
		h->hs = rd.hard_state;
	for (uint32_t k = 0; k < rd.n_entries; k++)
		persist(h, &rd.entries[k]);
	for (uint32_t k = 0; k < rd.n_messages; k++)
	{
		const struct raft_message *m = &rd.messages[k];

		if (m->to >= 1 && m->to <= NODES)
			raft_step(b->hosts[m->to - 1].r, m);
	}
	if (rd.n_committed > 0)
	{
		uint64_t	t = now_ns();

		for (uint32_t k = 0; k < rd.n_committed; k++)
		{
			if (i == leader)
				applied_on_leader(b, &rd.committed[k], t);
			h->applied = rd.committed[k].index;
		}
	}
	raft_advance(h->r, &rd);
	if (h->applied >= h->compacted + COMPACT_EVERY + KEEP_ENTRIES)
	{
		raft_index	to = h->applied - KEEP_ENTRIES;

		if (raft_compact(h->r, to, NULL) == RAFT_OK)
			h->compacted = to;
	}
	return true;
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t	x = *(const uint64_t *) a;
	uint64_t	y = *(const uint64_t *) b;

	return (x > y) - (x < y);
}

static void
cluster_start(struct bench *b, uint64_t seed)
{
	struct raft_config cfg;

	memset(&cfg, 0, sizeof(cfg));
	cfg.n = NODES;
	for (unsigned i = 0; i < NODES; i++)
	{
		cfg.members[i].id = i + 1;
		cfg.members[i].flags = RAFT_VOTER_NEW;
		snprintf(cfg.members[i].addr, RAFT_ADDR_LEN, "127.0.0.%u:7000", i + 1);
	}
	for (unsigned i = 0; i < NODES; i++)
	{
		struct raft_options opt;
		struct host *h = &b->hosts[i];

		memset(h, 0, sizeof(*h));
		raft_options_default(&opt, i + 1, seed + i);
		h->r = raft_new(&opt);
		h->disk = malloc(DISK_RING);
		if (h->r == NULL || h->disk == NULL || raft_bootstrap(h->r, &cfg) != RAFT_OK)
		{
			fprintf(stderr, "core_bench: cannot start node %u\n", i + 1);
			exit(1);
		}
	}
}

static void
cluster_stop(struct bench *b)
{
	for (unsigned i = 0; i < NODES; i++)
	{
		raft_free(b->hosts[i].r);
		free(b->hosts[i].disk);
	}
}

/* Processes every ready until none is left (bounded). */
static void
settle(struct bench *b, unsigned leader)
{
	for (unsigned round = 0; round < 1000; round++)
	{
		bool		any = false;

		for (unsigned i = 0; i < NODES; i++)
			any |= process(b, i, leader);
		if (!any)
			return;
	}
}

static int
run(struct bench *b, unsigned proposers, double seconds)
{
	struct raft_status st;
	unsigned	leader = 0;
	uint64_t	start,
				end,
				next_tick,
				t;
	uint64_t	readies = 0;

	memset(b->pending_index, 0, sizeof(b->pending_index));
	b->n_samples = 0;
	b->applied_commands = 0;
	b->in_flight = 0;
	cluster_start(b, 1000 + proposers);
	settle(b, NODES);
	raft_campaign(b->hosts[0].r);
	settle(b, NODES);
	raft_get_status(b->hosts[0].r, &st);
	if (st.role != RAFT_LEADER)
	{
		fprintf(stderr, "core_bench: node 1 did not become leader\n");
		return 1;
	}
	settle(b, leader);

	start = now_ns();
	end = start + (uint64_t) (seconds * 1e9);
	next_tick = start + TICK_NS;
	for (t = start; t < end && !b->failed; t = now_ns())
	{
		while (b->in_flight < proposers)
		{
			raft_index	index = 0;
			unsigned	slot;
			int			rv = raft_propose(b->hosts[leader].r, b->payload, b->size, &index);

			if (rv != RAFT_OK || index == 0)
			{
				fprintf(stderr, "core_bench: propose: %s\n", raft_strerror(rv));
				return 1;
			}
			slot = (unsigned) (index % PENDING_RING);
			b->pending_index[slot] = index;
			b->pending_ns[slot] = t;
			b->in_flight++;
		}
		for (unsigned i = 0; i < NODES; i++)
			process(b, i, leader);
		if (t >= next_tick)
		{
			for (unsigned i = 0; i < NODES; i++)
				raft_tick(b->hosts[i].r);
			next_tick += TICK_NS;
		}
	}
	for (unsigned i = 0; i < NODES; i++)
		readies += b->hosts[i].readies;
	raft_get_status(b->hosts[leader].r, &st);
	if (st.role != RAFT_LEADER || b->failed)
	{
		fprintf(stderr, "core_bench: leadership lost during the run\n");
		return 1;
	}
	{
		double		el = (double) (t - start) / 1e9;
		uint64_t	p50 = 0,
					p99 = 0;

		if (b->n_samples > 0)
		{
			qsort(b->samples, b->n_samples, sizeof(uint64_t), cmp_u64);
			p50 = b->samples[(b->n_samples - 1) / 2];
			p99 = b->samples[(size_t) ((double) (b->n_samples - 1) * 0.99)];
		}
		printf("proposers=%u entries/s=%.0f readies/s=%.0f p50_us=%.2f p99_us=%.2f\n",
			   proposers, (double) b->applied_commands / el, (double) readies / el,
			   (double) p50 / 1000.0, (double) p99 / 1000.0);
		fflush(stdout);
	}
	cluster_stop(b);
	return 0;
}

int
main(int argc, char **argv)
{
	static struct bench b;
	double		seconds = 3;
	char		list[256] = "1,8,32,64";
	char	   *save = NULL;

	b.size = 100;
	for (int i = 1; i < argc; i++)
	{
		if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc)
			seconds = atof(argv[++i]);
		else if (strcmp(argv[i], "--size") == 0 && i + 1 < argc)
			b.size = (size_t) atol(argv[++i]);
		else if (strcmp(argv[i], "--proposers") == 0 && i + 1 < argc)
			snprintf(list, sizeof(list), "%s", argv[++i]);
		else
		{
			fprintf(stderr, "usage: %s [--seconds S] [--size BYTES] [--proposers 1,8,32,64]\n",
					argv[0]);
			return 2;
		}
	}
	if (!(seconds > 0 && seconds <= 600) || b.size < 1 || b.size > MAX_SIZE)
	{
		fprintf(stderr, "core_bench: --seconds in (0, 600], --size in [1, %d]\n", MAX_SIZE);
		return 2;
	}
	memset(b.payload, 'x', b.size);
	b.samples = malloc(MAX_SAMPLES * sizeof(uint64_t));
	if (b.samples == NULL)
		return 1;
	printf("core_bench: %d nodes in one process, in-memory I/O, entry data=%zu bytes, %.1f s per point\n",
		   NODES, b.size, seconds);
	for (char *tok = strtok_r(list, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save))
	{
		int			p = atoi(tok);

		if (p < 1 || p > MAX_PROPOSERS)
		{
			fprintf(stderr, "core_bench: proposers in [1, %d]\n", MAX_PROPOSERS);
			return 2;
		}
		if (run(&b, (unsigned) p, seconds) != 0)
			return 1;
	}
	free(b.samples);
	return 0;
}
