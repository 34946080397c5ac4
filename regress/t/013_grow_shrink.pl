# regress/t/013_grow_shrink.pl — a cluster grows from 3 to 5 servers and
# shrinks back to 3 (removing the leader among others) while a background
# writer inserts through raft.exec; every write it saw acknowledged is on
# every remaining server, and the table is identical everywhere.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::RealBin/lib";
use PgRaftCluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);

my $c = PgRaftCluster->new(name => 'grow');
my $leader = $c->wait_for_leader;
ok(defined $leader, 'a leader is elected');
$c->exec_ok($leader, 'CREATE TABLE kv (k int PRIMARY KEY, v text NOT NULL)');

my $w = $c->start_writer('kv', 1, 2, 3);
$c->writer_progress($w, 20);

my $members_q = q{SELECT string_agg(node_id::text, ',' ORDER BY node_id) FROM raft.nodes() WHERE voter};

# Polls (bounded) until the leader lists exactly these voters.
sub wait_voters
{
	my ($want) = @_;
	my $got = '';
	my $deadline = time() + $PgRaftCluster::WAIT_SECONDS;
	while (time() < $deadline)
	{
		my $l = $c->wait_for_leader;
		$got = $c->node($l)->safe_psql('postgres', $members_q);
		last if $got eq $want;
		usleep(100_000);
	}
	is($got, $want, "the voters are $want");
}

# grow: 3 -> 5, one server at a time, under the write load
for my $id (4, 5)
{
	$c->add_server($id);
	$leader = $c->wait_for_leader(among => [ grep { $_ != $id } $c->ids ]);
	my ($ok, $out, $err) = $c->add_node($leader, $id);
	ok($ok, "raft.add_node($id) under load") or diag($err);
	$c->writer_targets($w, $c->ids);
	$c->writer_progress($w, 10);
}
wait_voters('1,2,3,4,5');
$c->writer_progress($w, 20);

# shrink: 5 -> 3, removing a follower and then the leader itself
$leader = $c->wait_for_leader;
my ($follower) = grep { $_ != $leader } (5, 4, 3);
my @leaving = ($follower, $leader);
for my $gone (@leaving)
{
	my @rest = grep { $_ != $gone } $c->ids;
	$c->writer_targets($w, @rest);
	my $on = $c->wait_for_leader(among => [ $c->ids ]);
	my ($ret, $out, $err) = $c->node($on)->psql('postgres', "SELECT raft.remove_node($gone)",
		timeout => 120);
	is($ret, 0, "raft.remove_node($gone) on node $on under load"
		. ($gone == $on ? ' (the leader removes itself)' : '')) or diag($err);
	$c->stop($gone);
	$c->forget($gone);
	$leader = $c->wait_for_leader;
	ok(defined $leader && $leader != $gone, "node $leader leads after node $gone left");
	$c->writer_progress($w, 10);
}
wait_voters(join(',', sort { $a <=> $b } $c->ids));
$c->writer_progress($w, 10);

my ($acked, $failed) = $c->stop_writer($w);
note(scalar(@$acked) . " writes acknowledged, " . scalar(@$failed) . " not");
cmp_ok(scalar(@$acked), '>=', 90, 'the writer went on through every change');
$c->check_acked($w, $acked, 'after growing and shrinking');

$c->stop_all;
done_testing();
