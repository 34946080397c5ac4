# regress/t/014_replace.pl — a dead server is replaced: it is killed
# (kill -9, never restarted), removed with raft.remove_node, and a new,
# empty server (new id, new data folder) is added with raft.add_node; it
# catches up (here by snapshot: the log was compacted meanwhile) and the
# tables end identical on the three members.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::RealBin/lib";
use PgRaftCluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);

my $c = PgRaftCluster->new(name => 'replace',
	conf => "pg_raft.log_keep_entries = 10\n");
my $leader = $c->wait_for_leader;
ok(defined $leader, 'a leader is elected');
$c->exec_ok($leader, 'CREATE TABLE kv (k int PRIMARY KEY, v text NOT NULL)');
$c->exec_ok($leader, 'INSERT INTO kv VALUES ($1, $2)', $_, "'three members'") for 1 .. 5;

# a follower dies for good
my ($dead) = grep { $_ != $leader } $c->ids;
$c->crash($dead);
$leader = $c->wait_for_leader;
my $next = $c->write_until_compacted($leader, 'kv', 6, 0, 'two members');
# out with the dead one, in with a new empty server
$c->node($leader)->safe_psql('postgres', "SELECT raft.remove_node($dead)");
$c->forget($dead);
my $members = $c->node($leader)->safe_psql('postgres',
	q{SELECT string_agg(node_id::text, ',' ORDER BY node_id) FROM raft.nodes()});
unlike($members, qr/\b$dead\b/, "node $dead is no longer a member ($members)");

my $new = $c->add_server(4);
$leader = $c->wait_for_leader(among => [ grep { $_ != 4 } $c->ids ]);
my ($ok, $index, $err) = $c->add_node($leader, 4);
ok($ok, 'raft.add_node(4) of the new server') or diag($err);
$c->wait_applied(4, $c->status($c->wait_for_leader)->{commit});
ok($new->log_contains('installed the snapshot from node'),
	'the new server caught up by installing a snapshot');
is($c->node($leader)->safe_psql('postgres',
		q{SELECT string_agg(format('%s:%s', node_id, voter), ',' ORDER BY node_id) FROM raft.nodes()}),
	join(',', map { "$_:t" } sort { $a <=> $b } $c->ids),
	'three voters, the new one among them');

# the new member takes writes; and the cluster survives the loss of
# another server (it counts in the majority)
is($c->exec_ok(4, 'INSERT INTO kv VALUES ($1, $2)', $next, "'via the new member'"), '1',
	'the new member takes writes');
my ($other) = grep { $_ != 4 && $_ != $leader } $c->ids;
$c->stop($other);
$leader = $c->wait_for_leader;
is($c->exec_ok($leader, 'INSERT INTO kv VALUES ($1, $2)', $next + 1, "'new member in the majority'"), '1',
	"writes go on with node $other stopped: the new member counts in the majority");
$c->start($other);
$c->exec_ok($c->wait_for_leader, 'INSERT INTO kv VALUES ($1, $2)', $next + 2, "'all back'");
$c->wait_applied($_, $c->status($c->wait_for_leader)->{commit}) for $c->ids;
my $rows = $c->check_identical('kv', 'after the replacement');
is(scalar(split /\n/, $rows), $next + 2, 'every write is there');

$c->stop_all;
done_testing();
