/*
 * extension/applier_batch.c — applies a batch of committed entries in one
 * local transaction (DESIGN.md invariant 2: the applied index is written in
 * the same transaction as the entries' effects).
 *
 * Each COMMAND entry runs in a subtransaction.  A deterministic error
 * (constraint violation, division by zero, ...) is that entry's result on
 * every server: the subtransaction is rolled back and the batch goes on.
 * A transient one (out of resources, deadlock, lock not available,
 * cancel, I/O trouble) would not happen on every server, so it rolls back
 * the whole batch, which is retried after a pause: never skipped
 * (invariant 3).
 *
 * Each entry starts with SET CONSTRAINTS ALL IMMEDIATE.  An entry is one
 * statement, so a deferrable constraint is checked where a deferred check
 * would fall anyway, at the end of the entry, and inside its
 * subtransaction: a commit cannot fail for one entry's sake, nothing an
 * entry sets carries over to the next (batches are cut differently on each
 * server), and no deferred trigger is queued inside the statement's
 * security-restricted operation, which PostgreSQL refuses.
 *
 * The applier commits with synchronous_commit = off: the entries are
 * durable in the Raft log on a majority already, and after a crash that
 * loses the last commits they are applied again from the log (raft.applied
 * rolls back with their effects).  So the applied index is published
 * (waiters, raft.exec results) right after commit, and the durable applied
 * index, past which the log must never be compacted (invariant 2), once
 * the commit record is flushed: pgraft_durable_note / pgraft_durable_advance.
 */
#include "postgres.h"

#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/namespace.h"
#include "utils/lsyscache.h"
#include "catalog/pg_type_d.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "pg_raft.h"
#include "applier.h"
#include "shmem.h"
#include "statement.h"

/* The result of one entry proposed on this server. */
typedef struct ApplyResult
{
	uint64		request_id;
	PgRaftOutcome outcome;
	uint64		rows;
	int			sqlerrcode;
	char		errmsg[PGRAFT_ERRMSG_LEN];
	char		errdetail[PGRAFT_ERRDETAIL_LEN];
	char		errhint[PGRAFT_ERRHINT_LEN];
} ApplyResult;

static bool
is_transient(int sqlerrcode)
{
	int			category = ERRCODE_TO_CATEGORY(sqlerrcode);

	return category == ERRCODE_INSUFFICIENT_RESOURCES ||	/* 53: disk, memory */
		category == ERRCODE_SYSTEM_ERROR || /* 58: I/O */
		category == ERRCODE_OPERATOR_INTERVENTION ||	/* 57: cancel, shutdown */
		category == ERRCODE_INTERNAL_ERROR ||	/* XX: a local fault or a bug:
												 * stall rather than diverge */
		sqlerrcode == ERRCODE_T_R_DEADLOCK_DETECTED ||
		sqlerrcode == ERRCODE_T_R_SERIALIZATION_FAILURE ||
		sqlerrcode == ERRCODE_LOCK_NOT_AVAILABLE ||
		sqlerrcode == ERRCODE_OUT_OF_MEMORY;
}

int64
pgraft_read_applied_index(void)
{
	int64		applied = -1;
	Oid			nsp;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	nsp = get_namespace_oid("raft", true);
	if (OidIsValid(nsp) && OidIsValid(get_relname_relid("applied", nsp)))
	{
		bool		isnull;

		PushActiveSnapshot(GetTransactionSnapshot());
		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		if (SPI_execute("SELECT applied_index FROM raft.applied", true, 1) != SPI_OK_SELECT)
			ereport(ERROR,
					(errcode(ERRCODE_INTERNAL_ERROR),
					 errmsg("could not read raft.applied")));
		if (SPI_processed == 1)
		{
			Datum		d = SPI_getbinval(SPI_tuptable->vals[0],
										  SPI_tuptable->tupdesc, 1, &isnull);

			if (!isnull)
				applied = DatumGetInt64(d);
		}
		if (applied < 0)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg("raft.applied has no row"),
					 errhint("Recreate the extension on this server.")));
		SPI_finish();
		PopActiveSnapshot();
	}
	CommitTransactionCommand();
	return applied;
}

