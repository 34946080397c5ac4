/*
 * extension/pg_raft.c — loading the library: the pg_raft.* settings, the
 * shared memory hooks and the two background workers (the Raft worker and
 * the applier).  A preloaded server with bad settings refuses to start with
 * a message naming the setting.
 */
#include "postgres.h"

#include "fmgr.h"
#include "miscadmin.h"
#include "postmaster/bgworker.h"
#include "storage/ipc.h"
#include "utils/guc.h"

#include "pg_raft.h"
#include "shmem.h"
#include "statement.h"
#include "worker_config.h"

PG_MODULE_MAGIC;

int			pgraft_node_id = 0;
char	   *pgraft_listen_addr = "";
char	   *pgraft_initial_cluster = "";
char	   *pgraft_database = "postgres";
int			pgraft_read_consistency = PGRAFT_READ_LINEARIZABLE;
char	   *pgraft_cluster_secret = "";
int			pgraft_election_timeout_ms = 1000;
int			pgraft_heartbeat_interval_ms = 100;
int			pgraft_log_keep_entries = 10000;
char	   *pgraft_conninfo = "";

bool		pgraft_preloaded = false;

static const struct config_enum_entry read_consistency_options[] = {
	{"linearizable", PGRAFT_READ_LINEARIZABLE, false},
	{"lease", PGRAFT_READ_LEASE, false},
	{"local", PGRAFT_READ_LOCAL, false},
	{NULL, 0, false}
};

void		_PG_init(void);

/*
 * PGC_POSTMASTER settings can only be defined while preloading; a session
 * that loads the library (CREATE EXTENSION without preloading) gets the
 * others, and every SQL function refuses with a hint.
 */
