/*
 * extension/sql_status.c — raft.status() and raft.nodes(), from the status
 * snapshot the Raft worker publishes in shared memory on every loop (with
 * its counters), the applied index the applier publishes and the snapshot
 * install the worker asked the applier for.
 */
#include "postgres.h"

#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/tuplestore.h"

#include "pg_raft.h"
#include "shmem.h"

PG_FUNCTION_INFO_V1(pgraft_status);
PG_FUNCTION_INFO_V1(pgraft_nodes);

/* Copies the snapshot; ERROR if the worker has not published one. */
static void
read_status(struct raft_status *st)
{
	bool		valid;

	pgraft_require_ready();
	LWLockAcquire(pgraft_shared->lock, LW_SHARED);
	valid = pgraft_shared->status_valid;
	*st = pgraft_shared->status;
	LWLockRelease(pgraft_shared->lock);
	if (!valid)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("the pg_raft worker has not published its status yet"),
				 errhint("Retry in a moment.")));
}

static bool
member_votes(const struct raft_config *c, const struct raft_member *m)
{
	if (m->flags & RAFT_VOTER_NEW)
		return true;
	return c->joint && (m->flags & RAFT_VOTER_OLD);
}

Datum
pgraft_status(PG_FUNCTION_ARGS)
{
	struct raft_status *st = palloc(sizeof(struct raft_status));
	const struct raft_member *self;
	TupleDesc	tupdesc;
	Datum		values[26];
	bool		nulls[26];
	PgRaftCounters counters;
	uint64		installed;
	uint64		pending;
	uint64		failures;

	read_status(st);
	LWLockAcquire(pgraft_shared->lock, LW_SHARED);
	counters = pgraft_shared->counters;
	installed = pgraft_shared->restores_done;
	pending = pgraft_shared->restore_index;
	failures = pgraft_shared->restore_attempts;
	LWLockRelease(pgraft_shared->lock);
	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	tupdesc = BlessTupleDesc(tupdesc);

	memset(nulls, 0, sizeof(nulls));
	values[0] = Int32GetDatum((int32) st->id);
	values[1] = CStringGetTextDatum(raft_role_name(st->role));
	values[2] = Int64GetDatum((int64) st->term);
	if (st->leader == RAFT_NONE)
		nulls[3] = true;
	else
		values[3] = Int32GetDatum((int32) st->leader);
	values[4] = Int64GetDatum((int64) st->commit);
	values[5] = Int64GetDatum((int64) pg_atomic_read_u64(&pgraft_shared->applied_index));
	values[6] = Int64GetDatum((int64) st->last_index);
	values[7] = Int64GetDatum((int64) st->first_index);
	values[8] = Int64GetDatum((int64) st->snapshot_index);
	self = raft_config_find(&st->config, st->id);
	values[9] = BoolGetDatum(self != NULL && member_votes(&st->config, self));
	values[10] = BoolGetDatum(st->config_pending);
	values[11] = Int64GetDatum((int64) st->elections);
	values[12] = Int64GetDatum((int64) counters.proposals);
	values[13] = Int64GetDatum((int64) counters.committed);
	values[14] = Int64GetDatum((int64) counters.fsyncs);
	values[15] = Int64GetDatum((int64) counters.compactions);
	values[16] = Int64GetDatum((int64) counters.snapshots_sent);
	values[17] = Int64GetDatum((int64) counters.snapshots_received);
	values[18] = Int64GetDatum((int64) installed);
	if (pending <= pg_atomic_read_u64(&pgraft_shared->applied_index))
		pending = failures = 0;
	values[19] = Int64GetDatum((int64) pending);
	values[20] = Int64GetDatum((int64) failures);
	/* fsync latency: 0 until a sync was timed */
	values[21] = Float8GetDatum(counters.fsyncs > 0 ?
								(double) counters.fsync_us_total /
								(double) counters.fsyncs / 1000.0 : 0.0);
	values[22] = Float8GetDatum((double) counters.fsync_us_max / 1000.0);
	values[23] = Int64GetDatum((int64) counters.hard_state_saves);
	values[24] = Int64GetDatum((int64) counters.read_requests);
	values[25] = Int64GetDatum((int64) counters.read_rounds);

	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}

static const char *
progress_state_name(uint8 state)
{
	switch (state)
	{
		case RAFT_PROGRESS_PROBE:
			return "probe";
		case RAFT_PROGRESS_REPLICATE:
			return "replicate";
		case RAFT_PROGRESS_SNAPSHOT:
			return "snapshot";
	}
	return "unknown";
}

/*
 * A member's role as this server knows it: its own role for itself, the
 * leader it follows, and the others by their vote.
 */
static const char *
member_role(const struct raft_status *st, const struct raft_member *m)
{
	if (m->id == st->id)
		return raft_role_name(st->role);
	if (m->id == st->leader)
		return "leader";
	return member_votes(&st->config, m) ? "follower" : "learner";
}

Datum
pgraft_nodes(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	struct raft_status *st = palloc(sizeof(struct raft_status));
	uint64		restore_index;
	bool		installing;
	uint32		i;

	read_status(st);
	LWLockAcquire(pgraft_shared->lock, LW_SHARED);
	restore_index = pgraft_shared->restore_index;
	LWLockRelease(pgraft_shared->lock);
	/* a received snapshot the tables have not reached yet */
	installing = restore_index > pg_atomic_read_u64(&pgraft_shared->applied_index);
	InitMaterializedSRF(fcinfo, 0);

	for (i = 0; i < st->config.n; i++)
	{
		const struct raft_member *m = &st->config.members[i];
		const struct raft_progress_info *p = NULL;
		bool		self = (m->id == st->id);
		Datum		values[12];
		bool		nulls[12];
		uint32		j;

		for (j = 0; j < st->n_progress; j++)
			if (st->progress[j].id == m->id)
				p = &st->progress[j];

		memset(nulls, 0, sizeof(nulls));
		values[0] = Int32GetDatum((int32) m->id);
		values[1] = CStringGetTextDatum(m->addr);
		values[2] = BoolGetDatum(member_votes(&st->config, m));
		values[3] = BoolGetDatum(m->id == st->leader);
		if (p != NULL)
		{
			values[4] = Int64GetDatum((int64) p->match);
			values[5] = Int64GetDatum((int64) p->next);
			values[6] = Int64GetDatum(st->last_index > p->match ?
									  (int64) (st->last_index - p->match) : 0);
			values[7] = CStringGetTextDatum(self ? "self" :
											progress_state_name(p->state));
			values[8] = Int64GetDatum(self ? 0 :
									  (int64) p->ticks_since_contact *
									  pgraft_heartbeat_interval_ms);
			values[10] = Int64GetDatum((int64) p->lag_bytes);
		}
		else
		{
			/* progress is known only on the leader */
			nulls[4] = nulls[5] = nulls[6] = nulls[7] = nulls[8] = true;
			nulls[10] = true;
		}
		values[9] = CStringGetTextDatum(member_role(st, m));
		if (self)
			values[11] = BoolGetDatum(installing);
		else if (p != NULL)
			values[11] = BoolGetDatum(p->state == RAFT_PROGRESS_SNAPSHOT);
		else
			nulls[11] = true;
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}
