-- bench/pgbench/read.sql — one point read; under pg_raft its consistency is
-- the session's pg_raft.read_consistency (set through PGOPTIONS).
\set k random(1, :nkeys)
SELECT v FROM bench WHERE k = :k;
