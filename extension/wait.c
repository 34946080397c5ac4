/*
 * extension/wait.c — how a client backend hands a request to the Raft
 * worker and waits: it takes a free slot in shared memory, fills it, sets
 * the worker's latch and sleeps on the slot's condition variable, honouring
 * statement_timeout and cancel (CHECK_FOR_INTERRUPTS inside
 * ConditionVariableTimedSleep).  However the wait ends, the slot is
 * released; a result that arrives later finds a slot with another
 * generation or request id and is dropped.
 *
 * When an outcome cannot be known the wait ends on a bound, never on a
 * clock threshold alone: a proposal is "unknown" only after it waited
 * PGRAFT_UNKNOWN_TIMEOUTS election timeouts AND this server has applied
 * everything it knows to be committed without seeing it.
 */
#include "postgres.h"

#include "catalog/pg_type_d.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/ipc.h"
#include "utils/array.h"
#include "utils/fmgrprotos.h"
#include "utils/timestamp.h"

#include "pg_raft.h"
#include "shmem.h"
#include "wait.h"

/* Bounds, in election timeouts. */
#define PGRAFT_NO_LEADER_TIMEOUTS 3 /* not taken by any leader: give up */
#define PGRAFT_UNKNOWN_TIMEOUTS 5	/* proposed, never seen applied */
#define PGRAFT_READ_TIMEOUTS 2		/* one ReadIndex attempt */
#define PGRAFT_READ_ATTEMPTS 5

static int	my_slot = -1;
static uint32 my_generation = 0;
static bool exit_callback_registered = false;
static dsm_segment *my_segment = NULL;	/* a large request's payload */

static void
forget_segment(dsm_segment *seg, Datum arg)
{
	my_segment = NULL;
}

static void
release_slot(void)
{
	PgRaftSlot *slot;

	if (my_slot < 0 || pgraft_shared == NULL)
		return;
	slot = &pgraft_shared->slots[my_slot];
	LWLockAcquire(pgraft_shared->lock, LW_EXCLUSIVE);
	if (slot->generation == my_generation && slot->owner_pid == MyProcPid)
	{
		slot->state = PGRAFT_SLOT_FREE;
		slot->owner_pid = 0;
		slot->request_id = 0;
	}
	LWLockRelease(pgraft_shared->lock);
	my_slot = -1;
	if (my_segment)
		dsm_detach(my_segment);	/* forget_segment clears it */
}

static void
release_slot_at_exit(int code, Datum arg)
{
	release_slot();
}

