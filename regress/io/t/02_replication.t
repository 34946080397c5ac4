# regress/io/t/02_replication.t — proposals through every node (followers
# forward to the leader) are acknowledged only once committed and applied
# there, with increasing indexes, and every node applies the same commands
# in the same order.
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use IoCluster;
use Test::More;

my $c = IoCluster->new(n => 3);
$c->start;
ok($c->wait_leader(20), 'a leader');

my @sent;
my $prev = 0;
my $increasing = 1;
for my $k (1 .. 30)
{
	my $i = 1 + $k % 3;
	my $text = "rep-$k-via-$i";
	my ($r, $idx);
	$c->wait_until("propose $text on node $i", 20, sub {
		($r, $idx) = $c->propose($i, $text);
		defined $r && $r eq 'ok';
	});
	is($r, 'ok', "$text acknowledged at index " . ($idx // '?'));
	# The acknowledging node has applied it already.
	ok((grep { $_ eq $text } $c->applied_texts($i)), "$text applied on node $i when acknowledged");
	$increasing = 0 unless defined $idx && $idx > $prev;
	$prev = $idx // $prev;
	push @sent, $text;
}
ok($increasing, 'indexes increase');

for my $i ($c->ids)
{
	ok($c->wait_until("node $i has everything", 20, sub { $c->has_all($i, \@sent) }),
		"node $i applied all 30");
	my @texts = grep { /^rep-/ } $c->applied_texts($i);
	is_deeply(\@texts, \@sent, "node $i applied them once each, in order");
}
ok($c->logs_consistent, 'same command at every index on every node');

# The control channel's `log` matches the file.
{
	my $s = $c->connect_control(2);
	print $s "log\n";
	my $buf = '';
	my $head = IoCluster::read_line($s, 3, \$buf) // '';
	my ($n) = $head =~ /^log (\d+)$/;
	my @lines = map { IoCluster::read_line($s, 3, \$buf) } 1 .. ($n // 0);
	my @file = map { "$_->[0] $_->[1]" } $c->applied(2);
	is_deeply(\@lines, \@file, 'the log command returns the applied commands');
}

done_testing();
