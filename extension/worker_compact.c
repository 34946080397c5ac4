/*
 * extension/worker_compact.c — log compaction (Raft dissertation §5.1).
 *
 * The state machine is this server's tables in pg_raft.database, so a
 * snapshot costs nothing to take: the tables as of raft.applied *are* it.
 * What the core and the log keep at the snapshot's index is its metadata
 * (index, term, the configuration in force there) and a small opaque blob
 * telling a server that needs it where to fetch the tables from (this
 * server's node id and libpq conninfo, see snapshot_data.c).
 *
 * Once the applier has durably applied more than pg_raft.log_keep_entries
 * entries past the last snapshot, the worker compacts up to
 * durably applied - keep: raft_compact (the core forgets the entries), then
 * raft_log_save_snapshot and raft_log_compact (the log drops whole
 * segments).  Never past the durably applied index, which the applier
 * publishes once its (asynchronous) commit is flushed
 * (durable_applied_index; DESIGN.md invariant 2): a crash can lose the
 * last applied entries, which are then applied again from the log.
 *
 * The configuration in force at the compaction index must go into the
 * snapshot.  The worker knows the latest configuration in the log (the
 * core's status) and, conservatively, the index of the latest CONFIG
 * entry it persisted: it compacts only up to an index at or after that
 * entry, where the latest configuration is the one in force.
 */
#include "postgres.h"

#include "miscadmin.h"

#include "pg_raft.h"
#include "shmem.h"
#include "snapshot.h"
#include "worker.h"

/* Compact only once this many entries (at least) passed the last snapshot. */
static uint64
compaction_step(void)
{
	return Max((uint64) pgraft_log_keep_entries / 4, (uint64) 64);
}

/* A CONFIG entry was persisted, or a snapshot with a configuration loaded. */
void
pgraft_compact_note_config(PgRaftWorker *w, raft_index index)
{
	if (index > w->last_config_index)
		w->last_config_index = index;
}

/* Loaded state: the latest configuration entry among the loaded ones. */
void
pgraft_compact_note_loaded(PgRaftWorker *w, const struct raft_log_loaded *l)
{
	size_t		i;

	w->last_config_index = l->snapshot.index;
	for (i = 0; i < l->n_entries; i++)
		if (l->entries[i].type == RAFT_ENTRY_CONFIG)
			pgraft_compact_note_config(w, l->entries[i].index);
}

void
pgraft_worker_maybe_compact(PgRaftWorker *w)
{
	uint64		applied = pg_atomic_read_u64(&pgraft_shared->durable_applied_index);
	uint64		keep = (uint64) pgraft_log_keep_entries;
	struct raft_status *st;
	struct raft_snapshot snap;
	struct raft_buffer data;
	raft_index	index;
	int			rc;

	if (applied <= keep)
		return;
	index = applied - keep;
	st = palloc(sizeof(struct raft_status));
	raft_get_status(w->raft, st);
	if (index > st->applied)
		index = st->applied;	/* never past what the core handed out */
	if (index < st->snapshot_index + compaction_step() ||
		index < st->first_index ||
		index < w->last_config_index ||
		st->config.n == 0)
	{
		pfree(st);
		return;
	}

	memset(&snap, 0, sizeof(snap));
	snap.index = index;
	snap.term = raft_log_term_at(w->log, index);
	snap.config = st->config;
	pfree(st);
	if (snap.term == 0)
		return;					/* not in the log on disk (yet) */
	pgraft_snapshot_data_build(&data);
	snap.data = data;

	rc = raft_compact(w->raft, index, &data);
	if (rc != RAFT_OK)
	{
		ereport(DEBUG1,
				(errmsg_internal("pg_raft: no compaction at %llu: %s",
								 (unsigned long long) index, raft_strerror(rc))));
		return;
	}
	w->counters.compactions++;
	rc = raft_log_save_snapshot(w->log, &snap);
	if (rc == RAFT_OK)
		rc = raft_log_compact(w->log, index);
	if (rc != RAFT_OK)
		ereport(ERROR,
				(errcode(ERRCODE_IO_ERROR),
				 errmsg("could not compact the Raft log up to index %llu: %s",
						(unsigned long long) index, raft_strerror(rc)),
				 errdetail("%s", raft_log_errmsg(w->log))));
	ereport(DEBUG1,
			(errmsg_internal("pg_raft: compacted the Raft log up to index %llu (term %llu); applied %llu",
							 (unsigned long long) index,
							 (unsigned long long) snap.term,
							 (unsigned long long) applied)));
}
