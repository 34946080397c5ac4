--
-- bad_arguments: wrong types, NULLs, out-of-range values and malformed
-- input to every SQL function of pg_raft, a role without privileges, and
-- statements that would make the servers differ (what exec_refusals.sql,
-- guard.sql and functions.sql do not already show).  Each case shows its
-- SQLSTATE, message and hint; at the end the log did not grow and the
-- replicated table is as it was.
--
-- Leaves the database as it found it.
SELECT NOT EXISTS (SELECT FROM pg_extension WHERE extname = 'pg_raft')
	AS created_here \gset
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pg_raft;
RESET client_min_messages;

-- Runs cmd and reports how it failed (or what it returned).
CREATE FUNCTION ba_try(cmd text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	state text;
	msg text;
	hint text;
	result text;
BEGIN
	EXECUTE cmd INTO result;
	RETURN 'accepted: ' || coalesce(result, 'NULL');
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, msg = MESSAGE_TEXT,
		hint = PG_EXCEPTION_HINT;
	RETURN state || ': ' || msg ||
		CASE WHEN hint <> '' THEN E'\nHINT: ' || hint ELSE '' END;
END $$;

-- The one-node cluster elects itself (bounded wait).
DO $$
BEGIN
	FOR i IN 1..1200 LOOP
		BEGIN
			EXIT WHEN (SELECT role = 'leader' AND applied_index = commit_index
					   FROM raft.status());
		EXCEPTION WHEN object_not_in_prerequisite_state THEN
			NULL;
		END;
		PERFORM pg_sleep(0.05);
	END LOOP;
END $$;

SELECT raft.exec('CREATE TABLE ba_items (id int PRIMARY KEY, name text NOT NULL, at date, n float8)');
SELECT raft.exec('INSERT INTO ba_items VALUES ($1, $2)', 1, 'one');
-- local helpers the statements below try to use
CREATE FUNCTION ba_volatile() RETURNS int LANGUAGE sql VOLATILE AS 'SELECT 7';
CREATE FUNCTION ba_stable() RETURNS int LANGUAGE sql STABLE AS 'SELECT 7';
CREATE TYPE ba_local_type AS (a int, b text);
CREATE ROLE regress_ba_nobody;
SET pg_raft.read_consistency = local;
SELECT last_log_index AS log_before FROM raft.status() \gset

-- raft.exec: NULLs and wrong types
SELECT ba_try($$SELECT raft.exec(NULL, 1)$$);
SELECT ba_try($$SELECT raft.exec(NULL::text, VARIADIC ARRAY[1, 2])$$);
SELECT ba_try($$SELECT raft.exec(42)$$);
SELECT ba_try($$SELECT raft.exec('INSERT INTO ba_items VALUES (1, ''x'')'::bytea)$$);
SELECT ba_try($$SELECT raft.exec()$$);
SELECT ba_try($$SELECT raft.exec('INSERT INTO ba_items VALUES ($1, $2)', 'abc'::text, 'x')$$);
SELECT ba_try($$SELECT raft.exec('INSERT INTO ba_items VALUES ($1, $2)', 2)$$);
SELECT ba_try($$SELECT raft.exec('INSERT INTO ba_items VALUES ($0, ''x'')', 2)$$);
SELECT ba_try($$SELECT raft.exec('INSERT INTO ba_items VALUES ($2147483648, ''x'')', 2)$$);
SELECT ba_try($$SELECT raft.exec('INSERT INTO ba_items VALUES ($1, ''x'')', VARIADIC array_fill(1, ARRAY[101]))$$);
SELECT ba_try($$SELECT raft.exec('INSERT INTO ba_items VALUES ($1, ''x'')', ROW(1, 'a')::ba_local_type)$$);
SELECT ba_try($$SELECT raft.exec('INSERT INTO ba_items VALUES ($1, ''x'')', 'ba_items'::regclass)$$);
SELECT ba_try($$SELECT raft.exec('INSERT INTO ba_items VALUES ($1::oid::int, ''x'')', 'ba_items'::regclass)$$);
SELECT ba_try($$SELECT raft.exec('INSERT INTO ba_items VALUES (2, $1)', ARRAY['int'::regtype])$$);
SELECT ba_try($$SELECT raft.exec('INSERT INTO ba_items VALUES ($1, ''x'')', 99999999999)$$);
-- a NULL parameter is a NULL value: here it breaks NOT NULL when applied
SELECT ba_try($$SELECT raft.exec('INSERT INTO ba_items VALUES ($1, $2)', 2, NULL)$$);
SELECT last_log_index AS log_after_null FROM raft.status() \gset
SELECT :log_after_null > :log_before AS the_failed_entry_went_through_the_log;
SELECT last_log_index AS log_before FROM raft.status() \gset

-- raft.exec: malformed SQL
SELECT ba_try($$SELECT raft.exec('INSERT INTO ba_items VALUES (2, ''x)')$$);
SELECT ba_try($q$SELECT raft.exec('INSERT INTO ba_items VALUES (2, $$x)')$q$);
SELECT ba_try($$SELECT raft.exec('/* INSERT INTO ba_items VALUES (2, ''x'') */')$$);
SELECT ba_try($$SELECT raft.exec('-- INSERT INTO ba_items VALUES (2, ''x'')')$$);
SELECT ba_try($$SELECT raft.exec(';;;')$$);
SELECT ba_try($$SELECT raft.exec('   ')$$);
SELECT ba_try($$SELECT raft.exec('INSERT INTO ba_missing VALUES (2, ''x'');;')$$);
SELECT ba_try($$SELECT raft.exec('INSERT INTO ba_items VALUES (2, ''' || repeat('x', 1000) || ')')$$);
SELECT ba_try($$SELECT raft.exec('INSERT INTO ' || repeat('x', 200) || ' VALUES (2)')$$);
SELECT ba_try($$SELECT raft.exec('INSERT INTO ba_items VALUES ' || repeat('(', 10000) || '2' || repeat(')', 10000))$$);
-- a statement larger than an entry may be
SELECT ba_try($$SELECT raft.exec('INSERT INTO ba_items VALUES (2, $1)', repeat('x', 65 * 1024 * 1024))$$);

-- raft.exec: statements that are not replicated writes
SELECT ba_try($$SELECT raft.exec('EXPLAIN ANALYZE INSERT INTO ba_items VALUES (2, ''x'')')$$);
SELECT ba_try($$SELECT raft.exec('DO $x$ BEGIN INSERT INTO ba_items VALUES (2, ''x''); END $x$')$$);
SELECT ba_try($$SELECT raft.exec('PREPARE ba_p AS INSERT INTO ba_items VALUES (2, ''x'')')$$);
SELECT ba_try($$SELECT raft.exec('EXECUTE ba_p')$$);
SELECT ba_try($$SELECT raft.exec('CALL ba_proc()')$$);
SELECT ba_try($$SELECT raft.exec('COMMIT')$$);
SELECT ba_try($$SELECT raft.exec('CHECKPOINT')$$);
SELECT ba_try($$SELECT raft.exec('NOTIFY ba_channel')$$);
SELECT ba_try($$SELECT raft.exec('ANALYZE ba_items')$$);
SELECT ba_try($$SELECT raft.exec('CLUSTER ba_items USING ba_items_pkey')$$);
SELECT ba_try($$SELECT raft.exec('REINDEX TABLE ba_items')$$);
SELECT ba_try($$SELECT raft.exec('ALTER SYSTEM SET work_mem = ''1MB''')$$);
SELECT ba_try($$SELECT raft.exec('CREATE EXTENSION pg_raft')$$);
SELECT ba_try($$SELECT raft.exec('DROP EXTENSION pg_raft')$$);
SELECT ba_try($$SELECT raft.exec('CREATE ROLE regress_ba_other')$$);
SELECT ba_try($$SELECT raft.exec('CREATE DATABASE ba_db')$$);
SELECT ba_try($$SELECT raft.exec('COMMENT ON TABLE ba_items IS ''x''')$$);
SELECT ba_try($$SELECT raft.exec('CREATE TRIGGER ba_t BEFORE INSERT ON ba_items FOR EACH ROW EXECUTE FUNCTION suppress_redundant_updates_trigger()')$$);
SELECT ba_try($$SELECT raft.exec('CREATE RULE ba_r AS ON INSERT TO ba_items DO INSTEAD NOTHING')$$);
SELECT ba_try($$SELECT raft.exec('CREATE MATERIALIZED VIEW ba_mv AS SELECT * FROM ba_items')$$);
SELECT ba_try($$SELECT raft.exec('SELECT raft.exec(''DELETE FROM ba_items'')')$$);
SELECT ba_try($$SELECT raft.exec('DELETE FROM ba_items WHERE raft.exec(''DELETE FROM ba_items'') > 0')$$);

-- raft.exec: statements whose effect would differ between servers
SELECT ba_try($$SELECT raft.exec('INSERT INTO ba_items VALUES (ba_volatile(), ''x'')')$$);
SELECT ba_try($$SELECT raft.exec('INSERT INTO ba_items VALUES (ba_stable(), ''x'')')$$);
SELECT ba_try($$SELECT raft.exec('INSERT INTO ba_items VALUES (2, current_setting(''application_name''))')$$);
SELECT ba_try($$SELECT raft.exec('INSERT INTO ba_items VALUES (pg_backend_pid(), ''x'')')$$);
SELECT ba_try($$SELECT raft.exec('INSERT INTO ba_items VALUES (2, session_user)')$$);
SELECT ba_try($$SELECT raft.exec('INSERT INTO ba_items VALUES (2, current_schema)')$$);
SELECT ba_try($$SELECT raft.exec('INSERT INTO ba_items VALUES (2, version())')$$);
SELECT ba_try($$SELECT raft.exec('INSERT INTO ba_items VALUES (2, gen_random_uuid()::text)')$$);
SELECT ba_try($$SELECT raft.exec('INSERT INTO ba_items VALUES (2, txid_current()::text)')$$);
SELECT ba_try($$SELECT raft.exec('INSERT INTO ba_items VALUES (2, inet_server_addr()::text)')$$);
SELECT ba_try($$SELECT raft.exec('INSERT INTO ba_items VALUES (''ba_items''::regclass::oid::int, ''x'')')$$);
SELECT ba_try($$SELECT raft.exec('INSERT INTO ba_items (id, name, at) VALUES (2, ''x'', ''today'')')$$);
SELECT ba_try($$SELECT raft.exec('INSERT INTO ba_items (id, name, at) VALUES (2, ''x'', ''now''::date)')$$);
SELECT ba_try($$SELECT raft.exec('UPDATE ba_items SET name = tableoid::text')$$);
SELECT ba_try($$SELECT raft.exec('UPDATE ba_items SET name = currval(''x'')::text')$$);
SELECT ba_try($$SELECT raft.exec('UPDATE ba_items SET name = set_config(''work_mem'', ''1MB'', true)')$$);
SELECT ba_try($$SELECT raft.exec('UPDATE ba_items SET name = pg_sleep(0)::text')$$);
SELECT ba_try($$SELECT raft.exec('UPDATE ba_items SET name = (SELECT string_agg(rolname, '','') FROM pg_roles)')$$);
SELECT ba_try($$SELECT raft.exec('UPDATE ba_items SET at = ''tomorrow''')$$);
SELECT ba_try($$SELECT raft.exec('UPDATE ba_items SET at = DATE ''Yesterday''')$$);
SELECT ba_try($$SELECT raft.exec('DELETE FROM ba_items WHERE at < ''today''::date')$$);
SELECT ba_try($$SELECT raft.exec('DELETE FROM ba_items WHERE at = ANY (''{2024-01-01,now}''::date[])')$$);
SELECT ba_try($$SELECT raft.exec('DELETE FROM ba_items WHERE at <@ ''[2024-01-01,today)''::daterange')$$);
SELECT ba_try($$SELECT raft.exec('DELETE FROM ba_items WHERE name::regclass IS NULL')$$);
SELECT ba_try($$SELECT raft.exec('CREATE TABLE ba_t2 (id int PRIMARY KEY, d date DEFAULT ''today'')')$$);
SELECT ba_try($$SELECT raft.exec('CREATE TABLE ba_t2 (id int PRIMARY KEY, d timestamptz CHECK (d > ''now''))')$$);
SELECT ba_try($$SELECT raft.exec('ALTER TABLE ba_items ALTER COLUMN at SET DEFAULT ''today''')$$);
SELECT ba_try($$SELECT raft.exec('CREATE TABLE ba_t2 (id int PRIMARY KEY, r regclass DEFAULT ''ba_items'')')$$);

-- Nothing above reached the log
SELECT last_log_index = :log_before AS nothing_proposed FROM raft.status();

-- Accepted: a parameter is converted to the column's type; extra
-- parameters are ignored; words in text are text; fixed dates are fixed
SELECT raft.exec('INSERT INTO ba_items VALUES ($1, $2)', 2.5, 'rounded');
SELECT raft.exec('INSERT INTO ba_items VALUES ($1, $2)', 4, 'extra', 99);
SELECT raft.exec('INSERT INTO ba_items VALUES ($1, ''see you tomorrow'', ''2024-01-01'')', 5);
SELECT raft.exec('INSERT INTO ba_items VALUES (6, $1, DATE ''epoch'')', 'now');
-- Parameters keep their value whatever the session's output settings
-- (n_exact: a float8 goes into the log with every digit even under
-- extra_float_digits = -10).
SET DateStyle = 'SQL, DMY';
SET extra_float_digits = -10;
SELECT raft.exec('INSERT INTO ba_items VALUES ($1, $2, $3, $4)', 10, 'ten',
	'2024-02-01'::date, 0.1234567890123456789::float8);
RESET DateStyle;
RESET extra_float_digits;
SELECT id, name, at, n = 0.1234567890123456789::float8 AS n_exact
	FROM ba_items WHERE id >= 2 ORDER BY id;
SELECT raft.exec('DELETE FROM ba_items WHERE id >= $1', 2);
SELECT last_log_index AS log_before FROM raft.status() \gset

-- raft.barrier, raft.status, raft.nodes take no argument
SELECT ba_try($$SELECT raft.barrier(1)$$);
SELECT ba_try($$SELECT raft.status(NULL)$$);
SELECT ba_try($$SELECT * FROM raft.nodes('x')$$);

-- raft.add_node: NULLs (22004: the membership functions are not STRICT),
-- out-of-range ids, addresses.
SELECT ba_try($$SELECT raft.add_node(NULL, '127.0.0.1:5', 'host=x')$$);
SELECT ba_try($$SELECT raft.add_node(2, NULL, 'host=x')$$);
SELECT ba_try($$SELECT raft.add_node(2, '127.0.0.1:5', NULL)$$);
SELECT ba_try($$SELECT raft.add_node('two', '127.0.0.1:5', 'host=x')$$);
SELECT ba_try($$SELECT raft.add_node(2.5, '127.0.0.1:5', 'host=x')$$);
SELECT ba_try($$SELECT raft.add_node(2147483648, '127.0.0.1:5', 'host=x')$$);
SELECT ba_try($$SELECT raft.add_node(-2147483648, '127.0.0.1:5', 'host=x')$$);
SELECT ba_try($$SELECT raft.add_node(2, '127.0.0.1:5')$$);
SELECT ba_try($$SELECT raft.add_node(2, '', 'host=x')$$);
SELECT ba_try($$SELECT raft.add_node(2, ':5', 'host=x')$$);
SELECT ba_try($$SELECT raft.add_node(2, '127.0.0.1:', 'host=x')$$);
SELECT ba_try($$SELECT raft.add_node(2, '127.0.0.1:0', 'host=x')$$);
SELECT ba_try($$SELECT raft.add_node(2, '127.0.0.1:65536', 'host=x')$$);
SELECT ba_try($$SELECT raft.add_node(2, '127.0.0.1:-1', 'host=x')$$);
SELECT ba_try($$SELECT raft.add_node(2, '127.0.0.1:5x', 'host=x')$$);
SELECT ba_try($$SELECT raft.add_node(2, '127.0.0.1:99999999999999999999', 'host=x')$$);
SELECT ba_try($$SELECT raft.add_node(2, ' 127.0.0.1:5', 'host=x')$$);
SELECT ba_try($$SELECT raft.add_node(2, '127.0.0.256:5', 'host=x')$$);
SELECT ba_try($$SELECT raft.add_node(2, 'localhost:5', 'host=x')$$);
SELECT ba_try($$SELECT raft.add_node(2, '::1:5', 'host=x')$$);
SELECT ba_try($$SELECT raft.add_node(2, '[::1:5', 'host=x')$$);
SELECT ba_try($$SELECT raft.add_node(2, '[127.0.0.1]:5', 'host=x')$$);
SELECT ba_try($$SELECT raft.add_node(2, '127.0.0.1:5:6', 'host=x')$$);
SELECT ba_try($$SELECT raft.add_node(2, '127.0.0.' || repeat('1', 100) || ':5', 'host=x')$$);
-- this server's own id, and another id at this server's address
SELECT ba_try($$SELECT raft.add_node(1, '127.0.57.1:57431', 'host=x')$$);
SELECT ba_try($$SELECT raft.add_node(2, '127.0.57.1:57431', 'host=x')$$);
SELECT node_id, raft_addr, voter FROM raft.nodes() ORDER BY node_id;
-- the configuration change settles (bounded wait)
DO $$
BEGIN
	FOR i IN 1..600 LOOP
		EXIT WHEN (SELECT NOT config_pending AND commit_index = last_log_index
						AND applied_index = commit_index FROM raft.status());
		PERFORM pg_sleep(0.05);
	END LOOP;
END $$;
SELECT last_log_index AS log_before FROM raft.status() \gset

-- raft.remove_node and raft.transfer_leadership
SELECT ba_try($$SELECT raft.remove_node(NULL)$$);
SELECT ba_try($$SELECT raft.remove_node(0)$$);
SELECT ba_try($$SELECT raft.remove_node(2147483647)$$);
SELECT ba_try($$SELECT raft.remove_node(2147483648)$$);
SELECT ba_try($$SELECT raft.remove_node('1; DROP TABLE ba_items')$$);
SELECT ba_try($$SELECT raft.remove_node(1)$$);
SELECT ba_try($$SELECT raft.transfer_leadership(NULL)$$);
SELECT ba_try($$SELECT raft.transfer_leadership(0)$$);
SELECT ba_try($$SELECT raft.transfer_leadership(-5)$$);
SELECT ba_try($$SELECT raft.transfer_leadership(2147483647)$$);
SELECT ba_try($$SELECT raft.transfer_leadership(1)$$);

-- A role without privileges
SET ROLE regress_ba_nobody;
SELECT ba_try($$SELECT raft.exec('INSERT INTO ba_items VALUES (2, ''x'')')$$);
SELECT ba_try($$SELECT raft.exec('UPDATE ba_items SET name = ''x''')$$);
SELECT ba_try($$SELECT raft.exec('DELETE FROM ba_items')$$);
SELECT ba_try($$SELECT raft.exec('DROP TABLE ba_items')$$);
SELECT ba_try($$SELECT raft.exec('GRANT ALL ON ba_items TO regress_ba_nobody')$$);
SELECT ba_try($$SELECT raft.exec('ALTER TABLE ba_items ADD COLUMN x int')$$);
SELECT ba_try($$SELECT raft.exec('CREATE TABLE ba_mine (id int)')$$);
SELECT ba_try($$SELECT raft.add_node(2, '127.0.0.1:5', 'host=x')$$);
SELECT ba_try($$SELECT raft.remove_node(1)$$);
SELECT ba_try($$SELECT raft.transfer_leadership(1)$$);
SELECT ba_try($$INSERT INTO raft.replicated_tables VALUES ('pg_class')$$);
SELECT ba_try($$UPDATE raft.applied SET applied_index = 0$$);
SELECT ba_try($$SET pg_raft.node_id = 5$$);
SELECT ba_try($$SHOW pg_raft.cluster_secret$$);
-- reads are allowed
SELECT node_id, role FROM raft.status();
SELECT count(*) > 0 AS has_nodes FROM raft.nodes();
SELECT raft.barrier() > 0 AS fenced;
RESET ROLE;

-- Nothing above was proposed, nor changed anything
SELECT last_log_index = :log_before AS nothing_proposed FROM raft.status();
SELECT node_id, raft_addr, voter FROM raft.nodes() ORDER BY node_id;
SELECT * FROM ba_items ORDER BY id;
SELECT relname FROM pg_class WHERE relname IN ('ba_mine', 'ba_mv') ORDER BY 1;
SELECT attname FROM pg_attribute
	WHERE attrelid = 'ba_items'::regclass AND attnum > 0 ORDER BY attnum;
SELECT grantee, privilege_type FROM information_schema.table_privileges
	WHERE table_name = 'ba_items' AND grantee <> current_user ORDER BY 1, 2;
SELECT role, leader_id FROM raft.status();

-- Clean up
SELECT raft.exec('DROP TABLE ba_items');
DROP ROLE regress_ba_nobody;
DROP TYPE ba_local_type;
DROP FUNCTION ba_volatile(), ba_stable(), ba_try(text);
\if :created_here
DROP EXTENSION pg_raft;
\endif
