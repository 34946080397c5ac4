# regress/io/t/07_hostile_network.t — hostile input on the Raft port of a
# leader and of a follower: garbage, an HTTP request, a wrong cluster id, a
# wrong secret, and, from a client that does authenticate, an oversized
# frame, a bad CRC, a payload that is not a message, a spoofed sender and a
# half frame left hanging.  Each closes that connection only (or, for the
# half frame, just waits); the nodes keep serving: a proposal commits after
# every attack, and each refusal is logged.  The handshake and frames are
# built here from the protocol description (raft/transport/handshake.h,
# frame.h, raft/codec/codec_message.c), independently of the C code.
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use IoCluster;
use Digest::SHA qw(hmac_sha256);
use IO::Select;
use IO::Socket::INET;
use Test::More;
use Time::HiRes qw(time);

$SIG{PIPE} = 'IGNORE';
my $c = IoCluster->new(n => 3);
$c->start;
my $leader = $c->wait_leader(20);
ok($leader, 'a leader');
my ($follower) = grep { $_ != $leader } $c->ids;

my @crc_table = map {
	my $r = $_;
	$r = ($r & 1) ? (($r >> 1) ^ 0x82F63B78) : ($r >> 1) for 1 .. 8;
	$r
} 0 .. 255;

sub crc32c
{
	my $crc = 0xFFFFFFFF;
	$crc = $crc_table[ ($crc ^ $_) & 0xFF ] ^ ($crc >> 8) for unpack('C*', $_[0]);
	return $crc ^ 0xFFFFFFFF;
}

sub frame
{
	my ($payload) = @_;
	my $len = pack('V', length $payload);
	return $len . pack('V', crc32c($len . $payload)) . $payload;
}

