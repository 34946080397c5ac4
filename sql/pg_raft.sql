/* sql/pg_raft.sql — the SQL objects of pg_raft; built into
 * sql/pg_raft--<version>.sql.  Installed into schema raft. */

\echo Use "CREATE EXTENSION pg_raft" to load this file. \quit

-- Tables made through raft.exec('CREATE TABLE ...'): replicated on every
-- server.  Maintained only by the applier.
CREATE TABLE raft.replicated_tables (
	relid regclass PRIMARY KEY
);

-- The last Raft index applied to this database, written in the same local
-- transaction as the entries' effects (exactly-once apply).
CREATE TABLE raft.applied (
	singleton bool PRIMARY KEY DEFAULT true CHECK (singleton),
	applied_index bigint NOT NULL,
	applied_term bigint NOT NULL
);
INSERT INTO raft.applied VALUES (true, 0, 0);

-- Any role may call raft.exec, raft.barrier, raft.status and raft.nodes;
-- what a statement may touch is decided by that role's own privileges.
GRANT USAGE ON SCHEMA raft TO PUBLIC;

REVOKE ALL ON raft.replicated_tables, raft.applied FROM PUBLIC;
GRANT SELECT ON raft.replicated_tables, raft.applied TO PUBLIC;

-- Not STRICT: a NULL statement is an error, not a silent NULL.
CREATE FUNCTION raft.exec(sql text)
RETURNS bigint
AS 'MODULE_PATHNAME', 'pgraft_exec'
LANGUAGE C VOLATILE;

CREATE FUNCTION raft.exec(sql text, VARIADIC args "any")
RETURNS bigint
AS 'MODULE_PATHNAME', 'pgraft_exec'
LANGUAGE C VOLATILE;

CREATE FUNCTION raft.barrier()
RETURNS bigint
AS 'MODULE_PATHNAME', 'pgraft_barrier'
LANGUAGE C VOLATILE STRICT;

CREATE FUNCTION raft.status(
	OUT node_id integer,
	OUT role text,
	OUT term bigint,
	OUT leader_id integer,
	OUT commit_index bigint,
	OUT applied_index bigint,
	OUT last_log_index bigint,
	OUT first_log_index bigint,
	OUT snapshot_index bigint,
	OUT voter boolean,
	OUT config_pending boolean,
	-- counters since the Raft worker started (the snapshot installs since
	-- the server started)
	OUT elections bigint,
	OUT proposals bigint,
	OUT committed_entries bigint,
	OUT fsyncs bigint,
	OUT compactions bigint,
	OUT snapshots_sent bigint,
	OUT snapshots_received bigint,
	OUT snapshots_installed bigint,
	-- a received snapshot the tables have not reached yet (0: none), and
	-- the failed attempts to install it
	OUT snapshot_install_pending bigint,
	OUT snapshot_install_failures bigint,
	-- the log's syncs since the Raft worker started: mean and longest, in
	-- milliseconds; the rewrites of the term/vote (hard state) file
	OUT fsync_latency_avg_ms double precision,
	OUT fsync_latency_max_ms double precision,
	OUT hard_state_saves bigint,
	-- linearizable reads (and lease reads without a lease) that asked for
	-- a ReadIndex round, and the rounds asked of the core: the reads taken
	-- in one pass of the worker share one round
	OUT read_requests bigint,
	OUT read_rounds bigint)
RETURNS record
AS 'MODULE_PATHNAME', 'pgraft_status'
LANGUAGE C VOLATILE STRICT;

CREATE FUNCTION raft.nodes(
	OUT node_id integer,
	OUT raft_addr text,
	OUT voter boolean,
	OUT is_leader boolean,
	OUT match_index bigint,
	OUT next_index bigint,
	OUT lag_entries bigint,
	OUT state text,
	OUT last_contact_ms bigint,
	-- added later, so at the end: the member's role as this server knows
	-- it, the entry bytes it lacks (leader only), and whether it is
	-- catching up by snapshot
	OUT role text,
	OUT lag_bytes bigint,
	OUT snapshot_in_progress boolean)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'pgraft_nodes'
LANGUAGE C VOLATILE STRICT;

-- Not STRICT either: a NULL argument is an error (22004).
CREATE FUNCTION raft.add_node(id integer, raft_addr text, conninfo text)
RETURNS bigint
AS 'MODULE_PATHNAME', 'pgraft_add_node'
LANGUAGE C VOLATILE;

CREATE FUNCTION raft.remove_node(id integer)
RETURNS bigint
AS 'MODULE_PATHNAME', 'pgraft_remove_node'
LANGUAGE C VOLATILE;

CREATE FUNCTION raft.transfer_leadership(id integer)
RETURNS void
AS 'MODULE_PATHNAME', 'pgraft_transfer_leadership'
LANGUAGE C VOLATILE;

REVOKE ALL ON FUNCTION raft.add_node(integer, text, text),
	raft.remove_node(integer), raft.transfer_leadership(integer) FROM PUBLIC;
