/*
 * regress/jepsen/client.c — jepsen-client: concurrent clients against the
 * servers of a pg_raft cluster, writing a history for jepsen-check.
 *
 *   jepsen-client run   --out FILE --seconds S [--clients N] [--keys K]
 *                       [--seed S] [--op-timeout-ms MS]
 *                       [--read-consistency linearizable|lease|local] CONNINFO...
 *   jepsen-client final --out FILE [--keys K] CONNINFO...
 *
 * run: one thread per client; each connects to a random server (CONNINFO
 * i is server i+1) and loops until S seconds have passed: linearizable
 * reads, writes and compare-and-sets of registers reg(k, v), and inserts
 * of unique ids into jset.  One line per op (format in checker.h), with
 * invoke and completion times of CLOCK_MONOTONIC.  Every call is bounded
 * on the client side (poll with a deadline: a SIGSTOPped server never
 * answers) and by statement_timeout on the server.
 *
 * final: on every server, raft.barrier() then the registers and the set:
 * the reads as ops, and "final" lines.  Final reads are always
 * linearizable; --read-consistency local (or lease) for the run shows that
 * the checker finds the stale reads such a setting allows.
 *
 * Outcomes: ok; fail when the error proves the statement was not applied
 * (see definite_failure); unknown otherwise (connection lost, timeout,
 * 40003, 57014, a crash of the server, ...).
 */
#include <errno.h>
#include <inttypes.h>
#include <libpq-fe.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_SERVERS 8
#define MAX_CLIENTS 64
#define VALUE_STRIDE 10000000L	/* values and ids: client * stride + seq */

typedef struct
{
	const char *conninfo[MAX_SERVERS];
	int			nservers;
	int			clients;
	int			keys;
	int			seconds;
	unsigned	seed;
	int			op_timeout_ms;
	const char *read_consistency;	/* linearizable unless told */
	FILE	   *out;
	pthread_mutex_t out_lock;
	int64_t		deadline_ns;
} Config;

typedef struct
{
	Config	   *cfg;
	int			id;				/* 1-based */
	unsigned	rng;
	PGconn	   *conn;
	int			server;			/* 1-based, 0 when not connected */
	long		seq;
	long		known[64];		/* last value seen per key, for cas */
	long		counts[3];
} Client;

typedef enum { OUT_OK, OUT_FAIL, OUT_UNKNOWN } Outcome;

static int64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/*
 * Errors after which the statement was certainly not applied: raft.exec
 * checks the statement before proposing (0A000, 42xxx), deterministic
 * errors of the statement are its result everywhere (22xxx, 23xxx), and
 * 40001 says "never entered the log" or "lost at its place in the log".
 * Everything else (40003, 57014, 57P01, connection loss, 55000, 53xxx,
 * 40P01, XX000, ...) is unknown.
 */
static int
definite_failure(const char *sqlstate)
{
	if (!sqlstate || strlen(sqlstate) != 5)
		return 0;
	return strncmp(sqlstate, "22", 2) == 0 || strncmp(sqlstate, "23", 2) == 0 ||
		strncmp(sqlstate, "42", 2) == 0 || strncmp(sqlstate, "0A", 2) == 0 ||
		strcmp(sqlstate, "40001") == 0;
}

static void
disconnect(Client *c)
{
	if (c->conn)
		PQfinish(c->conn);
	c->conn = NULL;
	c->server = 0;
}

static int
connect_to(Client *c, int server)
{
	char		info[1024];

	disconnect(c);
	snprintf(info, sizeof(info),
			 "%s connect_timeout=2 application_name=jepsen-%d "
			 "options='-c statement_timeout=%d -c pg_raft.read_consistency=%s'",
			 c->cfg->conninfo[server - 1], c->id, c->cfg->op_timeout_ms,
			 c->id > 1000 ? "linearizable" : c->cfg->read_consistency);
	c->conn = PQconnectdb(info);
	if (PQstatus(c->conn) != CONNECTION_OK)
	{
		disconnect(c);
		return -1;
	}
	c->server = server;
	return 0;
}

