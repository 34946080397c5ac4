/*
 * extension/sql_membership.c — raft.add_node, raft.remove_node and
 * raft.transfer_leadership.  Membership changes go through the log as
 * configuration entries (§4.3, joint consensus in the core); they run on
 * the leader and return once this server has applied the change's entry.
 *
 * raft.add_node first adds the server as a learner and promotes it to a
 * voter only once it has caught up with the leader (§4.2.1: a new server
 * that counted in the majority before it had the log could stall commits).
 * The new server is not in its own pg_raft.initial_cluster (which lists
 * the current members so it can reach them) and receives the whole log
 * from the leader, or, once the leader has compacted its log, a snapshot
 * whose tables it fetches from the server the snapshot names (that
 * server's pg_raft.conninfo, snapshot_fetch.c).
 *
 * Before anything changes, each call checks what it can and refuses with
 * a clear error (and nothing proposed): an unknown id (remove, transfer),
 * an id already a voter (add), a change while another one is in progress
 * (another backend in raft.add_node/remove_node on this leader, or a
 * joint configuration not finished), a removal of a voter after which the
 * voters the leader hears from would not be a majority of the remaining
 * voters (the change could never commit), and for raft.add_node a new
 * server that does not answer on the conninfo given, lacks the extension
 * in its pg_raft.database, or whose pg_raft.node_id is not the id given.
 * The conninfo is then remembered here and carried in this server's
 * snapshots as one more place to fetch the tables from (snapshot_data.c).
 */
#include "postgres.h"

#include "fmgr.h"
#include "libpq-fe.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/procarray.h"
#include "storage/latch.h"
#include "utils/timestamp.h"
#include "utils/builtins.h"

#include "pg_raft.h"
#include "shmem.h"
#include "snapshot.h"
#include "wait.h"
#include "worker_config.h"

PG_FUNCTION_INFO_V1(pgraft_add_node);
PG_FUNCTION_INFO_V1(pgraft_remove_node);
PG_FUNCTION_INFO_V1(pgraft_transfer_leadership);

static raft_id
node_id_arg(int32 id)
{
	if (id < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid node id %d", id),
				 errdetail("Node ids are integers >= 1.")));
	return (raft_id) id;
}

/* The published status (palloc'd). */
static struct raft_status *
status_copy(void)
{
	struct raft_status *st = palloc(sizeof(struct raft_status));

	LWLockAcquire(pgraft_shared->lock, LW_SHARED);
	*st = pgraft_shared->status;
	LWLockRelease(pgraft_shared->lock);
	return st;
}

/* What the leader knows of one member, from the published status. */
typedef struct MemberView
{
	bool		leader;			/* this server leads */
	bool		member;
	bool		voter;
	bool		config_pending;
	raft_index	commit;
	raft_index	match;
} MemberView;

static void
view_member(raft_id id, MemberView *mv)
{
	struct raft_status *st = status_copy();
	const struct raft_member *m;
	uint32		i;

	memset(mv, 0, sizeof(*mv));
	mv->leader = st->role == RAFT_LEADER;
	mv->config_pending = st->config_pending;
	mv->commit = st->commit;
	m = raft_config_find(&st->config, id);
	if (m)
	{
		mv->member = true;
		mv->voter = (m->flags & RAFT_VOTER_NEW) != 0;
	}
	for (i = 0; i < st->n_progress; i++)
		if (st->progress[i].id == id)
			mv->match = st->progress[i].match;
	pfree(st);
}

/* The same error the worker gives a change sent to a follower. */
static void
require_leader(const char *what)
{
	struct raft_status *st = status_copy();

	if (st->role == RAFT_LEADER)
	{
		pfree(st);
		return;
	}
	if (st->leader != RAFT_NONE)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("node %d is not the Raft leader; %s must run on the leader",
						pgraft_node_id, what),
				 errhint("The leader is node %llu (see raft.status()).",
						 (unsigned long long) st->leader)));
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("node %d is not the Raft leader; %s must run on the leader",
					pgraft_node_id, what),
			 errhint("No leader is known right now; retry shortly.")));
}

