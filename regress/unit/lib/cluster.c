/*
 * regress/unit/lib/cluster.c — the in-memory test cluster (see cluster.h).
 * Set RAFT_TEST_TRACE=1 in the environment to print every node's trace.
 */
#include "cluster.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "codec.h"

#define STABILIZE_ROUNDS 2000

static void
core_in(const struct test_cluster *c)
{
	if (c->enter_core != NULL)
		c->enter_core();
}

static void
core_out(const struct test_cluster *c)
{
	if (c->leave_core != NULL)
		c->leave_core();
}

static void *
xmalloc(size_t n)
{
	void	   *p = malloc(n == 0 ? 1 : n);

	assert_non_null(p);
	return p;
}

static void *
dup_bytes(const void *p, size_t n)
{
	void	   *q;

	if (n == 0)
		return NULL;
	q = xmalloc(n);
	memcpy(q, p, n);
	return q;
}

static void
trace_line(void *arg, raft_id id, const char *line)
{
	(void) arg;
	fprintf(stderr, "    [%llu] %s\n", (unsigned long long) id, line);
}

void
cluster_default_options(struct raft_options *opt)
{
	raft_options_default(opt, 1, 42);
	opt->election_ticks = 10;
	opt->heartbeat_ticks = 1;
	opt->max_msg_bytes = 1 << 20;
	opt->max_inflight = 16;
}

static struct raft *
node_new(struct test_cluster *c, unsigned i)
{
	struct test_node *nd = &c->nodes[i];
	struct raft_options opt = nd->opt;
	struct raft *r;

	opt.id = i + 1;
	opt.seed = 1000 + i;
	if (c->trace)
	{
		opt.trace = trace_line;
		opt.trace_arg = c;
	}
	r = raft_new(&opt);
	assert_non_null(r);
	return r;
}

void
cluster_init(struct test_cluster *c, unsigned n, unsigned n_voters,
			 const struct raft_options *tmpl)
{
	struct raft_config cfg;

	assert_true(n <= CLUSTER_MAX && n_voters <= n);
	memset(c, 0, sizeof(*c));
	c->n = n;
	c->trace = getenv("RAFT_TEST_TRACE") != NULL;
	c->net = xmalloc(CLUSTER_MAX_NET * sizeof(*c->net));
	memset(&cfg, 0, sizeof(cfg));
	for (unsigned i = 0; i < n_voters; i++)
	{
		cfg.members[i].id = i + 1;
		cfg.members[i].flags = RAFT_VOTER_NEW;
		snprintf(cfg.members[i].addr, RAFT_ADDR_LEN, "127.0.0.%u:5432", i + 1);
	}
	cfg.n = n_voters;
	for (unsigned i = 0; i < n; i++)
	{
		struct test_node *nd = &c->nodes[i];

		if (tmpl != NULL)
			nd->opt = *tmpl;
		else
			cluster_default_options(&nd->opt);
		nd->r = node_new(c, i);
		if (i < n_voters)
			assert_int_equal(raft_bootstrap(nd->r, &cfg), RAFT_OK);
	}
	cluster_process_all(c);
}

static void
free_entries(struct raft_entry *e, size_t n)
{
	for (size_t k = 0; k < n; k++)
		free(e[k].data.base);
}

static void
free_msg(struct raft_message *m)
{
	free_entries(m->entries, m->n_entries);
	free(m->entries);
	free(m->snapshot.data.base);
	memset(m, 0, sizeof(*m));
}

void
cluster_free(struct test_cluster *c)
{
	for (unsigned i = 0; i < c->n; i++)
	{
		struct test_node *nd = &c->nodes[i];

		raft_free(nd->r);
		free_entries(nd->log, nd->n_log);
		free(nd->log);
		free(nd->snap.data.base);
	}
	for (size_t k = 0; k < c->n_net; k++)
		free_msg(&c->net[k]);
	free(c->net);
	memset(c, 0, sizeof(*c));
}

struct raft *
cluster_raft(struct test_cluster *c, unsigned i)
{
	assert_true(i < c->n && !c->nodes[i].down);
	return c->nodes[i].r;
}

