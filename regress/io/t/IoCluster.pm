# regress/io/t/IoCluster.pm — runs raft-node processes for the check-io
# tests: three (or more) nodes, node i on 127.0.0.i with its own data
# directory, a control channel on 127.0.0.1, helpers to propose, read
# status and applied logs, kill -9 and restart, and to read the segment
# files.  Every wait has a deadline; every process is killed at exit (END,
# and the ALRM/INT/TERM handlers), also when a test fails.
package IoCluster;

use strict;
use warnings;

use Cwd qw(abs_path);
use File::Basename qw(dirname);
use File::Temp qw(tempdir);
use IO::Select;
use IO::Socket::INET;
use POSIX qw(:sys_wait_h);
use Time::HiRes qw(time sleep);
use Test::More;

my @clusters;
my $test_deadline_s = $ENV{IO_TEST_TIMEOUT} // 300;

# A test that hangs is killed with its nodes.
$SIG{ALRM} = sub { kill_everything(); BAIL_OUT("test exceeded ${test_deadline_s}s") };
$SIG{INT} = $SIG{TERM} = sub { kill_everything(); exit 1 };
alarm $test_deadline_s;

sub kill_everything
{
	for my $c (@clusters)
	{
		$c->kill9($_) for keys %{ $c->{pids} };
	}
}

END
{
	my $status = $?;
	kill_everything();
	$? = $status;
}

sub port_free
{
	my ($ip, $port) = @_;
	my $s = IO::Socket::INET->new(LocalAddr => $ip, LocalPort => $port,
		Proto => 'tcp', Listen => 1, ReuseAddr => 1);
	return 0 unless $s;
	close $s;
	return 1;
}

sub new
{
	my ($class, %o) = @_;
	my $n = $o{n} // 3;
	my $root = abs_path(dirname(__FILE__) . "/../../..");
	my $bin = $ENV{RAFT_NODE} // "$root/build/io/raft-node";
	die "no $bin: run make build/io/raft-node\n" unless -x $bin;
	my $dir = tempdir("raft-io-XXXXXX", TMPDIR => 1,
		CLEANUP => !$ENV{IO_KEEP});
	my $base;
	for (1 .. 50)
	{
		my $b = 20000 + int(rand(40000));
		next if grep { !port_free("127.0.0.$_", $b + $_) } 1 .. $n;
		next if grep { !port_free("127.0.0.1", $b + 20 + $_) } 1 .. $n;
		$base = $b;
		last;
	}
	die "no free ports\n" unless defined $base;
	my $self = bless {
		n => $n, bin => $bin, dir => $dir, base => $base, pids => {},
		secret => "io-secret-$$-" . int(rand(1e9)),
		cluster => 1 + int(rand(1e9)),
	}, $class;
	push @clusters, $self;
	note "cluster in $dir, ports from $base";
	return $self;
}

sub ids { return (1 .. $_[0]{n}) }
sub addr { my ($s, $i) = @_; return "127.0.0.$i:" . ($s->{base} + $i) }
sub raft_port { my ($s, $i) = @_; return $s->{base} + $i }
sub control_port { my ($s, $i) = @_; return $s->{base} + 20 + $i }
sub node_dir { my ($s, $i) = @_; return "$s->{dir}/n$i" }
sub log_file { my ($s, $i) = @_; return "$s->{dir}/n$i.log" }
sub secret { $_[0]{secret} }
sub cluster_id { $_[0]{cluster} }

