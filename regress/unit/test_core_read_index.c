/*
 * regress/unit/test_core_read_index.c — linearizable reads (§6.4): the
 * leader confirms its leadership with a heartbeat round before answering,
 * waits for the first commit of its term, answers forwarded requests from
 * followers, and with lease_reads answers from its check-quorum lease
 * (not after it started a leadership transfer).
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

/* §6.4: the leader answers once a majority acknowledged a heartbeat round. */
static void
s6_4_read_index_on_leader_needs_heartbeat_quorum(void **state)
{
	(void) state;
	cluster_init(&cl, 3, 3, NULL);
	cluster_elect(&cl, 0);
	assert_int_equal(cluster_propose(&cl, 0, "a", NULL), RAFT_OK);
	cluster_stabilize(&cl);
	assert_int_equal(raft_read_index(cluster_raft(&cl, 0), 7), RAFT_OK);
	cluster_process(&cl, 0);
	assert_int_equal(cl.nodes[0].n_reads, 0);
	assert_int_equal(cluster_count_msgs(&cl, RAFT_MSG_HEARTBEAT, 0, -1), 2);
	assert_true(cluster_find_msg(&cl, RAFT_MSG_HEARTBEAT, 0, 1)->context != 0);
	/* One follower's answer makes a majority with the leader. */
	cluster_cut(&cl, 0, 2, true);
	cluster_stabilize(&cl);
	assert_int_equal(cl.nodes[0].n_reads, 1);
	assert_int_equal(cl.nodes[0].reads[0].ctx, 7);
	assert_int_equal(cl.nodes[0].reads[0].index, 3);
	cluster_free(&cl);
}

/* §6.4: a leader cut off from the majority never answers. */
static void
s6_4_read_index_unanswered_without_quorum(void **state)
{
	(void) state;
	cluster_init(&cl, 3, 3, NULL);
	cluster_elect(&cl, 0);
	cluster_isolate(&cl, 0);
	assert_int_equal(raft_read_index(cluster_raft(&cl, 0), 1), RAFT_OK);
	cluster_stabilize(&cl);
	cluster_tick(&cl, 0, 3);
	cluster_stabilize(&cl);
	assert_int_equal(cl.nodes[0].n_reads, 0);
	cluster_free(&cl);
}

/* §6.4 step 1: nothing is answered before the no-op of the term commits. */
static void
s6_4_leader_waits_for_first_commit_in_term(void **state)
{
	(void) state;
	cluster_init(&cl, 3, 3, NULL);
	assert_int_equal(raft_campaign(cluster_raft(&cl, 0)), RAFT_OK);
	for (unsigned k = 0; k < 8; k++)
	{
		cluster_process_all(&cl);
		cluster_drop_msgs(&cl, RAFT_MSG_APPEND, 0, -1);
		cluster_deliver(&cl);
	}
	cluster_drop_msgs(&cl, RAFT_MSG_APPEND, 0, -1);
	assert_int_equal(status_of(0).role, RAFT_LEADER);
	assert_int_equal(status_of(0).commit, 1);
	assert_int_equal(raft_read_index(cluster_raft(&cl, 0), 5), RAFT_OK);
	cluster_process(&cl, 0);
	/* No round yet: heartbeats would not be enough. */
	assert_int_equal(cluster_count_msgs(&cl, RAFT_MSG_HEARTBEAT, 0, -1), 0);
	cluster_stabilize(&cl);
	assert_int_equal(cl.nodes[0].n_reads, 0);
	/* The next heartbeat makes the follower ask for the no-op. */
	cluster_run(&cl, 1);
	assert_int_equal(status_of(0).commit, 2);
	assert_int_equal(cl.nodes[0].n_reads, 1);
	assert_int_equal(cl.nodes[0].reads[0].ctx, 5);
	assert_int_equal(cl.nodes[0].reads[0].index, 2);
	cluster_free(&cl);
}

