/*
 * extension/statement_cache.c — what the applier keeps between entries so
 * that a statement applied again and again is parsed, analysed and planned
 * once: prepared plans of replicated DML, and the types that parameter type
 * names resolve to.  Used only by statement_apply.c, only in the applier
 * (process-local memory: an applier restart starts empty).
 *
 * A plan is found by everything that changes how its statement is parsed
 * and analysed: the SQL text, the role it runs as, the parameter types
 * (their names, and the OIDs they resolve to) and every setting the entry carries (search_path,
 * DateStyle, standard_conforming_strings, ...).  PostgreSQL's plan cache
 * (utils/cache/plancache.c) revalidates a plan whose tables changed (any
 * DDL, also one applied a moment ago in the same batch, or rolled back)
 * and re-analyses it when the search path resolves differently; an error
 * of that re-analysis is the error a first analysis would raise.
 *
 * The plans are generic (CURSOR_OPT_GENERIC_PLAN, whatever
 * plan_cache_mode says): planned once without the parameter values, so
 * what a statement does never depends on how often this server has seen it
 * before.  (A custom plan folds parameter values at planning, and can
 * raise there an error that a generic plan raises only when a row needs the
 * value: servers choosing differently would give different results.)
 *
 * Bounded: at most PGRAFT_PLAN_CACHE_SIZE plans, the least recently used
 * one is freed to make room.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "executor/spi.h"
#include "lib/ilist.h"
#include "lib/stringinfo.h"
#include "nodes/parsenodes.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/syscache.h"

#include "statement_internal.h"

#define PGRAFT_PLAN_CACHE_SIZE 256
#define PGRAFT_TYPE_CACHE_SIZE 64

struct PgRaftCachedPlan
{
	dlist_node	lru;			/* most recently used first */
	uint32		hash;
	Size		keylen;
	char	   *key;
	Node	   *parsetree;		/* the raw statement */
	SPIPlanPtr	plan;			/* kept (SPI_keepplan) */
	int			nargs;
	Oid		   *types;			/* the parameter types it was prepared for */
	MemoryContext cxt;			/* key and parse tree */
};

typedef struct CachedType
{
	char	   *name;
	Oid			oid;
} CachedType;

static dlist_head plan_lru = DLIST_STATIC_INIT(plan_lru);
static int	plan_count = 0;
static MemoryContext cache_cxt = NULL;

static CachedType type_cache[PGRAFT_TYPE_CACHE_SIZE];
static int	type_next = 0;

static MemoryContext
cache_context(void)
{
	if (cache_cxt == NULL)
		cache_cxt = AllocSetContextCreate(TopMemoryContext,
										  "pg_raft statement cache",
										  ALLOCSET_SMALL_SIZES);
	return cache_cxt;
}

/*
 * The type a parameter type name resolves to, as pgraft_parameter_type
 * would resolve it for the current user.  A remembered OID is used only if
 * its type still has exactly that (schema-qualified) name and the user may
 * still use its schema, which is what the lookup would check; anything else
 * goes through pgraft_parameter_type, errors included.
 */
Oid
pgraft_cached_parameter_type(const char *name)
{
	int			i;
	Oid			oid;

	for (i = 0; i < PGRAFT_TYPE_CACHE_SIZE; i++)
	{
		CachedType *t = &type_cache[i];
		HeapTuple	tup;
		bool		valid = false;

		if (t->name == NULL || strcmp(t->name, name) != 0)
			continue;
		tup = SearchSysCache1(TYPEOID, ObjectIdGetDatum(t->oid));
		if (HeapTupleIsValid(tup))
		{
			Form_pg_type typ = (Form_pg_type) GETSTRUCT(tup);
			Oid			nsp = typ->typnamespace;

			valid = typ->typisdefined;
			ReleaseSysCache(tup);
			valid = valid &&
				pgraft_namespace_aclcheck(nsp, GetUserId(), ACL_USAGE) == ACLCHECK_OK &&
				strcmp(format_type_be_qualified(t->oid), name) == 0;
		}
		if (valid)
		{
			return t->oid;
		}
		break;					/* resolve again, replace this one */
	}

	oid = pgraft_parameter_type(name);
	if (i == PGRAFT_TYPE_CACHE_SIZE)
	{
		i = type_next;
		type_next = (type_next + 1) % PGRAFT_TYPE_CACHE_SIZE;
	}
	if (type_cache[i].name != NULL)
		pfree(type_cache[i].name);
	type_cache[i].name = MemoryContextStrdup(cache_context(), name);
	type_cache[i].oid = oid;
	return oid;
}

/*
 * The key of a statement: role, parameter type names, settings, SQL, each
 * part ended or counted so that no two statements share a key.  (The
 * types the names resolve to are checked on use: pgraft_cached_spi_plan.)
 */
