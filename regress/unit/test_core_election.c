/*
 * regress/unit/test_core_election.c — leader election (§3.4), the election
 * restriction (§3.6.1), pre-vote (§9.6), check-quorum and the voters' lease
 * (§6.2, §4.2.3).  One rule per test, named after its section.
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

static struct raft_options
opts(bool pre_vote, bool check_quorum)
{
	struct raft_options o;

	cluster_default_options(&o);
	o.pre_vote = pre_vote;
	o.check_quorum = check_quorum;
	return o;
}

static void
step_vote(unsigned to, raft_id from, raft_term term, raft_term log_term,
		  raft_index index, uint8_t type, uint64_t context)
{
	struct raft_message m;

	memset(&m, 0, sizeof(m));
	m.type = type;
	m.from = from;
	m.to = to + 1;
	m.term = term;
	m.log_term = log_term;
	m.index = index;
	m.context = context;
	assert_int_equal(raft_step(cluster_raft(&cl, to), &m), RAFT_OK);
	cluster_process(&cl, to);
}

/* §3.4: a candidate that gets a majority's votes becomes leader. */
static void
s3_4_candidate_with_majority_becomes_leader(void **state)
{
	(void) state;
	cluster_init(&cl, 3, 3, NULL);
	assert_int_equal(cluster_elect(&cl, 0), 0);
	assert_int_equal(status_of(0).role, RAFT_LEADER);
	assert_int_equal(status_of(0).term, 2);
	for (unsigned i = 1; i < 3; i++)
	{
		assert_int_equal(status_of(i).role, RAFT_FOLLOWER);
		assert_int_equal(status_of(i).leader, 1);
		assert_int_equal(status_of(i).term, 2);
	}
	cluster_free(&cl);
}

/* §3.4: followers that hear nothing start an election on their own. */
static void
s3_4_election_timeout_elects_a_leader(void **state)
{
	unsigned	ticks = 0;

	(void) state;
	cluster_init(&cl, 3, 3, NULL);
	while (cluster_leader(&cl) < 0 && ticks < 100)
	{
		cluster_run(&cl, 1);
		ticks++;
	}
	assert_true(cluster_leader(&cl) >= 0);
	/* Timeouts are drawn from [election_ticks, 2 * election_ticks). */
	assert_true(ticks >= 10);
	cluster_free(&cl);
}

/* §3.4: no campaign before the minimum election timeout. */
static void
s3_4_no_campaign_before_election_timeout(void **state)
{
	(void) state;
	cluster_init(&cl, 3, 3, NULL);
	cluster_tick(&cl, 0, 9);
	assert_int_equal(cluster_count_msgs(&cl, RAFT_MSG_PREVOTE, 0, -1), 0);
	assert_int_equal(status_of(0).elections, 0);
	cluster_tick(&cl, 0, 11);
	assert_int_equal(status_of(0).elections, 1);
	assert_int_equal(cluster_count_msgs(&cl, RAFT_MSG_PREVOTE, 0, -1), 2);
	cluster_free(&cl);
}

/* §3.4: each server votes for at most one candidate in a term. */
static void
s3_4_vote_granted_once_per_term(void **state)
{
	struct raft_options o = opts(false, false);
	const struct raft_message *resp;

	(void) state;
	cluster_init(&cl, 3, 3, &o);
	step_vote(2, 1, 5, 1, 1, RAFT_MSG_VOTE, 0);
	resp = cluster_find_msg(&cl, RAFT_MSG_VOTE_RESP, 2, 0);
	assert_non_null(resp);
	assert_false(resp->reject);
	assert_int_equal(status_of(2).vote, 1);

	step_vote(2, 2, 5, 1, 1, RAFT_MSG_VOTE, 0);
	resp = cluster_find_msg(&cl, RAFT_MSG_VOTE_RESP, 2, 1);
	assert_non_null(resp);
	assert_true(resp->reject);
	assert_int_equal(status_of(2).vote, 1);

	/* The same candidate asking again is answered the same. */
	step_vote(2, 1, 5, 1, 1, RAFT_MSG_VOTE, 0);
	assert_int_equal(cluster_count_msgs(&cl, RAFT_MSG_VOTE_RESP, 2, 0), 2);
	cluster_free(&cl);
}

/* §3.8: the vote is in the hard state of the ready that carries the answer. */
static void
s3_8_vote_persisted_before_answer(void **state)
{
	struct raft_options o = opts(false, false);
	struct raft_message m;
	struct raft_ready rd;
	struct raft *r;

	(void) state;
	cluster_init(&cl, 3, 3, &o);
	r = cluster_raft(&cl, 2);
	memset(&m, 0, sizeof(m));
	m.type = RAFT_MSG_VOTE;
	m.from = 1;
	m.to = 3;
	m.term = 7;
	m.log_term = 1;
	m.index = 1;
	assert_int_equal(raft_step(r, &m), RAFT_OK);
	assert_true(raft_has_ready(r));
	raft_ready(r, &rd);
	assert_true(rd.hard_state_changed);
	assert_int_equal(rd.hard_state.term, 7);
	assert_int_equal(rd.hard_state.vote, 1);
	assert_int_equal(rd.n_messages, 1);
	assert_int_equal(rd.messages[0].type, RAFT_MSG_VOTE_RESP);
	assert_false(rd.messages[0].reject);
	raft_advance(r, &rd);
	assert_false(raft_has_ready(r));
	cluster_free(&cl);
}

