/*
 * extension/applier.c — the applier: a background worker connected to
 * pg_raft.database that receives committed entries, in log order, from the
 * Raft worker (the shm_mq handshake is described in worker_apply_queue.c)
 * and applies them in batches (applier_batch.c).
 *
 * It starts at the durable applied index (raft.applied), skips anything at
 * or below it (exactly-once apply after a restart), and refuses a gap: an
 * entry that is not the next one is a bug, so it stops and re-synchronises
 * rather than apply out of order.
 *
 * When idle it installs a snapshot the worker received (snapshot_install.c),
 * and publishes the durable applied index once the WAL flush passed its
 * asynchronous commits (applier_batch.c).
 */
#include "postgres.h"

#include "access/xact.h"
#include "access/xlog.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "tcop/tcopprot.h"
#include "utils/guc.h"
#include "utils/memutils.h"

#include "pg_raft.h"
#include "applier.h"
#include "shmem.h"
#include "snapshot.h"
#include "statement.h"

PGDLLEXPORT void pgraft_applier_main(Datum main_arg);

static shm_mq_handle *applier_mqh = NULL;

static void
applier_exit(int code, Datum arg)
{
	if (applier_mqh)
	{
		shm_mq_detach(applier_mqh);
		applier_mqh = NULL;
	}
	if (pgraft_shared)
	{
		LWLockAcquire(pgraft_shared->lock, LW_EXCLUSIVE);
		if (pgraft_shared->applier_pid == MyProcPid)
		{
			pgraft_shared->applier_pid = 0;
			pgraft_shared->applier_proc = NULL;
		}
		LWLockRelease(pgraft_shared->lock);
	}
}

static void
sleep_ms(long ms)
{
	(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
					 ms, PG_WAIT_EXTENSION);
	ResetLatch(MyLatch);
	CHECK_FOR_INTERRUPTS();
	if (ConfigReloadPending)
	{
		ConfigReloadPending = false;
		ProcessConfigFile(PGC_SIGHUP);
	}
}

/* Waits for CREATE EXTENSION pg_raft; returns the durable applied index. */
static uint64
wait_for_extension(void)
{
	bool		logged = false;

	for (;;)
	{
		int64		applied = pgraft_read_applied_index();

		LWLockAcquire(pgraft_shared->lock, LW_EXCLUSIVE);
		pgraft_shared->applier_waiting_extension = (applied < 0);
		LWLockRelease(pgraft_shared->lock);
		if (applied >= 0)
			return (uint64) applied;
		if (!logged)
		{
			ereport(LOG,
					(errmsg("pg_raft: applier waits for CREATE EXTENSION pg_raft in database \"%s\"",
							pgraft_database)));
			logged = true;
		}
		sleep_ms(1000);
	}
}

/*
 * Asks the worker for a queue starting after applied; returns the attached
 * handle once the worker made it.
 */
static shm_mq_handle *
attach_queue(uint64 *applied_p)
{
	uint64		applied = *applied_p;
	uint64		gen;
	Latch	   *worker_latch;

	uint64		published = pg_atomic_read_u64(&pgraft_shared->applied_index);

	/*
	 * What this server applied since the postmaster started is published
	 * only after its commit, so it is durable too; a lower raft.applied
	 * means the table was reset (the extension dropped and created again).
	 * Applying those entries again would apply them twice: resume after
	 * what was published.
	 */
	if (published > applied)
	{
		ereport(WARNING,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("pg_raft: raft.applied says %llu but this server already applied up to %llu",
						(unsigned long long) applied, (unsigned long long) published),
				 errdetail("The extension was probably dropped and created again."),
				 errhint("The applier resumes after index %llu.",
						 (unsigned long long) published)));
		applied = published;
	}
	pg_atomic_write_u64(&pgraft_shared->applied_index, applied);
	pgraft_durable_reset(applied);
	ConditionVariableBroadcast(&pgraft_shared->applied_cv);
	*applied_p = applied;
	pgraft_statement_cache_reset();

	LWLockAcquire(pgraft_shared->lock, LW_EXCLUSIVE);
	pgraft_shared->applier_pid = MyProcPid;
	pgraft_shared->applier_proc = MyProc;
	pgraft_shared->applier_start_index = applied;
	gen = ++pgraft_shared->applier_generation;
	worker_latch = pgraft_shared->worker_latch;
	LWLockRelease(pgraft_shared->lock);
	if (worker_latch)
		SetLatch(worker_latch);

	for (;;)
	{
		uint64		served;

		LWLockAcquire(pgraft_shared->lock, LW_SHARED);
		served = pgraft_shared->queue_generation;
		LWLockRelease(pgraft_shared->lock);
		if (served == gen)
			break;
		sleep_ms(1000);
	}
	{
		MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);
		shm_mq_handle *h = shm_mq_attach(pgraft_apply_queue(), NULL, NULL);

		MemoryContextSwitchTo(old);
		return h;
	}
}

/*
 * Receives the next entry into the batch (copied into cxt).  Returns the
 * result; with nowait, SHM_MQ_WOULD_BLOCK when nothing is there.
 */
