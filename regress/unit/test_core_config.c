/*
 * regress/unit/test_core_config.c — membership changes (§4): joint
 * consensus (§4.3) for changes of the voters, one entry for learners, the
 * latest configuration in the log in force at once (§4.1) and reverted on
 * truncation, one change at a time, removal of the leader (§4.2.2).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "lib/cluster.h"

static struct test_cluster cl;

/* the status of node i of this file's cluster */
#define status_of(i) cluster_status_of(&cl, (i))

static bool
has_member(unsigned i, raft_id id)
{
	struct raft_status st = status_of(i);

	return raft_config_find(&st.config, id) != NULL;
}

static int
change(unsigned leader, uint8_t kind, raft_id id, raft_index *index)
{
	struct raft_change ch;

	memset(&ch, 0, sizeof(ch));
	ch.kind = kind;
	ch.id = id;
	snprintf(ch.addr, sizeof(ch.addr), "127.0.0.%llu:5432", (unsigned long long) id);
	return raft_change_config(cluster_raft(&cl, leader), &ch, 1, index);
}

static uint8_t
flags_of(const struct raft_config *c, raft_id id)
{
	const struct raft_member *m = raft_config_find(c, id);

	assert_non_null(m);
	return m->flags;
}

/* A learner takes one entry; it gets the log but does not vote. */
static void
s4_2_1_add_learner_in_one_entry(void **state)
{
	raft_index	index;
	struct raft_status st;

	(void) state;
	cluster_init(&cl, 4, 3, NULL);
	cluster_elect(&cl, 0);
	assert_int_equal(change(0, RAFT_CHANGE_ADD_LEARNER, 4, &index), RAFT_OK);
	assert_int_equal(index, 3);
	st = status_of(0);
	assert_false(st.config.joint);
	assert_int_equal(st.config.n, 4);
	assert_int_equal(flags_of(&st.config, 4), 0);
	assert_true(st.config_pending);
	assert_int_equal(cluster_propose(&cl, 0, "a", NULL), RAFT_OK);
	cluster_stabilize(&cl);
	cluster_run(&cl, 2);
	assert_false(status_of(0).config_pending);
	/* The joiner learned the log, configuration included. */
	assert_true(cluster_applied_text(&cl, 3, "a"));
	assert_int_equal(status_of(3).config.n, 4);
	assert_int_equal(status_of(3).last_index, status_of(0).last_index);
	/* A learner never campaigns. */
	cluster_isolate(&cl, 3);
	cluster_tick(&cl, 3, 100);
	assert_int_equal(status_of(3).elections, 0);
	cluster_free(&cl);
}

/* §4.3: promoting a learner goes through C_old,new, then C_new. */
static void
s4_3_promote_learner_through_joint_configuration(void **state)
{
	raft_index	index;
	struct raft_status st;

	(void) state;
	cluster_init(&cl, 4, 3, NULL);
	cluster_elect(&cl, 0);
	assert_int_equal(change(0, RAFT_CHANGE_ADD_LEARNER, 4, NULL), RAFT_OK);
	cluster_stabilize(&cl);
	cluster_run(&cl, 1);
	assert_int_equal(change(0, RAFT_CHANGE_PROMOTE, 4, &index), RAFT_OK);
	st = status_of(0);
	assert_true(st.config.joint);
	assert_int_equal(flags_of(&st.config, 1), RAFT_VOTER_OLD | RAFT_VOTER_NEW);
	assert_int_equal(flags_of(&st.config, 4), RAFT_VOTER_NEW);
	assert_true(raft_config_is_voter(&st.config, 4));
	cluster_stabilize(&cl);
	cluster_run(&cl, 2);
	/* The leader appended the leave entry by itself once joint committed. */
	st = status_of(0);
	assert_false(st.config.joint);
	assert_int_equal(st.last_index, index + 1);
	assert_int_equal(flags_of(&st.config, 4), RAFT_VOTER_NEW);
	assert_false(st.config_pending);
	for (unsigned i = 1; i < 4; i++)
		assert_false(status_of(i).config.joint);
	cluster_free(&cl);
}

