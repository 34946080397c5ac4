/*
 * extension/statement.h — one replicated statement, as raft.exec proposes
 * it and as the applier applies it on every server.
 *
 * The owner of each part:
 *   statement_check.c   pgraft_check_statement: parse and analyse on the
 *                       proposing server; refuse what could make servers
 *                       differ, before anything is proposed.
 *   statement_apply.c   pgraft_apply_statement: run one statement inside the
 *                       applier's current transaction, as the proposer's
 *                       role; register tables it creates as replicated.
 *   statement_codec.c   pgraft_encode_statement / pgraft_decode_statement:
 *                       the bytes of a RAFT_ENTRY_COMMAND entry.
 *   guard.c             refuses plain writes to replicated tables.
 *   catalog.c           which tables are replicated (raft.replicated_tables).
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
	char	   *role_name;		/* applied with SET ROLE to this role */
	char	   *sql;			/* one statement, parameters $1..$n */
	int			nargs;
	char	  **argtypes;		/* type names, schema-qualified (format_type) */
	char	  **argvalues;		/* text form; NULL for SQL NULL */
} PgRaftStatement;

/* What the check found: DDL registers or forgets a replicated table. */
typedef enum PgRaftStatementKind
{
	PGRAFT_STMT_DML,			/* INSERT / UPDATE / DELETE (and SELECT) */
	PGRAFT_STMT_DDL				/* CREATE/ALTER/DROP TABLE, CREATE/DROP INDEX */
} PgRaftStatementKind;

/*
 * Parses and analyses stmt as the current user on this server.  Returns its
 * kind, or raises an ERROR (SQLSTATE of the statement's own failure, or
 * FEATURE_NOT_SUPPORTED with a hint for what replication refuses).
 */
extern PgRaftStatementKind pgraft_check_statement(const PgRaftStatement *stmt);

/*
 * Runs stmt in the current transaction as stmt->role_name; returns the
 * number of rows processed.  Errors propagate (the caller captures them in
 * a subtransaction).  Sets pgraft_applying while it runs so guard.c lets
 * the write through.
 */
extern uint64 pgraft_apply_statement(const PgRaftStatement *stmt);

/* Encoding of a statement as the data of a Raft entry (palloc'd). */
extern bytea *pgraft_encode_statement(const PgRaftStatement *stmt);
/* Returns false (and leaves *stmt undefined) on malformed input. */
extern bool pgraft_decode_statement(const char *data, Size len,
									PgRaftStatement *stmt);

/* guard.c */
extern bool pgraft_applying;	/* true only inside pgraft_apply_statement */
extern void pgraft_guard_init(void);	/* installs hooks; from _PG_init */

/* catalog.c */
extern bool pgraft_is_replicated(Oid relid);
extern void pgraft_register_table(Oid relid);
extern void pgraft_forget_table(Oid relid);

#endif							/* PGRAFT_STATEMENT_H */