static void
build_key(StringInfo key, const PgRaftStatement *stmt, Oid roleid)
{
	appendBinaryStringInfo(key, (const char *) &roleid, sizeof(roleid));
	appendBinaryStringInfo(key, (const char *) &stmt->nargs, sizeof(int));
	for (int i = 0; i < stmt->nargs; i++)
	{
		appendStringInfoString(key, stmt->argtypes[i]);
		appendStringInfoChar(key, '\0');
	}
	appendBinaryStringInfo(key, (const char *) &stmt->nsettings, sizeof(int));
	for (int i = 0; i < stmt->nsettings; i++)
	{
		appendStringInfoString(key, stmt->setting_names[i]);
		appendStringInfoChar(key, '\0');
		appendStringInfoString(key, stmt->setting_values[i]);
		appendStringInfoChar(key, '\0');
	}
	appendStringInfoString(key, stmt->sql);
}

static void
free_entry(PgRaftCachedPlan *e)
{
	dlist_delete(&e->lru);
	plan_count--;
	SPI_freeplan(e->plan);
	MemoryContextDelete(e->cxt);
	pfree(e);
}

PgRaftCachedPlan *
pgraft_plan_cache_lookup(const PgRaftStatement *stmt, Oid roleid)
{
	StringInfoData key;
	uint32		hash;
	dlist_iter	iter;

	initStringInfo(&key);
	build_key(&key, stmt, roleid);
	hash = hash_bytes((const unsigned char *) key.data, key.len);

	dlist_foreach(iter, &plan_lru)
	{
		PgRaftCachedPlan *e = dlist_container(PgRaftCachedPlan, lru, iter.cur);

		if (e->hash == hash && e->keylen == (Size) key.len &&
			memcmp(e->key, key.data, key.len) == 0)
		{
			dlist_move_head(&plan_lru, &e->lru);
			pfree(key.data);
			return e;
		}
	}
	pfree(key.data);
	return NULL;
}

Node *
pgraft_cached_parsetree(PgRaftCachedPlan *cp)
{
	return cp->parsetree;
}

/*
 * The plan, if it was prepared for these parameter types; else NULL (a
 * type was dropped and created again: pgraft_plan_cache_add replaces it).
 */
SPIPlanPtr
pgraft_cached_spi_plan(PgRaftCachedPlan *cp, const Oid *types)
{
	if (cp->nargs > 0 &&
		memcmp(cp->types, types, sizeof(Oid) * cp->nargs) != 0)
		return NULL;
	return cp->plan;
}

/*
 * Prepares the statement (parsetree is its raw parse) inside the caller's
 * SPI connection, as the current user, and keeps the plan; the entry
 * stale (if not NULL) is replaced.  Errors of the analysis propagate and
 * nothing new is cached.
 */
PgRaftCachedPlan *
pgraft_plan_cache_add(const PgRaftStatement *stmt, Oid roleid,
					  const Oid *types, Node *parsetree,
					  PgRaftCachedPlan *stale)
{
	SPIPlanPtr	plan;
	PgRaftCachedPlan *e;
	StringInfoData key;
	MemoryContext old;

	plan = SPI_prepare_cursor(stmt->sql, stmt->nargs, (Oid *) types,
							  CURSOR_OPT_GENERIC_PLAN);
	if (plan == NULL)
		elog(ERROR, "pg_raft: SPI_prepare failed: %s",
			 SPI_result_code_string(SPI_result));
	if (SPI_keepplan(plan) != 0)
		elog(ERROR, "pg_raft: SPI_keepplan failed");

	while (plan_count >= PGRAFT_PLAN_CACHE_SIZE &&
		   (stale == NULL || dlist_tail_node(&plan_lru) != &stale->lru))
	{
		free_entry(dlist_container(PgRaftCachedPlan, lru,
								   dlist_tail_node(&plan_lru)));
	}

	e = MemoryContextAllocZero(cache_context(), sizeof(PgRaftCachedPlan));
	e->cxt = AllocSetContextCreate(cache_context(), "pg_raft cached statement",
								   ALLOCSET_SMALL_SIZES);
	e->plan = plan;
	old = MemoryContextSwitchTo(e->cxt);
	initStringInfo(&key);
	build_key(&key, stmt, roleid);
	e->key = key.data;
	e->keylen = key.len;
	e->hash = hash_bytes((const unsigned char *) key.data, key.len);
	e->parsetree = copyObject(parsetree);
	e->nargs = stmt->nargs;
	if (stmt->nargs > 0)
	{
		e->types = palloc(sizeof(Oid) * stmt->nargs);
		memcpy(e->types, types, sizeof(Oid) * stmt->nargs);
	}
	MemoryContextSwitchTo(old);
	dlist_push_head(&plan_lru, &e->lru);
	plan_count++;
	if (stale != NULL)
		free_entry(stale);		/* parsetree may be its: copied above */
	return e;
}

void
pgraft_statement_cache_reset(void)
{
	while (!dlist_is_empty(&plan_lru))
		free_entry(dlist_container(PgRaftCachedPlan, lru,
								   dlist_head_node(&plan_lru)));
	for (int i = 0; i < PGRAFT_TYPE_CACHE_SIZE; i++)
	{
		if (type_cache[i].name != NULL)
			pfree(type_cache[i].name);
		type_cache[i].name = NULL;
	}
	type_next = 0;
}
