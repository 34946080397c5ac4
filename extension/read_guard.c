/*
 * extension/read_guard.c — pg_raft.read_consistency for plain reads.
 *
 * A statement that reads a replicated table (a SELECT, DECLARE CURSOR,
 * CREATE TABLE AS, EXPLAIN ANALYZE, or a write to a local table that reads
 * replicated ones) first waits on the read fence (pgraft_read_fence:
 * ReadIndex, or the lease, then "applied >= read index"), so it sees every
 * write committed before it started.  The fence runs from
 * post_parse_analyze_hook, that is before the statement takes its
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
 * Known gaps, where a client that needs the fence calls raft.barrier()
 * first: a statement analysed once and executed many times (PREPARE /
 * EXECUTE, the extended protocol's named statements, PL/pgSQL's cached
 * plans) is fenced when it is analysed, not at each execution; COPY table
 * TO is not analysed at all (COPY (SELECT ...) TO is).
 *
 * Not fenced: background workers (the applier, or whatever reads replicated
 * tables to build a snapshot, must never wait on the applier), the analysis
 * raft.exec's check runs, pg_raft.read_consistency = local, and statements
 * that read no replicated table.
 */
#include "postgres.h"

#include "access/xact.h"
#include "commands/defrem.h"
#include "miscadmin.h"
#include "nodes/nodeFuncs.h"
#include "parser/analyze.h"

#include "pg_raft.h"
#include "statement_internal.h"

/* true while pgraft_check_statement analyses a statement for raft.exec */
bool		pgraft_checking = false;

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

/*
 * The query whose reads the statement's snapshot will serve: a SELECT, the
 * query of DECLARE CURSOR / CREATE TABLE AS / EXPLAIN ANALYZE, or a write
 * to a local table that reads replicated ones (INSERT INTO local SELECT).
 * NULL for anything else, and for the analysis raft.exec's check runs.
 */
static Query *
reading_query(Query *query)
{
	Node	   *utility = query->utilityStmt;

	switch (query->commandType)
	{
		case CMD_SELECT:
			return query;
		case CMD_INSERT:
		case CMD_UPDATE:
		case CMD_DELETE:
		case CMD_MERGE:
			return pgraft_checking ? NULL : query;
		case CMD_UTILITY:
			if (utility == NULL)
				return NULL;
			if (IsA(utility, DeclareCursorStmt))
				return castNode(Query, ((DeclareCursorStmt *) utility)->query);
			if (IsA(utility, CreateTableAsStmt))
				return castNode(Query, ((CreateTableAsStmt *) utility)->query);
			if (IsA(utility, ExplainStmt))
			{
				ExplainStmt *explain = (ExplainStmt *) utility;
				ListCell   *lc;

				/* only EXPLAIN ANALYZE reads rows */
				foreach(lc, explain->options)
				{
					DefElem    *opt = lfirst_node(DefElem, lc);

					if (strcmp(opt->defname, "analyze") == 0 &&
						defGetBoolean(opt))
						return castNode(Query, explain->query);
				}
			}
			return NULL;
		default:
			return NULL;
	}
}

static void
read_guard_post_parse_analyze(ParseState *pstate, Query *query,
							  JumbleState *jstate)
{
	Query	   *reads;

	if (prev_post_parse_analyze)
		prev_post_parse_analyze(pstate, query, jstate);

	if (MyBackendType != B_BACKEND ||
		pgraft_applying ||
		pgraft_read_consistency == PGRAFT_READ_LOCAL ||
		!IsTransactionState() ||
		IsolationUsesXactSnapshot())
		return;

	reads = reading_query(query);
	if (reads != NULL && reads_replicated_walker((Node *) reads, NULL))
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
