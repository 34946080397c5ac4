# regress/t/016_transfer_load.pl — leadership is handed over several times
# with raft.transfer_leadership while a background writer inserts through
# raft.exec on every server; no acknowledged write is lost and the table
# is identical on every server.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::RealBin/lib";
use PgRaftCluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);

my $c = PgRaftCluster->new(name => 'transfer');
my $leader = $c->wait_for_leader;
ok(defined $leader, 'a leader is elected');
$c->exec_ok($leader, 'CREATE TABLE kv (k int PRIMARY KEY, v text NOT NULL)');

my $w = $c->start_writer('kv', $c->ids);
$c->writer_progress($w, 20);

for my $round (1 .. 4)
{
	# the next server after the leader, so every server leads in turn
	my @ids = $c->ids;
	my ($pos) = grep { $ids[$_] == $leader } 0 .. $#ids;
	my $target = $ids[ ($pos + 1) % @ids ];
	$c->node($leader)->safe_psql('postgres', "SELECT raft.transfer_leadership($target)");
	my $now;
	my $deadline = time() + $PgRaftCluster::WAIT_SECONDS;
	while (time() < $deadline)
	{
		$now = $c->wait_for_leader;
		last if defined $now && $now == $target;
		usleep(100_000);
	}
	is($now, $target, "round $round: leadership moved from node $leader to node $target under load");
	$leader = $target;
	$c->writer_progress($w, 10);
}

my ($acked, $failed) = $c->stop_writer($w);
note(scalar(@$acked) . " writes acknowledged, " . scalar(@$failed) . " not");
cmp_ok(scalar(@$acked), '>=', 60, 'the writer went on through every transfer');
$c->check_acked($w, $acked, 'after the transfers');

$c->stop_all;
done_testing();
