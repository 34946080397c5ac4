# regress/io/t/04_follower_catchup.t — a follower killed with -9 misses a
# batch of proposals; after restart it catches up from the leader and
# applies exactly what the others applied.
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use IoCluster;
use Test::More;

my $c = IoCluster->new(n => 3);
$c->start;
my $leader = $c->wait_leader(20);
ok($leader, 'a leader');
my ($follower) = grep { $_ != $leader } $c->ids;

my @acked;
push @acked, "before-$_" for grep { defined $c->propose_retry("before-$_", 20) } 1 .. 5;
ok($c->wait_until("follower has the first batch", 20, sub { $c->has_all($follower, \@acked) }),
	"node $follower has the first batch");

$c->kill9($follower);
my $missed = 0;
for my $k (1 .. 50)
{
	if (defined $c->propose_retry("missed-$k", 20))
	{
		push @acked, "missed-$k";
		$missed++;
	}
}
is($missed, 50, 'fifty proposals committed by two of three');
ok(!$c->has_all($follower, \@acked), 'the stopped follower does not have them');

$c->start($follower);
ok($c->wait_until("node $follower catches up", 30, sub { $c->has_all($follower, \@acked) }),
	"node $follower caught up after restart");
my @ref = $c->applied_texts($leader);
ok($c->wait_until('same applied log', 20, sub {
	join("\n", $c->applied_texts($follower)) eq join("\n", $c->applied_texts($leader)) }),
	'the follower applied exactly what the leader applied');
ok($c->logs_consistent, 'agreement at every index');

done_testing();
