/*
 * regress/unit/test_core_transfer.c — leadership transfer (§3.10): catch
 * the target up, TIMEOUT_NOW, no proposals meanwhile, abort after an
 * election timeout; forwarded requests from followers.
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

/* §3.10: the target campaigns at once and wins, past the voters' lease. */
static void
s3_10_transfer_to_up_to_date_follower(void **state)
{
	(void) state;
	cluster_init(&cl, 3, 3, NULL);
	cluster_elect(&cl, 0);
	assert_int_equal(raft_transfer_leadership(cluster_raft(&cl, 0), 3), RAFT_OK);
	cluster_process(&cl, 0);
	assert_int_equal(cluster_count_msgs(&cl, RAFT_MSG_TIMEOUT_NOW, 0, 2), 1);
	cluster_stabilize(&cl);
	assert_int_equal(cluster_leader(&cl), 2);
	assert_int_equal(status_of(2).term, 3);
	assert_int_equal(status_of(0).role, RAFT_FOLLOWER);
	assert_int_equal(status_of(0).leader, 3);
	cluster_free(&cl);
}

/* §3.10: a lagging target is first brought up to date. */
static void
s3_10_transfer_catches_target_up_first(void **state)
{
	(void) state;
	cluster_init(&cl, 3, 3, NULL);
	cluster_elect(&cl, 0);
	cluster_isolate(&cl, 2);
	assert_int_equal(cluster_propose(&cl, 0, "a", NULL), RAFT_OK);
	cluster_stabilize(&cl);
	cluster_heal(&cl);
	assert_int_equal(raft_transfer_leadership(cluster_raft(&cl, 0), 3), RAFT_OK);
	cluster_process(&cl, 0);
	assert_int_equal(cluster_count_msgs(&cl, RAFT_MSG_TIMEOUT_NOW, 0, 2), 0);
	cluster_stabilize(&cl);
	cluster_run(&cl, 2);
	assert_int_equal(cluster_leader(&cl), 2);
	assert_true(cluster_applied_text(&cl, 2, "a"));
	cluster_free(&cl);
}

/* §3.10: no proposals are accepted while a transfer is in progress. */
static void
s3_10_proposals_refused_during_transfer(void **state)
{
	(void) state;
	cluster_init(&cl, 3, 3, NULL);
	cluster_elect(&cl, 0);
	cluster_isolate(&cl, 2);
	assert_int_equal(raft_transfer_leadership(cluster_raft(&cl, 0), 3), RAFT_OK);
	assert_int_equal(status_of(0).transferee, 3);
	assert_int_equal(cluster_propose(&cl, 0, "x", NULL), RAFT_ETRANSFER);
	cluster_free(&cl);
}

/* §3.10: a transfer that does not finish within an election timeout aborts. */
static void
s3_10_transfer_aborts_after_election_timeout(void **state)
{
	(void) state;
	cluster_init(&cl, 3, 3, NULL);
	cluster_elect(&cl, 0);
	cluster_isolate(&cl, 2);
	assert_int_equal(raft_transfer_leadership(cluster_raft(&cl, 0), 3), RAFT_OK);
	cluster_run(&cl, 9);
	assert_int_equal(status_of(0).transferee, 3);
	cluster_run(&cl, 1);
	assert_int_equal(status_of(0).transferee, RAFT_NONE);
	assert_int_equal(status_of(0).role, RAFT_LEADER);
	assert_int_equal(cluster_propose(&cl, 0, "x", NULL), RAFT_OK);
	cluster_free(&cl);
}

/* A follower forwards the request (RAFT_MSG_TRANSFER) to the leader. */
static void
s3_10_transfer_forwarded_from_follower(void **state)
{
	(void) state;
	cluster_init(&cl, 3, 3, NULL);
	cluster_elect(&cl, 0);
	assert_int_equal(raft_transfer_leadership(cluster_raft(&cl, 1), 2), RAFT_OK);
	cluster_process(&cl, 1);
	assert_int_equal(cluster_count_msgs(&cl, RAFT_MSG_TRANSFER, 1, 0), 1);
	cluster_stabilize(&cl);
	assert_int_equal(cluster_leader(&cl), 1);
	cluster_free(&cl);
}

/* Only a voter can become leader. */
static void
s3_10_transfer_to_unknown_node_refused(void **state)
{
	(void) state;
	cluster_init(&cl, 3, 3, NULL);
	cluster_elect(&cl, 0);
	assert_int_equal(raft_transfer_leadership(cluster_raft(&cl, 0), 9),
					 RAFT_EUNKNOWNNODE);
	assert_int_equal(raft_transfer_leadership(cluster_raft(&cl, 0), 1), RAFT_OK);
	assert_int_equal(status_of(0).transferee, RAFT_NONE);
	cluster_free(&cl);
}

/* §3.10: the target skips pre-vote; its requests carry context 1. */
static void
s3_10_target_campaigns_without_prevote(void **state)
{
	const struct raft_message *vote;

	(void) state;
	cluster_init(&cl, 3, 3, NULL);
	cluster_elect(&cl, 0);
	assert_int_equal(raft_transfer_leadership(cluster_raft(&cl, 0), 2), RAFT_OK);
	cluster_process(&cl, 0);
	cluster_deliver(&cl);		/* TIMEOUT_NOW reaches node 2 */
	assert_int_equal(cluster_count_msgs(&cl, RAFT_MSG_PREVOTE, 1, -1), 0);
	vote = cluster_find_msg(&cl, RAFT_MSG_VOTE, 1, 2);
	assert_non_null(vote);
	assert_int_equal(vote->context, 1);
	assert_int_equal(vote->term, 3);
	cluster_free(&cl);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(s3_10_transfer_to_up_to_date_follower),
		cmocka_unit_test(s3_10_transfer_catches_target_up_first),
		cmocka_unit_test(s3_10_proposals_refused_during_transfer),
		cmocka_unit_test(s3_10_transfer_aborts_after_election_timeout),
		cmocka_unit_test(s3_10_transfer_forwarded_from_follower),
		cmocka_unit_test(s3_10_transfer_to_unknown_node_refused),
		cmocka_unit_test(s3_10_target_campaigns_without_prevote),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
