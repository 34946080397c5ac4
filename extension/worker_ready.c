/*
 * extension/worker_ready.c — carries out what the core asks for, in the
 * order raft.h documents (Raft dissertation §3.8, §10.2):
 *   1. a received snapshot persisted and handed to the applier to install
 *   (snapshot_install.c); 2. the hard state saved, only when term or vote
 *   changed (commit need not be durable, §3.8); 3. the entries written,
 *   their fdatasync started in libuv's thread pool; 4. the messages that do
 *   not depend on the write sent at once (the leader's appends and
 *   heartbeats, §10.2.1); then, when the sync has completed: 5. the held
 *   messages (acknowledgements, votes) sent, committed entries handed to
 *   the applier, read states answered; 6. advance.
 *
 * While the fdatasync runs the loop goes on (messages, ticks, requests
 * step the core); the next ready is taken only after the advance, so what
 * arrived meanwhile is written as the next batch (group commit on leader
 * and followers).  The thread does nothing but raft_log_sync_run: an
 * fdatasync of one file descriptor, no PostgreSQL call.
 *
 * A storage failure is an ERROR: the worker restarts and reopens the log;
 * nothing that depended on the failed write was sent.
 */
#include "postgres.h"

#include <signal.h>
#include <pthread.h>

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

/* libuv's thread pool: the fdatasync, and nothing else. */
static void
sync_work(uv_work_t *req)
{
	PgRaftWorker *w = (PgRaftWorker *) req->data;

	raft_log_sync_run(&w->sync_job);
}

/* Back on the loop's thread (inside uv_run): only note it. */
static void
sync_done(uv_work_t *req, int status)
{
	PgRaftWorker *w = (PgRaftWorker *) req->data;

	w->sync_inflight = false;
	w->sync_status = status;
}

/*
 * Hands the fdatasync to libuv's thread pool.  Its threads are created at
 * the first request and inherit this thread's signal mask: block every
 * signal around that request so that PostgreSQL's handlers only ever run
 * on the main thread.
 */
static void
start_sync(PgRaftWorker *w)
{
	int			rc;

	w->sync_req.data = w;
	w->sync_status = 0;
	w->sync_inflight = true;
	if (!w->sync_pool_started)
	{
		sigset_t	all;
		sigset_t	old;

		sigfillset(&all);
		pthread_sigmask(SIG_SETMASK, &all, &old);
		rc = uv_queue_work(&w->loop, &w->sync_req, sync_work, sync_done);
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		w->sync_pool_started = true;
	}
	else
		rc = uv_queue_work(&w->loop, &w->sync_req, sync_work, sync_done);
	if (rc != 0)
	{
		/* no thread: sync here, as before */
		w->sync_inflight = false;
		raft_log_sync_run(&w->sync_job);
	}
}

/* Step 2: term and vote durable before anything that depends on them. */
static void
save_hard_state(PgRaftWorker *w, const struct raft_ready *rd)
{
	struct raft_hard_state hs = rd->hard_state;
	struct raft_log_info info;
	raft_index	durable;
	int			rc;

	if (!rd->hard_state_changed ||
		(hs.term == w->saved_hs.term && hs.vote == w->saved_hs.vote))
		return;

	/*
	 * The commit index goes along but need not be current (§3.8: a
	 * restarted node re-learns it).  It must never point past durable
	 * entries (recovery checks it), and this ready's entries are not
	 * written yet.
	 */
	raft_log_get_info(w->log, &info);
	durable = Max(info.synced_index, info.snapshot_index);
	if (hs.commit > durable)
		hs.commit = durable;
	if (hs.commit < w->saved_hs.commit)
		hs.commit = w->saved_hs.commit;
	rc = raft_log_save_hard_state(w->log, &hs);
	if (rc != RAFT_OK)
		storage_error(w, "save the hard state of", rc);
	w->saved_hs = hs;
	w->counters.hard_state_saves++;
}