/*
 * Runs one statement with a client-side deadline.  Returns the outcome;
 * *value is the first column of the first row (-1 if none), *sqlstate the
 * error's code ("00000" if ok, "CONN" when the connection failed).
 */
static Outcome
run_statement(Client *c, const char *sql, int nparams, const char *const *params,
			  long *value, char *sqlstate)
{
	int64_t		deadline = now_ns() + (int64_t) (c->cfg->op_timeout_ms + 3000) * 1000000;
	PGresult   *last = NULL;
	Outcome		outcome = OUT_UNKNOWN;

	*value = -1;
	strcpy(sqlstate, "CONN");
	if (!PQsendQueryParams(c->conn, sql, nparams, NULL, params, NULL, NULL, 0))
	{
		disconnect(c);
		return OUT_UNKNOWN;		/* it may have been sent */
	}
	for (;;)
	{
		if (!PQconsumeInput(c->conn))
			goto lost;
		while (!PQisBusy(c->conn))
		{
			PGresult   *r = PQgetResult(c->conn);

			if (!r)
				goto done;
			if (last)
				PQclear(last);
			last = r;
		}
		int64_t		left = deadline - now_ns();

		if (left <= 0)
			goto lost;
		struct pollfd pfd = {.fd = PQsocket(c->conn), .events = POLLIN};
		int			n = poll(&pfd, 1, (int) (left / 1000000) + 1);

		if (n < 0 && errno != EINTR)
			goto lost;
	}
done:
	if (!last)
		goto lost;
	if (PQresultStatus(last) == PGRES_TUPLES_OK)
	{
		if (PQntuples(last) > 0 && !PQgetisnull(last, 0, 0))
			*value = atol(PQgetvalue(last, 0, 0));
		strcpy(sqlstate, "00000");
		outcome = OUT_OK;
	}
	else
	{
		const char *code = PQresultErrorField(last, PG_DIAG_SQLSTATE);

		snprintf(sqlstate, 6, "%s", code ? code : "XXXXX");
		outcome = definite_failure(code) ? OUT_FAIL : OUT_UNKNOWN;
		/* a server going away: reconnect elsewhere */
		if (PQstatus(c->conn) != CONNECTION_OK)
			disconnect(c);
	}
	PQclear(last);
	return outcome;
lost:
	if (last)
		PQclear(last);
	disconnect(c);
	return OUT_UNKNOWN;
}

static void
record(Config *cfg, int client, const char *kind, int key, long a, long b,
	   Outcome outcome, long result, int64_t t0, int64_t t1, int server,
	   const char *sqlstate)
{
	static const char *names[] = {"ok", "fail", "unknown"};

	pthread_mutex_lock(&cfg->out_lock);
	fprintf(cfg->out, "op %d %s %d %ld %ld %s %ld %" PRId64 " %" PRId64 " %d %s\n",
			client, kind, key, a, b, names[outcome], result, t0, t1, server, sqlstate);
	fflush(cfg->out);
	pthread_mutex_unlock(&cfg->out_lock);
}

