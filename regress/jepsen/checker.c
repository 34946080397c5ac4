/*
 * regress/jepsen/checker.c — checks a Jepsen-style history of pg_raft (see
 * checker.h for the format).
 *
 * Registers: a depth-first search for a linearization (Wing & Gong; the
 * candidate rule and the memo over (linearized set, value) as in Lowe,
 * "Testing for linearizability", 2017, and Knossos).  An op may be
 * linearized next iff it was invoked before the earliest completion of the
 * ops still pending.  Ops whose outcome is unknown have completion time
 * infinity and may also never take effect; failed ops are dropped, as are
 * reads that did not complete.  A read (or a cas that found another value)
 * that is valid in the current state is linearized at once without
 * branching: it changes nothing, and linearizing it earlier only relaxes
 * the rule for the others.  Writes and successful cas are tried earliest
 * completion first (a call that lasted across a failover is placed late,
 * where a read needs its value).  An unknown op whose value no read
 * returned and no cas expected is only tried where a cas that found
 * another value needs the value to differ, and then only one such write
 * and one such cas: they are interchangeable.  The linearized set is
 * hashed incrementally (Zobrist, 128 bits) into the memo; the search stops
 * at max_states and says so instead of hanging.
 *
 * The set and the final tables: check_tables.c.
 */
#include "checker.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define T_INFINITY INT64_MAX

void
jepsen_history_init(JepsenHistory *h)
{
	memset(h, 0, sizeof(*h));
}

void
jepsen_history_free(JepsenHistory *h)
{
	free(h->ops);
	for (int i = 0; i <= JEPSEN_MAX_SERVERS; i++)
		free(h->final[i].set);
	memset(h, 0, sizeof(*h));
}

static int
parse_kind(const char *s, JepsenKind *k)
{
	if (strcmp(s, "read") == 0)
		*k = JOP_READ;
	else if (strcmp(s, "write") == 0)
		*k = JOP_WRITE;
	else if (strcmp(s, "cas") == 0)
		*k = JOP_CAS;
	else if (strcmp(s, "add") == 0)
		*k = JOP_ADD;
	else
		return -1;
	return 0;
}

static int
parse_outcome(const char *s, JepsenOutcome *o)
{
	if (strcmp(s, "ok") == 0)
		*o = JOUT_OK;
	else if (strcmp(s, "fail") == 0)
		*o = JOUT_FAIL;
	else if (strcmp(s, "unknown") == 0)
		*o = JOUT_UNKNOWN;
	else
		return -1;
	return 0;
}

static int
cmp_long(const void *x, const void *y)
{
	long		a = *(const long *) x;
	long		b = *(const long *) y;

	return (a > b) - (a < b);
}

static int
parse_final(JepsenHistory *h, const char *line, char *err, size_t errlen)
{
	int			server;
	char		what[8];
	int			used = 0;

	if (sscanf(line, "final %d %7s %n", &server, what, &used) != 2 ||
		server < 1 || server > JEPSEN_MAX_SERVERS)
	{
		snprintf(err, errlen, "bad final line");
		return -1;
	}
	JepsenFinal *f = &h->final[server];

	if (!f->present)
	{
		f->present = 1;
		for (int k = 0; k < JEPSEN_MAX_KEYS; k++)
			f->reg[k] = -1;
	}
	if (strcmp(what, "reg") == 0)
	{
		int			key;
		long		value;

		if (sscanf(line + used, "%d %ld", &key, &value) != 2 ||
			key < 0 || key >= JEPSEN_MAX_KEYS)
		{
			snprintf(err, errlen, "bad final reg line");
			return -1;
		}
		f->reg[key] = value;
		return 0;
	}
	if (strcmp(what, "set") != 0)
	{
		snprintf(err, errlen, "bad final line: %s", what);
		return -1;
	}
	const char *p = line + used;

	for (;;)
	{
		char	   *end;
		long		id = strtol(p, &end, 10);

		if (end == p)
			break;
		if ((f->nset & (f->nset - 1)) == 0)	/* 0, 1, 2, 4, ...: double */
		{
			long	   *grown = realloc(f->set, (f->nset ? 2 * f->nset : 1) * sizeof(long));

			if (!grown)
			{
				snprintf(err, errlen, "out of memory");
				return -1;
			}
			f->set = grown;
		}
		f->set[f->nset++] = id;
		p = end;
	}
	qsort(f->set, f->nset, sizeof(long), cmp_long);
	return 0;
}

