/*
 * raft/storage/fileio.c — the storage's system calls: full writes and
 * reads, data and directory syncs, preallocation, atomic file replacement.
 * Each goes through the options' fault hook first, so tests can make any
 * of them fail with the errno they choose (ENOSPC, EIO).  Functions return
 * 0 or an errno; they never print and keep no state of their own: the time
 * each sync took is added to the struct st_sync_time the caller passes
 * (may be NULL), so the host can see what its fsyncs cost.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "storage_internal.h"

int
st_io_fault(const struct raft_log_options *opt, enum raft_log_op op)
{
	if (opt->fault == NULL)
		return 0;
	return opt->fault(opt->fault_arg, op);
}

/*
 * strerror is not thread-safe; strerror_r comes in two flavours (GNU when
 * _GNU_SOURCE is defined, as in PostgreSQL's build, XSI otherwise).
 */
void
st_io_strerror(int err, char *buf, size_t len)
{
#if defined(__GLIBC__) && defined(_GNU_SOURCE)
	const char *s = strerror_r(err, buf, len);

	if (s != buf)
		snprintf(buf, len, "%s", s);
#else
	if (strerror_r(err, buf, len) != 0)
		snprintf(buf, len, "error %d", err);
#endif
}

int
st_io_pwrite_all(const struct raft_log_options *opt, int fd, const void *buf,
				 size_t len, uint64_t off)
{
	const uint8_t *p = buf;
	int			err;

	if ((err = st_io_fault(opt, RAFT_LOG_OP_WRITE)) != 0)
		return err;
	while (len > 0)
	{
		ssize_t		n = pwrite(fd, p, len, (off_t) off);

		if (n < 0)
		{
			if (errno == EINTR)
				continue;
			return errno;
		}
		if (n == 0)
			return ENOSPC;
		p += n;
		len -= (size_t) n;
		off += (uint64_t) n;
	}
	return 0;
}

/* Reads exactly len bytes at off; EIO if the file is shorter. */
int
st_io_read_all(int fd, void *buf, size_t len, uint64_t off)
{
	uint8_t    *p = buf;

	while (len > 0)
	{
		ssize_t		n = pread(fd, p, len, (off_t) off);

		if (n < 0)
		{
			if (errno == EINTR)
				continue;
			return errno;
		}
		if (n == 0)
			return EIO;
		p += n;
		len -= (size_t) n;
		off += (uint64_t) n;
	}
	return 0;
}

uint64_t
st_io_now_us(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
		return 0;
	return (uint64_t) ts.tv_sec * 1000000u + (uint64_t) ts.tv_nsec / 1000u;
}

void
st_sync_time_add(struct st_sync_time *t, uint64_t us)
{
	if (t == NULL)
		return;
	t->us_total += us;
	if (us > t->us_max)
		t->us_max = us;
}

/* One sync, timed: fdatasync if data_only, else fsync. */
static int
timed_sync(const struct raft_log_options *opt, enum raft_log_op op, int fd,
		   bool data_only, struct st_sync_time *t)
{
	uint64_t	t0;
	int			err;

	if ((err = st_io_fault(opt, op)) != 0)
		return err;
	t0 = st_io_now_us();
	err = (data_only ? fdatasync(fd) : fsync(fd)) == 0 ? 0 : errno;
	st_sync_time_add(t, st_io_now_us() - t0);
	return err;
}

int
st_io_datasync(const struct raft_log_options *opt, int fd,
			   struct st_sync_time *t)
{
	return timed_sync(opt, RAFT_LOG_OP_SYNC, fd, true, t);
}

int
st_io_fsync(const struct raft_log_options *opt, int fd, struct st_sync_time *t)
{
	return timed_sync(opt, RAFT_LOG_OP_SYNC, fd, false, t);
}

int
st_io_dirsync(const struct raft_log_options *opt, int dir_fd,
			  struct st_sync_time *t)
{
	return timed_sync(opt, RAFT_LOG_OP_DIRSYNC, dir_fd, false, t);
}

/* posix_fallocate returns the error itself; it writes zeros where the
 * file system cannot allocate, so it works everywhere. */
int
st_io_allocate(const struct raft_log_options *opt, int fd, uint64_t off,
			   uint64_t len)
{
	int			err;

	if ((err = st_io_fault(opt, RAFT_LOG_OP_ALLOCATE)) != 0)
		return err;
	do
		err = posix_fallocate(fd, (off_t) off, (off_t) len);
	while (err == EINTR);
	return err;
}

int
st_io_rename(const struct raft_log_options *opt, int dir_fd, const char *from,
			 const char *to)
{
	int			err;

	if ((err = st_io_fault(opt, RAFT_LOG_OP_RENAME)) != 0)
		return err;
	return renameat(dir_fd, from, dir_fd, to) == 0 ? 0 : errno;
}

int
st_io_replace_file(const struct raft_log_options *opt, int dir_fd,
				   const char *name, const void *buf, size_t len,
				   const char **step, struct st_sync_time *t)
{
	char		tmp[NAME_MAX + 1];
	int			fd;
	int			err;

	if ((size_t) snprintf(tmp, sizeof(tmp), "%s%s", name, TMP_SUFFIX) >= sizeof(tmp))
	{
		*step = "name";
		return ENAMETOOLONG;
	}
	*step = "create";
	fd = openat(dir_fd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return errno;
	*step = "write";
	err = st_io_pwrite_all(opt, fd, buf, len, 0);
	if (err == 0)
	{
		*step = "fsync";
		err = st_io_fsync(opt, fd, t);
	}
	close(fd);
	if (err == 0)
	{
		*step = "rename";
		err = st_io_rename(opt, dir_fd, tmp, name);
	}
	if (err != 0)
	{
		unlinkat(dir_fd, tmp, 0);
		return err;
	}
	*step = "fsync of the directory";
	return st_io_dirsync(opt, dir_fd, t);
}

int
st_io_read_file(int dir_fd, const char *name, size_t max, uint8_t **buf,
				size_t *len)
{
	struct stat st;
	uint8_t    *p;
	int			fd;
	int			err;

	*buf = NULL;
	*len = 0;
	fd = openat(dir_fd, name, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno;
	if (fstat(fd, &st) != 0)
	{
		err = errno;
		close(fd);
		return err;
	}
	if ((uint64_t) st.st_size > max)
	{
		close(fd);
		return EFBIG;
	}
	p = malloc(st.st_size > 0 ? (size_t) st.st_size : 1);
	if (p == NULL)
	{
		close(fd);
		return ENOMEM;
	}
	err = st_io_read_all(fd, p, (size_t) st.st_size, 0);
	close(fd);
	if (err != 0)
	{
		free(p);
		return err;
	}
	*buf = p;
	*len = (size_t) st.st_size;
	return 0;
}
