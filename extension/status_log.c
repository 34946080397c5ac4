/*
 * extension/status_log.c — the server log lines of role changes,
 * membership changes and the snapshots a leader sends, drawn from the
 * status the Raft worker publishes on every loop.  Each change is logged
 * once, at LOG; a member that keeps needing a snapshot (a stopped server)
 * is logged once per snapshot, not once per attempt.  Runs in the worker
 * only: the previous status is this process's own.
 */
#include "postgres.h"

#include "lib/stringinfo.h"

#include "pg_raft.h"
#include "status_log.h"

static bool have_prev = false;
static uint8 prev_role;
static raft_term prev_term;
static raft_id prev_leader;
static struct raft_config prev_config;

/* Leader: the snapshot index logged as being sent to each member (0: none). */
static raft_id snap_member[RAFT_MAX_MEMBERS];
static raft_index snap_index[RAFT_MAX_MEMBERS];

static bool
votes(const struct raft_config *c, const struct raft_member *m)
{
	if (m->flags & RAFT_VOTER_NEW)
		return true;
	return c->joint && (m->flags & RAFT_VOTER_OLD);
}

static bool
same_config(const struct raft_config *a, const struct raft_config *b)
{
	uint32		i;

	if (a->joint != b->joint || a->n != b->n)
		return false;
	for (i = 0; i < a->n; i++)
	{
		const struct raft_member *m = raft_config_find(b, a->members[i].id);

		if (m == NULL || m->flags != a->members[i].flags ||
			strcmp(m->addr, a->members[i].addr) != 0)
			return false;
	}
	return true;
}

static void
log_config(const struct raft_config *c)
{
	StringInfoData buf;
	uint32		i;

	initStringInfo(&buf);
	for (i = 0; i < c->n; i++)
	{
		const struct raft_member *m = &c->members[i];

		appendStringInfo(&buf, "%s%llu at %s (%s)", i > 0 ? ", " : "",
						 (unsigned long long) m->id, m->addr,
						 votes(c, m) ? "voter" : "learner");
	}
	ereport(LOG,
			(errmsg("pg_raft: node %d sees the configuration%s: %s",
					pgraft_node_id, c->joint ? " (joint, changing)" : "",
					c->n > 0 ? buf.data : "none yet")));
	pfree(buf.data);
}

static int
snap_slot(raft_id id)
{
	int			i;
	int			free_slot = -1;

	for (i = 0; i < RAFT_MAX_MEMBERS; i++)
	{
		if (snap_member[i] == id)
			return i;
		if (snap_member[i] == RAFT_NONE && free_slot < 0)
			free_slot = i;
	}
	if (free_slot >= 0)
	{
		snap_member[free_slot] = id;
		snap_index[free_slot] = 0;
	}
	return free_slot;
}

/* Leader: a member that needs a snapshot, and one that took it. */
static void
log_snapshots(const struct raft_status *st)
{
	uint32		i;
	int			k;

	/* forget members that left the configuration */
	for (k = 0; k < RAFT_MAX_MEMBERS; k++)
	{
		bool		present = false;

		for (i = 0; i < st->n_progress; i++)
			present = present || st->progress[i].id == snap_member[k];
		if (!present)
			snap_member[k] = RAFT_NONE;
	}
	for (i = 0; i < st->n_progress; i++)
	{
		const struct raft_progress_info *p = &st->progress[i];
		int			s;

		if (p->id == st->id)
			continue;
		s = snap_slot(p->id);
		if (s < 0)
			continue;
		if (p->state == RAFT_PROGRESS_SNAPSHOT &&
			snap_index[s] != st->snapshot_index)
		{
			snap_index[s] = st->snapshot_index;
			ereport(LOG,
					(errmsg("pg_raft: node %d sends node %llu the snapshot at index %llu: it has entries up to %llu, the log starts at %llu",
							pgraft_node_id, (unsigned long long) p->id,
							(unsigned long long) st->snapshot_index,
							(unsigned long long) p->match,
							(unsigned long long) st->first_index)));
		}
		else if (p->state != RAFT_PROGRESS_SNAPSHOT && snap_index[s] != 0 &&
				 p->match >= snap_index[s])
		{
			ereport(LOG,
					(errmsg("pg_raft: node %llu took the snapshot at index %llu and replicates from the log again",
							(unsigned long long) p->id,
							(unsigned long long) snap_index[s])));
			snap_index[s] = 0;
		}
	}
}

void
pgraft_status_log(const struct raft_status *st)
{
	if (!have_prev || st->role != prev_role || st->leader != prev_leader)
		ereport(LOG,
				(errmsg("pg_raft: node %d is %s at term %llu, leader %llu",
						pgraft_node_id, raft_role_name(st->role),
						(unsigned long long) st->term,
						(unsigned long long) st->leader)));
	if (!have_prev || !same_config(&prev_config, &st->config))
		log_config(&st->config);

	if (st->role == RAFT_LEADER && (!have_prev || st->term == prev_term))
		log_snapshots(st);
	else
	{
		/* a new term or no longer leader: forget what was being sent */
		memset(snap_member, 0, sizeof(snap_member));
		memset(snap_index, 0, sizeof(snap_index));
		if (st->role == RAFT_LEADER)
			log_snapshots(st);
	}

	have_prev = true;
	prev_role = st->role;
	prev_term = st->term;
	prev_leader = st->leader;
	prev_config = st->config;
}