int
jepsen_parse_line(JepsenHistory *h, const char *line, char *err, size_t errlen)
{
	while (*line == ' ' || *line == '\t')
		line++;
	if (*line == '\0' || *line == '\n' || *line == '#')
		return 0;
	if (strncmp(line, "fault ", 6) == 0)
	{
		char		kind[32];

		if (sscanf(line + 6, "%31s", kind) != 1)
		{
			snprintf(err, errlen, "bad fault line");
			return -1;
		}
		if (strcmp(kind, "kill9") == 0)
			h->faults_kill9++;
		else if (strcmp(kind, "stop") == 0)
			h->faults_stop++;
		else if (strcmp(kind, "partition") == 0)
			h->faults_partition++;
		else
			h->faults_other++;
		return 0;
	}
	if (strncmp(line, "final ", 6) == 0)
		return parse_final(h, line, err, errlen);
	if (strncmp(line, "op ", 3) != 0)
	{
		snprintf(err, errlen, "unknown line kind");
		return -1;
	}

	JepsenOp	op;
	char		kind[16];
	char		outcome[16];
	char		sqlstate[16];

	memset(&op, 0, sizeof(op));
	if (sscanf(line, "op %d %15s %d %ld %ld %15s %ld %" SCNd64 " %" SCNd64 " %d %15s",
			   &op.client, kind, &op.key, &op.a, &op.b, outcome, &op.result,
			   &op.t0, &op.t1, &op.server, sqlstate) != 11 ||
		parse_kind(kind, &op.kind) != 0 || parse_outcome(outcome, &op.outcome) != 0)
	{
		snprintf(err, errlen, "bad op line");
		return -1;
	}
	if (op.t1 < op.t0 || op.key < 0 || op.key >= JEPSEN_MAX_KEYS)
	{
		snprintf(err, errlen, "op completes before it is invoked, or bad key");
		return -1;
	}
	if (h->nops == h->cap)
	{
		size_t		cap = h->cap ? h->cap * 2 : 1024;
		JepsenOp   *grown = realloc(h->ops, cap * sizeof(JepsenOp));

		if (!grown)
		{
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		h->ops = grown;
		h->cap = cap;
	}
	h->ops[h->nops++] = op;
	return 0;
}

int
jepsen_read_file(JepsenHistory *h, FILE *f, char *err, size_t errlen)
{
	char	   *line = NULL;
	size_t		size = 0;
	long		lineno = 0;

	/* getline: a final set line of a soak holds every id, megabytes */
	while (getline(&line, &size, f) >= 0)
	{
		char		why[128];

		lineno++;
		if (jepsen_parse_line(h, line, why, sizeof(why)) != 0)
		{
			snprintf(err, errlen, "line %ld: %s", lineno, why);
			free(line);
			return -1;
		}
	}
	free(line);
	return 0;
}

/* --- registers ------------------------------------------------------------ */

typedef struct
{
	JepsenOp	op;
	int64_t		t1;				/* T_INFINITY when unknown */
	uint64_t	z1;
	uint64_t	z2;
	unsigned char done;
	unsigned char observed;		/* unknown op: some read or cas names its value */
} LinOp;

typedef struct
{
	LinOp	   *def;			/* definite ops, by invoke time */
	size_t		ndef;
	LinOp	   *unk;			/* unknown writes and cas, by invoke time */
	size_t		nunk;
	size_t		remaining;		/* definite ops not yet linearized */
	uint64_t	h1;
	uint64_t	h2;
	uint64_t   *memo;			/* pairs; (0,0) is empty */
	size_t		memo_cap;		/* in pairs, a power of two */
	size_t		memo_used;
	long		max_states;
	int			gave_up;
	int			found;
	long		initial;
	JepsenLinResult *res;
} Search;

static uint64_t
splitmix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

static int
cmp_linop(const void *x, const void *y)
{
	const LinOp *a = x;
	const LinOp *b = y;

	return (a->op.t0 > b->op.t0) - (a->op.t0 < b->op.t0);
}

/* Inserts the state; returns 1 if it was new, 0 if seen, -1 on no memory. */
static int
memo_insert(Search *s, uint64_t k1, uint64_t k2)
{
	if (k1 == 0 && k2 == 0)
		k2 = 1;
	if ((s->memo_used + 1) * 2 > s->memo_cap)
	{
		size_t		cap = s->memo_cap ? s->memo_cap * 2 : 1 << 16;
		uint64_t   *tab = calloc(cap * 2, sizeof(uint64_t));

		if (!tab)
			return -1;
		for (size_t i = 0; i < s->memo_cap; i++)
		{
			uint64_t	a = s->memo[2 * i];
			uint64_t	b = s->memo[2 * i + 1];

			if (a == 0 && b == 0)
				continue;
			size_t		j = a & (cap - 1);

			while (tab[2 * j] || tab[2 * j + 1])
				j = (j + 1) & (cap - 1);
			tab[2 * j] = a;
			tab[2 * j + 1] = b;
		}
		free(s->memo);
		s->memo = tab;
		s->memo_cap = cap;
	}
	size_t		j = k1 & (s->memo_cap - 1);

	while (s->memo[2 * j] || s->memo[2 * j + 1])
	{
		if (s->memo[2 * j] == k1 && s->memo[2 * j + 1] == k2)
			return 0;
		j = (j + 1) & (s->memo_cap - 1);
	}
	s->memo[2 * j] = k1;
	s->memo[2 * j + 1] = k2;
	s->memo_used++;
	return 1;
}

/* Does op apply in state value?  Sets *next to the value after it. */
static int
op_valid(const LinOp *l, long value, long *next)
{
	const JepsenOp *op = &l->op;

	*next = value;
	switch (op->kind)
	{
		case JOP_READ:
			return op->result == value;
		case JOP_WRITE:
			*next = op->a;
			return 1;
		case JOP_CAS:
			if (op->outcome == JOUT_UNKNOWN || op->result == 1)
			{
				*next = op->b;
				return value == op->a;
			}
			return value != op->a;
		case JOP_ADD:
			break;
	}
	return 0;
}

static int	search(Search *s, size_t p, long value);

static int
try_op(Search *s, LinOp *l, size_t p, long next)
{
	int			r;

	l->done = 1;
	s->h1 ^= l->z1;
	s->h2 ^= l->z2;
	if (l->t1 != T_INFINITY)
		s->remaining--;
	r = search(s, p, next);
	if (l->t1 != T_INFINITY)
		s->remaining++;
	s->h1 ^= l->z1;
	s->h2 ^= l->z2;
	l->done = 0;
	return r;
}

static int
search(Search *s, size_t p, long value)
{
	if (s->remaining == 0)
		return 1;
	while (p < s->ndef && s->def[p].done)
		p++;

	uint64_t	v = splitmix((uint64_t) value);
	int			fresh = memo_insert(s, s->h1 ^ v, s->h2 ^ splitmix(v));

	if (fresh < 0 || s->res->states >= s->max_states)
	{
		s->gave_up = 1;
		return 0;
	}
	if (fresh == 0)
		return 0;
	s->res->states++;
	if (s->ndef - s->remaining > s->res->deepest || s->res->states == 1)
	{
		s->res->deepest = s->ndef - s->remaining;
		s->res->stuck = s->def[p].op;
		s->res->stuck_state = value;
	}

	/* the earliest completion among pending definite ops */
	int64_t		minret = T_INFINITY;

	for (size_t i = p; i < s->ndef && s->def[i].op.t0 <= minret; i++)
		if (!s->def[i].done && s->def[i].t1 < minret)
			minret = s->def[i].t1;

	/* an op that changes nothing and is valid now: take it, no branching */
	int			blocked_cas = 0;

	for (size_t i = p; i < s->ndef && s->def[i].op.t0 <= minret; i++)
	{
		LinOp	   *l = &s->def[i];
		long		next;

		if (l->done)
			continue;
		if (l->op.kind == JOP_CAS && l->op.result == 0 && l->op.a == value)
			blocked_cas = 1;
		if (!op_valid(l, value, &next) || next != value)
			continue;
		if (l->op.kind == JOP_READ || (l->op.kind == JOP_CAS && l->op.result == 0))
			return try_op(s, l, p, value);
	}
	/*
	 * Writes and successful cas, earliest completion first: an op that may
	 * complete late is tried late, so a long call (say, across a failover)
	 * is placed where a read needs its value instead of first.
	 */
	int64_t		last_t1 = INT64_MIN;
	size_t		last_i = 0;

	for (;;)
	{
		size_t		best = SIZE_MAX;

		for (size_t i = p; i < s->ndef && s->def[i].op.t0 <= minret; i++)
		{
			LinOp	   *l = &s->def[i];

			if (l->done || l->op.kind == JOP_READ ||
				(l->op.kind == JOP_CAS && l->op.result == 0))
				continue;
			if (l->t1 < last_t1 || (l->t1 == last_t1 && i <= last_i))
				continue;		/* tried already */
			if (best == SIZE_MAX || l->t1 < s->def[best].t1)
				best = i;
		}
		if (best == SIZE_MAX)
			break;
		last_t1 = s->def[best].t1;
		last_i = best;

		LinOp	   *l = &s->def[best];
		long		next;

		if (!op_valid(l, value, &next))
			continue;
		if (try_op(s, l, p, next))
			return 1;
		if (s->gave_up)
			return 0;
	}
	int			tried_cas = 0;
	int			tried_write = 0;

	for (size_t j = 0; j < s->nunk && s->unk[j].op.t0 <= minret; j++)
	{
		LinOp	   *l = &s->unk[j];
		long		next;

		if (l->done || !op_valid(l, value, &next))
			continue;

		/*
		 * An unknown op whose value nobody read or compared can only help
		 * a cas that must find another value than the current one: try it
		 * only then.  (Linearized later instead, the same ops stay valid:
		 * the pending set and so the candidate rule do not depend on it.)
		 */
		if (!l->observed && !blocked_cas)
			continue;

		/*
		 * Unobserved unknown writes are interchangeable (always valid, a
		 * value nobody looks at), and so are unobserved unknown cas valid
		 * now (same old value: values are unique): try one of each.
		 */
		if (!l->observed)
		{
			int		   *tried = l->op.kind == JOP_CAS ? &tried_cas : &tried_write;

			if (*tried)
				continue;
			*tried = 1;
		}
		if (try_op(s, l, p, next))
			return 1;
		if (s->gave_up)
			return 0;
	}
	return 0;
}

/* Which unknown ops write a value that some read returned or some cas
 * expected. */
static void
mark_observed(Search *s)
{
	long	   *seen = malloc((s->ndef + s->nunk + 1) * sizeof(long));
	size_t		n = 0;

	if (!seen)
	{
		for (size_t j = 0; j < s->nunk; j++)
			s->unk[j].observed = 1;
		return;
	}
	for (size_t i = 0; i < s->ndef; i++)
		if (s->def[i].op.kind == JOP_READ)
			seen[n++] = s->def[i].op.result;
		else if (s->def[i].op.kind == JOP_CAS)
			seen[n++] = s->def[i].op.a;
	for (size_t j = 0; j < s->nunk; j++)
		if (s->unk[j].op.kind == JOP_CAS)
			seen[n++] = s->unk[j].op.a;
	qsort(seen, n, sizeof(long), cmp_long);
	for (size_t j = 0; j < s->nunk; j++)
	{
		long		v = s->unk[j].op.kind == JOP_CAS ? s->unk[j].op.b : s->unk[j].op.a;

		s->unk[j].observed = bsearch(&v, seen, n, sizeof(long), cmp_long) != NULL;
	}
	free(seen);
}

static void *
search_thread(void *arg)
{
	Search	   *s = arg;

	s->found = search(s, 0, s->initial);
	return NULL;
}

JepsenLinResult
jepsen_check_register(const JepsenOp *ops, size_t nops, int key, long initial,
					  long max_states)
{
	JepsenLinResult res;
	Search		s;

	memset(&res, 0, sizeof(res));
	memset(&s, 0, sizeof(s));
	s.def = calloc(nops ? nops : 1, sizeof(LinOp));
	s.unk = calloc(nops ? nops : 1, sizeof(LinOp));
	s.max_states = max_states;
	s.res = &res;
	if (!s.def || !s.unk)
	{
		free(s.def);
		free(s.unk);
		res.verdict = JLIN_GAVE_UP;
		return res;
	}
	for (size_t i = 0; i < nops; i++)
	{
		const JepsenOp *op = &ops[i];

		if (op->key != key || op->kind == JOP_ADD || op->outcome == JOUT_FAIL)
			continue;
		if (op->outcome == JOUT_UNKNOWN)
		{
			if (op->kind == JOP_READ)
				continue;		/* observed nothing, changed nothing */
			s.unk[s.nunk].op = *op;
			s.unk[s.nunk].t1 = T_INFINITY;
			s.nunk++;
		}
		else
		{
			s.def[s.ndef].op = *op;
			s.def[s.ndef].t1 = op->t1;
			s.ndef++;
		}
	}
	qsort(s.def, s.ndef, sizeof(LinOp), cmp_linop);
	qsort(s.unk, s.nunk, sizeof(LinOp), cmp_linop);
	mark_observed(&s);
	for (size_t i = 0; i < s.ndef; i++)
	{
		s.def[i].z1 = splitmix(2 * i + 1);
		s.def[i].z2 = splitmix(splitmix(2 * i + 1) ^ 0x5bd1e995);
	}
	for (size_t j = 0; j < s.nunk; j++)
	{
		s.unk[j].z1 = splitmix(2 * j + 2);
		s.unk[j].z2 = splitmix(splitmix(2 * j + 2) ^ 0x5bd1e995);
	}
	s.remaining = s.ndef;
	s.initial = initial;
	res.ops = s.ndef + s.nunk;

	/*
	 * The search recurses once per linearized op: run it on a thread whose
	 * stack fits the history (pages are only touched as deep as it goes).
	 */
	pthread_attr_t attr;
	pthread_t	thread;
	size_t		stack = (size_t) 1 << 20;

	stack += (s.ndef + s.nunk) * 512;
	pthread_attr_init(&attr);
	if (pthread_attr_setstacksize(&attr, stack) != 0 ||
		pthread_create(&thread, &attr, search_thread, &s) != 0)
		s.gave_up = 1;
	else
		pthread_join(thread, NULL);
	pthread_attr_destroy(&attr);
	if (s.found)
		res.verdict = JLIN_OK;
	else
		res.verdict = s.gave_up ? JLIN_GAVE_UP : JLIN_VIOLATION;
	free(s.def);
	free(s.unk);
	free(s.memo);
	return res;
}

int
jepsen_check_all(const JepsenHistory *h, int nkeys, long max_states, FILE *out,
				 int *gave_up)
{
	int			anomalies = 0;
	long		counts[3] = {0, 0, 0};

	*gave_up = 0;
	for (size_t i = 0; i < h->nops; i++)
		counts[h->ops[i].outcome]++;
	for (int key = 1; key <= nkeys && key < JEPSEN_MAX_KEYS; key++)
	{
		JepsenLinResult r = jepsen_check_register(h->ops, h->nops, key, 0, max_states);

		switch (r.verdict)
		{
			case JLIN_OK:
				fprintf(out, "register %d: linearizable (%zu ops, %ld states)\n",
						key, r.ops, r.states);
				break;
			case JLIN_GAVE_UP:
				fprintf(out, "register %d: unknown: search limit (%zu ops, %ld states)\n",
						key, r.ops, r.states);
				(*gave_up)++;
				break;
			case JLIN_VIOLATION:
				fprintf(out, "ANOMALY register %d: not linearizable (%zu ops, %ld states); "
						"at most %zu of the definite ops linearize, then value %ld and nothing fits; first pending: ",
						key, r.ops, r.states, r.deepest, r.stuck_state);
				jepsen_print_op(out, &r.stuck);
				fputc('\n', out);
				anomalies++;
				break;
		}
	}
	anomalies += jepsen_check_set(h, out);
	anomalies += jepsen_check_divergence(h, out);
	fprintf(out, "jepsen: ops ok=%ld failed=%ld unknown=%ld, faults kill9=%d stop=%d partition=%d, anomalies=%d%s\n",
			counts[JOUT_OK], counts[JOUT_FAIL], counts[JOUT_UNKNOWN],
			h->faults_kill9, h->faults_stop, h->faults_partition, anomalies,
			*gave_up ? " (unknown: search limit on some register)" : "");
	return anomalies;
}
