/*
 * extension/statement_check.c — what raft.exec accepts: parses and analyses
 * a statement on the proposing server, as the current user, and refuses,
 * before anything is proposed, what could make the servers differ
 * (DESIGN.md, invariant 3) or what this role may not do (invariant 4).
 *
 * Accepted: INSERT, UPDATE and DELETE on replicated tables (checked here),
 * CREATE/ALTER/DROP TABLE, CREATE/DROP INDEX, GRANT/REVOKE on tables
 * (statement_check_ddl.c).
 * For DML, the analysed query tree (every subquery, CTE, sublink, ON
 * CONFLICT clause) must not contain:
 *
 *	 - a function that is not immutable (random(), now(), nextval(), a
 *	   stable cast such as timestamptz::text), nor CURRENT_TIMESTAMP and the
 *	   like (CURRENT_USER is allowed: it is applied as the same role);
 *	 - a date/time literal that names a moment relative to now ('now',
 *	   'today', 'tomorrow', 'yesterday'): every server reads the literal
 *	   again when it applies the statement, so at another moment;
 *	 - a constant or parameter of an object identifier type (regclass,
 *	   regtype, ...): every server resolves the name to its own object id;
 *	 - a column default that is not immutable and would be evaluated
 *	   (INSERT leaving the column out, or DEFAULT): serial, identity, now();
 *	 - a relation that is not replicated (the target included; views too);
 *	 - a system column (ctid, xmin, tableoid, ...): it differs per server;
 *	 - a data-modifying WITH, TABLESAMPLE, FOR UPDATE/SHARE, WHERE CURRENT
 *	   OF, LIMIT/OFFSET without ORDER BY, RETURNING (raft.exec returns the
 *	   row count only).
 *
 * Then the permission checks the executor would run (ExecCheckRTPerms, and
 * EXECUTE on each function) are run as the current user, so a role without
 * privileges fails here with 42501.  Bad SQL fails with the parser's own
 * error.  All refusals are FEATURE_NOT_SUPPORTED (0A000) with a hint.
 *
 * Not caught: a query whose result depends on row order without such a
 * clause (an UPDATE ... FROM that matches a row twice, ORDER BY on a
 * column with ties before LIMIT).
 */
#include "postgres.h"

#include <ctype.h>

#include "access/table.h"
#include "catalog/heap.h"
#include "catalog/pg_type.h"
#include "executor/executor.h"
#include "nodes/nodeFuncs.h"
#include "parser/analyze.h"
#include "parser/parse_type.h"
#include "parser/parser.h"
#include "parser/parsetree.h"
#include "rewrite/rewriteHandler.h"
#include "tcop/utility.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"

#include "statement_internal.h"

/* The statement being checked: literals are looked up in it by location. */
static const char *checking_sql = NULL;

/* ----------------------------------------------------------------
 * Expressions that can evaluate differently on another server
 * ----------------------------------------------------------------
 */

/* An object identifier type: each server maps the name to its own oid. */
static bool
object_id_type(Oid type)
{
	type = getBaseType(type);
	if (OidIsValid(get_element_type(type)))
		type = get_element_type(type);
	switch (type)
	{
		case REGCLASSOID:
		case REGTYPEOID:
		case REGPROCOID:
		case REGPROCEDUREOID:
		case REGOPEROID:
		case REGOPERATOROID:
		case REGNAMESPACEOID:
		case REGROLEOID:
		case REGCOLLATIONOID:
			return true;
		default:
			/* regconfig, regdictionary: text search arguments, kept */
			return false;
	}
}

/* A date/time type, or an array, range or domain of one. */
static bool
datetime_type(Oid type)
{
	type = getBaseType(type);
	if (OidIsValid(get_element_type(type)))
		type = getBaseType(get_element_type(type));
	if (type_is_multirange(type))
		type = get_multirange_range(type);
	if (type_is_range(type))
		type = get_range_subtype(type);
	return type == DATEOID || type == TIMESTAMPOID || type == TIMESTAMPTZOID ||
		type == TIMEOID || type == TIMETZOID;
}

