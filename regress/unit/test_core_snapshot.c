/*
 * regress/unit/test_core_snapshot.c — log compaction and InstallSnapshot
 * (§5): raft_compact, a snapshot sent to a follower that needs compacted
 * entries, the follower's restore through its ready, failure reports and a
 * restart from a snapshot.
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

static void
propose_n(unsigned leader, unsigned n, const char *prefix)
{
	char		text[32];

	for (unsigned k = 0; k < n; k++)
	{
		snprintf(text, sizeof(text), "%s%u", prefix, k);
		assert_int_equal(cluster_propose(&cl, leader, text, NULL), RAFT_OK);
		cluster_stabilize(&cl);
	}
}

/* Ticks and delivers until the leader (node 1) sends node 3 a snapshot. */
static const struct raft_message *
wait_snapshot_msg(void)
{
	for (unsigned t = 0; t < 5; t++)
	{
		cluster_tick_all(&cl, 1);
		for (unsigned k = 0; k < 10; k++)
		{
			const struct raft_message *m;

			cluster_process_all(&cl);
			m = cluster_find_msg(&cl, RAFT_MSG_SNAPSHOT, 0, 2);
			if (m != NULL)
				return m;
			cluster_deliver(&cl);
		}
	}
	return NULL;
}

/*
 * Node 3 (f) receives from node 1, leader of term 2, an append of n no-op
 * entries of term 2 after prev/prev_term, with commit.
 */
static void
step_append(struct raft *f, raft_index prev, raft_term prev_term, unsigned n,
			raft_index commit)
{
	struct raft_message m;
	struct raft_entry e[4];

	assert_true(n <= 4);
	memset(&m, 0, sizeof(m));
	memset(e, 0, sizeof(e));
	m.type = RAFT_MSG_APPEND;
	m.from = 1;
	m.to = 3;
	m.term = 2;
	m.index = prev;
	m.log_term = prev_term;
	m.commit = commit;
	m.n_entries = n;
	m.entries = e;
	for (unsigned k = 0; k < n; k++)
	{
		e[k].index = prev + 1 + k;
		e[k].term = 2;
		e[k].type = RAFT_ENTRY_NOOP;
	}
	assert_int_equal(raft_step(f, &m), RAFT_OK);
}

/* §5.1: compaction keeps the snapshot point and drops entries up to it. */
static void
s5_1_compaction_drops_applied_entries(void **state)
{
	struct raft_status st;

	(void) state;
	cluster_init(&cl, 3, 3, NULL);
	cluster_elect(&cl, 0);
	propose_n(0, 5, "e");
	st = status_of(0);
	assert_int_equal(st.commit, 7);
	assert_int_equal(cluster_compact(&cl, 0, 5), RAFT_OK);
	st = status_of(0);
	assert_int_equal(st.first_index, 6);
	assert_int_equal(st.snapshot_index, 5);
	assert_int_equal(st.last_index, 7);
	/* The configuration in force at 5 travels with the snapshot. */
	assert_int_equal(cl.nodes[0].snap.config.n, 3);
	assert_int_equal(raft_compact(cluster_raft(&cl, 0), 4, NULL), RAFT_ECOMPACTED);
	assert_int_equal(raft_compact(cluster_raft(&cl, 0), 8, NULL), RAFT_EINVAL);
	/* Replication goes on above the snapshot. */
	propose_n(0, 1, "after");
	cluster_run(&cl, 1);
	assert_true(cluster_applied_text(&cl, 2, "after0"));
	cluster_free(&cl);
}

/* Compaction never passes what was handed out as committed. */
static void
s5_1_compaction_limited_to_applied(void **state)
{
	raft_index	index;

	(void) state;
	cluster_init(&cl, 3, 3, NULL);
	cluster_elect(&cl, 0);
	cluster_isolate(&cl, 0);
	assert_int_equal(cluster_propose(&cl, 0, "x", &index), RAFT_OK);
	cluster_stabilize(&cl);
	assert_int_equal(raft_compact(cluster_raft(&cl, 0), index, NULL), RAFT_EINVAL);
	cluster_free(&cl);
}

/* The host may compact what it applied from a ready before advancing it. */
static void
s5_1_compact_within_a_ready(void **state)
{
	struct raft *f;
	struct raft_ready rd;
	struct raft_buffer data = {.base = "snap", .len = 4};

	(void) state;
	cluster_init(&cl, 3, 3, NULL);
	f = cluster_raft(&cl, 2);
	step_append(f, 1, 1, 2, 3);
	raft_ready(f, &rd);
	assert_int_equal(rd.n_entries, 2);
	assert_int_equal(rd.n_committed, 2);
	assert_int_equal(rd.committed[1].index, 3);
	/* Persisted (step 2) and applied (step 4): compact, then advance. */
	assert_int_equal(raft_compact(f, 3, &data), RAFT_OK);
	raft_advance(f, &rd);
	assert_false(raft_has_ready(f));
	assert_int_equal(status_of(2).first_index, 4);
	assert_int_equal(status_of(2).snapshot_index, 3);
	cluster_free(&cl);
}

