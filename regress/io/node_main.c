/*
 * regress/io/node_main.c — raft-node: options, start-up (open the log,
 * bootstrap or load the core, start the transport and the control
 * channel) and the loop with its tick timer.
 *
 *   raft-node --id 1 --dir D --listen 127.0.0.1:P
 *             --peers 1=127.0.0.1:P1,2=127.0.0.2:P2,3=127.0.0.3:P3
 *             --secret S --cluster-id C [--control 127.0.0.1:CP]
 *             [--tick-ms 20] [--election-ticks 10] [--verbose]
 *
 * The cluster id is a number, or any other string hashed (FNV-1a 64).
 * Exit status: 2 if the log refuses to open (the message names file and
 * offset), 1 for other fatal errors.  It stops only when killed.
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "node.h"

void
node_fatal(const char *fmt,...)
{
	va_list		ap;

	va_start(ap, fmt);
	fprintf(stderr, "raft-node: FATAL: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	exit(1);
}

void
node_logf(struct node *n, const char *fmt,...)
{
	va_list		ap;
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	va_start(ap, fmt);
	fprintf(stderr, "%lld.%03ld node %llu: ", (long long) ts.tv_sec,
			ts.tv_nsec / 1000000, (unsigned long long) n->id);
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
}

static void
transport_log(void *arg, int level, const char *line)
{
	node_logf(arg, "%s", line);
}

static void
core_trace(void *arg, raft_id id, const char *line)
{
	node_logf(arg, "core: %s", line);
}

static void
on_message(struct raft_transport *t, const struct raft_message *m, void *arg)
{
	struct node *n = arg;
	int			rc = raft_step(n->raft, m);

	if (rc != RAFT_OK && n->verbose)
		node_logf(n, "step (type %u from %llu): %s", (unsigned) m->type,
				  (unsigned long long) m->from, raft_strerror(rc));
	node_schedule_ready(n);
}

static void
on_tick(uv_timer_t *timer)
{
	struct node *n = timer->data;

	raft_tick(n->raft);
	node_report_unreachable(n);
	node_expire_pending(n);
	node_schedule_ready(n);
}

static uint64_t
parse_cluster_id(const char *s)
{
	char	   *end;
	unsigned long long v;
	uint64_t	h = 14695981039346656037ULL;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (*s != '\0' && *end == '\0' && errno == 0)
		return v;
	for (; *s; s++)
	{
		h ^= (uint8_t) *s;
		h *= 1099511628211ULL;
	}
	return h;
}

/* "1=host:port,2=host:port" into a configuration of voters. */
static void
parse_peers(const char *spec, struct raft_config *c)
{
	char		copy[4096];
	char	   *save = NULL;

	memset(c, 0, sizeof(*c));
	if (strlen(spec) >= sizeof(copy))
		node_fatal("--peers is too long");
	strcpy(copy, spec);
	for (char *item = strtok_r(copy, ",", &save); item != NULL;
		 item = strtok_r(NULL, ",", &save))
	{
		char	   *eq = strchr(item, '=');
		struct raft_member *m;

		if (eq == NULL || c->n >= RAFT_MAX_MEMBERS)
			node_fatal("bad --peers item \"%s\"", item);
		*eq = '\0';
		m = &c->members[c->n++];
		m->id = strtoull(item, NULL, 10);
		m->flags = RAFT_VOTER_NEW;
		if (m->id == RAFT_NONE || strlen(eq + 1) >= RAFT_ADDR_LEN)
			node_fatal("bad --peers item \"%s=%s\"", item, eq + 1);
		strcpy(m->addr, eq + 1);
	}
	if (c->n == 0)
		node_fatal("--peers is empty");
}

static void
usage(void)
{
	fprintf(stderr, "usage: raft-node --id N --dir D --listen HOST:PORT "
			"--peers ID=HOST:PORT,... --secret S --cluster-id C "
			"[--control HOST:PORT] [--tick-ms MS] [--election-ticks N] "
			"[--verbose]\n");
	exit(1);
}

static void
open_log(struct node *n)
{
	struct raft_log_loaded loaded;
	int			rc;

	if (mkdir(n->dir, 0700) != 0 && errno != EEXIST)
		node_fatal("mkdir %s: %s", n->dir, strerror(errno));
	rc = raft_log_open(n->log_dir, NULL, &n->log, &loaded);
	if (rc != RAFT_OK)
	{
		fprintf(stderr, "raft-node: cannot open the log: %s: %s\n",
				raft_strerror(rc), loaded.error);
		exit(2);
	}
	if (loaded.repaired)
		node_logf(n, "log repaired: %s", loaded.report);
	if (loaded.fresh)
	{
		rc = raft_bootstrap(n->raft, &n->initial);
		if (rc != RAFT_OK)
			node_fatal("bootstrap: %s", raft_strerror(rc));
		node_logf(n, "bootstrapped a new cluster of %u", (unsigned) n->initial.n);
	}
	else
	{
		rc = raft_load(n->raft, &loaded.hard_state,
					   loaded.snapshot.index > 0 ? &loaded.snapshot : NULL,
					   loaded.entries, loaded.n_entries);
		if (rc != RAFT_OK)
			node_fatal("load: %s", raft_strerror(rc));
		node_logf(n, "loaded term %llu commit %llu, %zu entries",
				  (unsigned long long) loaded.hard_state.term,
				  (unsigned long long) loaded.hard_state.commit,
				  loaded.n_entries);
	}
	raft_log_loaded_free(&loaded);
}

