# regress/t/017_refused_changes.pl — membership changes that are refused
# change nothing, and say why with a SQLSTATE, a message and a hint:
# an unknown id (remove, transfer), an add of an id already a member, a
# new server that does not answer on the conninfo given, whose
# pg_raft.node_id is not the id given (a typo, an id clash) or whose
# pg_raft.listen_addr is not the Raft address given, a second
# change while one is in progress, and a removal after which the voters
# the leader hears from are not a majority of the remaining voters.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::RealBin/lib";
use IPC::Run;
use PgRaftCluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);

my $c = PgRaftCluster->new(name => 'refused');
my $leader = $c->wait_for_leader;
ok(defined $leader, 'a leader is elected');
$c->exec_ok($leader, 'CREATE TABLE kv (k int PRIMARY KEY, v text)');
$c->exec_ok($leader, 'INSERT INTO kv VALUES ($1, $2)', $_, "'before'") for 1 .. 5;

my $members_q = q{SELECT string_agg(format('%s:%s', node_id, voter), ',' ORDER BY node_id) FROM raft.nodes()};
my $members = $c->node($leader)->safe_psql('postgres', $members_q);
is($members, '1:t,2:t,3:t', 'three voters');

# Runs sql on server id; it must fail with sqlstate, a message matching
# msg and a hint; the membership stays as it was.
sub refused
{
	my ($id, $sql, $sqlstate, $msg, $label) = @_;
	my ($ret, $out, $err) = $c->node($id)->psql('postgres',
		"\\set VERBOSITY verbose\n$sql", timeout => 120);
	isnt($ret, 0, "$label: refused");
	like($err, qr/ERROR:  $sqlstate: $msg/, "$label: SQLSTATE $sqlstate and message")
	  or diag($err);
	like($err, qr/HINT:  \S/, "$label: with a hint");
	note($err);
	is($c->node($leader)->safe_psql('postgres', $members_q), $members,
		"$label: the membership is unchanged");
}

refused($leader, 'SELECT raft.remove_node(42)', '42704',
	'node 42 is not a member of the Raft configuration; cannot remove it', 'remove of an unknown id');
refused($leader, 'SELECT raft.transfer_leadership(42)', '42704',
	'node 42 is not a member of the Raft configuration; cannot transfer leadership to it',
	'transfer to an unknown id');
my ($other) = grep { $_ != $leader } $c->ids;
refused($leader, "SELECT raft.add_node($other, '127.0.0.1:1', 'host=unused')", '42710',
	"node $other is already a voting member", 'add of an id already a member');

# the new server's checks: conninfo, node id
$c->add_server(4);
my $addr4 = $c->addr(4);
my $conn4 = $c->conninfo(4);
refused($leader, "SELECT raft.add_node(4, '$addr4', 'host=/nonexistent port=1 dbname=postgres')",
	'08006', 'could not connect to the new server with the conninfo given', 'a new server that does not answer');
refused($leader, "SELECT raft.add_node(5, '$addr4', '$conn4')",
	'22023', 'the server at the conninfo given has pg_raft.node_id 4, not 5',
	'a node id that does not match the new server');
my $conn_other = $c->conninfo($other);
refused($leader, "SELECT raft.add_node(4, '$addr4', '$conn_other')",
	'22023', "the server at the conninfo given has pg_raft.node_id $other, not 4",
	'a conninfo that names a member (id clash or typo)');
refused($leader, "SELECT raft.add_node(4, '" . $c->addr($other) . "', '$conn4')",
	'42710', "node $other already has the Raft address", 'a Raft address a member has');
my $bad_addr = '127.0.0.1:' . PgRaftCluster::_free_port('127.0.0.1');
refused($leader, "SELECT raft.add_node(4, '$bad_addr', '$conn4')",
	'22023', "the new server's pg_raft.listen_addr is \"\Q$addr4\E\", not \"\Q$bad_addr\E\"",
	'a Raft address that is not the new server\'s listen_addr');