/* §6.4: a follower's request is forwarded and answered with the index. */
static void
s6_4_read_index_forwarded_from_follower(void **state)
{
	(void) state;
	cluster_init(&cl, 3, 3, NULL);
	cluster_elect(&cl, 0);
	assert_int_equal(cluster_propose(&cl, 0, "a", NULL), RAFT_OK);
	cluster_stabilize(&cl);
	assert_int_equal(raft_read_index(cluster_raft(&cl, 2), 99), RAFT_OK);
	cluster_process(&cl, 2);
	assert_int_equal(cluster_count_msgs(&cl, RAFT_MSG_READ_INDEX, 2, 0), 1);
	cluster_stabilize(&cl);
	assert_int_equal(cl.nodes[2].n_reads, 1);
	assert_int_equal(cl.nodes[2].reads[0].ctx, 99);
	assert_int_equal(cl.nodes[2].reads[0].index, 3);
	assert_int_equal(cl.nodes[0].n_reads, 0);
	cluster_free(&cl);
}

static void
s6_4_follower_without_leader_refuses(void **state)
{
	(void) state;
	cluster_init(&cl, 3, 3, NULL);
	assert_int_equal(raft_read_index(cluster_raft(&cl, 1), 1), RAFT_ENOLEADER);
	cluster_free(&cl);
}

/* A 3-node cluster with lease reads and check-quorum; node 0 leads. */
static void
elect_with_lease(void)
{
	struct raft_options o;

	cluster_default_options(&o);
	o.lease_reads = true;
	o.check_quorum = true;
	cluster_init(&cl, 3, 3, &o);
	cluster_elect(&cl, 0);
}

/* §6.4.1: with a lease the leader answers without a round of messages. */
static void
s6_4_1_lease_read_answers_at_once(void **state)
{
	(void) state;
	elect_with_lease();
	cluster_isolate(&cl, 0);
	assert_int_equal(raft_read_index(cluster_raft(&cl, 0), 3), RAFT_OK);
	cluster_process(&cl, 0);
	assert_int_equal(cl.nodes[0].n_reads, 1);
	assert_int_equal(cl.nodes[0].reads[0].index, 2);
	assert_int_equal(cluster_count_msgs(&cl, RAFT_MSG_HEARTBEAT, 0, -1), 0);
	cluster_free(&cl);
}

/* §6.4.1: an expired lease falls back to a ReadIndex round. */
static void
s6_4_1_expired_lease_needs_a_round(void **state)
{
	struct raft_options o;

	(void) state;
	cluster_default_options(&o);
	o.lease_reads = true;
	cluster_init(&cl, 3, 3, &o);
	cluster_elect(&cl, 0);
	cluster_isolate(&cl, 0);
	cluster_tick(&cl, 0, 5);
	cluster_drop_all(&cl);
	assert_int_equal(raft_read_index(cluster_raft(&cl, 0), 3), RAFT_OK);
	cluster_process(&cl, 0);
	assert_int_equal(cl.nodes[0].n_reads, 0);
	assert_int_equal(cluster_count_msgs(&cl, RAFT_MSG_HEARTBEAT, 0, -1), 2);
	/* The round completes once the followers answer again. */
	cluster_heal(&cl);
	cluster_stabilize(&cl);
	assert_int_equal(cl.nodes[0].n_reads, 1);
	cluster_free(&cl);
}

/*
 * §6.4.1 and §3.10: the target of a leadership transfer campaigns past the
 * voters' lease, so once the leader has sent TIMEOUT_NOW its lease no
 * longer proves anything.  Here the target wins and commits a write while
 * the old leader hears nothing: a read on the old leader must not be
 * answered from its lease (it would miss the write).
 */
