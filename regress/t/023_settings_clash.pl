# regress/t/023_settings_clash.pl — settings that clash between servers:
# a bad pg_raft.initial_cluster is refused at start (the cases
# 004_settings.pl does not cover); a second server started with an id
# already in use is refused by the members, which name it, and does not
# split the cluster; a server that comes back from another address than
# the one it is listed at is refused the same way until it is fixed.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::RealBin/lib";
use PgRaftCluster;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);

# 1. pg_raft.initial_cluster values refused at start
{
	my $node = PostgreSQL::Test::Cluster->new('clash_settings');
	$node->init;
	$node->append_conf('postgresql.conf', <<'EOF');
shared_preload_libraries = 'pg_raft'
pg_raft.node_id = 1
pg_raft.listen_addr = '127.0.0.1:7201'
pg_raft.initial_cluster = '1=127.0.0.1:7201'
pg_raft.cluster_secret = 'secret'
EOF
	my @cases = (
		[ '1=127.0.0.1:7201,,2=127.0.0.1:7202', qr/an entry is empty or too long/ ],
		[ '1=127.0.0.1:7201,', qr/an entry is empty or too long/ ],
		[ '1=127.0.0.1:7201,x=127.0.0.1:7202', qr/"x" is not a node id \(an integer >= 1\)/ ],
		[ '1=127.0.0.1:7201,-2=127.0.0.1:7202', qr/"-2" is not a node id/ ],
		[ '1=127.0.0.1:7201,99999999999=127.0.0.1:7202', qr/"99999999999" is not a node id/ ],
		[ '1=127.0.0.1:7201,2=127.0.0.1', qr/node 2: "127\.0\.0\.1" has no port/ ],
		[ '1=127.0.0.1:7201,2=127.0.0.1:70000', qr/node 2: "70000" is not a port number in 1\.\.65535/ ],
		[ '1=127.0.0.1:7201,2=127.0.0.1:7201', qr/nodes 1 and 2 have the same address 127\.0\.0\.1:7201/ ],
		[ '1=127.0.0.1:7201 2=127.0.0.1:7202', qr/node 1: / ],
		[ 'hello', qr/entry "hello" is not id=host:port/ ],
	);
	for my $case (@cases)
	{
		my ($value, $expect) = @$case;
		$node->adjust_conf('postgresql.conf', 'pg_raft.initial_cluster', "'$value'");
		my $offset = -s $node->logfile // 0;
		my $started = $node->start(fail_ok => 1);
		ok(!$started, "the server refuses to start with initial_cluster '$value'");
		$node->stop('fast') if $started;
		like(slurp_file($node->logfile, $offset),
			qr/invalid value for pg_raft\.initial_cluster: .*$expect/,
			"the log says why ('$value')");
	}
}

# A three-server cluster with some rows
my $c = PgRaftCluster->new(name => 'clash');
my $leader = $c->wait_for_leader;
ok(defined $leader, 'a leader is elected');
$c->exec_ok($leader, 'CREATE TABLE kv (k int PRIMARY KEY, v text NOT NULL)');
$c->exec_ok($leader, 'INSERT INTO kv VALUES ($1, $2)', $_, "'before'") for 1 .. 5;
my $term = $c->status($leader)->{term};
my ($h1) = split /:/, $c->addr(1);
(my $net = $h1) =~ s/\.\d+$//;

# Waits (bounded) until the log of server id matches re.
sub wait_log
{
	my ($node, $re, $offset, $what) = @_;
	my $deadline = time() + $PgRaftCluster::WAIT_SECONDS;
	while (time() < $deadline)
	{
		if (slurp_file($node->logfile, $offset) =~ $re)
		{
			pass($what);
			return 1;
		}
		usleep(100_000);
	}
	fail($what);
	return 0;
}