/* §3.6.1: a voter denies its vote to a candidate with a less complete log. */
static void
s3_6_1_up_to_date_check_refuses_stale_candidate(void **state)
{
	struct raft_options o = opts(false, false);
	const struct raft_message *resp;

	(void) state;
	cluster_init(&cl, 3, 3, &o);
	cluster_elect(&cl, 0);
	assert_int_equal(cluster_propose(&cl, 0, "x", NULL), RAFT_OK);
	cluster_stabilize(&cl);
	/* Node 3's log ends at 3/2; a candidate ending at 1/1 is stale. */
	step_vote(2, 2, 9, 1, 1, RAFT_MSG_VOTE, 0);
	resp = cluster_find_msg(&cl, RAFT_MSG_VOTE_RESP, 2, 1);
	assert_non_null(resp);
	assert_true(resp->reject);
	assert_int_equal(status_of(2).vote, RAFT_NONE);
	/* Same last term, shorter log: stale too. */
	step_vote(2, 2, 10, 2, 2, RAFT_MSG_VOTE, 0);
	assert_true(cluster_find_msg(&cl, RAFT_MSG_VOTE_RESP, 2, 1)->reject);
	/* A higher last term wins even with a shorter log. */
	step_vote(2, 2, 11, 3, 2, RAFT_MSG_VOTE, 0);
	cluster_drop_msgs(&cl, RAFT_MSG_VOTE_RESP, 2, 1);
	assert_int_equal(status_of(2).vote, 2);
	cluster_free(&cl);
}

/* §3.3: a leader that sees a higher term becomes a follower. */
static void
s3_3_higher_term_makes_leader_step_down(void **state)
{
	struct raft_options o = opts(false, false);

	(void) state;
	cluster_init(&cl, 3, 3, &o);
	cluster_elect(&cl, 0);
	step_vote(0, 2, 20, 1, 1, RAFT_MSG_VOTE, 0);
	assert_int_equal(status_of(0).role, RAFT_FOLLOWER);
	assert_int_equal(status_of(0).term, 20);
	/* The leader's log is more up to date: it refused the vote. */
	assert_true(cluster_find_msg(&cl, RAFT_MSG_VOTE_RESP, 0, 1)->reject);
	cluster_free(&cl);
}

/* A single voter elects itself at once and commits its no-op. */
static void
s3_4_single_voter_elects_itself(void **state)
{
	(void) state;
	cluster_init(&cl, 1, 1, NULL);
	assert_int_equal(cluster_elect(&cl, 0), 0);
	cluster_process_all(&cl);
	assert_int_equal(status_of(0).commit, 2);
	assert_int_equal(cl.nodes[0].applied, 2);
	cluster_free(&cl);
}

/* §9.6: a partitioned node's pre-votes fail, so its term does not rise. */
static void
s9_6_prevote_does_not_disrupt_leader(void **state)
{
	raft_term	term;

	(void) state;
	cluster_init(&cl, 3, 3, NULL);
	cluster_elect(&cl, 0);
	term = status_of(0).term;
	cluster_isolate(&cl, 2);
	for (unsigned t = 0; t < 60; t++)
		cluster_run(&cl, 1);
	assert_true(status_of(2).elections > 0);
	assert_int_equal(status_of(2).term, term);
	cluster_heal(&cl);
	cluster_run(&cl, 5);
	assert_int_equal(cluster_leader(&cl), 0);
	assert_int_equal(status_of(0).term, term);
	assert_int_equal(status_of(2).leader, 1);
	cluster_free(&cl);
}

/* Without pre-vote the same partition does raise the term (the contrast). */
static void
s9_6_without_prevote_isolated_node_raises_term(void **state)
{
	struct raft_options o = opts(false, false);
	raft_term	term;

	(void) state;
	cluster_init(&cl, 3, 3, &o);
	cluster_elect(&cl, 0);
	term = status_of(0).term;
	cluster_isolate(&cl, 2);
	cluster_run(&cl, 60);
	assert_true(status_of(2).term > term);
	cluster_free(&cl);
}

/* §9.6: a pre-vote is granted for term + 1 without changing the voter. */
static void
s9_6_prevote_changes_no_state(void **state)
{
	struct raft_options o = opts(true, false);
	const struct raft_message *resp;

	(void) state;
	cluster_init(&cl, 3, 3, &o);
	step_vote(2, 1, 2, 1, 1, RAFT_MSG_PREVOTE, 0);
	resp = cluster_find_msg(&cl, RAFT_MSG_PREVOTE_RESP, 2, 0);
	assert_non_null(resp);
	assert_false(resp->reject);
	assert_int_equal(resp->term, 2);
	assert_int_equal(status_of(2).term, 1);
	assert_int_equal(status_of(2).vote, RAFT_NONE);
	cluster_free(&cl);
}

