/*
 * regress/unit/test_storage_util.h — helpers shared by the storage's unit
 * tests (regress/unit/test_storage*.c): scratch directories, entries with
 * data derived from their index (so any entry can be checked on its own),
 * and the file surgery the recovery tests do (cut, flip, copy).
 */
#ifndef TEST_STORAGE_UTIL_H
#define TEST_STORAGE_UTIL_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "storage.h"

#define DIR_LEN 256				/* scratch directory names */
#define PATH_LEN 1024			/* a file in one */

/* A fresh empty directory under $TMPDIR (or /tmp). */
static inline void
scratch_dir(char *path, size_t len)
{
	const char *tmp = getenv("TMPDIR");

	snprintf(path, len, "%s/raft-storage-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	assert_non_null(mkdtemp(path));
}

/* Removes a log directory (flat: the log has no subdirectories). */
static inline void
remove_dir(const char *path)
{
	DIR		   *d = opendir(path);
	struct dirent *de;
	char		p[PATH_LEN];

	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL)
	{
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		snprintf(p, sizeof(p), "%s/%s", path, de->d_name);
		unlink(p);
	}
	closedir(d);
	rmdir(path);
}

/* Copies every file of from into the empty directory to. */
static inline void
copy_dir(const char *from, const char *to)
{
	DIR		   *d = opendir(from);
	struct dirent *de;

	assert_non_null(d);
	while ((de = readdir(d)) != NULL)
	{
		char		src[PATH_LEN];
		char		dst[PATH_LEN];
		char		buf[65536];
		ssize_t		n;
		int			in;
		int			out;

		if (de->d_name[0] == '.')
			continue;
		snprintf(src, sizeof(src), "%s/%s", from, de->d_name);
		snprintf(dst, sizeof(dst), "%s/%s", to, de->d_name);
		in = open(src, O_RDONLY);
		assert_true(in >= 0);
		out = open(dst, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		assert_true(out >= 0);
		while ((n = read(in, buf, sizeof(buf))) > 0)
			assert_int_equal(write(out, buf, (size_t) n), n);
		close(in);
		close(out);
	}
	closedir(d);
}

/* Bytes of data entry index carries: varied, reproducible. */
static inline size_t
data_len_for(raft_index index, size_t max)
{
	return (size_t) ((index * 7919u) % max);
}

static inline uint8_t
data_byte(raft_index index, size_t i)
{
	return (uint8_t) (index * 31u + i * 17u + 1u);
}

/* Fills e (data malloc'd; free with entry_free) for index and term. */
static inline void
entry_make(struct raft_entry *e, raft_index index, raft_term term, size_t len)
{
	uint8_t    *p = len > 0 ? malloc(len) : NULL;

	for (size_t i = 0; i < len; i++)
		p[i] = data_byte(index, i);
	e->index = index;
	e->term = term;
	e->type = RAFT_ENTRY_COMMAND;
	e->data.base = p;
	e->data.len = len;
}

static inline void
entry_free(struct raft_entry *e)
{
	free(e->data.base);
	e->data.base = NULL;
}

/* Checks that e is what entry_make(index, term, len) made. */
static inline void
entry_check(const struct raft_entry *e, raft_index index, raft_term term,
			size_t len)
{
	const uint8_t *p = e->data.base;

	assert_int_equal(e->index, index);
	assert_int_equal(e->term, term);
	assert_int_equal(e->type, RAFT_ENTRY_COMMAND);
	assert_int_equal(e->data.len, len);
	for (size_t i = 0; i < len; i++)
		assert_int_equal(p[i], data_byte(index, i));
}

/* Appends entries first..last (term, data_len_for(index, max_data)). */
static inline void
append_range(struct raft_log *log, raft_index first, raft_index last,
			 raft_term term, size_t max_data)
{
	for (raft_index i = first; i <= last; i++)
	{
		struct raft_entry e;

		entry_make(&e, i, term, data_len_for(i, max_data));
		assert_int_equal(raft_log_append(log, &e, 1), RAFT_OK);
		entry_free(&e);
	}
}

/* Checks loaded entries are first..last with term and data_len_for. */
static inline void
loaded_check(const struct raft_log_loaded *l, raft_index first,
			 raft_index last, raft_term term, size_t max_data)
{
	assert_int_equal(l->n_entries, last >= first ? last - first + 1 : 0);
	for (raft_index i = first; i <= last; i++)
		entry_check(&l->entries[i - first], i, term, data_len_for(i, max_data));
}

static inline void
small_options(struct raft_log_options *opt)
{
	raft_log_options_default(opt);
	opt->segment_bytes = 4096;
}

static inline void
seg_path(char *buf, size_t len, const char *dir, raft_index first)
{
	snprintf(buf, len, "%s/%020" PRIu64 ".seg", dir, (uint64_t) first);
}

/* The first indexes of the segment files in dir, sorted; returns count. */
static inline size_t
list_segments(const char *dir, raft_index *firsts, size_t max)
{
	DIR		   *d = opendir(dir);
	struct dirent *de;
	size_t		n = 0;

	assert_non_null(d);
	while ((de = readdir(d)) != NULL)
	{
		size_t		len = strlen(de->d_name);

		if (len == 24 && strcmp(de->d_name + 20, ".seg") == 0)
		{
			assert_true(n < max);
			firsts[n++] = strtoull(de->d_name, NULL, 10);
		}
	}
	closedir(d);
	for (size_t i = 1; i < n; i++)
		for (size_t j = i; j > 0 && firsts[j - 1] > firsts[j]; j--)
		{
			raft_index	t = firsts[j];

			firsts[j] = firsts[j - 1];
			firsts[j - 1] = t;
		}
	return n;
}

static inline bool
file_exists(const char *dir, const char *name)
{
	char		p[PATH_LEN];
	struct stat st;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	return stat(p, &st) == 0;
}

static inline off_t
file_size(const char *path)
{
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	return st.st_size;
}

static inline void
file_cut(const char *path, off_t size)
{
	assert_int_equal(truncate(path, size), 0);
}

static inline uint8_t
file_byte(const char *path, off_t off)
{
	uint8_t		b = 0;
	int			fd = open(path, O_RDONLY);

	assert_true(fd >= 0);
	assert_int_equal(pread(fd, &b, 1, off), 1);
	close(fd);
	return b;
}

static inline void
file_write(const char *path, off_t off, const void *buf, size_t len)
{
	int			fd = open(path, O_WRONLY);

	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, buf, len, off), (ssize_t) len);
	close(fd);
}

static inline void
file_flip(const char *path, off_t off)
{
	uint8_t		b = file_byte(path, off) ^ 0x5a;

	file_write(path, off, &b, 1);
}

/* Fails operation op with err, times times, after letting skip pass. */
struct faults
{
	enum raft_log_op op;
	int			skip;
	int			times;
	int			err;
	int			calls[8];
};

static inline int
fault_hook(void *arg, enum raft_log_op op)
{
	struct faults *fl = arg;

	fl->calls[op]++;
	if (op != fl->op || fl->times == 0)
		return 0;
	if (fl->skip > 0)
	{
		fl->skip--;
		return 0;
	}
	fl->times--;
	return fl->err;
}

#endif							/* TEST_STORAGE_UTIL_H */
