# regress/t/090_jepsen.pl — the Jepsen-style fault suite (run by make
# jepsen, see regress/jepsen/README.md): 8+ concurrent clients
# (jepsen-client) against 3 servers while a nemesis, chosen by a seed,
# kill -9s the leader, a random server or two of three and restarts them,
# SIGSTOPs and SIGCONTs servers and, when a root helper is there
# (JEPSEN_NETCTL), cuts the network between the servers' Raft addresses.
# Then everything is healed, every server answers final reads after
# raft.barrier(), and jepsen-check checks the history: linearizable
# registers, no lost, duplicated or phantom insert, identical final tables.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::RealBin/lib";
use IPC::Run;
use PgRaftCluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);

if (!$ENV{JEPSEN_CLIENT})
{
	plan skip_all => 'run by make jepsen (JEPSEN_CLIENT is not set)';
}

my $seconds = $ENV{JEPSEN_SECONDS} // 90;
my $seed = $ENV{JEPSEN_SEED} || int(rand(2**31));
my $clients = $ENV{JEPSEN_CLIENTS} // 8;
my $keys = 5;
my $history = $ENV{JEPSEN_HISTORY} // "${PostgreSQL::Test::Utils::tmp_check}/jepsen-history.txt";
my $netctl = $ENV{JEPSEN_NETCTL};
# linearizable unless told: local or lease show that stale reads are caught
my $reads = $ENV{JEPSEN_READ_CONSISTENCY} || 'linearizable';
srand($seed);
diag("jepsen: seed $seed, $seconds s, $clients clients, $keys keys, $reads reads, history $history");

my $c = PgRaftCluster->new(name => 'jepsen', conf => "max_connections = 60\n");
my $leader = $c->wait_for_leader;
ok(defined $leader, 'a leader is elected');
$c->exec_ok($leader, 'CREATE TABLE reg (k int PRIMARY KEY, v bigint NOT NULL)');
$c->exec_ok($leader, 'INSERT INTO reg SELECT g, 0 FROM generate_series(1, $1) g', $keys);
# no key on purpose: an insert applied twice shows up as two rows
$c->exec_ok($leader, 'CREATE TABLE jset (id bigint NOT NULL, client int NOT NULL)');

open(my $hist, '>>', $history) or die "cannot open $history: $!";
$hist->autoflush(1);
print $hist "# seed $seed seconds $seconds clients $clients keys $keys\n";

# --- the network: a root helper reading one command per line --------------
my $partitions_ok = 0;
if (!$netctl)
{
	note('no JEPSEN_NETCTL: partitions skipped (make jepsen as root sets it)');
}
else
{
	$partitions_ok = netctl('heal');
	ok($partitions_ok, 'the network helper answers');
}

sub netctl
{
	my ($cmd) = @_;
	my $answer = '';
	eval {
		local $SIG{ALRM} = sub { die "netctl timeout\n" };
		alarm(30);
		open(my $req, '>', "$netctl.req") or die "netctl: $!";
		print $req "$cmd\n";
		close($req);
		open(my $ack, '<', "$netctl.ack") or die "netctl: $!";
		$answer = <$ack> // '';
		close($ack);
		alarm(0);
	};
	alarm(0);
	chomp $answer;
	diag("netctl $cmd: $@") if $@;
	return $answer eq 'ok';
}

# A test that dies mid-fault leaves nothing frozen or cut behind (the
# servers are then stopped by PostgreSQL::Test::Cluster's own END block).
END
{
	local $?;
	if ($c)
	{
		$c->resume($_) for $c->ids;
	}
	netctl('heal') if $partitions_ok;
}

sub host_of { my ($id) = @_; return (split /:/, $c->addr($id))[0]; }

# cuts both directions between two servers' Raft addresses
sub cut
{
	my ($x, $y) = @_;
	return netctl('block ' . host_of($x) . ' ' . host_of($y))
	  && netctl('block ' . host_of($y) . ' ' . host_of($x));
}

# --- the clients ------------------------------------------------------------
my @conninfo = map {
	my $n = $c->node($_);
	'host=' . $n->host . ' port=' . $n->port . ' dbname=postgres'
} $c->ids;
my ($cout, $cerr) = ('', '');
my $run = IPC::Run::start(
	[ $ENV{JEPSEN_CLIENT}, 'run', '--out', $history, '--seconds', $seconds,
	  '--clients', $clients, '--keys', $keys, '--seed', $seed,
	  '--read-consistency', $reads, @conninfo ],
	'>', \$cout, '2>', \$cerr);

# --- the nemesis ------------------------------------------------------------
my %faults = (kill9 => 0, stop => 0, partition => 0);
my @kinds = ('kill9-leader', 'kill9-random', 'kill9-majority', 'stop-random', 'stop-leader');
push @kinds, 'partition-isolate', 'partition-leader', 'partition-bridge' if $partitions_ok;

sub fault
{
	my ($kind, $detail) = @_;
	print $hist "fault $kind $detail\n";
	note("fault $kind $detail");
	$faults{$kind}++;
}

sub pick { return $_[ int(rand(@_)) ]; }

# the current leader, or a random server when none answers in time
sub leader_now
{
	for my $id ($c->live_ids)
	{
		my $st = $c->status($id);
		return $st->{leader} if $st && $st->{leader} && grep { $_ == $st->{leader} } $c->live_ids;
	}
	return pick($c->ids);
}

