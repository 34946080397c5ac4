/*
 * regress/unit/test_core_ready.c — the ready/advance hand-over (§10.2.1,
 * etcd-io/raft's Ready): what a ready holds and in which order, committed
 * entries exactly once, memory valid until raft_advance, the same ready
 * until raft_advance; restart from durable state (§3.8); error strings.
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

static struct raft *
single_leader(void)
{
	cluster_init(&cl, 1, 1, NULL);
	cluster_elect(&cl, 0);
	cluster_process_all(&cl);
	return cluster_raft(&cl, 0);
}

/* A bootstrapped node's first ready: term 1 and the configuration entry. */
static void
ready_after_bootstrap(void **state)
{
	struct raft_options o;
	struct raft_config cfg;
	struct raft_ready rd;
	struct raft *r;

	(void) state;
	raft_options_default(&o, 1, 7);
	r = raft_new(&o);
	assert_non_null(r);
	assert_false(raft_has_ready(r));
	memset(&cfg, 0, sizeof(cfg));
	cfg.n = 1;
	cfg.members[0].id = 1;
	cfg.members[0].flags = RAFT_VOTER_NEW;
	assert_int_equal(raft_bootstrap(r, &cfg), RAFT_OK);
	assert_int_equal(raft_bootstrap(r, &cfg), RAFT_EINVAL);
	assert_true(raft_has_ready(r));
	raft_ready(r, &rd);
	assert_true(rd.hard_state_changed);
	assert_int_equal(rd.hard_state.term, 1);
	assert_int_equal(rd.n_entries, 1);
	assert_int_equal(rd.entries[0].index, 1);
	assert_int_equal(rd.entries[0].term, 1);
	assert_int_equal(rd.entries[0].type, RAFT_ENTRY_CONFIG);
	assert_int_equal(rd.n_committed, 1);
	raft_advance(r, &rd);
	assert_false(raft_has_ready(r));
	raft_free(r);
}

/* Committed entries come out once; asking again before advance repeats. */
static void
ready_committed_entries_exactly_once(void **state)
{
	struct raft *r;
	struct raft_ready rd,
				again;
	raft_index	index;

	(void) state;
	r = single_leader();
	assert_false(raft_has_ready(r));
	assert_int_equal(raft_propose(r, "abc", 3, &index), RAFT_OK);
	assert_true(raft_has_ready(r));
	raft_ready(r, &rd);
	assert_int_equal(rd.n_entries, 1);
	assert_int_equal(rd.n_committed, 0);	/* not durable yet: not counted */
	raft_ready(r, &again);
	assert_int_equal(again.n_entries, 1);
	assert_ptr_equal(again.entries, rd.entries);
	raft_advance(r, &rd);
	assert_true(raft_has_ready(r));
	raft_ready(r, &rd);
	assert_int_equal(rd.n_entries, 0);
	assert_int_equal(rd.n_committed, 1);
	assert_int_equal(rd.committed[0].index, index);
	assert_memory_equal(rd.committed[0].data.base, "abc", 3);
	assert_true(rd.hard_state_changed);
	assert_int_equal(rd.hard_state.commit, index);
	raft_advance(r, &rd);
	assert_false(raft_has_ready(r));
	cluster_free(&cl);
}

/* What a ready points to stays valid until advance, whatever happens. */
static void
ready_memory_valid_until_advance(void **state)
{
	struct raft *r;
	struct raft_ready rd;
	char		text[32];
	raft_index	applied = 2;

	(void) state;
	r = single_leader();
	assert_int_equal(raft_propose(r, "first", 5, NULL), RAFT_OK);
	raft_ready(r, &rd);
	/* Grow the log a lot: its array moves. */
	for (unsigned k = 0; k < 500; k++)
	{
		snprintf(text, sizeof(text), "more%u", k);
		assert_int_equal(raft_propose(r, text, strlen(text), NULL), RAFT_OK);
	}
	assert_int_equal(rd.n_entries, 1);
	assert_memory_equal(rd.entries[0].data.base, "first", 5);
	raft_advance(r, &rd);
	/* The host persists the rest; everything commits, applied once each. */
	for (unsigned k = 0; k < 10 && raft_has_ready(r); k++)
	{
		raft_ready(r, &rd);
		for (uint32_t c = 0; c < rd.n_committed; c++)
			assert_int_equal(rd.committed[c].index, ++applied);
		raft_advance(r, &rd);
	}
	assert_false(raft_has_ready(r));
	assert_int_equal(status_of(0).commit, 503);
	assert_int_equal(applied, 503);
	cluster_free(&cl);
}

