/*
 * extension/statement_internal.h — what statement_check.c,
 * statement_check_ddl.c, statement_apply.c and catalog.c share, and the
 * PostgreSQL version differences they paper over.  Not for other parts of
 * the extension: they use statement.h.
 */
#ifndef PGRAFT_STATEMENT_INTERNAL_H
#define PGRAFT_STATEMENT_INTERNAL_H

#include "postgres.h"

#include "catalog/pg_namespace.h"
#include "executor/spi.h"
#include "catalog/pg_proc.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "utils/acl.h"

#include "statement.h"

/* Privilege checks: PostgreSQL 16 folded the per-catalog functions. */
#if PG_VERSION_NUM >= 160000
#define pgraft_class_ownercheck(relid, roleid) \
	object_ownercheck(RelationRelationId, (relid), (roleid))
#define pgraft_namespace_ownercheck(nspid, roleid) \
	object_ownercheck(NamespaceRelationId, (nspid), (roleid))
#define pgraft_namespace_aclcheck(nspid, roleid, mode) \
	object_aclcheck(NamespaceRelationId, (nspid), (roleid), (mode))
#define pgraft_proc_aclcheck(procid, roleid, mode) \
	object_aclcheck(ProcedureRelationId, (procid), (roleid), (mode))
#else
#define pgraft_class_ownercheck(relid, roleid) \
	pg_class_ownercheck((relid), (roleid))
#define pgraft_namespace_ownercheck(nspid, roleid) \
	pg_namespace_ownercheck((nspid), (roleid))
#define pgraft_namespace_aclcheck(nspid, roleid, mode) \
	pg_namespace_aclcheck((nspid), (roleid), (mode))
#define pgraft_proc_aclcheck(procid, roleid, mode) \
	pg_proc_aclcheck((procid), (roleid), (mode))
#endif

#define PGRAFT_SUPPORTED_HINT \
	"raft.exec runs INSERT, UPDATE, DELETE, CREATE/ALTER/DROP TABLE, CREATE/DROP INDEX, GRANT and REVOKE on replicated tables."

/*
 * statement_check.c: raises FEATURE_NOT_SUPPORTED if the analysed
 * expression (or query) could evaluate differently on another server: a
 * function that is not immutable, nextval(), CURRENT_TIMESTAMP and the
 * like.  "what" names the place in the message ("column default").
 */
extern void pgraft_refuse_mutable(Node *analysed, const char *what);
extern const char *pgraft_relative_datetime_word(const char *text, bool quoted);

/*
 * read_guard.c: true while pgraft_check_statement analyses a statement, so
 * that the analysis of raft.exec's own DML is not taken for a read.
 */
extern bool pgraft_checking;

/* statement_check.c: the type named by a parameter's type name. */
extern Oid	pgraft_parameter_type(const char *name);

/*
 * setting_value.c: a setting's current value as text, as GetConfigOption
 * returns it (NULL for an unknown name).
 */
extern const char *pgraft_setting_value(const char *name);

/* statement_codec.c: the settings that travel with a statement. */
extern int	pgraft_statement_settings_count(void);
extern const char *pgraft_statement_setting_name(int i);

/*
 * statement_check.c: the parameters' types, after reading each value with
 * its type's input function (a value its type does not accept fails here,
 * not on apply).  NULL when there are none.
 */
extern Oid *pgraft_check_arguments(const PgRaftStatement *stmt);

/*
 * check_cache.c: the DML statements this session's check passed, valid
 * while no catalog change is seen and the role, argument types and
 * travelling settings are the same.
 */
extern bool pgraft_check_cache_passes(const PgRaftStatement *stmt);
extern void pgraft_check_cache_store(const PgRaftStatement *stmt, uint64 inval_count);

/* statement_check_ddl.c: checks a DDL statement (see statement.h). */
extern void pgraft_check_ddl(RawStmt *raw, const PgRaftStatement *stmt);

/* statement_check_ddl.c: a replicated table named by rv, or an ERROR. */
extern Oid	pgraft_replicated_table(RangeVar *rv, bool missing_ok,
									const char *what);

/*
 * statement_cache.c: the applier's prepared plans of replicated DML and
 * resolved parameter types (see there for what keys a plan).
 */
typedef struct PgRaftCachedPlan PgRaftCachedPlan;

extern Oid	pgraft_cached_parameter_type(const char *name);
extern PgRaftCachedPlan *pgraft_plan_cache_lookup(const PgRaftStatement *stmt,
												  Oid roleid);
extern PgRaftCachedPlan *pgraft_plan_cache_add(const PgRaftStatement *stmt,
											   Oid roleid, const Oid *types,
											   Node *parsetree,
											   PgRaftCachedPlan *stale);
extern Node *pgraft_cached_parsetree(PgRaftCachedPlan *cp);
extern SPIPlanPtr pgraft_cached_spi_plan(PgRaftCachedPlan *cp,
										  const Oid *types);

/* catalog.c: whether schema nspid holds a replicated table. */
extern bool pgraft_namespace_has_replicated(Oid nspid);

/* catalog.c: drops the rows of tables that no longer exist. */
extern void pgraft_forget_dropped_tables(void);

#endif							/* PGRAFT_STATEMENT_INTERNAL_H */
