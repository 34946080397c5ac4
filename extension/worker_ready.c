/*
 * extension/worker_ready.c — carries out what the core asks for, in the
 * order raft.h documents (Raft dissertation §3.8, §10.2):
 *   1. a received snapshot persisted and handed to the applier to install
 *   (snapshot_install.c), 2. entries and hard
 *   state made durable, 3. messages sent, 4. committed entries handed to
 *   the applier, 5. read states answered, 6. advance.
 * A storage failure is an ERROR: the worker restarts and reopens the log;
 * nothing that depended on the failed write was sent.
 */
#include "postgres.h"

#include "miscadmin.h"

#include "pg_raft.h"
#include "shmem.h"
#include "snapshot.h"
#include "worker.h"

static void
storage_error(PgRaftWorker *w, const char *what, int rc)
{
	ereport(ERROR,
			(errcode(ERRCODE_IO_ERROR),
			 errmsg("could not %s the Raft log: %s", what, raft_strerror(rc)),
			 errdetail("%s", raft_log_errmsg(w->log))));
}

static void
persist(PgRaftWorker *w, const struct raft_ready *rd)
{
	int			rc;
	uint32		i;

	if (rd->snapshot != NULL && rd->snapshot->index > 0)
	{
		/*
		 * §5: persist the snapshot (the log is reset to it), then restore
		 * the state machine: the applier fetches the tables; until it has,
		 * no later entry reaches it (snapshot_install.c).
		 */
		rc = raft_log_save_snapshot(w->log, rd->snapshot);
		if (rc != RAFT_OK)
			storage_error(w, "save a snapshot in", rc);
		pgraft_compact_note_config(w, rd->snapshot->index);
		pgraft_request_restore(rd->snapshot);
		w->counters.snapshots_received++;
		ereport(LOG,
				(errmsg("pg_raft: received a snapshot at index %llu (term %llu); the applier installs it",
						(unsigned long long) rd->snapshot->index,
						(unsigned long long) rd->snapshot->term)));
	}

	if (rd->n_entries > 0)
	{
		struct raft_log_info info;

		raft_log_get_info(w->log, &info);
		/* §3.5: a conflicting suffix is replaced */
		if (info.last_index > 0 && rd->entries[0].index <= info.last_index)
		{
			rc = raft_log_truncate(w->log, rd->entries[0].index);
			if (rc != RAFT_OK)
				storage_error(w, "truncate", rc);
		}
		rc = raft_log_append(w->log, rd->entries, rd->n_entries);
		if (rc != RAFT_OK)
			storage_error(w, "append to", rc);
		rc = raft_log_sync(w->log);
		if (rc != RAFT_OK)
			storage_error(w, "sync", rc);
		for (i = 0; i < rd->n_entries; i++)
			if (rd->entries[i].type == RAFT_ENTRY_CONFIG)
				pgraft_compact_note_config(w, rd->entries[i].index);
	}
	if (rd->hard_state_changed)
	{
		rc = raft_log_save_hard_state(w->log, &rd->hard_state);
		if (rc != RAFT_OK)
			storage_error(w, "save the hard state of", rc);
	}
}

static void
send_messages(PgRaftWorker *w, const struct raft_ready *rd)
{
	uint32		i;

	for (i = 0; i < rd->n_messages; i++)
	{
		const struct raft_message *m = &rd->messages[i];
		int			rc;

		if (m->to == (raft_id) pgraft_node_id)
			continue;
		if (m->type == RAFT_MSG_SNAPSHOT)
			w->counters.snapshots_sent++;
		rc = raft_transport_send(w->transport, m);
		if (rc == RAFT_EUNKNOWNNODE)
		{
			/* a member we have no address for yet: add it, then retry */
			pgraft_worker_sync_peers(w);
			rc = raft_transport_send(w->transport, m);
		}
		if (rc != RAFT_OK && rc != RAFT_EBUSY)
			raft_report_unreachable(w->raft, m->to);
		/* a snapshot that did not leave: the core may send it again */
		if (rc != RAFT_OK && m->type == RAFT_MSG_SNAPSHOT)
			raft_report_snapshot(w->raft, m->to, false);
	}
}

void
pgraft_worker_handle_ready(PgRaftWorker *w)
{
	int			rounds;

	for (rounds = 0; rounds < PGRAFT_MAX_READIES_PER_LOOP; rounds++)
	{
		struct raft_ready rd;
		uint32		i;
		bool		config_committed = false;

		if (!raft_has_ready(w->raft))
			break;
		raft_ready(w->raft, &rd);
		persist(w, &rd);
		send_messages(w, &rd);
		w->counters.committed += rd.n_committed;
		for (i = 0; i < rd.n_committed; i++)
		{
			pgraft_queue_committed(w, &rd.committed[i]);
			if (rd.committed[i].type == RAFT_ENTRY_CONFIG)
				config_committed = true;
		}
		if (rd.n_reads > 0)
			pgraft_worker_answer_reads(w, rd.reads, rd.n_reads);
		raft_advance(w->raft, &rd);
		if (config_committed || rd.n_entries > 0)
			pgraft_worker_sync_peers(w);
		CHECK_FOR_INTERRUPTS();
	}
}

/*
 * Makes the transport's peers those of the latest configuration in the
 * log (a member uses a new configuration as soon as it has the entry,
 * §4.1).
 */
void
pgraft_worker_sync_peers(PgRaftWorker *w)
{
	struct raft_status *st = palloc(sizeof(struct raft_status));
	uint32		i;

	raft_get_status(w->raft, st);

	/*
	 * A server that joins has no configuration until the leader sends it
	 * one; until then it reaches the members listed in
	 * pg_raft.initial_cluster, so that it can answer them.
	 */
	if (st->config.n == 0)
		st->config = w->address_book;
	for (i = 0; i < st->config.n; i++)
	{
		const struct raft_member *m = &st->config.members[i];
		const struct raft_member *old = raft_config_find(&w->peers, m->id);

		if (m->id == (raft_id) pgraft_node_id)
			continue;
		if (old == NULL || strcmp(old->addr, m->addr) != 0)
		{
			int			rc = raft_transport_set_peer(w->transport, m->id, m->addr);

			if (rc != RAFT_OK)
				ereport(LOG,
						(errmsg("pg_raft: could not add peer %llu at %s: %s",
								(unsigned long long) m->id, m->addr,
								raft_strerror(rc))));
		}
	}
	for (i = 0; i < w->peers.n; i++)
	{
		const struct raft_member *m = &w->peers.members[i];

		if (m->id != (raft_id) pgraft_node_id &&
			raft_config_find(&st->config, m->id) == NULL)
			raft_transport_remove_peer(w->transport, m->id);
	}
	w->peers = st->config;
	pfree(st);
}
