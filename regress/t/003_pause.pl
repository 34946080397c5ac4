# regress/t/003_pause.pl — SIGSTOP of the leader: the others elect a leader
# and take writes; the paused server steps down when resumed and catches up.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::RealBin/lib";
use PgRaftCluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);

my $c = PgRaftCluster->new(name => 'pause');
my %acked;

my $leader = $c->wait_for_leader;
ok(defined $leader, "a leader is elected");
$c->exec_ok($leader, 'CREATE TABLE kv (k int PRIMARY KEY, v text NOT NULL)');
for my $k (1 .. 10)
{
	my ($ok) = $c->exec($leader, 'INSERT INTO kv VALUES ($1, $2)', $k, "'before pause'");
	$acked{$k} = 1 if $ok;
}
my $old_term = $c->status($leader)->{term};

$c->pause($leader);
my $new_leader = $c->wait_for_leader(not => $leader);
ok(defined $new_leader && $new_leader != $leader,
	"the others elect node $new_leader while node $leader is paused");
for my $k (11 .. 30)
{
	my $via = $c->exec_retry('INSERT INTO kv VALUES ($1, $2)', $k, "'during pause'");
	$acked{$k} = 1 if defined $via;
}
is(scalar(keys %acked), 30, 'the majority takes writes while the leader is paused');

$c->resume($leader);
my $stepped_down = 0;
my $deadline = time() + $PgRaftCluster::WAIT_SECONDS;
while (time() < $deadline)
{
	my $st = $c->status($leader);
	if ($st && $st->{role} ne 'leader' && $st->{leader} != 0 && $st->{leader} != $leader)
	{
		$stepped_down = 1;
		cmp_ok($st->{term}, '>', $old_term, 'the resumed server moved to a later term');
		last;
	}
	usleep(100_000);
}
ok($stepped_down, 'the resumed server stepped down and follows the new leader');

$c->wait_for_leader;
my $rows = $c->check_identical('kv', 'after the pause');
my %present = map { (/^\((\d+),/)[0] => 1 } split /\n/, $rows;
is_deeply([ grep { !$present{$_} } sort { $a <=> $b } keys %acked ], [],
	'no acknowledged write is lost');

$c->stop_all;
done_testing();
