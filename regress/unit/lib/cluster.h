/*
 * regress/unit/lib/cluster.h — a small in-memory cluster of struct raft for
 * the core's unit tests: a "host" per node that carries out each ready in
 * the documented order (persist, send, apply, advance) into memory, and a
 * network that holds messages until a test delivers them.  Node i has id
 * i + 1.  It checks, as it goes, that committed entries come out exactly
 * once and in order.  No time, no randomness beyond each node's seed.
 */
#ifndef TEST_CLUSTER_H
#define TEST_CLUSTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "raft.h"

#define CLUSTER_MAX 7
#define CLUSTER_MAX_APPLIED 4096
#define CLUSTER_MAX_NET 8192

struct test_applied
{
	raft_index	index;
	raft_term	term;
	uint8_t		type;
	size_t		len;
	char		data[64];		/* first bytes, NUL-ended */
};

struct test_node
{
	struct raft *r;
	struct raft_options opt;
	bool		down;

	/* "Disk". */
	struct raft_hard_state hs;
	struct raft_entry *log;		/* durable entries, data owned */
	size_t		n_log;
	size_t		cap_log;
	struct raft_snapshot snap;	/* data owned */

	/* "State machine". */
	raft_index	applied;
	size_t		n_applied;
	struct test_applied applied_entries[CLUSTER_MAX_APPLIED];
	unsigned	snapshots_restored;
	size_t		n_reads;
	struct raft_read_state reads[256];

	/* Ready statistics. */
	uint64_t	readies;
};

struct test_cluster
{
	unsigned	n;
	struct test_node nodes[CLUSTER_MAX];
	struct raft_message *net;	/* in flight, deep copies */
	size_t		n_net;
	bool		cut[CLUSTER_MAX][CLUSTER_MAX];	/* drop from -> to */
	uint64_t	delivered;
	bool		trace;
	/* Optional: called around every call into the core (fault injection). */
	void		(*enter_core) (void);
	void		(*leave_core) (void);
};

/* Options every node gets unless a test changes them (election 10, hb 1). */
void		cluster_default_options(struct raft_options *opt);

/*
 * n nodes; the first n_voters are bootstrapped voters of the first
 * configuration, the others start empty (joiners).  tmpl may be NULL.
 */
void		cluster_init(struct test_cluster *c, unsigned n, unsigned n_voters,
						 const struct raft_options *tmpl);
void		cluster_free(struct test_cluster *c);

struct raft *cluster_raft(struct test_cluster *c, unsigned i);

/* Runs node i's ready (if any): persist, queue messages, apply, advance. */
bool		cluster_process(struct test_cluster *c, unsigned i);
void		cluster_process_all(struct test_cluster *c);
/* Delivers every message now in flight (the ones they cause wait). */
size_t		cluster_deliver(struct test_cluster *c);
/* process + deliver until quiet (bounded). */
void		cluster_stabilize(struct test_cluster *c);
void		cluster_tick(struct test_cluster *c, unsigned i, unsigned ticks);
void		cluster_tick_all(struct test_cluster *c, unsigned ticks);
/* Ticks everyone once and stabilizes, k times. */
void		cluster_run(struct test_cluster *c, unsigned k);

/* Node i campaigns, everything is delivered; returns the leader index. */
int			cluster_elect(struct test_cluster *c, unsigned i);
/* The leader with the highest term, or -1. */
int			cluster_leader(struct test_cluster *c);
int			cluster_propose(struct test_cluster *c, unsigned i, const char *text,
							raft_index *index);

/* Network control. */
void		cluster_isolate(struct test_cluster *c, unsigned i);
void		cluster_heal(struct test_cluster *c);
void		cluster_cut(struct test_cluster *c, unsigned from, unsigned to, bool cut);
size_t		cluster_count_msgs(const struct test_cluster *c, int type,
							   int from, int to);
size_t		cluster_drop_msgs(struct test_cluster *c, int type, int from, int to);
const struct raft_message *cluster_find_msg(const struct test_cluster *c,
											int type, int from, int to);
void		cluster_drop_all(struct test_cluster *c);
/* Drops each message in flight with probability percent/100 (seeded). */
size_t		cluster_drop_random(struct test_cluster *c, uint64_t *rng,
								unsigned percent);

/* Crash (lose the struct raft, keep the disk) and restart from the disk. */
void		cluster_crash(struct test_cluster *c, unsigned i);
void		cluster_restart(struct test_cluster *c, unsigned i);

/* Appends an entry to a crashed node's disk (to build a log by hand). */
void		cluster_disk_append(struct test_cluster *c, unsigned i, raft_term term,
								uint8_t type, const char *text);

/*
 * Drops the last n durable entries of a crashed node: a disk that lost data
 * it had synced (what Raft assumes never happens).
 */
void		cluster_disk_lose_tail(struct test_cluster *c, unsigned i, size_t n);

/* The host of node i compacts its log up to index (after applying it). */
int			cluster_compact(struct test_cluster *c, unsigned i, raft_index index);

/* Was an entry with this text applied on node i? */
bool		cluster_applied_text(const struct test_cluster *c, unsigned i,
								 const char *text);
void		cluster_status(struct test_cluster *c, unsigned i, struct raft_status *st);
/* The same, returned by value: for assertions on one field. */
struct raft_status cluster_status_of(struct test_cluster *c, unsigned i);

#endif							/* TEST_CLUSTER_H */
