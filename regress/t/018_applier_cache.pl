# regress/t/018_applier_cache.pl — the applier's fast path on three
# servers: prepared plans of repeated statements stay right across DDL,
# search_path and role changes (every server ends identical), and the
# applier's asynchronous commits lose nothing and apply nothing twice when
# a server is killed (kill -9 of every process) right after a run of
# writes, with compaction in between that must never pass what is durably
# applied.  The WAL writer is made slow (wal_writer_delay = 10s) so that a
# crash is likely to lose the applier's last commits; nothing here depends
# on it doing so.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::RealBin/lib";
use PgRaftCluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $c = PgRaftCluster->new(name => 'cache',
	conf => "pg_raft.log_keep_entries = 10\nwal_writer_delay = '10s'\n");

my $leader = $c->wait_for_leader;
ok(defined $leader, 'a leader is elected');

# Repeated statements with DDL between them.
$c->exec_ok($leader, 'CREATE TABLE c (k int PRIMARY KEY, n int NOT NULL)');
$c->exec_ok($leader, 'INSERT INTO c VALUES ($1, 0)', $_) for 1 .. 3;
my $upd = 'UPDATE c SET n = n + 1 WHERE k = $1';
$c->exec_ok($leader, $upd, 1);
$c->exec_ok($leader, q{ALTER TABLE c ADD COLUMN note text DEFAULT 'x'});
$c->exec_ok($leader, $upd, 1);
$c->exec_ok($leader, 'ALTER TABLE c ALTER COLUMN n TYPE bigint');
$c->exec_ok($leader, $upd, 2);
$c->exec_ok($leader, 'ALTER TABLE c RENAME COLUMN n TO m');
my ($ok, $out, $err) = $c->exec($leader, $upd, 1);
ok(!$ok && $err =~ /column "n" does not exist/,
	'a repeated statement naming a renamed column fails') or diag($err);
$c->exec_ok($leader, 'ALTER TABLE c RENAME COLUMN m TO n');
$c->exec_ok($leader, $upd, 3);
$c->exec_ok($leader, 'DROP TABLE c');
$c->exec_ok($leader, 'CREATE TABLE c (k int PRIMARY KEY, n numeric NOT NULL DEFAULT 0, who text)');
$c->exec_ok($leader, 'INSERT INTO c (k) VALUES ($1)', $_) for 1 .. 3;
$c->exec_ok($leader, $upd, 1);

# The same text under another search_path, and under another role.
$c->node($_)->safe_psql('postgres',
	"CREATE ROLE cache_r; CREATE SCHEMA s2; GRANT USAGE ON SCHEMA raft, s2 TO cache_r")
  for $c->ids;
$c->exec_ok($leader, 'CREATE TABLE s2.c (k int PRIMARY KEY, n int NOT NULL DEFAULT 100, who text)');
$c->exec_ok($leader, 'INSERT INTO s2.c (k) VALUES (1)');
$c->exec_ok($leader, 'GRANT SELECT, UPDATE ON c, s2.c TO cache_r');
my $upd_who = 'UPDATE c SET n = n + 1, who = current_user WHERE k = $1';
for my $round (1 .. 2)
{
	for my $path ('public', 's2, public')
	{
		for my $role ('postgres', 'cache_r')
		{
			my $ret = $c->node($leader)->safe_psql('postgres',
				"SET search_path = $path; SET ROLE $role;
				 SELECT raft.exec('$upd_who', 1)");
			is($ret, '1', "round $round: as $role with search_path $path");
		}
	}
}
my $rows = $c->check_identical('c', 'after repeats under DDL');
like($rows, qr/^\(1,5,cache_r\)/m, 'public.c: every update applied once, the last as cache_r');
$c->check_identical('s2.c', 'after repeats under another search_path');
like($c->contents($leader, 's2.c'), qr/^\(1,104,cache_r\)$/, 's2.c: four updates');

# Runs of writes, each followed by a crash; the counter must equal the
# writes acknowledged.
my $acked = 0;

sub write_run
{
	my ($n) = @_;
	my $l = $c->wait_for_leader;
	my $got = $c->node($l)->safe_psql('postgres',
		"SET statement_timeout = '300s';
		 SELECT count(raft.exec('UPDATE c SET n = n + 1 WHERE k = \$1', 2))
		 FROM generate_series(1, $n)",
		timeout => 600);
	is($got, $n, "$n writes acknowledged");
	$acked += $got;
	return $l;
}

sub applied_index
{
	my ($id) = @_;
	return $c->node($id)->safe_psql('postgres', 'SELECT applied_index FROM raft.status()');
}

for my $victim ('follower', 'leader')
{
	my $l = write_run(150);
	my ($id) = $victim eq 'leader' ? ($l) : grep { $_ != $l } $c->ids;
	my $st = $c->status($l);
	$c->wait_applied($id, $st->{commit});
	my $before = applied_index($id);
	my $last_index = $c->status($id)->{last_index};
	$c->crash($id);
	$c->start($id);
	my $log = slurp_file($c->node($id)->logfile);
	my $resumed = $log =~ /.*applier of database "postgres" resumes after index (\d+)/s ? $1 : -1;
	my $loaded = $log =~ /.*node $id loaded term \d+, commit \d+, (\d+) entries/s ? $1 : -1;
	note("node $id ($victim) had applied $before; after the crash it resumed after $resumed");
	# entries up to the snapshot are gone from its log: it must have kept
	# every entry its tables may have lost
	my $snapshot = $last_index - $loaded;
	cmp_ok($snapshot, '<=', $resumed,
		"node $id: its log was not compacted past what its tables kept ($snapshot <= $resumed)");
	$leader = $c->wait_for_leader;
	my $last = $c->status($leader)->{commit};
	$c->wait_applied($_, $last) for $c->ids;
	my ($snap, $applied) = split /\|/, $c->node($id)->safe_psql('postgres',
		'SELECT snapshot_index, applied_index FROM raft.status()');
	cmp_ok($snap, '<=', $applied, "node $id: no snapshot past the applied index");
	my $rows = $c->check_identical('c', "after a crash of the $victim");
	like($rows, qr/^\(2,$acked,/m, "every write applied once after a crash of the $victim");
}

for my $id ($c->ids)
{
	my ($compactions) = $c->node($id)->safe_psql('postgres',
		'SELECT compactions FROM raft.status()');
	note("node $id: $compactions compactions");
}

$c->stop_all;
done_testing();
