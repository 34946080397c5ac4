/*
 * extension/statement_apply.c — applies one replicated statement, on every
 * server, inside the applier's current (sub)transaction.
 *
 * What makes the statement mean the same on every server:
 *
 *	 - the role: it runs as stmt->role_name (SetUserIdAndSecContext, as
 *	   SECURITY DEFINER functions do; not SET ROLE), so it has on every
 *	   server the privileges it was checked with on the proposing one
 *	   (DESIGN.md, invariant 4);
 *	 - the settings: the proposer's search_path, DateStyle, TimeZone, ...
 *	   recorded in the entry (statement_codec.c) are set for the statement
 *	   only, as a function's SET clause does (NewGUCNestLevel /
 *	   AtEOXact_GUC); so names resolve, and literals and parameters read,
 *	   as they did when pgraft_check_statement analysed the statement.
 *	   search_path is the proposer's as it was, "$user" included, which
 *	   resolves to the same role on every server;
 *	 - pgraft_check_statement refused anything else that could differ.
 *
 * Assumptions every server must share (a server that breaks one fails
 * where the others succeed, and the replicas diverge): the role exists
 * with the same privileges, objects the statement uses that are not tables
 * (types, functions, schemas) exist alike, no local table has the name of
 * a replicated one, and the database encoding is the same.
 *
 * After CREATE TABLE the new table is registered as replicated; before
 * DROP TABLE its row is removed (and after every DROP the rows of tables
 * dropped by CASCADE).  A statement whose target (of DML or DDL) is not
 * replicated when the entry is applied is refused, so a local table of the
 * same name is never written.
 */
#include "postgres.h"

#include "catalog/index.h"
#include "catalog/namespace.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "parser/parser.h"
#include "utils/acl.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"

#include "statement_internal.h"

static bool
is_dml(Node *parsetree)
{
	return IsA(parsetree, InsertStmt) || IsA(parsetree, UpdateStmt) ||
		IsA(parsetree, DeleteStmt);
}

/*
 * Executes the statement through SPI; returns the rows processed.  DML
 * runs from a prepared plan (statement_cache.c): *cp is the cached one
 * found for this statement, or NULL; a plan made here is cached.  Errors
 * come in the same order as a one-shot SPI_execute_with_args would raise
 * them: parameter types, parameter values, analysis, execution.
 */
static uint64
run_statement(const PgRaftStatement *stmt, Oid roleid, Node *parsetree,
			  PgRaftCachedPlan *cp)
{
	uint64		processed;
	int			ret;
	Oid		   *types = NULL;
	Datum	   *values = NULL;
	char	   *nulls = NULL;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "pg_raft: SPI_connect failed");

	if (stmt->nargs > 0)
	{
		types = palloc(sizeof(Oid) * stmt->nargs);
		values = palloc(sizeof(Datum) * stmt->nargs);
		nulls = palloc(sizeof(char) * stmt->nargs);

		for (int i = 0; i < stmt->nargs; i++)
		{
			types[i] = pgraft_cached_parameter_type(stmt->argtypes[i]);
			if (stmt->argvalues[i] == NULL)
			{
				values[i] = (Datum) 0;
				nulls[i] = 'n';
			}
			else
			{
				Oid			typinput;
				Oid			typioparam;

				getTypeInputInfo(types[i], &typinput, &typioparam);
				values[i] = OidInputFunctionCall(typinput, stmt->argvalues[i],
												 typioparam, -1);
				nulls[i] = ' ';
			}
		}
	}

	if (is_dml(parsetree))
	{
		SPIPlanPtr	plan = cp ? pgraft_cached_spi_plan(cp, types) : NULL;

		if (plan == NULL)
		{
			cp = pgraft_plan_cache_add(stmt, roleid, types, parsetree, cp);
			plan = pgraft_cached_spi_plan(cp, types);
		}
		ret = SPI_execute_plan(plan, values, nulls, false, 0);
	}
	else if (stmt->nargs > 0)
		ret = SPI_execute_with_args(stmt->sql, stmt->nargs, types, values,
									nulls, false, 0);
	else
		ret = SPI_execute(stmt->sql, false, 0);

	if (ret < 0)
		elog(ERROR, "pg_raft: SPI could not run the statement: %s",
			 SPI_result_code_string(ret));
	processed = SPI_processed;
	SPI_finish();
	return processed;
}

/*
 * The proposer's settings, for this statement only (the caller's
 * AtEOXact_GUC restores them).  A setting that has the value already is
 * not set again: setting some (timezone_abbreviations, TimeZone) reads
 * files or parses them, and usually the proposer's are the applier's.
 */
static void
apply_settings(const PgRaftStatement *stmt)
{
	for (int i = 0; i < stmt->nsettings; i++)
	{
		const char *current = pgraft_setting_value(stmt->setting_names[i]);

		/* the value as pgraft_encode_statement reads it: same text, same value */
		if (current != NULL && strcmp(current, stmt->setting_values[i]) == 0)
			continue;
		(void) set_config_option(stmt->setting_names[i],
								 stmt->setting_values[i],
								 PGC_USERSET, PGC_S_SESSION,
								 GUC_ACTION_SAVE, true, 0, false);
	}
}

/* The table a statement works on must still be replicated. */
static Oid
replicated_target(RangeVar *rv, bool index)
{
	Oid			relid = RangeVarGetRelid(rv, NoLock, true);
	Oid			table = relid;

	if (!OidIsValid(relid))
		return InvalidOid;		/* the command raises its own error */
	if (index)
		table = IndexGetRelation(relid, true);
	if (!OidIsValid(table) || !pgraft_is_replicated(table))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("relation \"%s\" is not replicated", rv->relname),
				 errdetail("The replicated statement names a relation that is not replicated when it is applied.")));
	return relid;
}

