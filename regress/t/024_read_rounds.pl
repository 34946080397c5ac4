# regress/t/024_read_rounds.pl — the linearizable reads a worker takes in
# one pass share one ReadIndex round.  A follower's worker is stopped
# (SIGSTOP) while six sessions ask for a read fence, so that it finds all
# six waiting when it resumes: they must all be answered, by fewer rounds
# than reads (one forwarded request to the leader, not six), and each
# answer must still be a valid read point (the reads see a write the leader
# acknowledged before they began).  Then reads that arrive while a round is
# in flight wait for the next round instead of starting their own.
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

# a long election timeout: section 2 stops the leader's worker for a while
my $c = PgRaftCluster->new(name => 'read_rounds',
	conf => "pg_raft.election_timeout = 6000\n");
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

# A reader fences (raft.barrier), then reads, without a fence of its own,
# the row the leader acknowledged before.
sub start_reader
{
	my ($out, $err) = ('', '');
	my $h = IPC::Run::start(
		[ 'psql', '-X', '-q', '-A', '-t', '-h', $node->host, '-p', $node->port,
		  '-d', 'postgres', '-v', 'ON_ERROR_STOP=1',
		  '-c', 'SELECT raft.barrier() > 0',
		  '-c', 'SET pg_raft.read_consistency = local',	# one fence each
		  '-c', 'SELECT v FROM kv WHERE k = 1' ],
		'>', \$out, '2>', \$err,
		IPC::Run::timeout($PgRaftCluster::WAIT_SECONDS));
	return [ $h, \$out, \$err ];
}

# Waits for every reader; returns how many were answered with the row.
sub finish_readers
{
	my $answered = 0;
	for my $run (@_)
	{
		my ($h, $out, $err) = @$run;
		$h->finish;
		$answered++ if $h->result(0) == 0 && $$out eq "t\nbefore the reads\n";
		diag($$err) if $$err ne '';
	}
	return $answered;
}

# Polls the counters until read_requests reaches at least $want.
sub counters_when
{
	my ($want) = @_;
	my ($requests, $rounds) = (0, 0);
	my $deadline = time() + $PgRaftCluster::WAIT_SECONDS;
	while (time() < $deadline)
	{
		($requests, $rounds) = read_counters();
		last if $requests >= $want;
		usleep(50_000);
	}
	return ($requests, $rounds);
}

sub wait_readers
{
	my ($n) = @_;
	my $deadline = time() + $PgRaftCluster::WAIT_SECONDS;
	my $waiting = 0;
	while (time() < $deadline)
	{
		$waiting = waiting_readers();
		last if $waiting >= $n;
		usleep(50_000);
	}
	return $waiting;
}

# 1. Reads that arrive while the worker is stopped share one round.
my @runs = map { start_reader() } 1 .. $readers;

is(wait_readers($readers), $readers, "all $readers read fences wait for the stopped worker");
kill 'CONT', $worker;
is(finish_readers(@runs), $readers, 'every read was answered and saw the acknowledged write');

# The counters are published at the end of the worker's loop.
my ($requests, $rounds) = counters_when($requests0 + $readers);
cmp_ok($requests - $requests0, '>=', $readers, 'each read asked for a round');
cmp_ok($rounds - $rounds0, '>=', 1, 'the worker asked the core for a round');
cmp_ok($rounds - $rounds0, '<', $requests - $requests0,
	'the waiting reads shared rounds (' . ($rounds - $rounds0) . ' for '
	  . ($requests - $requests0) . ' reads)');

# 2. While a round is in flight, new reads wait for the next one.  The
# leader's worker is stopped, so the follower's round for a first read
# (forwarded to the leader) stays unanswered; five more reads arrive
# meanwhile and start no round; once the leader resumes, the first read is
# answered and the five share one more round.
my $lworker = $c->worker_pid($leader);
ok(defined $lworker, "the worker of the leader, node $leader, is running");
($requests0, $rounds0) = read_counters();
kill 'STOP', $lworker;
my @first = (start_reader());
($requests, $rounds) = counters_when($requests0 + 1);
is($requests - $requests0, 1, 'the first read asked for a round');
my @held = map { start_reader() } 2 .. $readers;
is(wait_readers($readers), $readers, "all $readers read fences wait");
usleep(300_000);				# several passes of the follower's worker
($requests, $rounds) = read_counters();
is($requests - $requests0, 1, 'the reads that came during the round did not start rounds');
is($rounds - $rounds0, 1, 'one round in flight');
kill 'CONT', $lworker;
is(finish_readers(@first, @held), $readers, 'every read was answered and saw the acknowledged write');
($requests, $rounds) = counters_when($requests0 + $readers);
is($requests - $requests0, $readers, 'each read went through a round');
is($rounds - $rounds0, 2, 'the held reads shared the next round');

$c->check_identical('kv', 'after the reads');
$c->stop_all;
done_testing();
