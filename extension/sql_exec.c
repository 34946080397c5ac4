/*
 * extension/sql_exec.c — raft.exec(sql [, VARIADIC args]) and
 * raft.barrier().
 *
 * raft.exec builds the statement (origin, request id, the current role,
 * the SQL, the arguments as schema-qualified type names and text), has it
 * checked on this server (bad or refused SQL fails before anything is
 * proposed; a check that fails is repeated after a read fence, so a refusal
 * never comes from this server lagging behind; a DML statement the session
 * checked before skips the analysis, check_cache.c), encodes it, proposes
 * it and waits for this server's applier to hand back its result.
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type_d.h"
#include "commands/dbcommands.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "storage/sinval.h"
#include "utils/builtins.h"
#include "utils/float.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/resowner.h"

#include "pg_raft.h"
#include "statement.h"
#include "statement_internal.h"

PG_FUNCTION_INFO_V1(pgraft_exec);
PG_FUNCTION_INFO_V1(pgraft_barrier);

/*
 * By the name of this session's database (a syscache lookup), not by
 * get_database_oid (a scan of pg_database on every call).
 */
static void
require_raft_database(void)
{
	char	   *dbname = get_database_name(MyDatabaseId);

	if (dbname == NULL || strcmp(dbname, pgraft_database) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("pg_raft serves database \"%s\", not \"%s\"",
						pgraft_database, get_database_name(MyDatabaseId)),
				 errhint("Connect to database \"%s\", or change pg_raft.database on every server.",
						 pgraft_database)));
}

/* The VARIADIC arguments as type names and text values. */
static void
collect_args(FunctionCallInfo fcinfo, PgRaftStatement *stmt)
{
	Datum	   *values;
	Oid		   *types;
	bool	   *nulls;
	int			nargs;
	int			guc_level;
	int			i;

	stmt->nargs = 0;
	stmt->argtypes = NULL;
	stmt->argvalues = NULL;
	stmt->argtypeoids = NULL;
	if (PG_NARGS() < 2)
		return;
	nargs = extract_variadic_args(fcinfo, 1, true, &values, &types, &nulls);
	if (nargs <= 0)
		return;					/* VARIADIC NULL or an empty array */
	if (nargs > PGRAFT_MAX_ARGS)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("raft.exec takes at most %d arguments", PGRAFT_MAX_ARGS),
				 errdetail("%d were given.", nargs)));

	/*
	 * A value goes into the log as text: print floats with every digit
	 * whatever the session's setting, so the value the applier reads back is
	 * the one given.  Any extra_float_digits above 0 (the default is 1)
	 * prints the shortest exact form already; only a lower one is raised
	 * for the call.  (The settings that change how text is read, DateStyle
	 * and the like, travel with the entry.)
	 */
	guc_level = -1;
	if (extra_float_digits <= 0)
	{
		guc_level = NewGUCNestLevel();
		(void) set_config_option("extra_float_digits", "3", PGC_USERSET,
								 PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
	}

	stmt->nargs = nargs;
	stmt->argtypes = palloc(sizeof(char *) * nargs);
	stmt->argvalues = palloc(sizeof(char *) * nargs);
	stmt->argtypeoids = palloc(sizeof(Oid) * nargs);
	for (i = 0; i < nargs; i++)
	{
		Oid			type = types[i];

		/* an undecorated literal: text, as the documentation says */
		if (type == UNKNOWNOID)
			type = TEXTOID;
		if (!OidIsValid(type))
			ereport(ERROR,
					(errcode(ERRCODE_INDETERMINATE_DATATYPE),
					 errmsg("could not determine the type of argument %d of raft.exec", i + 1),
					 errhint("Cast the argument, e.g. '5'::int.")));
		stmt->argtypes[i] = format_type_be_qualified(type);
		stmt->argtypeoids[i] = type;
		if (nulls[i])
			stmt->argvalues[i] = NULL;
		else if (types[i] == UNKNOWNOID)
			stmt->argvalues[i] = pstrdup(DatumGetCString(values[i]));
		else
		{
			Oid			outfunc;
			bool		isvarlena;

			getTypeOutputInfo(type, &outfunc, &isvarlena);
			stmt->argvalues[i] = OidOutputFunctionCall(outfunc, values[i]);
		}
	}
	if (guc_level >= 0)
		AtEOXact_GUC(true, guc_level);
}