/*
 * The word of a date/time literal's text that names a moment relative to
 * now ('now', 'today', 'tomorrow', 'yesterday'), or NULL.  The text ends at
 * its NUL, or at a single quote when quoted (a doubled quote is one quote).
 */
const char *
pgraft_relative_datetime_word(const char *p, bool quoted)
{
	static const char *const words[] = {"now", "today", "tomorrow", "yesterday"};
	char		token[16];
	int			n = 0;

	for (;; p++)
	{
		bool		letter = *p != '\0' && isalpha((unsigned char) *p);

		if (letter && n < (int) sizeof(token) - 1)
			token[n++] = pg_tolower((unsigned char) *p);
		else if (!letter)
		{
			token[n] = '\0';
			for (int i = 0; i < (int) lengthof(words); i++)
				if (n > 0 && strcmp(token, words[i]) == 0)
					return words[i];
			n = 0;
		}
		if (*p == '\0' || (quoted && *p == '\'' && p[1] != '\''))
			return NULL;
		if (quoted && *p == '\'')
			p++;				/* a doubled quote */
	}
}

/*
 * The same for the literal at location in the statement: the location is
 * that of the literal itself, or of the type name before it (DATE 'today').
 */
static const char *
relative_datetime_word(int location)
{
	const char *p;

	if (checking_sql == NULL || location < 0 ||
		location >= (int) strlen(checking_sql))
		return NULL;
	p = strchr(checking_sql + location, '\'');
	if (p == NULL)
		return NULL;
	return pgraft_relative_datetime_word(p + 1, true);
}

/* Refuses a constant or parameter whose value differs between servers. */
static void
refuse_server_dependent_value(Node *node, const char *what)
{
	Oid			type;
	const char *word;

	if (IsA(node, Const))
		type = ((Const *) node)->consttype;
	else if (IsA(node, Param))
		type = ((Param *) node)->paramtype;
	else
		return;
	if (object_id_type(type))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("raft.exec does not support values of type %s",
						format_type_be(type)),
				 errdetail("A %s value is an object id, and each server gives the object its own id.",
						   format_type_be(type)),
				 errhint("Use the object's name, as text.")));
	if (IsA(node, Const) && !((Const *) node)->constisnull &&
		datetime_type(type) &&
		(word = relative_datetime_word(((Const *) node)->location)) != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("the %s literal '%s' is not immutable: its value can differ between servers",
						format_type_be(type), word),
				 errdetail("Every server reads the literal of the %s when it applies the statement.",
						   what),
				 strcmp(what, "statement") == 0 ?
				 errhint("Compute the value first and pass it as a parameter: raft.exec('... $1 ...', value).") :
				 errhint("Use a fixed date or time in the %s of a replicated table.",
						 what)));
}

static bool
not_immutable_checker(Oid funcid, void *context)
{
	/* CURRENT_USER (a function call in 16+): applied as the same role */
	if (funcid == F_CURRENT_USER)
		return false;
	if (func_volatile(funcid) != PROVOLATILE_IMMUTABLE)
	{
		*(Oid *) context = funcid;
		return true;
	}
	return false;
}

/* The name of what in node could differ between servers, or NULL. */
static const char *
mutable_thing(Node *node)
{
	Oid			funcid = InvalidOid;

	if (IsA(node, NextValueExpr))
		return "nextval()";
	if (IsA(node, SQLValueFunction))
	{
		switch (((SQLValueFunction *) node)->op)
		{
#if PG_VERSION_NUM < 160000
				/* function calls in 16+: see not_immutable_checker */
			case SVFOP_CURRENT_ROLE:
			case SVFOP_CURRENT_USER:
			case SVFOP_USER:
				return NULL;	/* applied as the same role */
			case SVFOP_SESSION_USER:
				return "SESSION_USER";
			case SVFOP_CURRENT_CATALOG:
				return "CURRENT_CATALOG";
			case SVFOP_CURRENT_SCHEMA:
				return "CURRENT_SCHEMA";
#endif
			case SVFOP_CURRENT_DATE:
				return "CURRENT_DATE";
			case SVFOP_CURRENT_TIME:
			case SVFOP_CURRENT_TIME_N:
				return "CURRENT_TIME";
			case SVFOP_CURRENT_TIMESTAMP:
			case SVFOP_CURRENT_TIMESTAMP_N:
				return "CURRENT_TIMESTAMP";
			case SVFOP_LOCALTIME:
			case SVFOP_LOCALTIME_N:
				return "LOCALTIME";
			case SVFOP_LOCALTIMESTAMP:
			case SVFOP_LOCALTIMESTAMP_N:
				return "LOCALTIMESTAMP";
			default:
				return "an SQL value function";
		}
	}
	if (check_functions_in_node(node, not_immutable_checker, &funcid))
		return psprintf("%s()", get_func_name(funcid));
	return NULL;
}

