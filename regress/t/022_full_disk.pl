# regress/t/022_full_disk.pl — a full disk under a follower's, then the
# leader's, $PGDATA/pg_raft.  regress/run-as-user (as root) mounts a small tmpfs and
# exports its path in PG_RAFT_SMALL_DISK; one follower's Raft log lives
# there.  With the disk full, that server's log writes fail with a clear
# line, and it does not spin; the other two keep committing; once space is
# back, it resumes and catches up, and nothing acknowledged is lost.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::RealBin/lib";
use File::Copy qw(copy);
use File::Path qw(rmtree);
use PgRaftCluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);

my $disk = $ENV{PG_RAFT_SMALL_DISK};
plan skip_all => 'PG_RAFT_SMALL_DISK is not set (regress/run-as-user mounts a small tmpfs there when run as root)'
  unless $disk && -d $disk && -w $disk;

my $c = PgRaftCluster->new(name => 'fulldisk');
my $leader = $c->wait_for_leader;
ok(defined $leader, 'a leader is elected');
my ($small) = grep { $_ != $leader } $c->ids;
$c->exec_ok($leader, 'CREATE TABLE kv (k int PRIMARY KEY, v text NOT NULL)');
$c->exec_ok($leader, 'INSERT INTO kv VALUES ($1, $2)', $_, "'before'") for 1 .. 5;
$c->wait_applied($small, $c->status($leader)->{commit});

# Move the follower's $PGDATA/pg_raft onto the small disk (a symlink).
{
	$c->stop($small);
	my $dir = $c->node($small)->data_dir . '/pg_raft';
	my $to = "$disk/pg_raft_$small";
	rmtree($to);
	mkdir($to, 0700) or die "$to: $!";
	for my $f (glob("$dir/*"))
	{
		die "unexpected folder $f" if -d $f;
		copy($f, "$to/" . (split m{/}, $f)[-1]) or die "copy $f: $!";
	}
	rmtree($dir);
	symlink($to, $dir) or die "symlink $dir: $!";
	$c->start($small);
	$c->wait_applied($small, $c->status($leader)->{commit});
	pass("node $small keeps its Raft log on the small disk $disk");
}
my $wpid = $c->worker_pid($small);
my $pm = $c->_postmaster_pid($small);

# Fill the small disk.
my $filler = "$disk/filler";
sub fill_disk
{
	open(my $fh, '>:raw', $filler) or die "$filler: $!";
	my $chunk = "\0" x 65536;
	my $written = 0;
	while (syswrite($fh, $chunk)) { $written += 65536; }
	close($fh);
	note("filler: $written bytes, then: $!");
}
fill_disk();

my $node = $c->node($small);
my $offset = -s $node->logfile;
# the others keep committing: more than the rest of the preallocated
# segment (8 MB), so the small server needs a new one
for my $k (11 .. 20)
{
	is($c->exec_ok($leader, 'INSERT INTO kv VALUES ($1, $2)', $k, "repeat('x', 1000000)"),
		'1', "write $k (1 MB) is committed while node $small has no space");
}
my $commit = $c->status($leader)->{commit};

# the small server says why, and does not spin
my $deadline = time() + $PgRaftCluster::WAIT_SECONDS;
my $log = '';
while (time() < $deadline)
{
	$log = slurp_file($node->logfile, $offset);
	last if $log =~ /No space left on device/;
	usleep(200_000);
}
like($log, qr/No space left on device/, "node $small logs that its disk is full");
usleep(3_000_000);
$log = slurp_file($node->logfile, $offset);
my $lines = () = $log =~ /No space left on device/g;
note("node $small logged 'No space left on device' $lines times");
cmp_ok($lines, '<=', 40, "node $small does not flood its log ($lines lines)");
unlike($log, qr/terminated by signal|PANIC/, "no process of node $small died");
is($c->_postmaster_pid($small), $pm, "node $small: same postmaster");
my $st = $c->status($small);
ok(!$st || $st->{applied} < $commit, "node $small has not applied what it could not log");

# space again: it resumes and catches up
unlink($filler) or die "$filler: $!";
$c->wait_applied($small, $commit);
is($c->exec_ok($small, 'INSERT INTO kv VALUES ($1, $2)', 100, "'space again'"),
	'1', "a write through node $small succeeds once it has space");
my $rows = $c->check_identical('(SELECT k, md5(v) FROM kv)', 'after the disk was full');
is(scalar(split /\n/, $rows), 16, 'every acknowledged row is on every server');

# The leader's disk full: a write through it fails with a clear error (or
# is acknowledged), another server takes over, nothing acknowledged is
# lost, and the server comes back once space is back.
my %acked = map { $_ => 1 } (1 .. 5, 11 .. 20, 100);
$c->node($leader)->safe_psql('postgres', "SELECT raft.transfer_leadership($small)");
{
	my $now;
	my $deadline = time() + $PgRaftCluster::WAIT_SECONDS;
	while (time() < $deadline)
	{
		$now = $c->wait_for_leader;
		last if defined $now && $now == $small;
		usleep(200_000);
	}
	is($now, $small, "node $small (on the small disk) leads");
}
fill_disk();
$offset = -s $node->logfile;
my ($refused, $refusal) = (0, '');
for my $k (200 .. 240)
{
	my ($ret, $out, $err) = $node->psql('postgres',
		"\\set VERBOSITY verbose\nSET statement_timeout = '60s'; "
		  . "SELECT raft.exec('INSERT INTO kv VALUES (\$1, \$2)', $k, repeat('y', 1000000))",
		timeout => 90);
	if ($ret == 0) { $acked{$k} = 1; next; }
	($refused, $refusal) = ($k, $err);
	last;
}
ok($refused, "a write through the full leader fails (at key $refused)");
like($refusal, qr/ERROR:  (40001|40003|55000|57014|57P0\d|58030|53100|08\d\d\d|25006):/,
	'with an SQLSTATE');
unlike($refusal, qr/server closed the connection|terminated abnormally/,
	'the session survives it');
note("the refusal: $refusal");
my $next = $c->wait_for_leader(not => $small, among => [ grep { $_ != $small } $c->ids ]);
ok(defined $next && $next != $small, 'another server leads');
$next //= (grep { $_ != $small } $c->ids)[0];
for my $k (300 .. 302)
{
	is($c->exec_ok($next, 'INSERT INTO kv VALUES ($1, $2)', $k, "'other leader'"),
		'1', "write $k through node $next while node $small has no space");
	$acked{$k} = 1;
}
like(slurp_file($node->logfile, $offset), qr/No space left on device/,
	"node $small logs that its disk is full");
unlink($filler) or die "$filler: $!";
$commit = $c->status($next)->{commit};
$c->wait_applied($small, $commit);
$rows = $c->check_identical('(SELECT k, md5(v) FROM kv)', "after the leader's disk was full");
my %have = map { /^\((\d+),/ ? ($1 => 1) : () } split /\n/, $rows;
my @lost = grep { !$have{$_} } sort { $a <=> $b } keys %acked;
is("@lost", '', 'no acknowledged write is lost');

for my $id ($c->ids)
{
	unlike(slurp_file($c->node($id)->logfile), qr/terminated by signal|PANIC/,
		"node $id: no process died");
}

$c->stop_all;
rmtree("$disk/pg_raft_$small");
done_testing();
