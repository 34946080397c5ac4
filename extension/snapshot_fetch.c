/*
 * extension/snapshot_fetch.c — fetches the replicated tables from another
 * server over libpq and loads them here, in the applier (see
 * snapshot_install.c for when).
 *
 * On the source, one REPEATABLE READ READ ONLY transaction: raft.applied,
 * the tables' definitions and their rows are all read in the same MVCC
 * snapshot, so the rows are exactly those as of that applied index.  The
 * source's applied index may be past the snapshot's; it is a later state
 * of the same log, never an earlier one (refused).
 *
 * Here, one local transaction, with pgraft_applying set so guard.c lets it
 * through: drop the replicated tables, create them again from the
 * definitions (columns with their types, collations, defaults and NOT
 * NULL; owner), insert the rows in batches (the rows' text form, read back
 * through the table's row type), add the constraints and indexes (foreign
 * keys last) and the table privileges (GRANTs through raft.exec),
 * record the applied index in raft.applied, commit.  Any failure rolls it
 * all back: the tables stay as they were and the caller retries.
 *
 * Not carried: column privileges, triggers, policies, comments, storage options,
 * identity and generated columns, partitioning and inheritance.
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type_d.h"
#include "commands/user.h"
#include "executor/spi.h"
#include "libpq-fe.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"

#include "pg_raft.h"
#include "snapshot.h"
#include "statement.h"
#include "statement_internal.h"

#define FETCH_ROWS 1000

typedef struct SnapTable
{
	char	   *name;			/* schema-qualified, quoted */
	char	   *create;
	char	   *owner;
} SnapTable;

static const char *const SOURCE_SETUP[] = {
	"SET search_path = pg_catalog",
	"SET pg_raft.read_consistency = local",
	"SET statement_timeout = 0",
	"SET DateStyle = ISO",
	"SET IntervalStyle = postgres",
	"SET extra_float_digits = 3",
	"SET bytea_output = hex",
	"BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
	NULL
};

static const char *const TABLES_QUERY =
"SELECT format('%I.%I', n.nspname, c.relname),"
"       format('CREATE TABLE %I.%I (%s)', n.nspname, c.relname,"
"         coalesce((SELECT string_agg(format('%I %s%s%s%s', a.attname,"
"                     format_type(a.atttypid, a.atttypmod),"
"                     CASE WHEN a.attcollation <> t.typcollation"
"                          THEN ' COLLATE ' || a.attcollation::regcollation::text ELSE '' END,"
"                     CASE WHEN a.attnotnull THEN ' NOT NULL' ELSE '' END,"
"                     coalesce(' DEFAULT ' || pg_get_expr(d.adbin, d.adrelid), '')),"
"                   ', ' ORDER BY a.attnum)"
"                   FROM pg_attribute a"
"                   JOIN pg_type t ON t.oid = a.atttypid"
"                   LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum"
"                  WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped), ''))," 
"       pg_get_userbyid(c.relowner)"
"  FROM raft.replicated_tables r"
"  JOIN pg_class c ON c.oid = r.relid"
"  JOIN pg_namespace n ON n.oid = c.relnamespace"
" ORDER BY c.oid";

