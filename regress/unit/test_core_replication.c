/*
 * regress/unit/test_core_replication.c — log replication (§3.5): the
 * consistency check, truncation of conflicting suffixes, fast back-off
 * (§5.3), a follower that lost acknowledged entries, heartbeats,
 * pipelining within the inflight window and batching by bytes (§10.2.1),
 * proposal forwarding, and how the commit index reaches the followers
 * (with the next entries, or alone when there are none).
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

/* Ticks until a leader other than old is elected; returns it. */
static unsigned
wait_new_leader(int old)
{
	for (unsigned t = 0; t < 100; t++)
	{
		int			l = cluster_leader(&cl);

		if (l >= 0 && l != old)
			return (unsigned) l;
		cluster_run(&cl, 1);
	}
	fail_msg("no new leader");
	return 0;
}

static const struct raft_message *
step_append(unsigned to, raft_id from, raft_term term, raft_index prev,
			raft_term prev_term, raft_index commit)
{
	struct raft_message m;

	memset(&m, 0, sizeof(m));
	m.type = RAFT_MSG_APPEND;
	m.from = from;
	m.to = to + 1;
	m.term = term;
	m.index = prev;
	m.log_term = prev_term;
	m.commit = commit;
	assert_int_equal(raft_step(cluster_raft(&cl, to), &m), RAFT_OK);
	cluster_process(&cl, to);
	return cluster_find_msg(&cl, RAFT_MSG_APPEND_RESP, (int) to, (int) from - 1);
}

/* §3.5: an entry stored on a majority is committed and applied everywhere. */
static void
s3_5_leader_replicates_and_commits(void **state)
{
	raft_index	index;

	(void) state;
	cluster_init(&cl, 3, 3, NULL);
	cluster_elect(&cl, 0);
	assert_int_equal(cluster_propose(&cl, 0, "a", &index), RAFT_OK);
	assert_int_equal(index, 3);
	cluster_stabilize(&cl);
	cluster_run(&cl, 1);		/* a heartbeat carries the commit index */
	for (unsigned i = 0; i < 3; i++)
	{
		assert_true(cluster_applied_text(&cl, i, "a"));
		assert_int_equal(status_of(i).commit, 3);
		assert_int_equal(cl.nodes[i].n_log, 3);
	}
	cluster_free(&cl);
}

/* §3.5: a follower refuses entries whose predecessor it does not have. */
static void
s3_5_consistency_check_rejects_missing_prev(void **state)
{
	const struct raft_message *resp;

	(void) state;
	cluster_init(&cl, 3, 3, NULL);
	resp = step_append(2, 1, 2, 5, 2, 0);
	assert_non_null(resp);
	assert_true(resp->reject);
	assert_int_equal(resp->index, 5);
	/* The hint is the follower's last index, 1, of term 1. */
	assert_int_equal(resp->reject_hint, 1);
	assert_int_equal(resp->hint_term, 1);
	cluster_drop_all(&cl);
	/* A matching predecessor is accepted. */
	resp = step_append(2, 1, 2, 1, 1, 0);
	assert_non_null(resp);
	assert_false(resp->reject);
	assert_int_equal(resp->index, 1);
	cluster_free(&cl);
}

/* §3.5: a follower's conflicting entries are replaced by the leader's. */
static void
s3_5_conflicting_suffix_is_truncated(void **state)
{
	unsigned	leader;

	(void) state;
	cluster_init(&cl, 3, 3, NULL);
	cluster_elect(&cl, 0);
	cluster_isolate(&cl, 0);
	assert_int_equal(cluster_propose(&cl, 0, "lost1", NULL), RAFT_OK);
	assert_int_equal(cluster_propose(&cl, 0, "lost2", NULL), RAFT_OK);
	cluster_stabilize(&cl);
	assert_int_equal(cl.nodes[0].n_log, 4);
	leader = wait_new_leader(0);
	assert_int_equal(cluster_propose(&cl, leader, "kept", NULL), RAFT_OK);
	cluster_stabilize(&cl);
	cluster_heal(&cl);
	cluster_run(&cl, 3);
	for (unsigned i = 0; i < 3; i++)
	{
		assert_true(cluster_applied_text(&cl, i, "kept"));
		assert_false(cluster_applied_text(&cl, i, "lost1"));
	}
	/* Node 1's disk now holds the new leader's entries at 3 and 4. */
	assert_int_equal(cl.nodes[0].n_log, cl.nodes[1].n_log);
	for (size_t k = 0; k < cl.nodes[0].n_log; k++)
		assert_int_equal(cl.nodes[0].log[k].term, cl.nodes[1].log[k].term);
	cluster_free(&cl);
}