/*
 * An error of the check that this server's schema, older than the
 * cluster's, could explain: an undefined or duplicate object, a type or a
 * privilege that changed, a table not (yet) replicated.  Not a syntax
 * error, a cancel, a resource or an internal error.
 */
static bool
may_come_from_lagging(int sqlerrcode)
{
	switch (ERRCODE_TO_CATEGORY(sqlerrcode))
	{
		case ERRCODE_SYNTAX_ERROR_OR_ACCESS_RULE_VIOLATION:
			return sqlerrcode != ERRCODE_SYNTAX_ERROR;
		case ERRCODE_INVALID_SCHEMA_NAME:
		case ERRCODE_FEATURE_NOT_SUPPORTED:
		case ERRCODE_DATA_EXCEPTION:
		case ERRCODE_INTEGRITY_CONSTRAINT_VIOLATION:
		case ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE:
			return true;
		default:
			return false;
	}
}

/*
 * Checks the statement against this server's schema as it is, in a
 * subtransaction.  A statement that passes is proposed at once, with no
 * round to the leader first: the check only refuses bad SQL early, and
 * what counts is the statement's run by the applier of every server, in
 * log order.  One that fails with an error a lagging schema could explain
 * is checked again after a read fence (under the session's
 * pg_raft.read_consistency), so a table created through another server a
 * moment ago is seen here too, and a refusal is always one the schema as of
 * the fence gives.
 */
static void
check_statement(const PgRaftStatement *stmt)
{
	MemoryContext oldcxt = CurrentMemoryContext;
	ResourceOwner oldowner = CurrentResourceOwner;
	ErrorData  *edata = NULL;
	uint64		inval_count;
	volatile PgRaftStatementKind kind = PGRAFT_STMT_DDL;

	/* passed before, and nothing it depends on changed since */
	if (pgraft_check_cache_passes(stmt))
		return;
	inval_count = SharedInvalidMessageCounter;

	if (pgraft_read_consistency == PGRAFT_READ_LOCAL)
	{
		if (pgraft_check_statement(stmt) == PGRAFT_STMT_DML)
			pgraft_check_cache_store(stmt, inval_count);
		return;
	}

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(oldcxt);
	PG_TRY();
	{
		kind = pgraft_check_statement(stmt);
		ReleaseCurrentSubTransaction();
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(oldcxt);
		edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
	}
	PG_END_TRY();
	MemoryContextSwitchTo(oldcxt);
	CurrentResourceOwner = oldowner;

	if (edata == NULL)
	{
		if (kind == PGRAFT_STMT_DML)
			pgraft_check_cache_store(stmt, inval_count);
		return;
	}
	if (!may_come_from_lagging(edata->sqlerrcode))
		ReThrowError(edata);
	FreeErrorData(edata);
	CHECK_FOR_INTERRUPTS();
	(void) pgraft_read_fence(pgraft_read_consistency);
	inval_count = SharedInvalidMessageCounter;
	if (pgraft_check_statement(stmt) == PGRAFT_STMT_DML)
		pgraft_check_cache_store(stmt, inval_count);
}

Datum
pgraft_exec(PG_FUNCTION_ARGS)
{
	PgRaftStatement stmt;
	bytea	   *entry;
	uint64		rows;

	pgraft_require_ready();
	require_raft_database();

	/*
	 * From inside an entry being applied (a trigger, say), the applier would
	 * wait for itself.
	 */
	if (pgraft_applying)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("raft.exec cannot run inside a replicated statement"),
				 errdetail("The applier would wait for an entry it has to apply itself."),
				 errhint("Propose the statements one after the other.")));
	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("the statement of raft.exec must not be NULL")));

	memset(&stmt, 0, sizeof(stmt));
	stmt.origin_node = (uint32) pgraft_node_id;
	stmt.request_id = pgraft_next_request_id();
	stmt.role_name = GetUserNameFromId(GetUserId(), false);
	stmt.sql = text_to_cstring(PG_GETARG_TEXT_PP(0));
	collect_args(fcinfo, &stmt);

	check_statement(&stmt);
	entry = pgraft_encode_statement(&stmt);
	rows = pgraft_propose_and_wait(entry, stmt.request_id);
	PG_RETURN_INT64((int64) rows);
}

Datum
pgraft_barrier(PG_FUNCTION_ARGS)
{
	pgraft_require_ready();
	PG_RETURN_INT64((int64) pgraft_read_fence(PGRAFT_READ_LINEARIZABLE));
}
