/*
 * extension/statement_check_ddl.c — the DDL raft.exec accepts, checked on
 * the proposing server as the current user before it is proposed:
 *
 *	 CREATE TABLE   permanent (not TEMP, not UNLOGGED), no tablespace, no
 *					LIKE or OF type; no serial or identity column, no default
 *					that is not immutable; parents (INHERITS, PARTITION OF)
 *					and referenced tables (REFERENCES) replicated; CHECK
 *					constraints calling only immutable functions.
 *					Not CREATE TABLE AS / SELECT INTO.
 *	 ALTER TABLE	on a replicated table (also ALTER TABLE ... RENAME), with
 *					the same rules for what it adds; no SET UNLOGGED, SET
 *					TABLESPACE, ADD/SET IDENTITY; USING expressions
 *					immutable; ATTACH PARTITION / INHERIT of replicated
 *					tables only.
 *	 DROP TABLE		of replicated tables only.
 *	 CREATE INDEX	on a replicated table, not CONCURRENTLY, no tablespace.
 *	 DROP INDEX		of an index on a replicated table, not CONCURRENTLY.
 *	 GRANT, REVOKE	on replicated tables (ON TABLE t, columns included).
 *
 * The check also runs the ownership and CREATE-privilege checks the
 * command would, so a role that may not run it fails here with 42501.
 */
#include "postgres.h"

#include "access/table.h"
#include "catalog/index.h"
#include "catalog/namespace.h"
#include "catalog/objectaddress.h"
#include "catalog/pg_class.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "parser/parse_coerce.h"
#include "parser/parse_expr.h"
#include "parser/parse_func.h"
#include "parser/parse_relation.h"
#include "parser/parse_type.h"
#include "tcop/utility.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"

#include "statement_internal.h"

static void
refuse_ddl(const char *msg, const char *detail, const char *hint)
{
	ereport(ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg_internal("%s", msg),
			 detail ? errdetail_internal("%s", detail) : 0,
			 errhint("%s", hint)));
}

Oid
pgraft_replicated_table(RangeVar *rv, bool missing_ok, const char *what)
{
	Oid			relid = RangeVarGetRelid(rv, NoLock, missing_ok);

	if (OidIsValid(relid) && !pgraft_is_replicated(relid))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("relation \"%s\" is not replicated", rv->relname),
				 errdetail("%s must be a replicated table; other relations can differ between servers.",
						   what),
				 errhint("Create the table with raft.exec('CREATE TABLE ...').")));
	return relid;
}

static void
require_owner(Oid relid)
{
	if (!pgraft_class_ownercheck(relid, GetUserId()))
		aclcheck_error(ACLCHECK_NOT_OWNER,
					   get_relkind_objtype(get_rel_relkind(relid)),
					   get_rel_name(relid));
}

/* ----------------------------------------------------------------
 * Expressions in DDL
 * ----------------------------------------------------------------
 */

/*
 * An expression as PostgreSQL will store it, analysed against rel (NULL:
 * no columns to refer to), coerced to the column type when typid is valid;
 * refused if it is not immutable.
 */
static void
check_ddl_expr(Node *raw_expr, Relation rel, ParseExprKind kind,
			   Oid typid, int32 typmod, const char *what)
{
	ParseState *pstate;
	Node	   *expr;

	if (raw_expr == NULL)
		return;
	pstate = make_parsestate(NULL);
	if (rel != NULL)
	{
		ParseNamespaceItem *nsitem;

		nsitem = addRangeTableEntryForRelation(pstate, rel, AccessShareLock,
											   NULL, false, true);
		addNSItemToQuery(pstate, nsitem, true, true, true);
	}
	expr = transformExpr(pstate, copyObject(raw_expr), kind);
	if (OidIsValid(typid))
	{
		Node	   *coerced = coerce_to_target_type(pstate, expr, exprType(expr),
													typid, typmod,
													COERCION_ASSIGNMENT,
													COERCE_IMPLICIT_CAST, -1);

		/* a type mismatch is the command's own error, raised when applied */
		if (coerced != NULL)
			expr = coerced;
	}
	pgraft_refuse_mutable(expr, what);
	free_parsestate(pstate);
}

/*
 * A raw CHECK expression of a table that does not exist yet: every function
 * it names must be immutable in all its forms (a conservative reading, as
 * it cannot be analysed before the columns exist).
 */
