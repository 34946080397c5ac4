--
-- statement_apply: what a statement proposed with raft.exec does when the
-- applier applies it (extension/statement_apply.c), on a one-node cluster:
-- it runs as the proposing role, with the proposer's search_path and
-- date/time settings, registers the tables it creates and forgets those
-- it drops.
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

CREATE ROLE regress_pgraft_app;
CREATE ROLE regress_pgraft_other;
CREATE SCHEMA apply_s AUTHORIZATION regress_pgraft_app;
GRANT USAGE ON SCHEMA raft, apply_s TO regress_pgraft_app, regress_pgraft_other;

-- CREATE TABLE: resolved with the proposer's search_path, owned by the
-- proposer, registered as replicated.
SET ROLE regress_pgraft_app;
SET search_path = apply_s, public;
SELECT raft.exec('CREATE TABLE notes (id int PRIMARY KEY, body text NOT NULL DEFAULT ''-'', at timestamptz)');
SELECT r.relid, pg_get_userbyid(c.relowner) AS owner
	FROM raft.replicated_tables r JOIN pg_class c ON c.oid = r.relid
	WHERE c.relnamespace = 'apply_s'::regnamespace;

-- Literals and parameters are read with the proposer's DateStyle and
-- TimeZone, whatever the applier's own settings are.
SET TimeZone = 'Asia/Tokyo';
SET DateStyle = 'SQL, DMY';
SELECT raft.exec('INSERT INTO notes VALUES (1, ''literal'', ''02/01/2024 12:00'')');
SELECT raft.exec('INSERT INTO notes VALUES ($1, $2, $3)', 2, 'parameter'::text,
	'03/01/2024 00:30'::timestamptz);
RESET DateStyle;
SET TimeZone = 'UTC';
SELECT id, body, at FROM notes ORDER BY id;

-- It runs as the proposing role: CURRENT_USER is that role on every server.
SELECT raft.exec('INSERT INTO notes (id, body) VALUES (3, current_user)');
SELECT raft.exec('UPDATE notes SET body = body || ''!'' WHERE id = $1', 3);
SELECT id, body FROM notes WHERE id >= 3 ORDER BY id;

-- Privileges go through the log too.  Another role may write only once
-- the owner granted it.
SET ROLE regress_pgraft_other;
SELECT raft.exec('INSERT INTO apply_s.notes (id, body) VALUES (4, current_user)');
SET ROLE regress_pgraft_app;
SELECT raft.exec('GRANT SELECT, INSERT ON notes TO regress_pgraft_other');
SET ROLE regress_pgraft_other;
SELECT raft.exec('INSERT INTO apply_s.notes (id, body) VALUES (4, current_user)');
SELECT raft.exec('DELETE FROM apply_s.notes');
SELECT id, body FROM apply_s.notes WHERE id = 4;
SET ROLE regress_pgraft_app;

-- Deterministic errors are the result of the statement, on every server.
SELECT raft.exec('INSERT INTO notes (id) VALUES (1)');
SELECT raft.exec('UPDATE notes SET id = id / 0');

-- A deferrable constraint is checked at the end of the entry's statement
-- (each entry starts with SET CONSTRAINTS ALL IMMEDIATE): a violation is
-- that entry's result, and the applier goes on.  PostgreSQL refuses to
-- queue a deferred check inside the security-restricted operation the
-- entry runs in, so without this every write to such a table failed.
SELECT raft.exec('CREATE TABLE parents (id int PRIMARY KEY)');
SELECT raft.exec('CREATE TABLE kids (id int PRIMARY KEY, parent int
	REFERENCES parents DEFERRABLE INITIALLY DEFERRED,
	code int UNIQUE DEFERRABLE INITIALLY DEFERRED)');
SELECT raft.exec('INSERT INTO kids VALUES (1, 7, 1)');
SELECT raft.exec('INSERT INTO parents VALUES (7)');
SELECT raft.exec('INSERT INTO kids VALUES (1, 7, 1)');
SELECT raft.exec('INSERT INTO kids VALUES (2, 7, 1)');
SELECT raft.exec('INSERT INTO kids VALUES (2, 7, 2)');
-- checked once the statement is done, not row by row: codes 1 and 2 swap
SELECT raft.exec('UPDATE kids SET code = 3 - code');
SELECT raft.exec('UPDATE kids SET code = 1');
SELECT raft.exec('DELETE FROM parents');
SELECT id, parent, code FROM kids ORDER BY id;
SELECT raft.exec('DROP TABLE kids');
SELECT raft.exec('DROP TABLE parents');

-- ALTER TABLE, RENAME, CREATE INDEX, DROP INDEX through the log
SELECT raft.exec('ALTER TABLE notes ADD COLUMN tag text NOT NULL DEFAULT ''none''');
SELECT raft.exec('ALTER TABLE notes RENAME COLUMN tag TO label');
SELECT raft.exec('CREATE INDEX notes_label ON notes (label)');
SELECT attname FROM pg_attribute
	WHERE attrelid = 'notes'::regclass AND attnum > 0 ORDER BY attnum;
SELECT raft.exec('DROP INDEX notes_label');
SELECT count(*) AS notes_indexes FROM pg_index WHERE indrelid = 'notes'::regclass;

-- Partitions are replicated tables of their own; dropping the parent
-- forgets them all.
SELECT raft.exec('CREATE TABLE events (k int NOT NULL, v text) PARTITION BY RANGE (k)');
SELECT raft.exec('CREATE TABLE events_low PARTITION OF events FOR VALUES FROM (0) TO (100)');
SELECT raft.exec('INSERT INTO events VALUES (1, ''one''), (2, ''two'')');
SELECT r.relid FROM raft.replicated_tables r JOIN pg_class c ON c.oid = r.relid
	WHERE c.relnamespace = 'apply_s'::regnamespace ORDER BY 1;
