/*
 * regress/unit/test_core_liveness.c — after any storm of faults, a healed
 * cluster elects a leader and commits again (the liveness side of §3.4 and
 * §3.5, which the simulator's safety checks do not cover): seeded runs of
 * partitions, lost messages, crashes, restarts, compactions and transfers,
 * then the network heals and a last proposal must reach every node.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "lib/cluster.h"

#define NODES 5
#define SEEDS 200
#define STORM_TICKS 400

static struct test_cluster cl;

static uint64_t
next(uint64_t *rng)
{
	*rng ^= *rng << 13;
	*rng ^= *rng >> 7;
	*rng ^= *rng << 17;
	return *rng;
}

static void
storm(uint64_t *rng)
{
	char		text[32];

	for (unsigned t = 0; t < STORM_TICKS; t++)
	{
		int			leader;
		unsigned	dice = (unsigned) (next(rng) % 100);

		if (t % 25 == 0)
		{
			cluster_heal(&cl);
			if (dice < 50)
				cluster_isolate(&cl, (unsigned) (next(rng) % NODES));
			if (dice < 20)
				cluster_isolate(&cl, (unsigned) (next(rng) % NODES));
		}
		if (dice < 3)
		{
			unsigned	victim = (unsigned) (next(rng) % NODES);

			if (!cl.nodes[victim].down)
				cluster_crash(&cl, victim);
		}
		for (unsigned i = 0; i < NODES; i++)
			if (cl.nodes[i].down && next(rng) % 10 == 0)
				cluster_restart(&cl, i);
		leader = cluster_leader(&cl);
		if (leader >= 0 && dice < 60)
		{
			snprintf(text, sizeof(text), "s%u", t);
			(void) cluster_propose(&cl, (unsigned) leader, text, NULL);
		}
		if (leader >= 0 && (dice == 97 || dice == 98))
		{
			struct raft_change ch;
			struct raft_status st;

			cluster_status(&cl, (unsigned) leader, &st);
			memset(&ch, 0, sizeof(ch));
			ch.id = 1 + next(rng) % NODES;
			if (raft_config_find(&st.config, ch.id) == NULL)
				ch.kind = next(rng) % 2 ? RAFT_CHANGE_ADD_VOTER : RAFT_CHANGE_ADD_LEARNER;
			else if (!raft_config_is_voter(&st.config, ch.id))
				ch.kind = RAFT_CHANGE_PROMOTE;
			else
				ch.kind = RAFT_CHANGE_REMOVE;
			(void) raft_change_config(cluster_raft(&cl, (unsigned) leader), &ch, 1, NULL);
		}
		if (leader >= 0 && dice == 99)
			(void) raft_transfer_leadership(cluster_raft(&cl, (unsigned) leader),
											1 + next(rng) % NODES);
		for (unsigned i = 0; i < NODES; i++)
		{
			struct test_node *nd = &cl.nodes[i];

			if (!nd->down && next(rng) % 20 == 0 && nd->applied > nd->snap.index + 4)
				assert_int_equal(cluster_compact(&cl, i, nd->applied - 2), RAFT_OK);
		}
		cluster_tick_all(&cl, 1);
		for (unsigned round = 0; round < 8 && cl.n_net > 0; round++)
		{
			cluster_drop_random(&cl, rng, 10);
			cluster_deliver(&cl);
		}
	}
}

static raft_term
status_term(unsigned i)
{
	struct raft_status st;

	cluster_status(&cl, i, &st);
	return st.term;
}

static raft_index
index_of_final(unsigned i)
{
	const struct test_node *nd = &cl.nodes[i];

	for (size_t k = 0; k < nd->n_applied; k++)
		if (strcmp(nd->applied_entries[k].data, "final") == 0)
			return nd->applied_entries[k].index;
	fail_msg("node %u has not applied final", i + 1);
	return 0;
}

static bool
is_member(unsigned leader, raft_id id)
{
	struct raft_status st;

	cluster_status(&cl, leader, &st);
	return raft_config_find(&st.config, id) != NULL;
}

static void
healed_cluster_commits_after_any_storm(void **state)
{
	uint64_t	total_commits = 0;
	unsigned	total_restored = 0;

	(void) state;
	for (uint64_t seed = 1; seed <= SEEDS; seed++)
	{
		uint64_t	rng = seed * 0x9e3779b97f4a7c15ULL;
		int			leader = -1;
		raft_term	proposed_term = 0;
		bool		done = false;

		cluster_init(&cl, NODES, NODES, NULL);
		storm(&rng);
		{
			raft_index	most = 0;
			unsigned	restored = 0;

			for (unsigned i = 0; i < NODES; i++)
			{
				if (cl.nodes[i].hs.commit > most)
					most = cl.nodes[i].hs.commit;
				restored += cl.nodes[i].snapshots_restored;
			}
			if (most <= 10)
				fail_msg("seed %llu: only %llu committed during the storm",
						 (unsigned long long) seed, (unsigned long long) most);
			total_commits += most;
			total_restored += restored;
		}
		cluster_heal(&cl);
		for (unsigned i = 0; i < NODES; i++)
			if (cl.nodes[i].down)
				cluster_restart(&cl, i);
		/*
		 * A proposal may be lost when leadership changes before it commits:
		 * propose again to each new leader until every member has it.
		 */
		for (unsigned t = 0; t < 300 && !done; t++)
		{
			cluster_run(&cl, 1);
			leader = cluster_leader(&cl);
			if (leader >= 0 && status_term((unsigned) leader) != proposed_term &&
				cluster_propose(&cl, (unsigned) leader, "final", NULL) == RAFT_OK)
				proposed_term = status_term((unsigned) leader);
			done = leader >= 0;
			for (unsigned i = 0; i < NODES && done; i++)
				if (is_member((unsigned) leader, i + 1) &&
					!cluster_applied_text(&cl, i, "final"))
					done = false;
		}
		if (!done)
			fail_msg("seed %llu: the last proposal did not reach every member",
					 (unsigned long long) seed);
		/* §6.4: and every member can read, leader or follower. */
		for (unsigned i = 0; i < NODES; i++)
		{
			size_t		before = cl.nodes[i].n_reads;
			bool		answered = false;

			if (!is_member((unsigned) leader, i + 1))
				continue;
			for (unsigned t = 0; t < 100 && !answered; t++)
			{
				if (t % 20 == 0)
					(void) raft_read_index(cluster_raft(&cl, i), 1000 + i);
				cluster_run(&cl, 1);
				answered = cl.nodes[i].n_reads > before;
			}
			if (!answered)
				fail_msg("seed %llu: node %u got no read state",
						 (unsigned long long) seed, i + 1);
			/* Linearizable: the read comes after "final" completed. */
			assert_true(cl.nodes[i].reads[cl.nodes[i].n_reads - 1].index >=
						index_of_final(i));
		}
		cluster_free(&cl);
	}
	printf("    %d storms: %llu entries committed, %u snapshots restored\n",
		   SEEDS, (unsigned long long) total_commits, total_restored);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(healed_cluster_commits_after_any_storm),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