static void
refuse_unknown(raft_id id, const char *what)
{
	ereport(ERROR,
			(errcode(ERRCODE_UNDEFINED_OBJECT),
			 errmsg("node %llu is not a member of the Raft configuration; cannot %s it",
					(unsigned long long) id, what),
			 errhint("raft.nodes() lists the members.")));
}

/*
 * One membership change at a time on this leader: the backend that runs
 * raft.add_node or raft.remove_node is recorded in shared memory until it
 * returns or fails (a backend that exited without clearing it no longer
 * counts); a change the core has not finished (joint configuration)
 * counts as well.
 */
static void
release_change(void)
{
	LWLockAcquire(pgraft_shared->lock, LW_EXCLUSIVE);
	if (pgraft_shared->change_pid == MyProcPid)
	{
		pgraft_shared->change_pid = 0;
		pgraft_shared->change_node = 0;
	}
	LWLockRelease(pgraft_shared->lock);
}

/*
 * Waits (at most PGRAFT_SETTLE_TIMEOUTS election timeouts) while this
 * server leads and a joint configuration is not finished: the leader
 * leaves it by itself once the entry that entered it is committed.
 */
#define PGRAFT_SETTLE_TIMEOUTS 5

static void
wait_config_settled(void)
{
	TimestampTz start = GetCurrentTimestamp();

	for (;;)
	{
		bool		pending;
		bool		leader;

		LWLockAcquire(pgraft_shared->lock, LW_SHARED);
		pending = pgraft_shared->status.config_pending;
		leader = pgraft_shared->status.role == RAFT_LEADER;
		LWLockRelease(pgraft_shared->lock);
		if (!pending || !leader ||
			TimestampDifferenceExceeds(start, GetCurrentTimestamp(),
									   pgraft_election_timeout_ms * PGRAFT_SETTLE_TIMEOUTS))
			return;
		CHECK_FOR_INTERRUPTS();
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 Max(1, pgraft_heartbeat_interval_ms / 4), PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}

static void
claim_change(raft_id id)
{
	int			pid;
	int			node;
	bool		pending;
	bool		alive;

	wait_config_settled();
	LWLockAcquire(pgraft_shared->lock, LW_SHARED);
	pid = pgraft_shared->change_pid;
	LWLockRelease(pgraft_shared->lock);
	/* a backend that exited without clearing it (FATAL) no longer counts */
	alive = pid != 0 && pid != MyProcPid && BackendPidGetProc(pid) != NULL;

	LWLockAcquire(pgraft_shared->lock, LW_EXCLUSIVE);
	if (!alive && pgraft_shared->change_pid == pid)
		pgraft_shared->change_pid = 0;
	pid = pgraft_shared->change_pid;
	node = pgraft_shared->change_node;
	pending = pgraft_shared->status.config_pending;
	if (pid == 0 && !pending)
	{
		pgraft_shared->change_pid = MyProcPid;
		pgraft_shared->change_node = (int) id;
	}
	LWLockRelease(pgraft_shared->lock);
	if (pid != 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_IN_USE),
				 errmsg("a membership change is already in progress"),
				 errdetail("Backend %d is changing node %d.", pid, node),
				 errhint("Wait until it returns (or cancel it with pg_cancel_backend(%d)), then try again.", pid)));
	if (pending)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_IN_USE),
				 errmsg("a membership change is already in progress"),
				 errdetail("The Raft configuration is joint: an earlier change is not finished."),
				 errhint("Try again once raft.status() shows no change in progress; it finishes by itself while a majority is up.")));
}

/*
 * The voters of the configuration without id, and how many of them the
 * leader heard from within an election timeout.  A removal after which
 * those are not a majority could never commit: refused.
 */
