# regress/t/015_snapshot_kill.pl — a snapshot install killed half way
# (kill -9 of the receiving server while its applier loads the tables) is
# retried after the restart and completes; while it cannot complete, the
# receiver's tables stay as they were.  Then a snapshot whose source
# cannot be reached is fetched from another member the source knows (a
# server it added with raft.add_node).
#
# The replicated table is made big (one INSERT ... SELECT of many rows)
# so that the install lasts long enough to be interrupted; the source
# refuses the receiver by making the role of pg_raft.conninfo NOLOGIN.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::RealBin/lib";
use PgRaftCluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);

my $ROWS = 150_000;

my $c = PgRaftCluster->new(name => 'snapkill',
	conf => "pg_raft.log_keep_entries = 10\n");

# every server lets the others fetch its tables as snap_reader
sub use_snap_reader
{
	my ($id) = @_;
	my $node = $c->node($id);
	$node->safe_psql('postgres', 'CREATE ROLE snap_reader LOGIN SUPERUSER');
	$node->append_conf('postgresql.conf',
		"pg_raft.conninfo = '" . $c->conninfo($id) . " user=snap_reader'\n");
	$node->reload;
}
sub set_login
{
	my ($login, @ids) = @_;
	$c->node($_)->safe_psql('postgres', "ALTER ROLE snap_reader $login") for @ids;
}
use_snap_reader($_) for $c->ids;

my $leader = $c->wait_for_leader;
ok(defined $leader, 'a leader is elected');
$c->exec_ok($leader, 'CREATE TABLE kv (k int PRIMARY KEY, v text NOT NULL)');
$c->exec_ok($leader, 'CREATE TABLE big (id int PRIMARY KEY, pad text NOT NULL)');
$c->exec_ok($leader, 'INSERT INTO kv VALUES ($1, $2)', $_, "'before'") for 1 .. 5;

my ($lagger) = grep { $_ != $leader } $c->ids;
$c->wait_applied($lagger, $c->status($leader)->{commit});
$c->stop($lagger);

# while it is down: many rows, and enough entries to compact past it
$leader = $c->wait_for_leader;
$c->exec_ok($leader, "INSERT INTO big SELECT g, repeat(md5(g::text), 3) FROM generate_series(1, $ROWS) g");
my $lagger_applied = $c->node($leader)->safe_psql('postgres', 'SELECT applied_index FROM raft.status()');
my $next = $c->write_until_compacted($leader, 'kv', 6, $lagger_applied, 'while down');
my $snap = $c->node($leader)->safe_psql('postgres', 'SELECT snapshot_index FROM raft.status()');
cmp_ok($snap, '>', 0, "the leader compacted its log (snapshot at $snap)");

# kill -9 of the receiver while it loads the snapshot
$c->start($lagger);
my $installing = 0;
my $deadline = time() + $PgRaftCluster::WAIT_SECONDS;
while (time() < $deadline)
{
	if ($c->node($lagger)->log_contains('installing the snapshot at index \d+ from node'))
	{
		$installing = 1;
		last;
	}
	usleep(20_000);
}
ok($installing, "node $lagger starts installing the snapshot");
$c->crash($lagger);
ok(!$c->node($lagger)->log_contains('installed the snapshot from node'),
	"node $lagger was killed before the install completed");

# restarted while the source refuses it: the install fails, and the
# tables stay as they were before the snapshot
set_login('NOLOGIN', grep { $_ != $lagger } $c->ids);
$c->start($lagger);
my $failures = 0;
$deadline = time() + $PgRaftCluster::WAIT_SECONDS;
while (time() < $deadline)
{
	$failures = $c->node($lagger)->safe_psql('postgres',
		'SELECT snapshot_install_failures FROM raft.status()');
	last if $failures >= 1;
	usleep(100_000);
}
cmp_ok($failures, '>=', 1, "after the restart node $lagger retries the install (and fails while refused)");
is($c->node($lagger)->safe_psql('postgres',
		q{SET pg_raft.read_consistency = local; SELECT (SELECT count(*) FROM big) || '/' || (SELECT count(*) FROM kv)}),
	'0/5', "node ${lagger}'s tables are as they were before the snapshot");
cmp_ok($c->node($lagger)->safe_psql('postgres', 'SELECT applied_index FROM raft.applied'),
	'<', $snap, "node ${lagger}'s raft.applied is short of the snapshot");

# let it in: the install completes
set_login('LOGIN', grep { $_ != $lagger } $c->ids);
$c->wait_applied($lagger, $c->status($c->wait_for_leader)->{commit});
ok($c->node($lagger)->log_contains('installed the snapshot from node'),
	"node $lagger installed the snapshot after the restart");
$c->check_identical($_, 'after the interrupted install') for qw(kv big);

# a source that cannot be reached: node 4, added with raft.add_node, is
# known to the leader and named in its snapshots as another source
$leader = $c->wait_for_leader;
$c->add_server(4);
use_snap_reader(4);
my ($ok, undef, $err) = $c->add_node($leader, 4);
ok($ok, 'raft.add_node(4)') or diag($err);
($lagger) = grep { $_ != $leader && $_ != 4 } $c->ids;
$c->wait_applied($lagger, $c->status($leader)->{commit});
$c->stop($lagger);
$c->exec_ok($leader, 'DELETE FROM big WHERE id % 2 = 0');
$c->write_until_compacted($leader, 'kv', $next, $c->status($leader)->{commit}, 'source away');
set_login('NOLOGIN', $leader);
$c->start($lagger);
$c->wait_applied($lagger, $c->status($c->wait_for_leader)->{commit});
ok($c->node($lagger)->log_contains(
		"node $leader is unreachable; fetching the snapshot at index \\d+ from node 4 instead"),
	"node $lagger fetched the snapshot from node 4 while node $leader refused it");
set_login('LOGIN', $leader);
$c->check_identical($_, 'after an install from another member') for qw(kv big);

$c->stop_all;
done_testing();