static void
copy_error(ApplyResult *r, ErrorData *ed)
{
	r->outcome = PGRAFT_OUT_ERROR;
	r->sqlerrcode = ed->sqlerrcode;
	strlcpy(r->errmsg, ed->message ? ed->message : "unknown error", sizeof(r->errmsg));
	strlcpy(r->errdetail, ed->detail ? ed->detail : "", sizeof(r->errdetail));
	strlcpy(r->errhint, ed->hint ? ed->hint : "", sizeof(r->errhint));
}

/* Statements of the applier's own, prepared once for its life. */
static SPIPlanPtr record_applied_plan = NULL;

/* SET CONSTRAINTS ALL IMMEDIATE, set at the start of each entry */
static ConstraintsSetStmt all_immediate = {T_ConstraintsSetStmt, NIL, false};

/* *plan, prepared and kept first if need be (in an SPI connection). */
static SPIPlanPtr
kept_plan(SPIPlanPtr *plan, const char *sql, int nargs, Oid *argtypes)
{
	if (*plan == NULL)
	{
		SPIPlanPtr	p = SPI_prepare(sql, nargs, argtypes);

		if (p == NULL || SPI_keepplan(p) != 0)
			ereport(ERROR,
					(errcode(ERRCODE_INTERNAL_ERROR),
					 errmsg("pg_raft: could not prepare \"%s\": %s", sql,
							SPI_result_code_string(SPI_result))));
		*plan = p;
	}
	return *plan;
}

/*
 * Applies one command entry in a subtransaction.  Returns false on a
 * transient error (the caller aborts the batch); otherwise fills *r when
 * the entry came from this server.
 */
static bool
apply_command(PgRaftApplyEntry *e, ApplyResult *r, bool *mine, MemoryContext cxt)
{
	PgRaftStatement stmt;
	MemoryContext oldcxt = CurrentMemoryContext;
	ResourceOwner oldowner = CurrentResourceOwner;
	bool		transient = false;

	*mine = false;
	memset(&stmt, 0, sizeof(stmt));
	if (!pgraft_decode_statement(e->data, e->len, &stmt))
	{
		/* the same bytes fail to decode everywhere: deterministic */
		ereport(WARNING,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("pg_raft: entry %llu is not a valid statement; skipped on every server",
						(unsigned long long) e->index)));
		return true;
	}
	*mine = (stmt.origin_node == (uint32) pgraft_node_id);
	r->request_id = stmt.request_id;
	r->outcome = PGRAFT_OUT_OK;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(oldcxt);
	PG_TRY();
	{
		AfterTriggerSetState(&all_immediate);
		r->rows = pgraft_apply_statement(&stmt);
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(oldcxt);
		CurrentResourceOwner = oldowner;
	}
	PG_CATCH();
	{
		ErrorData  *ed;

		MemoryContextSwitchTo(cxt);
		ed = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(oldcxt);
		CurrentResourceOwner = oldowner;

		if (is_transient(ed->sqlerrcode))
		{
			/* a batch retried every second: one LOG line a minute */
			static TimestampTz last_logged = 0;
			static uint64 not_logged = 0;
			TimestampTz now = GetCurrentTimestamp();

			if (last_logged == 0 ||
				TimestampDifferenceExceeds(last_logged, now, 60 * 1000))
			{
				ereport(LOG,
						(errmsg("pg_raft: transient failure applying entry %llu, retrying the batch: %s",
								(unsigned long long) e->index, ed->message),
						 not_logged > 0 ?
						 errdetail("%llu more such failures in the last minute were logged at DEBUG1.",
								   (unsigned long long) not_logged) : 0));
				last_logged = now;
				not_logged = 0;
			}
			else
			{
				ereport(DEBUG1,
						(errmsg_internal("pg_raft: transient failure applying entry %llu, retrying the batch: %s",
										 (unsigned long long) e->index, ed->message)));
				not_logged++;
			}
			transient = true;
		}
		else
		{
			ereport(DEBUG1,
					(errmsg_internal("pg_raft: entry %llu failed (its result on every server): %s",
									 (unsigned long long) e->index, ed->message)));
			copy_error(r, ed);
		}
		FreeErrorData(ed);
	}
	PG_END_TRY();
	return !transient;
}