/* §5.3: the hint is the last index whose term is <= the leader's prev term. */
static void
s5_3_reject_hint_skips_a_term(void **state)
{
	const struct raft_message *resp;

	(void) state;
	cluster_init(&cl, 3, 3, NULL);
	cluster_crash(&cl, 2);
	/* Log: 1/t1, then 2..6 of term 3. */
	for (unsigned k = 0; k < 5; k++)
		cluster_disk_append(&cl, 2, 3, RAFT_ENTRY_COMMAND, "t3");
	cluster_restart(&cl, 2);
	/* The leader (term 5) says prev is 6 of term 4: nothing of term 4 here. */
	resp = step_append(2, 1, 5, 6, 4, 0);
	assert_true(resp->reject);
	assert_int_equal(resp->reject_hint, 6);
	assert_int_equal(resp->hint_term, 3);
	cluster_drop_all(&cl);
	/* prev 6 of term 2: every term-3 entry is skipped at once. */
	resp = step_append(2, 1, 5, 6, 2, 0);
	assert_true(resp->reject);
	assert_int_equal(resp->reject_hint, 1);
	assert_int_equal(resp->hint_term, 1);
	cluster_free(&cl);
}

/* §5.3: a long divergent tail costs a round trip per term, not per entry. */
static void
s5_3_fast_backoff_needs_few_round_trips(void **state)
{
	size_t		rejections = 0;
	char		text[16];
	unsigned	leader;

	(void) state;
	cluster_init(&cl, 3, 3, NULL);
	cluster_elect(&cl, 0);
	cluster_isolate(&cl, 0);
	for (unsigned k = 0; k < 40; k++)
	{
		snprintf(text, sizeof(text), "old%u", k);
		assert_int_equal(cluster_propose(&cl, 0, text, NULL), RAFT_OK);
		cluster_process(&cl, 0);
	}
	cluster_drop_all(&cl);
	leader = wait_new_leader(0);
	for (unsigned k = 0; k < 40; k++)
	{
		snprintf(text, sizeof(text), "new%u", k);
		assert_int_equal(cluster_propose(&cl, leader, text, NULL), RAFT_OK);
		cluster_stabilize(&cl);
	}
	/*
	 * A restart forgets the progress: the next leader probes node 1 from
	 * its own last index (43), far beyond where the logs agree (2).
	 */
	cluster_crash(&cl, leader);
	cluster_restart(&cl, leader);
	wait_new_leader(0);
	cluster_heal(&cl);
	for (unsigned t = 0; t < 30; t++)
	{
		cluster_tick_all(&cl, 1);
		for (unsigned round = 0; round < 200 && cl.n_net > 0; round++)
		{
			for (size_t k = 0; k < cl.n_net; k++)
				if (cl.net[k].type == RAFT_MSG_APPEND_RESP && cl.net[k].reject &&
					cl.net[k].from == 1 && cl.net[k].term > 2)
					rejections++;
			cluster_deliver(&cl);
		}
	}
	assert_true(cluster_applied_text(&cl, 0, "new39"));
	assert_false(cluster_applied_text(&cl, 0, "old0"));
	assert_true(rejections >= 1);
	assert_true(rejections <= 4);
	cluster_free(&cl);
}

/*
 * A follower whose disk lost entries it had acknowledged (Raft assumes it
 * never does) is sent them again: the leader's probe at the old match is
 * rejected with the follower's shorter log, and the leader moves the
 * match back rather than probe there forever.  The commit index does not
 * move back.
 */
static void
follower_that_lost_acknowledged_entries_is_sent_them_again(void **state)
{
	char		text[16];
	raft_index	commit;

	(void) state;
	cluster_init(&cl, 3, 3, NULL);
	cluster_elect(&cl, 0);
	for (unsigned k = 0; k < 6; k++)
	{
		snprintf(text, sizeof(text), "a%u", k);
		assert_int_equal(cluster_propose(&cl, 0, text, NULL), RAFT_OK);
		cluster_stabilize(&cl);
	}
	commit = status_of(0).commit;
	assert_int_equal(cl.nodes[2].n_log, cl.nodes[0].n_log);

	cluster_crash(&cl, 2);
	cluster_disk_lose_tail(&cl, 2, 4);
	cluster_restart(&cl, 2);
	assert_int_equal(cl.nodes[2].n_log, cl.nodes[0].n_log - 4);

	assert_int_equal(cluster_propose(&cl, 0, "b", NULL), RAFT_OK);
	cluster_stabilize(&cl);
	cluster_run(&cl, 3);
	assert_int_equal(status_of(0).role, RAFT_LEADER);
	assert_true(status_of(0).commit > commit);
	assert_int_equal(cl.nodes[2].n_log, cl.nodes[0].n_log);
	assert_int_equal(status_of(2).commit, status_of(0).commit);
	assert_true(cluster_applied_text(&cl, 2, "a5"));
	assert_true(cluster_applied_text(&cl, 2, "b"));
	cluster_free(&cl);
}

