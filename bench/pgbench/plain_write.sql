-- bench/pgbench/plain_write.sql — the same write as a plain statement
-- (PostgreSQL's own replication, or a single server).
\set k random(1, :nkeys)
UPDATE bench SET v = v + 1 WHERE k = :k;
