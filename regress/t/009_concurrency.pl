# regress/t/009_concurrency.pl — concurrent clients on the leader and on a
# follower (pgbench, 8 sessions): every acknowledged increment is applied
# exactly once, and the servers agree.
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
	is($h->result(0), 0, "pgbench through node $id succeeded") or diag($$err);
	my ($done) = $$out =~ /number of transactions actually processed: (\d+)/;
	is($done, 4 * $per_client, "every transaction through node $id was acknowledged");
	$total += $done // 0;
}

for my $id ($c->ids)
{
	is($c->read_after_barrier($id, 'SELECT sum(n) FROM counters'), $total,
		"node $id applied each of the $total acknowledged increments once");
}
$c->check_identical('counters', 'after concurrent clients');

$c->stop_all;
done_testing();