static void
one_op(Client *c)
{
	Config	   *cfg = c->cfg;
	int			r = rand_r(&c->rng) % 100;
	int			key = 1 + rand_r(&c->rng) % cfg->keys;
	long		fresh = c->id * VALUE_STRIDE + ++c->seq;
	char		p1[32], p2[32], p3[32];
	const char *params[3] = {p1, p2, p3};
	const char *kind;
	const char *sql;
	int			nparams;
	long		a = 0, b = 0;
	long		value;
	char		sqlstate[8];

	if (r < 35)
	{
		kind = "read";
		sql = "SELECT v FROM reg WHERE k = $1";
		nparams = 1;
		snprintf(p1, sizeof(p1), "%d", key);
	}
	else if (r < 55)
	{
		kind = "write";
		a = fresh;
		sql = "SELECT raft.exec('UPDATE reg SET v = $2 WHERE k = $1', $1::int, $2::bigint)";
		nparams = 2;
		snprintf(p1, sizeof(p1), "%d", key);
		snprintf(p2, sizeof(p2), "%ld", a);
	}
	else if (r < 80)
	{
		kind = "cas";
		a = c->known[key];
		b = fresh;
		sql = "SELECT raft.exec('UPDATE reg SET v = $3 WHERE k = $1 AND v = $2', "
			"$1::int, $2::bigint, $3::bigint)";
		nparams = 3;
		snprintf(p1, sizeof(p1), "%d", key);
		snprintf(p2, sizeof(p2), "%ld", a);
		snprintf(p3, sizeof(p3), "%ld", b);
	}
	else
	{
		kind = "add";
		a = fresh;
		key = 0;
		sql = "SELECT raft.exec('INSERT INTO jset (id, client) VALUES ($1, $2)', $1::bigint, $2::int)";
		nparams = 2;
		snprintf(p1, sizeof(p1), "%ld", a);
		snprintf(p2, sizeof(p2), "%d", c->id);
	}

	int64_t		t0 = now_ns();
	int			server = c->server;
	Outcome		o = run_statement(c, sql, nparams, params, &value, sqlstate);
	int64_t		t1 = now_ns();

	if (o == OUT_OK && strcmp(kind, "read") == 0)
		c->known[key] = value;
	else if (o == OUT_OK && strcmp(kind, "write") == 0)
		c->known[key] = a;
	else if (o == OUT_OK && strcmp(kind, "cas") == 0 && value == 1)
		c->known[key] = b;
	record(cfg, c->id, kind, key, a, b, o, o == OUT_OK ? value : 0, t0, t1, server, sqlstate);
	c->counts[o]++;
}

static void *
client_main(void *arg)
{
	Client	   *c = arg;
	Config	   *cfg = c->cfg;

	while (now_ns() < cfg->deadline_ns)
	{
		/* a random server at start and after every lost connection */
		if (!c->conn)
		{
			int			server = 1 + rand_r(&c->rng) % cfg->nservers;

			if (connect_to(c, server) != 0)
			{
				struct timespec pause = {0, 100 * 1000000};

				nanosleep(&pause, NULL);
				continue;
			}
		}
		one_op(c);
		/* now and then, move to another server */
		if (rand_r(&c->rng) % 50 == 0)
			disconnect(c);
	}
	disconnect(c);
	return NULL;
}

static int
run_clients(Config *cfg)
{
	pthread_t	threads[MAX_CLIENTS];
	Client		clients[MAX_CLIENTS];

	cfg->deadline_ns = now_ns() + (int64_t) cfg->seconds * 1000000000;
	for (int i = 0; i < cfg->clients; i++)
	{
		memset(&clients[i], 0, sizeof(Client));
		clients[i].cfg = cfg;
		clients[i].id = i + 1;
		clients[i].rng = cfg->seed * 7919u + (unsigned) i * 104729u + 1;
		if (pthread_create(&threads[i], NULL, client_main, &clients[i]) != 0)
		{
			fprintf(stderr, "jepsen-client: pthread_create failed\n");
			return 1;
		}
	}
	long		total[3] = {0, 0, 0};

	for (int i = 0; i < cfg->clients; i++)
	{
		pthread_join(threads[i], NULL);
		for (int o = 0; o < 3; o++)
			total[o] += clients[i].counts[o];
	}
	printf("jepsen-client: %d clients, ok=%ld fail=%ld unknown=%ld\n",
		   cfg->clients, total[0], total[1], total[2]);
	return 0;
}

/* Final reads on every server; a server that does not answer is skipped
 * (the caller checks that every server answered). */