static void
check_quorum_after_removal(raft_id id)
{
	struct raft_status *st = status_copy();
	const struct raft_member *gone = raft_config_find(&st->config, id);
	unsigned	limit = Max(1, pgraft_election_timeout_ms / Max(1, pgraft_heartbeat_interval_ms));
	int			voters = 0;
	int			up = 0;
	uint32		i;
	uint32		j;

	if (gone == NULL || !(gone->flags & RAFT_VOTER_NEW))
	{
		pfree(st);
		return;					/* a learner: the voters stay as they are */
	}
	for (i = 0; i < st->config.n; i++)
	{
		const struct raft_member *m = &st->config.members[i];

		if (!(m->flags & RAFT_VOTER_NEW) || m->id == id)
			continue;
		voters++;
		if (m->id == st->id)
		{
			up++;
			continue;
		}
		for (j = 0; j < st->n_progress; j++)
			if (st->progress[j].id == m->id &&
				st->progress[j].ticks_since_contact < limit)
				up++;
	}
	pfree(st);
	if (voters == 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("cannot remove node %llu: it is the last voter",
						(unsigned long long) id),
				 errhint("Add another server with raft.add_node first.")));
	if (up <= voters / 2)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("cannot remove node %llu: the remaining voters would have no quorum",
						(unsigned long long) id),
				 errdetail("%d voters would remain and the leader hears from only %d of them; a majority is %d.",
						   voters, up, voters / 2 + 1),
				 errhint("Bring the servers that are down back first, or remove a server that is down instead.")));
}

/*
 * Waits until learner id has the leader's log up to its commit index and
 * no configuration change is in progress.  Gives up when the learner makes
 * no progress for PGRAFT_CATCH_UP_TIMEOUTS election timeouts.
 */
#define PGRAFT_CATCH_UP_TIMEOUTS 20

static void
wait_caught_up(raft_id id)
{
	TimestampTz last_progress = GetCurrentTimestamp();
	raft_index	last_match = 0;
	long		stall_ms = (long) pgraft_election_timeout_ms * PGRAFT_CATCH_UP_TIMEOUTS;

	for (;;)
	{
		MemberView	mv;

		CHECK_FOR_INTERRUPTS();
		view_member(id, &mv);
		if (!mv.leader)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("leadership moved while node %llu was catching up; it stays a learner",
							(unsigned long long) id),
					 errhint("Run raft.add_node again on the leader to promote it.")));
		if (!mv.member)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("node %llu left the configuration while catching up",
							(unsigned long long) id)));
		if (mv.match >= mv.commit && !mv.config_pending)
			return;
		if (mv.match > last_match)
		{
			last_match = mv.match;
			last_progress = GetCurrentTimestamp();
		}
		else if (TimestampDifferenceExceeds(last_progress, GetCurrentTimestamp(),
											(int) stall_ms))
			ereport(ERROR,
					(errcode(ERRCODE_CONNECTION_FAILURE),
					 errmsg("node %llu is not catching up; it stays a learner",
							(unsigned long long) id),
					 errdetail("It has the log up to index %llu of %llu and made no progress for %ld ms.",
							   (unsigned long long) mv.match,
							   (unsigned long long) mv.commit, stall_ms),
					 errhint("Check that the server runs, has the same pg_raft.cluster_secret and can reach the leader; then run raft.add_node again.")));
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 pgraft_heartbeat_interval_ms, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}

/*
 * raft.add_node's check of the new server, before anything changes: it
 * answers on conninfo, is connected to its pg_raft.database, has the
 * extension there, its pg_raft.node_id is id and its pg_raft.listen_addr
 * is addr (peers dial addr; worker_config.c holds pg_raft.initial_cluster
 * to the same rule).
 */