/* §3.5: a heartbeat's commit never exceeds what the follower matches. */
static void
s3_5_heartbeat_commit_clamped_to_match(void **state)
{
	const struct raft_message *hb;

	(void) state;
	cluster_init(&cl, 3, 3, NULL);
	cluster_elect(&cl, 0);
	cluster_isolate(&cl, 2);
	assert_int_equal(cluster_propose(&cl, 0, "a", NULL), RAFT_OK);
	cluster_stabilize(&cl);
	assert_int_equal(status_of(0).commit, 3);
	cluster_tick(&cl, 0, 1);
	hb = cluster_find_msg(&cl, RAFT_MSG_HEARTBEAT, 0, 2);
	assert_non_null(hb);
	assert_int_equal(hb->commit, 2);
	hb = cluster_find_msg(&cl, RAFT_MSG_HEARTBEAT, 0, 1);
	assert_non_null(hb);
	assert_int_equal(hb->commit, 3);
	cluster_free(&cl);
}

/* §10.2.1: no more than max_inflight appends to a follower that is silent. */
static void
s10_2_1_pipelining_window_is_bounded(void **state)
{
	struct raft_options o;
	char		text[16];
	size_t		to_silent = 0,
				to_answering = 0;

	(void) state;
	cluster_default_options(&o);
	o.max_inflight = 3;
	cluster_init(&cl, 3, 3, &o);
	cluster_elect(&cl, 0);
	cluster_cut(&cl, 2, 0, true);	/* node 3's answers are lost */
	for (unsigned k = 0; k < 10; k++)
	{
		snprintf(text, sizeof(text), "p%u", k);
		assert_int_equal(cluster_propose(&cl, 0, text, NULL), RAFT_OK);
		cluster_process(&cl, 0);
		to_silent += cluster_count_msgs(&cl, RAFT_MSG_APPEND, 0, 2);
		to_answering += cluster_count_msgs(&cl, RAFT_MSG_APPEND, 0, 1);
		cluster_stabilize(&cl);
	}
	/* Several messages in flight at once (pipelined), but at most 3. */
	assert_int_equal(to_silent, 3);
	assert_int_equal(to_answering, 10);
	assert_true(cluster_applied_text(&cl, 0, "p9"));
	cluster_heal(&cl);
	cluster_run(&cl, 3);
	assert_true(cluster_applied_text(&cl, 2, "p9"));
	cluster_free(&cl);
}

/* Proposals made between two readies go out together, max_msg_bytes each. */
static void
s10_2_1_proposals_are_batched_by_bytes(void **state)
{
	struct raft_options o;
	char		text[40];
	size_t		msgs = 0;
	size_t		entries = 0;

	(void) state;
	cluster_default_options(&o);
	o.max_msg_bytes = 100;
	cluster_init(&cl, 3, 3, &o);
	cluster_elect(&cl, 0);
	for (unsigned k = 0; k < 10; k++)
	{
		snprintf(text, sizeof(text), "proposal-%02u-xxxxxxxxxxxxxxxxxxxx", k);
		assert_int_equal(strlen(text), 32);
		assert_int_equal(cluster_propose(&cl, 0, text, NULL), RAFT_OK);
	}
	cluster_process(&cl, 0);
	for (size_t k = 0; k < cl.n_net; k++)
	{
		const struct raft_message *m = &cl.net[k];
		size_t		bytes = 0;

		if (m->type != RAFT_MSG_APPEND || m->to != 2)
			continue;
		msgs++;
		entries += m->n_entries;
		for (uint32_t e = 0; e < m->n_entries; e++)
			bytes += m->entries[e].data.len;
		assert_true(bytes <= 100);
		assert_int_equal(m->n_entries, 3 - (entries > 9 ? 2 : 0));
	}
	assert_int_equal(entries, 10);
	assert_int_equal(msgs, 4);
	cluster_stabilize(&cl);
	cluster_run(&cl, 1);
	assert_true(cluster_applied_text(&cl, 1, "proposal-09-xxxxxxxxxxxxxxxxxxxx"));
	cluster_free(&cl);
}