/* Takes a free slot, fills it and wakes the worker.  Returns the slot. */
static PgRaftSlot *
submit(PgRaftSlotKind kind, uint64 request_id, const void *data, Size len,
	   const struct raft_change *change)
{
	PgRaftSlot *slot = NULL;
	Latch	   *worker_latch;
	int			i;

	Assert(my_slot < 0);
	if (len > RAFT_MAX_ENTRY_BYTES - 1024)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("replicated statement is too large"),
				 errdetail("The encoded statement takes %zu bytes; a Raft entry holds at most %u.",
						   (size_t) len, RAFT_MAX_ENTRY_BYTES - 1024),
				 errhint("Split the statement, or pass large values in several statements.")));

	if (!exit_callback_registered)
	{
		before_shmem_exit(release_slot_at_exit, (Datum) 0);
		exit_callback_registered = true;
	}

	if (len > PGRAFT_INLINE_BYTES)
	{
		my_segment = dsm_create(len, DSM_CREATE_NULL_IF_MAXSEGMENTS);
		if (my_segment == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_RESOURCES),
					 errmsg("could not create a shared memory segment for a large replicated statement"),
					 errhint("Retry later; too many dynamic shared memory segments are in use.")));
		on_dsm_detach(my_segment, forget_segment, (Datum) 0);
		memcpy(dsm_segment_address(my_segment), data, len);
	}

	LWLockAcquire(pgraft_shared->lock, LW_EXCLUSIVE);
	for (i = 0; i < PGRAFT_MAX_REQUESTS; i++)
	{
		if (pgraft_shared->slots[i].state == PGRAFT_SLOT_FREE)
		{
			slot = &pgraft_shared->slots[i];
			break;
		}
	}
	if (slot == NULL)
	{
		LWLockRelease(pgraft_shared->lock);
		if (my_segment)
			dsm_detach(my_segment);
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_RESOURCES),
				 errmsg("too many pg_raft requests in progress"),
				 errdetail("All %d request slots of this server are in use.",
						   PGRAFT_MAX_REQUESTS),
				 errhint("Retry later, or send requests over fewer concurrent sessions.")));
	}
	slot->generation++;
	slot->kind = kind;
	slot->owner_pid = MyProcPid;
	slot->request_id = request_id;
	slot->submitted_at = GetCurrentTimestamp();
	slot->proposed_at = 0;
	slot->index = 0;
	slot->term = 0;
	if (change)
		slot->change = *change;
	else
		memset(&slot->change, 0, sizeof(slot->change));
	slot->outcome = PGRAFT_OUT_OK;
	slot->rows = 0;
	slot->read_index = 0;
	slot->sqlerrcode = 0;
	slot->errmsg[0] = slot->errdetail[0] = slot->errhint[0] = '\0';
	slot->len = len;
	slot->payload_dsm = 0;
	if (my_segment)
		slot->payload_dsm = dsm_segment_handle(my_segment);
	else if (len > 0)
		memcpy(slot->payload, data, len);
	slot->state = PGRAFT_SLOT_FILLED;
	my_slot = i;
	my_generation = slot->generation;
	worker_latch = pgraft_shared->worker_latch;
	LWLockRelease(pgraft_shared->lock);

	if (worker_latch)
		SetLatch(worker_latch);
	return slot;
}

/* What the waiter needs of its slot, copied under the lock. */
typedef struct SlotView
{
	PgRaftSlotState state;
	PgRaftOutcome outcome;
	TimestampTz proposed_at;
	uint64		rows;
	raft_index	read_index;
	int			sqlerrcode;
	char		errmsg[PGRAFT_ERRMSG_LEN];
	char		errdetail[PGRAFT_ERRDETAIL_LEN];
	char		errhint[PGRAFT_ERRHINT_LEN];
} SlotView;

static void
view_slot(PgRaftSlot *slot, SlotView *v)
{
	LWLockAcquire(pgraft_shared->lock, LW_SHARED);
	v->state = slot->state;
	v->outcome = slot->outcome;
	v->proposed_at = slot->proposed_at;
	v->rows = slot->rows;
	v->read_index = slot->read_index;
	v->sqlerrcode = slot->sqlerrcode;
	if (slot->state == PGRAFT_SLOT_DONE)
	{
		strlcpy(v->errmsg, slot->errmsg, sizeof(v->errmsg));
		strlcpy(v->errdetail, slot->errdetail, sizeof(v->errdetail));
		strlcpy(v->errhint, slot->errhint, sizeof(v->errhint));
	}
	LWLockRelease(pgraft_shared->lock);
}

/* Gives up on a slot still in state `expected`: true if it was. */
static bool
withdraw_if(PgRaftSlot *slot, PgRaftSlotState expected)
{
	bool		withdrawn = false;

	LWLockAcquire(pgraft_shared->lock, LW_EXCLUSIVE);
	if (slot->generation == my_generation && slot->state == expected)
	{
		slot->state = PGRAFT_SLOT_FREE;
		slot->owner_pid = 0;
		slot->request_id = 0;
		withdrawn = true;
	}
	LWLockRelease(pgraft_shared->lock);
	if (withdrawn)
		my_slot = -1;
	return withdrawn;
}

/* The worker handed the slot's request to the core (or may have). */
static bool
slot_was_proposed(PgRaftSlot *slot)
{
	bool		proposed;

	LWLockAcquire(pgraft_shared->lock, LW_SHARED);
	proposed = slot->generation == my_generation &&
		(slot->state == PGRAFT_SLOT_PROPOSED || slot->state == PGRAFT_SLOT_TAKEN ||
		 slot->state == PGRAFT_SLOT_DONE);
	LWLockRelease(pgraft_shared->lock);
	return proposed;
}