static void
check_new_server(raft_id id, const char *addr, const char *conninfo)
{
	const char *keys[] = {"dbname", "connect_timeout", "application_name",
	"client_encoding", NULL};
	const char *vals[] = {conninfo, "10", "pg_raft add_node",
	GetDatabaseEncodingName(), NULL};
	PGconn	   *conn = PQconnectdbParams(keys, vals, 1);
	PGresult   *res;
	char	   *node_id;
	char	   *database;
	char	   *current;
	char	   *listen_addr;
	bool		has_ext;

	if (conn == NULL || PQstatus(conn) != CONNECTION_OK)
	{
		char	   *msg = pstrdup(conn ? PQerrorMessage(conn) : "out of memory");

		PQfinish(conn);
		ereport(ERROR,
				(errcode(ERRCODE_CONNECTION_FAILURE),
				 errmsg("could not connect to the new server with the conninfo given: %s",
						msg),
				 errdetail("raft.add_node checks the new server before it changes the membership; nothing was changed."),
				 errhint("Give a libpq conninfo by which this server reaches the new one (host, port, dbname = its pg_raft.database, a role allowed by its pg_hba.conf).")));
	}
	res = PQexec(conn,
				 "SELECT current_setting('pg_raft.node_id', true),"
				 " current_setting('pg_raft.database', true),"
				 " current_database(),"
				 " EXISTS (SELECT FROM pg_catalog.pg_extension WHERE extname = 'pg_raft'),"
				 " current_setting('pg_raft.listen_addr', true)");
	if (res == NULL || PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1)
	{
		char	   *msg = pstrdup(PQerrorMessage(conn));

		PQclear(res);
		PQfinish(conn);
		ereport(ERROR,
				(errcode(ERRCODE_CONNECTION_FAILURE),
				 errmsg("could not query the new server: %s", msg),
				 errdetail("Nothing was changed.")));
	}
	node_id = pstrdup(PQgetisnull(res, 0, 0) ? "" : PQgetvalue(res, 0, 0));
	database = pstrdup(PQgetisnull(res, 0, 1) ? "" : PQgetvalue(res, 0, 1));
	current = pstrdup(PQgetvalue(res, 0, 2));
	has_ext = strcmp(PQgetvalue(res, 0, 3), "t") == 0;
	listen_addr = pstrdup(PQgetisnull(res, 0, 4) ? "" : PQgetvalue(res, 0, 4));
	PQclear(res);
	PQfinish(conn);

	if (node_id[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("the new server does not run pg_raft"),
				 errdetail("It has no pg_raft.node_id setting; nothing was changed."),
				 errhint("Add pg_raft to its shared_preload_libraries, set its pg_raft settings and restart it.")));
	if (strcmp(node_id, psprintf("%llu", (unsigned long long) id)) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("the server at the conninfo given has pg_raft.node_id %s, not %llu",
						node_id, (unsigned long long) id),
				 errdetail("Nothing was changed."),
				 errhint("Give the id set in the new server's pg_raft.node_id, and check that the conninfo names the new server.")));
	if (strcmp(listen_addr, addr) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("the new server's pg_raft.listen_addr is \"%s\", not \"%s\"",
						listen_addr, addr),
				 errdetail("The other servers dial the Raft address given; nothing was changed."),
				 errhint("Give the new server's pg_raft.listen_addr as raft_addr.")));
	if (strcmp(database, current) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("the conninfo given connects to database \"%s\", not to the new server's pg_raft.database \"%s\"",
						current, database),
				 errdetail("Nothing was changed."),
				 errhint("Set dbname in the conninfo to \"%s\".", database)));
	if (!has_ext)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("the new server has no pg_raft extension in database \"%s\"", current),
				 errdetail("Nothing was changed."),
				 errhint("Run CREATE EXTENSION pg_raft there first.")));
}

/* The member (other than id) that has Raft address addr, or 0. */
static raft_id
member_with_addr(raft_id id, const char *addr)
{
	struct raft_status *st = status_copy();
	raft_id		found = 0;
	uint32		i;

	for (i = 0; i < st->config.n; i++)
		if (st->config.members[i].id != id &&
			strcmp(st->config.members[i].addr, addr) == 0)
			found = st->config.members[i].id;
	pfree(st);
	return found;
}

static int64
add_node(raft_id id, const char *addr, const char *conninfo)
{
	struct raft_change change;
	MemberView	mv;
	raft_id		clash;
	int64		index;

	memset(&change, 0, sizeof(change));
	change.id = id;
	strlcpy(change.addr, addr, sizeof(change.addr));

	view_member(id, &mv);
	if (mv.member && mv.voter)
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_OBJECT),
				 errmsg("node %llu is already a voting member", (unsigned long long) id),
				 errhint("A new server needs an id no member has; to move a member to another address, remove it first.")));
	clash = member_with_addr(id, addr);
	if (clash != 0)
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_OBJECT),
				 errmsg("node %llu already has the Raft address \"%s\"",
						(unsigned long long) clash, addr),
				 errhint("Give the new server's own pg_raft.listen_addr.")));
	check_new_server(id, addr, conninfo);
	pgraft_remember_conninfo((int) id, conninfo);

	/* 1. a learner (unless it is one already: a second call promotes it) */
	if (!(mv.member && !mv.voter))
	{
		change.kind = RAFT_CHANGE_ADD_LEARNER;
		(void) pgraft_request_change(PGRAFT_REQ_CHANGE, &change);
	}

	/* 2. caught up with the leader (§4.2.1) */
	wait_caught_up(change.id);

	/* 3. a voter */
	change.kind = RAFT_CHANGE_PROMOTE;
	index = (int64) pgraft_request_change(PGRAFT_REQ_CHANGE, &change);
	wait_config_settled();
	return index;
}