int
main(int argc, char **argv)
{
	static struct node node;
	struct node *n = &node;
	const char *listen = NULL;
	const char *peers = NULL;
	const char *secret = NULL;
	const char *cluster = NULL;
	const char *control = NULL;
	unsigned	election_ticks = 10;
	struct raft_options ropt;
	struct raft_transport_options topt;
	int			rc;

	n->tick_ms = 20;
	for (int i = 1; i < argc; i++)
	{
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(a, "--verbose") == 0)
		{
			n->verbose = true;
			continue;
		}
		if (v == NULL)
			usage();
		i++;
		if (strcmp(a, "--id") == 0)
			n->id = strtoull(v, NULL, 10);
		else if (strcmp(a, "--dir") == 0)
			snprintf(n->dir, sizeof(n->dir), "%s", v);
		else if (strcmp(a, "--listen") == 0)
			listen = v;
		else if (strcmp(a, "--peers") == 0)
			peers = v;
		else if (strcmp(a, "--secret") == 0)
			secret = v;
		else if (strcmp(a, "--cluster-id") == 0)
			cluster = v;
		else if (strcmp(a, "--control") == 0)
			control = v;
		else if (strcmp(a, "--tick-ms") == 0)
			n->tick_ms = (unsigned) strtoul(v, NULL, 10);
		else if (strcmp(a, "--election-ticks") == 0)
			election_ticks = (unsigned) strtoul(v, NULL, 10);
		else
			usage();
	}
	if (n->id == RAFT_NONE || n->dir[0] == '\0' || listen == NULL ||
		peers == NULL || secret == NULL || cluster == NULL ||
		n->tick_ms == 0 || election_ticks < 2)
		usage();
	parse_peers(peers, &n->initial);
	if (raft_config_find(&n->initial, n->id) == NULL)
		node_fatal("--peers does not name this node (%llu)",
				   (unsigned long long) n->id);
	if (strlen(n->dir) + 16 > sizeof(n->log_dir))
		node_fatal("--dir is too long");
	strcat(strcpy(n->log_dir, n->dir), "/log");
	strcat(strcpy(n->applied_path, n->dir), "/applied");
	setvbuf(stderr, NULL, _IOLBF, 0);
	/* A write to a peer that just died must be an error, not a signal. */
	signal(SIGPIPE, SIG_IGN);

	raft_options_default(&ropt, n->id, (uint64_t) getpid() * 2654435761u ^ n->id);
	ropt.election_ticks = election_ticks;
	ropt.heartbeat_ticks = 1;
	ropt.max_msg_bytes = 1024 * 1024;
	if (n->verbose)
	{
		ropt.trace = core_trace;
		ropt.trace_arg = n;
	}
	n->raft = raft_new(&ropt);
	if (n->raft == NULL)
		node_fatal("raft_new failed");
	open_log(n);
	if (node_load_applied(n) != 0)
		node_fatal("cannot read %s", n->applied_path);

	n->loop = uv_default_loop();
	raft_transport_options_default(&topt);
	topt.id = n->id;
	topt.listen_addr = listen;
	topt.cluster_id = parse_cluster_id(cluster);
	topt.secret = secret;
	topt.secret_len = strlen(secret);
	topt.seed = (uint64_t) getpid() ^ (n->id << 32);
	topt.backoff_min_ms = 20;
	topt.backoff_max_ms = 500;
	topt.log_interval_ms = 2000;
	topt.on_message = on_message;
	topt.log = transport_log;
	topt.arg = n;
	rc = raft_transport_new(n->loop, &topt, &n->transport);
	if (rc != RAFT_OK)
		node_fatal("transport on %s: %s", listen, raft_strerror(rc));
	{
		/* The latest configuration in the log, else the initial one. */
		static struct raft_status st;

		raft_get_status(n->raft, &st);
		node_apply_config(n, st.config.n > 0 ? &st.config : &n->initial);
	}
	if (control != NULL && node_control_start(n, control) != 0)
		node_fatal("control channel on %s failed", control);

	uv_timer_init(n->loop, &n->tick_timer);
	n->tick_timer.data = n;
	uv_timer_start(&n->tick_timer, on_tick, n->tick_ms, n->tick_ms);
	uv_idle_init(n->loop, &n->ready_idle);
	n->ready_idle.data = n;
	node_schedule_ready(n);
	node_logf(n, "listening on %s, control on %s", listen,
			  control != NULL ? control : "(none)");
	uv_run(n->loop, UV_RUN_DEFAULT);
	return 0;
}
