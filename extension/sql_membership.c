/*
 * extension/sql_membership.c — raft.add_node, raft.remove_node and
 * raft.transfer_leadership.  Membership changes go through the log as
 * configuration entries (§4.3, joint consensus in the core); they run on
 * the leader and return once this server has applied the change's entry.
 * A new server starts with an empty pg_raft.initial_cluster and receives
 * the whole log from the leader (there is no snapshot transfer yet, so
 * conninfo is recorded nowhere for now).
 */
#include "postgres.h"

#include "fmgr.h"
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

Datum
pgraft_add_node(PG_FUNCTION_ARGS)
{
	struct raft_change change;
	char	   *addr = text_to_cstring(PG_GETARG_TEXT_PP(1));
	char		err[256];

	pgraft_require_ready();
	memset(&change, 0, sizeof(change));
	change.kind = RAFT_CHANGE_ADD_VOTER;
	change.id = node_id_arg(PG_GETARG_INT32(0));
	if (!pgraft_parse_addr(addr, NULL, 0, NULL, err, sizeof(err)))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid Raft address \"%s\": %s", addr, err),
				 errhint("Give the new server's pg_raft.listen_addr.")));
	strlcpy(change.addr, addr, sizeof(change.addr));
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