/* Entries truncated between ready and advance stay readable until advance. */
static void
ready_survives_truncation_before_advance(void **state)
{
	struct raft *f;
	struct raft_ready rd;
	struct raft_message m;
	struct raft_entry e;

	(void) state;
	cluster_init(&cl, 3, 3, NULL);
	f = cluster_raft(&cl, 2);
	memset(&m, 0, sizeof(m));
	memset(&e, 0, sizeof(e));
	m.type = RAFT_MSG_APPEND;
	m.from = 1;
	m.to = 3;
	m.term = 2;
	m.index = 1;
	m.log_term = 1;
	m.n_entries = 1;
	m.entries = &e;
	e.index = 2;
	e.term = 2;
	e.type = RAFT_ENTRY_COMMAND;
	e.data.base = "old-entry";
	e.data.len = 9;
	assert_int_equal(raft_step(f, &m), RAFT_OK);
	raft_ready(f, &rd);
	assert_int_equal(rd.n_entries, 1);
	/* A leader of term 3 replaces entry 2 before the host advanced. */
	m.from = 2;
	m.term = 3;
	e.term = 3;
	e.data.base = "new-entry";
	assert_int_equal(raft_step(f, &m), RAFT_OK);
	assert_memory_equal(rd.entries[0].data.base, "old-entry", 9);
	raft_advance(f, &rd);
	raft_ready(f, &rd);
	assert_int_equal(rd.n_entries, 1);
	assert_int_equal(rd.entries[0].term, 3);
	assert_memory_equal(rd.entries[0].data.base, "new-entry", 9);
	raft_advance(f, &rd);
	cluster_free(&cl);
}

/*
 * §3.5: an acknowledgement still queued when its entries are truncated is
 * withdrawn: the old leader must not count entries that never became
 * durable here.
 */
static void
s3_5_queued_ack_of_truncated_entries_withdrawn(void **state)
{
	struct raft *f;
	struct raft_ready rd;
	struct raft_message m;
	struct raft_entry e[2];

	(void) state;
	cluster_init(&cl, 3, 3, NULL);
	f = cluster_raft(&cl, 2);
	memset(&m, 0, sizeof(m));
	memset(e, 0, sizeof(e));
	m.type = RAFT_MSG_APPEND;
	m.from = 1;
	m.to = 3;
	m.term = 2;
	m.index = 1;
	m.log_term = 1;
	m.n_entries = 2;
	m.entries = e;
	for (unsigned k = 0; k < 2; k++)
	{
		e[k].index = 2 + k;
		e[k].term = 2;
		e[k].type = RAFT_ENTRY_NOOP;
	}
	assert_int_equal(raft_step(f, &m), RAFT_OK);
	/* Before any ready: a leader of term 3 replaces entry 2. */
	m.from = 2;
	m.term = 3;
	m.n_entries = 1;
	e[0].term = 3;
	assert_int_equal(raft_step(f, &m), RAFT_OK);
	raft_ready(f, &rd);
	assert_int_equal(rd.n_entries, 1);
	assert_int_equal(rd.entries[0].term, 3);
	for (uint32_t k = 0; k < rd.n_messages; k++)
	{
		const struct raft_message *a = &rd.messages[k];

		assert_int_equal(a->type, RAFT_MSG_APPEND_RESP);
		assert_false(a->to == 1 && !a->reject && a->index >= 2);
	}
	assert_int_equal(rd.n_messages, 1);
	assert_int_equal(rd.messages[0].to, 2);
	assert_int_equal(rd.messages[0].index, 2);
	raft_advance(f, &rd);
	cluster_free(&cl);
}

/* §3.8: a campaign's ready holds the new term and vote with its requests. */
static void
ready_hard_state_with_vote_requests(void **state)
{
	struct raft_options o;
	struct raft *r;
	struct raft_ready rd;

	(void) state;
	cluster_default_options(&o);
	o.pre_vote = false;
	cluster_init(&cl, 3, 3, &o);
	r = cluster_raft(&cl, 0);
	assert_int_equal(raft_campaign(r), RAFT_OK);
	raft_ready(r, &rd);
	assert_true(rd.hard_state_changed);
	assert_int_equal(rd.hard_state.term, 2);
	assert_int_equal(rd.hard_state.vote, 1);
	assert_true(rd.soft_state_changed);
	assert_int_equal(rd.role, RAFT_CANDIDATE);
	assert_int_equal(rd.n_messages, 2);
	for (unsigned k = 0; k < 2; k++)
	{
		assert_int_equal(rd.messages[k].type, RAFT_MSG_VOTE);
		assert_int_equal(rd.messages[k].term, 2);
	}
	raft_advance(r, &rd);
	cluster_free(&cl);
}