/* Steps 1 to 3; true if an fdatasync now runs in the thread pool. */
static bool
persist_start(PgRaftWorker *w, const struct raft_ready *rd)
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

	save_hard_state(w, rd);

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
		for (i = 0; i < rd->n_entries; i++)
			if (rd->entries[i].type == RAFT_ENTRY_CONFIG)
				pgraft_compact_note_config(w, rd->entries[i].index);
	}

	/* writes the entries; the fdatasync is the job's */
	rc = raft_log_sync_begin(w->log, &w->sync_job);
	if (rc != RAFT_OK)
		storage_error(w, "write to", rc);
	w->sync_begun = true;
	if (w->sync_job.index == 0)
		return false;
	start_sync(w);
	return w->sync_inflight;
}

/*
 * Sends the ready's messages that wait for the sync, or those that do not;
 * corked, so that those to one peer leave in one write.
 */
static void
send_messages(PgRaftWorker *w, const struct raft_ready *rd, bool held)
{
	uint32		i;

	/* first, so that no commit index leaves before the lease shows it */
	pgraft_lease_publish(w);
	raft_transport_cork(w->transport);
	for (i = 0; i < rd->n_messages; i++)
	{
		const struct raft_message *m = &rd->messages[i];
		int			rc;

		if (m->to == (raft_id) pgraft_node_id ||
			raft_message_waits_for_sync(m) != held)
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
	raft_transport_flush(w->transport);
}

/* Steps 5 and 6, once the sync has completed. */
static void
finish_ready(PgRaftWorker *w)
{
	struct raft_ready *rd = &w->rd;
	uint32		i;
	bool		config_committed = false;
	int			rc;

	if (w->sync_begun)
	{
		w->sync_begun = false;
		if (w->sync_status != 0 && w->sync_job.index > 0)
			raft_log_sync_run(&w->sync_job);	/* the pool refused it */
		rc = raft_log_sync_finish(w->log, &w->sync_job);
		if (rc != RAFT_OK)
			storage_error(w, "sync", rc);
	}
	send_messages(w, rd, true);
	w->counters.committed += rd->n_committed;
	for (i = 0; i < rd->n_committed; i++)
	{
		pgraft_queue_committed(w, &rd->committed[i]);
		if (rd->committed[i].type == RAFT_ENTRY_CONFIG)
			config_committed = true;
	}
	if (rd->n_reads > 0)
		pgraft_worker_answer_reads(w, rd->reads, rd->n_reads);
	raft_advance(w->raft, rd);
	w->rd_active = false;
	if (config_committed || rd->n_entries > 0)
		pgraft_worker_sync_peers(w);
}

/*
 * Carries out readies until none is left, or until one waits for its
 * fdatasync: the loop then goes on and calls this again when the thread
 * pool reports the sync done.
 */
void
pgraft_worker_handle_ready(PgRaftWorker *w)
{
	int			rounds;
	bool		compact_checked = false;

	for (rounds = 0; rounds < PGRAFT_MAX_READIES_PER_LOOP; rounds++)
	{
		if (w->rd_active)
		{
			if (w->sync_inflight)
				return;
			finish_ready(w);
			CHECK_FOR_INTERRUPTS();
			continue;
		}

		/*
		 * Compaction rewrites the log's files: only here, between two
		 * readies, never under a running sync.
		 */
		if (!compact_checked)
		{
			compact_checked = true;
			pgraft_worker_maybe_compact(w);
		}
		if (!raft_has_ready(w->raft))
			break;
		raft_ready(w->raft, &w->rd);
		w->rd_active = true;
		persist_start(w, &w->rd);
		send_messages(w, &w->rd, false);
	}
}

/*
 * Shut-down or an ERROR with a sync in flight: wait for the thread to let
 * go of the log's file before it is closed.  Bounded: an fdatasync
 * returns, even with an error.
 */
void
pgraft_worker_wait_sync(PgRaftWorker *w)
{
	while (w->sync_inflight)
		uv_run(&w->loop, UV_RUN_ONCE);
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