# 2. another server started with node id 1, at its own address, listing
# itself as node 1 (so its own settings check passes)
my $other = $leader == 1 ? 2 : 1;
{
	my $imp_host = "$net.9";
	my $imp_addr = "$imp_host:" . PgRaftCluster::_free_port($imp_host);
	my $initial = join(',', "1=$imp_addr", map { "$_=" . $c->addr($_) } 2, 3);
	my $imp = PostgreSQL::Test::Cluster->new('clash_impostor');
	$imp->init;
	$imp->append_conf('postgresql.conf', <<"EOF");
shared_preload_libraries = 'pg_raft'
shared_buffers = 16MB
max_connections = 20
pg_raft.node_id = 1
pg_raft.listen_addr = '$imp_addr'
pg_raft.initial_cluster = '$initial'
pg_raft.cluster_secret = 'tap-secret-clash'
pg_raft.election_timeout = 1000
pg_raft.heartbeat_interval = 100
EOF
	my %offset = map { $_ => -s $c->node($_)->logfile } 2, 3;
	$imp->start;
	$imp->safe_psql('postgres', 'CREATE EXTENSION pg_raft');
	for my $id (2, 3)
	{
		wait_log($c->node($id),
			qr/from \Q$imp_host\E: closing incoming connection: node 1 connects from \Q$imp_host\E:\d+ but is listed at \Q${\$c->addr(1)}\E \(the same node id on two servers, or a wrong address\?\)/,
			$offset{$id}, "node $id refuses the second node 1 and names it");
	}
	# it campaigns for a while: the cluster does not notice
	usleep(3_000_000);
	my $st = $c->status($leader);
	is($st->{role}, 'leader', "node $leader still leads");
	is($st->{term}, $term, 'the term did not change: the impostor reached no one');
	my $imp_role = $imp->safe_psql('postgres', 'SELECT role FROM raft.status()');
	isnt($imp_role, 'leader', "the impostor leads nothing ($imp_role)");
	for my $id ($c->ids)
	{
		is($c->exec_ok($id, 'INSERT INTO kv VALUES ($1, $2)', 10 + $id, "'during'"),
			'1', "a write through node $id succeeds while the impostor runs");
	}
	$imp->stop('fast');
}

# 3. node 3 comes back from another address than the one it is listed at
# (moved without raft.remove_node / raft.add_node): refused by the others
{
	my $moved_host = "$net.33";
	my $moved = "$moved_host:" . PgRaftCluster::_free_port($moved_host);
	my $listed = $c->addr(3);
	my $node3 = $c->node(3);
	$c->stop(3);
	my $initial = join(',', map { "$_=" . $c->addr($_) } 1, 2) . ",3=$moved";
	$node3->adjust_conf('postgresql.conf', 'pg_raft.listen_addr', "'$moved'");
	$node3->adjust_conf('postgresql.conf', 'pg_raft.initial_cluster', "'$initial'");
	my %offset = map { $_ => -s $c->node($_)->logfile } 1, 2;
	$c->start(3);
	for my $id (1, 2)
	{
		wait_log($c->node($id),
			qr/node 3 connects from \Q$moved_host\E:\d+ but is listed at \Q$listed\E/,
			$offset{$id}, "node $id refuses node 3 from its new address");
	}
	$c->{down}{3} = 1;	# not part of the cluster as it is
	$leader = $c->wait_for_leader;
	$c->exec_ok($leader, 'INSERT INTO kv VALUES ($1, $2)', 20, "'node 3 away'");

	# fixed: back at its listed address, it catches up
	$c->stop(3);
	$initial = join(',', map { "$_=" . $c->addr($_) } 1 .. 3);
	$node3->adjust_conf('postgresql.conf', 'pg_raft.listen_addr', "'$listed'");
	$node3->adjust_conf('postgresql.conf', 'pg_raft.initial_cluster', "'$initial'");
	$c->start(3);
	$c->wait_applied(3, $c->status($leader)->{commit});
}

my $rows = $c->check_identical('kv', 'after the clashes');
is(scalar(split /\n/, $rows), 9, 'every acknowledged row is on every server');
for my $id ($c->ids)
{
	unlike(slurp_file($c->node($id)->logfile), qr/terminated by signal|PANIC/,
		"node $id: no process died");
}

$c->stop_all;
done_testing();
