/*
 * extension/catalog.c — which tables are replicated: the rows of
 * raft.replicated_tables, and a backend-local cache of them.
 *
 * pgraft_is_replicated runs in the executor and parse-analysis hooks of
 * every query, so it reads a sorted array of OIDs kept in
 * CacheMemoryContext.  The array is reloaded after a relcache invalidation
 * of raft.replicated_tables: pgraft_register_table and pgraft_forget_table
 * queue one (CacheInvalidateRelcacheByRelid), which PostgreSQL delivers to
 * every backend when the applier's transaction commits, and to this backend
 * at its next command.  Rows written to raft.replicated_tables by hand are
 * seen by backends that load the cache afterwards (a new session, or after
 * the next invalidation); the table is meant to be written only by the
 * applier.
 *
 * Without the extension in the current database (no raft.replicated_tables)
 * nothing is replicated.
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_authid.h"
#include "commands/dbcommands.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/builtins.h"	/* oid_cmp */
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

#include "statement_internal.h"

#define PGRAFT_SCHEMA "raft"
#define PGRAFT_TABLES_TABLE "replicated_tables"

/* raft.replicated_tables, once found; InvalidOid while not known */
static Oid	tables_relid = InvalidOid;

/* the cached set: sorted OIDs */
static Oid *cached_relids = NULL;
static int	cached_count = 0;
static bool cache_valid = false;
/* bumped by every invalidation that concerns us; see load_cache */
static uint64 cache_generation = 0;
static bool callback_registered = false;

static void
catalog_relcache_callback(Datum arg, Oid relid)
{
	if (relid == InvalidOid || relid == tables_relid)
	{
		cache_valid = false;
		cache_generation++;
		/* the table may be gone (DROP EXTENSION): find it again */
		tables_relid = InvalidOid;
		/* the catalog snapshot may predate the change we were told of */
		InvalidateCatalogSnapshot();
	}
}

static void
ensure_callback(void)
{
	if (!callback_registered)
	{
		CacheRegisterRelcacheCallback(catalog_relcache_callback, (Datum) 0);
		callback_registered = true;
	}
}

/* raft.replicated_tables in this database, or InvalidOid. */
static Oid
find_tables_relid(void)
{
	Oid			nspid;

	if (OidIsValid(tables_relid))
		return tables_relid;
	nspid = get_namespace_oid(PGRAFT_SCHEMA, true);
	if (!OidIsValid(nspid))
		return InvalidOid;
	tables_relid = get_relname_relid(PGRAFT_TABLES_TABLE, nspid);
	return tables_relid;
}

/* Reads raft.replicated_tables into the cache. */
static void
load_cache(Oid relid)
{
	uint64		generation = cache_generation;
	Relation	rel;
	SysScanDesc scan;
	HeapTuple	tuple;
	Oid		   *relids;
	int			count = 0;
	int			capacity = 16;

	relids = MemoryContextAlloc(CacheMemoryContext, sizeof(Oid) * capacity);

	rel = table_open(relid, AccessShareLock);
	scan = systable_beginscan(rel, InvalidOid, false, NULL, 0, NULL);
	while (HeapTupleIsValid(tuple = systable_getnext(scan)))
	{
		bool		isnull;
		Datum		d = heap_getattr(tuple, 1, RelationGetDescr(rel), &isnull);

		if (isnull)
			continue;
		if (count == capacity)
		{
			capacity *= 2;
			relids = repalloc(relids, sizeof(Oid) * capacity);
		}
		relids[count++] = DatumGetObjectId(d);
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);

	qsort(relids, count, sizeof(Oid), oid_cmp);

	if (cached_relids != NULL)
		pfree(cached_relids);
	cached_relids = relids;
	cached_count = count;
	/* an invalidation that arrived while we read leaves the cache stale */
	cache_valid = (generation == cache_generation);
}

/* Loads the cache if needed; false when nothing can be replicated. */
static bool
ensure_cache(void)
{
	Oid			tables;

	if (!IsTransactionState())
		return false;
	ensure_callback();
	tables = find_tables_relid();
	if (!OidIsValid(tables))
		return false;
	if (!cache_valid)
		load_cache(tables);
	return true;
}

bool
pgraft_is_replicated(Oid relid)
{
	if (!OidIsValid(relid) || !ensure_cache())
		return false;
	return bsearch(&relid, cached_relids, cached_count, sizeof(Oid),
				   oid_cmp) != NULL;
}

bool
pgraft_namespace_has_replicated(Oid nspid)
{
	if (!ensure_cache())
		return false;
	for (int i = 0; i < cached_count; i++)
		if (get_rel_namespace(cached_relids[i]) == nspid)
			return true;
	return false;
}

/*
 * Runs one statement on raft.replicated_tables ($1 = relid, if valid) as the
 * bootstrap superuser: the applier may be running as the proposer's role,
 * which may not write this table.
 */
static void
write_tables(const char *sql, Oid relid)
{
	Oid			argtypes[1] = {OIDOID};
	Datum		values[1] = {ObjectIdGetDatum(relid)};
	Oid			tables = find_tables_relid();
	Oid			save_userid;
	int			save_sec_context;
	int			ret;

	if (!OidIsValid(tables))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("extension \"pg_raft\" is not installed in database \"%s\"",
						get_database_name(MyDatabaseId)),
				 errhint("Run CREATE EXTENSION pg_raft in this database on every server.")));

	/* restored below, or by the (sub)transaction abort on error */
	GetUserIdAndSecContext(&save_userid, &save_sec_context);
	SetUserIdAndSecContext(BOOTSTRAP_SUPERUSERID,
						   save_sec_context | SECURITY_LOCAL_USERID_CHANGE);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "pg_raft: SPI_connect failed");
	if (OidIsValid(relid))
		ret = SPI_execute_with_args(sql, 1, argtypes, values, NULL, false, 0);
	else
		ret = SPI_execute(sql, false, 0);
	if (ret < 0)
		elog(ERROR, "pg_raft: writing raft.replicated_tables failed: %s",
			 SPI_result_code_string(ret));
	SPI_finish();

	SetUserIdAndSecContext(save_userid, save_sec_context);

	/*
	 * Every backend reloads its cache when this transaction commits; this
	 * one at once (the next entry in the applier's transaction may name
	 * the table): CommandCounterIncrement makes the row visible and runs
	 * the invalidation here, which also drops the catalog snapshot.
	 */
	CacheInvalidateRelcacheByRelid(tables);
	CommandCounterIncrement();
	cache_valid = false;
	cache_generation++;
}

void
pgraft_register_table(Oid relid)
{
	Assert(OidIsValid(relid));
	write_tables("INSERT INTO raft.replicated_tables (relid) "
				 "VALUES ($1::pg_catalog.regclass) ON CONFLICT DO NOTHING",
				 relid);
}

void
pgraft_forget_table(Oid relid)
{
	Assert(OidIsValid(relid));
	write_tables("DELETE FROM raft.replicated_tables "
				 "WHERE relid = $1::pg_catalog.regclass",
				 relid);
}

void
pgraft_forget_dropped_tables(void)
{
	write_tables("DELETE FROM raft.replicated_tables r WHERE NOT EXISTS "
				 "(SELECT FROM pg_catalog.pg_class c WHERE c.oid = r.relid)",
				 InvalidOid);
}