/* §3.8: after a restart of every node, term, vote and log are kept. */
static void
s3_8_restart_keeps_term_vote_and_log(void **state)
{
	raft_term	term;
	int			leader = -1;

	(void) state;
	cluster_init(&cl, 3, 3, NULL);
	cluster_elect(&cl, 0);
	assert_int_equal(cluster_propose(&cl, 0, "before", NULL), RAFT_OK);
	cluster_stabilize(&cl);
	cluster_run(&cl, 1);
	term = status_of(0).term;
	for (unsigned i = 0; i < 3; i++)
		cluster_crash(&cl, i);
	for (unsigned i = 0; i < 3; i++)
	{
		cluster_restart(&cl, i);
		assert_int_equal(status_of(i).term, term);
		assert_int_equal(status_of(i).last_index, 3);
		assert_int_equal(status_of(i).role, RAFT_FOLLOWER);
		/* Committed entries are handed out again to the new state machine. */
		assert_true(cluster_applied_text(&cl, i, "before"));
	}
	assert_int_equal(status_of(0).vote, 1);
	for (unsigned t = 0; t < 60 && leader < 0; t++)
	{
		cluster_run(&cl, 1);
		leader = cluster_leader(&cl);
	}
	assert_true(leader >= 0);
	assert_true(status_of((unsigned) leader).term > term);
	assert_int_equal(cluster_propose(&cl, (unsigned) leader, "after", NULL), RAFT_OK);
	cluster_stabilize(&cl);
	cluster_run(&cl, 1);
	for (unsigned i = 0; i < 3; i++)
		assert_true(cluster_applied_text(&cl, i, "after"));
	cluster_free(&cl);
}

/* raft_load refuses a log with a gap or on a node that has state. */
static void
s3_8_load_validates_input(void **state)
{
	struct raft_options o;
	struct raft_hard_state hs = {.term = 3, .vote = 0, .commit = 1};
	struct raft_entry e[2];
	struct raft *r;

	(void) state;
	memset(e, 0, sizeof(e));
	e[0].index = 1;
	e[0].term = 1;
	e[0].type = RAFT_ENTRY_NOOP;
	e[1].index = 3;
	e[1].term = 1;
	e[1].type = RAFT_ENTRY_NOOP;
	raft_options_default(&o, 1, 1);
	r = raft_new(&o);
	assert_int_equal(raft_load(r, &hs, NULL, e, 2), RAFT_EINVAL);
	e[1].index = 2;
	assert_int_equal(raft_load(r, &hs, NULL, e, 2), RAFT_OK);
	assert_int_equal(raft_load(r, &hs, NULL, e, 2), RAFT_EINVAL);
	assert_int_equal(raft_bootstrap(r, &(struct raft_config) {.n = 0}), RAFT_EINVAL);
	raft_free(r);
}

static void
errors_have_messages(void **state)
{
	(void) state;
	for (int e = 0; e < RAFT_ERROR_COUNT_; e++)
	{
		assert_non_null(raft_strerror(e));
		assert_string_not_equal(raft_strerror(e), "unknown error");
		for (int f = 0; f < e; f++)
			assert_string_not_equal(raft_strerror(e), raft_strerror(f));
	}
	assert_string_equal(raft_strerror(-1), "unknown error");
	assert_string_equal(raft_strerror(RAFT_ERROR_COUNT_), "unknown error");
	assert_string_equal(raft_role_name(RAFT_LEADER), "leader");
	assert_string_equal(raft_role_name(99), "unknown");
}

static void
options_validated(void **state)
{
	struct raft_options o;

	(void) state;
	raft_options_default(&o, 0, 1);
	assert_null(raft_new(&o));
	raft_options_default(&o, 1, 1);
	o.election_ticks = o.heartbeat_ticks;
	assert_null(raft_new(&o));
	raft_options_default(&o, 1, 1);
	o.max_inflight = 0;
	assert_null(raft_new(&o));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(ready_after_bootstrap),
		cmocka_unit_test(ready_committed_entries_exactly_once),
		cmocka_unit_test(ready_memory_valid_until_advance),
		cmocka_unit_test(ready_survives_truncation_before_advance),
		cmocka_unit_test(s3_5_queued_ack_of_truncated_entries_withdrawn),
		cmocka_unit_test(ready_hard_state_with_vote_requests),
		cmocka_unit_test(s3_8_restart_keeps_term_vote_and_log),
		cmocka_unit_test(s3_8_load_validates_input),
		cmocka_unit_test(errors_have_messages),
		cmocka_unit_test(options_validated),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
