# regress/t/005_outcome.pl — what raft.exec says when it cannot know.  A
# leader cut off from its followers (both paused) takes a proposal, then
# steps down (check quorum):
#   - with statement_timeout, the error says the statement may still be
#     applied;
#   - without, the wait ends with SQLSTATE 40003 (completion unknown);
#   - once there is no leader, a new statement is refused with 40001 and
#     "safe to retry" (it never entered the log);
#   - under the default read consistency, raft.exec first waits for a read
#     fence, which a cut-off leader cannot get: refused with 40001 before
#     anything is proposed.
# Sessions that test what happens after proposing set
# pg_raft.read_consistency = local, which skips the fence.
# Afterwards the servers agree, whatever became of those statements.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::RealBin/lib";
use PgRaftCluster;
use PostgreSQL::Test::Utils;
use Test::More;

# a long election timeout: the leader keeps leading a while after the pause
my $c = PgRaftCluster->new(name => 'outcome',
	conf => "pg_raft.election_timeout = 4000\npg_raft.heartbeat_interval = 100\n");
my $leader = $c->wait_for_leader;
ok(defined $leader, 'a leader is elected');
$c->exec_ok($leader, 'CREATE TABLE kv (k int PRIMARY KEY, v text NOT NULL)');
$c->exec_ok($leader, 'INSERT INTO kv VALUES ($1, $2)', 1, "'committed'");
$c->check_identical('kv', 'before the partition');
my @followers = grep { $_ != $leader } $c->ids;

sub exec_verbose
{
	my ($id, $sql) = @_;
	my ($ret, $out, $err) = $c->node($id)->psql('postgres', $sql,
		extra_params => [ '-v', 'VERBOSITY=verbose' ]);
	return ($ret, $err);
}

# 0. reads on a leader cut off from its followers: a linearizable read
# needs a heartbeat round a majority answers, so it waits; a lease read is
# answered from the lease taken before the pause (half an election
# timeout, §6.4.1), without a round.
$c->pause($_) for @followers;
my ($lr, $lo, $le) = $c->node($leader)->psql('postgres',
	"SET statement_timeout = '20s'; SET pg_raft.read_consistency = lease; SELECT count(*) FROM kv");
is($lo, '1', 'a lease read on the cut-off leader is answered from its lease') or diag($le);
($lr, $lo, $le) = $c->node($leader)->psql('postgres',
	"SET statement_timeout = '1s'; SELECT count(*) FROM kv");
like($le, qr/canceling statement due to statement timeout|could not confirm/,
	'a linearizable read on the cut-off leader does not return');
$c->resume($_) for @followers;
$leader = $c->wait_for_leader;
@followers = grep { $_ != $leader } $c->ids;

# 1. proposed, then statement_timeout
$c->pause($_) for @followers;
my ($ret, $err) = exec_verbose($leader,
	"SET pg_raft.read_consistency = local; SET statement_timeout = '2s'; SELECT raft.exec('INSERT INTO kv VALUES (2, ''timeout'')')");
isnt($ret, 0, 'raft.exec without a quorum fails');
like($err, qr/57014: canceling statement due to statement timeout/,
	'statement_timeout ends the wait');
like($err, qr/already proposed to the Raft log; it may or may not be applied/,
	'the error says the statement may still be applied');
$c->resume($_) for @followers;
$leader = $c->wait_for_leader;
@followers = grep { $_ != $leader } $c->ids;

# 2. proposed, never seen applied: unknown
$c->pause($_) for @followers;
($ret, $err) = exec_verbose($leader,
	"SET pg_raft.read_consistency = local; SELECT raft.exec('INSERT INTO kv VALUES (3, ''unknown'')')");
isnt($ret, 0, 'raft.exec without a quorum and without a timeout fails');
like($err, qr/40003: could not learn the outcome of the replicated statement/,
	'the outcome is reported unknown (SQLSTATE 40003)');

# 3. no leader any more: refused, safe to retry
($ret, $err) = exec_verbose($leader,
	"SET pg_raft.read_consistency = local; SELECT raft.exec('INSERT INTO kv VALUES (4, ''no leader'')')");
like($err, qr/40001: could not propose the statement: no Raft leader is known/,
	'without a leader the statement is refused (SQLSTATE 40001)');
like($err, qr/never entered the Raft log; it is safe to retry/,
	'the error says it is safe to retry');

# every wait that ends releases its request slot: more cancelled requests
# than there are slots, in one session, never find the slots full
my $script = "SET pg_raft.read_consistency = local; SET statement_timeout = '20ms';\n"
  . join('', map { "SELECT raft.exec('INSERT INTO kv VALUES ($_, ''x'')');\n" } 1000 .. 1099);
my ($r, $o, $e) = $c->node($leader)->psql('postgres', $script, on_error_stop => 0);
my $timeouts = () = $e =~ /canceling statement due to statement timeout/g;
is($timeouts, 100, '100 requests without a quorum all end on statement_timeout');
unlike($e, qr/too many pg_raft requests/, 'no request slot was leaked');

# 4. the default consistency: the read fence before the check fails, and
# nothing is proposed
($ret, $err) = exec_verbose($leader,
	"SET statement_timeout = '60s'; SELECT raft.exec('INSERT INTO kv VALUES (6, ''fenced'')')");
isnt($ret, 0, 'raft.exec on a server that cannot get a read fence fails');
like($err, qr/40001|57014/, 'refused before proposing (SQLSTATE 40001) or timed out');
unlike($err, qr/40003/, 'not reported as unknown: it was never proposed');

$c->resume($_) for @followers;
$leader = $c->wait_for_leader;
ok(defined $leader, 'a leader is elected once the followers are back');
$c->exec_ok($leader, 'INSERT INTO kv VALUES ($1, $2)', 5, "'after'");
my $rows = $c->check_identical('kv', 'after the partition');
like($rows, qr/\(1,committed\)/, 'the committed row is there');
unlike($rows, qr/no leader/, 'the refused statement was not applied');
unlike($rows, qr/fenced/, 'the statement refused at the fence was not applied');
like($rows, qr/\(5,after\)/, 'the row written after the partition is there');

$c->stop_all;
done_testing();
