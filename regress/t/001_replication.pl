# regress/t/001_replication.pl — three servers: a leader is elected; writes
# through the leader and through followers are applied everywhere; a
# linearizable read on a follower sees a write just made on the leader;
# refused statements leave every server unchanged.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::RealBin/lib";
use PgRaftCluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $c = PgRaftCluster->new(name => 'repl');

my $leader = $c->wait_for_leader;
ok(defined $leader, "a leader is elected");
my @followers = grep { $_ != $leader } $c->ids;
for my $id ($c->ids)
{
	my $st = $c->status($id);
	is($st->{leader}, $leader, "node $id names node $leader as leader");
	is($st->{role}, $id == $leader ? 'leader' : 'follower', "node $id has the right role");
}

$c->exec_ok($leader, 'CREATE TABLE kv (k int PRIMARY KEY, v text NOT NULL)');
for my $id ($c->ids)
{
	$c->wait_applied($id, $c->status($leader)->{commit});
	is($c->node($id)->safe_psql('postgres',
			"SELECT count(*) FROM raft.replicated_tables WHERE relid = 'kv'::regclass"),
		'1', "kv is a replicated table on node $id");
}

# writes through the leader and through each follower
for my $k (1 .. 10)
{
	is($c->exec_ok($leader, 'INSERT INTO kv VALUES ($1, $2)', $k, "'leader'"),
		'1', "insert $k through the leader affects one row");
}
for my $k (11 .. 20)
{
	my $via = $followers[ $k % 2 ];
	is($c->exec_ok($via, 'INSERT INTO kv VALUES ($1, $2)', $k, "'follower $via'"),
		'1', "insert $k through follower $via affects one row");
}
is($c->exec_ok($followers[0], 'UPDATE kv SET v = v || $1 WHERE k <= $2', "'!'", 5),
	'5', "an update through a follower returns the rows affected");

# read-your-writes on the server that proposed, without a fence
is($c->node($followers[1])->safe_psql('postgres', 'SELECT count(*) FROM kv'),
	'20', 'raft.exec returns after this server applied the entry');

# linearizable read on a follower right after a write on the leader
for my $k (101 .. 105)
{
	$c->exec_ok($leader, 'INSERT INTO kv VALUES ($1, $2)', $k, "'linearizable'");
	for my $f (@followers)
	{
		is($c->read_after_barrier($f, "SELECT v FROM kv WHERE k = $k"),
			'linearizable', "follower $f sees key $k after raft.barrier()");
	}
}

# a statement larger than a request slot (it goes through DSM)
is($c->exec_ok($followers[0], 'INSERT INTO kv VALUES ($1, $2)', 200, "repeat('y', 300000)"),
	'1', 'a large statement through a follower');
for my $id ($c->ids)
{
	is($c->read_after_barrier($id, "SELECT length(v) FROM kv WHERE k = 200"),
		'300000', "node $id has the large value");
}
$c->exec_ok($leader, 'DELETE FROM kv WHERE k = $1', 200);

my $before = $c->check_identical('kv', 'after writes');
like($before, qr/^\(1,leader!\)/, 'the contents are what was written');

# refused statements: nothing is proposed or applied anywhere
my $last_index = $c->status($leader)->{last_index};
my ($ok, $out, $err);
($ok, $out, $err) = $c->exec($followers[0], 'SELECT * FROM kv');
ok(!$ok, 'raft.exec refuses a SELECT');
($ok, $out, $err) = $c->exec($leader, 'INSERT INTO kv VALUES ($1, random()::text)', 500);
ok(!$ok, 'raft.exec refuses a volatile function') or diag($out);
($ok, $out, $err) = $c->exec($followers[1], 'INSERT INTO kv VALUES (');
like($err, qr/syntax error/, 'raft.exec refuses bad SQL with its own error');
is($c->status($leader)->{last_index}, $last_index, 'refused statements were not proposed');

# errors of applied entries are their result everywhere, and change nothing
($ok, $out, $err) = $c->exec($followers[0], 'INSERT INTO kv VALUES ($1, $2)', 1, "'dup'");
like($err, qr/duplicate key value violates unique constraint "kv_pkey"/,
	'a duplicate key through a follower reports the unique violation');
($ok, $out, $err) = $c->exec($leader, 'UPDATE kv SET k = k / $1', 0);
like($err, qr/division by zero/, 'a division by zero reports its error');

# plain writes to a replicated table are refused on every server
for my $id ($c->ids)
{
	my ($ret, $o, $e) = $c->node($id)->psql('postgres', "INSERT INTO kv VALUES (900, 'direct')");
	isnt($ret, 0, "a plain INSERT on node $id is refused");
}

is($c->check_identical('kv', 'after refused statements'), $before,
	'refused and failed statements changed nothing');

$c->stop_all;
done_testing();