/* §4.3: in C_old,new, a decision needs a majority of each. */
static void
s4_3_joint_needs_both_majorities(void **state)
{
	raft_index	index;

	(void) state;
	cluster_init(&cl, 5, 3, NULL);
	cluster_elect(&cl, 0);
	{
		struct raft_change ch[2];

		memset(ch, 0, sizeof(ch));
		ch[0].kind = RAFT_CHANGE_ADD_VOTER;
		ch[0].id = 4;
		ch[1].kind = RAFT_CHANGE_ADD_VOTER;
		ch[1].id = 5;
		assert_int_equal(raft_change_config(cluster_raft(&cl, 0), ch, 2, &index),
						 RAFT_OK);
	}
	/* C_old = {1,2,3} agrees (1, 2), C_new = {1..5} does not (1, 2 of 5). */
	cluster_isolate(&cl, 2);
	cluster_isolate(&cl, 3);
	cluster_isolate(&cl, 4);
	cluster_stabilize(&cl);
	cluster_run(&cl, 2);
	assert_true(status_of(0).commit < index);
	/* With 4 joining, C_new has 1, 2, 4 of 5. */
	cluster_heal(&cl);
	cluster_isolate(&cl, 2);
	cluster_isolate(&cl, 4);
	cluster_run(&cl, 3);
	assert_true(status_of(0).commit >= index);
	cluster_free(&cl);
}

/* One change at a time: RAFT_EBUSY until the previous one is finished. */
static void
s4_3_one_change_at_a_time(void **state)
{
	(void) state;
	cluster_init(&cl, 5, 3, NULL);
	cluster_elect(&cl, 0);
	assert_int_equal(change(0, RAFT_CHANGE_ADD_VOTER, 4, NULL), RAFT_OK);
	assert_int_equal(change(0, RAFT_CHANGE_ADD_LEARNER, 5, NULL), RAFT_EBUSY);
	cluster_stabilize(&cl);
	cluster_run(&cl, 2);
	assert_false(status_of(0).config.joint);
	assert_int_equal(change(0, RAFT_CHANGE_ADD_LEARNER, 5, NULL), RAFT_OK);
	cluster_free(&cl);
}

static void
s4_config_change_errors(void **state)
{
	(void) state;
	cluster_init(&cl, 3, 3, NULL);
	cluster_elect(&cl, 0);
	assert_int_equal(change(1, RAFT_CHANGE_ADD_LEARNER, 4, NULL), RAFT_ENOTLEADER);
	assert_int_equal(change(0, RAFT_CHANGE_ADD_VOTER, 2, NULL), RAFT_EDUPLICATE);
	assert_int_equal(change(0, RAFT_CHANGE_REMOVE, 9, NULL), RAFT_EUNKNOWNNODE);
	assert_int_equal(change(0, RAFT_CHANGE_PROMOTE, 9, NULL), RAFT_EUNKNOWNNODE);
	assert_int_equal(change(0, 77, 4, NULL), RAFT_EINVAL);
	{
		struct raft_change ch[RAFT_MAX_MEMBERS];

		memset(ch, 0, sizeof(ch));
		for (unsigned k = 0; k < RAFT_MAX_MEMBERS; k++)
		{
			ch[k].kind = RAFT_CHANGE_ADD_LEARNER;
			ch[k].id = 10 + k;
		}
		assert_int_equal(raft_change_config(cluster_raft(&cl, 0), ch,
											RAFT_MAX_MEMBERS, NULL), RAFT_ETOOMANY);
	}
	cluster_free(&cl);
}