/*
 * The host may compact within a ready that also hands it a received
 * snapshot to restore: the snapshot counts as restored at the advance, and
 * the host's own, newer compaction is not handed back as one to restore
 * (found by the simulator, 5 nodes, seed 2009177).
 */
static void
s5_1_compact_within_a_ready_that_restores(void **state)
{
	struct raft *f;
	struct raft_ready rd;
	struct raft_message m;
	struct raft_buffer data = {.base = "mine", .len = 4};

	(void) state;
	cluster_init(&cl, 3, 3, NULL);
	f = cluster_raft(&cl, 2);

	/* From the leader of term 2: a snapshot at 3, then entries 4 and 5. */
	memset(&m, 0, sizeof(m));
	m.type = RAFT_MSG_SNAPSHOT;
	m.from = 1;
	m.to = 3;
	m.term = 2;
	m.snapshot.index = 3;
	m.snapshot.term = 2;
	m.snapshot.config = status_of(2).config;
	m.snapshot.data.base = "theirs";
	m.snapshot.data.len = 6;
	assert_int_equal(raft_step(f, &m), RAFT_OK);
	step_append(f, 3, 2, 2, 5);

	raft_ready(f, &rd);
	assert_non_null(rd.snapshot);
	assert_int_equal(rd.snapshot->index, 3);
	assert_int_equal(rd.n_entries, 2);
	assert_int_equal(rd.n_committed, 2);
	assert_int_equal(rd.committed[1].index, 5);
	/* Restored 3, persisted and applied 4 and 5: compact at 4, advance. */
	assert_int_equal(raft_compact(f, 4, &data), RAFT_OK);
	raft_advance(f, &rd);
	assert_int_equal(status_of(2).snapshot_index, 4);
	/* Nothing left to restore: no ready, or one without a snapshot. */
	if (raft_has_ready(f))
	{
		raft_ready(f, &rd);
		assert_null(rd.snapshot);
		raft_advance(f, &rd);
	}
	assert_false(raft_has_ready(f));
	cluster_free(&cl);
}

/* §5: a follower that needs compacted entries gets the snapshot. */
static void
s5_snapshot_sent_to_lagging_follower_and_restored(void **state)
{
	(void) state;
	cluster_init(&cl, 3, 3, NULL);
	cluster_elect(&cl, 0);
	cluster_isolate(&cl, 2);
	propose_n(0, 10, "e");
	assert_int_equal(status_of(0).commit, 12);
	assert_int_equal(cluster_compact(&cl, 0, 12), RAFT_OK);
	cluster_heal(&cl);
	assert_non_null(wait_snapshot_msg());
	assert_int_equal(cluster_find_msg(&cl, RAFT_MSG_SNAPSHOT, 0, 2)->snapshot.index, 12);
	cluster_stabilize(&cl);
	/* Node 3 restored it through its ready and reset its log. */
	assert_int_equal(cl.nodes[2].snapshots_restored, 1);
	assert_int_equal(cl.nodes[2].snap.index, 12);
	assert_int_equal(cl.nodes[2].snap.data.len, strlen("state@12"));
	assert_memory_equal(cl.nodes[2].snap.data.base, "state@12", 8);
	assert_int_equal(status_of(2).first_index, 13);
	assert_int_equal(status_of(2).commit, 12);
	assert_int_equal(status_of(2).config.n, 3);
	assert_false(cluster_applied_text(&cl, 2, "e3"));
	/* And follows the log from there. */
	propose_n(0, 1, "after");
	cluster_run(&cl, 1);
	assert_true(cluster_applied_text(&cl, 2, "after0"));
	assert_int_equal(cl.nodes[2].applied, status_of(0).commit);
	cluster_free(&cl);
}

/* A new member added after compaction starts from the snapshot. */
static void
s5_joiner_starts_from_snapshot(void **state)
{
	struct raft_change ch;

	(void) state;
	cluster_init(&cl, 4, 3, NULL);
	cluster_elect(&cl, 0);
	propose_n(0, 3, "e");
	assert_int_equal(cluster_compact(&cl, 0, 5), RAFT_OK);
	memset(&ch, 0, sizeof(ch));
	ch.kind = RAFT_CHANGE_ADD_LEARNER;
	ch.id = 4;
	assert_int_equal(raft_change_config(cluster_raft(&cl, 0), &ch, 1, NULL), RAFT_OK);
	cluster_stabilize(&cl);
	cluster_run(&cl, 3);
	assert_int_equal(cl.nodes[3].snapshots_restored, 1);
	assert_int_equal(status_of(3).config.n, 4);
	assert_int_equal(status_of(3).last_index, status_of(0).last_index);
	cluster_free(&cl);
}