static shm_mq_result
receive_one(PgRaftApplyBatch *batch, MemoryContext cxt, uint64 *expected,
			bool nowait)
{
	Size		nbytes;
	void	   *data;
	shm_mq_result res;
	PgRaftApplyHeader h;
	PgRaftApplyEntry *e;

	res = shm_mq_receive(applier_mqh, &nbytes, &data, nowait);
	if (res != SHM_MQ_SUCCESS)
		return res;
	if (nbytes < sizeof(h))
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("pg_raft: short message on the apply queue (%zu bytes)",
						(size_t) nbytes)));
	memcpy(&h, data, sizeof(h));
	if (h.index < *expected)
		return SHM_MQ_SUCCESS;	/* applied before: skip */
	if (h.index > *expected)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("pg_raft: applier expected entry %llu but received %llu",
						(unsigned long long) *expected,
						(unsigned long long) h.index)));
	e = &batch->entries[batch->n++];
	e->index = h.index;
	e->term = h.term;
	e->type = h.type;
	e->len = nbytes - sizeof(h);
	e->data = MemoryContextAllocHuge(cxt, e->len + 1);
	memcpy(e->data, (char *) data + sizeof(h), e->len);
	e->data[e->len] = '\0';
	batch->bytes += e->len;
	(*expected)++;
	return SHM_MQ_SUCCESS;
}

void
pgraft_applier_main(Datum main_arg)
{
	MemoryContext batch_cxt;
	PgRaftApplyBatch *batch;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();

	if (pgraft_shared == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("pg_raft shared memory is not initialised")));
	before_shmem_exit(applier_exit, (Datum) 0);

	BackgroundWorkerInitializeConnection(pgraft_database, NULL, 0);

	/* the applier must never give up on an entry because of a timeout */
	SetConfigOption("statement_timeout", "0", PGC_SUSET, PGC_S_OVERRIDE);
	SetConfigOption("lock_timeout", "0", PGC_SUSET, PGC_S_OVERRIDE);
	SetConfigOption("idle_in_transaction_session_timeout", "0", PGC_SUSET, PGC_S_OVERRIDE);

	/*
	 * Nor may a server's configuration make it apply an entry differently
	 * from the others (invariant 3): writable, read committed, triggers
	 * firing as usual.
	 */
	SetConfigOption("default_transaction_read_only", "off", PGC_SUSET, PGC_S_OVERRIDE);
	SetConfigOption("default_transaction_isolation", "read committed", PGC_SUSET, PGC_S_OVERRIDE);
	SetConfigOption("session_replication_role", "origin", PGC_SUSET, PGC_S_OVERRIDE);

	/*
	 * The entries are durable in the Raft log already: a commit lost in a
	 * crash is applied again from there (applier_batch.c tracks what is
	 * durable, and compaction waits for it).
	 */
	SetConfigOption("synchronous_commit", "off", PGC_SUSET, PGC_S_OVERRIDE);

	batch_cxt = AllocSetContextCreate(TopMemoryContext, "pg_raft apply batch",
									  ALLOCSET_DEFAULT_SIZES);
	batch = MemoryContextAllocZero(TopMemoryContext, sizeof(PgRaftApplyBatch));

	for (;;)
	{
		uint64		applied = wait_for_extension();
		uint64		expected;

		applier_mqh = attach_queue(&applied);
		expected = applied + 1;
		ereport(LOG,
				(errmsg("pg_raft: applier of database \"%s\" resumes after index %llu",
						pgraft_database, (unsigned long long) applied)));

		for (;;)
		{
			shm_mq_result res;

			/* take what is there, without waiting */
			MemoryContextReset(batch_cxt);
			batch->n = 0;
			batch->bytes = 0;
			do
				res = receive_one(batch, batch_cxt, &expected, true);
			while (res == SHM_MQ_SUCCESS &&
				   batch->n < PGRAFT_APPLY_BATCH_ENTRIES &&
				   batch->bytes < PGRAFT_APPLY_BATCH_BYTES);

			if (batch->n > 0)
			{
				while (!pgraft_apply_batch(batch, batch_cxt))
					sleep_ms(PGRAFT_APPLY_RETRY_MS);
			}
			else if (res == SHM_MQ_WOULD_BLOCK)
			{
				/*
				 * Idle: install a received snapshot if there is one (the
				 * worker holds back the entries after it meanwhile), else
				 * wait for the next entry (the worker's send sets our
				 * latch) or a snapshot request.
				 */
				uint64		now_applied = pgraft_restore_if_needed(expected - 1);

				if (now_applied >= expected)
				{
					/* its transaction committed asynchronously too */
					pgraft_durable_note(now_applied, GetXLogInsertRecPtr());
					expected = now_applied + 1;
				}
				else if (pgraft_durable_advance(PGRAFT_DURABLE_FLUSH_MS))
					sleep_ms(PGRAFT_DURABLE_CHECK_MS);
				else
					sleep_ms(PGRAFT_APPLY_RETRY_MS);
			}
			CHECK_FOR_INTERRUPTS();
			if (ConfigReloadPending)
			{
				ConfigReloadPending = false;
				ProcessConfigFile(PGC_SIGHUP);
			}
			if (res == SHM_MQ_DETACHED)
				break;			/* the worker restarted: ask again */
		}
		shm_mq_detach(applier_mqh);
		applier_mqh = NULL;
	}
}
