/*
 * extension/guard.c — refuses changes to replicated tables that do not come
 * through the Raft log.
 *
 * A replicated table is changed only by the applier, inside
 * pgraft_apply_statement (pgraft_applying is true then).  Anywhere else:
 *
 *	 - ExecutorStart_hook refuses INSERT, UPDATE, DELETE and MERGE (also in
 *	   data-modifying CTEs, functions and EXPLAIN ANALYZE) whose result
 *	   relation is replicated, and row locks on replicated tables (FOR
 *	   UPDATE / NO KEY UPDATE / SHARE; also LOCK TABLE, below): a local lock
 *	   holds back no write of the log, only this server's applier, and a
 *	   client that then waits on that applier (raft.exec, a read fence)
 *	   would wait for itself;
 *	 - ProcessUtility_hook refuses, on replicated tables (and their
 *	   indexes), what would change their rows or make a server apply the
 *	   same statement differently: TRUNCATE, COPY FROM, ALTER TABLE (also
 *	   ALTER ... RENAME / SET SCHEMA), DROP TABLE, CREATE INDEX, DROP INDEX,
 *	   CREATE TRIGGER, CREATE RULE, CREATE/ALTER POLICY, GRANT and REVOKE
 *	   (privileges decide what applied statements do, so they go through
 *	   the log too), and a local table made a child or partition of one
 *	   (CREATE TABLE ... PARTITION OF / INHERITS, ALTER TABLE ... INHERIT);
 *	   it lets everything else through;
 *	 - object_access_hook refuses the drop of a replicated table by any other
 *	   path (DROP SCHEMA ... CASCADE, DROP OWNED).
 *
 * All refusals are ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE (55000) with a
 * hint to use raft.exec.  DROP EXTENSION pg_raft is not affected: the
 * replicated tables are not members of the extension and stay, as ordinary
 * tables.
 */
#include "postgres.h"

#include "catalog/index.h"
#include "catalog/namespace.h"
#include "catalog/objectaccess.h"
#include "catalog/pg_class.h"
#include "executor/executor.h"
#include "nodes/parsenodes.h"
#include "nodes/plannodes.h"
#include "parser/parsetree.h"
#include "tcop/utility.h"
#include "utils/lsyscache.h"

#include "statement_internal.h"

bool		pgraft_applying = false;

static bool guard_installed = false;
static ExecutorStart_hook_type prev_ExecutorStart = NULL;
static ProcessUtility_hook_type prev_ProcessUtility = NULL;
static object_access_hook_type prev_object_access = NULL;

#define PGRAFT_GUARD_HINT \
	"Use raft.exec('...') so the change goes through the Raft log."

/* The replicated table relid is, or whose index it is; else InvalidOid. */
static Oid
replicated_table_of(Oid relid)
{
	if (!OidIsValid(relid))
		return InvalidOid;
	if (get_rel_relkind(relid) == RELKIND_INDEX ||
		get_rel_relkind(relid) == RELKIND_PARTITIONED_INDEX)
		relid = IndexGetRelation(relid, true);
	if (OidIsValid(relid) && pgraft_is_replicated(relid))
		return relid;
	return InvalidOid;
}

static Oid
replicated_table_of_rangevar(RangeVar *rv)
{
	if (rv == NULL)
		return InvalidOid;
	return replicated_table_of(RangeVarGetRelid(rv, NoLock, true));
}

static void
refuse_utility(Node *parsetree, Oid relid)
{
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("cannot run %s on replicated table \"%s\" directly",
					CreateCommandName(parsetree), get_rel_name(relid)),
			 errdetail("Replicated tables change only through the Raft log, so that every server applies the same changes."),
			 errhint(PGRAFT_GUARD_HINT)));
}

static void
refuse_local_child(Oid parent)
{
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("cannot make a local table a partition or child of replicated table \"%s\"",
					get_rel_name(parent)),
			 errdetail("Rows of a replicated table must be stored alike on every server."),
			 errhint("Create the table with raft.exec('CREATE TABLE ...') so that it is replicated too.")));
}

static void
refuse_lock(Oid relid)
{
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("cannot lock replicated table \"%s\"", get_rel_name(relid)),
			 errdetail("A lock taken on one server does not hold back writes that come through the Raft log; it only holds up this server's applier, and raft.exec waits for that applier."),
			 errhint("Remove the locking clause; to read after every earlier write, run SELECT raft.barrier() first.")));
}