# An encoded struct raft_message without entries or snapshot (80 bytes).
sub message
{
	my (%m) = @_;
	return pack('CC', 1, $m{type}) . pack('Q<6', $m{from}, $m{to}, $m{term} // 0, 0, 0, 0)
	  . pack('C', 0) . pack('Q<3', 0, 0, 0) . pack('V', 0) . pack('C', 0);
}

my $src = 20;					# each attack from its own 127.0.0.x

sub dial
{
	my ($node) = @_;
	my $ip = '127.0.0.' . $src++;
	return IO::Socket::INET->new(PeerAddr => "127.0.0.$node",
		PeerPort => $c->raft_port($node), LocalAddr => $ip, Proto => 'tcp',
		Timeout => 3) || die "connect to node $node from $ip: $!";
}

sub read_exact
{
	my ($s, $n, $timeout) = @_;
	my $buf = '';
	my $sel = IO::Select->new($s);
	my $until = time + $timeout;
	while (length $buf < $n)
	{
		my $left = $until - time;
		return undef if $left <= 0 || !$sel->can_read($left);
		my $got = sysread($s, $buf, $n - length $buf, length $buf);
		return undef unless $got;
	}
	return $buf;
}

# True once the node has closed the connection (bounded wait).
sub closed_by_node
{
	my ($s) = @_;
	my $sel = IO::Select->new($s);
	my $until = time + 15;
	while (time < $until)
	{
		next unless $sel->can_read(0.2);
		my $got = sysread($s, my $junk, 4096);
		return 1 if !defined $got || $got == 0;
	}
	return 0;
}

sub hello
{
	my ($cluster, $from, $to, $nonce) = @_;
	return 'PGRF' . pack('v', 1) . "C\0" . pack('Q<3', $cluster, $from, $to) . $nonce;
}

sub proof
{
	my ($secret, $dir, $cluster, $dialer, $acceptor, $nc, $ns) = @_;
	return hmac_sha256("pg_raft/transport/v1" . $dir
		  . pack('Q<3', $cluster, $dialer, $acceptor) . $nc . $ns, $secret);
}

# Handshake as node $from; returns the socket once authenticated.
sub authenticated
{
	my ($node, $from, $secret) = @_;
	$secret //= $c->secret;
	my $s = dial($node);
	my $nc = join '', map { chr int rand 256 } 1 .. 32;
	print $s hello($c->cluster_id, $from, $node, $nc);
	my $reply = read_exact($s, 96, 10);
	die "no handshake reply from node $node\n" unless defined $reply;
	my $ns = substr($reply, 32, 32);
	my $expected = proof($c->secret, 'S', $c->cluster_id, $from, $node, $nc, $ns);
	my $ok = substr($reply, 64, 32) eq $expected;
	print $s proof($secret, 'C', $c->cluster_id, $from, $node, $nc, $ns);
	return ($s, $ok);
}

sub still_serving
{
	my ($what) = @_;
	my $idx = $c->propose_retry("after $what", 30);
	ok(defined $idx, "a proposal commits after $what");
	is(scalar($c->running), 3, "all three nodes still running after $what");
}

my $from_id = 50;				# a fresh claimed id per attack: own log key
for my $node ($leader, $follower)
{
	my $role = $node == $leader ? 'leader' : 'follower';
	my $s;

	$s = dial($node);
	print $s join '', map { chr int rand 256 } 1 .. 1000;
	ok(closed_by_node($s), "$role: garbage closes the connection");
	still_serving("garbage to the $role");

	$s = dial($node);
	print $s "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
	ok(closed_by_node($s), "$role: an HTTP request closes the connection");

	$s = dial($node);
	print $s hello($c->cluster_id + 1, $from_id++, $node, "\0" x 32);
	ok(closed_by_node($s), "$role: a wrong cluster id closes the connection");
	still_serving("a wrong cluster id to the $role");

	my $ok;
	($s, $ok) = authenticated($node, $from_id++, 'not the secret');
	ok($ok, "$role: the node proves the secret (HMAC checked here)");
	ok(closed_by_node($s), "$role: a wrong secret closes the connection");
	still_serving("a wrong secret to the $role");

	($s, $ok) = authenticated($node, $from_id++);
	print $s pack('V', 0xFFFFFFF0) . pack('V', 0);
	ok(closed_by_node($s), "$role: an oversized frame closes the connection");

	($s, $ok) = authenticated($node, $from_id);
	my $bad = frame(message(type => 7, from => $from_id, to => $node));
	substr($bad, 20, 1) = chr(ord(substr($bad, 20, 1)) ^ 1);
	print $s $bad;
	ok(closed_by_node($s), "$role: a bad CRC closes the connection");
	$from_id++;

	($s, $ok) = authenticated($node, $from_id);
	print $s frame("\x01" . ("\xee" x 40));
	ok(closed_by_node($s), "$role: a payload that is no message closes the connection");
	$from_id++;

	($s, $ok) = authenticated($node, $from_id);
	print $s frame(message(type => 7, from => ($node % 3) + 1, to => $node));
	ok(closed_by_node($s), "$role: a message claiming another sender closes the connection");
	$from_id++;
	still_serving("bad frames to the $role");

	# A half frame, left hanging while the cluster works.
	my $half;
	($half, $ok) = authenticated($node, $from_id++);
	print $half substr(frame(message(type => 7, from => $from_id - 1, to => $node)), 0, 30);
	$half->flush;
	still_serving("a half frame held open on the $role");
	close $half;
}

# The refusals were logged (each from its own address or claimed id, so
# the per-peer rate limit lets each through).
my $logs = join '', map { IoCluster::slurp($c->log_file($_)) } $c->ids;
like($logs, qr/not a pg_raft handshake/, 'garbage is logged');
like($logs, qr/wrong cluster id/, 'the wrong cluster id is logged');
like($logs, qr/authentication failed/, 'the wrong secret is logged');
like($logs, qr/frame larger than max_frame_bytes/, 'the oversized frame is logged');
like($logs, qr/frame checksum mismatch/, 'the bad CRC is logged');
like($logs, qr/malformed/, 'the undecodable payload is logged');
like($logs, qr/wrong sender/, 'the spoofed sender is logged');

done_testing();