static bool
elapsed_ms(TimestampTz since, long ms)
{
	return since != 0 &&
		TimestampDifferenceExceeds(since, GetCurrentTimestamp(), (int) ms);
}

/* The worker holds new proposals back until the applier catches up. */
static bool
intake_paused(void)
{
	bool		paused;

	LWLockAcquire(pgraft_shared->lock, LW_SHARED);
	paused = pgraft_shared->intake_paused;
	LWLockRelease(pgraft_shared->lock);
	return paused;
}

/* Everything committed that this server knows of is applied. */
static bool
applier_caught_up(void)
{
	raft_index	commit;

	LWLockAcquire(pgraft_shared->lock, LW_SHARED);
	commit = pgraft_shared->status.commit;
	LWLockRelease(pgraft_shared->lock);
	return pg_atomic_read_u64(&pgraft_shared->applied_index) >= commit;
}

/*
 * True when this server's applier waits for a lock that this backend holds
 * (say the caller's transaction read a table that its statement alters):
 * neither could go on.
 */
static bool
applier_blocked_by_me(void)
{
	int			applier_pid;
	ArrayType  *pids;
	Datum	   *elems;
	int			n;
	int			i;
	bool		found = false;

	LWLockAcquire(pgraft_shared->lock, LW_SHARED);
	applier_pid = pgraft_shared->applier_pid;
	LWLockRelease(pgraft_shared->lock);
	if (applier_pid == 0)
		return false;

	pids = DatumGetArrayTypeP(DirectFunctionCall1(pg_blocking_pids,
												  Int32GetDatum(applier_pid)));
	deconstruct_array(pids, INT4OID, sizeof(int32), true, TYPALIGN_INT,
					  &elems, NULL, &n);
	for (i = 0; i < n && !found; i++)
		found = (DatumGetInt32(elems[i]) == MyProcPid);
	return found;
}

static void
raise_outcome(const SlotView *v, const char *what)
{
	switch (v->outcome)
	{
		case PGRAFT_OUT_OK:
			return;
		case PGRAFT_OUT_ERROR:
			ereport(ERROR,
					(errcode(v->sqlerrcode),
					 errmsg_internal("%s", v->errmsg),
					 v->errdetail[0] ? errdetail_internal("%s", v->errdetail) : 0,
					 v->errhint[0] ? errhint("%s", v->errhint) : 0));
			break;
		case PGRAFT_OUT_NOT_PROPOSED:
			ereport(ERROR,
					(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
					 errmsg("could not %s: %s", what,
							v->errmsg[0] ? v->errmsg : "no Raft leader is known"),
					 errdetail("The request never entered the Raft log; it is safe to retry."),
					 errhint("Check raft.status() on every server: a majority must be up and connected.")));
			break;
		case PGRAFT_OUT_LOST:
			ereport(ERROR,
					(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
					 errmsg("could not %s: the proposal was lost in a change of leader", what),
					 errdetail("Another entry was committed at its place in the log; the statement was not applied and it is safe to retry.")));
			break;
		case PGRAFT_OUT_UNKNOWN:
			ereport(ERROR,
					(errcode(ERRCODE_T_R_STATEMENT_COMPLETION_UNKNOWN),
					 errmsg("could not learn the outcome of the replicated statement"),
					 errdetail("%s", v->errmsg[0] ? v->errmsg :
							   "The statement was proposed but was not seen applied; it may or may not be applied."),
					 errhint("Check the data before retrying.")));
			break;
	}
}

uint64
pgraft_next_request_id(void)
{
	pgraft_require_ready();
	return pg_atomic_fetch_add_u64(&pgraft_shared->next_request_id, 1);
}

