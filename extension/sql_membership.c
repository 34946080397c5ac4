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
 * server's pg_raft.conninfo, snapshot_fetch.c).  The conninfo argument is
 * recorded nowhere for now.
 */
#include "postgres.h"

#include "fmgr.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/latch.h"
#include "utils/timestamp.h"
#include "utils/builtins.h"

#include "pg_raft.h"
#include "shmem.h"
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
	struct raft_status *st = palloc(sizeof(struct raft_status));
	const struct raft_member *m;
	uint32		i;

	LWLockAcquire(pgraft_shared->lock, LW_SHARED);
	*st = pgraft_shared->status;
	LWLockRelease(pgraft_shared->lock);

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

Datum
pgraft_add_node(PG_FUNCTION_ARGS)
{
	struct raft_change change;
	char	   *addr = text_to_cstring(PG_GETARG_TEXT_PP(1));
	char		err[256];
	MemberView	mv;

	pgraft_require_ready();
	memset(&change, 0, sizeof(change));
	change.id = node_id_arg(PG_GETARG_INT32(0));
	if (!pgraft_parse_addr(addr, NULL, 0, NULL, err, sizeof(err)))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid Raft address \"%s\": %s", addr, err),
				 errhint("Give the new server's pg_raft.listen_addr.")));
	strlcpy(change.addr, addr, sizeof(change.addr));

	/* 1. a learner (unless it is one already: a second call promotes it) */
	view_member(change.id, &mv);
	if (!(mv.member && !mv.voter))
	{
		change.kind = RAFT_CHANGE_ADD_LEARNER;
		(void) pgraft_request_change(PGRAFT_REQ_CHANGE, &change);
	}

	/* 2. caught up with the leader (§4.2.1) */
	wait_caught_up(change.id);

	/* 3. a voter */
	change.kind = RAFT_CHANGE_PROMOTE;
	PG_RETURN_INT64((int64) pgraft_request_change(PGRAFT_REQ_CHANGE, &change));
}

Datum
pgraft_remove_node(PG_FUNCTION_ARGS)
{
	struct raft_change change;

	pgraft_require_ready();
	memset(&change, 0, sizeof(change));
	change.kind = RAFT_CHANGE_REMOVE;
	change.id = node_id_arg(PG_GETARG_INT32(0));
	PG_RETURN_INT64((int64) pgraft_request_change(PGRAFT_REQ_CHANGE, &change));
}

Datum
pgraft_transfer_leadership(PG_FUNCTION_ARGS)
{
	struct raft_change change;

	pgraft_require_ready();
	memset(&change, 0, sizeof(change));
	change.id = node_id_arg(PG_GETARG_INT32(0));
	(void) pgraft_request_change(PGRAFT_REQ_TRANSFER, &change);
	PG_RETURN_VOID();
}
