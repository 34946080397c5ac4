# regress/io/t/08_stopped_peer.t — a slow peer: a follower frozen with
# SIGSTOP (it neither reads nor answers; its socket buffers fill) does not
# hold up the other two, and after SIGCONT it catches up.
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
my ($frozen) = grep { $_ != $leader } $c->ids;

my @acked;
push @acked, grep { defined $c->propose_retry($_, 20) } map { "warm-$_" } 1 .. 5;
kill 'STOP', $c->{pids}{$frozen};
note "node $frozen stopped";
my $big = 'x' x 2000;			# fills the frozen node's socket buffers faster
# Straight to the leader: asking the frozen node would only time out.
for my $k (1 .. 200)
{
	my ($r, $idx);
	$c->wait_until("frozen-$k committed", 20, sub {
		($r, $idx) = $c->propose($leader, "frozen-$k-$big");
		defined $r && $r eq 'ok';
	});
	push @acked, "frozen-$k-$big" if defined $r && $r eq 'ok';
}
is(scalar(@acked), 205, 'two of three keep committing while one is frozen');
kill 'CONT', $c->{pids}{$frozen};
ok($c->wait_until("node $frozen catches up", 60, sub { $c->has_all($frozen, \@acked) }),
	"node $frozen caught up after SIGCONT");
ok($c->logs_consistent, 'agreement at every index');
is(scalar($c->running), 3, 'all three still running');

done_testing();