/* After commit: publish the applied index and wake this server's waiters. */
static void
publish(uint64 applied, ApplyResult *results, int nresults)
{
	bool		woke[PGRAFT_MAX_REQUESTS];
	int			i;
	int			s;
	Latch	   *worker_latch;

	memset(woke, 0, sizeof(woke));
	pg_atomic_write_u64(&pgraft_shared->applied_index, applied);

	LWLockAcquire(pgraft_shared->lock, LW_EXCLUSIVE);
	for (i = 0; i < nresults; i++)
	{
		ApplyResult *r = &results[i];

		for (s = 0; s < PGRAFT_MAX_REQUESTS; s++)
		{
			PgRaftSlot *slot = &pgraft_shared->slots[s];

			if (slot->kind != PGRAFT_REQ_PROPOSE || slot->request_id != r->request_id ||
				(slot->state != PGRAFT_SLOT_PROPOSED && slot->state != PGRAFT_SLOT_TAKEN))
				continue;
			slot->state = PGRAFT_SLOT_DONE;
			slot->outcome = r->outcome;
			slot->rows = r->rows;
			slot->sqlerrcode = r->sqlerrcode;
			strlcpy(slot->errmsg, r->errmsg, sizeof(slot->errmsg));
			strlcpy(slot->errdetail, r->errdetail, sizeof(slot->errdetail));
			strlcpy(slot->errhint, r->errhint, sizeof(slot->errhint));
			woke[s] = true;
			break;
		}
	}

	/*
	 * A proposal this server made as leader at an index now applied, and not
	 * found above: another entry took its place (a new leader overwrote it,
	 * §3.5).  It will never be applied.
	 */
	pgraft_end_proposals_through(applied, PGRAFT_OUT_LOST, woke);

	/*
	 * The worker frees applied entries and compacts on its next loop (a
	 * tick at the latest); only proposals held back until the applier
	 * catches up need it at once.  No signal per batch otherwise.
	 */
	worker_latch = pgraft_shared->intake_paused ? pgraft_shared->worker_latch : NULL;
	LWLockRelease(pgraft_shared->lock);

	for (s = 0; s < PGRAFT_MAX_REQUESTS; s++)
		if (woke[s])
			ConditionVariableBroadcast(&pgraft_shared->slots[s].cv);
	ConditionVariableBroadcast(&pgraft_shared->applied_cv);
	if (worker_latch)
		SetLatch(worker_latch);
}

/*
 * Commits whose record may not be flushed yet, oldest first: (applied
 * index, end of its commit record).  When full, the newest is overwritten
 * by the next: the durable index then moves a little later, never wrongly.
 */
#define PGRAFT_DURABLE_PENDING 64

typedef struct PendingCommit
{
	uint64		index;
	XLogRecPtr	lsn;
} PendingCommit;

static PendingCommit pending[PGRAFT_DURABLE_PENDING];
static int	pending_first = 0;
static int	pending_n = 0;
static TimestampTz pending_since = 0;	/* when the oldest was noted */

void
pgraft_durable_note(uint64 index, XLogRecPtr lsn)
{
	int			at;

	if (pending_n == PGRAFT_DURABLE_PENDING)
		at = (pending_first + pending_n - 1) % PGRAFT_DURABLE_PENDING;
	else
	{
		at = (pending_first + pending_n) % PGRAFT_DURABLE_PENDING;
		if (pending_n++ == 0)
			pending_since = GetCurrentTimestamp();
	}
	pending[at].index = index;
	pending[at].lsn = lsn;
}

