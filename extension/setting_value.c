/*
 * extension/setting_value.c — the current value of a setting as text, read
 * through its GUC record.
 *
 * What GetConfigOption(name, false, false) returns, without its search
 * among every setting on each call: each statement proposed and each entry
 * applied reads the same dozen settings (statement_codec.c,
 * statement_apply.c).  A name is resolved to its record once per process;
 * built-in records live as long as the process.  A name not found this way
 * goes through GetConfigOption.
 */
#include "postgres.h"

#include "utils/guc.h"
#include "utils/guc_tables.h"

#include "statement_internal.h"

#define PGRAFT_SETTING_REFS 32

typedef struct SettingRef
{
	char		name[NAMEDATALEN];
	struct config_generic *record;
	char		buf[32];		/* an integer or real value as text */
} SettingRef;

static SettingRef refs[PGRAFT_SETTING_REFS];
static int	nrefs = 0;
static int	next_ref = 0;		/* callers ask in the same order each time */

static struct config_generic *
resolve(const char *name)
{
#if PG_VERSION_NUM >= 160000
	return find_option(name, false, true, ERROR);
#else
	struct config_generic **vars = get_guc_variables();
	int			n = GetNumConfigOptions();

	for (int i = 0; i < n; i++)
		if (pg_strcasecmp(vars[i]->name, name) == 0)
			return vars[i];
	return NULL;
#endif
}

static SettingRef *
lookup(const char *name)
{
	struct config_generic *record;
	SettingRef *ref;

	if (next_ref < nrefs && strcmp(refs[next_ref].name, name) == 0)
		return &refs[next_ref++];
	for (int i = 0; i < nrefs; i++)
		if (strcmp(refs[i].name, name) == 0)
		{
			next_ref = i + 1;
			return &refs[i];
		}
	if (nrefs == PGRAFT_SETTING_REFS || strlen(name) >= NAMEDATALEN)
		return NULL;
	record = resolve(name);
	if (record == NULL || (record->flags & GUC_CUSTOM_PLACEHOLDER))
		return NULL;
	ref = &refs[nrefs++];
	next_ref = nrefs;
	strlcpy(ref->name, name, sizeof(ref->name));
	ref->record = record;
	return ref;
}

const char *
pgraft_setting_value(const char *name)
{
	SettingRef *ref = lookup(name);
	struct config_generic *record;

	if (ref == NULL)
		return GetConfigOption(name, true, false);
	record = ref->record;
	switch (record->vartype)
	{
		case PGC_BOOL:
			return *((struct config_bool *) record)->variable ? "on" : "off";
		case PGC_INT:
			snprintf(ref->buf, sizeof(ref->buf), "%d",
					 *((struct config_int *) record)->variable);
			return ref->buf;
		case PGC_REAL:
			snprintf(ref->buf, sizeof(ref->buf), "%g",
					 *((struct config_real *) record)->variable);
			return ref->buf;
		case PGC_STRING:
			return *((struct config_string *) record)->variable;
		case PGC_ENUM:
			return config_enum_lookup_by_value((struct config_enum *) record,
											   *((struct config_enum *) record)->variable);
	}
	return GetConfigOption(name, true, false);
}
