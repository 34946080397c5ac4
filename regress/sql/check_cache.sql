--
-- check_cache: a DML statement raft.exec checked once in a session skips
-- parse analysis the next time (extension/check_cache.c), but never past a
-- change that would make the check refuse it: a function made volatile, a
-- privilege revoked, another search_path, a catalog change in the calling
-- transaction itself.  Each refusal below comes from the cached statement
-- proposed again, on a one-node cluster.
--
SELECT NOT EXISTS (SELECT FROM pg_extension WHERE extname = 'pg_raft')
	AS created_here \gset
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pg_raft;
RESET client_min_messages;

-- A one-node cluster elects itself; wait for it (bounded).
DO $$
BEGIN
	FOR i IN 1..600 LOOP
		BEGIN
			EXIT WHEN (SELECT role = 'leader' FROM raft.status());
		EXCEPTION WHEN OTHERS THEN
			NULL;				-- the worker has not published its status yet
		END;
		PERFORM pg_sleep(0.05);
	END LOOP;
END $$;

-- Runs cmd and reports how it failed (or that it did not).
CREATE FUNCTION cc_try(cmd text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	state text;
	msg text;
BEGIN
	EXECUTE cmd;
	RETURN 'accepted';
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, msg = MESSAGE_TEXT;
	RETURN state || ': ' || msg;
END $$;

CREATE ROLE regress_pgraft_cc;
GRANT USAGE ON SCHEMA raft TO regress_pgraft_cc;
CREATE FUNCTION cc_double(int) RETURNS int IMMUTABLE LANGUAGE sql
	AS 'SELECT $1 * 2';
SELECT raft.exec('CREATE TABLE cc_items (k int PRIMARY KEY, v int NOT NULL)');
SELECT raft.exec('INSERT INTO cc_items VALUES (1, 1), (2, 1)');

-- Checked, then taken from the cache: both apply.
SELECT cc_try($$SELECT raft.exec('UPDATE cc_items SET v = cc_double(v) WHERE k = $1', 1)$$);
SELECT cc_try($$SELECT raft.exec('UPDATE cc_items SET v = cc_double(v) WHERE k = $1', 1)$$);
SELECT v FROM cc_items WHERE k = 1;

-- The function made volatile: refused, though the text is the same.
ALTER FUNCTION cc_double(int) VOLATILE;
SELECT cc_try($$SELECT raft.exec('UPDATE cc_items SET v = cc_double(v) WHERE k = $1', 1)$$);
ALTER FUNCTION cc_double(int) IMMUTABLE;
SELECT cc_try($$SELECT raft.exec('UPDATE cc_items SET v = cc_double(v) WHERE k = $1', 1)$$);

-- The same change inside the calling transaction, not yet committed: the
-- transaction has written, so the cache is not used.
BEGIN;
ALTER FUNCTION cc_double(int) VOLATILE;
SELECT cc_try($$SELECT raft.exec('UPDATE cc_items SET v = cc_double(v) WHERE k = $1', 1)$$);
ROLLBACK;

-- A privilege granted, used (and cached for that role), then revoked.
SELECT raft.exec('GRANT SELECT, UPDATE ON cc_items TO regress_pgraft_cc');
SET ROLE regress_pgraft_cc;
SELECT cc_try($$SELECT raft.exec('UPDATE cc_items SET v = v + 1 WHERE k = $1', 2)$$);
SELECT cc_try($$SELECT raft.exec('UPDATE cc_items SET v = v + 1 WHERE k = $1', 2)$$);
RESET ROLE;
SELECT raft.exec('REVOKE UPDATE ON cc_items FROM regress_pgraft_cc');
SET ROLE regress_pgraft_cc;
SELECT cc_try($$SELECT raft.exec('UPDATE cc_items SET v = v + 1 WHERE k = $1', 2)$$);
RESET ROLE;
-- the statement was cached for that role only
SELECT cc_try($$SELECT raft.exec('UPDATE cc_items SET v = v + 1 WHERE k = $1', 2)$$);

-- Another search_path finds a local table of the same name: refused.
CREATE SCHEMA cc_local;
CREATE TABLE cc_local.cc_items (k int PRIMARY KEY, v int NOT NULL);
SET search_path = cc_local, public;
SELECT cc_try($$SELECT raft.exec('UPDATE cc_items SET v = v + 1 WHERE k = $1', 2)$$);
RESET search_path;
SELECT cc_try($$SELECT raft.exec('UPDATE cc_items SET v = v + 1 WHERE k = $1', 2)$$);

-- An argument of another type is another statement: checked again.
SELECT cc_try($$SELECT raft.exec('UPDATE cc_items SET v = v + 1 WHERE k = $1', 'two'::text)$$);

-- Every accepted statement above applied once, and only those.
SELECT k, v FROM cc_items ORDER BY k;

SELECT raft.exec('DROP TABLE cc_items');
DROP TABLE cc_local.cc_items;
DROP SCHEMA cc_local;
DROP FUNCTION cc_double(int);
DROP FUNCTION cc_try(text);
DROP OWNED BY regress_pgraft_cc;
DROP ROLE regress_pgraft_cc;
\if :created_here
DROP EXTENSION pg_raft;
\endif
