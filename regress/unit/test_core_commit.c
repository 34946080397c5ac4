/*
 * regress/unit/test_core_commit.c — the commit rule (§3.6.2): a leader
 * counts replicas only of entries of its own term, appends a no-op when it
 * takes office, and counts its own log only once it is durable (§10.2.1).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "lib/cluster.h"

static struct test_cluster cl;

/* the status of node i of this file's cluster */
#define status_of(i) cluster_status_of(&cl, (i))

static void
ack(unsigned leader, raft_id from, raft_index index)
{
	struct raft_message m;

	memset(&m, 0, sizeof(m));
	m.type = RAFT_MSG_APPEND_RESP;
	m.from = from;
	m.to = leader + 1;
	m.term = status_of(leader).term;
	m.index = index;
	assert_int_equal(raft_step(cluster_raft(&cl, leader), &m), RAFT_OK);
}

/*
 * §3.6.2, Figure 3.7: an entry of an earlier term stored on a majority is
 * not committed by counting; it is once an entry of the current term is.
 */
static void
s3_6_2_old_term_entry_not_committed_by_counting(void **state)
{
	unsigned	i;

	(void) state;
	cluster_init(&cl, 3, 3, NULL);
	/* Node 1 has 2/t2 (old, uncommitted); every node has term 3. */
	for (i = 0; i < 3; i++)
		cluster_crash(&cl, i);
	cluster_disk_append(&cl, 0, 2, RAFT_ENTRY_COMMAND, "old");
	for (i = 0; i < 3; i++)
	{
		cl.nodes[i].hs.term = 3;
		cl.nodes[i].hs.commit = 1;
		cluster_restart(&cl, i);
	}
	/* Elect node 1 but keep its appends from reaching anyone. */
	assert_int_equal(raft_campaign(cluster_raft(&cl, 0)), RAFT_OK);
	for (i = 0; i < 8; i++)
	{
		cluster_process_all(&cl);
		cluster_drop_msgs(&cl, RAFT_MSG_APPEND, 0, -1);
		cluster_deliver(&cl);
	}
	assert_int_equal(cluster_leader(&cl), 0);
	assert_int_equal(status_of(0).term, 4);
	/* Now play the answers by hand: the new no-op is 3/t4. */
	cluster_drop_all(&cl);
	assert_int_equal(status_of(0).last_index, 3);
	ack(0, 2, 2);
	ack(0, 3, 2);
	/* "old" (2/t2) is on all three, yet not committed. */
	assert_int_equal(status_of(0).commit, 1);
	ack(0, 2, 3);
	cluster_process(&cl, 0);
	/* The no-op of term 4 commits, and "old" with it. */
	assert_int_equal(status_of(0).commit, 3);
	assert_true(cluster_applied_text(&cl, 0, "old"));
	cluster_free(&cl);
}

/* §3.6.2/§6.4: a new leader appends and commits a no-op of its term. */
static void
s3_6_2_leader_appends_noop_on_taking_office(void **state)
{
	const struct test_node *nd;

	(void) state;
	cluster_init(&cl, 3, 3, NULL);
	cluster_elect(&cl, 0);
	nd = &cl.nodes[0];
	assert_int_equal(nd->n_log, 2);
	assert_int_equal(nd->log[1].type, RAFT_ENTRY_NOOP);
	assert_int_equal(nd->log[1].term, 2);
	assert_int_equal(status_of(0).commit, 2);
	assert_int_equal(nd->applied_entries[nd->n_applied - 1].type, RAFT_ENTRY_NOOP);
	cluster_free(&cl);
}

/*
 * §10.2.1: the leader may send entries before its own write finishes, but
 * counts itself only after raft_advance says they are durable.
 */
static void
s10_2_1_leader_counts_own_entries_after_persisting(void **state)
{
	struct raft *leader;
	struct raft_ready rd;
	raft_index	index;

	(void) state;
	cluster_init(&cl, 3, 3, NULL);
	cluster_elect(&cl, 0);
	cluster_isolate(&cl, 2);
	leader = cluster_raft(&cl, 0);
	assert_int_equal(cluster_propose(&cl, 0, "x", &index), RAFT_OK);
	raft_ready(leader, &rd);
	assert_int_equal(rd.n_entries, 1);
	assert_int_equal(rd.entries[0].index, index);
	assert_true(rd.n_messages >= 1);
	/* Node 2 acknowledges while the leader's own write is in flight. */
	ack(0, 2, index);
	assert_int_equal(status_of(0).commit, index - 1);
	/* The write is done: now the leader and node 2 are a majority. */
	raft_advance(leader, &rd);
	assert_int_equal(status_of(0).commit, index);
	cluster_free(&cl);
}

/* A follower's acknowledgement waits for its entries to be persisted. */
static void
s3_5_follower_acknowledges_in_the_ready_that_persists(void **state)
{
	struct raft *f;
	struct raft_ready rd;
	const struct raft_message *app;

	(void) state;
	cluster_init(&cl, 3, 3, NULL);
	cluster_elect(&cl, 0);
	assert_int_equal(cluster_propose(&cl, 0, "x", NULL), RAFT_OK);
	cluster_process(&cl, 0);
	app = cluster_find_msg(&cl, RAFT_MSG_APPEND, 0, 1);
	assert_non_null(app);
	f = cluster_raft(&cl, 1);
	assert_int_equal(raft_step(f, app), RAFT_OK);
	raft_ready(f, &rd);
	assert_int_equal(rd.n_entries, 1);
	assert_int_equal(rd.n_messages, 1);
	assert_int_equal(rd.messages[0].type, RAFT_MSG_APPEND_RESP);
	assert_int_equal(rd.messages[0].index, rd.entries[0].index);
	raft_advance(f, &rd);
	cluster_free(&cl);
}

/* §3.6: a minority cannot commit. */
static void
s3_6_minority_cannot_commit(void **state)
{
	raft_index	index;

	(void) state;
	cluster_init(&cl, 5, 5, NULL);
	cluster_elect(&cl, 0);
	cluster_isolate(&cl, 2);
	cluster_isolate(&cl, 3);
	cluster_isolate(&cl, 4);
	assert_int_equal(cluster_propose(&cl, 0, "x", &index), RAFT_OK);
	cluster_stabilize(&cl);
	assert_int_equal(status_of(0).commit, index - 1);
	cluster_heal(&cl);
	cluster_isolate(&cl, 4);
	cluster_run(&cl, 2);
	assert_int_equal(status_of(0).commit, index);
	cluster_free(&cl);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(s3_6_2_old_term_entry_not_committed_by_counting),
		cmocka_unit_test(s3_6_2_leader_appends_noop_on_taking_office),
		cmocka_unit_test(s10_2_1_leader_counts_own_entries_after_persisting),
		cmocka_unit_test(s3_5_follower_acknowledges_in_the_ready_that_persists),
		cmocka_unit_test(s3_6_minority_cannot_commit),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
