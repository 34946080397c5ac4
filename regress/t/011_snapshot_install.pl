# regress/t/011_snapshot_install.pl — snapshot install: a follower is
# stopped while the others write enough for the leader to compact its log
# past the follower's last index (and change the tables' definitions).
# Started again, it cannot catch up from the log: it receives a snapshot,
# its applier fetches the replicated tables from the snapshot's source
# over libpq (pg_raft.conninfo) and loads them; afterwards every server
# has the same tables, definitions and rows, and takes new writes.  A new
# server added after the compaction joins the same way.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::RealBin/lib";
use PgRaftCluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);

my $c = PgRaftCluster->new(name => 'snapinst',
	conf => "pg_raft.log_keep_entries = 10\n");
for my $id ($c->ids)
{
	my $node = $c->node($id);
	$node->append_conf('postgresql.conf',
		"pg_raft.conninfo = 'host=" . $node->host . " port=" . $node->port . " dbname=postgres'\n");
	$node->reload;
}

my $leader = $c->wait_for_leader;
ok(defined $leader, 'a leader is elected');
$c->exec_ok($leader, q{CREATE TABLE kv (k int PRIMARY KEY, v text COLLATE "C" NOT NULL DEFAULT 'none', n int CHECK (n >= 0))});
$c->exec_ok($leader, 'CREATE TABLE child (id int PRIMARY KEY, k int NOT NULL REFERENCES kv (k))');
$c->exec_ok($leader, 'CREATE INDEX kv_v ON kv (v)');
$c->exec_ok($leader, 'CREATE TABLE gone (x int)');
$c->node($_)->safe_psql('postgres', 'CREATE ROLE reader') for $c->ids;
$c->exec_ok($leader, 'GRANT SELECT ON kv TO reader');
$c->exec_ok($leader, 'GRANT SELECT, INSERT ON child TO PUBLIC');
$c->exec_ok($leader, 'INSERT INTO kv VALUES ($1, $2, 0)', $_, "'before'") for 1 .. 5;

my ($lagger) = grep { $_ != $leader } $c->ids;
my $before = $c->status($c->wait_for_leader)->{commit};
$c->wait_applied($lagger, $before);
my $lagger_applied = $c->status($lagger)->{applied};
$c->stop($lagger);

# enough writes for several compactions past the stopped server's index
$leader = $c->wait_for_leader;
my $count = $c->node($leader)->safe_psql('postgres',
	q{SET statement_timeout = '600s';
	  SELECT count(raft.exec('INSERT INTO kv (k, n) VALUES ($1, $1)', i)) FROM generate_series(6, 305) i},
	timeout => 900);
is($count, 300, 'the majority took 300 writes while one server was down');
$c->exec_ok($leader, 'INSERT INTO child VALUES (1, 7), (2, 300)');
$c->exec_ok($leader, 'DROP TABLE gone');
$c->exec_ok($leader, 'CREATE TABLE later (id int PRIMARY KEY, label text)');
$c->exec_ok($leader, q{INSERT INTO later VALUES (1, 'made while node was down')});
$c->exec_ok($leader, 'UPDATE kv SET v = $1 WHERE k <= 3', "'updated'");

# compaction follows the leader's durably applied index (its applier
# commits asynchronously): wait (bounded) for it
my $snap = 0;
my $snap_deadline = time() + $PgRaftCluster::WAIT_SECONDS;
while ($snap <= $lagger_applied && time() < $snap_deadline)
{
	$snap = $c->node($leader)->safe_psql('postgres', 'SELECT snapshot_index FROM raft.status()');
	usleep(100_000) if $snap <= $lagger_applied;
}
cmp_ok($snap, '>', $lagger_applied,
	"the leader compacted past what node $lagger had applied ($lagger_applied)");

$c->start($lagger);
my $commit = $c->status($c->wait_for_leader)->{commit};
$c->wait_applied($lagger, $commit);
ok($c->node($lagger)->log_contains('installed the snapshot from node'),
	"node $lagger caught up by installing a snapshot");

$c->check_identical($_, 'after the snapshot install') for qw(kv child later);
is($c->node($lagger)->safe_psql('postgres',
		'SELECT snapshots_received > 0 AND snapshots_installed > 0 FROM raft.status()'), 't',
	"node $lagger counts the snapshot it received and installed");
cmp_ok($c->node($c->wait_for_leader)->safe_psql('postgres', 'SELECT snapshots_sent FROM raft.status()'),
	'>', 0, 'the leader counts the snapshot it sent');
my $defs = q{SELECT string_agg(format('%s %s', conname, pg_get_constraintdef(oid)), E'\n' ORDER BY conname)
	FROM pg_constraint WHERE conrelid IN ('kv'::regclass, 'child'::regclass, 'later'::regclass)};
my $idx = q{SELECT string_agg(indexdef, E'\n' ORDER BY indexname) FROM pg_indexes WHERE tablename IN ('kv', 'child', 'later')};
my $cols = q{SELECT string_agg(format('%s.%s %s %s %s %s', c.relname, a.attname, format_type(a.atttypid, a.atttypmod), a.attcollation::regcollation, a.attnotnull, pg_get_expr(d.adbin, d.adrelid)), E'\n' ORDER BY c.relname, a.attnum)
	FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
	WHERE c.relname IN ('kv', 'child', 'later') AND a.attnum > 0 AND NOT a.attisdropped};
my $acl = q{SELECT string_agg(format('%s %s', relname, relacl), E'\n' ORDER BY relname) FROM pg_class WHERE relname IN ('kv', 'child', 'later')};
my $tabs = q{SELECT string_agg(relid::regclass::text, ',' ORDER BY relid::regclass::text) FROM raft.replicated_tables};
for my $q ($defs, $idx, $cols, $acl, $tabs)
{
	is($c->node($lagger)->safe_psql('postgres', $q), $c->node($leader)->safe_psql('postgres', $q),
		"node $lagger has the same definitions as the leader: " . substr($q, 0, 40));
}
is($c->node($lagger)->safe_psql('postgres', q{SELECT to_regclass('gone') IS NULL}), 't',
	'the table dropped while the server was down is gone there too');

# the installed tables take new writes, and their constraints hold
$c->exec_ok($lagger, 'INSERT INTO kv (k, n) VALUES (1000, 1)');
my ($ok, $out, $err) = $c->exec($lagger, 'INSERT INTO child VALUES (3, 999999)');
ok(!$ok && $err =~ /foreign key/, 'the foreign key holds on the installed tables') or diag($err);
$c->check_identical($_, 'after writes on the installed tables') for qw(kv child);

# a restart of the server that installed the snapshot keeps it
$c->stop($lagger);
$c->start($lagger);
$c->exec_ok($c->wait_for_leader, 'UPDATE kv SET n = n + 1 WHERE k = 1000');
$commit = $c->status($c->wait_for_leader)->{commit};
$c->wait_applied($lagger, $commit);
$c->check_identical('kv', 'after a restart of the installed server');

# a new, empty server added after the log was compacted joins by snapshot
$leader = $c->wait_for_leader;
my $new = $c->add_server(4);
$new->safe_psql('postgres', 'CREATE ROLE reader');	# roles are per server
my ($added, undef, $add_err) = $c->add_node($leader, 4);
ok($added, 'raft.add_node of a new server after compaction') or diag($add_err);
$commit = $c->status($leader)->{commit};
$c->wait_applied(4, $commit);
ok($new->log_contains('installed the snapshot from node'),
	'a server added after compaction catches up by snapshot');
$c->check_identical($_, 'after a server joined by snapshot') for qw(kv child later);

$c->stop_all;
done_testing();