static void
refuse_mutable_thing(const char *thing, const char *what)
{
	ereport(ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg("%s is not immutable: its result can differ between servers",
					thing),
			 errdetail("Every server evaluates the %s when it applies the statement.",
					   what),
			 strcmp(what, "statement") == 0 ?
			 errhint("Compute the value first and pass it as a parameter: raft.exec('... $1 ...', value).") :
			 errhint("Use only immutable functions in the %s of a replicated table.",
					 what)));
}

static bool
find_mutable_walker(Node *node, void *context)
{
	const char *thing;

	if (node == NULL)
		return false;
	if (IsA(node, Query))
		return query_tree_walker((Query *) node, find_mutable_walker,
								 context, 0);
	refuse_server_dependent_value(node, "column default or constraint");
	thing = mutable_thing(node);
	if (thing != NULL)
	{
		*(const char **) context = thing;
		return true;
	}
	return expression_tree_walker(node, find_mutable_walker, context);
}

/* The first thing in an analysed tree that could differ, or NULL. */
static const char *
find_mutable(Node *analysed)
{
	const char *thing = NULL;

	(void) find_mutable_walker(analysed, &thing);
	return thing;
}

void
pgraft_refuse_mutable(Node *analysed, const char *what)
{
	const char *thing = find_mutable(analysed);

	if (thing != NULL)
		refuse_mutable_thing(thing, what);
}

/* ----------------------------------------------------------------
 * DML
 * ----------------------------------------------------------------
 */

typedef struct DmlCheck
{
	bool		has_set_to_default; /* a DEFAULT in VALUES or SET */
} DmlCheck;

static void
refuse_dml(const char *msg, const char *detail, const char *hint)
{
	ereport(ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg_internal("%s", msg),
			 errdetail_internal("%s", detail),
			 errhint("%s", hint)));
}

static bool
execute_privilege_checker(Oid funcid, void *context)
{
	AclResult	aclresult = pgraft_proc_aclcheck(funcid, GetUserId(), ACL_EXECUTE);

	if (aclresult != ACLCHECK_OK)
		aclcheck_error(aclresult, OBJECT_FUNCTION, get_func_name(funcid));
	return false;
}

/* Checks one query level: its clauses and the executor's permission check. */
static void
check_query_level(Query *query)
{
	ListCell   *lc;

	if (query->rowMarks != NIL)
		refuse_dml("raft.exec does not support FOR UPDATE or FOR SHARE",
				   "Row locks taken by one server mean nothing on the others.",
				   "Remove the locking clause: raft.exec statements are applied one at a time, in log order.");
	foreach(lc, query->cteList)
	{
		CommonTableExpr *cte = lfirst_node(CommonTableExpr, lc);

		if (((Query *) cte->ctequery)->commandType != CMD_SELECT)
			refuse_dml("raft.exec does not support data-modifying statements in WITH",
					   "Only the statement's own target is written through the Raft log.",
					   "Run each INSERT, UPDATE or DELETE as its own raft.exec call.");
	}
	if ((query->limitCount != NULL || query->limitOffset != NULL) &&
		query->sortClause == NIL)
		refuse_dml("raft.exec does not support LIMIT or OFFSET without ORDER BY",
				   "Without an order, the rows chosen can differ between servers.",
				   "Add an ORDER BY that orders the rows completely (for example by the primary key).");

#if PG_VERSION_NUM >= 160000
	(void) ExecCheckPermissions(query->rtable, query->rteperminfos, true);
#else
	(void) ExecCheckRTPerms(query->rtable, true);
#endif
}

