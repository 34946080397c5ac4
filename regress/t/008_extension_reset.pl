# regress/t/008_extension_reset.pl — raft.applied reset to 0 on one server
# (as DROP EXTENSION and CREATE EXTENSION would) while its tables keep their
# rows: its applier, restarted, must not apply old entries a second time.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::RealBin/lib";
use PgRaftCluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $c = PgRaftCluster->new(name => 'reset');
my $leader = $c->wait_for_leader;
ok(defined $leader, 'a leader is elected');
$c->exec_ok($leader, 'CREATE TABLE kv (k int PRIMARY KEY, v text NOT NULL)');
$c->exec_ok($leader, 'INSERT INTO kv VALUES ($1, $2)', $_, "'before'") for 1 .. 5;
my ($f) = grep { $_ != $leader } $c->ids;
$c->wait_applied($f, $c->status($leader)->{commit});

my $offset = -s $c->node($f)->logfile;
$c->node($f)->safe_psql('postgres', 'UPDATE raft.applied SET applied_index = 0');
is($c->node($f)->safe_psql('postgres', 'SELECT applied_index FROM raft.applied'), '0',
	'raft.applied starts again at 0');
kill('TERM', $c->worker_pid($f, 'applier'));

$c->exec_ok($leader, 'INSERT INTO kv VALUES ($1, $2)', $_, "'after'") for 6 .. 10;
$c->wait_applied($f, $c->status($leader)->{commit});
ok($c->node($f)->wait_for_log(qr/raft\.applied says 0 but this server already applied up to \d+/, $offset),
	'the applier says why it does not start from 0');
my $rows = $c->check_identical('kv', 'after the reset');
is(scalar(split /\n/, $rows), 10, 'every row once');

$c->stop_all;
done_testing();