static bool
raw_check_walker(Node *node, void *context)
{
	if (node == NULL)
		return false;
	if (IsA(node, FuncCall))
	{
		FuncCall   *fc = (FuncCall *) node;
		FuncCandidateList c;

		c = FuncnameGetCandidates(fc->funcname, -1, NIL, false, false,
								  false, true);
		for (; c != NULL; c = c->next)
			if (func_volatile(c->oid) != PROVOLATILE_IMMUTABLE)
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("%s() is not immutable: its result can differ between servers",
								NameListToString(fc->funcname)),
						 errdetail("Every server evaluates the CHECK constraint when it applies a statement."),
						 errhint("Use only immutable functions in CHECK constraints of replicated tables.")));
	}
	/* conservative too: any literal that reads as a moment relative to now */
	if (IsA(node, A_Const) && !((A_Const *) node)->isnull &&
		IsA(&((A_Const *) node)->val, String))
	{
		const char *word = pgraft_relative_datetime_word(strVal(&((A_Const *) node)->val), false);

		if (word != NULL)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("the literal '%s' can differ between servers", word),
					 errdetail("Read as a date or time, every server reads it when it applies the CREATE TABLE."),
					 errhint("Use a fixed date or time in CHECK constraints of replicated tables.")));
	}
	if (IsA(node, SQLValueFunction))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("CHECK constraints of replicated tables cannot use CURRENT_TIMESTAMP and the like"),
				 errdetail("Every server evaluates the CHECK constraint when it applies a statement."),
				 errhint("Use only immutable functions in CHECK constraints of replicated tables.")));
	return raw_expression_tree_walker(node, raw_check_walker, context);
}

static bool
is_serial_type(TypeName *tn)
{
	const char *name;

	if (tn == NULL || list_length(tn->names) != 1 || tn->pct_type)
		return false;
	name = strVal(linitial(tn->names));
	return strcmp(name, "smallserial") == 0 || strcmp(name, "serial2") == 0 ||
		strcmp(name, "serial") == 0 || strcmp(name, "serial4") == 0 ||
		strcmp(name, "bigserial") == 0 || strcmp(name, "serial8") == 0;
}

/* A table or column constraint; rel is NULL while the table is new. */
static void
check_constraint(Constraint *con, Relation rel)
{
	switch (con->contype)
	{
		case CONSTR_IDENTITY:
			refuse_ddl("raft.exec does not support identity columns",
					   "An identity column takes values from a sequence, and sequences are not replicated.",
					   "Use a key the client chooses (for example a uuid computed by the client) and pass it as a parameter.");
			break;
		case CONSTR_FOREIGN:
			(void) pgraft_replicated_table(con->pktable, false,
										   "A referenced table");
			break;
		case CONSTR_CHECK:
			if (rel != NULL)
				check_ddl_expr(con->raw_expr, rel, EXPR_KIND_CHECK_CONSTRAINT,
							   InvalidOid, -1, "CHECK constraint");
			else
				(void) raw_check_walker(con->raw_expr, NULL);
			break;
		default:
			break;
	}
}

/* One column of CREATE TABLE or ALTER TABLE ... ADD COLUMN. */
static void
check_column(ColumnDef *col, Relation rel)
{
	Oid			typid = InvalidOid;
	int32		typmod = -1;
	ListCell   *lc;

	if (is_serial_type(col->typeName))
		refuse_ddl("raft.exec does not support serial columns",
				   "A serial column takes values from a sequence, and sequences are not replicated.",
				   "Use a key the client chooses (for example a uuid computed by the client) and pass it as a parameter.");
	if (col->typeName != NULL)
	{
		Node	   *domain_default;

		typenameTypeIdAndMod(NULL, col->typeName, &typid, &typmod);
		/* a domain's default fills the column where none is given */
		domain_default = get_typdefault(typid);
		if (domain_default != NULL)
			pgraft_refuse_mutable(domain_default, "column default");
	}

	check_ddl_expr(col->raw_default, NULL, EXPR_KIND_COLUMN_DEFAULT,
				   typid, typmod, "column default");
	foreach(lc, col->constraints)
	{
		Constraint *con = lfirst_node(Constraint, lc);

		if (con->contype == CONSTR_DEFAULT)
			check_ddl_expr(con->raw_expr, NULL, EXPR_KIND_COLUMN_DEFAULT,
						   typid, typmod, "column default");
		else
			check_constraint(con, rel);
	}
}

