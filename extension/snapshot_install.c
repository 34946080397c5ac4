/*
 * extension/snapshot_install.c — the handshake between the Raft worker and
 * the applier when this server receives a snapshot (Raft dissertation §5).
 *
 * raft.h says the host persists a received snapshot, then restores the
 * state machine.  Here the state machine is the replicated tables, and
 * restoring them means fetching them from another server over libpq
 * (snapshot_fetch.c), which the worker must never wait for.  So:
 *
 *   worker:  raft_log_save_snapshot (durable: a restart finds it again),
 *            then pgraft_request_restore: restore_index/term/source in
 *            shared memory, the applier's latch set; raft_advance at once.
 *            From then on it sends the applier no entry after
 *            restore_index until applied_index has reached it
 *            (pgraft_restore_hold_back), so no later entry is ever applied
 *            to tables that lack the snapshot.
 *   applier: when idle, pgraft_restore_if_needed: if restore_index is past
 *            its applied index, fetch and load the tables in one local
 *            transaction that also sets raft.applied (to the source's
 *            applied index, which is >= restore_index: a later state of
 *            the same log), then publish applied_index.  Entries up to it
 *            that arrive afterwards are skipped as already applied.  A
 *            failed attempt rolls back (the tables stay as they were) and
 *            is retried.  When the snapshot's source cannot be reached
 *            at all (down, or its conninfo refused), the applier tries
 *            the other members of the configuration whose conninfo it
 *            knows (snapshot_data.c), each checked to be the node meant
 *            and to have applied at least restore_index.
 *
 * After a restart the worker loads the snapshot from the log and requests
 * the restore again; if raft.applied already reached it, nothing happens.
 */
#include "postgres.h"

#include "miscadmin.h"
#include "storage/proc.h"
#include "utils/timestamp.h"

#include "applier.h"
#include "pg_raft.h"
#include "shmem.h"
#include "snapshot.h"

#define RESTORE_RETRY_MS 1000	/* between failed attempts */

/* applier: no attempt before this time (after a failure) */
static TimestampTz next_attempt = 0;

void
pgraft_request_restore(const struct raft_snapshot *snap)
{
	PgRaftSnapshotSource src;
	bool		named = pgraft_snapshot_data_parse(&snap->data, &src);
	PGPROC	   *applier;

	if (!named)
		ereport(WARNING,
				(errmsg("pg_raft: the snapshot at index %llu names no server to fetch the tables from",
						(unsigned long long) snap->index),
				 errhint("The applier waits; a later snapshot from the leader replaces it.")));

	if (named)
	{
		int			i;

		pgraft_remember_conninfo(src.node_id, src.conninfo);
		for (i = 0; i < src.n_alt; i++)
			if (src.alt_node[i] != pgraft_node_id)
				pgraft_remember_conninfo(src.alt_node[i], src.alt_conninfo[i]);
	}

	LWLockAcquire(pgraft_shared->lock, LW_EXCLUSIVE);
	if (snap->index >= pgraft_shared->restore_index)
	{
		if (snap->index > pgraft_shared->restore_index)
			pgraft_shared->restore_attempts = 0;
		pgraft_shared->restore_index = snap->index;
		pgraft_shared->restore_term = snap->term;
		pgraft_shared->restore_node = named ? src.node_id : 0;
		strlcpy(pgraft_shared->restore_conninfo, named ? src.conninfo : "",
				sizeof(pgraft_shared->restore_conninfo));
	}
	applier = pgraft_shared->applier_proc;
	LWLockRelease(pgraft_shared->lock);
	if (applier != NULL)
		SetLatch(&applier->procLatch);
}

uint64
pgraft_restore_hold_back(void)
{
	uint64		index;

	LWLockAcquire(pgraft_shared->lock, LW_SHARED);
	index = pgraft_shared->restore_index;
	LWLockRelease(pgraft_shared->lock);
	if (index == 0 || pg_atomic_read_u64(&pgraft_shared->applied_index) >= index)
		return PG_UINT64_MAX;
	return index;
}

/*
 * After commit: the new applied index for everybody.  A proposal of this
 * server that the snapshot covers was applied on the source, but its
 * result is not known here.
 */