static bool
dml_walker(Node *node, void *context)
{
	DmlCheck   *check = (DmlCheck *) context;
	const char *thing;

	if (node == NULL)
		return false;

	if (IsA(node, Query))
	{
		check_query_level((Query *) node);
		return query_tree_walker((Query *) node, dml_walker, context,
								 QTW_EXAMINE_RTES_BEFORE);
	}

	if (IsA(node, RangeTblEntry))
	{
		RangeTblEntry *rte = (RangeTblEntry *) node;

		if (rte->rtekind != RTE_RELATION)
			return false;
		if (rte->tablesample != NULL)
			refuse_dml("raft.exec does not support TABLESAMPLE",
					   "A sample can pick different rows on each server.",
					   "Select the rows with a WHERE clause instead.");
		if (!pgraft_is_replicated(rte->relid))
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("relation \"%s\" is not replicated",
							get_rel_name(rte->relid)),
					 errdetail("raft.exec statements read and write only replicated tables; other relations can differ between servers."),
					 errhint("Create the table with raft.exec('CREATE TABLE ...').")));
		return false;
	}

	if (IsA(node, Var) && ((Var *) node)->varattno < 0)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("raft.exec does not support system column \"%s\"",
						NameStr(SystemAttributeDefinition(((Var *) node)->varattno)->attname)),
				 errdetail("System columns (ctid, xmin, tableoid, ...) differ between servers."),
				 errhint("Identify rows by a key column.")));

	if (IsA(node, SetToDefault))
		check->has_set_to_default = true;

	if (IsA(node, CurrentOfExpr))
		refuse_dml("raft.exec does not support WHERE CURRENT OF",
				   "A cursor exists on this server only.",
				   "Identify the row by a key column.");

	refuse_server_dependent_value(node, "statement");
	thing = mutable_thing(node);
	if (thing != NULL)
		refuse_mutable_thing(thing, "statement");
	(void) check_functions_in_node(node, execute_privilege_checker, NULL);

	return expression_tree_walker(node, dml_walker, context);
}

/*
 * Column defaults the statement would evaluate: for INSERT the columns it
 * leaves out, and every column when it says DEFAULT somewhere.
 */
static void
check_defaults(Query *query, bool all_columns)
{
	RangeTblEntry *rte = rt_fetch(query->resultRelation, query->rtable);
	Relation	rel = table_open(rte->relid, NoLock);	/* locked by analysis */
	TupleDesc	desc = RelationGetDescr(rel);
	bool	   *targeted = palloc0(sizeof(bool) * (desc->natts + 1));
	ListCell   *lc;

	foreach(lc, query->targetList)
	{
		TargetEntry *tle = lfirst_node(TargetEntry, lc);

		if (!tle->resjunk && tle->resno > 0 && tle->resno <= desc->natts)
			targeted[tle->resno] = true;
	}

	for (int attnum = 1; attnum <= desc->natts; attnum++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, attnum - 1);
		Node	   *def;
		const char *thing;

		if (att->attisdropped || att->attgenerated)
			continue;
		if (!all_columns &&
			!(query->commandType == CMD_INSERT && !targeted[attnum]))
			continue;
		def = build_column_default(rel, attnum);
		if (def == NULL)
			continue;
		thing = find_mutable(def);
		if (thing != NULL)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("default of column \"%s\" of table \"%s\" is not immutable: it can differ between servers",
							NameStr(att->attname), RelationGetRelationName(rel)),
					 errdetail("The statement would evaluate the default, which calls %s, on every server.",
							   thing),
					 errhint("Give column \"%s\" a value in the statement.",
							 NameStr(att->attname))));
	}
	table_close(rel, NoLock);
}

Oid
pgraft_parameter_type(const char *name)
{
#if PG_VERSION_NUM >= 160000
	TypeName   *tn = typeStringToTypeName(name, NULL);
#else
	TypeName   *tn = typeStringToTypeName(name);
#endif

	return typenameTypeId(NULL, tn);
}

