# regress/t/007_five_servers.pl — five servers tolerate two failures: the
# leader and a follower crash (kill -9), the other three elect a leader and
# take writes; both come back and catch up; with three down, writes stop
# (no majority) and nothing acknowledged is lost.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::RealBin/lib";
use PgRaftCluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $c = PgRaftCluster->new(name => 'five', nodes => 5);
my %acked;

my $leader = $c->wait_for_leader;
ok(defined $leader, 'a leader is elected among five');
$c->exec_ok($leader, 'CREATE TABLE kv (k int PRIMARY KEY, v text NOT NULL)');
for my $k (1 .. 10)
{
	my ($ok) = $c->exec($leader, 'INSERT INTO kv VALUES ($1, $2)', $k, "'five up'");
	$acked{$k} = 1 if $ok;
}

# two down, one of them the leader
my ($other) = grep { $_ != $leader } $c->ids;
$c->crash($leader);
$c->crash($other);
my $new_leader = $c->wait_for_leader;
ok(defined $new_leader, "three of five elect a leader (node $new_leader)");
for my $k (11 .. 20)
{
	my $via = $c->exec_retry('INSERT INTO kv VALUES ($1, $2)', $k, "'three up'");
	$acked{$k} = 1 if defined $via;
}
is(scalar(keys %acked), 20, 'three of five take writes');

# a third one down: no majority, a write cannot be acknowledged
my ($third) = grep { $_ != $new_leader } $c->live_ids;
$c->stop($third);
my ($ok, $out, $err) = $c->exec($new_leader, 'INSERT INTO kv VALUES ($1, $2)', 99, "'two up'");
ok(!$ok, 'two of five cannot acknowledge a write');
like($err, qr/could not|canceling|outcome/, 'the error says why') or diag($err);

# everyone back
$c->start($_) for ($leader, $other, $third);
$leader = $c->wait_for_leader;
ok(defined $leader, 'five servers agree on a leader again');
my $rows = $c->check_identical('kv', 'after the failures');
my %present = map { (/^\((\d+),/)[0] => 1 } split /\n/, $rows;
is_deeply([ grep { !$present{$_} } sort { $a <=> $b } keys %acked ], [],
	'no acknowledged write is lost');

$c->stop_all;
done_testing();
