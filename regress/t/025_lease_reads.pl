# regress/t/025_lease_reads.pl — reads under pg_raft.read_consistency =
# lease.  On the leader they take their read index from the lease its
# worker publishes in shared memory, without a request to the worker
# (raft.status()'s read_requests hardly moves); a write acknowledged
# through a follower is seen at once by a lease read on the leader (the
# lease is published before any message carries a new commit index); and
# a leader whose worker is stopped (SIGSTOP) stops answering from its
# lease once the published lease lapses, instead of serving reads the
# worker no longer vouches for.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::RealBin/lib";
use PgRaftCluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);

my $c = PgRaftCluster->new(name => 'lease_reads');
my $leader = $c->wait_for_leader;
ok(defined $leader, 'a leader is elected');
my ($follower) = grep { $_ != $leader } $c->ids;
my $lnode = $c->node($leader);

$c->exec_ok($leader, 'CREATE TABLE kv (k int PRIMARY KEY, v text NOT NULL)');
$c->exec_ok($leader, 'INSERT INTO kv VALUES (1, $1)', "'first'");
$lnode->safe_psql('postgres', 'SELECT raft.barrier()');

sub read_requests
{
	return $lnode->safe_psql('postgres', 'SELECT read_requests FROM raft.status()');
}

# 1. many lease reads, few (if any) requests to the worker
my $reads = 40;
my $before = read_requests();
my $out = $lnode->safe_psql('postgres',
	"SET pg_raft.read_consistency = lease;\n"
	  . join('', map { "SELECT v FROM kv WHERE k = 1;\n" } 1 .. $reads));
my @rows = split /\n/, $out;
is(scalar(grep { $_ eq 'first' } @rows), $reads, "$reads lease reads on the leader see the row");
my $asked = read_requests() - $before;
cmp_ok($asked, '<', $reads / 2,
	"most lease reads were answered without the worker ($asked of $reads asked it)");

# 2. a write acknowledged through a follower, then a lease read on the
# leader: it sees the write
for my $i (1 .. 10)
{
	$c->exec_ok($follower, 'UPDATE kv SET v = $1 WHERE k = 1', "'w$i'");
	is($lnode->safe_psql('postgres',
			"SET pg_raft.read_consistency = lease; SELECT v FROM kv WHERE k = 1"),
		"w$i", "write $i through node $follower: a lease read on the leader sees it");
}

# 3. the leader's worker stopped: once the published lease lapses (it
# lasts until the worker's next tick), a lease read waits for the worker
# and times out rather than answer
my $hb_ms = $lnode->safe_psql('postgres', q{SELECT setting FROM pg_settings WHERE name = 'pg_raft.heartbeat_interval'});
my $worker = $c->worker_pid($leader);
ok(defined $worker, "the worker of node $leader runs");
kill 'STOP', $worker;
usleep(3 * $hb_ms * 1000);
my ($ret, $o, $err) = $lnode->psql('postgres',
	"SET statement_timeout = '2s'; SET pg_raft.read_consistency = lease; SELECT v FROM kv WHERE k = 1");
isnt($ret, 0, 'a lease read on a leader whose worker is stopped is not answered');
like($err, qr/canceling statement due to statement timeout|could not confirm/,
	'it waits for the worker, then times out') or diag($err);
kill 'CONT', $worker;

# the cluster goes on (perhaps under a new leader)
$leader = $c->wait_for_leader;
$c->exec_ok($leader, 'UPDATE kv SET v = $1 WHERE k = 1', "'after'");
$c->check_identical('kv', 'after the stopped worker');

$c->stop_all;
done_testing();