static void
publish_restored(uint64 applied)
{
	bool		woke[PGRAFT_MAX_REQUESTS];
	Latch	   *worker_latch;
	int			s;

	memset(woke, 0, sizeof(woke));
	pg_atomic_write_u64(&pgraft_shared->applied_index, applied);
	LWLockAcquire(pgraft_shared->lock, LW_EXCLUSIVE);
	pgraft_end_proposals_through(applied, PGRAFT_OUT_UNKNOWN, woke);
	pgraft_shared->restore_attempts = 0;
	pgraft_shared->restores_done++;
	worker_latch = pgraft_shared->worker_latch;
	LWLockRelease(pgraft_shared->lock);

	for (s = 0; s < PGRAFT_MAX_REQUESTS; s++)
		if (woke[s])
			ConditionVariableBroadcast(&pgraft_shared->slots[s].cv);
	ConditionVariableBroadcast(&pgraft_shared->applied_cv);
	if (worker_latch)
		SetLatch(worker_latch);
}

/*
 * The other members (not this server, not the named source) whose conninfo
 * is known, in configuration order.  Returns how many (at most max).
 */
static int
other_sources(int named, int *nodes, int max)
{
	struct raft_config *cfg = palloc(sizeof(struct raft_config));
	char		conninfo[PGRAFT_CONNINFO_LEN];
	int			n = 0;
	uint32		i;

	LWLockAcquire(pgraft_shared->lock, LW_SHARED);
	*cfg = pgraft_shared->status.config;
	LWLockRelease(pgraft_shared->lock);
	for (i = 0; i < cfg->n && n < max; i++)
	{
		int			id = (int) cfg->members[i].id;

		if (id != pgraft_node_id && id != named && pgraft_known_conninfo(id, conninfo))
			nodes[n++] = id;
	}
	pfree(cfg);
	return n;
}

uint64
pgraft_restore_if_needed(uint64 applied)
{
	uint64		index;
	int			node;
	uint64		attempts;
	char		conninfo[PGRAFT_CONNINFO_LEN];
	uint64		loaded;
	bool		unreachable = false;
	int			from;
	int			elevel;

	LWLockAcquire(pgraft_shared->lock, LW_SHARED);
	index = pgraft_shared->restore_index;
	node = pgraft_shared->restore_node;
	attempts = pgraft_shared->restore_attempts;
	strlcpy(conninfo, pgraft_shared->restore_conninfo, sizeof(conninfo));
	LWLockRelease(pgraft_shared->lock);

	if (index == 0 || applied >= index || node == 0)
		return applied;
	if (node == pgraft_node_id)
	{
		/* our own snapshot names us: nothing to fetch (cannot be behind it) */
		return applied;
	}
	if (GetCurrentTimestamp() < next_attempt)
		return applied;

	/* retried every second while it fails: the first three, then one a minute */
	elevel = attempts < 3 || attempts % 60 == 0 ? LOG : DEBUG1;
	ereport(elevel,
			(errmsg("pg_raft: installing the snapshot at index %llu from node %d (applied here: %llu, attempt %llu)",
					(unsigned long long) index, node,
					(unsigned long long) applied,
					(unsigned long long) attempts + 1)));
	from = node;
	loaded = pgraft_snapshot_fetch(conninfo, node, index, &unreachable, elevel);
	if (loaded == 0 && unreachable)
	{
		int			others[RAFT_MAX_MEMBERS];
		int			n = other_sources(node, others, RAFT_MAX_MEMBERS);
		int			i;

		for (i = 0; i < n && loaded == 0; i++)
		{
			if (!pgraft_known_conninfo(others[i], conninfo))
				continue;
			ereport(LOG,
					(errmsg("pg_raft: node %d is unreachable; fetching the snapshot at index %llu from node %d instead",
							node, (unsigned long long) index, others[i])));
			from = others[i];
			loaded = pgraft_snapshot_fetch(conninfo, others[i], index, &unreachable, elevel);
		}
	}
	if (loaded == 0)
	{
		next_attempt = TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
												   RESTORE_RETRY_MS);
		LWLockAcquire(pgraft_shared->lock, LW_EXCLUSIVE);
		pgraft_shared->restore_attempts++;
		LWLockRelease(pgraft_shared->lock);
		return applied;
	}
	publish_restored(loaded);
	ereport(LOG,
			(errmsg("pg_raft: installed the snapshot from node %d: the replicated tables are as of index %llu",
					from, (unsigned long long) loaded)));
	return loaded;
}