/*
 * Bookkeeping before the statement runs: checks targets, forgets the
 * tables DROP TABLE removes.  Returns the RangeVar of a table CREATE TABLE
 * creates (NULL if none or if it exists already).
 */
static RangeVar *
before_statement(Node *parsetree)
{
	ListCell   *lc;

	switch (nodeTag(parsetree))
	{
		case T_CreateStmt:
			{
				CreateStmt *cs = (CreateStmt *) parsetree;

				if (OidIsValid(RangeVarGetRelid(cs->relation, NoLock, true)))
					return NULL;	/* IF NOT EXISTS, or the command fails */
				return cs->relation;
			}
		case T_InsertStmt:
			(void) replicated_target(((InsertStmt *) parsetree)->relation, false);
			break;
		case T_UpdateStmt:
			(void) replicated_target(((UpdateStmt *) parsetree)->relation, false);
			break;
		case T_DeleteStmt:
			(void) replicated_target(((DeleteStmt *) parsetree)->relation, false);
			break;
		case T_AlterTableStmt:
			(void) replicated_target(((AlterTableStmt *) parsetree)->relation,
									 false);
			break;
		case T_RenameStmt:
			(void) replicated_target(((RenameStmt *) parsetree)->relation,
									 false);
			break;
		case T_IndexStmt:
			(void) replicated_target(((IndexStmt *) parsetree)->relation,
									 false);
			break;
		case T_GrantStmt:
			foreach(lc, ((GrantStmt *) parsetree)->objects)
				(void) replicated_target(lfirst_node(RangeVar, lc), false);
			break;
		case T_DropStmt:
			{
				DropStmt   *drop = (DropStmt *) parsetree;

				foreach(lc, drop->objects)
				{
					RangeVar   *rv = makeRangeVarFromNameList(lfirst_node(List, lc));
					Oid			relid;

					relid = replicated_target(rv, drop->removeType == OBJECT_INDEX);
					if (OidIsValid(relid) && drop->removeType == OBJECT_TABLE)
						pgraft_forget_table(relid);
				}
			}
			break;
		default:
			break;
	}
	return NULL;
}

uint64
pgraft_apply_statement(const PgRaftStatement *stmt)
{
	Oid			roleid;
	Oid			save_userid;
	int			save_sec_context;
	int			save_nestlevel;
	bool		save_applying = pgraft_applying;
	List	   *raw_list;
	Node	   *parsetree;
	RangeVar   *created;
	uint64		processed = 0;
	PgRaftCachedPlan *cp;

	/*
	 * Roles are not replicated: the role must exist on every server.  If it
	 * is missing here only, this server fails the statement where the others
	 * apply it, and the replicas diverge; the error says which role to
	 * create.
	 */
	roleid = get_role_oid(stmt->role_name, true);
	if (!OidIsValid(roleid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("role \"%s\" does not exist on this server",
						stmt->role_name),
				 errdetail("A replicated statement is applied on every server as the role that proposed it."),
				 errhint("Create role \"%s\" on every server of the cluster.",
						 stmt->role_name)));

	/* the proposer's settings, for this statement only */
	save_nestlevel = NewGUCNestLevel();
	apply_settings(stmt);

	/*
	 * Parsed again under those settings (standard_conforming_strings); or
	 * parsed before, under the same settings, with a prepared plan.
	 */
	cp = pgraft_plan_cache_lookup(stmt, roleid);
	if (cp != NULL)
		parsetree = pgraft_cached_parsetree(cp);
	else
	{
		raw_list = raw_parser(stmt->sql, RAW_PARSE_DEFAULT);
		if (list_length(raw_list) != 1)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("a replicated statement must be exactly one SQL statement"),
					 errdetail("The entry holds %d statements.",
							   list_length(raw_list))));
		parsetree = linitial_node(RawStmt, raw_list)->stmt;
	}

	/*
	 * As the proposer's role, in a security-restricted operation (as index
	 * builds run the owner's functions): the statement, and any function it
	 * calls, can leave nothing behind in the applier's session that would
	 * change how later entries of other roles apply: no SET ROLE, no
	 * temporary table that would shadow a replicated one, no prepared
	 * statement or held cursor.  The (sub)transaction abort restores the
	 * user id on error too (AbortSubTransaction resets it); PG_FINALLY only
	 * makes this independent of that.
	 */
	GetUserIdAndSecContext(&save_userid, &save_sec_context);
	SetUserIdAndSecContext(roleid,
						   save_sec_context | SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION);
	pgraft_applying = true;
	PG_TRY();
	{
		created = before_statement(parsetree);
		processed = run_statement(stmt, roleid, parsetree, cp);
		/* found with the same search_path ("$user" is this role) */
		if (created != NULL)
			pgraft_register_table(RangeVarGetRelid(created, NoLock, false));
		if (IsA(parsetree, DropStmt))
			pgraft_forget_dropped_tables();
	}
	PG_FINALLY();
	{
		pgraft_applying = save_applying;
		SetUserIdAndSecContext(save_userid, save_sec_context);
	}
	PG_END_TRY();

	/*
	 * Undo every setting made since NewGUCNestLevel, ours and any SET the
	 * statement's functions made, even session-wide ones (as index builds
	 * do): the next entry starts from the applier's own settings.
	 */
	AtEOXact_GUC(false, save_nestlevel);
	return processed;
}