/* raft_report_snapshot(false): the leader tries again later. */
static void
s5_failed_snapshot_is_sent_again(void **state)
{
	struct raft_status st;

	(void) state;
	cluster_init(&cl, 3, 3, NULL);
	cluster_elect(&cl, 0);
	cluster_isolate(&cl, 2);
	propose_n(0, 3, "e");
	assert_int_equal(cluster_compact(&cl, 0, 5), RAFT_OK);
	cluster_heal(&cl);
	assert_non_null(wait_snapshot_msg());
	assert_int_equal(cluster_drop_msgs(&cl, RAFT_MSG_SNAPSHOT, 0, 2), 1);
	st = status_of(0);
	assert_int_equal(st.progress[2].state, RAFT_PROGRESS_SNAPSHOT);
	raft_report_snapshot(cluster_raft(&cl, 0), 3, false);
	st = status_of(0);
	assert_int_equal(st.progress[2].state, RAFT_PROGRESS_PROBE);
	cluster_heal(&cl);
	cluster_run(&cl, 3);
	assert_int_equal(cl.nodes[2].snapshots_restored, 1);
	assert_int_equal(status_of(0).progress[2].state, RAFT_PROGRESS_REPLICATE);
	cluster_free(&cl);
}

/* A snapshot lost without a report is sent again after a while. */
static void
s5_lost_snapshot_is_sent_again(void **state)
{
	(void) state;
	cluster_init(&cl, 3, 3, NULL);
	cluster_elect(&cl, 0);
	cluster_isolate(&cl, 2);
	propose_n(0, 3, "e");
	assert_int_equal(cluster_compact(&cl, 0, 5), RAFT_OK);
	cluster_heal(&cl);
	assert_non_null(wait_snapshot_msg());
	assert_int_equal(cluster_drop_msgs(&cl, RAFT_MSG_SNAPSHOT, 0, 2), 1);
	cluster_run(&cl, 10);
	assert_int_equal(status_of(0).progress[2].state, RAFT_PROGRESS_SNAPSHOT);
	assert_int_equal(cl.nodes[2].snapshots_restored, 0);
	cluster_run(&cl, 15);
	assert_int_equal(cl.nodes[2].snapshots_restored, 1);
	assert_int_equal(status_of(0).progress[2].state, RAFT_PROGRESS_REPLICATE);
	cluster_free(&cl);
}

/* A snapshot not newer than the follower's commit changes nothing. */
static void
s5_stale_snapshot_ignored(void **state)
{
	struct raft_message m;
	const struct raft_message *resp;

	(void) state;
	cluster_init(&cl, 3, 3, NULL);
	cluster_elect(&cl, 0);
	propose_n(0, 3, "e");
	cluster_run(&cl, 1);
	memset(&m, 0, sizeof(m));
	m.type = RAFT_MSG_SNAPSHOT;
	m.from = 1;
	m.to = 2;
	m.term = status_of(0).term;
	m.snapshot.index = 3;
	m.snapshot.term = 2;
	m.snapshot.config = status_of(0).config;
	assert_int_equal(raft_step(cluster_raft(&cl, 1), &m), RAFT_OK);
	cluster_process(&cl, 1);
	resp = cluster_find_msg(&cl, RAFT_MSG_APPEND_RESP, 1, 0);
	assert_non_null(resp);
	assert_int_equal(resp->index, 5);
	assert_int_equal(cl.nodes[1].snapshots_restored, 0);
	assert_int_equal(status_of(1).first_index, 1);
	cluster_free(&cl);
}

/* §3.8, §5: a node restarts from its snapshot and the entries after it. */
static void
s5_restart_from_snapshot(void **state)
{
	struct raft_status st;

	(void) state;
	cluster_init(&cl, 3, 3, NULL);
	cluster_elect(&cl, 0);
	propose_n(0, 4, "e");
	cluster_run(&cl, 1);
	assert_int_equal(cluster_compact(&cl, 1, 4), RAFT_OK);
	cluster_crash(&cl, 1);
	cluster_restart(&cl, 1);
	st = status_of(1);
	assert_int_equal(st.snapshot_index, 4);
	assert_int_equal(st.first_index, 5);
	assert_int_equal(st.last_index, 6);
	assert_int_equal(st.config.n, 3);
	/* Entries after the snapshot are applied again (the host skips them). */
	assert_true(cluster_applied_text(&cl, 1, "e3"));
	assert_false(cluster_applied_text(&cl, 1, "e0"));
	propose_n(0, 1, "after");
	cluster_run(&cl, 1);
	assert_true(cluster_applied_text(&cl, 1, "after0"));
	cluster_free(&cl);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(s5_1_compaction_drops_applied_entries),
		cmocka_unit_test(s5_1_compaction_limited_to_applied),
		cmocka_unit_test(s5_1_compact_within_a_ready),
		cmocka_unit_test(s5_1_compact_within_a_ready_that_restores),
		cmocka_unit_test(s5_snapshot_sent_to_lagging_follower_and_restored),
		cmocka_unit_test(s5_joiner_starts_from_snapshot),
		cmocka_unit_test(s5_failed_snapshot_is_sent_again),
		cmocka_unit_test(s5_lost_snapshot_is_sent_again),
		cmocka_unit_test(s5_stale_snapshot_ignored),
		cmocka_unit_test(s5_restart_from_snapshot),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
