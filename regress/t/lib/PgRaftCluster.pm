# regress/t/lib/PgRaftCluster.pm — a pg_raft cluster of PostgreSQL servers
# for TAP tests: each server has its own loopback address (127.0.x.y) and a
# free port for Raft traffic; helpers to wait for a leader, write through
# raft.exec, crash (kill -9 of the postmaster and its children), pause
# (SIGSTOP) and compare replicated tables on every server.
#
# Every wait polls with a bound and fails the test when the bound is
# reached; nothing asserts on elapsed time.
package PgRaftCluster;

use strict;
use warnings;

use IO::Socket::INET;
use IPC::Run ();
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use POSIX ();
use Time::HiRes qw(usleep);

# How long a wait may take before the test fails (not a timing assertion).
our $WAIT_SECONDS = $ENV{PG_RAFT_WAIT_SECONDS} // 120;

# A free TCP port on host (bind test), from a pseudo-random start.
sub _free_port
{
	my ($host) = @_;
	for my $attempt (1 .. 500)
	{
		my $port = 20000 + int(rand(30000));
		my $sock = IO::Socket::INET->new(
			LocalAddr => $host,
			LocalPort => $port,
			Proto => 'tcp',
			ReuseAddr => 1,
			Listen => 1);
		next unless $sock;
		close($sock);
		return $port;
	}
	die "no free port on $host";
}

# new(name => 'x', nodes => 3, conf => "extra lines")
sub new
{
	my ($class, %p) = @_;
	my $n = $p{nodes} // 3;
	# a per-run /16 of 127/8, so concurrent runs rarely collide
	my $self = bless {
		name => $p{name} // 'raft',
		conf => $p{conf} // '',
		net => 20 + ($$ % 200),
		ids => [],
		nodes => [],
		addr => [],
		down => {},
		paused => {} }, $class;

	$self->{addr}[$_] = $self->_new_addr($_) for 1 .. $n;
	my $initial = join(',', map { "$_=$self->{addr}[$_]" } 1 .. $n);
	$self->_make_node($_, $initial) for 1 .. $n;
	$self->node($_)->start for 1 .. $n;
	$self->node($_)->safe_psql('postgres', 'CREATE EXTENSION pg_raft') for 1 .. $n;
	return $self;
}

sub _new_addr
{
	my ($self, $id) = @_;
	my $host = "127.0.$self->{net}.$id";
	return "$host:" . _free_port($host);
}

sub _make_node
{
	my ($self, $id, $initial) = @_;
	my $node = PostgreSQL::Test::Cluster->new("$self->{name}_$id");
	$node->init;
	$node->append_conf('postgresql.conf', <<"EOF");
shared_preload_libraries = 'pg_raft'
shared_buffers = 16MB
max_connections = 30
pg_raft.node_id = $id
pg_raft.listen_addr = '$self->{addr}[$id]'
pg_raft.initial_cluster = '$initial'
pg_raft.cluster_secret = 'tap-secret-$self->{name}'
pg_raft.election_timeout = 1000
pg_raft.heartbeat_interval = 100
EOF
	# how the other servers reach this one's tables (snapshot install,
	# raft.add_node's check)
	$node->append_conf('postgresql.conf',
		"pg_raft.conninfo = '" . _conninfo_of($node) . "'\n");
	$node->append_conf('postgresql.conf', $self->{conf}) if $self->{conf};
	$self->{nodes}[$id] = $node;
	push @{ $self->{ids} }, $id;
	return $node;
}

# A new, empty server with id, started, with the extension created; its
# pg_raft.initial_cluster lists the current members so it can reach them.
# It is not a member until raft.add_node.
sub add_server
{
	my ($self, $id) = @_;
	my $initial = join(',', map { "$_=$self->{addr}[$_]" } $self->ids);
	$self->{addr}[$id] = $self->_new_addr($id);
	my $node = $self->_make_node($id, $initial);
	$node->start;
	$node->safe_psql('postgres', 'CREATE EXTENSION pg_raft');
	return $node;
}

sub _conninfo_of
{
	my ($node) = @_;
	return "host=" . $node->host . " port=" . $node->port . " dbname=postgres";
}

# The libpq conninfo of server id (its pg_raft.conninfo).
sub conninfo { my ($self, $id) = @_; return _conninfo_of($self->node($id)); }

# raft.add_node(id, its address, its conninfo) on server on; returns
# (ok, stdout, stderr).
sub add_node
{
	my ($self, $on, $id) = @_;
	my ($ret, $out, $err) = $self->node($on)->psql('postgres',
		"SELECT raft.add_node($id, '" . $self->addr($id) . "', '" . $self->conninfo($id) . "')",
		timeout => 180);
	return ($ret == 0, $out, $err);
}

