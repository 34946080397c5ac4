# regress/t/019_observability.pl — what raft.status() and raft.nodes()
# show on three servers: on the leader every member with its role, vote,
# match index and no lag after a read fence; a stopped follower's lag in
# entries and bytes growing with writes; a follower that must install a
# snapshot (its source refuses it at first: the leader's pg_raft.conninfo
# names a role that does not exist yet) showing it as in progress until
# the install is done; counters that move with writes; and the role-change
# line at LOG in the server log of a leader change.  Every wait is a
# bounded poll.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::RealBin/lib";
use PgRaftCluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);

my $c = PgRaftCluster->new(name => 'obs',
	conf => "pg_raft.log_keep_entries = 10\n");
my $leader = $c->wait_for_leader;
ok(defined $leader, 'a leader is elected');
for my $id ($c->ids)
{
	my $node = $c->node($id);
	my $user = $id == $leader ? ' user=obs_reader' : '';
	$node->append_conf('postgresql.conf',
		"pg_raft.conninfo = 'host=" . $node->host . " port=" . $node->port . " dbname=postgres$user'\n");
	$node->reload;
}

# Polls a query on server id until it returns want; returns the last value.
sub poll_until
{
	my ($id, $query, $want) = @_;
	my $deadline = time() + $PgRaftCluster::WAIT_SECONDS;
	my $got = '';
	while (time() < $deadline)
	{
		my ($ret, $out) = $c->node($id)->psql('postgres', $query, timeout => 30);
		$got = $out // '';
		return $got if $ret == 0 && $got eq $want;
		usleep(100_000);
	}
	return $got;
}

sub status_field
{
	my ($id, $field) = @_;
	return $c->node($id)->safe_psql('postgres', "SELECT $field FROM raft.status()");
}

ok($c->node($leader)->log_contains("LOG:  pg_raft: node $leader is leader at term \\d+"),
	'the leader logged its role change at LOG');

# counters before the writes
my ($proposals0, $committed0, $fsyncs0) = split /\|/,
  status_field($leader, 'proposals, committed_entries, fsyncs');

$c->exec_ok($leader, 'CREATE TABLE kv (k int PRIMARY KEY, v text NOT NULL)');
$c->exec_ok($leader, 'INSERT INTO kv VALUES ($1, $2)', $_, "'value $_'") for 1 .. 5;
$c->node($leader)->safe_psql('postgres', 'SELECT raft.barrier()');

# every member, as the leader sees it, caught up
my @rows = map { my $role = $_ == $leader ? 'leader' : 'follower'; "$_|$role|t|t|0|0|f" } sort $c->ids;
is(poll_until($leader,
		q{SELECT string_agg(format('%s|%s|%s|%s|%s|%s|%s', n.node_id, n.role, n.voter,
		         n.match_index = s.last_log_index, n.lag_entries, n.lag_bytes,
		         n.snapshot_in_progress), E'\n' ORDER BY n.node_id)
		    FROM raft.nodes() n, raft.status() s},
		join("\n", @rows)),
	join("\n", @rows),
	'the leader shows every member: role, voter, matched, no lag in entries or bytes');
is($c->node($leader)->safe_psql('postgres',
		q{SELECT count(*) FROM raft.nodes() WHERE last_contact_ms IS NULL OR last_contact_ms < 0}),
	'0', 'the leader knows when it last heard from every member');

my ($proposals1, $committed1, $fsyncs1, $elections) = split /\|/,
  status_field($leader, 'proposals, committed_entries, fsyncs, elections');
cmp_ok($proposals1, '>=', $proposals0 + 6, 'proposals count the writes');
cmp_ok($committed1, '>=', $committed0 + 6, 'committed entries count the writes');
cmp_ok($fsyncs1, '>', $fsyncs0, 'fsyncs count the log syncs');
cmp_ok($elections, '>=', 1, 'the leader counts the election it started');
is(status_field($leader,
		'fsync_latency_avg_ms >= 0 AND fsync_latency_max_ms >= fsync_latency_avg_ms'),
	't', 'the fsync latency is sane');
cmp_ok(status_field($leader, 'hard_state_saves'), '>', 0,
	'the leader saved its term and vote when it was elected');

