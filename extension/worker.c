/*
 * extension/worker.c — the Raft worker: a background worker that runs this
 * server's Raft node.  One event loop: a WaitEventSet over the latch,
 * postmaster death and libuv's backend fd; then uv_run(UV_RUN_NOWAIT),
 * ticks, requests from the slots, readies.  It never runs SQL and never
 * waits for the applier, so a long statement cannot stop heartbeats.
 *
 * The log's fdatasync runs in libuv's thread pool (worker_ready.c): while
 * it runs, the loop keeps receiving, ticking and taking requests, and the
 * next ready waits for it (group commit).
 *
 * libuv callbacks (transport messages, logs) never ereport: they step the
 * core (plain C) or queue a line that the loop logs afterwards.
 */
#include "postgres.h"

#include <signal.h>
#include <sys/stat.h>

#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/fd.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "tcop/tcopprot.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "pg_raft.h"
#include "shmem.h"
#include "snapshot.h"
#include "status_log.h"
#include "worker.h"
#include "worker_config.h"

#define PGRAFT_LOG_DIR "pg_raft"

PGDLLEXPORT void pgraft_worker_main(Datum main_arg);

static PgRaftWorker *worker = NULL;
static unsigned election_ticks = 0;	/* fixed when the core is created */

void
pgraft_worker_queue_log(PgRaftWorker *w, int level, const char *line)
{
	/* lines nobody would see are neither kept nor counted as dropped */
	if (!message_level_is_interesting(level))
		return;
	if (w->n_log_lines >= PGRAFT_WORKER_LOG_LINES)
	{
		w->log_lines_dropped++;
		return;
	}
	strlcpy(w->log_lines[w->n_log_lines], line, PGRAFT_WORKER_LOG_LINE);
	w->log_levels[w->n_log_lines] = level;
	w->n_log_lines++;
}

static void
flush_log_lines(PgRaftWorker *w)
{
	int			i;

	for (i = 0; i < w->n_log_lines; i++)
		ereport(w->log_levels[i],
				(errmsg_internal("pg_raft: %s", w->log_lines[i])));
	w->n_log_lines = 0;
	if (w->log_lines_dropped > 0)
	{
		ereport(LOG,
				(errmsg("pg_raft: %llu log lines were dropped",
						(unsigned long long) w->log_lines_dropped)));
		w->log_lines_dropped = 0;
	}
}

/* Core trace: may run inside a libuv callback, so only queue. */
static void
core_trace(void *arg, raft_id id, const char *line)
{
	pgraft_worker_queue_log((PgRaftWorker *) arg, DEBUG1, line);
}

static void
transport_log(void *arg, int level, const char *line)
{
	int			elevel = level >= RAFT_TRANSPORT_LOG_WARNING ? LOG :
		level >= RAFT_TRANSPORT_LOG_INFO ? DEBUG1 : DEBUG2;

	pgraft_worker_queue_log((PgRaftWorker *) arg, elevel, line);
}

/* A message from a peer: step the core (plain C, never longjmps). */
static void
transport_on_message(struct raft_transport *t, const struct raft_message *m,
					 void *arg)
{
	PgRaftWorker *w = (PgRaftWorker *) arg;
	int			rc = raft_step(w->raft, m);

	if (rc != RAFT_OK)
	{
		w->step_errors++;
		w->last_step_error = rc;
	}
}

static void
set_worker_error(const char *msg)
{
	LWLockAcquire(pgraft_shared->lock, LW_EXCLUSIVE);
	strlcpy(pgraft_shared->worker_error, msg, sizeof(pgraft_shared->worker_error));
	LWLockRelease(pgraft_shared->lock);
}

