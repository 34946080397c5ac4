-- regress/sql/functions.sql — pg_raft's SQL functions on a one-node
-- cluster (regress/pg_raft.conf): it elects itself, then raft.exec,
-- raft.barrier, raft.status, raft.nodes and the errors one server can show.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pg_raft;
RESET client_min_messages;

-- A one-node cluster elects itself; wait for it (bounded; the worker may
-- still be starting, or retrying its port).
DO $$
BEGIN
	FOR i IN 1..1200 LOOP
		BEGIN
			EXIT WHEN (SELECT role = 'leader' FROM raft.status());
		EXCEPTION WHEN object_not_in_prerequisite_state THEN
			NULL;
		END;
		PERFORM pg_sleep(0.05);
	END LOOP;
END $$;
SELECT node_id, role, leader_id, voter, config_pending, term > 0 AS has_term
  FROM raft.status();
SELECT node_id, raft_addr, voter, is_leader, state FROM raft.nodes();

-- DDL and DML through the log; raft.exec returns the rows affected.
SELECT raft.exec('CREATE TABLE accounts (id int PRIMARY KEY, owner text, balance numeric NOT NULL, opened date)');
SELECT relid FROM raft.replicated_tables;
SELECT raft.exec('INSERT INTO accounts VALUES ($1, $2, $3, $4)', 1, 'ann'::text, 100.50, '2024-02-29'::date);
SELECT raft.exec('INSERT INTO accounts VALUES ($1, $2, $3)', 2, 'bob', 7);
SELECT raft.exec('INSERT INTO accounts VALUES ($1, $2, $3, $4)', 3, NULL::text, 0, NULL::date);
SELECT raft.exec('UPDATE accounts SET balance = balance + $1 WHERE id <> $2', 10, 3);
SELECT raft.exec('DELETE FROM accounts WHERE id = $1', 42);
SELECT * FROM accounts ORDER BY id;

-- A statement larger than a request slot travels through a DSM segment.
SELECT raft.exec('INSERT INTO accounts VALUES ($1, $2, $3)', 4, repeat('x', 100000), 1);
SELECT id, length(owner), md5(owner) = md5(repeat('x', 100000)) AS same
  FROM accounts WHERE id = 4;
SELECT raft.exec('DELETE FROM accounts WHERE length(owner) > $1', 1000);

-- The read fence returns a read index this server has applied.
SELECT b > 0 AS has_index,
       (SELECT applied_index FROM raft.applied) >= b AS applied
  FROM raft.barrier() AS b;
SELECT applied_index >= commit_index AS caught_up FROM raft.status();

-- The columns of raft.status() and raft.nodes(), in order: new ones are
-- added at the end.
SELECT a.n, a.name, format_type(a.type, NULL) AS type
  FROM pg_proc p, unnest(p.proargnames, p.proallargtypes) WITH ORDINALITY AS a(name, type, n)
 WHERE p.oid = 'raft.status()'::regprocedure ORDER BY a.n;
SELECT a.n, a.name, format_type(a.type, NULL) AS type
  FROM pg_proc p, unnest(p.proargnames, p.proallargtypes) WITH ORDINALITY AS a(name, type, n)
 WHERE p.oid = 'raft.nodes()'::regprocedure ORDER BY a.n;
-- after the writes above: the counters moved, the fsync latency is sane
SELECT elections >= 1 AS elected, proposals > 0 AS proposed,
       committed_entries >= proposals AS committed, fsyncs > 0 AS synced,
       fsync_latency_avg_ms >= 0 AND fsync_latency_max_ms >= fsync_latency_avg_ms AS latency,
       hard_state_saves >= 0 AS hard_state
  FROM raft.status();
-- a one-node leader after a read fence: nothing lags, nothing installs
SELECT raft.barrier() > 0 AS fenced;
-- it asked for a ReadIndex round (the worker publishes its counters at
-- the end of its loop: wait for them)
DO $$
BEGIN
  FOR i IN 1..100 LOOP
    EXIT WHEN (SELECT read_rounds FROM raft.status()) >= 1;
    PERFORM pg_sleep(0.1);
  END LOOP;
END $$;
SELECT read_requests >= 1 AS read_asked,
       read_rounds BETWEEN 1 AND read_requests AS rounds_shared
  FROM raft.status();
SELECT n.node_id, n.role, n.voter, n.match_index = s.last_log_index AS matched,
       n.lag_entries, n.lag_bytes, n.snapshot_in_progress, n.last_contact_ms
  FROM raft.nodes() n, raft.status() s;

-- Errors of applied statements come back with their own SQLSTATE,
-- message and detail.
SELECT raft.exec('INSERT INTO accounts VALUES ($1, $2, $3)', 1, 'dup', 1);
SELECT raft.exec('UPDATE accounts SET balance = balance / $1', 0);
DO $$
BEGIN
	PERFORM raft.exec('UPDATE accounts SET balance = balance / $1', 0);
EXCEPTION WHEN division_by_zero THEN
	RAISE NOTICE 'caught % (%)', SQLERRM, SQLSTATE;
END $$;
DO $$
BEGIN
	PERFORM raft.exec('INSERT INTO accounts VALUES ($1, $2, $3)', 2, 'dup', 1);
EXCEPTION WHEN unique_violation THEN
	RAISE NOTICE 'caught % (%)', SQLERRM, SQLSTATE;
END $$;
-- a failed entry changed nothing
SELECT * FROM accounts ORDER BY id;

-- Refused statements fail before they are proposed: the log does not grow.
SELECT last_log_index AS log_before FROM raft.status() \gset
SELECT raft.exec('SELECT 1');
SELECT raft.exec('INSERT INTO no_such_table VALUES (1)');
SELECT raft.exec('INSERT INTO accounts VALUES (');
SELECT raft.exec(NULL);
SELECT raft.exec('DELETE FROM accounts WHERE id = $1', VARIADIC NULL::int[]);
SELECT last_log_index = :log_before AS log_unchanged FROM raft.status();

-- Membership and leadership arguments are checked before the log.
SELECT raft.add_node(2, 'not-an-address', 'host=x');
SELECT raft.add_node(0, '127.0.0.1:1', 'host=x');
SELECT raft.remove_node(-1);

-- Settings.
SHOW pg_raft.node_id;
SHOW pg_raft.read_consistency;
SET pg_raft.read_consistency = local;
SHOW pg_raft.read_consistency;
SET pg_raft.read_consistency = 'eventual';
RESET pg_raft.read_consistency;
SET pg_raft.node_id = 2;
SET pg_raft.election_timeout = 5000;
SET pg_raft.no_such_setting = 1;

-- A transaction that holds a lock the applier needs for its own statement
-- would wait forever: raft.exec sees it and says so.  The statement is in
-- the log, and is applied once the transaction ends.
BEGIN;
SELECT count(*) FROM accounts;
SELECT raft.exec('ALTER TABLE accounts ADD COLUMN note text');
ROLLBACK;
SELECT raft.barrier() > 0 AS fenced;
SELECT attname FROM pg_attribute
 WHERE attrelid = 'accounts'::regclass AND attname = 'note';

-- raft.exec serves pg_raft.database only.
CREATE DATABASE pg_raft_other;
\c pg_raft_other
CREATE EXTENSION pg_raft;
SELECT raft.exec('CREATE TABLE x (a int)');
\c contrib_regression
DROP DATABASE pg_raft_other;

SELECT raft.exec('DROP TABLE accounts');
SELECT count(*) FROM raft.replicated_tables;
