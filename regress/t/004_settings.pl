# regress/t/004_settings.pl — a server whose pg_raft settings cannot work
# refuses to start, with a message naming the setting and why.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('settings');
$node->init;
$node->append_conf('postgresql.conf', <<'EOF2');
shared_preload_libraries = 'pg_raft'
pg_raft.node_id = 1
pg_raft.listen_addr = '127.0.0.1:7101'
pg_raft.initial_cluster = '1=127.0.0.1:7101,2=127.0.0.1:7102,3=127.0.0.1:7103'
pg_raft.cluster_secret = 'secret'
pg_raft.election_timeout = 1000
pg_raft.heartbeat_interval = 100
EOF2

# Each case: settings to change, and what the log must say.
my @cases = (
	[ { 'pg_raft.node_id' => '4' },
		qr/pg_raft\.node_id 4 is not in pg_raft\.initial_cluster, which lists this server.s pg_raft\.listen_addr 127\.0\.0\.1:7101 as node 1/ ],
	[ { 'pg_raft.node_id' => '0' },
		qr/pg_raft\.node_id is not set/ ],
	[ { 'pg_raft.listen_addr' => "'127.0.0.1:7199'" },
		qr/pg_raft\.listen_addr "127\.0\.0\.1:7199" differs from the address of node 1/ ],
	[ { 'pg_raft.listen_addr' => "'localhost:7101'" },
		qr/invalid value for pg_raft\.listen_addr: "localhost" is not a numeric IPv4 address/ ],
	[ { 'pg_raft.initial_cluster' => "'1=127.0.0.1:7101,1=127.0.0.1:7102'" },
		qr/node 1 is listed twice/ ],
	[ { 'pg_raft.heartbeat_interval' => '1000' },
		qr/pg_raft\.heartbeat_interval \(1000 ms\) must be shorter than pg_raft\.election_timeout \(1000 ms\)/ ],
	[ { 'pg_raft.cluster_secret' => "''" },
		qr/pg_raft\.cluster_secret is not set/ ],
);

my %good = (
	'pg_raft.node_id' => '1',
	'pg_raft.listen_addr' => "'127.0.0.1:7101'",
	'pg_raft.initial_cluster' => "'1=127.0.0.1:7101,2=127.0.0.1:7102,3=127.0.0.1:7103'",
	'pg_raft.heartbeat_interval' => '100',
	'pg_raft.cluster_secret' => "'secret'");

for my $case (@cases)
{
	my ($set, $expect) = @$case;
	$node->adjust_conf('postgresql.conf', $_, $good{$_}) for keys %good;
	$node->adjust_conf('postgresql.conf', $_, $set->{$_}) for keys %$set;
	my $desc = join(', ', map { "$_ = $set->{$_}" } sort keys %$set);
	my $offset = -s $node->logfile // 0;
	my $started = $node->start(fail_ok => 1);
	ok(!$started, "the server refuses to start with $desc");
	$node->stop('fast') if $started;
	my $log = slurp_file($node->logfile, $offset);
	like($log, $expect, "the log says why ($desc)");
}

# and with good settings it starts
$node->adjust_conf('postgresql.conf', $_, $good{$_}) for keys %good;
ok($node->start(fail_ok => 1), 'the server starts with good settings');

# SIGHUP: the worker takes a new tick, and refuses timing that cannot work
my $offset = -s $node->logfile;
$node->safe_psql('postgres', "ALTER SYSTEM SET pg_raft.heartbeat_interval = '50ms'");
$node->reload;
ok($node->wait_for_log(qr/the tick is now 50 ms/, $offset), 'a reload changes the tick');
$node->safe_psql('postgres', "ALTER SYSTEM SET pg_raft.heartbeat_interval = '5s'");
$node->reload;
ok($node->wait_for_log(
		qr/pg_raft\.heartbeat_interval \(5000 ms\) must be shorter than pg_raft\.election_timeout \(1000 ms\); keeping 50 and 1000 ms/,
		$offset),
	'a reload with a heartbeat longer than the election timeout is refused');
$node->safe_psql('postgres', 'ALTER SYSTEM RESET pg_raft.heartbeat_interval');
$node->stop('fast');

# without shared_preload_libraries every SQL function refuses, with a hint
$node->adjust_conf('postgresql.conf', 'shared_preload_libraries', "''");
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION pg_raft');
for my $call ("raft.status()", "raft.nodes()", "raft.barrier()",
	"raft.exec('CREATE TABLE t (a int)')", "raft.transfer_leadership(2)")
{
	my ($ret, $out, $err) = $node->psql('postgres', "SELECT * FROM $call",
		extra_params => [ '-v', 'VERBOSITY=verbose' ]);
	like($err,
		qr/55000: pg_raft is not loaded by shared_preload_libraries.*\n.*HINT:  Add pg_raft to shared_preload_libraries/,
		"$call refuses when pg_raft is not preloaded");
}
$node->stop('fast');
done_testing();
