/*
 * regress/unit/test_core_durability.c — what a host may do before its
 * writes are durable (raft.h's loop; Raft dissertation §3.8, §10.2.1):
 * the leader's AppendEntries leave while its own write is in flight, and
 * the leader counts itself towards commit only at raft_advance;
 * acknowledgements and votes wait for the sync (raft_message_waits_for_sync);
 * the commit index need not be durable: a node restarted with a stale (or
 * impossible) commit clamps it and re-learns it, and hands out nothing
 * below its snapshot again.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "lib/cluster.h"

static struct test_cluster cl;

#define status_of(i) cluster_status_of(&cl, (i))

/* Steps every message of rd from the leader into node "to" (index). */
static void
deliver_early(const struct raft_ready *rd, unsigned to)
{
	for (uint32_t k = 0; k < rd->n_messages; k++)
		if (rd->messages[k].to == to + 1)
		{
			assert_false(raft_message_waits_for_sync(&rd->messages[k]));
			assert_int_equal(raft_step(cluster_raft(&cl, to), &rd->messages[k]),
							 RAFT_OK);
		}
}

/*
 * Steps node from's answers into the leader (node 0) only: unlike
 * cluster_deliver, this does not carry out the leader's ready.
 */
static void
answers_to_leader(unsigned from)
{
	const struct raft_message *m;

	while ((m = cluster_find_msg(&cl, RAFT_MSG_APPEND_RESP, (int) from, 0)) != NULL)
	{
		struct raft_message copy = *m;

		assert_true(raft_message_waits_for_sync(&copy));
		assert_int_equal(raft_step(cluster_raft(&cl, 0), &copy), RAFT_OK);
		cluster_drop_msgs(&cl, RAFT_MSG_APPEND_RESP, (int) from, 0);
	}
}

/*
 * §10.2.1: the leader sends AppendEntries before its own write is durable;
 * a follower's acknowledgement alone is not a majority of three, the
 * leader's durable write (raft_advance) makes it one.
 */
static void
s10_2_1_leader_sends_before_its_write_and_counts_itself_after(void **state)
{
	struct raft *leader;
	struct raft_ready rd;
	raft_index	index;

	(void) state;
	cluster_init(&cl, 3, 3, NULL);
	cluster_elect(&cl, 0);
	cluster_isolate(&cl, 2);
	leader = cluster_raft(&cl, 0);
	assert_int_equal(cluster_propose(&cl, 0, "early", &index), RAFT_OK);
	raft_ready(leader, &rd);
	assert_int_equal(rd.n_entries, 1);
	assert_int_equal(rd.entries[0].index, index);

	/* The appends leave now, the follower persists and answers. */
	deliver_early(&rd, 1);
	cluster_process(&cl, 1);
	assert_int_equal(cluster_count_msgs(&cl, RAFT_MSG_APPEND_RESP, 1, 0), 1);
	answers_to_leader(1);
	assert_int_equal(status_of(0).commit, index - 1);
	assert_int_equal(status_of(0).progress[0].match, index - 1);

	/* The leader's write is durable: now it is counted. */
	raft_advance(leader, &rd);
	assert_int_equal(status_of(0).commit, index);
	cluster_stabilize(&cl);
	assert_true(cluster_applied_text(&cl, 0, "early"));
	assert_true(cluster_applied_text(&cl, 1, "early"));
	cluster_free(&cl);
}

/*
 * §10.2.1: a majority of followers commits without the leader's own
 * write (three of five); the leader's disk is only one of the copies.
 */
static void
s10_2_1_followers_alone_can_commit_while_the_leader_writes(void **state)
{
	struct raft *leader;
	struct raft_ready rd;
	raft_index	index;

	(void) state;
	cluster_init(&cl, 5, 5, NULL);
	cluster_elect(&cl, 0);
	leader = cluster_raft(&cl, 0);
	assert_int_equal(cluster_propose(&cl, 0, "x", &index), RAFT_OK);
	raft_ready(leader, &rd);
	for (unsigned f = 1; f <= 2; f++)
	{
		deliver_early(&rd, f);
		cluster_process(&cl, f);
		answers_to_leader(f);
	}
	/* Two followers and a leader that is still writing: no majority. */
	assert_int_equal(status_of(0).commit, index - 1);
	deliver_early(&rd, 3);
	cluster_process(&cl, 3);
	answers_to_leader(3);
	/* Three followers are a majority of five. */
	assert_int_equal(status_of(0).commit, index);
	raft_advance(leader, &rd);
	cluster_stabilize(&cl);
	assert_true(cluster_applied_text(&cl, 0, "x"));
	cluster_free(&cl);
}

