/*
 * extension/lease.c — the leader's lease (§6.4.1) as the Raft worker
 * publishes it in shared memory, so that a backend under
 * pg_raft.read_consistency = lease finds its read index there, without a
 * request to the worker and back.
 *
 * The worker publishes (read index, valid until) on every loop pass and
 * before it sends any message: the read index is the commit index while
 * raft_lease_held says the lease holds, and "valid until" is the time of
 * the worker's next tick, the earliest moment the core's lease can lapse
 * (only a tick ages the followers' last contact).  A worker that stops
 * (paused, busy, gone) stops renewing it, and backends fall back to asking
 * the worker.  Publishing before every send means that no server can learn
 * of a commit index, and so no client see a write acknowledged, before the
 * index published here has reached it; a TIMEOUT_NOW (leadership transfer)
 * goes out only after the lease was withdrawn here.
 *
 * A worker whose loop fell behind its ticks (paused, starved of CPU) takes
 * no lease for an election timeout: the core's lease is counted in ticks,
 * and the ticks it missed would have aged it.
 *
 * Published times are CLOCK_MONOTONIC microseconds: a wall clock step
 * cannot stretch a lease.
 */
#include "postgres.h"

#include <time.h>

#include "storage/spin.h"

#include "pg_raft.h"
#include "shmem.h"
#include "worker.h"

static int64
monotonic_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void
set_lease(uint64 index, int64 until_us)
{
	SpinLockAcquire(&pgraft_shared->lease_mutex);
	pgraft_shared->lease_index = index;
	pgraft_shared->lease_until_us = until_us;
	SpinLockRelease(&pgraft_shared->lease_mutex);
}

/*
 * Worker: whether the lease holds now, and its read index.  The core
 * counts time in ticks; a loop that fell behind (worker.c) skipped ticks,
 * so the followers' last contact looks more recent than it is: no lease
 * until an election timeout has passed with ticks on time.
 */
bool
pgraft_worker_lease(PgRaftWorker *w, raft_index *index)
{
	if (w->lease_after != 0)
	{
		if (GetCurrentTimestamp() < w->lease_after)
			return false;
		w->lease_after = 0;
	}
	return raft_lease_held(w->raft, index);
}

/* Worker: publishes the lease as the core holds it now. */
void
pgraft_lease_publish(PgRaftWorker *w)
{
	raft_index	commit;
	int64		until_tick;

	if (!pgraft_worker_lease(w, &commit))
	{
		if (pgraft_shared->lease_until_us != 0)
			set_lease(0, 0);
		return;
	}
	until_tick = w->next_tick - GetCurrentTimestamp();
	if (until_tick <= 0)
	{
		set_lease(0, 0);		/* a tick is due: the core decides again */
		return;
	}
	until_tick = Min(until_tick, (int64) pgraft_heartbeat_interval_ms * 1000);
	set_lease((uint64) commit, monotonic_us() + until_tick);
}

/* Worker: no lease any more (the worker exits). */
void
pgraft_lease_withdraw(void)
{
	set_lease(0, 0);
}

/*
 * Backend: the read index the lease gives now, if the worker published one
 * that has not lapsed.
 */
bool
pgraft_lease_read_index(uint64 *index)
{
	uint64		lease_index;
	int64		until;

	SpinLockAcquire(&pgraft_shared->lease_mutex);
	lease_index = pgraft_shared->lease_index;
	until = pgraft_shared->lease_until_us;
	SpinLockRelease(&pgraft_shared->lease_mutex);
	if (until == 0 || monotonic_us() >= until)
		return false;
	*index = lease_index;
	return true;
}
