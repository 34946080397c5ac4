# regress/io/t/05_torn_tail.t — torn tails.  A node (follower or leader)
# is killed with -9 in the middle of a stream of proposals; then the last
# segment of its log gets a torn write: the start of one more record after
# its last one, cut at a random offset inside that record (what a crash in
# the middle of a write leaves).  The node must open, report the repair,
# keep every entry it had, and the cluster loses nothing it acknowledged.
#
# A harsher fault is checked last: cutting at a random offset in entries
# a follower had already synced and acknowledged but not yet seen
# committed.  Raft assumes acknowledged entries stay durable; the others
# still have them, and the leader, finding the follower's log shorter than
# what it acknowledged, moves its match index back and sends them again.
#
# Offsets come from IO_SEED (printed), so a failure replays.
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use IoCluster;
use Test::More;

my $seed = $ENV{IO_SEED} // (time ^ $$);
srand($seed);
note "IO_SEED=$seed";
$SIG{PIPE} = 'IGNORE';

my $c = IoCluster->new(n => 3);
$c->start;
ok($c->wait_leader(20), 'a leader');

my @acked_texts;
my @acked_idx;

# Proposals to the leader, one every few ms; victim killed at the middle.
sub stream_and_kill
{
	my ($tag, $victim) = @_;
	my $leader = $c->wait_leader(20) or return;
	my $s = $c->connect_control($leader) or return;
	for my $k (1 .. 30)
	{
		print $s "propose $tag-$k\n";
		$s->flush;
		$c->kill9($victim) if $k == 15;
		Time::HiRes::sleep(0.003);
	}
	my $buf = '';
	if ($victim != $leader)
	{
		while (defined(my $line = IoCluster::read_line($s, 3, \$buf)))
		{
			push @acked_idx, $1 if $line =~ /^ok (\d+)$/;
		}
	}
	else
	{
		while (defined(my $line = IoCluster::read_line($s, 1, \$buf)))
		{
			push @acked_idx, $1 if $line =~ /^ok (\d+)$/;
		}
	}
	close $s;
}

sub more_proposals
{
	my ($tag) = @_;
	for my $k (1 .. 3)
	{
		my $idx = $c->propose_retry("$tag-after-$k", 30);
		push @acked_texts, "$tag-after-$k" if defined $idx;
	}
}

for my $round (1 .. 4)
{
	my $leader = $c->wait_leader(20) // 1;
	my @followers = grep { $_ != $leader } $c->ids;
	# Rounds 1 and 3 tear the leader's log, 2 and 4 a follower's.
	my $victim = $round % 2 ? $leader : $followers[ int(rand(@followers)) ];
	stream_and_kill("r$round", $victim);

	my $seg = ($c->segments($victim))[-1];
	my @recs = IoCluster::segment_records($seg);
	my $last = $recs[-1];
	my $img = IoCluster::slurp($seg);
	# The next record as it would have been written, then torn.
	my $next = substr($img, $last->{start}, $last->{end} - $last->{start});
	substr($next, 8 + 9, 8) = pack('Q<', $last->{index} + 1);
	my $keep = 1 + int(rand(length($next) - 1));
	open my $f, '+<:raw', $seg or die "$seg: $!";
	seek($f, $last->{end}, 0) or die;
	print $f $next;
	close $f or die;
	truncate($seg, $last->{end} + $keep) or die "truncate: $!";
	note sprintf("round %d: node %d%s, last index %d ends at %d; torn record cut after %d of %d bytes",
		$round, $victim, $victim == $leader ? ' (leader)' : '', $last->{index},
		$last->{end}, $keep, length $next);

	my $log_before = -s $c->log_file($victim);
	$c->start($victim);
	ok($c->alive($victim), "round $round: node $victim opens its torn log");
	my $log = substr(IoCluster::slurp($c->log_file($victim)), $log_before);
	like($log, qr/log repaired: .*\Q$last->{end}\E/, "round $round: the cut at offset $last->{end} is reported");
	like($log, qr/loaded term \d+ commit \d+, \Q$last->{index}\E entries/,
		"round $round: all $last->{index} entries kept");
	more_proposals("r$round");
	ok($c->wait_until("node $victim catches up", 30,
		sub { $c->has_all($victim, \@acked_texts) }), "round $round: node $victim caught up");
}

for my $i ($c->ids)
{
	ok($c->wait_until("node $i has everything acknowledged", 30,
		sub { $c->has_all($i, \@acked_texts) }), "node $i has every acknowledged proposal");
	my %at;
	ok($c->wait_until("node $i has every acknowledged index", 30, sub {
		%at = map { $_->[0] => $_->[1] } $c->applied($i);
		!grep { !defined $at{$_} } @acked_idx }),
		"node $i holds all " . scalar(@acked_idx) . " indexes acknowledged in the streams");
}
ok($c->logs_consistent, 'agreement at every index');

# The harsher fault (see the header): cut into synced, unseen-committed
# entries of a follower.  Only where its durable commit leaves a tail.
{
	my $leader = $c->wait_leader(20) // 1;
	my ($victim) = grep { $_ != $leader } $c->ids;
	my ($low, $high, $seg) = (0, 0);
	for my $attempt (1 .. 10)
	{
		stream_and_kill("harsh$attempt", $victim);
		$seg = ($c->segments($victim))[-1];
		my @recs = IoCluster::segment_records($seg);
		my $commit = $c->hard_state_commit($victim);
		my ($crec) = grep { $_->{index} == $commit } @recs;
		($low, $high) = ($crec ? $crec->{end} : 32, $recs[-1]{end});
		last if $high > $low;
		$c->start($victim);
	}
  SKIP:
	{
		skip 'no uncommitted tail in ten tries', 3 unless $high > $low;
		my $off = $low + int(rand($high - $low + 1));
		note "harsh: node $victim, uncommitted tail $low..$high, cut at $off";
		truncate($seg, $off) or die "truncate: $!";
		$c->start($victim);
		ok($c->alive($victim), "harsh: node $victim opens");
		more_proposals('harsh');
		ok($c->wait_until("node $victim catches up", 15,
			sub { $c->has_all($victim, \@acked_texts) }), "harsh: node $victim caught up");
		ok($c->logs_consistent, 'harsh: agreement at every index');
	}
}

done_testing();