bool
pgraft_durable_advance(long flush_after_ms)
{
	XLogRecPtr	flushed;
	uint64		durable = 0;

	if (pending_n == 0)
		return false;
	if (flush_after_ms >= 0 &&
		TimestampDifferenceExceeds(pending_since, GetCurrentTimestamp(),
								   (int) flush_after_ms))
	{
		PendingCommit *newest = &pending[(pending_first + pending_n - 1) %
										 PGRAFT_DURABLE_PENDING];

		XLogFlush(newest->lsn);
	}
	flushed = GetFlushRecPtr(NULL);
	while (pending_n > 0 && pending[pending_first].lsn <= flushed)
	{
		durable = pending[pending_first].index;
		pending_first = (pending_first + 1) % PGRAFT_DURABLE_PENDING;
		pending_n--;
	}
	if (durable > 0)
	{
		pg_atomic_write_u64(&pgraft_shared->durable_applied_index, durable);
		pending_since = GetCurrentTimestamp();	/* of the new oldest, or later */
	}
	return pending_n > 0;
}

void
pgraft_durable_reset(uint64 applied)
{
	/* what earlier appliers committed, possibly not flushed yet */
	XLogFlush(GetXLogInsertRecPtr());
	pending_first = pending_n = 0;
	pg_atomic_write_u64(&pgraft_shared->durable_applied_index, applied);
}

/*
 * Ends, with outcome, every proposal of this server still waiting for an
 * entry at an index <= applied, and marks it in woke[] for the caller to
 * wake.  The caller holds pgraft_shared->lock exclusively.
 */
void
pgraft_end_proposals_through(uint64 applied, PgRaftOutcome outcome, bool *woke)
{
	int			s;

	for (s = 0; s < PGRAFT_MAX_REQUESTS; s++)
	{
		PgRaftSlot *slot = &pgraft_shared->slots[s];

		if (slot->state == PGRAFT_SLOT_PROPOSED && slot->kind == PGRAFT_REQ_PROPOSE &&
			slot->index > 0 && slot->index <= applied)
		{
			slot->state = PGRAFT_SLOT_DONE;
			slot->outcome = outcome;
			woke[s] = true;
		}
	}
}

bool
pgraft_apply_batch(PgRaftApplyBatch *batch, MemoryContext cxt)
{
	ApplyResult *results;
	volatile int nresults = 0;
	int			i;
	volatile bool ok = true;
	PgRaftApplyEntry *last = &batch->entries[batch->n - 1];

	results = MemoryContextAllocZero(cxt, sizeof(ApplyResult) * batch->n);

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	PG_TRY();
	{
		Oid			argtypes[2] = {INT8OID, INT8OID};
		Datum		values[2];
		int			rc;

		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		for (i = 0; i < batch->n && ok; i++)
		{
			PgRaftApplyEntry *e = &batch->entries[i];
			bool		mine = false;

			if (e->type != RAFT_ENTRY_COMMAND)
				continue;		/* no-ops and configurations: the worker's */
			ok = apply_command(e, &results[nresults], &mine, cxt);
			if (ok && mine)
				nresults++;
			CommandCounterIncrement();
		}
		if (ok)
		{
			/* revalidated if the extension was created again */
			SPIPlanPtr	plan = kept_plan(&record_applied_plan,
										 "UPDATE raft.applied SET applied_index = $1, applied_term = $2",
										 2, argtypes);

			values[0] = Int64GetDatum((int64) last->index);
			values[1] = Int64GetDatum((int64) last->term);
			rc = SPI_execute_plan(plan, values, NULL, false, 0);
			if (rc != SPI_OK_UPDATE || SPI_processed != 1)
				ereport(ERROR,
						(errcode(ERRCODE_DATA_CORRUPTED),
						 errmsg("could not record the applied index in raft.applied")));
			SPI_finish();
			PopActiveSnapshot();
			CommitTransactionCommand();
		}
		else
		{
			AbortCurrentTransaction();
		}
	}
	PG_CATCH();
	{
		/* outside any entry: log, roll back, retry the batch */
		EmitErrorReport();
		FlushErrorState();
		AbortCurrentTransaction();
		ok = false;
	}
	PG_END_TRY();

	if (!ok)
		return false;
	pgraft_durable_note(last->index, XactLastCommitEnd);
	publish(last->index, results, nresults);
	(void) pgraft_durable_advance(PGRAFT_DURABLE_FLUSH_MS);
	return true;
}