sub start
{
	my ($self, @which) = @_;
	@which = $self->ids unless @which;
	my $peers = join ',', map { "$_=" . $self->addr($_) } $self->ids;
	for my $i (@which)
	{
		die "node $i already running\n" if $self->{pids}{$i};
		my $pid = fork() // die "fork: $!";
		if ($pid == 0)
		{
			open STDOUT, '>>', $self->log_file($i) or die;
			open STDERR, '>&', \*STDOUT or die;
			exec $self->{bin}, '--id', $i, '--dir', $self->node_dir($i),
			  '--listen', $self->addr($i), '--peers', $peers,
			  '--secret', $self->{secret}, '--cluster-id', $self->{cluster},
			  '--control', "127.0.0.1:" . $self->control_port($i);
			die "exec: $!";
		}
		$self->{pids}{$i} = $pid;
	}
	for my $i (@which)
	{
		$self->wait_until("node $i answers",
			10, sub { ($self->cmd($i, 'ping') // '') eq 'pong' || !$self->alive($i) });
	}
}

sub alive
{
	my ($self, $i) = @_;
	my $pid = $self->{pids}{$i} or return 0;
	my $r = waitpid($pid, WNOHANG);
	return 1 if $r == 0;
	$self->{exit}{$i} = $? >> 8;
	delete $self->{pids}{$i};
	return 0;
}

sub running { my $s = shift; return grep { $s->alive($_) } $s->ids }

sub kill9
{
	my ($self, $i) = @_;
	my $pid = delete $self->{pids}{$i} or return;
	kill 'KILL', $pid;
	waitpid($pid, 0);
}

# Waits (bounded) for a started node to exit; returns its exit status.
sub wait_exit
{
	my ($self, $i, $timeout) = @_;
	my $until = time + ($timeout // 10);
	while (time < $until)
	{
		return $self->{exit}{$i} unless $self->alive($i);
		sleep 0.05;
	}
	return undef;
}

sub wait_until
{
	my ($self, $what, $timeout, $cond) = @_;
	my $until = time + $timeout;
	while (time < $until)
	{
		return 1 if $cond->();
		sleep 0.05;
	}
	diag "gave up after ${timeout}s waiting for: $what";
	return 0;
}

sub connect_control
{
	my ($self, $i) = @_;
	return IO::Socket::INET->new(PeerAddr => '127.0.0.1',
		PeerPort => $self->control_port($i), Proto => 'tcp', Timeout => 2);
}

# Reads one line from a socket within timeout; undef on EOF or timeout.
sub read_line
{
	my ($sock, $timeout, $bufref) = @_;
	my $until = time + $timeout;
	my $sel = IO::Select->new($sock);
	while (1)
	{
		if ($$bufref =~ s/^([^\n]*)\n//)
		{
			return $1;
		}
		my $left = $until - time;
		return undef if $left <= 0;
		return undef unless $sel->can_read($left);
		my $got = sysread($sock, my $chunk, 65536);
		return undef unless $got;
		$$bufref .= $chunk;
	}
}

# One command on a fresh connection; the first reply line, or undef.
sub cmd
{
	my ($self, $i, $line, $timeout) = @_;
	my $s = $self->connect_control($i) or return undef;
	print $s "$line\n";
	my $buf = '';
	my $reply = read_line($s, $timeout // 3, \$buf);
	close $s;
	return $reply;
}

sub status
{
	my ($self, $i) = @_;
	my $line = $self->cmd($i, 'status') // return undef;
	return undef unless $line =~ /^status /;
	my %st = $line =~ /(\w+)=(\S+)/g;
	return \%st;
}

# The node every running node agrees is the leader (and says so itself).
sub agreed_leader
{
	my ($self, @nodes) = @_;
	@nodes = $self->running unless @nodes;
	my %leaders;
	for my $i (@nodes)
	{
		my $st = $self->status($i) or return undef;
		$leaders{ $st->{leader} }++;
	}
	my @l = keys %leaders;
	return undef unless @l == 1 && $l[0] > 0;
	my $st = $self->status($l[0]) or return undef;
	return $st->{role} eq 'leader' ? $l[0] : undef;
}

sub wait_leader
{
	my ($self, $timeout, @nodes) = @_;
	my $leader;
	$self->wait_until("an agreed leader", $timeout // 20,
		sub { $leader = $self->agreed_leader(@nodes) });
	return $leader;
}

# propose on node i: ("ok", index) or ("err", reason); undef on timeout.
sub propose
{
	my ($self, $i, $text, $timeout) = @_;
	my $r = $self->cmd($i, "propose $text", $timeout // 8) // return;
	return ($1, $2) if $r =~ /^(ok|err) (.*)$/;
	return;
}

# Proposes until some running node acknowledges it; the index, or undef.
sub propose_retry
{
	my ($self, $text, $timeout) = @_;
	my $until = time + ($timeout // 30);
	my $k = 0;
	while (time < $until)
	{
		my @up = $self->running or return undef;
		my $leader = $self->agreed_leader;
		my $i = $leader // $up[ $k++ % @up ];
		my ($r, $v) = $self->propose($i, $text);
		return $v if defined $r && $r eq 'ok';
		sleep 0.1;
	}
	return undef;
}

# Applied commands of node i from its file: list of [index, text].
sub applied
{
	my ($self, $i) = @_;
	open my $f, '<', $self->node_dir($i) . "/applied" or return ();
	my @out;
	while (my $l = <$f>)
	{
		last unless $l =~ /\n\z/;
		chomp $l;
		push @out, [ $1, $2 ] if $l =~ /^(\d+) (.*)$/;
	}
	return @out;
}

sub applied_texts { my ($s, $i) = @_; return map { $_->[1] } $s->applied($i) }

# True once node i has applied every text in @$want.
sub has_all
{
	my ($self, $i, $want) = @_;
	my %have = map { $_ => 1 } $self->applied_texts($i);
	return !grep { !$have{$_} } @$want;
}

# Every pair of nodes agrees on the command at each index both applied.
sub logs_consistent
{
	my ($self, @nodes) = @_;
	@nodes = $self->ids unless @nodes;
	my %at;
	for my $i (@nodes)
	{
		my $prev = 0;
		for my $e ($self->applied($i))
		{
			my ($idx, $text) = @$e;
			if ($idx <= $prev)
			{
				diag "node $i: index $idx after $prev";
				return 0;
			}
			$prev = $idx;
			if (defined $at{$idx} && $at{$idx} ne $text)
			{
				diag "index $idx: \"$at{$idx}\" vs \"$text\" on node $i";
				return 0;
			}
			$at{$idx} = $text;
		}
	}
	return 1;
}

sub slurp
{
	my ($path) = @_;
	open my $f, '<:raw', $path or return '';
	local $/;
	return scalar <$f>;
}

# Segment files of node i, sorted (their names are their first index).
sub segments
{
	my ($self, $i) = @_;
	my $d = $self->node_dir($i) . "/log";
	opendir my $dh, $d or return ();
	my @s = sort grep { /^\d{20}\.seg$/ } readdir $dh;
	return map { "$d/$_" } @s;
}

# Records of a segment: list of {start, end, index, len} (see
# raft/storage/format.c: 32-byte header; u32 length, u32 CRC, payload =
# encoded entry (version, u64 term, u64 index, ...), zeros to 8 bytes).
sub segment_records
{
	my ($path) = @_;
	my $img = slurp($path);
	my @recs;
	my $off = 32;
	while ($off + 8 <= length $img)
	{
		my ($len) = unpack('V', substr($img, $off, 4));
		last if $len == 0 || $off + 8 + $len > length $img;
		my $index = unpack('Q<', substr($img, $off + 8 + 9, 8));
		my $end = $off + 8 + $len;
		$end += (8 - $end % 8) % 8;
		push @recs, { start => $off, end => $end, index => $index, len => $len };
		$off = $end;
	}
	return @recs;
}

# The commit index in node i's hard state file (see raft/storage/meta.c:
# 20-byte header, then version byte, u64 term, u64 vote, u64 commit).
sub hard_state_commit
{
	my ($self, $i) = @_;
	my $img = slurp($self->node_dir($i) . "/log/hardstate");
	return 0 if length $img < 20 + 25;
	return unpack('Q<', substr($img, 20 + 17, 8));
}

1;
