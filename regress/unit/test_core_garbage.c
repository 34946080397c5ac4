/*
 * regress/unit/test_core_garbage.c — bad input never crashes a node
 * (design invariant 7): a seeded stream of arbitrary messages (any type,
 * term, index, entries, snapshot, sender) mixed with ticks and ordinary
 * traffic.  raft_step may only answer RAFT_OK or RAFT_EINVAL, and the test
 * host's checks (entries applied once and in order, nothing sent before
 * its term is durable) hold throughout.  Not a safety test: forged
 * acknowledgements may of course fool a leader.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "lib/cluster.h"

static struct test_cluster cl;
static uint64_t rng = 88172645463325252ULL;

static uint64_t
next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static uint64_t
upto(uint64_t n)
{
	return next() % (n + 1);
}

static void
random_message(struct raft_message *m, struct raft_entry *ents, char *bytes,
			   unsigned to)
{
	memset(m, 0, sizeof(*m));
	m->type = (uint8_t) upto(RAFT_MSG_TYPE_MAX + 1);
	m->from = upto(5);
	m->to = upto(3) == 0 ? 0 : to + 1;
	m->term = upto(6);
	m->log_term = upto(6);
	m->index = upto(3) == 0 ? next() : upto(30);
	m->commit = upto(3) == 0 ? next() : upto(30);
	m->reject = upto(1);
	m->reject_hint = upto(30);
	m->hint_term = upto(6);
	m->context = upto(2);
	m->n_entries = (uint32_t) upto(4);
	m->entries = m->n_entries > 0 ? ents : NULL;
	for (uint32_t k = 0; k < m->n_entries; k++)
	{
		memset(&ents[k], 0, sizeof(ents[k]));
		ents[k].index = upto(1) ? m->index + 1 + k : upto(30);
		ents[k].term = upto(6);
		ents[k].type = (uint8_t) upto(4);
		ents[k].data.len = upto(16);
		ents[k].data.base = ents[k].data.len > 0 ? bytes : NULL;
	}
	if (upto(4) == 0)
	{
		m->snapshot.index = upto(30);
		m->snapshot.term = upto(6);
		m->snapshot.config.n = (uint32_t) upto(RAFT_MAX_MEMBERS + 4);
		m->snapshot.config.joint = upto(1);
		for (uint32_t k = 0; k < RAFT_MAX_MEMBERS; k++)
		{
			m->snapshot.config.members[k].id = upto(5);
			m->snapshot.config.members[k].flags = (uint8_t) upto(3);
		}
		m->snapshot.data.len = upto(16);
		m->snapshot.data.base = m->snapshot.data.len > 0 ? bytes : NULL;
	}
}

static void
garbage_never_crashes(void **state)
{
	struct raft_message m;
	struct raft_entry ents[4];
	char		bytes[16];
	unsigned	steps = 0;

	(void) state;
	for (unsigned k = 0; k < sizeof(bytes); k++)
		bytes[k] = (char) next();
	for (unsigned round = 0; round < 20; round++)
	{
		cluster_init(&cl, 3, 3, NULL);
		if (round % 2 == 0)
			cluster_elect(&cl, 0);
		for (unsigned t = 0; t < 300; t++)
		{
			unsigned	to = (unsigned) upto(2);
			int			rv;

			random_message(&m, ents, bytes, to);
			rv = raft_step(cluster_raft(&cl, to), &m);
			assert_true(rv == RAFT_OK || rv == RAFT_EINVAL);
			steps++;
			if (t % 5 == 0)
				cluster_tick_all(&cl, 1);
			if (t % 7 == 0)
				(void) cluster_propose(&cl, (unsigned) upto(2), "p", NULL);
			if (t % 11 == 0)
				(void) raft_read_index(cluster_raft(&cl, (unsigned) upto(2)), t);
			/* Bounded: forged acknowledgements may make peers argue. */
			for (unsigned k = 0; k < 6; k++)
				cluster_deliver(&cl);
		}
		cluster_free(&cl);
	}
	assert_int_equal(steps, 20 * 300);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(garbage_never_crashes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
