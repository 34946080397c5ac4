# regress/t/002_failover.pl — kill -9 of the leader: a new leader is elected,
# no acknowledged write is lost, the old leader restarts and catches up; a
# follower restarted after missing writes catches up.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::RealBin/lib";
use PgRaftCluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $c = PgRaftCluster->new(name => 'failover');
my %acked;

my $leader = $c->wait_for_leader;
ok(defined $leader, "a leader is elected");
$c->exec_ok($leader, 'CREATE TABLE kv (k int PRIMARY KEY, v text NOT NULL)');
for my $k (1 .. 20)
{
	my ($ok) = $c->exec($leader, 'INSERT INTO kv VALUES ($1, $2)', $k, "'before crash'");
	$acked{$k} = 1 if $ok;
}
is(scalar(keys %acked), 20, 'all writes before the crash are acknowledged');

# crash the leader
$c->crash($leader);
my $new_leader = $c->wait_for_leader(not => $leader);
ok(defined $new_leader && $new_leader != $leader,
	"a new leader is elected after the leader crashed (node $new_leader)");

for my $k (21 .. 40)
{
	my $via = $c->exec_retry('INSERT INTO kv VALUES ($1, $2)', $k, "'after crash'");
	$acked{$k} = 1 if defined $via;
}
is(scalar(keys %acked), 40, 'writes are taken while the old leader is down');

# the old leader restarts and catches up
$c->start($leader);
$c->wait_for_leader;
my $rows = $c->check_identical('kv', 'after the old leader restarted');
my %present = map { (/^\((\d+),/)[0] => 1 } split /\n/, $rows;
is_deeply([ grep { !$present{$_} } sort { $a <=> $b } keys %acked ], [],
	'no acknowledged write is lost');

# a follower misses writes while stopped, then catches up
$leader = $c->wait_for_leader;
my ($follower) = grep { $_ != $leader } $c->ids;
$c->stop($follower);
for my $k (41 .. 60)
{
	my ($ok) = $c->exec($leader, 'INSERT INTO kv VALUES ($1, $2)', $k, "'follower down'");
	$acked{$k} = 1 if $ok;
}
is(scalar(keys %acked), 60, 'writes are taken with a follower down');
$c->start($follower);
$c->wait_applied($follower, $c->status($leader)->{commit});
$rows = $c->check_identical('kv', 'after the follower restarted');
%present = map { (/^\((\d+),/)[0] => 1 } split /\n/, $rows;
is_deeply([ grep { !$present{$_} } sort { $a <=> $b } keys %acked ], [],
	'the restarted follower has every acknowledged write');

# SIGTERM of a Raft worker process alone: it restarts, its applier
# reconnects, and the server catches up
($follower) = grep { $_ != $leader } $c->ids;
my $old_pid = $c->worker_pid($follower);
ok(defined $old_pid, "node $follower has a Raft worker");
kill('TERM', $old_pid);
for my $k (61 .. 70)
{
	my ($ok) = $c->exec($leader, 'INSERT INTO kv VALUES ($1, $2)', $k, "'worker restarted'");
	$acked{$k} = 1 if $ok;
}
$c->wait_for_leader;
my $new_pid = $c->worker_pid($follower);
ok(defined $new_pid && $new_pid != $old_pid, 'the Raft worker was started again');
is($c->exec_ok($follower, 'UPDATE kv SET v = $1 WHERE k = $2', "'via restarted worker'", 61),
	'1', 'the server with the restarted worker takes writes');
$rows = $c->check_identical('kv', 'after the worker restarted');
%present = map { (/^\((\d+),/)[0] => 1 } split /\n/, $rows;
is_deeply([ grep { !$present{$_} } sort { $a <=> $b } keys %acked ], [],
	'every acknowledged write is there');

# SIGTERM of an applier alone: it restarts at its durable applied index
# and the worker resends what follows
my $applier = $c->worker_pid($follower, 'applier');
ok(defined $applier, "node $follower has an applier");
kill('TERM', $applier);
for my $k (71 .. 80)
{
	my ($ok) = $c->exec($leader, 'INSERT INTO kv VALUES ($1, $2)', $k, "'applier restarted'");
	$acked{$k} = 1 if $ok;
}
$c->wait_applied($follower, $c->status($leader)->{commit});
my $new_applier = $c->worker_pid($follower, 'applier');
ok(defined $new_applier && $new_applier != $applier, 'the applier was started again');
$rows = $c->check_identical('kv', 'after the applier restarted');
%present = map { (/^\((\d+),/)[0] => 1 } split /\n/, $rows;
is_deeply([ grep { !$present{$_} } sort { $a <=> $b } keys %acked ], [],
	'every acknowledged write is there once');

$c->stop_all;
done_testing();