/* Opens $PGDATA/pg_raft and loads or bootstraps the core. */
static void
start_core(PgRaftWorker *w)
{
	struct raft_options opt;
	struct raft_log_options lopt;
	struct raft_log_loaded loaded;
	struct raft_config initial;
	char		err[256];
	int			rc;

	if (MakePGDirectory(PGRAFT_LOG_DIR) < 0 && errno != EEXIST)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not create directory \"%s\": %m", PGRAFT_LOG_DIR)));

	raft_log_options_default(&lopt);
	memset(&loaded, 0, sizeof(loaded));
	rc = raft_log_open(PGRAFT_LOG_DIR, &lopt, &w->log, &loaded);
	if (rc != RAFT_OK)
	{
		set_worker_error(loaded.error);
		ereport(ERROR,
				(errcode(rc == RAFT_ECORRUPT ? ERRCODE_DATA_CORRUPTED : ERRCODE_IO_ERROR),
				 errmsg("could not open the Raft log in \"%s\": %s",
						PGRAFT_LOG_DIR, raft_strerror(rc)),
				 errdetail("%s", loaded.error)));
	}
	if (loaded.repaired)
		ereport(LOG,
				(errmsg("pg_raft: repaired the Raft log"),
				 errdetail("%s", loaded.report)));

	raft_options_default(&opt, (raft_id) pgraft_node_id,
						 ((uint64) MyProcPid << 32) ^ (uint64) GetCurrentTimestamp() ^
						 (uint64) pgraft_node_id);
	opt.heartbeat_ticks = 1;
	opt.election_ticks = Max(2, pgraft_election_timeout_ms / pgraft_heartbeat_interval_ms);
	election_ticks = opt.election_ticks;
	opt.pre_vote = true;
	opt.check_quorum = true;
	opt.lease_reads = false;
	opt.trace = core_trace;
	opt.trace_arg = w;
	w->raft = raft_new(&opt);
	if (w->raft == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("could not create the Raft node")));

	if (!pgraft_parse_cluster(pgraft_initial_cluster, &initial, err, sizeof(err)))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid value for pg_raft.initial_cluster: %s", err)));
	w->cluster_id = pgraft_cluster_id(pgraft_cluster_secret);

	w->address_book = initial;
	if (loaded.fresh)
	{
		if (raft_config_find(&initial, (raft_id) pgraft_node_id) != NULL)
		{
			rc = raft_bootstrap(w->raft, &initial);
			if (rc != RAFT_OK)
				ereport(ERROR,
						(errcode(ERRCODE_INTERNAL_ERROR),
						 errmsg("could not bootstrap the Raft node: %s",
								raft_strerror(rc))));
			ereport(LOG,
					(errmsg("pg_raft: node %d bootstrapped a cluster of %u members from pg_raft.initial_cluster",
							pgraft_node_id, initial.n)));
		}
		else
			ereport(LOG,
					(errmsg("pg_raft: node %d starts empty and waits to be added with raft.add_node(%d, '%s', ...)",
							pgraft_node_id, pgraft_node_id, pgraft_listen_addr)));
	}
	else
	{
		rc = raft_load(w->raft, &loaded.hard_state,
					   loaded.snapshot.index ? &loaded.snapshot : NULL,
					   loaded.entries, loaded.n_entries);
		if (rc != RAFT_OK)
		{
			raft_log_loaded_free(&loaded);
			ereport(ERROR,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg("could not load the Raft state from \"%s\": %s",
							PGRAFT_LOG_DIR, raft_strerror(rc))));
		}
		w->saved_hs = loaded.hard_state;
		pgraft_compact_note_loaded(w, &loaded);
		/* the tables may not have reached it (a crash during an install) */
		if (loaded.snapshot.index > 0)
			pgraft_request_restore(&loaded.snapshot);
		ereport(LOG,
				(errmsg("pg_raft: node %d loaded term %llu, commit %llu, %zu entries",
						pgraft_node_id,
						(unsigned long long) loaded.hard_state.term,
						(unsigned long long) loaded.hard_state.commit,
						loaded.n_entries)));
	}
	raft_log_loaded_free(&loaded);
}

