/*
 * regress/jepsen/test_checker.c — unit tests of the Jepsen checker on
 * hand-made histories that are and are not linearizable (stale reads,
 * concurrent cas, ops whose outcome is unknown), on random histories built
 * around a known linearization, and on the set and divergence checks.
 * Ends with one line "N passed, N failed".
 */
#include "checker.h"

#include <stdlib.h>
#include <string.h>

static int	passed;
static int	failed;

#define CHECK(cond, name) \
	do { \
		if (cond) passed++; \
		else { failed++; printf("FAILED: %s (%s:%d)\n", name, __FILE__, __LINE__); } \
	} while (0)

#define INF_T 1000000000LL		/* unknown ops carry some completion time */

static JepsenOp
mk(JepsenKind kind, long a, long b, JepsenOutcome outcome, long result,
   int64_t t0, int64_t t1)
{
	JepsenOp	op;

	memset(&op, 0, sizeof(op));
	op.kind = kind;
	op.key = 1;
	op.a = a;
	op.b = b;
	op.outcome = outcome;
	op.result = result;
	op.t0 = t0;
	op.t1 = t1;
	return op;
}

#define R(v, t0, t1) mk(JOP_READ, 0, 0, JOUT_OK, (v), (t0), (t1))
#define W(v, t0, t1) mk(JOP_WRITE, (v), 0, JOUT_OK, 0, (t0), (t1))
#define WU(v, t0) mk(JOP_WRITE, (v), 0, JOUT_UNKNOWN, 0, (t0), INF_T)
#define WF(v, t0, t1) mk(JOP_WRITE, (v), 0, JOUT_FAIL, 0, (t0), (t1))
#define CAS(o, n, rows, t0, t1) mk(JOP_CAS, (o), (n), JOUT_OK, (rows), (t0), (t1))
#define CASU(o, n, t0) mk(JOP_CAS, (o), (n), JOUT_UNKNOWN, 0, (t0), INF_T)

static JepsenLinVerdict
verdict(const JepsenOp *ops, size_t n)
{
	return jepsen_check_register(ops, n, 1, 0, 1000000).verdict;
}

#define LIN(name, ...) \
	do { JepsenOp h_[] = {__VA_ARGS__}; \
		CHECK(verdict(h_, sizeof(h_) / sizeof(h_[0])) == JLIN_OK, name); } while (0)
#define NOT_LIN(name, ...) \
	do { JepsenOp h_[] = {__VA_ARGS__}; \
		CHECK(verdict(h_, sizeof(h_) / sizeof(h_[0])) == JLIN_VIOLATION, name); } while (0)

