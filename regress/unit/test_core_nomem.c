/*
 * regress/unit/test_core_nomem.c — running out of memory never crashes the
 * core: every allocation it makes may fail (here one in four, from a
 * seeded sequence, only while the core runs), the calls return RAFT_ENOMEM
 * or lose messages, and once memory is back the cluster elects a leader
 * and commits as usual (Raft tolerates lost messages, §3.5).
 *
 * This program replaces malloc, calloc and realloc with versions that fail
 * on demand and otherwise call glibc's; it is not built with a sanitizer.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "lib/cluster.h"

extern void *__libc_malloc(size_t n);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t n);

static bool armed;
static uint64_t prng_state = 12345;
static uint64_t failures;
static uint64_t allocations;

static bool
should_fail(void)
{
	if (!armed)
		return false;
	allocations++;
	prng_state = prng_state * 6364136223846793005ULL + 1442695040888963407ULL;
	if ((prng_state >> 33) % 4 == 0)
	{
		failures++;
		return true;
	}
	return false;
}

void *
malloc(size_t n)
{
	return should_fail() ? NULL : __libc_malloc(n);
}

void *
calloc(size_t n, size_t size)
{
	return should_fail() ? NULL : __libc_calloc(n, size);
}

void *
realloc(void *p, size_t n)
{
	return should_fail() ? NULL : __libc_realloc(p, n);
}

static void
arm(void)
{
	armed = true;
}

static void
disarm(void)
{
	armed = false;
}

static struct test_cluster cl;

static bool
ok_or_nomem(int rv)
{
	return rv == RAFT_OK || rv == RAFT_ENOMEM || rv == RAFT_ENOLEADER ||
		rv == RAFT_EBUSY || rv == RAFT_ENOTLEADER;
}

static void
nomem_never_crashes_and_the_cluster_recovers(void **state)
{
	char		text[32];
	int			leader = -1;
	raft_index	index = 0;

	(void) state;
	cluster_init(&cl, 3, 3, NULL);
	cl.enter_core = arm;
	cl.leave_core = disarm;
	for (unsigned t = 0; t < 300; t++)
	{
		cluster_tick_all(&cl, 1);
		cluster_stabilize(&cl);
		for (unsigned i = 0; i < 3; i++)
		{
			struct raft_change ch;
			int			rv;

			snprintf(text, sizeof(text), "t%u-n%u", t, i);
			arm();
			rv = raft_propose(cluster_raft(&cl, i), text, strlen(text), NULL);
			disarm();
			assert_true(ok_or_nomem(rv));
			arm();
			rv = raft_read_index(cluster_raft(&cl, i), t + 1);
			disarm();
			assert_true(ok_or_nomem(rv));
			if (t % 50 == 7)
			{
				memset(&ch, 0, sizeof(ch));
				ch.kind = (t / 50) % 2 == 0 ? RAFT_CHANGE_ADD_LEARNER
					: RAFT_CHANGE_REMOVE;
				ch.id = 9;
				arm();
				rv = raft_change_config(cluster_raft(&cl, i), &ch, 1, NULL);
				disarm();
				assert_true(ok_or_nomem(rv) || rv == RAFT_EDUPLICATE ||
							rv == RAFT_EUNKNOWNNODE);
			}
		}
	}
	printf("    %llu of %llu allocations failed; commit %llu, term %llu\n",
		   (unsigned long long) failures, (unsigned long long) allocations,
		   (unsigned long long) cl.nodes[0].hs.commit,
		   (unsigned long long) cl.nodes[0].hs.term);
	assert_true(failures > 100);

	/* Memory is back: a leader, a commit on every node. */
	cl.enter_core = NULL;
	cl.leave_core = NULL;
	for (unsigned t = 0; t < 100 && leader < 0; t++)
	{
		cluster_run(&cl, 1);
		leader = cluster_leader(&cl);
	}
	assert_true(leader >= 0);
	cluster_run(&cl, 3);
	leader = cluster_leader(&cl);
	assert_int_equal(cluster_propose(&cl, (unsigned) leader, "after", &index),
					 RAFT_OK);
	cluster_stabilize(&cl);
	cluster_run(&cl, 3);
	for (unsigned i = 0; i < 3; i++)
		assert_true(cluster_applied_text(&cl, i, "after"));
	cluster_free(&cl);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(nomem_never_crashes_and_the_cluster_recovers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
