/*
 * extension/statement_codec.c — the bytes of one replicated statement: the
 * data of a RAFT_ENTRY_COMMAND entry (pgraft_encode_statement,
 * pgraft_decode_statement).
 *
 * Layout, version 1, every integer big-endian:
 *
 *	 u8  version (1)        u8 flags (0)
 *	 u32 origin_node        u64 request_id
 *	 str role_name          str sql
 *	 u32 nargs              nargs x { str argtype, u8 isnull, [str value] }
 *	 u32 nsettings          nsettings x { str name, str value }
 *
 * where str is u32 length + that many bytes, no NUL among them.  The
 * decoder checks every length against what is left, every count against
 * its limit, and that nothing is left over: a damaged or hostile entry
 * makes it return false, never read out of bounds nor allocate without
 * limit (the applier must survive any entry).
 */
#include "postgres.h"

#include "lib/stringinfo.h"
#include "port/pg_bswap.h"
#include "utils/guc.h"
#include "utils/memutils.h"

#include "statement.h"
#include "statement_internal.h"

#define PGRAFT_STATEMENT_VERSION 1
#define PGRAFT_MAX_SETTINGS 32
/* The largest string we accept: what a text datum can hold. */
#define PGRAFT_MAX_STRING ((uint32) MaxAllocSize - 1)

/*
 * Session settings recorded with each statement: everything that changes
 * how the statement is parsed, how its names resolve or how its literals
 * and parameters are read or turned to text.  (Stable functions, which
 * read more settings, are refused by pgraft_check_statement.)
 */
static const char *const pgraft_statement_settings[] = {
	"search_path",
	"DateStyle",
	"IntervalStyle",
	"TimeZone",
	"timezone_abbreviations",
	"standard_conforming_strings",
	"backslash_quote",
	"array_nulls",
	"transform_null_equals",
	"extra_float_digits",
	"bytea_output",
	"xmloption",
	"xmlbinary",
};

#define PGRAFT_NUM_STATEMENT_SETTINGS ((int) lengthof(pgraft_statement_settings))

StaticAssertDecl(PGRAFT_NUM_STATEMENT_SETTINGS <= PGRAFT_MAX_SETTINGS,
				 "too many statement settings");

int
pgraft_statement_settings_count(void)
{
	return PGRAFT_NUM_STATEMENT_SETTINGS;
}

const char *
pgraft_statement_setting_name(int i)
{
	Assert(i >= 0 && i < PGRAFT_NUM_STATEMENT_SETTINGS);
	return pgraft_statement_settings[i];
}

static void
put_u8(StringInfo buf, uint8 v)
{
	appendBinaryStringInfo(buf, (const char *) &v, 1);
}

static void
put_u32(StringInfo buf, uint32 v)
{
	uint32		be = pg_hton32(v);

	appendBinaryStringInfo(buf, (const char *) &be, sizeof(be));
}

static void
put_u64(StringInfo buf, uint64 v)
{
	uint64		be = pg_hton64(v);

	appendBinaryStringInfo(buf, (const char *) &be, sizeof(be));
}

static void
put_str(StringInfo buf, const char *s)
{
	size_t		len = strlen(s);

	if (len > PGRAFT_MAX_STRING)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("statement part too long to replicate"),
				 errdetail("The part is %zu bytes long.", len)));
	put_u32(buf, (uint32) len);
	appendBinaryStringInfo(buf, s, (int) len);
}

bytea *
pgraft_encode_statement(const PgRaftStatement *stmt)
{
	StringInfoData buf;
	bytea	   *result;

	Assert(stmt->role_name != NULL && stmt->sql != NULL);
	if (stmt->nargs < 0 || stmt->nargs > PGRAFT_MAX_ARGS)
		ereport(ERROR,
				(errcode(ERRCODE_TOO_MANY_ARGUMENTS),
				 errmsg("raft.exec takes at most %d parameters",
						PGRAFT_MAX_ARGS),
				 errdetail("The statement has %d.", stmt->nargs)));
	if (stmt->nsettings < 0 || stmt->nsettings > PGRAFT_MAX_SETTINGS)
		elog(ERROR, "pg_raft: statement has %d settings", stmt->nsettings);

	initStringInfo(&buf);
	/* room for the varlena header, filled in at the end */
	appendStringInfoSpaces(&buf, VARHDRSZ);

	put_u8(&buf, PGRAFT_STATEMENT_VERSION);
	put_u8(&buf, 0);
	put_u32(&buf, stmt->origin_node);
	put_u64(&buf, stmt->request_id);
	put_str(&buf, stmt->role_name);
	put_str(&buf, stmt->sql);

	put_u32(&buf, (uint32) stmt->nargs);
	for (int i = 0; i < stmt->nargs; i++)
	{
		put_str(&buf, stmt->argtypes[i]);
		if (stmt->argvalues[i] == NULL)
			put_u8(&buf, 1);
		else
		{
			put_u8(&buf, 0);
			put_str(&buf, stmt->argvalues[i]);
		}
	}

	if (stmt->nsettings > 0)
	{
		put_u32(&buf, (uint32) stmt->nsettings);
		for (int i = 0; i < stmt->nsettings; i++)
		{
			put_str(&buf, stmt->setting_names[i]);
			put_str(&buf, stmt->setting_values[i]);
		}
	}
	else
	{
		/* the proposing session's own settings */
		put_u32(&buf, PGRAFT_NUM_STATEMENT_SETTINGS);
		for (int i = 0; i < PGRAFT_NUM_STATEMENT_SETTINGS; i++)
		{
			const char *name = pgraft_statement_settings[i];
			const char *value = pgraft_setting_value(name);

			put_str(&buf, name);
			put_str(&buf, value ? value : "");
		}
	}

	if ((Size) buf.len > MaxAllocSize - 1)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("statement too long to replicate")));
	result = (bytea *) buf.data;
	SET_VARSIZE(result, buf.len);
	return result;
}

