# regress/t/010_compaction.pl — log compaction: with a small
# pg_raft.log_keep_entries, a long run of large writes leaves every
# server's $PGDATA/pg_raft bounded (its size after the second half of the
# run is no larger than after the first half plus one segment, although
# the second half wrote more than that), every server takes a snapshot,
# and the replicated tables stay identical.
use strict;
use warnings;

use File::Find;
use FindBin;
use lib "$FindBin::RealBin/lib";
use PgRaftCluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $SEGMENT_BYTES = 8 * 1024 * 1024;	# storage.h's default segment
my $ENTRY_BYTES = 100_000;
my $WRITES_PER_HALF = 200;				# 20 MB of entries per half

my $c = PgRaftCluster->new(name => 'compact',
	conf => "pg_raft.log_keep_entries = 20\n");

sub log_bytes
{
	my ($id) = @_;
	my $dir = $c->node($id)->data_dir . '/pg_raft';
	my $total = 0;
	find(sub { $total += -s $_ if -f $_ }, $dir);
	return $total;
}

sub log_status
{
	my ($id) = @_;
	my $out = $c->node($id)->safe_psql('postgres',
		'SELECT first_log_index, snapshot_index, applied_index FROM raft.status()');
	return split /\|/, $out;
}

# Writes n large entries through the leader; returns how many succeeded.
sub write_half
{
	my ($from, $n) = @_;
	my $leader = $c->wait_for_leader;
	my $out = $c->node($leader)->safe_psql('postgres',
		"SET statement_timeout = '600s';
		 SELECT count(raft.exec('UPDATE big SET n = n + 1, v = \$1',
		                        repeat(chr(65 + i % 26), $ENTRY_BYTES)))
		 FROM generate_series($from, $from + $n - 1) i",
		timeout => 900);
	return $out;
}

my $leader = $c->wait_for_leader;
ok(defined $leader, 'a leader is elected');
$c->exec_ok($leader, 'CREATE TABLE big (k int PRIMARY KEY, n int NOT NULL, v text NOT NULL)');
$c->exec_ok($leader, q{INSERT INTO big VALUES (1, 0, '')});

is(write_half(1, $WRITES_PER_HALF), $WRITES_PER_HALF, 'first half of the writes acknowledged');
my $last = $c->status($c->wait_for_leader)->{commit};
$c->wait_applied($_, $last) for $c->ids;
my %first = map { $_ => log_bytes($_) } $c->ids;

is(write_half($WRITES_PER_HALF + 1, $WRITES_PER_HALF), $WRITES_PER_HALF,
	'second half of the writes acknowledged');
$last = $c->status($c->wait_for_leader)->{commit};
$c->wait_applied($_, $last) for $c->ids;

for my $id ($c->ids)
{
	my $second = log_bytes($id);
	note("node $id: pg_raft holds $first{$id} bytes after the first half, $second after the second");
	cmp_ok($second, '<=', $first{$id} + $SEGMENT_BYTES,
		"node $id: the log did not grow with the second half of the writes");
	my ($first_index, $snapshot_index, $applied) = log_status($id);
	cmp_ok($snapshot_index, '>', 0, "node $id took a snapshot");
	cmp_ok($first_index, '>', 1, "node $id dropped the entries before its snapshot");
	cmp_ok($snapshot_index, '<=', $applied, "node $id never compacted past its applied index");
	my ($compactions, $fsyncs, $committed) = split /\|/, $c->node($id)->safe_psql('postgres',
		'SELECT compactions, fsyncs, committed_entries FROM raft.status()');
	cmp_ok($compactions, '>', 0, "node $id counts its compactions");
	cmp_ok($fsyncs, '>', 0, "node $id counts its fsyncs");
	cmp_ok($committed, '>=', 2 * $WRITES_PER_HALF, "node $id counts the committed entries");
}

my $rows = $c->check_identical('big', 'after compaction');
like($rows, qr/^\(1,${\ (2 * $WRITES_PER_HALF)},/, 'every write was applied once');

# A restart loads the snapshot's metadata and the entries after it.
my $restart = ($c->ids)[0];
$c->stop($restart);
$c->start($restart);
$leader = $c->wait_for_leader;
$c->exec_ok($leader, 'UPDATE big SET n = n + 1');
$c->check_identical('big', 'after a restart of a compacted server');

$c->stop_all;
done_testing();
