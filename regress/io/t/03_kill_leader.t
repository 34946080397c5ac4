# regress/io/t/03_kill_leader.t — kill -9 of the leader in the middle of a
# stream of proposals: every proposal that was acknowledged before (or
# after) the kill is, once the node is back, applied on all three nodes, and
# the nodes agree on every index.
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use IoCluster;
use Test::More;

my $c = IoCluster->new(n => 3);
$c->start;
my $leader = $c->wait_leader(20);
ok($leader, "leader $leader");

my @acked;
for my $k (1 .. 10)
{
	my $idx = $c->propose_retry("pre-$k", 20);
	push @acked, "pre-$k" if defined $idx;
}
is(scalar(@acked), 10, 'ten proposals before the kill');

# A stream of proposals to the leader, one every few milliseconds; the
# leader is killed in the middle of it, with proposals in flight.
$SIG{PIPE} = 'IGNORE';
my $s = $c->connect_control($leader);
my $buf = '';
for my $k (1 .. 60)
{
	print $s "propose stream-$k\n";
	$s->flush;
	$c->kill9($leader) if $k == 40;
	Time::HiRes::sleep(0.005);
}
my @lines;
my @stream_acked;				# indexes acknowledged as committed
for my $line (@lines, map { IoCluster::read_line($s, 1, \$buf) } 1 .. 60)
{
	last unless defined $line;
	push @stream_acked, $1 if $line =~ /^ok (\d+)$/;
}
close $s;
note scalar(@stream_acked) . " of 60 stream proposals acknowledged before the kill";
ok(@stream_acked >= 1, 'part of the stream was acknowledged');

my @rest = grep { $_ != $leader } $c->ids;
ok($c->wait_leader(20, @rest), 'a new leader among the others');
for my $k (1 .. 10)
{
	my $idx = $c->propose_retry("post-$k", 30);
	ok(defined $idx, "post-$k acknowledged by the survivors");
	push @acked, "post-$k" if defined $idx;
}

$c->start($leader);
for my $i ($c->ids)
{
	ok($c->wait_until("node $i has every acknowledged proposal", 30,
		sub { $c->has_all($i, \@acked) }), "node $i has all " . scalar(@acked) . " acknowledged proposals");
}
# "ok <index>" promised that index holds that stream proposal, for good.
for my $i ($c->ids)
{
	my %at = map { $_->[0] => $_->[1] } $c->applied($i);
	my @missing = grep { !defined $at{$_} || $at{$_} !~ /^stream-\d+$/ } @stream_acked;
	is(scalar(@missing), 0, "node $i holds every acknowledged stream index")
	  or diag "missing on node $i: @missing";
}
ok($c->logs_consistent, 'the three applied logs agree at every index');

done_testing();
