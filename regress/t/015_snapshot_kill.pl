# regress/t/015_snapshot_kill.pl — a snapshot install killed half way
# (kill -9 of the receiving server while its applier loads the tables) is
# retried after the restart and completes; while it cannot complete, the
# receiver stays as it was.  Then a snapshot whose source cannot be
# reached is fetched from another member the source knows (a server it
# added with raft.add_node).
#
# The receivers are new servers joining after the leader compacted its
# log, so they need a snapshot.  The replicated table is made big (one
# INSERT ... SELECT of many rows) so that the install lasts long enough to
# be interrupted; a source refuses the receiver by making the role of its
# pg_raft.conninfo NOLOGIN.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::RealBin/lib";
use IPC::Run;
use PgRaftCluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);

my $ROWS = 200_000;

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
$c->exec_ok($leader, "INSERT INTO big SELECT g, repeat(md5(g::text), 3) FROM generate_series(1, $ROWS) g");
my $next = $c->write_until_compacted($leader, 'kv', 1, 1, 'before');

# a new server joins (raft.add_node waits in the background); kill -9 of
# it while it loads the snapshot
$c->add_server(4);
use_snap_reader(4);
my $add_sql = "SELECT raft.add_node(4, '" . $c->addr(4) . "', '" . $c->conninfo(4) . "')";
my ($bg_out, $bg_err) = ('', '');
my $bg = IPC::Run::start(
	[ 'psql', '-X', '-d', $c->node($leader)->connstr('postgres'), '-c', $add_sql ],
	'>', \$bg_out, '2>', \$bg_err);
my $installing = 0;
my $deadline = time() + $PgRaftCluster::WAIT_SECONDS;
while (time() < $deadline)
{
	if ($c->node(4)->log_contains('installing the snapshot at index \d+ from node'))
	{
		$installing = 1;
		last;
	}
	usleep(20_000);
}
ok($installing, 'node 4 starts installing the snapshot');
$c->crash(4);
ok(!$c->node(4)->log_contains('installed the snapshot from node'),
	'node 4 was killed before the install completed');
# the waiting raft.add_node is cancelled (node 4 stays a learner)
$c->node($leader)->safe_psql('postgres',
	q{SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE query LIKE '%raft.add_node(4%' AND pid <> pg_backend_pid()});
$bg->finish;
note("raft.add_node while node 4 was killed: $bg_out $bg_err");

# restarted while every source refuses it: the install fails, and node 4
# stays as it was (no replicated table, nothing applied)
set_login('NOLOGIN', grep { $_ != 4 } $c->ids);
$c->start(4);
my $failures = 0;
$deadline = time() + $PgRaftCluster::WAIT_SECONDS;
while (time() < $deadline)
{
	$failures = $c->node(4)->safe_psql('postgres',
		'SELECT snapshot_install_failures FROM raft.status()');
	last if $failures >= 1;
	usleep(100_000);
}
cmp_ok($failures, '>=', 1, 'after the restart node 4 retries the install (and fails while refused)');
is($c->node(4)->safe_psql('postgres',
		q{SELECT count(*) FROM raft.replicated_tables}), '0',
	'node 4 has no replicated table: it is as it was before the install');
is($c->node(4)->safe_psql('postgres', 'SELECT applied_index FROM raft.applied'), '0',
	"node 4's raft.applied is as it was");

# let it in: the install completes.  raft.add_node may have promoted node
# 4 already (the core counts it caught up once it has the snapshot);
# otherwise a second call promotes it.
set_login('LOGIN', grep { $_ != 4 } $c->ids);
$leader = $c->wait_for_leader(among => [ grep { $_ != 4 } $c->ids ]);
my ($ok, $err) = (1, '');
if ($c->node($leader)->safe_psql('postgres', 'SELECT voter FROM raft.nodes() WHERE node_id = 4') ne 't')
{
	($ok, undef, $err) = $c->add_node($leader, 4);
}
ok($ok, 'node 4 is promoted to voter') or diag($err);
is($c->node($leader)->safe_psql('postgres', 'SELECT voter FROM raft.nodes() WHERE node_id = 4'), 't',
	'node 4 is a voter');
$c->wait_applied(4, $c->status($leader)->{commit});
ok($c->node(4)->log_contains('installed the snapshot from node'),
	'node 4 installed the snapshot after the restart');
$c->check_identical($_, 'after the interrupted install') for qw(kv big);

# a source that cannot be reached: node 4, added with raft.add_node, is
# known to the leader and named in its snapshots as another source; the
# leader refuses node 5, which fetches the tables from node 4 instead
$leader = $c->wait_for_leader;
$c->exec_ok($leader, 'DELETE FROM big WHERE id % 2 = 0');
$next = $c->write_until_compacted($leader, 'kv', $next, $c->status($leader)->{commit}, 'later');
$c->add_server(5);
use_snap_reader(5);
set_login('NOLOGIN', $leader);
($ok, undef, $err) = $c->add_node($leader, 5);
ok($ok, 'raft.add_node(5) while the leader refuses snapshot fetches') or diag($err);
$c->wait_applied(5, $c->status($c->wait_for_leader)->{commit});
ok($c->node(5)->log_contains(
		"node $leader is unreachable; fetching the snapshot at index \\d+ from node 4 instead"),
	"node 5 fetched the snapshot from node 4 while node $leader refused it");
set_login('LOGIN', $leader);
$c->check_identical($_, 'after an install from another member') for qw(kv big);

$c->stop_all;
done_testing();