# a stopped follower falls behind: in entries and in bytes
my ($lagger, $other) = grep { $_ != $leader } sort $c->ids;
$c->wait_applied($lagger, $c->status($leader)->{commit});
my $lagger_applied = $c->status($lagger)->{applied};
$c->stop($lagger);
my $count = $c->node($leader)->safe_psql('postgres',
	q{SET statement_timeout = '600s';
	  SELECT count(raft.exec('INSERT INTO kv VALUES ($1, repeat(''x'', 100))', i)) FROM generate_series(6, 155) i},
	timeout => 900);
is($count, 150, 'the majority took 150 writes while one server was down');
is(poll_until($leader,
		"SELECT lag_entries >= 150 AND lag_bytes >= 150 AND NOT snapshot_in_progress IS NULL
		   FROM raft.nodes() WHERE node_id = $lagger", 't'),
	't', "the leader shows node ${lagger}'s lag in entries and bytes");
is(poll_until($leader,
		"SELECT last_contact_ms > 0 FROM raft.nodes() WHERE node_id = $lagger", 't'),
	't', "the leader shows how long ago it heard from node $lagger");
is(poll_until($leader,
		"SELECT lag_bytes FROM raft.nodes() WHERE node_id = $other", '0'),
	'0', "node $other, running, has no lag in bytes");
# compaction follows the applier's durable applied index: poll for it
is(poll_until($leader,
		"SELECT snapshot_index > $lagger_applied FROM raft.status()", 't'),
	't', "the leader compacted past what node $lagger had applied");

# restarted, it needs a snapshot; the source refuses it until the role exists
$c->start($lagger);
is(poll_until($lagger,
		"SELECT snapshot_in_progress FROM raft.nodes() WHERE node_id = $lagger", 't'),
	't', "node $lagger shows its snapshot install in progress");
cmp_ok(status_field($lagger, 'snapshot_install_pending'), '>', 0,
	"raft.status() on node $lagger shows the install pending");

$c->node($leader)->safe_psql('postgres', 'CREATE ROLE obs_reader LOGIN SUPERUSER');
$c->wait_applied($lagger, $c->status($c->wait_for_leader)->{commit});
is(poll_until($lagger,
		"SELECT snapshot_in_progress FROM raft.nodes() WHERE node_id = $lagger", 'f'),
	'f', "node ${lagger}'s install is done");
$leader = $c->wait_for_leader;
$c->node($leader)->safe_psql('postgres', 'SELECT raft.barrier()');
is(poll_until($leader,
		"SELECT lag_entries = 0 AND lag_bytes = 0 AND NOT snapshot_in_progress
		   FROM raft.nodes() WHERE node_id = $lagger", 't'),
	't', "node $lagger has caught up, as the leader sees it");

# log lines of membership and snapshots, once the worker writes them
SKIP:
{
	skip 'the worker does not log through status_log.c', 2
	  unless $c->node($leader)->log_contains('sees the configuration');
	ok($c->node($leader)->log_contains("LOG:  pg_raft: node $leader sees the configuration: 1 at \\S+ \\(voter\\), 2 at"),
		'the configuration is logged at LOG');
	ok($c->node($leader)->log_contains("LOG:  pg_raft: node $leader sends node $lagger the snapshot at index \\d+"),
		'the snapshot sent to the stopped follower is logged at LOG');
}

# a leader change: the new leader logs it at LOG, with its term
my ($target) = grep { $_ != $leader } sort $c->ids;
$c->node($leader)->safe_psql('postgres', "SELECT raft.transfer_leadership($target)");
my $new = $c->wait_for_leader(not => $leader);
my $term = status_field($new, 'term');
ok($c->node($new)->log_contains("LOG:  pg_raft: node $new is leader at term $term"),
	"node $new logged that it leads at term $term");
ok($c->node($leader)->log_contains("LOG:  pg_raft: node $leader is follower at term $term, leader $new"),
	"node $leader logged that it follows node $new at term $term");
ok(!$c->node($new)->log_contains('LOG:  pg_raft: .*(granted|rejected) (vote|pre-vote)'),
	'per-message lines stay out of the log at default settings');

$c->stop_all;
done_testing();
