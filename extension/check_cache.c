/*
 * extension/check_cache.c — the DML statements raft.exec's check passed in
 * this session, so the same statement proposed again skips parse analysis.
 *
 * Besides the catalogs, the check's verdict depends on the SQL text, the
 * role, the argument types and the session settings that travel with the
 * statement (search_path and the others of statement_codec.c): an entry
 * keeps them all, and a lookup matches only if each is the same.  The
 * catalogs are covered by the count of shared invalidation messages this
 * backend has processed (SharedInvalidMessageCounter, as
 * RangeVarGetRelidExtended uses it): after AcceptInvalidationMessages, an
 * unchanged count means no catalog change committed anywhere since the
 * check passed (a table altered, a privilege revoked, a function
 * redefined).  A transaction that has written anything (it may have changed
 * a catalog that others cannot see yet) neither uses nor fills the cache.
 * Argument values are still read by their types' input functions on every
 * call.
 *
 * Kept in TopMemoryContext, a few entries, the oldest replaced.
 */
#include "postgres.h"

#include "access/xact.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "storage/sinval.h"
#include "utils/inval.h"
#include "utils/memutils.h"

#include "statement.h"
#include "statement_internal.h"

#define PGRAFT_CHECK_CACHE_SIZE 16

typedef struct CheckedStatement
{
	char	   *sql;			/* NULL: a free entry */
	Oid			userid;
	int			nargs;
	Oid		   *argtypes;
	char	   *settings;		/* the travelling settings' values */
	int			settings_len;
	uint64		inval_count;	/* SharedInvalidMessageCounter when checked */
} CheckedStatement;

static CheckedStatement entries[PGRAFT_CHECK_CACHE_SIZE];
static int	next_victim = 0;
static MemoryContext cache_cxt = NULL;

/* The travelling settings' current values, one after the other. */
static void
current_settings(StringInfo buf)
{
	int			n = pgraft_statement_settings_count();

	for (int i = 0; i < n; i++)
	{
		const char *v = pgraft_setting_value(pgraft_statement_setting_name(i));

		appendStringInfoString(buf, v ? v : "");
		appendStringInfoChar(buf, '\0');
	}
}

static bool
cache_usable(void)
{
	return !TransactionIdIsValid(GetTopTransactionIdIfAny());
}

static bool
same_statement(const CheckedStatement *e, const PgRaftStatement *stmt)
{
	if (e->sql == NULL || e->userid != GetUserId() || e->nargs != stmt->nargs ||
		strcmp(e->sql, stmt->sql) != 0)
		return false;
	for (int i = 0; i < stmt->nargs; i++)
		if (stmt->argtypeoids == NULL || e->argtypes[i] != stmt->argtypeoids[i])
			return false;
	return true;
}

static void
forget(CheckedStatement *e)
{
	if (e->sql)
		pfree(e->sql);
	if (e->argtypes)
		pfree(e->argtypes);
	if (e->settings)
		pfree(e->settings);
	memset(e, 0, sizeof(*e));
}

/*
 * True if this session's check passed the same statement and nothing it
 * depends on changed since; its argument values are then checked (an ERROR
 * if one is refused).  False: run the whole check.
 */
bool
pgraft_check_cache_passes(const PgRaftStatement *stmt)
{
	StringInfoData settings;
	CheckedStatement *e = NULL;

	if (!cache_usable())
		return false;
	AcceptInvalidationMessages();
	for (int i = 0; i < PGRAFT_CHECK_CACHE_SIZE; i++)
	{
		if (same_statement(&entries[i], stmt))
		{
			e = &entries[i];
			break;
		}
	}
	if (e == NULL)
		return false;
	if (e->inval_count != SharedInvalidMessageCounter)
	{
		forget(e);
		return false;
	}
	initStringInfo(&settings);
	current_settings(&settings);
	if (settings.len != e->settings_len ||
		memcmp(settings.data, e->settings, settings.len) != 0)
	{
		pfree(settings.data);
		return false;
	}
	pfree(settings.data);
	(void) pgraft_check_arguments(stmt);
	return true;
}

/*
 * Remembers a DML statement the check just passed.  inval_count is
 * SharedInvalidMessageCounter as it was before the check started: a
 * catalog change seen during the check leaves the entry stale at once.
 */
void
pgraft_check_cache_store(const PgRaftStatement *stmt, uint64 inval_count)
{
	StringInfoData settings;
	CheckedStatement *e = NULL;
	MemoryContext old;

	if (!cache_usable() || (stmt->nargs > 0 && stmt->argtypeoids == NULL))
		return;
	if (cache_cxt == NULL)
		cache_cxt = AllocSetContextCreate(TopMemoryContext,
										  "pg_raft check cache",
										  ALLOCSET_SMALL_SIZES);
	for (int i = 0; i < PGRAFT_CHECK_CACHE_SIZE && e == NULL; i++)
		if (same_statement(&entries[i], stmt))
			e = &entries[i];
	if (e == NULL)
	{
		e = &entries[next_victim];
		next_victim = (next_victim + 1) % PGRAFT_CHECK_CACHE_SIZE;
	}
	forget(e);

	old = MemoryContextSwitchTo(cache_cxt);
	initStringInfo(&settings);
	current_settings(&settings);
	e->settings = settings.data;
	e->settings_len = settings.len;
	e->userid = GetUserId();
	e->nargs = stmt->nargs;
	if (stmt->nargs > 0)
	{
		e->argtypes = palloc(sizeof(Oid) * stmt->nargs);
		memcpy(e->argtypes, stmt->argtypeoids, sizeof(Oid) * stmt->nargs);
	}
	e->inval_count = inval_count;
	e->sql = pstrdup(stmt->sql);	/* last: marks the entry used */
	MemoryContextSwitchTo(old);
}