SELECT raft.exec('DROP TABLE events');
SELECT r.relid FROM raft.replicated_tables r JOIN pg_class c ON c.oid = r.relid
	WHERE c.relnamespace = 'apply_s'::regnamespace ORDER BY 1;

-- The applier keeps prepared plans of repeated statements
-- (statement_cache.c); whatever happened in between, a repeated statement
-- does what it would do the first time.  DDL between repeats:
SELECT raft.exec('CREATE TABLE counts (k int PRIMARY KEY, n int NOT NULL)');
SELECT raft.exec('INSERT INTO counts VALUES ($1, $2)', i, 0) FROM generate_series(1, 3) i;
SELECT raft.exec('UPDATE counts SET n = n + 1 WHERE k = $1', 1);
SELECT raft.exec('ALTER TABLE counts ADD COLUMN note text DEFAULT ''added''');
SELECT raft.exec('UPDATE counts SET n = n + 1 WHERE k = $1', 1);
SELECT raft.exec('INSERT INTO counts VALUES ($1, $2)', 4, 0);
SELECT raft.exec('ALTER TABLE counts RENAME COLUMN n TO m');
SELECT raft.exec('UPDATE counts SET n = n + 1 WHERE k = $1', 1);
SELECT raft.exec('ALTER TABLE counts RENAME COLUMN m TO n');
SELECT raft.exec('UPDATE counts SET n = n + 1 WHERE k = $1', 1);
SELECT raft.exec('DROP TABLE counts');
SELECT raft.exec('UPDATE counts SET n = n + 1 WHERE k = $1', 1);
SELECT raft.exec('CREATE TABLE counts (k bigint PRIMARY KEY, n numeric NOT NULL DEFAULT 10)');
SELECT raft.exec('INSERT INTO counts VALUES ($1, $2)', 1, 0);
SELECT raft.exec('UPDATE counts SET n = n + 1 WHERE k = $1', 1);
SELECT * FROM counts ORDER BY k;
-- An error is the result of that entry only, the next repeat works.
SELECT raft.exec('UPDATE counts SET n = n / $2 WHERE k = $1', 1, 0);
SELECT raft.exec('UPDATE counts SET n = n / $2 WHERE k = $1', 1, 2);
-- The same text under another search_path names another table.
RESET ROLE;
CREATE SCHEMA apply_t AUTHORIZATION regress_pgraft_app;
SET ROLE regress_pgraft_app;
SELECT raft.exec('CREATE TABLE apply_t.counts (k int PRIMARY KEY, n int NOT NULL)');
SET search_path = apply_t, apply_s;
SELECT raft.exec('INSERT INTO counts VALUES ($1, $2)', 1, 100);
SELECT raft.exec('UPDATE counts SET n = n + 1 WHERE k = $1', 1);
SET search_path = apply_s, public;
SELECT raft.exec('UPDATE counts SET n = n + 1 WHERE k = $1', 1);
SELECT 'apply_s' AS s, k, n FROM apply_s.counts UNION ALL
	SELECT 'apply_t', k, n FROM apply_t.counts ORDER BY 1, 2;
-- ... and under another role, it runs as that role.
SELECT raft.exec('ALTER TABLE counts ADD COLUMN who text');
SELECT raft.exec('GRANT SELECT, UPDATE ON counts TO regress_pgraft_other');
SELECT raft.exec('UPDATE apply_s.counts SET who = current_user WHERE k = $1', 1);
SELECT who FROM counts;
SET ROLE regress_pgraft_other;
SELECT raft.exec('UPDATE apply_s.counts SET who = current_user WHERE k = $1', 1);
SET ROLE regress_pgraft_app;
SELECT who FROM counts;
-- ... and under another DateStyle, literals read otherwise.
SELECT raft.exec('ALTER TABLE counts ADD COLUMN d date');
SET DateStyle = 'ISO, DMY';
SELECT raft.exec('UPDATE counts SET d = ''01/02/2024'' WHERE k = $1', 1);
SELECT d FROM counts;
SET DateStyle = 'ISO, MDY';
SELECT raft.exec('UPDATE counts SET d = ''01/02/2024'' WHERE k = $1', 1);
SELECT d FROM counts;
RESET DateStyle;
SELECT raft.exec('DROP TABLE apply_t.counts');
SELECT raft.exec('DROP TABLE counts');
RESET ROLE;
DROP SCHEMA apply_t;
SET ROLE regress_pgraft_app;

-- CREATE TABLE IF NOT EXISTS of a replicated table does nothing.
SELECT raft.exec('CREATE TABLE IF NOT EXISTS notes (id int)');
SELECT count(*) AS notes_rows FROM notes;

-- DROP TABLE forgets the table.
SELECT raft.exec('DROP TABLE notes');
SELECT count(*) AS apply_s_replicated FROM raft.replicated_tables r
	JOIN pg_class c ON c.oid = r.relid
	WHERE c.relnamespace = 'apply_s'::regnamespace;
SELECT count(*) AS dangling FROM raft.replicated_tables r
	WHERE NOT EXISTS (SELECT FROM pg_class c WHERE c.oid = r.relid);

RESET ROLE;
RESET search_path;
RESET TimeZone;
DROP SCHEMA apply_s;
DROP OWNED BY regress_pgraft_app, regress_pgraft_other;
DROP ROLE regress_pgraft_app, regress_pgraft_other;
\if :created_here
DROP EXTENSION pg_raft;
\endif
