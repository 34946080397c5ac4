/*
 * regress/jepsen/checker.h — the history of a Jepsen-style run of pg_raft
 * and its checks: linearizability of each compare-and-set register, lost,
 * duplicated and phantom inserts of the set workload, and divergence of the
 * final tables between servers.
 *
 * A history is a text file, one event per line (see README.md):
 *
 *   op <client> <kind> <key> <a> <b> <outcome> <result> <t0> <t1> <server> <sqlstate>
 *   fault <kind> <detail...>
 *   final <server> reg <key> <value>
 *   final <server> set <id> <id> ...
 *
 * kind is read, write, cas or add; outcome ok, fail (definitely not
 * applied) or unknown (may or may not be applied: its completion time is
 * taken as infinity); t0 and t1 are invoke and completion times in
 * nanoseconds of one monotonic clock.
 */
#ifndef JEPSEN_CHECKER_H
#define JEPSEN_CHECKER_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef enum
{
	JOP_READ,
	JOP_WRITE,
	JOP_CAS,
	JOP_ADD
} JepsenKind;

typedef enum
{
	JOUT_OK,
	JOUT_FAIL,
	JOUT_UNKNOWN
} JepsenOutcome;

typedef struct
{
	int			client;
	JepsenKind	kind;
	int			key;
	long		a;				/* write: value; cas: old; add: id */
	long		b;				/* cas: new */
	JepsenOutcome outcome;
	long		result;			/* read: value (-1 none); cas: rows (0/1) */
	int64_t		t0;
	int64_t		t1;
	int			server;
} JepsenOp;

#define JEPSEN_MAX_SERVERS 8
#define JEPSEN_MAX_KEYS 64

typedef struct
{
	int			present;		/* a final line was read for this server */
	long		reg[JEPSEN_MAX_KEYS];	/* -1: no row */
	long	   *set;			/* ids as listed (sorted by the reader) */
	size_t		nset;
} JepsenFinal;

typedef struct
{
	JepsenOp   *ops;
	size_t		nops;
	size_t		cap;
	int			faults_kill9;
	int			faults_stop;
	int			faults_partition;
	int			faults_other;
	JepsenFinal final[JEPSEN_MAX_SERVERS + 1];	/* by server id */
} JepsenHistory;

typedef enum
{
	JLIN_OK,					/* a linearization was found */
	JLIN_VIOLATION,				/* none exists */
	JLIN_GAVE_UP				/* search limit reached */
} JepsenLinVerdict;

typedef struct
{
	JepsenLinVerdict verdict;
	long		states;			/* states visited */
	size_t		ops;			/* operations considered */
	size_t		deepest;		/* most definite ops linearized at once */
	JepsenOp	stuck;			/* violation: a definite op never linearized
								 * at the deepest point */
	long		stuck_state;	/* register value there */
} JepsenLinResult;

void		jepsen_history_init(JepsenHistory *h);
void		jepsen_history_free(JepsenHistory *h);

/* Parses one line into h; returns 0, or -1 with a message in err. */
int			jepsen_parse_line(JepsenHistory *h, const char *line,
							  char *err, size_t errlen);
int			jepsen_read_file(JepsenHistory *h, FILE *f, char *err, size_t errlen);

/*
 * Is the register `key` linearizable, starting from value `initial`?  ops
 * are every op of the history (those of other keys and kinds are skipped).
 * max_states bounds the search.
 */
JepsenLinResult jepsen_check_register(const JepsenOp *ops, size_t nops, int key,
									  long initial, long max_states);

/* Lost, duplicated, failed-but-applied and phantom inserts; divergence of
 * the final tables.  Print one line per anomaly; return their number. */
int			jepsen_check_set(const JepsenHistory *h, FILE *out);
int			jepsen_check_divergence(const JepsenHistory *h, FILE *out);
void		jepsen_print_op(FILE *out, const JepsenOp *op);

/*
 * Every check; prints one line per anomaly and the verdict line to out.
 * Returns the number of anomalies; *gave_up counts registers whose search
 * hit the limit.
 */
int			jepsen_check_all(const JepsenHistory *h, int nkeys, long max_states,
							 FILE *out, int *gave_up);

#endif							/* JEPSEN_CHECKER_H */
