/*
 * regress/unit/test_storage_crash.c — kill -9 in the middle of appends and
 * syncs.  A child process appends batches and reports each index a sync
 * made durable through a pipe (it "acknowledges" it); the parent kills it
 * at an arbitrary point, reopens the log and checks that every
 * acknowledged entry is there and intact, then lets a new child go on from
 * what was loaded.  (A killed process keeps the page cache, so this checks
 * the acknowledgement contract and recovery from a half-done write; power
 * loss is what test_storage_recovery's cut and torn files stand for.)
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/wait.h>

#include <cmocka.h>

#include "test_storage_util.h"

#define ROUNDS 6
#define MAX_DATA 2000
#define BATCH_MAX 40

/* The child: never returns.  Exit status 0 only if killed cleanly. */
static void
child_main(const char *dir, int ack_fd, raft_index next, uint64_t seed)
{
	struct raft_log_options opt;
	struct raft_log *log;
	struct raft_log_loaded l;
	uint64_t	x = seed | 1;

	raft_log_options_default(&opt);
	opt.segment_bytes = 64 * 1024;
	if (raft_log_open(dir, &opt, &log, &l) != RAFT_OK)
		_exit(2);
	raft_log_loaded_free(&l);
	for (;;)
	{
		raft_index	n;

		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		n = 1 + x % BATCH_MAX;
		for (raft_index i = next; i < next + n; i++)
		{
			struct raft_entry e;

			entry_make(&e, i, 1, data_len_for(i, MAX_DATA));
			if (raft_log_append(log, &e, 1) != RAFT_OK)
				_exit(3);
			entry_free(&e);
		}
		if (raft_log_sync(log) != RAFT_OK)
			_exit(4);
		next += n;
		{
			uint64_t	acked = next - 1;

			if (write(ack_fd, &acked, sizeof(acked)) != sizeof(acked))
				_exit(5);
		}
	}
}

static void
test_kill_during_appends(void **state)
{
	char		dir[DIR_LEN];
	raft_index	next = 1;
	uint64_t	x = 0xdecafbad;

	scratch_dir(dir, sizeof(dir));
	for (int round = 0; round < ROUNDS; round++)
	{
		int			fds[2];
		pid_t		pid;
		uint64_t	acked = next - 1;
		uint64_t	got;
		unsigned	acks_before_kill;
		int			status;
		struct raft_log *log;
		struct raft_log_loaded l;

		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		acks_before_kill = 5 + (unsigned) (x % 60);
		assert_int_equal(pipe(fds), 0);
		pid = fork();
		assert_true(pid >= 0);
		if (pid == 0)
		{
			close(fds[0]);
			child_main(dir, fds[1], next, x);
		}
		close(fds[1]);
		for (unsigned a = 0; a < acks_before_kill; a++)
		{
			assert_int_equal(read(fds[0], &got, sizeof(got)), sizeof(got));
			acked = got;
		}
		kill(pid, SIGKILL);
		/* Acks already in the pipe were sent after their sync: count them. */
		while (read(fds[0], &got, sizeof(got)) == sizeof(got))
			acked = got;
		close(fds[0]);
		assert_int_equal(waitpid(pid, &status, 0), pid);
		assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);

		assert_int_equal(raft_log_open(dir, NULL, &log, &l), RAFT_OK);
		assert_true(l.n_entries >= acked);
		for (raft_index i = 1; i <= l.n_entries; i++)
			entry_check(&l.entries[i - 1], i, 1, data_len_for(i, MAX_DATA));
		next = l.n_entries + 1;
		raft_log_close(log);
		raft_log_loaded_free(&l);
	}
	remove_dir(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kill_during_appends),
	};

	return cmocka_run_group_tests_name("storage crash", tests, NULL, NULL);
}
