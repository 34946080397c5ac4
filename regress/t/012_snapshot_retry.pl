# regress/t/012_snapshot_retry.pl — a snapshot install that fails is
# rolled back and retried: the leader's pg_raft.conninfo names a role that
# does not exist yet, so the stopped-and-restarted follower cannot fetch
# the tables; while it fails, its tables and raft.applied stay as they
# were (short of the snapshot).  Once the role exists on the leader, the
# next attempt installs the snapshot and the tables become identical.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::RealBin/lib";
use PgRaftCluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);

my $c = PgRaftCluster->new(name => 'snapretry',
	conf => "pg_raft.log_keep_entries = 10\n");
my $leader = $c->wait_for_leader;
ok(defined $leader, 'a leader is elected');
for my $id ($c->ids)
{
	my $node = $c->node($id);
	my $user = $id == $leader ? ' user=snap_reader' : '';
	$node->append_conf('postgresql.conf',
		"pg_raft.conninfo = 'host=" . $node->host . " port=" . $node->port . " dbname=postgres$user'\n");
	$node->reload;
}

$c->exec_ok($leader, 'CREATE TABLE kv (k int PRIMARY KEY, n int NOT NULL)');
$c->exec_ok($leader, 'INSERT INTO kv VALUES ($1, 0)', $_) for 1 .. 3;
my ($lagger) = grep { $_ != $leader } $c->ids;
$c->wait_applied($lagger, $c->status($leader)->{commit});
$c->stop($lagger);

my $count = $c->node($leader)->safe_psql('postgres',
	q{SET statement_timeout = '600s';
	  SELECT count(raft.exec('INSERT INTO kv VALUES ($1, $1)', i)) FROM generate_series(4, 1003) i},
	timeout => 900);
# (more than the leader's pipelined appends still queued for the stopped
# server can carry: those reach it at its restart, and it would need no
# snapshot)
is($count, 1000, 'the majority took 1000 writes while one server was down');
$c->exec_ok($leader, 'CREATE TABLE later (id int PRIMARY KEY)');
# compaction follows the leader's durably applied index (its applier
# commits asynchronously): wait (bounded) for the snapshot
my $snap = 0;
my $snap_deadline = time() + $PgRaftCluster::WAIT_SECONDS;
while ($snap == 0 && time() < $snap_deadline)
{
	$snap = $c->node($leader)->safe_psql('postgres', 'SELECT snapshot_index FROM raft.status()');
	usleep(100_000) if $snap == 0;
}
cmp_ok($snap, '>', 0, 'the leader compacted its log');

$c->start($lagger);
my $failed = 0;
my $deadline = time() + $PgRaftCluster::WAIT_SECONDS;
while (time() < $deadline)
{
	if ($c->node($lagger)->log_contains('installing the snapshot at index \d+ from node \d+ \(applied here: \d+, attempt 3\)'))
	{
		$failed = 1;
		last;
	}
	usleep(200_000);
}
ok($failed, "node $lagger retries an install that fails");
ok($c->node($lagger)->log_contains('role "snap_reader" does not exist'),
	'the failure is reported with its cause');
my ($pending, $failures) = split /\|/, $c->node($lagger)->safe_psql('postgres',
	'SELECT snapshot_install_pending, snapshot_install_failures FROM raft.status()');
cmp_ok($pending, '>', 0, "raft.status() on node $lagger shows the install pending");
cmp_ok($failures, '>=', 2, "raft.status() on node $lagger counts the failed attempts");
my $applied_while_failing = $c->node($lagger)->safe_psql('postgres', 'SELECT applied_index FROM raft.applied');
cmp_ok($applied_while_failing, '<', $snap, "node ${lagger}'s raft.applied stays short of the snapshot");
is($c->node($lagger)->safe_psql('postgres', q{SELECT to_regclass('later') IS NULL}), 't',
	"node ${lagger}'s tables stay as they were while the install fails");
is($c->node($lagger)->safe_psql('postgres',
		q{SET pg_raft.read_consistency = local; SELECT count(*) = max(k) FROM kv}), 't',
	"node ${lagger}'s kv is a consistent earlier state");

$c->node($leader)->safe_psql('postgres', 'CREATE ROLE snap_reader LOGIN SUPERUSER');
$c->wait_applied($lagger, $c->status($c->wait_for_leader)->{commit});
ok($c->node($lagger)->log_contains('installed the snapshot from node'),
	"node $lagger installed the snapshot once the source let it in");
$c->check_identical($_, 'after the retried install') for qw(kv later);
is($c->node($lagger)->safe_psql('postgres',
		'SELECT snapshot_install_pending, snapshot_install_failures, snapshots_installed FROM raft.status()'),
	'0|0|1', "raft.status() on node $lagger shows the install done");

$c->stop_all;
done_testing();