static const char *const AFTER_QUERY =
"SELECT stmt FROM ("
" SELECT 1 AS phase, k.conrelid AS rel, k.conname::text AS name,"
"        format('ALTER TABLE %s ADD CONSTRAINT %I %s', k.conrelid::regclass, k.conname,"
"               pg_get_constraintdef(k.oid)) AS stmt"
"   FROM pg_constraint k"
"  WHERE k.conrelid IN (SELECT relid FROM raft.replicated_tables) AND k.contype IN ('p', 'u', 'c', 'x')"
" UNION ALL"
" SELECT 2, i.indrelid, ic.relname::text, pg_get_indexdef(i.indexrelid)"
"   FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid"
"  WHERE i.indrelid IN (SELECT relid FROM raft.replicated_tables)"
"    AND NOT EXISTS (SELECT FROM pg_constraint k WHERE k.conindid = i.indexrelid AND k.conrelid = i.indrelid)"
" UNION ALL"
" SELECT 3, k.conrelid, k.conname::text,"
"        format('ALTER TABLE %s ADD CONSTRAINT %I %s', k.conrelid::regclass, k.conname,"
"               pg_get_constraintdef(k.oid))"
"   FROM pg_constraint k"
"  WHERE k.conrelid IN (SELECT relid FROM raft.replicated_tables) AND k.contype = 'f'"
" UNION ALL"
" SELECT 4, c.oid, a.privilege_type || a.grantee::text,"
"        format('GRANT %s ON %s TO %s%s', a.privilege_type, c.oid::regclass,"
"               CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(a.grantee)) END,"
"               CASE WHEN a.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END)"
"   FROM pg_class c, aclexplode(c.relacl) a"
"  WHERE c.oid IN (SELECT relid FROM raft.replicated_tables) AND a.grantee <> c.relowner"
") s ORDER BY phase, rel, name";

static PGconn *
source_connect(const char *conninfo)
{
	const char *keys[] = {"dbname", "connect_timeout", "application_name",
	"client_encoding", NULL};
	const char *vals[] = {conninfo, "10", "pg_raft snapshot",
	GetDatabaseEncodingName(), NULL};
	PGconn	   *conn = PQconnectdbParams(keys, vals, 1);

	if (conn == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("could not allocate a libpq connection")));
	return conn;
}

/* Runs a command or query on the source; ERROR unless it succeeded. */
static PGresult *
source_exec(PGconn *conn, const char *sql)
{
	PGresult   *res = PQexec(conn, sql);
	ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;

	CHECK_FOR_INTERRUPTS();
	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
	{
		char	   *msg = pstrdup(PQerrorMessage(conn));

		if (res)
			PQclear(res);
		ereport(ERROR,
				(errcode(ERRCODE_CONNECTION_FAILURE),
				 errmsg("pg_raft: snapshot source failed: %s", msg),
				 errdetail("While running: %.200s", sql)));
	}
	return res;
}

static void
local_exec(const char *sql, int expected)
{
	int			rc = SPI_execute(sql, false, 0);

	if (rc != expected)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("pg_raft: snapshot load failed (SPI %d): %.200s", rc, sql)));
}

/* Copies one table's rows from the source cursor into the local table. */
static uint64
copy_rows(PGconn *conn, const SnapTable *t, MemoryContext batch_cxt)
{
	char	   *declare = psprintf("DECLARE pgraft_snap NO SCROLL CURSOR FOR SELECT t::text FROM %s t",
								   t->name);
	char	   *insert = psprintf("INSERT INTO %s SELECT (r).* FROM "
								  "(SELECT x::%s AS r FROM pg_catalog.unnest($1::pg_catalog.text[]) x OFFSET 0) s",
								  t->name, t->name);
	Oid			argtypes[1] = {TEXTARRAYOID};
	uint64		total = 0;

	PQclear(source_exec(conn, declare));
	for (;;)
	{
		PGresult   *res = source_exec(conn, "FETCH " CppAsString2(FETCH_ROWS) " FROM pgraft_snap");
		int			n = PQntuples(res);
		MemoryContext old;
		Datum	   *elems;
		Datum		values[1];
		int			i;
		int			rc;

		if (n == 0)
		{
			PQclear(res);
			break;
		}
		old = MemoryContextSwitchTo(batch_cxt);
		elems = palloc(sizeof(Datum) * n);
		for (i = 0; i < n; i++)
			elems[i] = CStringGetTextDatum(PQgetvalue(res, i, 0));
		PQclear(res);
		values[0] = PointerGetDatum(construct_array(elems, n, TEXTOID, -1, false,
													TYPALIGN_INT));
		MemoryContextSwitchTo(old);
		rc = SPI_execute_with_args(insert, 1, argtypes, values, NULL, false, 0);
		if (rc != SPI_OK_INSERT || SPI_processed != (uint64) n)
			ereport(ERROR,
					(errcode(ERRCODE_INTERNAL_ERROR),
					 errmsg("pg_raft: could not load rows into %s", t->name)));
		total += n;
		MemoryContextReset(batch_cxt);
	}
	PQclear(source_exec(conn, "CLOSE pgraft_snap"));
	return total;
}