# Forgets a server (after it was removed and stopped).
sub forget
{
	my ($self, $id) = @_;
	$self->{ids} = [ grep { $_ != $id } @{ $self->{ids} } ];
}

sub ids { my ($self) = @_; return @{ $self->{ids} }; }
sub node { my ($self, $id) = @_; return $self->{nodes}[$id]; }
sub nodes { my ($self) = @_; return map { $self->{nodes}[$_] } $self->ids; }
sub addr { my ($self, $id) = @_; return $self->{addr}[$id]; }

# Ids of the servers that are running and not paused.
sub live_ids
{
	my ($self) = @_;
	return grep { !$self->{down}{$_} && !$self->{paused}{$_} } $self->ids;
}

# raft.status() of one server as a hash, or undef if it cannot answer.
sub status
{
	my ($self, $id) = @_;
	my ($ret, $out, $err) = $self->node($id)->psql('postgres',
		"SELECT node_id, role, term, coalesce(leader_id, 0), commit_index, applied_index, last_log_index FROM raft.status()",
		extra_params => [ '-F', '|', '-A', '-t' ],
		timeout => 30);
	return undef if $ret != 0 || !defined $out || $out eq '';
	my @f = split /\|/, $out;
	return {
		node_id => $f[0], role => $f[1], term => $f[2], leader => $f[3],
		commit => $f[4], applied => $f[5], last_index => $f[6] };
}

# Waits until every live server (or those in `among`) names the same
# leader, which is one of them and says it leads.  Returns its id.
sub wait_for_leader
{
	my ($self, %p) = @_;
	my @among = $p{among} ? @{ $p{among} } : $self->live_ids;
	my $deadline = time() + $WAIT_SECONDS;
	while (time() < $deadline)
	{
		my %seen;
		my $leader;
		my $ok = 1;
		for my $id (@among)
		{
			my $st = $self->status($id);
			if (!$st) { $ok = 0; last; }
			$seen{ $st->{leader} } = 1;
			$leader = $id if $st->{role} eq 'leader';
		}
		if ($ok && defined $leader && keys(%seen) == 1 && exists $seen{$leader}
			&& (!$p{not} || $leader != $p{not}))
		{
			return $leader;
		}
		usleep(100_000);
	}
	fail("no leader among servers @among within ${WAIT_SECONDS}s");
	return undef;
}

# raft.exec on server id; args are SQL expressions.  Returns
# (ok, result, stderr).
sub exec
{
	my ($self, $id, $sql, @args) = @_;
	(my $quoted = $sql) =~ s/'/''/g;
	my $call = join(', ', "'$quoted'", @args);
	my ($ret, $out, $err) = $self->node($id)->psql('postgres',
		"SET statement_timeout = '60s'; SELECT raft.exec($call)",
		timeout => 90);
	return ($ret == 0, $out, $err);
}

# raft.exec that must succeed; returns rows affected.
sub exec_ok
{
	my ($self, $id, $sql, @args) = @_;
	my ($ok, $out, $err) = $self->exec($id, $sql, @args);
	ok($ok, "raft.exec on node $id: $sql") or diag($err);
	return $out;
}

# raft.exec, retried (bounded) until it succeeds on some live server:
# for writes during a failover.  Returns the id that took it, or undef.
sub exec_retry
{
	my ($self, $sql, @args) = @_;
	my $deadline = time() + $WAIT_SECONDS;
	while (time() < $deadline)
	{
		for my $id ($self->live_ids)
		{
			my ($ok, $out, $err) = $self->exec($id, $sql, @args);
			return $id if $ok;
			# a definite error of the statement itself: stop
			return undef if $err =~ /violates|does not exist|syntax/;
		}
		usleep(200_000);
	}
	return undef;
}

# A linearizable read on server id: raft.barrier(), then the query in the
# same session.  Returns the query's output.
sub read_after_barrier
{
	my ($self, $id, $query) = @_;
	my $out = $self->node($id)->safe_psql('postgres',
		"SELECT raft.barrier() AS fence \\gset\n$query");
	return $out;
}

# Ordered contents of a table on server id, after a read fence.
sub contents
{
	my ($self, $id, $table) = @_;
	return $self->read_after_barrier($id,
		"SELECT coalesce(string_agg(t::text, E'\\n' ORDER BY t::text), '') FROM $table t");
}