uint64
pgraft_propose_and_wait(bytea *entry_data, uint64 request_id)
{
	PgRaftSlot *slot;
	SlotView	v;
	long		no_leader_ms = (long) pgraft_election_timeout_ms * PGRAFT_NO_LEADER_TIMEOUTS;
	long		unknown_ms = (long) pgraft_election_timeout_ms * PGRAFT_UNKNOWN_TIMEOUTS;
	TimestampTz submitted;
	TimestampTz last_lock_check = 0;
	MemoryContext oldcxt = CurrentMemoryContext;

	pgraft_require_ready();
	slot = submit(PGRAFT_REQ_PROPOSE, request_id, VARDATA_ANY(entry_data),
				  VARSIZE_ANY_EXHDR(entry_data), NULL);
	submitted = GetCurrentTimestamp();

	PG_TRY();
	{
		for (;;)
		{
			view_slot(slot, &v);
			if (v.state == PGRAFT_SLOT_DONE)
				break;
			if (v.state == PGRAFT_SLOT_FILLED && elapsed_ms(submitted, no_leader_ms) &&
				withdraw_if(slot, PGRAFT_SLOT_FILLED))
			{
				v.outcome = PGRAFT_OUT_NOT_PROPOSED;
				v.errmsg[0] = '\0';
				if (intake_paused())
					strlcpy(v.errmsg, "this server's applier is too far behind",
							sizeof(v.errmsg));
				break;
			}
			if (v.state == PGRAFT_SLOT_PROPOSED && elapsed_ms(v.proposed_at, unknown_ms) &&
				applier_caught_up() && withdraw_if(slot, PGRAFT_SLOT_PROPOSED))
			{
				v.outcome = PGRAFT_OUT_UNKNOWN;
				snprintf(v.errmsg, sizeof(v.errmsg),
						 "The statement was proposed but not seen applied within %ld ms, although this server applied everything it knows to be committed; the leader may have changed. It may or may not be applied.",
						 unknown_ms);
				break;
			}
			if (v.state == PGRAFT_SLOT_PROPOSED && elapsed_ms(v.proposed_at, 1000) &&
				TimestampDifferenceExceeds(last_lock_check, GetCurrentTimestamp(), 1000))
			{
				last_lock_check = GetCurrentTimestamp();
				if (applier_blocked_by_me())
					ereport(ERROR,
							(errcode(ERRCODE_T_R_DEADLOCK_DETECTED),
							 errmsg("raft.exec would wait for its own transaction"),
							 errdetail("This server's applier waits for a lock that this transaction holds. The statement was already proposed to the Raft log; it may still be applied once this transaction ends."),
							 errhint("Run raft.exec outside transactions that read or lock the tables it changes.")));
			}
			ConditionVariableTimedSleep(&slot->cv, pgraft_heartbeat_interval_ms,
										PG_WAIT_EXTENSION);
		}
		ConditionVariableCancelSleep();
	}
	PG_CATCH();
	{
		bool		proposed;
		ErrorData  *ed;

		ConditionVariableCancelSleep();
		proposed = slot_was_proposed(slot);
		release_slot();

		/*
		 * A cancel or statement_timeout after the statement entered the log
		 * does not mean it will not be applied: say so.
		 */
		MemoryContextSwitchTo(oldcxt);
		ed = CopyErrorData();
		if (proposed && ed->sqlerrcode == ERRCODE_QUERY_CANCELED)
		{
			FlushErrorState();
			ereport(ERROR,
					(errcode(ERRCODE_QUERY_CANCELED),
					 errmsg_internal("%s", ed->message),
					 errdetail("The statement was already proposed to the Raft log; it may or may not be applied.")));
		}
		FreeErrorData(ed);
		PG_RE_THROW();
	}
	PG_END_TRY();
	release_slot();

	raise_outcome(&v, "propose the statement");
	return v.rows;
}

/* Waits until this server's applier has applied index. */
static void
wait_applied(raft_index index)
{
	while (pg_atomic_read_u64(&pgraft_shared->applied_index) < index)
	{
		ConditionVariableTimedSleep(&pgraft_shared->applied_cv,
									pgraft_heartbeat_interval_ms * 10,
									PG_WAIT_EXTENSION);
	}
	ConditionVariableCancelSleep();
}