static void
test_hand_made(void)
{
	CHECK(jepsen_check_register(NULL, 0, 1, 0, 10).verdict == JLIN_OK, "empty history");
	LIN("read of the initial value", R(0, 0, 10));
	NOT_LIN("read of a value never written", R(3, 0, 10));
	LIN("write then read", W(1, 0, 10), R(1, 20, 30));
	NOT_LIN("stale read after a completed write", W(1, 0, 10), R(0, 20, 30));
	NOT_LIN("stale read: older of two sequential writes",
			W(1, 0, 10), W(2, 20, 30), R(1, 40, 50));
	LIN("read concurrent with a write sees the old value", W(1, 0, 30), R(0, 10, 20));
	LIN("read concurrent with a write sees the new value", W(1, 0, 30), R(1, 10, 20));
	NOT_LIN("two reads flip back: new then old",
			W(1, 0, 100), R(1, 10, 20), R(0, 30, 40));
	LIN("concurrent writes, reads agree on an order",
		W(1, 0, 50), W(2, 0, 50), R(1, 60, 70), R(1, 80, 90));
	NOT_LIN("concurrent writes, later reads disagree",
			W(1, 0, 50), W(2, 0, 50), R(1, 60, 70), R(2, 80, 90), R(1, 100, 110));
	LIN("cas succeeds on the current value", W(1, 0, 10), CAS(1, 2, 1, 20, 30), R(2, 40, 50));
	NOT_LIN("cas succeeds on a value that is not there", W(1, 0, 10), CAS(0, 2, 1, 20, 30));
	NOT_LIN("cas reports 0 rows although the value matched", W(1, 0, 10), CAS(1, 2, 0, 20, 30));
	NOT_LIN("two concurrent cas from the same value both succeed",
			CAS(0, 1, 1, 0, 50), CAS(0, 2, 1, 10, 60));
	LIN("two concurrent cas from the same value: one wins",
		CAS(0, 1, 1, 0, 50), CAS(0, 2, 0, 10, 60), R(1, 70, 80));
	NOT_LIN("concurrent cas: the loser's value is read",
			CAS(0, 1, 1, 0, 50), CAS(0, 2, 0, 10, 60), R(2, 70, 80));
	LIN("cas chain across clients", CAS(0, 1, 1, 0, 10), CAS(1, 2, 1, 5, 20),
		CAS(2, 3, 1, 15, 30), R(3, 40, 50));
	LIN("an unknown write that took effect", WU(5, 0), R(5, 20, 30));
	LIN("an unknown write that never took effect", WU(5, 0), R(0, 20, 30), R(0, 40, 50));
	LIN("an unknown write that took effect late", WU(5, 0), R(0, 20, 30), R(5, 40, 50));
	NOT_LIN("an unknown write read before it was invoked", R(5, 0, 10), WU(5, 20));
	NOT_LIN("a failed write that took effect", WF(5, 0, 10), R(5, 20, 30));
	NOT_LIN("an unknown write seen, then gone without another write",
			WU(5, 0), R(5, 20, 30), R(0, 40, 50));
	LIN("a cas that found another value, explained by an unknown write",
		W(1, 0, 10), WU(7, 15), CAS(1, 2, 0, 20, 30), R(7, 40, 50));
	NOT_LIN("a cas that found another value, nothing to explain it",
			W(1, 0, 10), WF(7, 15, 16), CAS(1, 2, 0, 20, 30), R(1, 40, 50));
	LIN("a cas that found another value, explained by an unknown write nobody read",
		W(1, 0, 10), WU(7, 15), CAS(1, 2, 0, 20, 30), W(3, 40, 45), R(3, 50, 60));
	NOT_LIN("a cas that found another value, the write that would explain it failed",
			W(1, 0, 10), WF(7, 15, 16), CAS(1, 2, 0, 20, 30), W(3, 40, 45), R(3, 50, 60));
	LIN("a cas that found another value, the unknown write lands between two reads",
		W(1, 0, 10), R(1, 12, 14), WU(7, 15), CAS(1, 2, 0, 20, 30), W(3, 40, 45));
	NOT_LIN("an unknown write nobody read cannot explain a cas before its invocation",
			W(1, 0, 10), CAS(1, 2, 0, 20, 30), WU(7, 35), W(3, 40, 45), R(3, 50, 60));
	LIN("an unknown cas that applied", W(1, 0, 10), CASU(1, 2, 20), R(2, 40, 50));
	NOT_LIN("an unknown cas from a value that was never there",
			W(1, 0, 10), CASU(3, 2, 20), R(2, 40, 50));
	LIN("two unknown writes, the later invoked one applied first",
		WU(1, 0), WU(2, 5), R(2, 20, 30), R(1, 40, 50));
	NOT_LIN("an unknown write applied twice",
			WU(1, 0), W(2, 10, 15), R(1, 20, 30), R(2, 40, 50), R(1, 60, 70));
}

/*
 * Random histories built around a known sequential execution: each op gets
 * a linearization point, and an interval around it; the result must be
 * linearizable.  Changing one read to a value nobody wrote must not be.
 */
static void
test_random(void)
{
	unsigned	seed = 12345;
	int			ok_all = 1;
	int			caught = 0;
	int			trials = 200;

	for (int t = 0; t < trials; t++)
	{
		enum { N = 40 };
		JepsenOp	ops[N];
		long		value = 0;
		long		next_value = 1;

		for (int i = 0; i < N; i++)
		{
			int64_t		point = 100 * (i + 1);
			int64_t		t0 = point - 1 - rand_r(&seed) % 250;
			int64_t		t1 = point + 1 + rand_r(&seed) % 250;
			int			r = rand_r(&seed) % 10;

			if (t0 < 0)
				t0 = 0;
			if (r < 4)
				ops[i] = R(value, t0, t1);
			else if (r < 6)
			{
				ops[i] = W(next_value, t0, t1);
				value = next_value++;
			}
			else if (r < 7)
			{
				/* an unknown write: applied or not */
				ops[i] = WU(next_value, t0);
				if (rand_r(&seed) % 2)
					value = next_value;
				next_value++;
			}
			else
			{
				long		old = rand_r(&seed) % 2 ? value : value + 1000;
				int			rows = old == value;

				ops[i] = CAS(old, next_value, rows, t0, t1);
				if (rows)
					value = next_value;
				next_value++;
			}
		}
		if (verdict(ops, N) != JLIN_OK)
			ok_all = 0;
		for (int i = N - 1; i >= 0; i--)
			if (ops[i].kind == JOP_READ)
			{
				ops[i].result = 99999;
				caught += verdict(ops, N) == JLIN_VIOLATION;
				break;
			}
	}
	CHECK(ok_all, "random histories around a known linearization are linearizable");
	CHECK(caught > trials / 2, "a read of a never-written value is caught in random histories");
}