/* The last voter cannot be removed. */
static void
s4_remove_last_voter_refused(void **state)
{
	(void) state;
	cluster_init(&cl, 1, 1, NULL);
	cluster_elect(&cl, 0);
	assert_int_equal(change(0, RAFT_CHANGE_REMOVE, 1, NULL), RAFT_EQUORUM);
	cluster_free(&cl);
}

/*
 * §4.2.2: a leader removed from the configuration manages the change, steps
 * down once C_new is committed, and never campaigns again.
 */
static void
s4_2_2_removed_leader_steps_down_after_commit(void **state)
{
	int			leader = -1;
	uint64_t	elections;

	(void) state;
	cluster_init(&cl, 3, 3, NULL);
	cluster_elect(&cl, 0);
	elections = status_of(0).elections;
	assert_int_equal(change(0, RAFT_CHANGE_REMOVE, 1, NULL), RAFT_OK);
	assert_true(status_of(0).config.joint);
	assert_int_equal(status_of(0).role, RAFT_LEADER);
	cluster_stabilize(&cl);
	cluster_run(&cl, 2);
	assert_int_equal(status_of(0).role, RAFT_FOLLOWER);
	assert_false(status_of(0).config.joint);
	assert_false(has_member(0, 1));
	for (unsigned t = 0; t < 60 && leader < 1; t++)
	{
		cluster_run(&cl, 1);
		leader = cluster_leader(&cl);
	}
	assert_true(leader == 1 || leader == 2);
	assert_false(has_member((unsigned) leader, 1));
	assert_int_equal(status_of(0).elections, elections);
	cluster_free(&cl);
}

/*
 * §4.1: a configuration is used as soon as it is appended, committed or
 * not; if its entry is truncated, the previous one is back in force.
 */
static void
s4_1_uncommitted_config_reverted_on_truncation(void **state)
{
	int			leader = -1;

	(void) state;
	cluster_init(&cl, 5, 5, NULL);
	cluster_elect(&cl, 0);
	cluster_cut(&cl, 0, 2, true);
	cluster_cut(&cl, 0, 3, true);
	cluster_cut(&cl, 0, 4, true);
	assert_int_equal(change(0, RAFT_CHANGE_ADD_LEARNER, 6, NULL), RAFT_OK);
	cluster_stabilize(&cl);
	/* Node 2 has the entry (uncommitted) and uses it already. */
	assert_int_equal(status_of(1).config.n, 6);
	assert_int_equal(status_of(0).commit, 2);
	cluster_isolate(&cl, 0);
	cluster_isolate(&cl, 1);
	for (unsigned t = 0; t < 80 && leader < 2; t++)
	{
		cluster_run(&cl, 1);
		leader = cluster_leader(&cl);
	}
	assert_true(leader >= 2);
	assert_int_equal(cluster_propose(&cl, (unsigned) leader, "new", NULL), RAFT_OK);
	cluster_stabilize(&cl);
	cluster_heal(&cl);
	cluster_run(&cl, 5);
	assert_true(cluster_applied_text(&cl, 1, "new"));
	assert_int_equal(status_of(1).config.n, 5);
	assert_int_equal(status_of(0).config.n, 5);
	assert_false(has_member(1, 6));
	cluster_free(&cl);
}

/*
 * §4.2.2, Figure 4.6: a voter removed by a configuration that is not
 * committed yet may hold the only log the others accept; it campaigns,
 * leads without counting itself, commits the change, steps down, and
 * campaigns no more.
 */