my $end = time() + $seconds - 3;
usleep(2_000_000);
while (time() < $end)
{
	my $kind = pick(@kinds);
	my $hold = 2 + rand(4);
	my @ids = $c->ids;
	if ($kind eq 'kill9-majority')
	{
		# two of three at once: no quorum until they are back; what was
		# acknowledged must survive on their disks
		my $keep = pick(@ids);
		my @victims = grep { $_ != $keep } @ids;
		fault('kill9', "nodes @victims (majority)");
		$c->crash($_) for @victims;
		usleep($hold * 1e6);
		$c->start($_) for @victims;
	}
	elsif ($kind =~ /^kill9-(\w+)/)
	{
		my $id = $1 eq 'leader' ? leader_now() : pick(@ids);
		fault('kill9', "node $id ($1)");
		$c->crash($id);
		usleep($hold * 1e6);
		$c->start($id);
	}
	elsif ($kind =~ /^stop-(\w+)/)
	{
		my $id = $1 eq 'leader' ? leader_now() : pick(@ids);
		fault('stop', "node $id ($1)");
		$c->pause($id);
		usleep($hold * 1e6);
		$c->resume($id);
	}
	elsif ($kind eq 'partition-bridge')
	{
		my $bridge = pick(@ids);
		my ($x, $y) = grep { $_ != $bridge } @ids;
		fault('partition', "bridge: $x and $y cut, $bridge sees both");
		cut($x, $y) or fail('partition installed');
		usleep($hold * 1e6);
		netctl('heal') or fail('partition healed');
	}
	else
	{
		my $id = $kind eq 'partition-leader' ? leader_now() : pick(@ids);
		fault('partition', "isolate node $id from the majority ($kind)");
		for my $other (grep { $_ != $id } @ids)
		{
			cut($id, $other) or fail('partition installed');
		}
		usleep($hold * 1e6);
		netctl('heal') or fail('partition healed');
	}
	print $hist "# healed\n";
	usleep((1 + rand(3)) * 1e6);
}

$run->finish;
is($run->result(0), 0, 'the clients ran to their end') or diag($cerr);
note($cout);

# --- healed, quiet, final reads -------------------------------------------
netctl('heal') if $partitions_ok;
$c->resume($_) for $c->ids;
$c->wait_for_leader;
my ($fout, $ferr) = ('', '');
IPC::Run::run([ $ENV{JEPSEN_CLIENT}, 'final', '--out', $history, '--keys', $keys, @conninfo ],
	'>', \$fout, '2>', \$ferr);
is($?, 0, 'every server answered the final reads') or diag("$fout$ferr");
$c->check_identical('reg', 'after the faults');
$c->check_identical('jset', 'after the faults');
close($hist);

# --- the check -------------------------------------------------------------
my ($kout, $kerr) = ('', '');
my $checker = $ENV{JEPSEN_CHECK} // 'jepsen-check';
IPC::Run::run([ $checker, $history ], '>', \$kout, '2>', \$kerr);
my $status = $? >> 8;
my ($verdict) = $kout =~ /^(jepsen: .*)$/m;
diag($kout) if $status != 0;
diag($kerr) if $kerr;
is($status, 0, 'the history is linearizable, loses and duplicates nothing, and the servers agree');
like($verdict // '', qr/anomalies=0$/, 'the verdict line says anomalies=0');
cmp_ok($faults{kill9} + $faults{stop} + $faults{partition}, '>', 0, 'faults were injected');

# The checker must be able to fail on this very history: a copy with the
# last acknowledged read changed to a value nobody wrote, and a copy whose
# final sets lack the first acknowledged insert.
open(my $in, '<', $history) or die "cannot read $history: $!";
my @lines = <$in>;
close($in);
my ($last_read) = grep { $lines[$_] =~ /^op \d+ read \d+ \S+ \S+ ok / } reverse 0 .. $#lines;
my ($first_add) = map { /^op \d+ add \d+ (\d+) \S+ ok / ? $1 : () } @lines;
if (defined $last_read)
{
	my @bad = @lines;
	$bad[$last_read] =~ s/^(op \d+ read \d+ \S+ \S+ ok )\S+/${1}424242424/;
	mutated(\@bad, 'a read of a value nobody wrote');
}
if (defined $first_add)
{
	my @bad = map { /^final \d+ set / ? s/(?<=[ ])$first_add(?=[ \n])//r : $_ } @lines;
	mutated(\@bad, 'an acknowledged insert missing from the final tables');
}

sub mutated
{
	my ($lines, $what) = @_;
	my $file = "$history.mutated";
	open(my $out, '>', $file) or die "cannot write $file: $!";
	print $out @$lines;
	close($out);
	my ($o, $e) = ('', '');
	IPC::Run::run([ $checker, $file ], '>', \$o, '2>', \$e);
	is($? >> 8, 1, "the checker finds $what in a changed copy of this history")
	  or diag("$o$e");
	unlink($file);
}

if ($ENV{JEPSEN_VERDICT} && open(my $v, '>', $ENV{JEPSEN_VERDICT}))
{
	print $v ($verdict // "jepsen: no verdict (checker exit $status)"), "\n";
	close($v);
}
if ($status != 0)
{
	diag("history kept: $history; re-check: $checker $history");
}

$c->stop_all;
done_testing();