/* A follower forwards a proposal to the leader (RAFT_MSG_PROPOSE). */
static void
proposal_forwarded_from_follower(void **state)
{
	raft_index	index = 99;

	(void) state;
	cluster_init(&cl, 3, 3, NULL);
	cluster_elect(&cl, 0);
	assert_int_equal(cluster_propose(&cl, 2, "from-follower", &index), RAFT_OK);
	assert_int_equal(index, 0);
	cluster_process(&cl, 2);
	assert_int_equal(cluster_count_msgs(&cl, RAFT_MSG_PROPOSE, 2, 0), 1);
	cluster_stabilize(&cl);
	cluster_run(&cl, 1);
	for (unsigned i = 0; i < 3; i++)
		assert_true(cluster_applied_text(&cl, i, "from-follower"));
	cluster_free(&cl);
}

/* Without a known leader a proposal is refused at once. */
static void
proposal_without_leader_refused(void **state)
{
	(void) state;
	cluster_init(&cl, 3, 3, NULL);
	assert_int_equal(cluster_propose(&cl, 1, "x", NULL), RAFT_ENOLEADER);
	assert_int_equal(raft_propose(cluster_raft(&cl, 1), NULL, RAFT_MAX_ENTRY_BYTES + 1, NULL),
					 RAFT_ETOOBIG);
	cluster_free(&cl);
}

/* max_uncommitted_bytes bounds what a leader accepts before commit. */
static void
uncommitted_bytes_bounded(void **state)
{
	struct raft_options o;
	int			rv = RAFT_OK;
	unsigned	accepted = 0;

	(void) state;
	cluster_default_options(&o);
	o.max_uncommitted_bytes = 64;
	cluster_init(&cl, 3, 3, &o);
	cluster_elect(&cl, 0);
	cluster_isolate(&cl, 0);
	for (unsigned k = 0; k < 10 && rv == RAFT_OK; k++)
	{
		rv = cluster_propose(&cl, 0, "0123456789abcdef", NULL);
		if (rv == RAFT_OK)
			accepted++;
	}
	assert_int_equal(rv, RAFT_EFULL);
	assert_int_equal(accepted, 4);
	cluster_free(&cl);
}

/* A stale leader's append is answered with the newer term (it steps down). */
static void
s3_3_stale_leader_learns_newer_term(void **state)
{
	const struct raft_message *resp;
	unsigned	leader;

	(void) state;
	cluster_init(&cl, 3, 3, NULL);
	cluster_elect(&cl, 0);
	cluster_isolate(&cl, 0);
	leader = wait_new_leader(0);
	cluster_isolate(&cl, 0);
	assert_int_equal(status_of(2).term, status_of(leader).term);
	assert_true(status_of(2).term > 2);
	resp = step_append(2, 1, 2, 2, 2, 2);
	assert_non_null(resp);
	assert_int_equal(resp->term, status_of(leader).term);
	cluster_heal(&cl);
	cluster_stabilize(&cl);
	assert_int_equal(status_of(0).role, RAFT_FOLLOWER);
	assert_int_equal(status_of(0).term, status_of(leader).term);
	cluster_free(&cl);
}

/* The host reports a peer unreachable: stop pipelining, probe instead. */
static void
unreachable_peer_goes_back_to_probing(void **state)
{
	struct raft_status st;

	(void) state;
	cluster_init(&cl, 3, 3, NULL);
	cluster_elect(&cl, 0);
	st = status_of(0);
	assert_int_equal(st.progress[1].state, RAFT_PROGRESS_REPLICATE);
	raft_report_unreachable(cluster_raft(&cl, 0), 2);
	st = status_of(0);
	assert_int_equal(st.progress[1].state, RAFT_PROGRESS_PROBE);
	assert_int_equal(st.progress[1].next, st.progress[1].match + 1);
	assert_int_equal(cluster_propose(&cl, 0, "x", NULL), RAFT_OK);
	cluster_stabilize(&cl);
	st = status_of(0);
	assert_int_equal(st.progress[1].state, RAFT_PROGRESS_REPLICATE);
	assert_int_equal(st.progress[1].match, 3);
	cluster_free(&cl);
}

/*
 * Steps into the leader (node 0) every answer in flight to it, without
 * letting it make a ready: what the worker does when messages arrive in the
 * same loop pass as new proposals.
 */
static void
leader_takes_answers(void)
{
	for (size_t k = 0; k < cl.n_net; k++)
		if (cl.net[k].type == RAFT_MSG_APPEND_RESP && cl.net[k].to == 1)
			assert_int_equal(raft_step(cluster_raft(&cl, 0), &cl.net[k]), RAFT_OK);
	cluster_drop_msgs(&cl, RAFT_MSG_APPEND_RESP, -1, 0);
}

