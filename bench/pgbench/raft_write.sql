-- bench/pgbench/raft_write.sql — one replicated write through the Raft log.
-- The key is drawn by pgbench and passed as an argument (raft.exec refuses
-- random() and every other non-deterministic expression).
\set k random(1, :nkeys)
SELECT raft.exec('UPDATE bench SET v = v + 1 WHERE k = $1', :k);
