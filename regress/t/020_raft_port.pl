# regress/t/020_raft_port.pl — bad input to a real server's Raft port
# (pg_raft.listen_addr): random bytes, half a handshake then close or hang,
# a wrong cluster id, a wrong secret, an oversized frame header, a frame
# with a bad checksum, an undecodable frame, and many connections at once.
# Each is refused with a rate-limited log line naming the peer; afterwards
# the cluster keeps its leader, raft.exec writes succeed, the tables are
# identical, and no server process crashed or restarted.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::RealBin/lib";
use Digest::SHA qw(hmac_sha256);
use IO::Socket::INET;
use PgRaftCluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);

my $c = PgRaftCluster->new(name => 'port');
my $secret = 'tap-secret-port';
my $leader = $c->wait_for_leader;
ok(defined $leader, 'a leader is elected');
$c->exec_ok($leader, 'CREATE TABLE kv (k int PRIMARY KEY, v text NOT NULL)');
$c->exec_ok($leader, 'INSERT INTO kv VALUES ($1, $2)', $_, "'before'") for 1 .. 5;

# the target: the leader's Raft port
my $target = $leader;
my ($host, $port) = split /:/, $c->addr($target);
(my $net = $host) =~ s/\.\d+$//;
my $node = $c->node($target);
my %postmaster = map { $_ => $c->_postmaster_pid($_) } $c->ids;
my %worker = map { $_ => $c->worker_pid($_) } $c->ids;

# A connection from its own loopback address (the log limits per address).
my $src_n = 100;
sub dial
{
	my $src = "$net." . $src_n++;
	my $s = IO::Socket::INET->new(
		PeerAddr => $host,
		PeerPort => $port,
		LocalAddr => $src,
		Proto => 'tcp',
		Timeout => 10) or die "cannot connect to $host:$port from $src: $!";
	$s->autoflush(1);
	return ($s, $src);
}

sub hello
{
	my ($cluster, $from, $to, $nonce) = @_;
	return 'PGRF' . pack('v', 1) . 'C' . "\0"
	  . pack('Q<Q<Q<', $cluster, $from, $to) . $nonce;
}

sub proof
{
	my ($key, $dir, $cluster, $dialer, $acceptor, $nc, $ns) = @_;
	return hmac_sha256('pg_raft/transport/v1' . $dir
		  . pack('Q<Q<Q<', $cluster, $dialer, $acceptor) . $nc . $ns, $key);
}

# CRC-32C (Castagnoli), as the frames use.
my @crc_table = map {
	my $c = $_;
	$c = ($c & 1) ? (($c >> 1) ^ 0x82F63B78) : ($c >> 1) for 1 .. 8;
	$c;
} 0 .. 255;
sub crc32c
{
	my $crc = 0xFFFFFFFF;
	$crc = $crc_table[ ($crc ^ $_) & 0xFF ] ^ ($crc >> 8) for unpack('C*', $_[0]);
	return $crc ^ 0xFFFFFFFF;
}

sub read_exactly
{
	my ($s, $n) = @_;
	my $buf = '';
	while (length($buf) < $n)
	{
		my $got = sysread($s, $buf, $n - length($buf), length($buf));
		last unless $got;
	}
	return $buf;
}

# Waits (bounded) for a log line of the target; returns the match.
sub wait_log
{
	my ($re, $offset, $what) = @_;
	my $deadline = time() + $PgRaftCluster::WAIT_SECONDS;
	while (time() < $deadline)
	{
		my $log = slurp_file($node->logfile, $offset);
		if ($log =~ $re)
		{
			pass("the log says: $what");
			return $&;
		}
		usleep(100_000);
	}
	fail("the log says: $what");
	diag("no match for $re");
	return undef;
}

my $offset = -s $node->logfile;
my $nonce = 'n' x 32;

# 1. random bytes
{
	my ($s, $src) = dial();
	print $s join('', map { chr(int(rand(256))) } 1 .. 4096);
	wait_log(qr/transport $target: from \Q$src\E: closing incoming connection: not a pg_raft handshake \(bad magic\)/,
		$offset, 'random bytes are not a pg_raft handshake');
	close($s);
}

# 2. half a handshake, then close
{
	my ($s, $src) = dial();
	print $s substr(hello(1, 9, $target, $nonce), 0, 30);
	close($s);
	wait_log(qr/from \Q$src\E: closing incoming connection: closed by peer/,
		$offset, 'half a handshake then close');
}

# 3. half a handshake, then hang (the connection stays open)
my ($hung, $hung_src) = dial();
print $hung substr(hello(1, 9, $target, $nonce), 0, 30);

