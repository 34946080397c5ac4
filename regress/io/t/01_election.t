# regress/io/t/01_election.t — three raft-node processes elect one leader
# that all agree on; at most one leader per term; after kill -9 of the
# leader, the other two elect a new one in a higher term.
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use IoCluster;
use Test::More;

my $c = IoCluster->new(n => 3);
$c->start;
is(scalar($c->running), 3, 'three nodes running');

my $leader = $c->wait_leader(20);
ok($leader, "all three agree on leader " . ($leader // 'none'));

# At most one leader per term, sampled repeatedly.
my %leader_of_term;
my $split = 0;
for (1 .. 20)
{
	for my $i ($c->ids)
	{
		my $st = $c->status($i) or next;
		next unless $st->{role} eq 'leader';
		my $t = $st->{term};
		$split++ if defined $leader_of_term{$t} && $leader_of_term{$t} != $i;
		$leader_of_term{$t} = $i;
	}
	Time::HiRes::sleep(0.05);
}
is($split, 0, 'never two leaders in one term');

my $old_term = $c->status($leader)->{term};
$c->kill9($leader);
my @rest = grep { $_ != $leader } $c->ids;
my $new = $c->wait_leader(20, @rest);
ok($new && $new != $leader, "a new leader after kill -9 of node $leader: " . ($new // 'none'));
cmp_ok($c->status($new)->{term}, '>', $old_term, 'in a higher term') if $new;

$c->start($leader);
ok($c->wait_until('the old leader follows the new one', 20,
	sub { my $st = $c->status($leader); $st && $st->{role} eq 'follower' && $st->{leader} == ($new // -1) }),
	'the restarted node follows');

done_testing();