static void
disk_append(struct test_node *nd, const struct raft_entry *e)
{
	raft_index	first = nd->n_log > 0 ? nd->log[0].index : nd->snap.index + 1;

	/* Truncate from e->index first (raft.h: the host's step 2). */
	if (nd->n_log > 0 && e->index <= nd->log[nd->n_log - 1].index)
	{
		size_t		keep = e->index >= first ? (size_t) (e->index - first) : 0;

		free_entries(nd->log + keep, nd->n_log - keep);
		nd->n_log = keep;
	}
	if (nd->n_log > 0)
		assert_int_equal(e->index, nd->log[nd->n_log - 1].index + 1);
	else
		assert_int_equal(e->index, nd->snap.index + 1);
	if (nd->n_log == nd->cap_log)
	{
		nd->cap_log = nd->cap_log == 0 ? 64 : nd->cap_log * 2;
		nd->log = realloc(nd->log, nd->cap_log * sizeof(*nd->log));
		assert_non_null(nd->log);
	}
	nd->log[nd->n_log] = *e;
	nd->log[nd->n_log].data.base = dup_bytes(e->data.base, e->data.len);
	nd->n_log++;
}

static void
disk_snapshot(struct test_node *nd, const struct raft_snapshot *s)
{
	free(nd->snap.data.base);
	nd->snap = *s;
	nd->snap.data.base = dup_bytes(s->data.base, s->data.len);
	free_entries(nd->log, nd->n_log);
	nd->n_log = 0;
}

static void
net_push(struct test_cluster *c, const struct raft_message *m)
{
	struct raft_message *q;

	assert_true(c->n_net < CLUSTER_MAX_NET);
	q = &c->net[c->n_net++];
	*q = *m;
	q->entries = NULL;
	if (m->n_entries > 0)
	{
		q->entries = xmalloc(m->n_entries * sizeof(*q->entries));
		for (uint32_t k = 0; k < m->n_entries; k++)
		{
			q->entries[k] = m->entries[k];
			q->entries[k].data.base = dup_bytes(m->entries[k].data.base,
												m->entries[k].data.len);
		}
	}
	q->snapshot.data.base = dup_bytes(m->snapshot.data.base,
									  m->snapshot.data.len);
}

static void
apply(struct test_node *nd, const struct raft_entry *e)
{
	struct test_applied *a;

	/* Exactly once, in order. */
	assert_int_equal(e->index, nd->applied + 1);
	nd->applied = e->index;
	assert_true(nd->n_applied < CLUSTER_MAX_APPLIED);
	a = &nd->applied_entries[nd->n_applied++];
	memset(a, 0, sizeof(*a));
	a->index = e->index;
	a->term = e->term;
	a->type = e->type;
	a->len = e->data.len;
	if (e->type == RAFT_ENTRY_COMMAND && e->data.len > 0)
		memcpy(a->data, e->data.base,
			   e->data.len < sizeof(a->data) - 1 ? e->data.len : sizeof(a->data) - 1);
}

bool
cluster_process(struct test_cluster *c, unsigned i)
{
	struct test_node *nd = &c->nodes[i];
	struct raft_ready rd;

	if (nd->down || !raft_has_ready(nd->r))
		return false;
	core_in(c);
	raft_ready(nd->r, &rd);
	core_out(c);
	nd->readies++;
	if (rd.snapshot != NULL)
	{
		disk_snapshot(nd, rd.snapshot);
		nd->applied = rd.snapshot->index;
		nd->snapshots_restored++;
	}
	if (rd.hard_state_changed)
		nd->hs = rd.hard_state;
	for (uint32_t k = 0; k < rd.n_entries; k++)
		disk_append(nd, &rd.entries[k]);
	for (uint32_t k = 0; k < rd.n_messages; k++)
	{
		/*
		 * Nothing goes out before what it depends on is durable (pre-vote
		 * messages carry the term they ask about, not ours).
		 */
		if (rd.messages[k].type != RAFT_MSG_PREVOTE &&
			rd.messages[k].type != RAFT_MSG_PREVOTE_RESP)
			assert_true(rd.messages[k].term <= nd->hs.term);
		net_push(c, &rd.messages[k]);
	}
	for (uint32_t k = 0; k < rd.n_committed; k++)
	{
		assert_true(rd.committed[k].index <= nd->hs.commit);
		apply(nd, &rd.committed[k]);
	}
	for (uint32_t k = 0; k < rd.n_reads; k++)
		if (nd->n_reads < 256)
			nd->reads[nd->n_reads++] = rd.reads[k];
	core_in(c);
	raft_advance(nd->r, &rd);
	core_out(c);
	return true;
}

void
cluster_process_all(struct test_cluster *c)
{
	for (unsigned round = 0; round < 16; round++)
	{
		bool		any = false;

		for (unsigned i = 0; i < c->n; i++)
			any |= cluster_process(c, i);
		if (!any)
			return;
	}
}