/*
 * The membership functions are not STRICT: a NULL argument is an error
 * (22004), never a silent NULL that a script could take for success.
 */
static void
refuse_null_arguments(FunctionCallInfo fcinfo, const char *function,
					  const char *const *names)
{
	int			i;

	for (i = 0; i < PG_NARGS(); i++)
		if (PG_ARGISNULL(i))
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("%s of %s must not be NULL", names[i], function)));
}

Datum
pgraft_add_node(PG_FUNCTION_ARGS)
{
	static const char *const names[] = {"id", "raft_addr", "conninfo"};
	raft_id		id;
	char	   *addr;
	char	   *conninfo;
	char		err[256];
	int64		index = 0;

	refuse_null_arguments(fcinfo, "raft.add_node", names);
	id = node_id_arg(PG_GETARG_INT32(0));
	addr = text_to_cstring(PG_GETARG_TEXT_PP(1));
	conninfo = text_to_cstring(PG_GETARG_TEXT_PP(2));

	pgraft_require_ready();
	if (!pgraft_parse_addr(addr, NULL, 0, NULL, err, sizeof(err)) ||
		strlen(addr) >= RAFT_ADDR_LEN)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid Raft address \"%s\": %s", addr,
						strlen(addr) >= RAFT_ADDR_LEN ? "too long" : err),
				 errhint("Give the new server's pg_raft.listen_addr.")));
	if (strlen(conninfo) >= PGRAFT_CONNINFO_LEN)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("the conninfo is too long (%d bytes at most)",
						PGRAFT_CONNINFO_LEN - 1)));
	require_leader("a membership change");
	claim_change(id);
	PG_TRY();
	{
		index = add_node(id, addr, conninfo);
	}
	PG_FINALLY();
	{
		release_change();
	}
	PG_END_TRY();
	PG_RETURN_INT64(index);
}

static const char *const id_name[] = {"id"};

Datum
pgraft_remove_node(PG_FUNCTION_ARGS)
{
	struct raft_change change;
	MemberView	mv;
	int64		index = 0;

	refuse_null_arguments(fcinfo, "raft.remove_node", id_name);
	pgraft_require_ready();
	memset(&change, 0, sizeof(change));
	change.kind = RAFT_CHANGE_REMOVE;
	change.id = node_id_arg(PG_GETARG_INT32(0));
	require_leader("a membership change");
	view_member(change.id, &mv);
	if (!mv.member)
		refuse_unknown(change.id, "remove");
	claim_change(change.id);
	PG_TRY();
	{
		check_quorum_after_removal(change.id);
		index = (int64) pgraft_request_change(PGRAFT_REQ_CHANGE, &change);
		wait_config_settled();
	}
	PG_FINALLY();
	{
		release_change();
	}
	PG_END_TRY();
	PG_RETURN_INT64(index);
}

Datum
pgraft_transfer_leadership(PG_FUNCTION_ARGS)
{
	struct raft_change change;
	MemberView	mv;

	refuse_null_arguments(fcinfo, "raft.transfer_leadership", id_name);
	pgraft_require_ready();
	memset(&change, 0, sizeof(change));
	change.id = node_id_arg(PG_GETARG_INT32(0));
	view_member(change.id, &mv);
	if (!mv.member)
		refuse_unknown(change.id, "transfer leadership to");
	if (!mv.voter)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("node %llu is a learner; only a voter can lead",
						(unsigned long long) change.id),
				 errhint("raft.add_node promotes it once it has caught up.")));
	(void) pgraft_request_change(PGRAFT_REQ_TRANSFER, &change);
	PG_RETURN_VOID();
}