/* §3.8: which messages depend on the ready's writes. */
static void
s3_8_acknowledgements_and_votes_wait_for_the_sync(void **state)
{
	struct raft_message m;
	struct raft_ready rd;
	struct raft *f;
	struct raft_options opt;
	int			waits[RAFT_MSG_TYPE_MAX + 1] = {0};

	(void) state;
	cluster_default_options(&opt);
	opt.pre_vote = false;		/* a campaign asks for votes at once */
	waits[RAFT_MSG_APPEND_RESP] = 1;
	waits[RAFT_MSG_VOTE] = 1;
	waits[RAFT_MSG_VOTE_RESP] = 1;
	memset(&m, 0, sizeof(m));
	for (int t = 1; t <= RAFT_MSG_TYPE_MAX; t++)
	{
		m.type = (uint8_t) t;
		assert_int_equal(raft_message_waits_for_sync(&m), waits[t]);
	}

	/* A follower's answer to entries is one that waits. */
	cluster_init(&cl, 3, 3, &opt);
	cluster_elect(&cl, 0);
	assert_int_equal(cluster_propose(&cl, 0, "y", NULL), RAFT_OK);
	cluster_process(&cl, 0);
	f = cluster_raft(&cl, 1);
	assert_int_equal(raft_step(f, cluster_find_msg(&cl, RAFT_MSG_APPEND, 0, 1)),
					 RAFT_OK);
	raft_ready(f, &rd);
	assert_true(rd.n_entries > 0);
	for (uint32_t k = 0; k < rd.n_messages; k++)
		if (rd.messages[k].type == RAFT_MSG_APPEND_RESP)
			assert_true(raft_message_waits_for_sync(&rd.messages[k]));
	raft_advance(f, &rd);

	/* A campaign's vote requests come with the term and vote to save. */
	assert_int_equal(raft_campaign(cluster_raft(&cl, 2)), RAFT_OK);
	raft_ready(cluster_raft(&cl, 2), &rd);
	assert_true(rd.hard_state_changed);
	assert_int_equal(rd.hard_state.vote, 3);
	for (uint32_t k = 0; k < rd.n_messages; k++)
		if (rd.messages[k].type == RAFT_MSG_VOTE)
			assert_true(raft_message_waits_for_sync(&rd.messages[k]));
	raft_advance(cluster_raft(&cl, 2), &rd);
	cluster_free(&cl);
}

/*
 * §3.8: commit need not be durable.  A follower restarted with the commit
 * of long ago (the host saved the hard state only when term or vote
 * changed) re-learns it from the leader and applies every entry once.
 */
static void
s3_8_stale_commit_is_relearned_after_a_restart(void **state)
{
	raft_index	index;

	(void) state;
	cluster_init(&cl, 3, 3, NULL);
	cluster_elect(&cl, 0);
	assert_int_equal(cluster_propose(&cl, 0, "a", NULL), RAFT_OK);
	assert_int_equal(cluster_propose(&cl, 0, "b", &index), RAFT_OK);
	cluster_stabilize(&cl);
	cluster_run(&cl, 2);
	assert_int_equal(status_of(1).commit, index);

	cluster_crash(&cl, 1);
	cl.nodes[1].hs.commit = 1;	/* as of the bootstrap */
	cluster_restart(&cl, 1);
	assert_int_equal(status_of(1).commit, 1);
	cluster_run(&cl, 3);
	assert_int_equal(status_of(1).commit, index);
	assert_true(cluster_applied_text(&cl, 1, "a"));
	assert_true(cluster_applied_text(&cl, 1, "b"));
	assert_int_equal(cl.nodes[1].applied, index);
	cluster_free(&cl);
}

/* raft_load clamps a commit beyond the log, and one below the snapshot. */
static void
s3_8_load_clamps_commit_to_the_log(void **state)
{
	struct raft_options opt;
	struct raft_hard_state hs = {4, 1, 99};
	struct raft_entry e[2];
	struct raft_snapshot snap;
	struct raft_status st;
	struct raft *r;

	(void) state;
	cluster_default_options(&opt);
	opt.id = 1;
	memset(e, 0, sizeof(e));
	memset(&snap, 0, sizeof(snap));
	snap.index = 5;
	snap.term = 2;
	snap.config.n = 1;
	snap.config.members[0].id = 1;
	snap.config.members[0].flags = RAFT_VOTER_NEW;
	e[0].index = 6;
	e[0].term = 3;
	e[0].type = RAFT_ENTRY_NOOP;
	e[1].index = 7;
	e[1].term = 3;
	e[1].type = RAFT_ENTRY_NOOP;

	r = raft_new(&opt);
	assert_non_null(r);
	assert_int_equal(raft_load(r, &hs, &snap, e, 2), RAFT_OK);
	raft_get_status(r, &st);
	assert_int_equal(st.commit, 7);
	assert_int_equal(st.applied, 5);
	raft_free(r);

	hs.commit = 0;
	r = raft_new(&opt);
	assert_int_equal(raft_load(r, &hs, &snap, e, 2), RAFT_OK);
	raft_get_status(r, &st);
	assert_int_equal(st.commit, 5);
	raft_free(r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(s10_2_1_leader_sends_before_its_write_and_counts_itself_after),
		cmocka_unit_test(s10_2_1_followers_alone_can_commit_while_the_leader_writes),
		cmocka_unit_test(s3_8_acknowledgements_and_votes_wait_for_the_sync),
		cmocka_unit_test(s3_8_stale_commit_is_relearned_after_a_restart),
		cmocka_unit_test(s3_8_load_clamps_commit_to_the_log),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
