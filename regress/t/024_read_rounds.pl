# regress/t/024_read_rounds.pl — the linearizable reads a worker takes in
# one pass share one ReadIndex round.  A follower's worker is stopped
# (SIGSTOP) while six sessions ask for a read fence, so that it finds all
# six waiting when it resumes: they must all be answered, by fewer rounds
# than reads (one forwarded request to the leader, not six), and each
# answer must still be a valid read point (the reads see a write the leader
# acknowledged before they began).
use strict;
use warnings;

use FindBin;
use lib "$FindBin::RealBin/lib";
use IPC::Run;
use PgRaftCluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);

my $readers = 6;

my $c = PgRaftCluster->new(name => 'read_rounds');
my $leader = $c->wait_for_leader;
ok(defined $leader, 'a leader is elected');
my ($follower) = grep { $_ != $leader } $c->ids;
my $node = $c->node($follower);

$c->exec_ok($leader, 'CREATE TABLE kv (k int PRIMARY KEY, v text NOT NULL)');
$c->exec_ok($leader, 'INSERT INTO kv VALUES (1, $1)', "'before the reads'");

sub read_counters
{
	my $out = $node->safe_psql('postgres',
		'SELECT read_requests, read_rounds FROM raft.status()');
	return split /\|/, $out;
}

sub waiting_readers
{
	return $node->safe_psql('postgres',
		"SELECT count(*) FROM pg_stat_activity
		  WHERE query LIKE '%raft.barrier()%' AND wait_event_type = 'Extension'
		    AND pid <> pg_backend_pid()");
}

my ($requests0, $rounds0) = read_counters();

my $worker = $c->worker_pid($follower);
ok(defined $worker, "the worker of node $follower is running");
kill 'STOP', $worker;

# Each reader fences, then reads the row the leader acknowledged before.
my @runs;
for my $i (1 .. $readers)
{
	my ($out, $err) = ('', '');
	my $h = IPC::Run::start(
		[ 'psql', '-X', '-A', '-t', '-h', $node->host, '-p', $node->port,
		  '-d', 'postgres', '-v', 'ON_ERROR_STOP=1',
		  '-c', 'SELECT raft.barrier() > 0',
		  '-c', 'SELECT v FROM kv WHERE k = 1' ],
		'>', \$out, '2>', \$err,
		IPC::Run::timeout($PgRaftCluster::WAIT_SECONDS));
	push @runs, [ $h, \$out, \$err ];
}

my $deadline = time() + $PgRaftCluster::WAIT_SECONDS;
my $waiting = 0;
while (time() < $deadline)
{
	$waiting = waiting_readers();
	last if $waiting >= $readers;
	usleep(50_000);
}
is($waiting, $readers, "all $readers read fences wait for the stopped worker");
kill 'CONT', $worker;

my $answered = 0;
for my $run (@runs)
{
	my ($h, $out, $err) = @$run;
	$h->finish;
	$answered++ if $h->result(0) == 0 && $$out eq "t\nbefore the reads\n";
	diag($$err) if $$err ne '';
}
is($answered, $readers, 'every read was answered and saw the acknowledged write');

# The counters are published at the end of the worker's loop.
my ($requests, $rounds) = (0, 0);
$deadline = time() + $PgRaftCluster::WAIT_SECONDS;
while (time() < $deadline)
{
	($requests, $rounds) = read_counters();
	last if $requests - $requests0 >= $readers;
	usleep(50_000);
}
cmp_ok($requests - $requests0, '>=', $readers, 'each read asked for a round');
cmp_ok($rounds - $rounds0, '>=', 1, 'the worker asked the core for a round');
cmp_ok($rounds - $rounds0, '<', $requests - $requests0,
	'the waiting reads shared rounds (' . ($rounds - $rounds0) . ' for '
	  . ($requests - $requests0) . ' reads)');

$c->check_identical('kv', 'after the reads');
$c->stop_all;
done_testing();