/* Drops the replicated tables this server has. */
static void
drop_local_tables(void)
{
	bool		isnull;
	Datum		d;

	if (SPI_execute("SELECT string_agg(r.relid::regclass::text, ', ') "
					"FROM raft.replicated_tables r JOIN pg_class c ON c.oid = r.relid",
					true, 1) != SPI_OK_SELECT || SPI_processed != 1)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("pg_raft: could not list the replicated tables")));
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	if (!isnull)
		local_exec(psprintf("DROP TABLE %s", TextDatumGetCString(d)), SPI_OK_UTILITY);
	pgraft_forget_dropped_tables();
}

static Oid
local_relid(const char *name)
{
	bool		isnull;
	Datum		d;

	if (SPI_execute(psprintf("SELECT %s::regclass::oid", quote_literal_cstr(name)), true, 1) != SPI_OK_SELECT ||
		SPI_processed != 1)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("pg_raft: created table %s not found", name)));
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	return DatumGetObjectId(d);
}

uint64
pgraft_snapshot_fetch(const char *conninfo, int node, uint64 min_index,
					  bool *unreachable, int elevel)
{
	PGconn	   *volatile conn = NULL;
	volatile uint64 loaded = 0;
	volatile bool started = false;
	bool		save_applying = pgraft_applying;
	MemoryContext caller = CurrentMemoryContext;
	MemoryContext work = AllocSetContextCreate(TopMemoryContext, "pg_raft snapshot",
											   ALLOCSET_DEFAULT_SIZES);
	MemoryContext batch_cxt = AllocSetContextCreate(work, "pg_raft snapshot batch",
													ALLOCSET_DEFAULT_SIZES);

	PG_TRY();
	{
		PGresult   *res;
		SnapTable  *tables;
		char	  **after;
		int			ntables;
		int			nafter;
		uint64		index;
		uint64		term;
		uint64		rows = 0;
		int			i;
		Oid			argtypes[2] = {INT8OID, INT8OID};
		Datum		values[2];

		MemoryContextSwitchTo(work);
		*unreachable = true;
		conn = source_connect(conninfo);
		if (PQstatus(conn) != CONNECTION_OK)
			ereport(ERROR,
					(errcode(ERRCODE_CONNECTION_FAILURE),
					 errmsg("pg_raft: could not connect to the snapshot source node %d: %s",
							node, PQerrorMessage(conn)),
					 errhint("Check pg_raft.conninfo on the source and its pg_hba.conf.")));
		*unreachable = false;
		for (i = 0; SOURCE_SETUP[i] != NULL; i++)
			PQclear(source_exec(conn, SOURCE_SETUP[i]));

		/* the server we meant, not another one at that address */
		res = source_exec(conn, "SELECT current_setting('pg_raft.node_id', true)");
		if (PQntuples(res) != 1 || PQgetisnull(res, 0, 0) ||
			atoi(PQgetvalue(res, 0, 0)) != node)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("pg_raft: the snapshot source at that conninfo is not node %d (pg_raft.node_id: %s)",
							node, PQgetisnull(res, 0, 0) ? "none" : PQgetvalue(res, 0, 0)),
					 errhint("Check pg_raft.conninfo on node %d, or the conninfo given to raft.add_node for it.", node)));
		PQclear(res);

		/* everything below is read in the one snapshot of this transaction */
		res = source_exec(conn, "SELECT applied_index, applied_term FROM raft.applied");
		if (PQntuples(res) != 1)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg("pg_raft: the snapshot source has no row in raft.applied")));
		index = strtoull(PQgetvalue(res, 0, 0), NULL, 10);
		term = strtoull(PQgetvalue(res, 0, 1), NULL, 10);
		PQclear(res);
		if (index < min_index)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("pg_raft: the snapshot source has applied only up to %llu, short of the snapshot's %llu",
							(unsigned long long) index, (unsigned long long) min_index)));

		res = source_exec(conn, TABLES_QUERY);
		ntables = PQntuples(res);
		tables = palloc0(sizeof(SnapTable) * Max(ntables, 1));
		for (i = 0; i < ntables; i++)
		{
			tables[i].name = pstrdup(PQgetvalue(res, i, 0));
			tables[i].create = pstrdup(PQgetvalue(res, i, 1));
			tables[i].owner = pstrdup(PQgetvalue(res, i, 2));
		}
		PQclear(res);
		res = source_exec(conn, AFTER_QUERY);
		nafter = PQntuples(res);
		after = palloc0(sizeof(char *) * Max(nafter, 1));
		for (i = 0; i < nafter; i++)
			after[i] = pstrdup(PQgetvalue(res, i, 0));
		PQclear(res);

		SetCurrentStatementStartTimestamp();
		StartTransactionCommand();
		started = true;
		PushActiveSnapshot(GetTransactionSnapshot());
		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		pgraft_applying = true;
		local_exec("SET LOCAL search_path = pg_catalog", SPI_OK_UTILITY);
		local_exec("SET LOCAL DateStyle = ISO", SPI_OK_UTILITY);
		local_exec("SET LOCAL IntervalStyle = postgres", SPI_OK_UTILITY);

		drop_local_tables();
		for (i = 0; i < ntables; i++)
		{
			local_exec(tables[i].create, SPI_OK_UTILITY);
			pgraft_register_table(local_relid(tables[i].name));
			if (OidIsValid(get_role_oid(tables[i].owner, true)))
				local_exec(psprintf("ALTER TABLE %s OWNER TO %s", tables[i].name,
									quote_identifier(tables[i].owner)),
						   SPI_OK_UTILITY);
		}
		for (i = 0; i < ntables; i++)
			rows += copy_rows(conn, &tables[i], batch_cxt);
		for (i = 0; i < nafter; i++)
			local_exec(after[i], SPI_OK_UTILITY);

		values[0] = Int64GetDatum((int64) index);
		values[1] = Int64GetDatum((int64) term);
		if (SPI_execute_with_args("UPDATE raft.applied SET applied_index = $1, applied_term = $2",
								  2, argtypes, values, NULL, false, 0) != SPI_OK_UPDATE ||
			SPI_processed != 1)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg("could not record the applied index in raft.applied")));
		SPI_finish();
		PopActiveSnapshot();
		CommitTransactionCommand();
		started = false;
		pgraft_applying = save_applying;
		loaded = index;
		ereport(DEBUG1,
				(errmsg_internal("pg_raft: snapshot loaded: %d tables, %llu rows, index %llu",
								 ntables, (unsigned long long) rows,
								 (unsigned long long) index)));
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		pgraft_applying = save_applying;
		MemoryContextSwitchTo(caller);
		edata = CopyErrorData();
		FlushErrorState();
		/* the failure, at the caller's level (an install retried often) */
		ereport(elevel,
				(errcode(edata->sqlerrcode),
				 errmsg_internal("%s", edata->message),
				 edata->detail ? errdetail_internal("%s", edata->detail) : 0,
				 edata->hint ? errhint("%s", edata->hint) : 0));
		FreeErrorData(edata);
		if (started)
			AbortCurrentTransaction();
		loaded = 0;
	}
	PG_END_TRY();

	if (conn != NULL)
		PQfinish(conn);
	MemoryContextSwitchTo(caller);
	MemoryContextDelete(work);
	return loaded;
}
