--
-- guard: plain writes to replicated tables are refused outside the applier
-- (extension/guard.c); reads and everything on other tables go through.
--
-- Leaves the database as it found it: drops the extension at the end only
-- if it creates it here.
SELECT NOT EXISTS (SELECT FROM pg_extension WHERE extname = 'pg_raft')
	AS created_here \gset
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pg_raft;
RESET client_min_messages;

CREATE FUNCTION refusal(cmd text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	state text;
	msg text;
	hint text;
BEGIN
	EXECUTE cmd;
	RETURN 'accepted';
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, msg = MESSAGE_TEXT,
		hint = PG_EXCEPTION_HINT;
	RETURN state || ': ' || msg ||
		CASE WHEN hint <> '' THEN E'\nHINT: ' || hint ELSE '' END;
END $$;

-- A replicated table registered by hand (see exec_refusals.sql), a partition
-- tree, and an ordinary table.
CREATE SCHEMA guard_s;
CREATE TABLE guard_s.accounts (id int PRIMARY KEY, owner text NOT NULL,
	balance int NOT NULL);
CREATE INDEX guard_accounts_owner ON guard_s.accounts (owner);
CREATE TABLE guard_parts (k int, v text) PARTITION BY RANGE (k);
CREATE TABLE guard_parts_1 PARTITION OF guard_parts FOR VALUES FROM (0) TO (100);
CREATE TABLE guard_local (id int PRIMARY KEY, note text);
INSERT INTO guard_s.accounts VALUES (1, 'ann', 100), (2, 'bob', 50);
INSERT INTO guard_parts VALUES (1, 'a');
INSERT INTO raft.replicated_tables
	VALUES ('guard_s.accounts'), ('guard_parts'), ('guard_parts_1');
CREATE FUNCTION guard_deposit(n int) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
	UPDATE guard_s.accounts SET balance = balance + n;
END $$;
\c -
SET pg_raft.read_consistency = local;

-- DML on a replicated table, however it is written
SELECT refusal($$INSERT INTO guard_s.accounts VALUES (3, 'cy', 0)$$);
SELECT refusal($$UPDATE guard_s.accounts SET balance = 0$$);
SELECT refusal($$DELETE FROM guard_s.accounts$$);
SELECT refusal($$INSERT INTO guard_s.accounts VALUES (1, 'ann', 0) ON CONFLICT (id) DO UPDATE SET balance = 0$$);
SELECT refusal($$MERGE INTO guard_s.accounts a USING guard_local l ON a.id = l.id WHEN MATCHED THEN DELETE$$);
SELECT refusal($$WITH d AS (DELETE FROM guard_s.accounts RETURNING id) SELECT count(*) FROM d$$);
SELECT refusal($$SELECT guard_deposit(10)$$);
SELECT refusal($$EXPLAIN ANALYZE DELETE FROM guard_s.accounts$$);
SELECT refusal($$INSERT INTO guard_parts VALUES (2, 'b')$$);
SELECT refusal($$UPDATE guard_parts_1 SET v = 'z'$$);
-- utility commands that change a replicated table
SELECT refusal($$TRUNCATE guard_s.accounts$$);
SELECT refusal($$TRUNCATE guard_local, guard_s.accounts$$);
SELECT refusal($$COPY guard_s.accounts FROM '/dev/null'$$);
SELECT refusal($$ALTER TABLE guard_s.accounts ADD COLUMN note text$$);
SELECT refusal($$ALTER TABLE guard_s.accounts RENAME TO accounts2$$);
SELECT refusal($$ALTER TABLE guard_s.accounts RENAME COLUMN owner TO holder$$);
SELECT refusal($$ALTER TABLE guard_s.accounts SET SCHEMA public$$);
SELECT refusal($$ALTER INDEX guard_s.guard_accounts_owner RENAME TO guard_x$$);
SELECT refusal($$CREATE INDEX ON guard_s.accounts (balance)$$);
SELECT refusal($$DROP INDEX guard_s.guard_accounts_owner$$);
SELECT refusal($$DROP TABLE guard_s.accounts$$);
SELECT refusal($$DROP TABLE guard_local, guard_s.accounts$$);
SELECT refusal($$DROP TABLE guard_parts_1$$);
SELECT refusal($$DROP SCHEMA guard_s CASCADE$$);
SELECT refusal($$CREATE TRIGGER guard_t BEFORE INSERT ON guard_s.accounts FOR EACH ROW EXECUTE FUNCTION suppress_redundant_updates_trigger()$$);
SELECT refusal($$CREATE RULE guard_r AS ON INSERT TO guard_s.accounts DO INSTEAD NOTHING$$);
SELECT refusal($$CREATE POLICY guard_p ON guard_s.accounts USING (owner = current_user)$$);
-- locks on replicated tables, which would only hold up this server's applier
SELECT refusal($$SELECT id FROM guard_s.accounts WHERE id = 1 FOR UPDATE$$);
SELECT refusal($$SELECT id FROM guard_s.accounts WHERE id = 1 FOR NO KEY UPDATE$$);
SELECT refusal($$SELECT a.id FROM guard_local l JOIN guard_s.accounts a ON a.id = l.id FOR SHARE OF a$$);
SELECT refusal($$LOCK TABLE guard_s.accounts IN SHARE MODE$$);
SELECT refusal($$CREATE TABLE guard_parts_2 PARTITION OF guard_parts FOR VALUES FROM (100) TO (200)$$);
SELECT refusal($$CREATE TABLE guard_child () INHERITS (guard_s.accounts)$$);
SELECT refusal($$ALTER TABLE guard_local INHERIT guard_s.accounts$$);
SELECT refusal($$GRANT SELECT ON guard_s.accounts TO PUBLIC$$);
SELECT refusal($$REVOKE ALL ON guard_local, guard_s.accounts FROM PUBLIC$$);
SELECT refusal($$GRANT SELECT ON ALL TABLES IN SCHEMA guard_s TO PUBLIC$$);

-- what is not a write to a replicated table goes through
SELECT * FROM guard_s.accounts ORDER BY id;
SELECT id FROM guard_s.accounts WHERE id = 1 FOR KEY SHARE;
SELECT l.id FROM guard_local l JOIN guard_s.accounts a ON a.id = l.id FOR UPDATE OF l;
EXPLAIN (COSTS OFF) DELETE FROM guard_s.accounts;
COPY guard_s.accounts TO STDOUT;
VACUUM ANALYZE guard_s.accounts;
INSERT INTO guard_local SELECT id, owner FROM guard_s.accounts;
UPDATE guard_local SET note = upper(note);
CREATE INDEX ON guard_local (note);
DELETE FROM guard_local WHERE id = 2;
SELECT * FROM guard_local ORDER BY id;
TRUNCATE guard_local;
GRANT SELECT ON guard_local TO PUBLIC;
CREATE TEMP TABLE guard_tmp AS SELECT * FROM guard_s.accounts;
SELECT count(*) FROM guard_tmp;

-- the refused statements changed nothing
SELECT * FROM guard_s.accounts ORDER BY id;
SELECT * FROM guard_parts ORDER BY k;
SELECT attname FROM pg_attribute
	WHERE attrelid = 'guard_s.accounts'::regclass AND attnum > 0 ORDER BY attnum;
SELECT indexrelid::regclass FROM pg_index
	WHERE indrelid = 'guard_s.accounts'::regclass ORDER BY 1;
SELECT tgname FROM pg_trigger WHERE tgrelid = 'guard_s.accounts'::regclass;
SELECT relname FROM pg_class WHERE relname IN ('guard_parts_2', 'guard_child');
SELECT grantee, privilege_type FROM information_schema.table_privileges
	WHERE table_name = 'accounts' AND grantee <> current_user ORDER BY 1, 2;

-- Clean up: unregister, then the tables are ordinary again
DELETE FROM raft.replicated_tables
	WHERE relid IN ('guard_s.accounts'::regclass, 'guard_parts', 'guard_parts_1');
\c -
DROP SCHEMA guard_s CASCADE;
DROP TABLE guard_parts, guard_local;
DROP FUNCTION guard_deposit(int);
DROP FUNCTION refusal(text);
\if :created_here
DROP EXTENSION pg_raft;
\endif