/*
 * A cluster whose leader (node 0) has just committed "a" from its
 * followers' answers, without a ready since; returns a's index.
 */
static raft_index
leader_commits_a(void)
{
	raft_index	a;

	cluster_init(&cl, 3, 3, NULL);
	cluster_elect(&cl, 0);
	cluster_stabilize(&cl);
	assert_int_equal(cluster_propose(&cl, 0, "a", &a), RAFT_OK);
	cluster_process(&cl, 0);
	assert_int_equal(cluster_count_msgs(&cl, RAFT_MSG_APPEND, 0, -1), 2);
	cluster_deliver(&cl);		/* the followers store "a" and answer */
	assert_int_equal(cluster_count_msgs(&cl, RAFT_MSG_APPEND_RESP, -1, 0), 2);
	leader_takes_answers();
	assert_int_equal(status_of(0).commit, a);
	return a;
}

/*
 * Each follower has exactly one append from the leader in flight, with
 * n_entries entries (the first at index first) and commit index commit.
 */
static void
assert_one_append_each(uint32_t n_entries, raft_index first, raft_index commit)
{
	for (int f = 1; f <= 2; f++)
	{
		const struct raft_message *m = cluster_find_msg(&cl, RAFT_MSG_APPEND, 0, f);

		assert_int_equal(cluster_count_msgs(&cl, RAFT_MSG_APPEND, 0, f), 1);
		assert_non_null(m);
		assert_int_equal(m->n_entries, n_entries);
		if (n_entries > 0)
			assert_int_equal(m->entries[0].index, first);
		assert_int_equal(m->commit, commit);
	}
}

/*
 * The commit index that a quorum's answers advance rides on the append of
 * the entries proposed meanwhile: one message per follower, not a
 * commit-only append followed by the entries.
 */
static void
commit_index_rides_on_the_next_append(void **state)
{
	raft_index	a,
				b;

	(void) state;
	a = leader_commits_a();
	assert_int_equal(cluster_propose(&cl, 0, "b", &b), RAFT_OK);
	cluster_process(&cl, 0);
	assert_one_append_each(1, b, a);
	cluster_stabilize(&cl);
	for (unsigned i = 0; i < 3; i++)
		assert_true(cluster_applied_text(&cl, i, "a"));
	cluster_free(&cl);
}

/*
 * With nothing new to send, the commit index still goes out at once, in an
 * empty append, so that followers apply without waiting for a heartbeat;
 * and only once: a follower told already gets nothing more.
 */
static void
commit_index_sent_alone_when_nothing_is_new(void **state)
{
	raft_index	a;

	(void) state;
	a = leader_commits_a();
	cluster_process(&cl, 0);
	assert_one_append_each(0, 0, a);
	/* delivered without any tick: no heartbeat helps */
	cluster_stabilize(&cl);
	for (unsigned i = 0; i < 3; i++)
	{
		assert_true(cluster_applied_text(&cl, i, "a"));
		assert_int_equal(status_of(i).commit, a);
	}
	/* the answers to those empty appends move nothing: no more messages */
	assert_false(raft_has_ready(cluster_raft(&cl, 0)));
	assert_int_equal(cluster_count_msgs(&cl, -1, -1, -1), 0);
	cluster_free(&cl);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(s3_5_leader_replicates_and_commits),
		cmocka_unit_test(s3_5_consistency_check_rejects_missing_prev),
		cmocka_unit_test(s3_5_conflicting_suffix_is_truncated),
		cmocka_unit_test(s5_3_reject_hint_skips_a_term),
		cmocka_unit_test(s5_3_fast_backoff_needs_few_round_trips),
		cmocka_unit_test(s3_5_heartbeat_commit_clamped_to_match),
		cmocka_unit_test(s10_2_1_pipelining_window_is_bounded),
		cmocka_unit_test(s10_2_1_proposals_are_batched_by_bytes),
		cmocka_unit_test(proposal_forwarded_from_follower),
		cmocka_unit_test(proposal_without_leader_refused),
		cmocka_unit_test(uncommitted_bytes_bounded),
		cmocka_unit_test(s3_3_stale_leader_learns_newer_term),
		cmocka_unit_test(follower_that_lost_acknowledged_entries_is_sent_them_again),
		cmocka_unit_test(unreachable_peer_goes_back_to_probing),
		cmocka_unit_test(commit_index_rides_on_the_next_append),
		cmocka_unit_test(commit_index_sent_alone_when_nothing_is_new),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