static void
start_transport(PgRaftWorker *w)
{
	struct raft_transport_options topt;
	int			rc;

	raft_transport_options_default(&topt);
	topt.id = (raft_id) pgraft_node_id;
	topt.listen_addr = pgraft_listen_addr;
	topt.cluster_id = w->cluster_id;
	topt.secret = pgraft_cluster_secret;
	topt.secret_len = Min(strlen(pgraft_cluster_secret), RAFT_TRANSPORT_SECRET_MAX);
	topt.seed = (uint64) GetCurrentTimestamp() ^ (uint64) MyProcPid;
	topt.on_message = transport_on_message;
	topt.log = transport_log;
	topt.arg = w;
	rc = raft_transport_new(&w->loop, &topt, &w->transport);
	flush_log_lines(w);
	if (rc != RAFT_OK)
	{
		char		msg[PGRAFT_ERRMSG_LEN];

		snprintf(msg, sizeof(msg), "could not listen on pg_raft.listen_addr %s: %s",
				 pgraft_listen_addr, raft_strerror(rc));
		set_worker_error(msg);
		ereport(ERROR,
				(errcode(ERRCODE_CONNECTION_FAILURE),
				 errmsg("%s", msg),
				 errhint("Check that the address is one of this host's and the port is free.")));
	}
	pgraft_worker_sync_peers(w);
}

static void
transport_closed(void *arg)
{
	((PgRaftWorker *) arg)->transport_closed = true;
}

/* Shut-down: close the transport (run the loop until it is), the log. */
static void
worker_exit(int code, Datum arg)
{
	PgRaftWorker *w = worker;

	if (pgraft_shared)
	{
		pgraft_lease_withdraw();
		LWLockAcquire(pgraft_shared->lock, LW_EXCLUSIVE);
		pgraft_shared->worker_ready = false;
		pgraft_shared->worker_latch = NULL;
		pgraft_shared->worker_pid = 0;
		pgraft_shared->status_valid = false;
		LWLockRelease(pgraft_shared->lock);
	}
	if (w == NULL)
		return;
	pgraft_queue_detach(w);
	/* the thread pool lets go of the log's file before it is closed */
	pgraft_worker_wait_sync(w);
	if (w->transport && !w->transport_closed)
	{
		int			rounds = 0;

		raft_transport_close(w->transport, transport_closed, w);
		while (!w->transport_closed && rounds++ < 1000)
			uv_run(&w->loop, UV_RUN_NOWAIT);
		w->transport = NULL;
	}
	if (w->log)
	{
		raft_log_close(w->log);
		w->log = NULL;
	}
	if (w->raft)
	{
		raft_free(w->raft);
		w->raft = NULL;
	}
	worker = NULL;
}

static void
publish_status(PgRaftWorker *w)
{
	struct raft_status st;
	struct raft_log_info info;

	raft_get_status(w->raft, &st);
	raft_log_get_info(w->log, &info);
	w->counters.fsyncs = info.data_syncs + info.dir_syncs;
	w->counters.fsync_us_total = info.sync_us_total;
	w->counters.fsync_us_max = info.sync_us_max;
	LWLockAcquire(pgraft_shared->lock, LW_EXCLUSIVE);
	pgraft_shared->status = st;
	pgraft_shared->counters = w->counters;
	pgraft_shared->status_valid = true;
	pgraft_shared->status_time = GetCurrentTimestamp();
	LWLockRelease(pgraft_shared->lock);

	pgraft_status_log(&st);
}