size_t
cluster_deliver(struct test_cluster *c)
{
	size_t		n = c->n_net;
	struct raft_message *batch;

	if (n == 0)
		return 0;
	batch = xmalloc(n * sizeof(*batch));
	memcpy(batch, c->net, n * sizeof(*batch));
	c->n_net = 0;
	for (size_t k = 0; k < n; k++)
	{
		struct raft_message *m = &batch[k];
		unsigned	from = (unsigned) m->from - 1;
		unsigned	to = (unsigned) m->to - 1;

		if (to < c->n && from < c->n && !c->cut[from][to] && !c->nodes[to].down)
		{
			core_in(c);
			raft_step(c->nodes[to].r, m);
			core_out(c);
			c->delivered++;
		}
		free_msg(m);
	}
	free(batch);
	cluster_process_all(c);
	return n;
}

void
cluster_stabilize(struct test_cluster *c)
{
	cluster_process_all(c);
	for (unsigned round = 0; round < STABILIZE_ROUNDS; round++)
	{
		if (cluster_deliver(c) == 0)
			return;
	}
	fail_msg("the cluster did not stabilize");
}

void
cluster_tick(struct test_cluster *c, unsigned i, unsigned ticks)
{
	for (unsigned k = 0; k < ticks; k++)
		if (!c->nodes[i].down)
		{
			core_in(c);
			raft_tick(c->nodes[i].r);
			core_out(c);
		}
	cluster_process(c, i);
}

void
cluster_tick_all(struct test_cluster *c, unsigned ticks)
{
	for (unsigned i = 0; i < c->n; i++)
		cluster_tick(c, i, ticks);
}

void
cluster_run(struct test_cluster *c, unsigned k)
{
	for (unsigned t = 0; t < k; t++)
	{
		cluster_tick_all(c, 1);
		cluster_stabilize(c);
	}
}

int
cluster_leader(struct test_cluster *c)
{
	int			best = -1;
	raft_term	best_term = 0;

	for (unsigned i = 0; i < c->n; i++)
	{
		struct raft_status st;

		if (c->nodes[i].down)
			continue;
		raft_get_status(c->nodes[i].r, &st);
		if (st.role == RAFT_LEADER && st.term >= best_term)
		{
			best = (int) i;
			best_term = st.term;
		}
	}
	return best;
}

int
cluster_elect(struct test_cluster *c, unsigned i)
{
	assert_int_equal(raft_campaign(cluster_raft(c, i)), RAFT_OK);
	cluster_stabilize(c);
	return cluster_leader(c);
}

int
cluster_propose(struct test_cluster *c, unsigned i, const char *text,
				raft_index *index)
{
	return raft_propose(cluster_raft(c, i), text, strlen(text), index);
}

void
cluster_cut(struct test_cluster *c, unsigned from, unsigned to, bool cut)
{
	c->cut[from][to] = cut;
}

void
cluster_isolate(struct test_cluster *c, unsigned i)
{
	for (unsigned k = 0; k < c->n; k++)
		if (k != i)
		{
			c->cut[i][k] = true;
			c->cut[k][i] = true;
		}
}

void
cluster_heal(struct test_cluster *c)
{
	memset(c->cut, 0, sizeof(c->cut));
}

static bool
msg_matches(const struct raft_message *m, int type, int from, int to)
{
	return (type < 0 || m->type == type) &&
		(from < 0 || m->from == (raft_id) from + 1) &&
		(to < 0 || m->to == (raft_id) to + 1);
}

size_t
cluster_count_msgs(const struct test_cluster *c, int type, int from, int to)
{
	size_t		n = 0;

	for (size_t k = 0; k < c->n_net; k++)
		if (msg_matches(&c->net[k], type, from, to))
			n++;
	return n;
}

const struct raft_message *
cluster_find_msg(const struct test_cluster *c, int type, int from, int to)
{
	for (size_t k = 0; k < c->n_net; k++)
		if (msg_matches(&c->net[k], type, from, to))
			return &c->net[k];
	return NULL;
}

size_t
cluster_drop_msgs(struct test_cluster *c, int type, int from, int to)
{
	size_t		kept = 0,
				dropped = 0;

	for (size_t k = 0; k < c->n_net; k++)
	{
		if (msg_matches(&c->net[k], type, from, to))
		{
			free_msg(&c->net[k]);
			dropped++;
		}
		else
			c->net[kept++] = c->net[k];
	}
	c->n_net = kept;
	return dropped;
}