/* §6.2: a leader that cannot hear from a majority steps down. */
static void
s6_2_check_quorum_leader_steps_down(void **state)
{
	(void) state;
	cluster_init(&cl, 3, 3, NULL);
	cluster_elect(&cl, 0);
	cluster_isolate(&cl, 0);
	cluster_tick(&cl, 0, 10);
	cluster_stabilize(&cl);
	/* The first check may find the nodes active from before. */
	cluster_tick(&cl, 0, 10);
	assert_int_equal(status_of(0).role, RAFT_FOLLOWER);
	cluster_free(&cl);
}

/* §6.2: with a majority answering, the leader stays. */
static void
s6_2_check_quorum_leader_stays_with_majority(void **state)
{
	(void) state;
	cluster_init(&cl, 3, 3, NULL);
	cluster_elect(&cl, 0);
	cluster_isolate(&cl, 2);
	cluster_run(&cl, 50);
	assert_int_equal(status_of(0).role, RAFT_LEADER);
	cluster_free(&cl);
}

/* §4.2.3: a follower that heard from its leader ignores vote requests... */
static void
s4_2_3_lease_ignores_vote_requests(void **state)
{
	(void) state;
	cluster_init(&cl, 3, 3, NULL);
	cluster_elect(&cl, 0);
	step_vote(2, 2, 9, 9, 9, RAFT_MSG_VOTE, 0);
	assert_int_equal(cluster_count_msgs(&cl, RAFT_MSG_VOTE_RESP, 2, -1), 0);
	assert_int_equal(status_of(2).term, 2);
	step_vote(2, 2, 9, 9, 9, RAFT_MSG_PREVOTE, 0);
	assert_int_equal(cluster_count_msgs(&cl, RAFT_MSG_PREVOTE_RESP, 2, -1), 0);
	/* ...unless the campaign is a leadership transfer (context 1). */
	step_vote(2, 2, 9, 9, 9, RAFT_MSG_VOTE, 1);
	assert_int_equal(cluster_count_msgs(&cl, RAFT_MSG_VOTE_RESP, 2, 1), 1);
	assert_int_equal(status_of(2).term, 9);
	assert_int_equal(status_of(2).vote, 2);
	cluster_free(&cl);
}

/* A node with no configuration (a joiner) never campaigns. */
static void
joiner_without_configuration_never_campaigns(void **state)
{
	(void) state;
	cluster_init(&cl, 2, 1, NULL);
	cluster_tick(&cl, 1, 100);
	assert_int_equal(status_of(1).elections, 0);
	assert_int_equal(status_of(1).role, RAFT_FOLLOWER);
	assert_int_equal(raft_campaign(cluster_raft(&cl, 1)), RAFT_EUNKNOWNNODE);
	cluster_free(&cl);
}

/* Election jitter comes from the seed: same seed, same timeouts. */
static void
s3_4_timeouts_are_seeded(void **state)
{
	unsigned	first[2];

	(void) state;
	for (unsigned run = 0; run < 2; run++)
	{
		unsigned	t = 0;

		cluster_init(&cl, 3, 3, NULL);
		while (status_of(1).elections == 0 && t < 100)
		{
			cluster_tick(&cl, 1, 1);
			t++;
		}
		first[run] = t;
		cluster_free(&cl);
	}
	assert_int_equal(first[0], first[1]);
	assert_in_range(first[0], 10, 19);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(s3_4_candidate_with_majority_becomes_leader),
		cmocka_unit_test(s3_4_election_timeout_elects_a_leader),
		cmocka_unit_test(s3_4_no_campaign_before_election_timeout),
		cmocka_unit_test(s3_4_vote_granted_once_per_term),
		cmocka_unit_test(s3_8_vote_persisted_before_answer),
		cmocka_unit_test(s3_6_1_up_to_date_check_refuses_stale_candidate),
		cmocka_unit_test(s3_3_higher_term_makes_leader_step_down),
		cmocka_unit_test(s3_4_single_voter_elects_itself),
		cmocka_unit_test(s9_6_prevote_does_not_disrupt_leader),
		cmocka_unit_test(s9_6_without_prevote_isolated_node_raises_term),
		cmocka_unit_test(s9_6_prevote_changes_no_state),
		cmocka_unit_test(s6_2_check_quorum_leader_steps_down),
		cmocka_unit_test(s6_2_check_quorum_leader_stays_with_majority),
		cmocka_unit_test(s4_2_3_lease_ignores_vote_requests),
		cmocka_unit_test(joiner_without_configuration_never_campaigns),
		cmocka_unit_test(s3_4_timeouts_are_seeded),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
