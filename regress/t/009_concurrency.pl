# regress/t/009_concurrency.pl — concurrent clients on the leader and on a
# follower (pgbench, 8 sessions): every acknowledged increment is applied
# exactly once, and the servers agree.  Then the same through a deferrable
# foreign key that a third of the writes break: each broken write fails
# alone (its entry's result), the writes applied in the same batches
# commit, no row that breaks the key is left, and the servers agree.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::RealBin/lib";
use IPC::Run;
use PgRaftCluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $c = PgRaftCluster->new(name => 'concurrency');
my $leader = $c->wait_for_leader;
ok(defined $leader, 'a leader is elected');
my ($follower) = grep { $_ != $leader } $c->ids;

$c->exec_ok($leader, 'CREATE TABLE counters (id int PRIMARY KEY, n bigint NOT NULL)');
$c->exec_ok($leader, 'INSERT INTO counters SELECT g, 0 FROM generate_series(1, $1) g', 10);

my $script = "${PostgreSQL::Test::Utils::tmp_check}/increment.sql";
open(my $fh, '>', $script) or die "could not write $script: $!";
print $fh "\\set id random(1, 10)\n";
print $fh "SELECT raft.exec('UPDATE counters SET n = n + 1 WHERE id = \$1', :id);\n";
close($fh);

my $per_client = 100;

# pgbench with script, 4 clients on the leader and 4 on a follower at once;
# returns the transactions acknowledged.
sub run_clients
{
	my ($script, $what) = @_;
	my @runs;
	for my $id ($leader, $follower)
	{
		my $node = $c->node($id);
		my ($out, $err) = ('', '');
		my $h = IPC::Run::start(
			[ 'pgbench', '-n', '-c', '4', '-j', '2', '-t', $per_client, '-f', $script,
			  '-h', $node->host, '-p', $node->port, 'postgres' ],
			'>', \$out, '2>', \$err);
		push @runs, [ $id, $h, \$out, \$err ];
	}
	my $total = 0;
	for my $run (@runs)
	{
		my ($id, $h, $out, $err) = @$run;
		$h->finish;
		is($h->result(0), 0, "$what: pgbench through node $id succeeded") or diag($$err);
		my ($done) = $$out =~ /number of transactions actually processed: (\d+)/;
		is($done, 4 * $per_client, "$what: every transaction through node $id was acknowledged");
		$total += $done // 0;
	}
	return $total;
}

my $total = run_clients($script, 'increments');

for my $id ($c->ids)
{
	is($c->read_after_barrier($id, 'SELECT sum(n) FROM counters'), $total,
		"node $id applied each of the $total acknowledged increments once");
}
$c->check_identical('counters', 'after concurrent clients');

# A deferrable foreign key (checked at the end of each entry's statement):
# parents 1 to 5 exist, the writes pick 1 to 8.  A write refused by the key
# is counted in misses instead, through raft.exec too.
$c->exec_ok($leader, 'CREATE TABLE parents (id int PRIMARY KEY)');
$c->exec_ok($leader, 'INSERT INTO parents SELECT g FROM generate_series(1, 5) g');
$c->exec_ok($leader, 'CREATE TABLE kids (id int PRIMARY KEY, n bigint NOT NULL, '
	  . 'parent int NOT NULL REFERENCES parents DEFERRABLE INITIALLY DEFERRED)');
$c->exec_ok($leader, 'INSERT INTO kids SELECT g, 0, 1 FROM generate_series(1, $1) g', 10);
$c->exec_ok($leader, 'CREATE TABLE misses (id int PRIMARY KEY, n bigint NOT NULL)');
$c->exec_ok($leader, 'INSERT INTO misses SELECT g, 0 FROM generate_series(1, $1) g', 10);

my $fk_script = "${PostgreSQL::Test::Utils::tmp_check}/deferred_fk.sql";
open($fh, '>', $fk_script) or die "could not write $fk_script: $!";
print $fh "\\set id random(1, 10)\n";
print $fh "\\set parent random(1, 8)\n";
print $fh "DO \$\$ BEGIN PERFORM raft.exec('UPDATE kids SET n = n + 1, parent = \$2 WHERE id = \$1', :id, :parent); "
  . "EXCEPTION WHEN foreign_key_violation THEN "
  . "PERFORM raft.exec('UPDATE misses SET n = n + 1 WHERE id = \$1', :id); END \$\$;\n";
close($fh);

my $writes = run_clients($fk_script, 'deferred key');
for my $id ($c->ids)
{
	is($c->read_after_barrier($id,
			'SELECT (SELECT sum(n) FROM kids) + (SELECT sum(n) FROM misses)'),
		$writes, "node $id: each of the $writes writes applied once, or refused once");
	is($c->read_after_barrier($id,
			'SELECT count(*) FROM kids WHERE parent NOT IN (SELECT id FROM parents)'),
		0, "node $id: no row breaks the deferrable key");
}
my $applied = $c->read_after_barrier($leader, 'SELECT sum(n) FROM kids');
my $refused = $c->read_after_barrier($leader, 'SELECT sum(n) FROM misses');
ok($applied > 0 && $refused > 0,
	"writes both applied ($applied) and refused by the key ($refused)");
$c->check_identical('kids', 'after writes through a deferrable key');
$c->check_identical('misses', 'after writes through a deferrable key');

$c->stop_all;
done_testing();
