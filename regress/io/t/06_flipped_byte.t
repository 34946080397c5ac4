# regress/io/t/06_flipped_byte.t — one flipped byte in the middle of a
# segment (inside a record that valid records follow) is damage, not a torn
# tail: the node refuses to open, exits with status 2 and names the file
# and the offset of the damaged record.  The other two keep serving.
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use IoCluster;
use Test::More;

my $seed = $ENV{IO_SEED} // (time ^ $$);
srand($seed);
note "IO_SEED=$seed";

my $c = IoCluster->new(n => 3);
$c->start;
my $leader = $c->wait_leader(20);
ok($leader, 'a leader');
my @acked = grep { defined $c->propose_retry($_, 20) } map { "flip-$_" } 1 .. 20;
is(scalar(@acked), 20, 'twenty proposals');

my ($victim) = grep { $_ != $leader } $c->ids;
ok($c->wait_until("node $victim has them", 20, sub { $c->has_all($victim, \@acked) }),
	"node $victim has them");
$c->kill9($victim);

my $seg = ($c->segments($victim))[-1];
my @recs = IoCluster::segment_records($seg);
cmp_ok(scalar(@recs), '>=', 10, 'the segment holds records');
# A record in the middle, one byte in the middle of it.
my $rec = $recs[ int(@recs / 4) + int(rand(@recs / 2)) ];
my $pos = $rec->{start} + int(rand(8 + $rec->{len}));
open my $f, '+<:raw', $seg or die "$seg: $!";
seek($f, $pos, 0) or die;
read($f, my $byte, 1) == 1 or die;
seek($f, $pos, 0) or die;
print $f chr(ord($byte) ^ (1 << int(rand(8))));
close $f or die;
note "flipped a bit of byte $pos, in the record of index $rec->{index} at $rec->{start}";

my $log_before = -s $c->log_file($victim);
$c->start($victim);
my $status = $c->wait_exit($victim, 10);
is($status, 2, 'the node refuses to open (exit status 2)');
my $log = substr(IoCluster::slurp($c->log_file($victim)), $log_before);
my ($name) = $seg =~ m{([^/]+)$};
like($log, qr/\Q$name\E/, 'the message names the segment file');
my ($off) = $log =~ /\Q$name\E\D*offset (\d+)/;
ok(defined $off && $off >= $rec->{start} && $off <= $pos,
	"the message names the damaged record's offset ($rec->{start}..$pos): " . ($off // 'none'));
note $log;

# The others keep going.
ok(defined $c->propose_retry('after-flip', 20), 'the other two still commit');

done_testing();