static void
s4_2_2_removed_server_still_needed_until_commit(void **state)
{
	int			leader = -1;
	uint64_t	elections;
	struct raft_status st;

	(void) state;
	cluster_init(&cl, 2, 2, NULL);
	assert_int_equal(cluster_elect(&cl, 1), 1);
	assert_int_equal(change(1, RAFT_CHANGE_REMOVE, 2, NULL), RAFT_OK);
	/* Joint commits; the leave entry must not reach node 1. */
	for (unsigned k = 0; k < 10; k++)
	{
		cluster_process_all(&cl);
		if (!status_of(1).config.joint)
			cluster_cut(&cl, 1, 0, true);
		cluster_deliver(&cl);
	}
	st = status_of(1);
	assert_false(st.config.joint);
	assert_true(st.config_pending);
	assert_true(status_of(0).config.joint);
	cluster_crash(&cl, 1);
	cluster_restart(&cl, 1);
	cluster_heal(&cl);
	for (unsigned t = 0; t < 100; t++)
	{
		cluster_run(&cl, 1);
		leader = cluster_leader(&cl);
		if (leader == 0 && !status_of(0).config.joint)
			break;
	}
	assert_int_equal(leader, 0);
	st = status_of(0);
	assert_false(st.config.joint);
	assert_int_equal(st.config.n, 1);
	/* Node 2 knows the change is committed: it campaigns no more. */
	elections = status_of(1).elections;
	assert_true(elections > 0);
	cluster_isolate(&cl, 1);
	cluster_run(&cl, 60);
	assert_int_equal(status_of(1).elections, elections);
	cluster_free(&cl);
}

/* A learner's copy does not count towards a majority. */
static void
s4_2_1_learner_does_not_count_for_commit(void **state)
{
	raft_index	index;

	(void) state;
	cluster_init(&cl, 4, 3, NULL);
	cluster_elect(&cl, 0);
	assert_int_equal(change(0, RAFT_CHANGE_ADD_LEARNER, 4, NULL), RAFT_OK);
	cluster_stabilize(&cl);
	cluster_run(&cl, 2);
	cluster_isolate(&cl, 1);
	cluster_isolate(&cl, 2);
	assert_int_equal(cluster_propose(&cl, 0, "x", &index), RAFT_OK);
	cluster_stabilize(&cl);
	cluster_run(&cl, 2);
	/* Leader and learner have it: 1 of 3 voters. */
	assert_int_equal(status_of(3).last_index, index);
	assert_true(status_of(0).commit < index);
	cluster_free(&cl);
}

/* Adding as a voter a member that is a learner promotes it. */
static void
s4_3_add_voter_of_learner_promotes(void **state)
{
	struct raft_status st;

	(void) state;
	cluster_init(&cl, 4, 3, NULL);
	cluster_elect(&cl, 0);
	assert_int_equal(change(0, RAFT_CHANGE_ADD_LEARNER, 4, NULL), RAFT_OK);
	cluster_stabilize(&cl);
	cluster_run(&cl, 2);
	assert_int_equal(change(0, RAFT_CHANGE_ADD_VOTER, 4, NULL), RAFT_OK);
	assert_true(status_of(0).config.joint);
	cluster_stabilize(&cl);
	cluster_run(&cl, 2);
	st = status_of(3);
	assert_false(st.config.joint);
	assert_true(raft_config_is_voter(&st.config, 4));
	assert_int_equal(change(0, RAFT_CHANGE_PROMOTE, 4, NULL), RAFT_EDUPLICATE);
	cluster_free(&cl);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(s4_2_1_add_learner_in_one_entry),
		cmocka_unit_test(s4_3_promote_learner_through_joint_configuration),
		cmocka_unit_test(s4_3_joint_needs_both_majorities),
		cmocka_unit_test(s4_3_one_change_at_a_time),
		cmocka_unit_test(s4_config_change_errors),
		cmocka_unit_test(s4_remove_last_voter_refused),
		cmocka_unit_test(s4_2_2_removed_leader_steps_down_after_commit),
		cmocka_unit_test(s4_1_uncommitted_config_reverted_on_truncation),
		cmocka_unit_test(s4_2_2_removed_server_still_needed_until_commit),
		cmocka_unit_test(s4_2_1_learner_does_not_count_for_commit),
		cmocka_unit_test(s4_3_add_voter_of_learner_promotes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