/* ----------------------------------------------------------------
 * The commands
 * ----------------------------------------------------------------
 */

static void
check_create_table(CreateStmt *cs)
{
	RangeVar   *rv = cs->relation;
	Oid			nspid;
	Oid			existing;
	AclResult	aclresult;
	ListCell   *lc;

	if (rv->relpersistence != RELPERSISTENCE_PERMANENT)
		refuse_ddl("raft.exec does not support TEMPORARY or UNLOGGED tables",
				   "A replicated table is permanent on every server.",
				   "Remove TEMPORARY or UNLOGGED.");
	if (cs->ofTypename != NULL)
		refuse_ddl("raft.exec does not support CREATE TABLE ... OF type",
				   "Types are not replicated.",
				   "List the columns.");
	if (cs->tablespacename != NULL)
		refuse_ddl("raft.exec does not support TABLESPACE",
				   "Tablespaces are not replicated.",
				   "Remove the TABLESPACE clause.");

	/* what the command checks first: the schema and its privilege */
	nspid = RangeVarGetCreationNamespace(rv);
	aclresult = pgraft_namespace_aclcheck(nspid, GetUserId(), ACL_CREATE);
	if (aclresult != ACLCHECK_OK)
		aclcheck_error(aclresult, OBJECT_SCHEMA, get_namespace_name(nspid));

	existing = RangeVarGetRelid(rv, NoLock, true);
	if (OidIsValid(existing))
	{
		if (!cs->if_not_exists)
			ereport(ERROR,
					(errcode(ERRCODE_DUPLICATE_TABLE),
					 errmsg("relation \"%s\" already exists", rv->relname)));
		if (!pgraft_is_replicated(existing))
			refuse_ddl(psprintf("relation \"%s\" exists and is not replicated",
								rv->relname),
					   "CREATE TABLE IF NOT EXISTS would do nothing here and create the table on the other servers.",
					   "Choose another name, or drop the local table first.");
	}

	foreach(lc, cs->inhRelations)
		(void) pgraft_replicated_table(lfirst_node(RangeVar, lc), false,
									   "A parent table");

	foreach(lc, cs->tableElts)
	{
		Node	   *elt = lfirst(lc);

		if (IsA(elt, ColumnDef))
			check_column((ColumnDef *) elt, NULL);
		else if (IsA(elt, Constraint))
			check_constraint((Constraint *) elt, NULL);
		else if (IsA(elt, TableLikeClause))
			refuse_ddl("raft.exec does not support CREATE TABLE ... LIKE",
					   NULL,
					   "List the columns.");
	}
	foreach(lc, cs->constraints)
		check_constraint(lfirst_node(Constraint, lc), NULL);
}

