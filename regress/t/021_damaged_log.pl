# regress/t/021_damaged_log.pl — a damaged Raft log on a real server.
#
# A torn tail (a record cut short by a crash in the middle of an append) is
# repaired at start with a LOG line, and the server catches up.  A byte
# flipped inside a committed record (valid records follow) is not
# repairable: the server's Raft worker refuses to run, with an error that
# names the file and the offset, while the other two keep serving.  What
# the operator does then (docs/operations.md): replace the server —
# raft.remove_node, then a new server with a new id; never wipe its
# $PGDATA/pg_raft and restart it under its old id.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::RealBin/lib";
use PgRaftCluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);

my $c = PgRaftCluster->new(name => 'damaged');
my $leader = $c->wait_for_leader;
ok(defined $leader, 'a leader is elected');
my ($torn, $flipped) = grep { $_ != $leader } $c->ids;
$c->exec_ok($leader, 'CREATE TABLE kv (k int PRIMARY KEY, v text NOT NULL)');
$c->exec_ok($leader, 'INSERT INTO kv VALUES ($1, $2)', $_, "'first'") for 1 .. 20;
$c->wait_applied($_, $c->status($leader)->{commit}) for $c->ids;

# The newest segment of a server's log, and its records: [offset, length].
sub last_segment
{
	my ($id) = @_;
	my @segs = sort glob($c->node($id)->data_dir . '/pg_raft/*.seg');
	return $segs[-1];
}

sub records
{
	my ($file) = @_;
	open(my $fh, '<:raw', $file) or die "$file: $!";
	local $/;
	my $data = <$fh>;
	close($fh);
	my @recs;
	my $off = 32;					# the segment header
	while ($off + 8 <= length($data))
	{
		my $len = unpack('V', substr($data, $off, 4));
		last if $len == 0;			# zeros: the end of the data
		push @recs, [ $off, $len ];
		$off += (8 + $len + 7) & ~7;
	}
	return ($off, @recs);
}

sub wait_log
{
	my ($id, $re, $offset, $what) = @_;
	my $deadline = time() + $PgRaftCluster::WAIT_SECONDS;
	while (time() < $deadline)
	{
		my $log = slurp_file($c->node($id)->logfile, $offset);
		if ($log =~ $re)
		{
			pass($what);
			return $&;
		}
		usleep(100_000);
	}
	fail($what);
	return undef;
}

# 1. A torn tail: the start of a record that was never finished
{
	$c->stop($torn);
	my $seg = last_segment($torn);
	my ($end) = records($seg);
	open(my $fh, '+<:raw', $seg) or die "$seg: $!";
	seek($fh, $end, 0);
	print $fh pack('VV', 200, 0xdeadbeef) . ('t' x 50);	# 50 of 200 bytes
	close($fh);
	note("wrote a torn record at $seg offset $end");

	# the cluster keeps writing meanwhile
	$c->exec_ok($leader, 'INSERT INTO kv VALUES ($1, $2)', $_, "'torn away'") for 21 .. 25;

	my $offset = -s $c->node($torn)->logfile;
	$c->start($torn);
	my $seg_name = (split m{/}, $seg)[-1];
	wait_log($torn,
		qr/LOG:  pg_raft: repaired the Raft log\n.*DETAIL:  cut a torn tail off \S*\Q$seg_name\E at offset $end/,
		$offset, 'the torn tail is cut at start, with a LOG line naming file and offset');
	$c->wait_applied($torn, $c->status($leader)->{commit});
	is($c->contents($torn, 'kv'), $c->contents($leader, 'kv'),
		'the repaired server caught up');
}

# 2. A byte flipped inside a committed record, with valid records after it
my $damage;
{
	$c->stop($flipped);
	my $seg = last_segment($flipped);
	my ($end, @recs) = records($seg);
	my ($off, $len) = @{ $recs[ int(@recs / 2) ] };
	open(my $fh, '+<:raw', $seg) or die "$seg: $!";
	seek($fh, $off + 8 + 2, 0);
	my $byte;
	read($fh, $byte, 1);
	seek($fh, $off + 8 + 2, 0);
	print $fh chr(ord($byte) ^ 0x40);
	close($fh);
	my $seg_name = (split m{/}, $seg)[-1];
	$damage = qr/\Q$seg_name\E offset $off/;
	note("flipped a byte of the record at $seg offset $off (" . scalar(@recs) . ' records)');

	my $offset = -s $c->node($flipped)->logfile;
	$c->start($flipped);
	wait_log($flipped,
		qr/could not open the Raft log in "pg_raft": .*\n.*DETAIL:  log damaged: .* at \S*$damage \(a valid record follows at offset \d+\)/,
		$offset, 'the damaged server refuses to run Raft, naming the file and the offset');

	# the server itself serves: local reads, and raft.* says what is wrong
	my $node = $c->node($flipped);
	is($node->safe_psql('postgres',
			"SET pg_raft.read_consistency = local; SELECT count(*) FROM kv"),
		'25', 'the damaged server still answers local reads');
	my ($ret, $out, $err) = $node->psql('postgres', 'SELECT * FROM raft.status()');
	like($err, qr/log damaged: .*$damage/,
		'raft.status() on the damaged server says why');

	# it does not open the log later by itself: still refused, never served
	usleep(3_000_000);
	my $log = slurp_file($node->logfile, $offset);
	my $refusals = () = $log =~ /could not open the Raft log/g;
	note("the worker logged the refusal $refusals times in about 3 s");
	unlike($log, qr/pg_raft: worker of node $flipped started/,
		'the damaged server never runs its Raft worker');
	$c->{down}{$flipped} = 1;	# out of the cluster until replaced
}

# the other two keep serving
$leader = $c->wait_for_leader;
ok(defined $leader, 'the two others keep a leader');
for my $id ($c->live_ids)
{
	is($c->exec_ok($id, 'INSERT INTO kv VALUES ($1, $2)', 100 + $id, "'after damage'"),
		'1', "a write through node $id succeeds");
}

# 3. The operator replaces it: remove it from the configuration, so the
# cluster of two no longer counts on it
$c->node($flipped)->stop('fast');
is($c->node($leader)->safe_psql('postgres', "SELECT raft.remove_node($flipped) > 0"),
	't', "raft.remove_node($flipped) on the leader");
$c->forget($flipped);
$c->exec_ok($leader, 'INSERT INTO kv VALUES ($1, $2)', 200, "'replaced'");
my $rows = $c->check_identical('kv', 'after the damaged server was removed');
is(scalar(split /\n/, $rows), 28, 'every acknowledged row is on both servers');
for my $id ($c->ids)
{
	unlike(slurp_file($c->node($id)->logfile), qr/terminated by signal|PANIC/,
		"node $id: no process died");
}

$c->stop_all;
done_testing();