static void
define_settings(bool preloading)
{
	if (preloading)
	{
		DefineCustomIntVariable("pg_raft.node_id",
								"This server's Raft node id, unique in the cluster.",
								"An integer >= 1; 0 means not set.",
								&pgraft_node_id, 0, 0, PG_INT32_MAX,
								PGC_POSTMASTER, 0, NULL, NULL, NULL);
		DefineCustomStringVariable("pg_raft.listen_addr",
								   "host:port of this server's Raft transport.",
								   "Outgoing Raft connections bind to the same host.",
								   &pgraft_listen_addr, "",
								   PGC_POSTMASTER, 0, NULL, NULL, NULL);
		DefineCustomStringVariable("pg_raft.initial_cluster",
								   "The first configuration: 1=host:port,2=host:port,...",
								   "Used only while this server has no Raft state.",
								   &pgraft_initial_cluster, "",
								   PGC_POSTMASTER, 0, NULL, NULL, NULL);
		DefineCustomStringVariable("pg_raft.database",
								   "The database whose replicated tables this cluster serves.",
								   NULL,
								   &pgraft_database, "postgres",
								   PGC_POSTMASTER, 0, NULL, NULL, NULL);
		DefineCustomStringVariable("pg_raft.cluster_secret",
								   "Shared secret that Raft peers prove to each other.",
								   "Never sent over the network.",
								   &pgraft_cluster_secret, "",
								   PGC_POSTMASTER,
								   GUC_SUPERUSER_ONLY | GUC_NO_SHOW_ALL | GUC_NOT_IN_SAMPLE,
								   NULL, NULL, NULL);
	}
	DefineCustomEnumVariable("pg_raft.read_consistency",
							 "How reads of replicated tables are confirmed.",
							 "linearizable: ReadIndex round; lease: leader lease; local: no check.",
							 &pgraft_read_consistency, PGRAFT_READ_LINEARIZABLE,
							 read_consistency_options,
							 PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("pg_raft.election_timeout",
							"Raft election timeout.",
							"A follower that hears no leader for this long (randomised up to twice) starts an election.",
							&pgraft_election_timeout_ms, 1000, 20, 600000,
							PGC_SIGHUP, GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomIntVariable("pg_raft.heartbeat_interval",
							"Raft heartbeat interval; also the worker's tick.",
							"Must be shorter than pg_raft.election_timeout.",
							&pgraft_heartbeat_interval_ms, 100, 5, 60000,
							PGC_SIGHUP, GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomIntVariable("pg_raft.log_keep_entries",
							"Raft log entries kept behind the applied index when the log is compacted.",
							"A server that falls further behind than this catches up by snapshot.",
							&pgraft_log_keep_entries, 10000, 0, PG_INT32_MAX,
							PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomStringVariable("pg_raft.conninfo",
							   "libpq conninfo by which the other servers fetch a snapshot from this one.",
							   "Empty: host of pg_raft.listen_addr, this server's port, pg_raft.database.",
							   &pgraft_conninfo, "",
							   PGC_SIGHUP, GUC_SUPERUSER_ONLY, NULL, NULL, NULL);

	/*
	 * Not in a session that loads the library late: the server-level
	 * settings in postgresql.conf are placeholders there, and reserving the
	 * prefix would remove each with a warning.
	 */
	if (preloading)
		MarkGUCPrefixReserved("pg_raft");
}

static void
register_workers(void)
{
	BackgroundWorker bgw;

	memset(&bgw, 0, sizeof(bgw));
	bgw.bgw_flags = BGWORKER_SHMEM_ACCESS;
	bgw.bgw_start_time = BgWorkerStart_RecoveryFinished;
	bgw.bgw_restart_time = 1;
	snprintf(bgw.bgw_library_name, BGW_MAXLEN, "pg_raft");
	snprintf(bgw.bgw_function_name, BGW_MAXLEN, "pgraft_worker_main");
	snprintf(bgw.bgw_name, BGW_MAXLEN, "pg_raft worker");
	snprintf(bgw.bgw_type, BGW_MAXLEN, "pg_raft worker");
	RegisterBackgroundWorker(&bgw);

	memset(&bgw, 0, sizeof(bgw));
	bgw.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	bgw.bgw_start_time = BgWorkerStart_RecoveryFinished;
	bgw.bgw_restart_time = 1;
	snprintf(bgw.bgw_library_name, BGW_MAXLEN, "pg_raft");
	snprintf(bgw.bgw_function_name, BGW_MAXLEN, "pgraft_applier_main");
	snprintf(bgw.bgw_name, BGW_MAXLEN, "pg_raft applier");
	snprintf(bgw.bgw_type, BGW_MAXLEN, "pg_raft applier");
	RegisterBackgroundWorker(&bgw);
}

void
_PG_init(void)
{
	define_settings(process_shared_preload_libraries_in_progress);
	pgraft_guard_init();
	pgraft_read_guard_init();

	if (!process_shared_preload_libraries_in_progress)
		return;

	/*
	 * In the postmaster, an ERROR here stops the server from starting: that
	 * is what we want for settings that cannot work.  (No GUC check hooks
	 * for the addresses: a value they reject at start-up is only a WARNING
	 * and the server would start with the default instead.)
	 */
	pgraft_check_settings(ERROR);

	pgraft_preloaded = true;
	pgraft_shmem_install_hooks();
	register_workers();
}

void
pgraft_require_ready(void)
{
	bool		ready;
	char		why[PGRAFT_ERRMSG_LEN];

	if (!pgraft_preloaded || pgraft_shared == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("pg_raft is not loaded by shared_preload_libraries"),
				 errhint("Add pg_raft to shared_preload_libraries in postgresql.conf and restart the server.")));

	LWLockAcquire(pgraft_shared->lock, LW_SHARED);
	ready = pgraft_shared->worker_ready;
	strlcpy(why, pgraft_shared->worker_error, sizeof(why));
	LWLockRelease(pgraft_shared->lock);

	if (!ready)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("the pg_raft worker is not running"),
				 why[0] ? errdetail("%s", why) : 0,
				 errhint("It starts with the server and restarts after a failure; see the server log.")));
}