/* A bounds-checked reader over the entry's bytes. */
typedef struct StatementReader
{
	const unsigned char *p;
	Size		left;
} StatementReader;

static bool
get_u8(StatementReader *r, uint8 *v)
{
	if (r->left < 1)
		return false;
	*v = r->p[0];
	r->p += 1;
	r->left -= 1;
	return true;
}

static bool
get_u32(StatementReader *r, uint32 *v)
{
	uint32		be;

	if (r->left < sizeof(be))
		return false;
	memcpy(&be, r->p, sizeof(be));
	*v = pg_ntoh32(be);
	r->p += sizeof(be);
	r->left -= sizeof(be);
	return true;
}

static bool
get_u64(StatementReader *r, uint64 *v)
{
	uint64		be;

	if (r->left < sizeof(be))
		return false;
	memcpy(&be, r->p, sizeof(be));
	*v = pg_ntoh64(be);
	r->p += sizeof(be);
	r->left -= sizeof(be);
	return true;
}

/* A string as a palloc'd C string; false if too long or it holds a NUL. */
static bool
get_str(StatementReader *r, char **s)
{
	uint32		len;

	if (!get_u32(r, &len))
		return false;
	if (len > r->left || len > PGRAFT_MAX_STRING)
		return false;
	if (memchr(r->p, '\0', len) != NULL)
		return false;
	*s = palloc(len + 1);
	memcpy(*s, r->p, len);
	(*s)[len] = '\0';
	r->p += len;
	r->left -= len;
	return true;
}

bool
pgraft_decode_statement(const char *data, Size len, PgRaftStatement *stmt)
{
	StatementReader r;
	uint8		version;
	uint8		flags;
	uint32		count;

	if (data == NULL)
		return false;
	r.p = (const unsigned char *) data;
	r.left = len;
	memset(stmt, 0, sizeof(*stmt));

	if (!get_u8(&r, &version) || version != PGRAFT_STATEMENT_VERSION)
		return false;
	if (!get_u8(&r, &flags) || flags != 0)
		return false;
	if (!get_u32(&r, &stmt->origin_node) ||
		!get_u64(&r, &stmt->request_id) ||
		!get_str(&r, &stmt->role_name) ||
		!get_str(&r, &stmt->sql))
		return false;

	if (!get_u32(&r, &count) || count > PGRAFT_MAX_ARGS)
		return false;
	stmt->nargs = (int) count;
	stmt->argtypes = palloc0(sizeof(char *) * (count + 1));
	stmt->argvalues = palloc0(sizeof(char *) * (count + 1));
	stmt->argtypeoids = NULL;
	for (uint32 i = 0; i < count; i++)
	{
		uint8		isnull;

		if (!get_str(&r, &stmt->argtypes[i]) || !get_u8(&r, &isnull))
			return false;
		if (isnull > 1)
			return false;
		if (!isnull && !get_str(&r, &stmt->argvalues[i]))
			return false;
	}

	if (!get_u32(&r, &count) || count > PGRAFT_MAX_SETTINGS)
		return false;
	stmt->nsettings = (int) count;
	stmt->setting_names = palloc0(sizeof(char *) * (count + 1));
	stmt->setting_values = palloc0(sizeof(char *) * (count + 1));
	for (uint32 i = 0; i < count; i++)
	{
		if (!get_str(&r, &stmt->setting_names[i]) ||
			!get_str(&r, &stmt->setting_values[i]))
			return false;
		/*
		 * Only the settings this codec records: nothing else is applied.
		 * The encoder writes them in the list's order and spelling, so the
		 * name at the same position is checked first.
		 */
		if (i >= PGRAFT_NUM_STATEMENT_SETTINGS ||
			strcmp(stmt->setting_names[i], pgraft_statement_settings[i]) != 0)
		{
			bool		known = false;

			for (int k = 0; k < PGRAFT_NUM_STATEMENT_SETTINGS && !known; k++)
				known = pg_strcasecmp(stmt->setting_names[i],
									  pgraft_statement_settings[k]) == 0;
			if (!known)
				return false;
		}
	}

	/* nothing may follow */
	return r.left == 0;
}