# 4. a wrong cluster id; its refusal names the expected one
my $cluster_id;
{
	my ($s, $src) = dial();
	print $s hello(12345, 9, $target, $nonce);
	my $line = wait_log(qr/from \Q$src\E: closing incoming connection: wrong cluster id 12345 \(expected (\d+)\)/,
		$offset, 'a wrong cluster id is refused');
	($cluster_id) = ($line // '') =~ /expected (\d+)/;
	close($s);
}
BAIL_OUT('no cluster id in the log') unless defined $cluster_id;

# A completed handshake as node $from with $key; returns the socket.
sub handshake
{
	my ($from, $key) = @_;
	my ($s, $src) = dial();
	print $s hello($cluster_id, $from, $target, $nonce);
	my $reply = read_exactly($s, 96);
	is(length($reply), 96, "the server answers the HELLO of node $from");
	my $ns = substr($reply, 32, 32);
	print $s proof($key, 'C', $cluster_id, $from, $target, $nonce, $ns);
	return ($s, $src);
}

# 5. a wrong secret
{
	my ($s, $src) = handshake(9, 'not-the-secret');
	wait_log(qr/from \Q$src\E: closing incoming connection: authentication failed for node 9 \(wrong secret\?\)/,
		$offset, 'a wrong secret is refused');
	close($s);
}

# 6. an oversized frame header, after a good handshake
{
	my ($s) = handshake(21, $secret);
	print $s pack('VV', 0xFFFFFFF0, 0);
	wait_log(qr/node 21: closing incoming connection: frame larger than max_frame_bytes/,
		$offset, 'an oversized frame header closes the connection');
	close($s);
}

# 7. a frame whose checksum does not match
{
	my ($s) = handshake(22, $secret);
	my $payload = 'x' x 40;
	print $s pack('VV', length($payload), 12345) . $payload;
	wait_log(qr/node 22: closing incoming connection: frame checksum mismatch/,
		$offset, 'a bad checksum closes the connection');
	close($s);
}

# 8. a well-formed frame whose payload is not a message
{
	my ($s) = handshake(23, $secret);
	my $payload = "\xff" x 40;
	my $len = pack('V', length($payload));
	print $s $len . pack('V', crc32c($len . $payload)) . $payload;
	wait_log(qr/node 23: closing incoming connection: (?!frame checksum)/,
		$offset, 'an undecodable payload closes the connection');
	close($s);
}

# 9. half a frame, then close
{
	my ($s) = handshake(24, $secret);
	print $s pack('VV', 1000, 0) . ('y' x 10);
	close($s);
	wait_log(qr/node 24: closing incoming connection: closed by peer/,
		$offset, 'half a frame then close');
}

# 3, continued: the hung handshake is closed by its timeout
wait_log(qr/from \Q$hung_src\E: closing incoming connection: handshake timed out/,
	$offset, 'a handshake that hangs is timed out');
close($hung);

# 10. many connections at once, from one address (more than max_incoming)
{
	my $src = "$net." . $src_n++;
	my @socks;
	for (1 .. 150)
	{
		my $s = IO::Socket::INET->new(PeerAddr => $host, PeerPort => $port,
			LocalAddr => $src, Proto => 'tcp', Timeout => 10);
		push @socks, $s if $s;
	}
	note(scalar(@socks) . ' connections opened');
	print $_ 'GET / HTTP/1.0' . "\r\n\r\n" for @socks;
	wait_log(qr/from \Q$src\E: closing incoming connection: (too many incoming connections|not a pg_raft handshake)/,
		$offset, 'a flood of connections is refused');
	close($_) for @socks;
	# rate-limited: a handful of lines for 150 refusals
	usleep(500_000);
	my $lines = () = slurp_file($node->logfile, $offset) =~ /from \Q$src\E:/g;
	cmp_ok($lines, '<=', 10, "the flood logs few lines ($lines)");
}

# The cluster still works: a leader, writes through every server
$leader = $c->wait_for_leader;
ok(defined $leader, 'the cluster keeps a leader');
for my $id ($c->ids)
{
	is($c->exec_ok($id, 'INSERT INTO kv VALUES ($1, $2)', 100 + $id, "'after'"),
		'1', "a write through node $id succeeds afterwards");
}
my $rows = $c->check_identical('kv', 'after bad input');
is(scalar(split /\n/, $rows), 8, 'every acknowledged row is there');

# No server process crashed or restarted
for my $id ($c->ids)
{
	is($c->_postmaster_pid($id), $postmaster{$id}, "node $id: same postmaster");
	is($c->worker_pid($id), $worker{$id}, "node $id: same Raft worker");
	my $log = slurp_file($c->node($id)->logfile);
	unlike($log, qr/terminated by signal|was terminated|PANIC/,
		"node $id: no process died");
}

$c->stop_all;
done_testing();