static void
test_search_limit(void)
{
	enum { N = 24 };
	JepsenOp	ops[N];

	/* every op concurrent with every other: a wide search */
	for (int i = 0; i < N; i++)
		ops[i] = i % 2 ? W(i, i, 1000) : R(i - 1 > 0 ? i - 1 : 0, i, 1000);
	ops[N - 1] = R(424242, 2000, 2001);
	JepsenLinResult r = jepsen_check_register(ops, N, 1, 0, 50);

	CHECK(r.verdict == JLIN_GAVE_UP, "the search gives up at its limit");
	CHECK(r.states <= 50, "the search visits no more states than its limit");
}

/*
 * A write that takes long (across a failover, say) while another client
 * writes and reads many times, and whose value is read at the end: the
 * search must place it late without trying every earlier point first.
 */
static void
test_long_call(void)
{
	enum { N = 400 };
	JepsenOp	ops[N + 2];

	ops[0] = W(999, 0, 100000);
	for (int i = 0; i < N; i += 2)
	{
		ops[1 + i] = W(i + 1, 100 * (i + 1), 100 * (i + 1) + 40);
		ops[2 + i] = R(i + 1, 100 * (i + 1) + 50, 100 * (i + 1) + 90);
	}
	ops[N + 1] = R(999, 100001, 100002);
	JepsenLinResult r = jepsen_check_register(ops, N + 2, 1, 0, 5000);

	CHECK(r.verdict == JLIN_OK, "a long write read at the end is placed late, within a small search");
	ops[N + 1] = R(1, 100001, 100002);
	r = jepsen_check_register(ops, N + 2, 1, 0, 5000);
	CHECK(r.verdict == JLIN_VIOLATION, "a long write, then a stale read of an overwritten value");
}

/*
 * Many calls of unknown outcome (a server refusing every call for a while)
 * around cas that found another value, as in a soak: the search must stay
 * small, and still need one of them.
 */
static void
test_many_unknown(void)
{
	enum { U = 60, R = 40 };
	JepsenOp	ops[1 + 2 * U + 2 * R + 2];
	size_t		n = 0;

	ops[n++] = W(1, 0, 10);
	for (int i = 0; i < U; i++)
	{
		ops[n++] = WU(100 + i, 20 + i);
		ops[n++] = CASU(1, 200 + i, 20 + i);
	}
	for (int i = 0; i < R; i++)
	{
		ops[n++] = CAS(1, 300 + i, 0, 1000 + 10 * i, 1005 + 10 * i);
		ops[n++] = CAS(1, 400 + i, 0, 1000 + 10 * i, 1005 + 10 * i);
	}
	ops[n++] = W(3, 2000, 2010);
	ops[n++] = R(3, 2020, 2030);
	JepsenLinResult r = jepsen_check_register(ops, n, 1, 0, 20000);

	CHECK(r.verdict == JLIN_OK, "120 unknown calls and 80 cas that found another value: decided in a small search");
	ops[0] = W(1, 0, 3000);		/* overlapping everything: still linearizable */
	r = jepsen_check_register(ops, n, 1, 0, 20000);
	CHECK(r.verdict == JLIN_OK, "the same with the first write overlapping everything");
}

static int
check_text(const char *text, int *gave_up)
{
	JepsenHistory h;
	char		err[128];
	char	   *copy = strdup(text);
	int			anomalies = -1;
	FILE	   *devnull = fopen("/dev/null", "w");

	jepsen_history_init(&h);
	for (char *line = strtok(copy, "\n"); line; line = strtok(NULL, "\n"))
		if (jepsen_parse_line(&h, line, err, sizeof(err)) != 0)
			goto out;
	anomalies = jepsen_check_all(&h, 1, 100000, devnull, gave_up);
out:
	fclose(devnull);
	free(copy);
	jepsen_history_free(&h);
	return anomalies;
}

