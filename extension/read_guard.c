/*
 * extension/read_guard.c — pg_raft.read_consistency for plain SELECTs.
 *
 * A query that reads a replicated table first waits on the read fence
 * (pgraft_read_fence: ReadIndex, or the lease, then "applied >= read
 * index"), so it sees every write committed before it started.  The fence
 * runs from post_parse_analyze_hook, that is before the executor takes its
 * snapshot, which holds only where each statement takes a new snapshot:
 *
 *	 - READ COMMITTED: the portal's snapshot is taken after parse analysis,
 *	   so the fence is effective.  Done here.
 *	 - REPEATABLE READ / SERIALIZABLE: the transaction's snapshot is taken
 *	   when its first statement starts, before that statement is analysed;
 *	   a fence inside the transaction comes too late (even SELECT
 *	   raft.barrier() as the first statement: its snapshot is taken before
 *	   the function runs).  Such a reader runs SELECT raft.barrier() on its
 *	   own, before BEGIN; the transaction's snapshot then includes every
 *	   write committed before the barrier.  This hook does nothing there.
 *
 * Known gap: a statement analysed once and executed many times (PREPARE /
 * EXECUTE, the extended protocol's named statements, PL/pgSQL's cached
 * plans) is fenced when it is analysed, not at each execution; a client
 * that needs each execution fenced calls raft.barrier() first.
 *
 * Not fenced: background workers (the applier, or whatever reads replicated
 * tables to build a snapshot, must never wait on the applier),
 * pg_raft.read_consistency = local, and queries that read no replicated
 * table.
 */
#include "postgres.h"

#include "access/xact.h"
#include "miscadmin.h"
#include "nodes/nodeFuncs.h"
#include "parser/analyze.h"

#include "pg_raft.h"
#include "statement.h"

static bool read_guard_installed = false;
static post_parse_analyze_hook_type prev_post_parse_analyze = NULL;

static bool
reads_replicated_walker(Node *node, void *context)
{
	if (node == NULL)
		return false;
	if (IsA(node, RangeTblEntry))
	{
		RangeTblEntry *rte = (RangeTblEntry *) node;

		return rte->rtekind == RTE_RELATION && pgraft_is_replicated(rte->relid);
	}
	if (IsA(node, Query))
		return query_tree_walker((Query *) node, reads_replicated_walker,
								 context, QTW_EXAMINE_RTES_BEFORE);
	return expression_tree_walker(node, reads_replicated_walker, context);
}

static void
read_guard_post_parse_analyze(ParseState *pstate, Query *query,
							  JumbleState *jstate)
{
	if (prev_post_parse_analyze)
		prev_post_parse_analyze(pstate, query, jstate);

	if (query->commandType != CMD_SELECT ||
		MyBackendType != B_BACKEND ||
		pgraft_applying ||
		pgraft_read_consistency == PGRAFT_READ_LOCAL ||
		!IsTransactionState() ||
		IsolationUsesXactSnapshot())
		return;

	if (reads_replicated_walker((Node *) query, NULL))
		(void) pgraft_read_fence((PgRaftReadConsistency) pgraft_read_consistency);
}

void
pgraft_read_guard_init(void)
{
	if (read_guard_installed)
		return;
	read_guard_installed = true;

	prev_post_parse_analyze = post_parse_analyze_hook;
	post_parse_analyze_hook = read_guard_post_parse_analyze;
}