static int
final_reads(Config *cfg)
{
	int			answered = 0;

	for (int s = 1; s <= cfg->nservers; s++)
	{
		Client		c;
		char		sqlstate[8];
		long		value;

		memset(&c, 0, sizeof(c));
		c.cfg = cfg;
		c.id = 1000 + s;
		if (connect_to(&c, s) != 0)
		{
			fprintf(stderr, "jepsen-client: server %d: no connection\n", s);
			continue;
		}
		if (run_statement(&c, "SELECT raft.barrier()", 0, NULL, &value, sqlstate) != OUT_OK)
		{
			fprintf(stderr, "jepsen-client: server %d: raft.barrier() failed: %s\n", s, sqlstate);
			disconnect(&c);
			continue;
		}
		for (int k = 1; k <= cfg->keys && c.conn; k++)
		{
			char		p1[16];
			const char *params[1] = {p1};

			snprintf(p1, sizeof(p1), "%d", k);
			int64_t		t0 = now_ns();
			Outcome		o = run_statement(&c, "SELECT v FROM reg WHERE k = $1", 1, params,
										  &value, sqlstate);
			int64_t		t1 = now_ns();

			record(cfg, c.id, "read", k, 0, 0, o, o == OUT_OK ? value : 0, t0, t1, s, sqlstate);
			if (o == OUT_OK)
				fprintf(cfg->out, "final %d reg %d %ld\n", s, k, value);
		}
		if (!c.conn)
			continue;
		/* the whole set, as one line, after another fence */
		PGresult   *r = PQexec(c.conn, "SELECT raft.barrier()");

		PQclear(r);
		r = PQexec(c.conn, "SELECT coalesce(string_agg(id::text, ' ' ORDER BY id), '') FROM jset");
		if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
		{
			fprintf(cfg->out, "final %d set %s\n", s, PQgetvalue(r, 0, 0));
			answered++;
		}
		else
			fprintf(stderr, "jepsen-client: server %d: set read failed: %s", s,
					PQerrorMessage(c.conn));
		PQclear(r);
		disconnect(&c);
	}
	fflush(cfg->out);
	printf("jepsen-client: final reads on %d of %d servers\n", answered, cfg->nservers);
	return answered == cfg->nservers ? 0 : 1;
}

static int
usage(void)
{
	fprintf(stderr,
			"usage: jepsen-client run --out FILE --seconds S [--clients N] [--keys K]\n"
			"                         [--seed S] [--op-timeout-ms MS]\n"
			"                         [--read-consistency linearizable|lease|local] CONNINFO...\n"
			"       jepsen-client final --out FILE [--keys K] CONNINFO...\n");
	return 2;
}

int
main(int argc, char **argv)
{
	Config		cfg;
	const char *out = NULL;

	memset(&cfg, 0, sizeof(cfg));
	cfg.clients = 8;
	cfg.keys = 5;
	cfg.op_timeout_ms = 5000;
	cfg.seed = 1;
	cfg.read_consistency = "linearizable";
	if (argc < 2)
		return usage();
	const char *mode = argv[1];

	for (int i = 2; i < argc; i++)
	{
		const char *arg = argv[i];
		const char *val = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(arg, "--out") == 0 && val)
			out = val, i++;
		else if (strcmp(arg, "--seconds") == 0 && val)
			cfg.seconds = atoi(val), i++;
		else if (strcmp(arg, "--clients") == 0 && val)
			cfg.clients = atoi(val), i++;
		else if (strcmp(arg, "--keys") == 0 && val)
			cfg.keys = atoi(val), i++;
		else if (strcmp(arg, "--seed") == 0 && val)
			cfg.seed = (unsigned) strtoul(val, NULL, 10), i++;
		else if (strcmp(arg, "--read-consistency") == 0 && val &&
				 (strcmp(val, "linearizable") == 0 || strcmp(val, "lease") == 0 ||
				  strcmp(val, "local") == 0))
			cfg.read_consistency = val, i++;
		else if (strcmp(arg, "--op-timeout-ms") == 0 && val)
			cfg.op_timeout_ms = atoi(val), i++;
		else if (arg[0] != '-' && cfg.nservers < MAX_SERVERS)
			cfg.conninfo[cfg.nservers++] = arg;
		else
			return usage();
	}
	if (!out || cfg.nservers == 0 || cfg.keys < 1 || cfg.keys > 63 ||
		cfg.clients < 1 || cfg.clients > MAX_CLIENTS || cfg.op_timeout_ms < 100)
		return usage();
	cfg.out = fopen(out, "a");
	if (!cfg.out)
	{
		perror(out);
		return 2;
	}
	pthread_mutex_init(&cfg.out_lock, NULL);

	int			status;

	if (strcmp(mode, "run") == 0 && cfg.seconds > 0 && cfg.seconds <= 86400)
		status = run_clients(&cfg);
	else if (strcmp(mode, "final") == 0)
		status = final_reads(&cfg);
	else
		status = usage();
	fclose(cfg.out);
	return status;
}