static void
reload_settings(void)
{
	int			old_election = pgraft_election_timeout_ms;
	int			old_heartbeat = pgraft_heartbeat_interval_ms;

	ConfigReloadPending = false;
	ProcessConfigFile(PGC_SIGHUP);
	if (pgraft_heartbeat_interval_ms >= pgraft_election_timeout_ms)
	{
		ereport(LOG,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("pg_raft.heartbeat_interval (%d ms) must be shorter than pg_raft.election_timeout (%d ms); keeping %d and %d ms",
						pgraft_heartbeat_interval_ms, pgraft_election_timeout_ms,
						old_heartbeat, old_election)));
		pgraft_heartbeat_interval_ms = old_heartbeat;
		pgraft_election_timeout_ms = old_election;
		return;
	}
	if (pgraft_heartbeat_interval_ms != old_heartbeat ||
		pgraft_election_timeout_ms != old_election)
		ereport(LOG,
				(errmsg("pg_raft: the tick is now %d ms; the election timeout stays %u ticks (%u ms) until the worker restarts",
						pgraft_heartbeat_interval_ms, election_ticks,
						election_ticks * (unsigned) pgraft_heartbeat_interval_ms)));
}

static long
ms_until(TimestampTz t)
{
	TimestampTz now = GetCurrentTimestamp();

	if (t <= now)
		return 0;
	return (long) ((t - now + 999) / 1000);
}

/*
 * A worker that keeps failing soon after it starts (a damaged log, a full
 * disk, an unwritable folder) would otherwise be restarted every second and
 * repeat its error as often.  Each start that was not followed by a healthy
 * run waits twice as long as the previous one, up to a minute; the error
 * stays in raft.status() meanwhile.
 */
#define PGRAFT_HEALTHY_RUN_MS 10000
#define PGRAFT_MAX_RESTART_DELAY_MS 60000

static void
wait_before_start(void)
{
	uint32		quick_exits;
	long		delay_ms;
	TimestampTz until;

	LWLockAcquire(pgraft_shared->lock, LW_EXCLUSIVE);
	quick_exits = pgraft_shared->worker_quick_exits++;
	LWLockRelease(pgraft_shared->lock);
	if (quick_exits == 0)
		return;
	delay_ms = Min((long) PGRAFT_MAX_RESTART_DELAY_MS,
				   1000L << Min(quick_exits - 1, 6));
	ereport(LOG,
			(errmsg("pg_raft: worker of node %d starts again in %ld s, after %u failed starts",
					pgraft_node_id, delay_ms / 1000, quick_exits)));
	until = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), delay_ms);
	while (!ShutdownRequestPending && ms_until(until) > 0)
	{
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 ms_until(until), PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}
	if (ShutdownRequestPending)
		proc_exit(1);
}

