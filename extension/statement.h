/*
 * extension/statement.h — one replicated statement, as raft.exec proposes
 * it and as the applier applies it on every server.
 *
 * The owner of each part:
 *   statement_check.c   pgraft_check_statement: parse and analyse on the
 *                       proposing server; refuse what could make servers
 *                       differ, before anything is proposed (DML here, DDL
 *                       in statement_check_ddl.c).
 *   statement_apply.c   pgraft_apply_statement: run one statement inside the
 *                       applier's current transaction, as the proposer's
 *                       role; register tables it creates as replicated.
 *   statement_codec.c   pgraft_encode_statement / pgraft_decode_statement:
 *                       the bytes of a RAFT_ENTRY_COMMAND entry.
 *   guard.c             refuses plain writes to replicated tables.
 *   read_guard.c        pg_raft.read_consistency for plain SELECTs.
 *   catalog.c           which tables are replicated (raft.replicated_tables).
 *
 * Name resolution: a statement is applied with the proposer's search_path
 * (carried in the entry with the other settings below), "$user" included,
 * which names the proposing role on every server; so raft.exec('INSERT
 * INTO t ...') means on every server the t it meant where it was checked.
 */
#ifndef PGRAFT_STATEMENT_H
#define PGRAFT_STATEMENT_H

#include "postgres.h"

#include "nodes/pg_list.h"

#define PGRAFT_MAX_ARGS 100

typedef struct PgRaftStatement
{
	uint32		origin_node;	/* server the client is connected to */
	uint64		request_id;		/* unique on origin_node: finds the waiter */
	char	   *role_name;		/* applied as this role (it must exist on
								 * every server) */
	char	   *sql;			/* one statement, parameters $1..$n */
	int			nargs;
	char	  **argtypes;		/* type names, schema-qualified (format_type) */
	char	  **argvalues;		/* text form; NULL for SQL NULL */
	Oid		   *argtypeoids;	/* on the proposing server, the types the
								 * names were made from (the check then
								 * needs no lookup); NULL after decoding */

	/*
	 * The proposer's session settings that change what the statement means:
	 * name resolution (search_path), how literals and parameter values are
	 * read (DateStyle, IntervalStyle, TimeZone, standard_conforming_strings,
	 * ...) and how values are turned to text (extra_float_digits,
	 * bytea_output); the list is pgraft_statement_settings in
	 * statement_codec.c.  The applier applies them with SET LOCAL semantics,
	 * so the statement means the same on every server as it did when
	 * pgraft_check_statement analysed it on the proposing server.
	 *
	 * When building a statement to propose, leave nsettings 0 (zero the
	 * struct): pgraft_encode_statement then records the current session's
	 * values.  pgraft_decode_statement always fills them in.
	 */
	int			nsettings;
	char	  **setting_names;
	char	  **setting_values;
} PgRaftStatement;

/* What the check found: DDL registers or forgets a replicated table. */
typedef enum PgRaftStatementKind
{
	PGRAFT_STMT_DML,			/* INSERT / UPDATE / DELETE */
	PGRAFT_STMT_DDL				/* CREATE/ALTER/DROP TABLE, CREATE/DROP INDEX,
								 * GRANT/REVOKE on tables */
} PgRaftStatementKind;

/*
 * Parses and analyses stmt as the current user on this server.  Returns its
 * kind, or raises an ERROR (SQLSTATE of the statement's own failure, or
 * FEATURE_NOT_SUPPORTED with a hint for what replication refuses).
 */
extern PgRaftStatementKind pgraft_check_statement(const PgRaftStatement *stmt);

/*
 * Runs stmt in the current transaction as stmt->role_name (a
 * security-restricted operation, as index builds run owners' functions),
 * under the recorded settings; returns the number of rows processed.
 * Errors propagate: the caller captures them in a subtransaction, whose
 * abort also restores the user id and settings.  Sets pgraft_applying
 * while it runs so guard.c lets the write through.
 */
extern uint64 pgraft_apply_statement(const PgRaftStatement *stmt);

/*
 * statement_cache.c: forgets the applier's prepared plans (they are
 * process-local; a new applier starts without them anyway).
 */
extern void pgraft_statement_cache_reset(void);

/* Encoding of a statement as the data of a Raft entry (palloc'd). */
extern bytea *pgraft_encode_statement(const PgRaftStatement *stmt);
/* Returns false (and leaves *stmt undefined) on malformed input. */
extern bool pgraft_decode_statement(const char *data, Size len,
									PgRaftStatement *stmt);

/* guard.c */
extern bool pgraft_applying;	/* true only inside pgraft_apply_statement */
extern void pgraft_guard_init(void);	/* installs hooks; from _PG_init */

/*
 * read_guard.c: applies pg_raft.read_consistency to plain SELECTs that read
 * replicated tables (READ COMMITTED only; see read_guard.c).  From _PG_init.
 */
extern void pgraft_read_guard_init(void);

/* catalog.c */
extern bool pgraft_is_replicated(Oid relid);
extern void pgraft_register_table(Oid relid);
extern void pgraft_forget_table(Oid relid);

#endif							/* PGRAFT_STATEMENT_H */
