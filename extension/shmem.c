/*
 * extension/shmem.c — reserves and initialises pg_raft's shared memory
 * (pg_stat_statements' way: shmem_request_hook asks for the size and the
 * LWLock, shmem_startup_hook attaches and initialises only when !found).
 */
#include "postgres.h"

#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/shmem.h"
#include "utils/timestamp.h"

#include "pg_raft.h"
#include "shmem.h"

PgRaftShared *pgraft_shared = NULL;

#if PG_VERSION_NUM >= 150000
static shmem_request_hook_type prev_shmem_request_hook = NULL;
#endif
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

Size
pgraft_shmem_size(void)
{
	return add_size(offsetof(PgRaftShared, queue), PGRAFT_APPLY_QUEUE_BYTES);
}

static void
pgraft_shmem_request_hook(void)
{
#if PG_VERSION_NUM >= 150000
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
#endif
	RequestAddinShmemSpace(pgraft_shmem_size());
	RequestNamedLWLockTranche("pg_raft", 1);
}

static void
pgraft_shmem_startup_hook(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	pgraft_shared = ShmemInitStruct("pg_raft", pgraft_shmem_size(), &found);
	if (!found)
	{
		int			i;

		memset(pgraft_shared, 0, offsetof(PgRaftShared, queue));
		pgraft_shared->lock = &(GetNamedLWLockTranche("pg_raft"))->lock;
		ConditionVariableInit(&pgraft_shared->applied_cv);
		pg_atomic_init_u64(&pgraft_shared->applied_index, 0);
		pg_atomic_init_u64(&pgraft_shared->durable_applied_index, 0);
		SpinLockInit(&pgraft_shared->lease_mutex);

		/*
		 * Request ids must not repeat across restarts: an entry proposed
		 * before a restart can be applied after it, and must not be taken
		 * for a new request.  Start from the clock (microseconds).
		 */
		pg_atomic_init_u64(&pgraft_shared->next_request_id,
						   (uint64) GetCurrentTimestamp());
		/* likewise the ReadIndex rounds: a late answer is never a new one's */
		pgraft_shared->next_read_round = (uint64) GetCurrentTimestamp();
		for (i = 0; i < PGRAFT_MAX_REQUESTS; i++)
		{
			ConditionVariableInit(&pgraft_shared->slots[i].cv);
			pgraft_shared->slots[i].state = PGRAFT_SLOT_FREE;
		}
	}
	LWLockRelease(AddinShmemInitLock);
}

/* Called from _PG_init while preloading. */
void
pgraft_shmem_install_hooks(void)
{
#if PG_VERSION_NUM >= 150000
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = pgraft_shmem_request_hook;
#else
	pgraft_shmem_request_hook();
#endif
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = pgraft_shmem_startup_hook;
}