static void
test_set_and_final(void)
{
	int			g;
	const char *base =
		"op 1 write 1 5 0 ok 1 10 20 1 00000\n"
		"op 2 read 1 0 0 ok 5 30 40 2 00000\n"
		"op 1 add 0 100 0 ok 1 50 60 1 00000\n"
		"op 2 add 0 200 0 unknown 0 50 90 2 40003\n"
		"op 3 add 0 300 0 fail 0 50 60 3 40001\n"
		"fault kill9 node 1\n";

	char		buf[2048];

	snprintf(buf, sizeof(buf), "%s%s", base,
			 "final 1 reg 1 5\nfinal 1 set 100 200\n"
			 "final 2 reg 1 5\nfinal 2 set 200 100\n");
	CHECK(check_text(buf, &g) == 0 && g == 0, "a clean history has no anomaly");

	snprintf(buf, sizeof(buf), "%s%s", base,
			 "final 1 reg 1 5\nfinal 1 set 200\nfinal 2 reg 1 5\nfinal 2 set 200\n");
	CHECK(check_text(buf, &g) == 2, "a lost acknowledged insert is found on each server");

	snprintf(buf, sizeof(buf), "%s%s", base,
			 "final 1 reg 1 5\nfinal 1 set 100 300\nfinal 2 reg 1 5\nfinal 2 set 100 300\n");
	CHECK(check_text(buf, &g) == 2, "a failed insert that was applied is found");

	snprintf(buf, sizeof(buf), "%s%s", base,
			 "final 1 reg 1 5\nfinal 1 set 100 100\nfinal 2 reg 1 5\nfinal 2 set 100 100\n");
	CHECK(check_text(buf, &g) == 2, "a duplicated insert is found");

	snprintf(buf, sizeof(buf), "%s%s", base,
			 "final 1 reg 1 5\nfinal 1 set 100 777\nfinal 2 reg 1 5\nfinal 2 set 100 777\n");
	CHECK(check_text(buf, &g) == 2, "an id nobody inserted is found");

	snprintf(buf, sizeof(buf), "%s%s", base,
			 "final 1 reg 1 5\nfinal 1 set 100\nfinal 2 reg 1 6\nfinal 2 set 100 200\n");
	CHECK(check_text(buf, &g) == 2, "diverging final tables are found");

	CHECK(check_text(base, &g) == 1, "a history without final reads is an anomaly");

	snprintf(buf, sizeof(buf), "%s%s",
			 "op 1 write 1 5 0 ok 1 10 20 1 00000\nop 2 read 1 0 0 ok 0 30 40 2 00000\n",
			 "final 1 reg 1 5\nfinal 1 set\n");
	CHECK(check_text(buf, &g) == 1, "a stale read in a parsed history is an anomaly");

	/* a final set line far longer than any line buffer */
	FILE	   *big = tmpfile();
	JepsenHistory h;
	char		err[128];

	if (big)
	{
		fprintf(big, "op 1 add 0 100 0 ok 1 50 60 1 00000\n");
		for (long id = 1000; id < 60000; id++)
			fprintf(big, "op 1 add 0 %ld 0 unknown 0 70 80 1 40003\n", id);
		fprintf(big, "final 1 set 100");
		for (long id = 1000; id < 60000; id++)
			fprintf(big, " %ld", id);
		fprintf(big, "\n");
		rewind(big);
		jepsen_history_init(&h);
		CHECK(jepsen_read_file(&h, big, err, sizeof(err)) == 0 && h.final[1].nset == 59001,
			  "a final set line of 59001 ids is read whole");
		jepsen_history_free(&h);
		fclose(big);
	}
	else
		CHECK(0, "tmpfile");

	jepsen_history_init(&h);
	CHECK(jepsen_parse_line(&h, "op 1 write 1 5 0 ok 1 30 20 1 00000", err, sizeof(err)) != 0,
		  "an op completing before its invocation is refused");
	CHECK(jepsen_parse_line(&h, "op 1 frob 1 5 0 ok 1 10 20 1 00000", err, sizeof(err)) != 0,
		  "an unknown op kind is refused");
	CHECK(jepsen_parse_line(&h, "fault stop node 2", err, sizeof(err)) == 0 && h.faults_stop == 1,
		  "fault lines are counted by kind");
	jepsen_history_free(&h);
}

int
main(void)
{
	test_hand_made();
	test_random();
	test_search_limit();
	test_long_call();
	test_many_unknown();
	test_set_and_final();
	printf("jepsen-unit: %d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