# The table has the same ordered contents on every live server.
sub check_identical
{
	my ($self, $table, $label) = @_;
	my @ids = $self->live_ids;
	my $first = $self->contents($ids[0], $table);
	for my $id (@ids[ 1 .. $#ids ])
	{
		is($self->contents($id, $table), $first,
			"$label: $table on node $id is identical to node $ids[0]");
	}
	return $first;
}

# Waits (bounded) until server id has applied at least index.
sub wait_applied
{
	my ($self, $id, $index) = @_;
	my $deadline = time() + $WAIT_SECONDS;
	while (time() < $deadline)
	{
		my $st = $self->status($id);
		return 1 if $st && $st->{applied} >= $index;
		usleep(100_000);
	}
	fail("node $id did not apply index $index within ${WAIT_SECONDS}s");
	return 0;
}

sub _postmaster_pid
{
	my ($self, $id) = @_;
	my $file = $self->node($id)->data_dir . '/postmaster.pid';
	open(my $fh, '<', $file) or return undef;
	my $pid = <$fh>;
	close($fh);
	chomp $pid;
	return $pid;
}

# The postmaster and its children.
sub _server_pids
{
	my ($self, $id) = @_;
	my $pm = $self->_postmaster_pid($id);
	return () unless $pm;
	my @pids = ($pm);
	for my $stat (glob('/proc/[0-9]*/stat'))
	{
		open(my $fh, '<', $stat) or next;
		my $line = <$fh>;
		close($fh);
		next unless defined $line;
		# pid (comm) state ppid ...
		if ($line =~ /^(\d+) \(.*\) \S+ (\d+)/ && $2 == $pm)
		{
			push @pids, $1;
		}
	}
	return @pids;
}

# The pid of the Raft worker (or applier) process of server id.
sub worker_pid
{
	my ($self, $id, $which) = @_;
	$which //= 'worker';
	for my $pid ($self->_server_pids($id))
	{
		open(my $fh, '<', "/proc/$pid/cmdline") or next;
		my $cmd = <$fh> // '';
		close($fh);
		return $pid if $cmd =~ /pg_raft $which/;
	}
	return undef;
}

# kill -9 of the postmaster and every child: a machine crash.
sub crash
{
	my ($self, $id) = @_;
	my @pids = $self->_server_pids($id);
	note("crashing node $id: kill -9 @pids");
	$self->node($id)->kill9;
	kill('KILL', @pids);
	$self->{down}{$id} = 1;
	# wait until they are gone, so the restart finds no old shared memory
	my $deadline = time() + $WAIT_SECONDS;
	while (time() < $deadline && grep { kill(0, $_) } @pids)
	{
		usleep(50_000);
	}
}

sub stop
{
	my ($self, $id) = @_;
	$self->node($id)->stop('fast');
	$self->{down}{$id} = 1;
}

sub start
{
	my ($self, $id) = @_;
	$self->node($id)->start;
	delete $self->{down}{$id};
}

# SIGSTOP / SIGCONT of the whole server.
sub pause
{
	my ($self, $id) = @_;
	my @pids = $self->_server_pids($id);
	note("pausing node $id: kill -STOP @pids");
	kill('STOP', @pids);
	$self->{paused}{$id} = [@pids];
}

sub resume
{
	my ($self, $id) = @_;
	my $pids = delete $self->{paused}{$id} or return;
	note("resuming node $id: kill -CONT @$pids");
	kill('CONT', @$pids);
}

# Stops every server (resuming paused ones first).
sub stop_all
{
	my ($self) = @_;
	$self->resume($_) for keys %{ $self->{paused} };
	for my $id (grep { defined $self->{nodes}[$_] } 0 .. $#{ $self->{nodes} })
	{
		next if $self->{down}{$id};
		$self->node($id)->stop('fast');
		$self->{down}{$id} = 1;
	}
}



# Writes rows (k, label) into table (k int, v text) on server on, 70 per
# round, from k = from on, until that server's log starts after index
# past (compaction dropped it: a server at past needs a snapshot).
# Bounded; returns the next unused k.
sub write_until_compacted
{
	my ($self, $on, $table, $from, $past, $label) = @_;
	for my $round (1 .. 20)
	{
		my $to = $from + 69;
		$self->node($on)->safe_psql('postgres',
			qq{SET statement_timeout = '120s';
			   SELECT count(raft.exec('INSERT INTO $table VALUES (\$1, \$2)', i, '$label'::text))
			   FROM generate_series($from, $to) i}, timeout => 180);
		$from = $to + 1;
		my $first = $self->node($on)->safe_psql('postgres', 'SELECT first_log_index FROM raft.status()');
		if ($first > $past + 1)
		{
			pass("node ${on}'s log starts at $first, past index $past");
			return $from;
		}
	}
	fail("node ${on}'s log still holds index " . ($past + 1));
	return $from;
}

# A background writer: a child process that inserts k = 1, 2, ... into
# table (k int PRIMARY KEY, v text) through raft.exec on the servers of
# writer_targets (round robin), one statement at a time, and records each
# acknowledged k.  Returns a handle for writer_acked / stop_writer.
sub start_writer
{
	my ($self, $table, @targets) = @_;
	my $dir = PostgreSQL::Test::Utils::tempdir();
	my $w = { dir => $dir, table => $table };
	$self->writer_targets($w, @targets);
	my $pid = fork();
	die "fork: $!" unless defined $pid;
	if ($pid == 0)
	{
		my $k = 0;
		my $turn = 0;
		open(my $ack, '>>', "$dir/acked") or POSIX::_exit(1);
		$ack->autoflush(1);
		eval {
		while (!-e "$dir/stop")
		{
			open(my $fh, '<', "$dir/targets") or die "targets: $!";
			my @targets = map { chomp; [ split /\t/ ] } <$fh>;
			close($fh);
			if (!@targets) { usleep(50_000); next; }
			# the child knows no server added after the fork: connstr only
			my ($id, $connstr) = @{ $targets[ $turn++ % @targets ] };
			$k++;
			my ($out, $err) = ('', '');
			my $ret = eval {
				IPC::Run::run(
					[ 'psql', '-X', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-d', $connstr,
					  '-c', "SET statement_timeout = '30s'", '-c',
					  "SELECT raft.exec('INSERT INTO $table VALUES (\$1, \$2)', $k, 'node $id'::text)" ],
					'<', \'', '>', \$out, '2>', \$err, IPC::Run::timeout(60));
				$? >> 8;
			} // 99;
			print $ack ($ret == 0 ? "$k\n" : "-$k\n");
			if ($ret != 0 && open(my $ef, '>>', "$dir/failures"))
			{
				print $ef "k = $k on node $id: $err";
				close($ef);
			}
		}
		};
		open(my $e, '>', "$dir/error");
		print $e ($@ ? "writer failed: $@" : "writer stopped at k = $k\n");
		close($e);
		close($ack);
		POSIX::_exit(0);
	}
	$w->{pid} = $pid;
	return $w;
}

# The servers the writer sends its next statements to.
sub writer_targets
{
	my ($self, $w, @targets) = @_;
	open(my $fh, '>', "$w->{dir}/targets.new") or die;
	print $fh "$_\t" . $self->node($_)->connstr('postgres') . "\n" for @targets;
	close($fh);
	rename("$w->{dir}/targets.new", "$w->{dir}/targets") or die;
}

# (acknowledged keys, failed keys) so far.
sub writer_results
{
	my ($self, $w) = @_;
	my (@acked, @failed);
	open(my $fh, '<', "$w->{dir}/acked") or return ([], []);
	while (my $line = <$fh>)
	{
		chomp $line;
		next unless $line =~ /^(-?)(\d+)$/;
		if ($1) { push @failed, $2 } else { push @acked, $2 }
	}
	close($fh);
	return (\@acked, \@failed);
}

# Waits (bounded) until the writer has n more acknowledged writes than now.
sub writer_progress
{
	my ($self, $w, $n) = @_;
	my ($acked) = $self->writer_results($w);
	my $want = @$acked + $n;
	my $deadline = time() + $WAIT_SECONDS;
	while (time() < $deadline)
	{
		($acked) = $self->writer_results($w);
		return 1 if @$acked >= $want;
		if ($w->{exited} || waitpid($w->{pid}, POSIX::WNOHANG()) == $w->{pid})
		{
			$w->{exited} = 1;
			last;
		}
		usleep(100_000);
	}
	fail("the writer did not reach $want acknowledged writes"
		  . ($w->{exited} ? ": it stopped" : " within ${WAIT_SECONDS}s"));
	diag(slurp_file("$w->{dir}/error") . " exit status $?") if -e "$w->{dir}/error";
	return 0;
}

# Stops the writer (after its statement in flight); returns
# (acknowledged keys, failed keys).
sub stop_writer
{
	my ($self, $w) = @_;
	open(my $fh, '>', "$w->{dir}/stop") or die;
	close($fh);
	waitpid($w->{pid}, 0) unless $w->{exited};
	note("writes not acknowledged:\n" . slurp_file("$w->{dir}/failures"))
	  if -e "$w->{dir}/failures";
	return $self->writer_results($w);
}

# Every acknowledged key of the writer is in table on every live server,
# and the table is identical everywhere.
sub check_acked
{
	my ($self, $w, $acked, $label) = @_;
	my $leader = $self->wait_for_leader;
	$self->wait_applied($_, $self->status($leader)->{commit}) for $self->live_ids;
	my $rows = $self->check_identical($w->{table}, $label);
	my %have = map { /^\((\d+),/ ? ($1 => 1) : () } split /\n/, $rows;
	my @missing = grep { !$have{$_} } @$acked;
	is(scalar(@missing), 0,
		"$label: all " . scalar(@$acked) . " acknowledged writes are on every server")
	  or diag("missing: @missing[0 .. ($#missing < 20 ? $#missing : 19)]");
}

1;