# a second change while one is in progress: node 4's Raft worker is
# stopped (SIGSTOP), so it never catches up and raft.add_node waits;
# meanwhile another change is refused
my $worker4 = $c->worker_pid(4);
ok(defined $worker4, "node 4's worker runs");
kill 'STOP', $worker4;
my ($bg_out, $bg_err) = ('', '');
my $bg = IPC::Run::start(
	[ 'psql', '-X', '-d', $c->node($leader)->connstr('postgres'), '-c',
	  "SET statement_timeout = '60s'; SELECT raft.add_node(4, '$addr4', '$conn4')" ],
	'>', \$bg_out, '2>', \$bg_err);
my $learner = '';
my $deadline = time() + $PgRaftCluster::WAIT_SECONDS;
while (time() < $deadline)
{
	$learner = $c->node($leader)->safe_psql('postgres', 'SELECT voter FROM raft.nodes() WHERE node_id = 4');
	last if $learner eq 'f';
	usleep(100_000);
}
is($learner, 'f', 'node 4 is a learner while raft.add_node waits for it');
$members = $c->node($leader)->safe_psql('postgres', $members_q);
refused($leader, "SELECT raft.remove_node($other)", '55006',
	'a membership change is already in progress', 'a second change while one is in progress');
my $pid = $c->node($leader)->safe_psql('postgres',
	q{SELECT pid FROM pg_stat_activity WHERE query LIKE '%raft.add_node(4%' AND pid <> pg_backend_pid()});
ok($pid =~ /^\d+$/, "the waiting raft.add_node runs in backend $pid");
$c->node($leader)->safe_psql('postgres', "SELECT pg_cancel_backend($pid)");
$bg->finish;
like($bg_err, qr/canceling statement/, 'the waiting raft.add_node was cancelled');
kill 'CONT', $worker4;
$c->node($leader)->safe_psql('postgres', 'SELECT raft.remove_node(4)');
$members = $c->node($leader)->safe_psql('postgres', $members_q);
is($members, '1:t,2:t,3:t', 'the learner is removed: three voters again');
$c->stop(4);
$c->forget(4);

# a removal that would leave no quorum: with one follower down, removing
# the other leaves two voters of which the leader hears from one
$leader = $c->wait_for_leader;
my ($down, $up) = grep { $_ != $leader } $c->ids;
$c->crash($down);
# the leader notices (bounded poll on its view of the follower)
$deadline = time() + $PgRaftCluster::WAIT_SECONDS;
my $refused_ok = 0;
while (time() < $deadline)
{
	my ($ret, $out, $err) = $c->node($leader)->psql('postgres',
		"\\set VERBOSITY verbose\nSELECT raft.remove_node($up)");
	if ($ret != 0 && $err =~ /55000: cannot remove node $up: the remaining voters would have no quorum/)
	{
		$refused_ok = 1;
		like($err, qr/HINT:  Bring the servers that are down back first/, 'the quorum refusal has a hint');
		note($err);
		last;
	}
	die "remove_node($up) was accepted with node $down down" if $ret == 0;
	usleep(200_000);
}
ok($refused_ok, "removing node $up while node $down is down is refused (no quorum)");
is($c->node($leader)->safe_psql('postgres', $members_q), $members,
	'the membership is unchanged after the quorum refusal');
is($c->exec_ok($leader, 'INSERT INTO kv VALUES ($1, $2)', 6, "'after the refusals'"), '1',
	'the cluster still takes writes');

# removing the server that is down is accepted
$c->node($leader)->safe_psql('postgres', "SELECT raft.remove_node($down)");
$c->forget($down);
is($c->node($leader)->safe_psql('postgres', $members_q),
	join(',', map { "$_:t" } sort { $a <=> $b } ($leader, $up)),
	'removing the server that is down is accepted');
$c->exec_ok($c->wait_for_leader, 'INSERT INTO kv VALUES ($1, $2)', 7, "'two members'");
my $rows = $c->check_identical('kv', 'at the end');
like($rows, qr/\(7,"two members"\)/, 'the last write is there');

$c->stop_all;
done_testing();