static void
s6_4_1_no_lease_after_a_leadership_transfer(void **state)
{
	raft_index	b_index;

	(void) state;
	elect_with_lease();
	assert_int_equal(cluster_propose(&cl, 0, "a", NULL), RAFT_OK);
	cluster_stabilize(&cl);
	assert_true(raft_lease_held(cluster_raft(&cl, 0), NULL));

	/* Node 0 hears nothing from now on. */
	cluster_cut(&cl, 1, 0, true);
	cluster_cut(&cl, 2, 0, true);
	assert_int_equal(raft_transfer_leadership(cluster_raft(&cl, 0), 3), RAFT_OK);
	assert_false(raft_lease_held(cluster_raft(&cl, 0), NULL));
	cluster_stabilize(&cl);
	assert_int_equal(status_of(2).role, RAFT_LEADER);
	assert_int_equal(cluster_propose(&cl, 2, "b", &b_index), RAFT_OK);
	cluster_stabilize(&cl);
	assert_true(status_of(2).commit >= b_index);

	/* Node 0 still believes it leads, with its followers heard recently. */
	assert_int_equal(status_of(0).role, RAFT_LEADER);
	assert_true(status_of(0).commit < b_index);
	assert_false(raft_lease_held(cluster_raft(&cl, 0), NULL));
	assert_int_equal(raft_read_index(cluster_raft(&cl, 0), 4), RAFT_OK);
	cluster_stabilize(&cl);
	assert_int_equal(cl.nodes[0].n_reads, 0);

	/* A new term gives the new leader a lease of its own. */
	cluster_run(&cl, 1);
	assert_true(raft_lease_held(cluster_raft(&cl, 2), NULL));
	cluster_free(&cl);
}

/* lease_reads needs check_quorum: refused as invalid options. */
static void
s6_4_1_lease_reads_require_check_quorum(void **state)
{
	struct raft_options o;

	(void) state;
	raft_options_default(&o, 1, 1);
	o.lease_reads = true;
	o.check_quorum = false;
	assert_null(raft_new(&o));
}

/* A single voter confirms its own reads. */
static void
s6_4_single_voter_reads_at_once(void **state)
{
	(void) state;
	cluster_init(&cl, 1, 1, NULL);
	cluster_elect(&cl, 0);
	assert_int_equal(raft_read_index(cluster_raft(&cl, 0), 11), RAFT_OK);
	cluster_process(&cl, 0);
	assert_int_equal(cl.nodes[0].n_reads, 1);
	assert_int_equal(cl.nodes[0].reads[0].index, 2);
	cluster_free(&cl);
}

/* Requests are answered in order, each exactly once. */
static void
s6_4_reads_answered_once_in_order(void **state)
{
	(void) state;
	cluster_init(&cl, 3, 3, NULL);
	cluster_elect(&cl, 0);
	for (uint64_t ctx = 1; ctx <= 5; ctx++)
		assert_int_equal(raft_read_index(cluster_raft(&cl, 0), ctx), RAFT_OK);
	cluster_stabilize(&cl);
	cluster_run(&cl, 3);
	assert_int_equal(cl.nodes[0].n_reads, 5);
	for (unsigned k = 0; k < 5; k++)
		assert_int_equal(cl.nodes[0].reads[k].ctx, k + 1);
	cluster_free(&cl);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(s6_4_read_index_on_leader_needs_heartbeat_quorum),
		cmocka_unit_test(s6_4_read_index_unanswered_without_quorum),
		cmocka_unit_test(s6_4_leader_waits_for_first_commit_in_term),
		cmocka_unit_test(s6_4_read_index_forwarded_from_follower),
		cmocka_unit_test(s6_4_follower_without_leader_refuses),
		cmocka_unit_test(s6_4_1_lease_read_answers_at_once),
		cmocka_unit_test(s6_4_1_expired_lease_needs_a_round),
		cmocka_unit_test(s6_4_1_no_lease_after_a_leadership_transfer),
		cmocka_unit_test(s6_4_1_lease_reads_require_check_quorum),
		cmocka_unit_test(s6_4_single_voter_reads_at_once),
		cmocka_unit_test(s6_4_reads_answered_once_in_order),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