static void
guard_ExecutorStart(QueryDesc *queryDesc, int eflags)
{
	PlannedStmt *pstmt = queryDesc->plannedstmt;

	if (!pgraft_applying && (eflags & EXEC_FLAG_EXPLAIN_ONLY) == 0)
	{
		ListCell   *lc;

		/* every ModifyTable's result relations, CTEs included */
		foreach(lc, pstmt->resultRelations)
		{
			RangeTblEntry *rte = rt_fetch(lfirst_int(lc), pstmt->rtable);

			if (rte->rtekind == RTE_RELATION && pgraft_is_replicated(rte->relid))
				ereport(ERROR,
						(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
						 errmsg("cannot modify replicated table \"%s\" directly",
								get_rel_name(rte->relid)),
						 errdetail("Replicated tables change only through the Raft log, so that every server applies the same changes."),
						 errhint(PGRAFT_GUARD_HINT)));
		}

		/*
		 * FOR UPDATE, FOR NO KEY UPDATE and FOR SHARE.  FOR KEY SHARE stays
		 * allowed: foreign keys of local tables that reference a replicated
		 * one take it, and it holds back only deletes of the referenced row.
		 */
		foreach(lc, pstmt->rowMarks)
		{
			PlanRowMark *mark = lfirst_node(PlanRowMark, lc);
			RangeTblEntry *rte;

			if (mark->markType != ROW_MARK_EXCLUSIVE &&
				mark->markType != ROW_MARK_NOKEYEXCLUSIVE &&
				mark->markType != ROW_MARK_SHARE)
				continue;
			rte = rt_fetch(mark->rti, pstmt->rtable);
			if (rte->rtekind == RTE_RELATION && pgraft_is_replicated(rte->relid))
				refuse_lock(rte->relid);
		}
	}

	if (prev_ExecutorStart)
		prev_ExecutorStart(queryDesc, eflags);
	else
		standard_ExecutorStart(queryDesc, eflags);
}