static void
check_alter_table(AlterTableStmt *stmt)
{
	Oid			relid;
	Relation	rel;
	ListCell   *lc;

	if (stmt->objtype != OBJECT_TABLE)
		refuse_ddl(psprintf("raft.exec does not support %s",
							CreateCommandName((Node *) stmt)),
				   NULL, PGRAFT_SUPPORTED_HINT);
	relid = pgraft_replicated_table(stmt->relation, stmt->missing_ok,
									"The altered table");
	if (!OidIsValid(relid))
		return;					/* IF EXISTS, and it does not */
	require_owner(relid);

	rel = table_open(relid, AccessShareLock);
	foreach(lc, stmt->cmds)
	{
		AlterTableCmd *cmd = lfirst_node(AlterTableCmd, lc);

		switch (cmd->subtype)
		{
			case AT_AddColumn:
				check_column(castNode(ColumnDef, cmd->def), rel);
				break;
			case AT_ColumnDefault:
				{
					AttrNumber	attnum = get_attnum(relid, cmd->name);
					Oid			typid = InvalidOid;
					int32		typmod = -1;

					if (attnum > 0)
						get_atttypetypmodcoll(relid, attnum, &typid, &typmod,
											  &(Oid){0});
					check_ddl_expr(cmd->def, NULL, EXPR_KIND_COLUMN_DEFAULT,
								   typid, typmod, "column default");
				}
				break;
			case AT_AlterColumnType:
				check_ddl_expr(castNode(ColumnDef, cmd->def)->raw_default, rel,
							   EXPR_KIND_ALTER_COL_TRANSFORM, InvalidOid, -1,
							   "USING expression");
				break;
			case AT_AddConstraint:
				check_constraint(castNode(Constraint, cmd->def), rel);
				break;
			case AT_AddIdentity:
			case AT_SetIdentity:
				refuse_ddl("raft.exec does not support identity columns",
						   "An identity column takes values from a sequence, and sequences are not replicated.",
						   "Use a key the client chooses and pass it as a parameter.");
				break;
			case AT_SetUnLogged:
				refuse_ddl("raft.exec does not support SET UNLOGGED",
						   "A replicated table is permanent on every server.",
						   PGRAFT_SUPPORTED_HINT);
				break;
			case AT_SetTableSpace:
				refuse_ddl("raft.exec does not support SET TABLESPACE",
						   "Tablespaces are not replicated.",
						   PGRAFT_SUPPORTED_HINT);
				break;
			case AT_DetachPartition:
				if (castNode(PartitionCmd, cmd->def)->concurrent)
					refuse_ddl("raft.exec does not support DETACH PARTITION CONCURRENTLY",
							   "CONCURRENTLY cannot run inside the applier's transaction.",
							   "Remove CONCURRENTLY.");
				break;
			case AT_AttachPartition:
				(void) pgraft_replicated_table(castNode(PartitionCmd, cmd->def)->name,
											   false, "An attached partition");
				break;
			case AT_AddInherit:
				(void) pgraft_replicated_table(castNode(RangeVar, cmd->def),
											   false, "A parent table");
				break;
			default:
				break;
		}
	}
	table_close(rel, AccessShareLock);
}

static void
check_rename(RenameStmt *stmt)
{
	Oid			relid;

	switch (stmt->renameType)
	{
		case OBJECT_TABLE:
		case OBJECT_COLUMN:
		case OBJECT_TABCONSTRAINT:
			if (stmt->renameType != OBJECT_TABLE &&
				stmt->relationType != OBJECT_TABLE)
				break;
			relid = pgraft_replicated_table(stmt->relation, stmt->missing_ok,
											"The renamed table");
			if (OidIsValid(relid))
				require_owner(relid);
			return;
		default:
			break;
	}
	refuse_ddl(psprintf("raft.exec does not support %s",
						CreateCommandName((Node *) stmt)),
			   NULL, PGRAFT_SUPPORTED_HINT);
}

static void
check_drop(DropStmt *stmt)
{
	ListCell   *lc;

	if (stmt->removeType != OBJECT_TABLE && stmt->removeType != OBJECT_INDEX)
		refuse_ddl(psprintf("raft.exec does not support %s",
							CreateCommandName((Node *) stmt)),
				   NULL, PGRAFT_SUPPORTED_HINT);
	if (stmt->concurrent)
		refuse_ddl("raft.exec does not support DROP INDEX CONCURRENTLY",
				   "CONCURRENTLY cannot run inside the applier's transaction.",
				   "Remove CONCURRENTLY.");

	foreach(lc, stmt->objects)
	{
		RangeVar   *rv = makeRangeVarFromNameList(lfirst_node(List, lc));
		Oid			relid = RangeVarGetRelid(rv, NoLock, stmt->missing_ok);
		Oid			table;

		if (!OidIsValid(relid))
			continue;			/* IF EXISTS */
		if (stmt->removeType == OBJECT_INDEX)
		{
			table = IndexGetRelation(relid, true);
			if (!OidIsValid(table))
				ereport(ERROR,
						(errcode(ERRCODE_WRONG_OBJECT_TYPE),
						 errmsg("\"%s\" is not an index", rv->relname)));
		}
		else
			table = relid;
		if (!pgraft_is_replicated(table))
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("relation \"%s\" is not replicated",
							get_rel_name(table)),
					 errdetail("raft.exec drops only replicated tables and their indexes."),
					 errhint("Drop it directly, without raft.exec: it exists on this server only.")));
		/* owner of the relation or of its schema, as DROP checks */
		if (!pgraft_class_ownercheck(relid, GetUserId()) &&
			!pgraft_namespace_ownercheck(get_rel_namespace(relid), GetUserId()))
			aclcheck_error(ACLCHECK_NOT_OWNER,
						   get_relkind_objtype(get_rel_relkind(relid)),
						   rv->relname);
	}
}