Oid *
pgraft_check_arguments(const PgRaftStatement *stmt)
{
	Oid		   *types;

	if (stmt->nargs <= 0)
		return NULL;
	types = palloc(sizeof(Oid) * stmt->nargs);
	for (int i = 0; i < stmt->nargs; i++)
	{
		Oid			typinput;
		Oid			typioparam;

		types[i] = stmt->argtypeoids ? stmt->argtypeoids[i] :
			pgraft_parameter_type(stmt->argtypes[i]);
		/* a value its type does not accept fails here, not on apply */
		if (stmt->argvalues[i] != NULL)
		{
			getTypeInputInfo(types[i], &typinput, &typioparam);
			(void) OidInputFunctionCall(typinput, stmt->argvalues[i],
										typioparam, -1);
		}
	}
	return types;
}

static void
check_dml(RawStmt *raw, const PgRaftStatement *stmt)
{
	Oid		   *types = pgraft_check_arguments(stmt);
	Query	   *query;
	DmlCheck	check = {0};

	pgraft_checking = true;
	PG_TRY();
	{
		query = parse_analyze_fixedparams(raw, stmt->sql, types, stmt->nargs,
										  NULL);
	}
	PG_FINALLY();
	{
		pgraft_checking = false;
	}
	PG_END_TRY();

	if (query->returningList != NIL)
		refuse_dml("raft.exec does not support RETURNING",
				   "raft.exec returns the number of rows the statement processed.",
				   "Run the statement without RETURNING, then read the rows after SELECT raft.barrier().");

	(void) dml_walker((Node *) query, &check);

	if (query->commandType == CMD_INSERT || check.has_set_to_default)
		check_defaults(query, check.has_set_to_default);
}

/* ----------------------------------------------------------------
 * Entry point
 * ----------------------------------------------------------------
 */

PgRaftStatementKind
pgraft_check_statement(const PgRaftStatement *stmt)
{
	List	   *raw_list;
	RawStmt    *raw;
	Node	   *parsetree;

	if (stmt->nargs < 0 || stmt->nargs > PGRAFT_MAX_ARGS)
		ereport(ERROR,
				(errcode(ERRCODE_TOO_MANY_ARGUMENTS),
				 errmsg("raft.exec takes at most %d parameters",
						PGRAFT_MAX_ARGS),
				 errdetail("The statement has %d.", stmt->nargs)));

	checking_sql = stmt->sql;
	raw_list = raw_parser(stmt->sql, RAW_PARSE_DEFAULT);
	if (raw_list == NIL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("raft.exec needs a statement"),
				 errdetail("The string holds no SQL statement."),
				 errhint(PGRAFT_SUPPORTED_HINT)));
	if (list_length(raw_list) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("raft.exec runs one statement at a time"),
				 errdetail("The string holds %d statements.",
						   list_length(raw_list)),
				 errhint("Call raft.exec once per statement; each one is one entry of the Raft log.")));

	raw = linitial_node(RawStmt, raw_list);
	parsetree = raw->stmt;

	switch (nodeTag(parsetree))
	{
		case T_InsertStmt:
		case T_UpdateStmt:
		case T_DeleteStmt:
			check_dml(raw, stmt);
			return PGRAFT_STMT_DML;

		case T_SelectStmt:
			if (((SelectStmt *) parsetree)->intoClause == NULL)
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("raft.exec does not run SELECT"),
						 errdetail("raft.exec proposes writes to the Raft log; a SELECT writes nothing."),
						 errhint("Run SELECTs directly; pg_raft.read_consistency applies.")));
			/* SELECT INTO is CREATE TABLE AS */
			pgraft_check_ddl(raw, stmt);
			return PGRAFT_STMT_DDL;

		case T_CreateStmt:
		case T_CreateTableAsStmt:
		case T_AlterTableStmt:
		case T_RenameStmt:
		case T_DropStmt:
		case T_IndexStmt:
		case T_GrantStmt:
			pgraft_check_ddl(raw, stmt);
			return PGRAFT_STMT_DDL;

		default:
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("raft.exec does not support %s",
							CreateCommandName(parsetree)),
					 errhint(PGRAFT_SUPPORTED_HINT)));
	}
	pg_unreachable();
}