void
pgraft_worker_main(Datum main_arg)
{
	PgRaftWorker *w;
	WaitEventSet *wes;
	TimestampTz healthy_at;
	int			uv_fd;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, SignalHandlerForShutdownRequest);
	BackgroundWorkerUnblockSignals();

	if (pgraft_shared == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("pg_raft shared memory is not initialised")));
	if (!pgraft_check_settings(LOG))
	{
		set_worker_error("bad pg_raft settings: see the server log");
		proc_exit(0);			/* do not restart: the settings need a fix */
	}

	w = MemoryContextAllocZero(TopMemoryContext, sizeof(PgRaftWorker));
	worker = w;
	w->loop_cxt = AllocSetContextCreate(TopMemoryContext, "pg_raft worker loop",
										ALLOCSET_DEFAULT_SIZES);
	w->queue_cxt = AllocSetContextCreate(TopMemoryContext, "pg_raft apply queue",
										 ALLOCSET_DEFAULT_SIZES);
	if (uv_loop_init(&w->loop) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not initialise the libuv loop")));
	before_shmem_exit(worker_exit, (Datum) 0);

	wait_before_start();
	start_core(w);
	start_transport(w);

	LWLockAcquire(pgraft_shared->lock, LW_EXCLUSIVE);
	pgraft_shared->worker_pid = MyProcPid;
	pgraft_shared->worker_latch = MyLatch;
	pgraft_shared->worker_ready = true;
	pgraft_shared->worker_error[0] = '\0';
	LWLockRelease(pgraft_shared->lock);
	pgraft_worker_recover_slots();

	uv_fd = uv_backend_fd(&w->loop);
#if PG_VERSION_NUM >= 170000
	wes = CreateWaitEventSet(NULL, 3);
#else
	wes = CreateWaitEventSet(TopMemoryContext, 3);
#endif
	AddWaitEventToSet(wes, WL_LATCH_SET, PGINVALID_SOCKET, MyLatch, NULL);
	AddWaitEventToSet(wes, WL_EXIT_ON_PM_DEATH, PGINVALID_SOCKET, NULL, NULL);
	AddWaitEventToSet(wes, WL_SOCKET_READABLE, uv_fd, NULL, NULL);

	ereport(LOG,
			(errmsg("pg_raft: worker of node %d started, listening on %s",
					pgraft_node_id, pgraft_listen_addr)));

	w->next_tick = TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
											pgraft_heartbeat_interval_ms);
	healthy_at = TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
											 PGRAFT_HEALTHY_RUN_MS);
	while (!ShutdownRequestPending)
	{
		WaitEvent	events[3];
		long		timeout;
		int			uv_timeout;
		int			n;
		int			i;
		TimestampTz now;

		timeout = ms_until(w->next_tick);
		uv_timeout = uv_backend_timeout(&w->loop);
		if (uv_timeout >= 0 && uv_timeout < timeout)
			timeout = uv_timeout;

		n = WaitEventSetWait(wes, timeout, events, lengthof(events),
							 PG_WAIT_EXTENSION);
		for (i = 0; i < n; i++)
			if (events[i].events & WL_LATCH_SET)
				ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
		if (ShutdownRequestPending)
			break;
		if (ConfigReloadPending)
			reload_settings();

		MemoryContextReset(w->loop_cxt);
		MemoryContextSwitchTo(w->loop_cxt);

		/* network and timers: may step the core */
		uv_run(&w->loop, UV_RUN_NOWAIT);
		if (w->step_errors > 0)
		{
			ereport(DEBUG1,
					(errmsg_internal("pg_raft: %llu messages refused by the core, last: %s",
									 (unsigned long long) w->step_errors,
									 raft_strerror(w->last_step_error))));
			w->step_errors = 0;
		}

		now = GetCurrentTimestamp();
		if (healthy_at != 0 && now >= healthy_at)
		{
			LWLockAcquire(pgraft_shared->lock, LW_EXCLUSIVE);
			pgraft_shared->worker_quick_exits = 0;
			LWLockRelease(pgraft_shared->lock);
			healthy_at = 0;
		}
		if (now >= w->next_tick)
		{
			raft_tick(w->raft);
			w->next_tick = TimestampTzPlusMilliseconds(w->next_tick,
													pgraft_heartbeat_interval_ms);
			if (w->next_tick <= now)
			{
				/*
				 * Fell behind (paused, starved): no burst of ticks, and
				 * the ticks that did not happen did not age the lease
				 * either, so none for an election timeout (lease.c).
				 */
				w->next_tick = TimestampTzPlusMilliseconds(now,
														pgraft_heartbeat_interval_ms);
				w->lease_after = TimestampTzPlusMilliseconds(now,
															 pgraft_election_timeout_ms);
			}
		}

		pgraft_worker_take_requests(w);
		pgraft_worker_handle_ready(w);
		pgraft_lease_publish(w);
		pgraft_queue_pump(w);
		publish_status(w);
		flush_log_lines(w);
		MemoryContextSwitchTo(TopMemoryContext);
	}

	/*
	 * Exit code 1: if this was not a server shut-down (e.g. someone sent
	 * SIGTERM to this process alone), the postmaster starts the worker again
	 * after bgw_restart_time; exit code 0 would unregister it for good.
	 */
	ereport(LOG,
			(errmsg("pg_raft: worker of node %d shutting down", pgraft_node_id)));
	proc_exit(1);
}