static void
check_create_index(IndexStmt *stmt)
{
	Oid			relid;

	if (stmt->concurrent)
		refuse_ddl("raft.exec does not support CREATE INDEX CONCURRENTLY",
				   "CONCURRENTLY cannot run inside the applier's transaction.",
				   "Remove CONCURRENTLY.");
	if (stmt->tableSpace != NULL)
		refuse_ddl("raft.exec does not support TABLESPACE",
				   "Tablespaces are not replicated.",
				   "Remove the TABLESPACE clause.");
	relid = pgraft_replicated_table(stmt->relation, false, "The indexed table");
	require_owner(relid);
}

/*
 * GRANT and REVOKE on replicated tables: privileges decide what a role's
 * statements do when they are applied, so they must be alike on every
 * server (guard.c refuses them outside the log).
 */
static void
check_grant(GrantStmt *stmt)
{
	ListCell   *lc;

	if (stmt->targtype != ACL_TARGET_OBJECT || stmt->objtype != OBJECT_TABLE)
		refuse_ddl(psprintf("raft.exec supports %s only on tables named one by one",
							stmt->is_grant ? "GRANT" : "REVOKE"),
				   "Only privileges on replicated tables are replicated.",
				   "Name the replicated tables: GRANT ... ON TABLE t1, t2 TO role.");
	foreach(lc, stmt->objects)
	{
		Oid			relid = pgraft_replicated_table(lfirst_node(RangeVar, lc),
													false,
													"A table in GRANT or REVOKE");

		/*
		 * As GRANT itself does (restrict_and_check_grant): a role with no
		 * privilege at all on the table fails; one with some but not the
		 * grant option only gets a warning when the entry is applied.
		 */
		if (pg_class_aclmask(relid, GetUserId(),
							 ACL_ALL_RIGHTS_RELATION |
							 ACL_GRANT_OPTION_FOR(ACL_ALL_RIGHTS_RELATION),
							 ACLMASK_ANY) == ACL_NO_RIGHTS)
			aclcheck_error(ACLCHECK_NO_PRIV, OBJECT_TABLE, get_rel_name(relid));
	}
	/* grantees must exist here (and, like every role, on every server) */
	foreach(lc, stmt->grantees)
	{
		RoleSpec   *grantee = lfirst_node(RoleSpec, lc);

		if (grantee->roletype != ROLESPEC_PUBLIC)
			(void) get_rolespec_oid(grantee, false);
	}
}

void
pgraft_check_ddl(RawStmt *raw, const PgRaftStatement *stmt)
{
	Node	   *parsetree = raw->stmt;

	if (stmt->nargs > 0)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("raft.exec does not take parameters for %s",
						CreateCommandName(parsetree)),
				 errdetail("Utility statements have no parameters."),
				 errhint("Write the values into the statement.")));

	switch (nodeTag(parsetree))
	{
		case T_CreateStmt:
			check_create_table((CreateStmt *) parsetree);
			break;
		case T_AlterTableStmt:
			check_alter_table((AlterTableStmt *) parsetree);
			break;
		case T_RenameStmt:
			check_rename((RenameStmt *) parsetree);
			break;
		case T_DropStmt:
			check_drop((DropStmt *) parsetree);
			break;
		case T_IndexStmt:
			check_create_index((IndexStmt *) parsetree);
			break;
		case T_GrantStmt:
			check_grant((GrantStmt *) parsetree);
			break;
		case T_CreateTableAsStmt:
		case T_SelectStmt:		/* SELECT INTO */
			refuse_ddl("raft.exec does not support CREATE TABLE AS or SELECT INTO",
					   "The rows would come from a query that each server runs on its own.",
					   "Create the table with raft.exec('CREATE TABLE ...'), then fill it with raft.exec('INSERT INTO ... SELECT ...').");
			break;
		default:
			refuse_ddl(psprintf("raft.exec does not support %s",
								CreateCommandName(parsetree)),
					   NULL, PGRAFT_SUPPORTED_HINT);
	}
}