size_t
cluster_drop_random(struct test_cluster *c, uint64_t *rng, unsigned percent)
{
	size_t		kept = 0,
				dropped = 0;

	for (size_t k = 0; k < c->n_net; k++)
	{
		*rng = *rng * 6364136223846793005ULL + 1442695040888963407ULL;
		if ((*rng >> 33) % 100 < percent)
		{
			free_msg(&c->net[k]);
			dropped++;
		}
		else
			c->net[kept++] = c->net[k];
	}
	c->n_net = kept;
	return dropped;
}

void
cluster_drop_all(struct test_cluster *c)
{
	cluster_drop_msgs(c, -1, -1, -1);
}

void
cluster_crash(struct test_cluster *c, unsigned i)
{
	struct test_node *nd = &c->nodes[i];

	raft_free(nd->r);
	nd->r = NULL;
	nd->down = true;
}

void
cluster_restart(struct test_cluster *c, unsigned i)
{
	struct test_node *nd = &c->nodes[i];

	assert_true(nd->down);
	nd->r = node_new(c, i);
	nd->down = false;
	assert_int_equal(raft_load(nd->r, &nd->hs, &nd->snap, nd->log, nd->n_log),
					 RAFT_OK);
	/* The state machine is rebuilt from the snapshot, then re-applied. */
	nd->applied = nd->snap.index;
	nd->n_applied = 0;
	cluster_process(c, i);
}

void
cluster_disk_append(struct test_cluster *c, unsigned i, raft_term term,
					uint8_t type, const char *text)
{
	struct test_node *nd = &c->nodes[i];
	struct raft_entry e;

	assert_true(nd->down);
	memset(&e, 0, sizeof(e));
	e.term = term;
	e.index = nd->n_log > 0 ? nd->log[nd->n_log - 1].index + 1 : nd->snap.index + 1;
	e.type = type;
	e.data.base = (void *) text;
	e.data.len = text != NULL ? strlen(text) : 0;
	disk_append(nd, &e);
	if (nd->hs.term < term)
		nd->hs.term = term;
}

void
cluster_disk_lose_tail(struct test_cluster *c, unsigned i, size_t n)
{
	struct test_node *nd = &c->nodes[i];

	assert_true(nd->down);
	assert_true(n <= nd->n_log);
	free_entries(nd->log + nd->n_log - n, n);
	nd->n_log -= n;
}

int
cluster_compact(struct test_cluster *c, unsigned i, raft_index index)
{
	struct test_node *nd = &c->nodes[i];
	struct raft_buffer data;
	char		blob[32];
	struct raft_status st;
	int			rv;
	raft_index	first;

	snprintf(blob, sizeof(blob), "state@%llu", (unsigned long long) index);
	data.base = blob;
	data.len = strlen(blob);
	rv = raft_compact(nd->r, index, &data);
	if (rv != RAFT_OK)
		return rv;
	/* The host's copy: metadata from what it has on disk. */
	first = nd->n_log > 0 ? nd->log[0].index : nd->snap.index + 1;
	assert_true(index >= first);
	{
		struct raft_snapshot s;
		size_t		drop = (size_t) (index - first + 1);

		memset(&s, 0, sizeof(s));
		s.index = index;
		s.term = nd->log[drop - 1].term;
		s.config = nd->snap.config;
		for (size_t k = 0; k < drop; k++)
			if (nd->log[k].type == RAFT_ENTRY_CONFIG)
				assert_int_equal(raft_decode_config(nd->log[k].data.base,
													nd->log[k].data.len,
													&s.config), RAFT_OK);
		free(nd->snap.data.base);
		nd->snap = s;
		nd->snap.data.base = dup_bytes(blob, data.len);
		nd->snap.data.len = data.len;
		free_entries(nd->log, drop);
		memmove(nd->log, nd->log + drop, (nd->n_log - drop) * sizeof(*nd->log));
		nd->n_log -= drop;
	}
	raft_get_status(nd->r, &st);
	assert_int_equal(st.snapshot_index, index);
	return RAFT_OK;
}

bool
cluster_applied_text(const struct test_cluster *c, unsigned i, const char *text)
{
	const struct test_node *nd = &c->nodes[i];

	for (size_t k = 0; k < nd->n_applied; k++)
		if (nd->applied_entries[k].type == RAFT_ENTRY_COMMAND &&
			strcmp(nd->applied_entries[k].data, text) == 0)
			return true;
	return false;
}

void
cluster_status(struct test_cluster *c, unsigned i, struct raft_status *st)
{
	raft_get_status(cluster_raft(c, i), st);
}

struct raft_status
cluster_status_of(struct test_cluster *c, unsigned i)
{
	struct raft_status st;

	cluster_status(c, i, &st);
	return st;
}