uint64
pgraft_read_fence(PgRaftReadConsistency consistency)
{
	int			attempt;
	long		attempt_ms = (long) pgraft_election_timeout_ms * PGRAFT_READ_TIMEOUTS;
	raft_index	read_index = 0;
	bool		answered = false;

	pgraft_require_ready();
	if (consistency == PGRAFT_READ_LOCAL)
		return pg_atomic_read_u64(&pgraft_shared->applied_index);

	/*
	 * Under "lease" the leader's lease, as its worker publishes it
	 * (lease.c), gives the read index here; else the worker answers from
	 * the lease if it holds one by the time it takes the request
	 * (worker_requests.c).  A follower, or a leader without a fresh lease,
	 * takes the ReadIndex path.
	 */
	if (consistency == PGRAFT_READ_LEASE && pgraft_lease_read_index(&read_index))
	{
		wait_applied(read_index);
		return read_index;
	}
	for (attempt = 0; attempt < PGRAFT_READ_ATTEMPTS && !answered; attempt++)
	{
		PgRaftSlot *slot = submit(consistency == PGRAFT_READ_LEASE ?
								  PGRAFT_REQ_READ_LEASE : PGRAFT_REQ_READ_INDEX,
								  0, NULL, 0, NULL);
		TimestampTz submitted = GetCurrentTimestamp();
		SlotView	v;

		PG_TRY();
		{
			for (;;)
			{
				view_slot(slot, &v);
				if (v.state == PGRAFT_SLOT_DONE)
					break;
				if (elapsed_ms(submitted, attempt_ms))
				{
					v.outcome = PGRAFT_OUT_UNKNOWN;
					break;
				}
				ConditionVariableTimedSleep(&slot->cv, pgraft_heartbeat_interval_ms,
											PG_WAIT_EXTENSION);
			}
			ConditionVariableCancelSleep();
		}
		PG_FINALLY();
		{
			ConditionVariableCancelSleep();
			release_slot();
		}
		PG_END_TRY();

		if (v.state == PGRAFT_SLOT_DONE && v.outcome == PGRAFT_OUT_OK)
		{
			read_index = v.read_index;
			answered = true;
		}
		else if (v.state == PGRAFT_SLOT_DONE &&
				 (v.outcome == PGRAFT_OUT_ERROR || v.outcome == PGRAFT_OUT_NOT_PROPOSED))
			raise_outcome(&v, "confirm a read index");	/* e.g. RAFT_EFULL */
	}
	if (!answered)
		ereport(ERROR,
				(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
				 errmsg("could not confirm a linearizable read point"),
				 errdetail("No Raft leader confirmed its leadership after %d attempts of %ld ms.",
						   PGRAFT_READ_ATTEMPTS, attempt_ms),
				 errhint("A majority of the servers must be up and connected; or set pg_raft.read_consistency = local to read what this server has.")));

	wait_applied(read_index);
	return read_index;
}

uint64
pgraft_request_change(PgRaftSlotKind kind, const struct raft_change *change)
{
	PgRaftSlot *slot;
	SlotView	v;
	long		no_leader_ms = (long) pgraft_election_timeout_ms * PGRAFT_NO_LEADER_TIMEOUTS;
	TimestampTz submitted;

	pgraft_require_ready();
	slot = submit(kind, 0, NULL, 0, change);
	submitted = GetCurrentTimestamp();
	PG_TRY();
	{
		for (;;)
		{
			view_slot(slot, &v);
			if (v.state == PGRAFT_SLOT_DONE)
				break;
			if (v.state == PGRAFT_SLOT_FILLED && elapsed_ms(submitted, no_leader_ms) &&
				withdraw_if(slot, PGRAFT_SLOT_FILLED))
			{
				v.outcome = PGRAFT_OUT_NOT_PROPOSED;
				v.errmsg[0] = '\0';
				break;
			}
			ConditionVariableTimedSleep(&slot->cv, pgraft_heartbeat_interval_ms,
										PG_WAIT_EXTENSION);
		}
		ConditionVariableCancelSleep();
	}
	PG_FINALLY();
	{
		ConditionVariableCancelSleep();
		release_slot();
	}
	PG_END_TRY();

	raise_outcome(&v, kind == PGRAFT_REQ_TRANSFER ?
				  "transfer leadership" : "change the membership");
	if (v.read_index > 0)
		wait_applied(v.read_index);
	return v.read_index;
}
