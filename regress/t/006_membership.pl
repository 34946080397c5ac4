# regress/t/006_membership.pl — membership and leadership through the log:
# a fourth, empty server is added with raft.add_node (a learner until it
# caught up, then a voter); leadership is handed over with
# raft.transfer_leadership; a member is removed with raft.remove_node and
# the rest go on; a server that never catches up stays a learner.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::RealBin/lib";
use PgRaftCluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);

my $c = PgRaftCluster->new(name => 'members');
my $leader = $c->wait_for_leader;
ok(defined $leader, 'a leader is elected');
$c->exec_ok($leader, 'CREATE TABLE kv (k int PRIMARY KEY, v text NOT NULL)');
$c->exec_ok($leader, 'INSERT INTO kv VALUES ($1, $2)', $_, "'three members'") for 1 .. 10;

# a new, empty server
$c->add_server(4);
my $addr4 = $c->addr(4);
my ($follower) = grep { $_ != $leader && $_ != 4 } $c->ids;
my ($ok, $out, $err) = $c->add_node($follower, 4);
like($err, qr/node $follower is not the Raft leader.*\n.*HINT:  The leader is node $leader/,
	'raft.add_node on a follower names the leader');

($ok, my $index, $err) = $c->add_node($leader, 4);
ok($ok, 'raft.add_node on the leader') or diag($err);
cmp_ok($index, '>', 0, "raft.add_node returns the index of the change ($index)");

# the new server catches up from the log and becomes a voter
$c->wait_applied(4, $c->status($leader)->{commit});
my $voters = '';
my $deadline = time() + $PgRaftCluster::WAIT_SECONDS;
while (time() < $deadline)
{
	$voters = $c->node($leader)->safe_psql('postgres',
		"SELECT string_agg(node_id::text, ',' ORDER BY node_id) FROM raft.nodes() WHERE voter");
	last if $voters eq '1,2,3,4';
	usleep(100_000);
}
is($voters, '1,2,3,4', 'the leader counts four voters');
is($c->node(4)->safe_psql('postgres', 'SELECT voter FROM raft.status()'), 't',
	'the new server knows it is a voter');
is($c->exec_ok(4, 'INSERT INTO kv VALUES ($1, $2)', 11, "'via the new member'"), '1',
	'the new member takes writes');
$c->check_identical('kv', 'with four members');

# hand leadership to another voter
my ($target) = grep { $_ != $leader } $c->ids;
$c->node($leader)->safe_psql('postgres', "SELECT raft.transfer_leadership($target)");
my $now_leader;
$deadline = time() + $PgRaftCluster::WAIT_SECONDS;
while (time() < $deadline)
{
	$now_leader = $c->wait_for_leader;
	last if defined $now_leader && $now_leader == $target;
	usleep(100_000);
}
is($now_leader, $target, "leadership moved to node $target");
$leader = $now_leader;

# remove a follower, stop it; the others go on
my ($gone) = grep { $_ != $leader } $c->ids;
$c->node($leader)->safe_psql('postgres', "SELECT raft.remove_node($gone)");
$deadline = time() + $PgRaftCluster::WAIT_SECONDS;
my $members = '';
while (time() < $deadline)
{
	$members = $c->node($leader)->safe_psql('postgres',
		"SELECT string_agg(node_id::text, ',' ORDER BY node_id) FROM raft.nodes()");
	last if $members !~ /\b$gone\b/;
	usleep(100_000);
}
unlike($members, qr/\b$gone\b/, "node $gone is no longer a member");
$c->stop($gone);
$c->forget($gone);
$leader = $c->wait_for_leader;
is($c->exec_ok($leader, 'INSERT INTO kv VALUES ($1, $2)', 12, "'after removal'"), '1',
	'the remaining members take writes');
my $rows = $c->check_identical('kv', 'after the removal');
like($rows, qr/\(12,"after removal"\)/, 'the last write is there');

# a server that never catches up stays a learner: it does not count in
# the majority, and writes go on (§4.2.1).  Node 9 runs, but its Raft
# worker is stopped (SIGSTOP), so it never answers the leader.
$c->add_server(9);
my $conninfo9 = $c->conninfo(9);
my $addr9 = $c->addr(9);
my $worker9 = $c->worker_pid(9);
ok(defined $worker9, "node 9's worker runs");
kill 'STOP', $worker9;
my ($ret);
($ret, $out, $err) = $c->node($leader)->psql('postgres',
	"SET statement_timeout = '3s'; SELECT raft.add_node(9, '$addr9', '$conninfo9')");
isnt($ret, 0, 'raft.add_node of a server that is not reached does not return');
is($c->node($leader)->safe_psql('postgres', 'SELECT voter FROM raft.nodes() WHERE node_id = 9'),
	'f', 'it is a learner, not a voter');
is($c->exec_ok($leader, 'INSERT INTO kv VALUES ($1, $2)', 13, "'with a learner'"), '1',
	'writes go on with an absent learner');
kill 'CONT', $worker9;
$c->node($leader)->safe_psql('postgres', 'SELECT raft.remove_node(9)');
is($c->node($leader)->safe_psql('postgres', 'SELECT count(*) FROM raft.nodes() WHERE node_id = 9'),
	'0', 'the learner is removed');
$c->stop(9);
$c->forget(9);
$c->check_identical('kv', 'after the learner');

$c->stop_all;
done_testing();