/* Checks one utility statement; raises if it would change a replicated table. */
static void
guard_check_utility(Node *parsetree)
{
	Oid			relid = InvalidOid;
	ListCell   *lc;

	switch (nodeTag(parsetree))
	{
		case T_TruncateStmt:
			foreach(lc, ((TruncateStmt *) parsetree)->relations)
			{
				relid = replicated_table_of_rangevar(lfirst_node(RangeVar, lc));
				if (OidIsValid(relid))
					break;
			}
			break;
		case T_LockStmt:
			foreach(lc, ((LockStmt *) parsetree)->relations)
			{
				Oid			locked = replicated_table_of_rangevar(lfirst_node(RangeVar, lc));

				if (OidIsValid(locked))
					refuse_lock(locked);
			}
			break;
		case T_CopyStmt:
			if (((CopyStmt *) parsetree)->is_from)
				relid = replicated_table_of_rangevar(((CopyStmt *) parsetree)->relation);
			break;
		case T_AlterTableStmt:
			{
				AlterTableStmt *alter = (AlterTableStmt *) parsetree;

				relid = replicated_table_of_rangevar(alter->relation);
				/* a local table made a child of a replicated one */
				foreach(lc, alter->cmds)
				{
					AlterTableCmd *cmd = lfirst_node(AlterTableCmd, lc);

					if (OidIsValid(relid))
						break;
					if (cmd->subtype == AT_AddInherit)
					{
						Oid			parent = replicated_table_of_rangevar(castNode(RangeVar, cmd->def));

						if (OidIsValid(parent))
							refuse_local_child(parent);
					}
				}
			}
			break;
		case T_CreateStmt:
			/* a local child or partition of a replicated table */
			foreach(lc, ((CreateStmt *) parsetree)->inhRelations)
			{
				Oid			parent = replicated_table_of_rangevar(lfirst_node(RangeVar, lc));

				if (OidIsValid(parent))
					refuse_local_child(parent);
			}
			break;
		case T_RenameStmt:
			relid = replicated_table_of_rangevar(((RenameStmt *) parsetree)->relation);
			break;
		case T_AlterObjectSchemaStmt:
			relid = replicated_table_of_rangevar(((AlterObjectSchemaStmt *) parsetree)->relation);
			break;
		case T_IndexStmt:
			relid = replicated_table_of_rangevar(((IndexStmt *) parsetree)->relation);
			break;
		case T_CreateTrigStmt:
			relid = replicated_table_of_rangevar(((CreateTrigStmt *) parsetree)->relation);
			break;
		case T_RuleStmt:
			relid = replicated_table_of_rangevar(((RuleStmt *) parsetree)->relation);
			break;
		case T_CreatePolicyStmt:
			relid = replicated_table_of_rangevar(((CreatePolicyStmt *) parsetree)->table);
			break;
		case T_AlterPolicyStmt:
			relid = replicated_table_of_rangevar(((AlterPolicyStmt *) parsetree)->table);
			break;
		case T_GrantStmt:
			{
				GrantStmt  *grant = (GrantStmt *) parsetree;

				if (grant->objtype != OBJECT_TABLE)
					break;
				foreach(lc, grant->objects)
				{
					if (grant->targtype == ACL_TARGET_OBJECT)
						relid = replicated_table_of_rangevar(lfirst_node(RangeVar, lc));
					else if (grant->targtype == ACL_TARGET_ALL_IN_SCHEMA)
					{
						Oid			nspid = get_namespace_oid(strVal(lfirst(lc)), true);

						if (OidIsValid(nspid) && pgraft_namespace_has_replicated(nspid))
							ereport(ERROR,
									(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
									 errmsg("cannot run %s on all tables of schema \"%s\": it holds replicated tables",
											CreateCommandName(parsetree), strVal(lfirst(lc))),
									 errdetail("Privileges on replicated tables must be the same on every server."),
									 errhint("Use raft.exec('GRANT ... ON TABLE ...') for the replicated tables.")));
					}
					if (OidIsValid(relid))
						break;
				}
			}
			break;
		case T_DropStmt:
			{
				DropStmt   *drop = (DropStmt *) parsetree;

				if (drop->removeType != OBJECT_TABLE &&
					drop->removeType != OBJECT_INDEX)
					break;
				foreach(lc, drop->objects)
				{
					RangeVar   *rv = makeRangeVarFromNameList(lfirst_node(List, lc));

					relid = replicated_table_of_rangevar(rv);
					if (OidIsValid(relid))
						break;
				}
			}
			break;
		default:
			break;
	}

	if (OidIsValid(relid))
		refuse_utility(parsetree, relid);
}

static void
guard_ProcessUtility(PlannedStmt *pstmt, const char *queryString,
					 bool readOnlyTree, ProcessUtilityContext context,
					 ParamListInfo params, QueryEnvironment *queryEnv,
					 DestReceiver *dest, QueryCompletion *qc)
{
	if (!pgraft_applying)
		guard_check_utility(pstmt->utilityStmt);

	if (prev_ProcessUtility)
		prev_ProcessUtility(pstmt, queryString, readOnlyTree, context,
							params, queryEnv, dest, qc);
	else
		standard_ProcessUtility(pstmt, queryString, readOnlyTree, context,
								params, queryEnv, dest, qc);
}

static void
guard_object_access(ObjectAccessType access, Oid classId, Oid objectId,
					int subId, void *arg)
{
	if (prev_object_access)
		prev_object_access(access, classId, objectId, subId, arg);

	if (access == OAT_DROP && classId == RelationRelationId && subId == 0 &&
		!pgraft_applying && pgraft_is_replicated(objectId))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("cannot drop replicated table \"%s\" directly",
						get_rel_name(objectId)),
				 errdetail("Replicated tables change only through the Raft log, so that every server applies the same changes."),
				 errhint(PGRAFT_GUARD_HINT)));
}

void
pgraft_guard_init(void)
{
	if (guard_installed)
		return;
	guard_installed = true;

	prev_ExecutorStart = ExecutorStart_hook;
	ExecutorStart_hook = guard_ExecutorStart;
	prev_ProcessUtility = ProcessUtility_hook;
	ProcessUtility_hook = guard_ProcessUtility;
	prev_object_access = object_access_hook;
	object_access_hook = guard_object_access;
}
