/*
 * raft/storage/open.c — opening a log directory: options, the directory
 * and its lock, and recovery.  scan.c checks every header and record first
 * and changes nothing; only when all checks pass are the repairs made:
 *   - a torn tail is cut off: a bad record at the end of the last segment
 *     with no valid record anywhere after it (a write that a crash
 *     interrupted before its fdatasync returned, so nobody acknowledged it);
 *   - leftover temporary files (*.tmp) are removed;
 *   - segments wholly covered by the snapshot are removed (an interrupted
 *     raft_log_compact);
 *   - a log that does not hold the snapshot's last entry is discarded (an
 *     interrupted raft_log_save_snapshot, §5).
 * An empty last segment (an interrupted rollover) is simply kept: its name
 * is the index the next entry gets.
 * Anything else refuses to open, with the file and byte offset.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "codec.h"
#include "storage_internal.h"

int
st_refuse(struct scan *sc, int rv, const char *fmt,...)
{
	va_list		ap;

	va_start(ap, fmt);
	vsnprintf(sc->loaded->error, sizeof(sc->loaded->error), fmt, ap);
	va_end(ap);
	return rv;
}

int
st_refuse_errno(struct scan *sc, int err, const char *what, const char *name)
{
	char		es[128];

	st_io_strerror(err, es, sizeof(es));
	return st_refuse(sc, err == ENOMEM ? RAFT_ENOMEM : RAFT_EIO,
					 "could not %s %s/%s: %s", what, sc->dir, name, es);
}

/* Removes every *.tmp file: an interrupted atomic replace or creation. */
static int
remove_tmp_files(struct scan *sc)
{
	int			fd = openat(sc->log->dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR		   *d;
	struct dirent *de;

	if (fd < 0 || (d = fdopendir(fd)) == NULL)
	{
		int			err = errno;

		if (fd >= 0)
			close(fd);
		return st_refuse_errno(sc, err, "list", ".");
	}
	while ((de = readdir(d)) != NULL)
	{
		size_t		len = strlen(de->d_name);

		if (len > strlen(TMP_SUFFIX) &&
			strcmp(de->d_name + len - strlen(TMP_SUFFIX), TMP_SUFFIX) == 0 &&
			unlinkat(sc->log->dir_fd, de->d_name, 0) != 0 && errno != ENOENT)
		{
			int			err = errno;
			char		name[NAME_MAX + 1];

			snprintf(name, sizeof(name), "%s", de->d_name);
			closedir(d);
			return st_refuse_errno(sc, err, "remove", name);
		}
	}
	closedir(d);
	return RAFT_OK;
}

static void
add_report(struct raft_log_loaded *l, const char *fmt,...)
	__attribute__((format(printf, 2, 3)));

static void
add_report(struct raft_log_loaded *l, const char *fmt,...)
{
	size_t		used = strlen(l->report);
	va_list		ap;

	if (used > 0 && used + 2 < sizeof(l->report))
	{
		strcpy(l->report + used, "; ");
		used += 2;
	}
	va_start(ap, fmt);
	vsnprintf(l->report + used, sizeof(l->report) - used, fmt, ap);
	va_end(ap);
	l->repaired = true;
}

/* Cuts the torn tail off the last segment, durably. */
static int
cut_torn_tail(struct scan *sc)
{
	struct raft_log *log = sc->log;
	raft_index	first = log->segs[log->n_segs - 1].first;
	char		name[SEG_NAME_LEN + 1];
	int			err;

	st_seg_name(name, first);
	if (ftruncate(log->seg_fd, (off_t) sc->cut_offset) != 0)
		return st_refuse_errno(sc, errno, "truncate", name);
	log->seg_file_size = sc->cut_offset;
	if (log->opt.preallocate && sc->cut_offset < log->opt.segment_bytes &&
		st_io_allocate(&log->opt, log->seg_fd, sc->cut_offset,
					   log->opt.segment_bytes - sc->cut_offset) == 0)
		log->seg_file_size = log->opt.segment_bytes;
	if ((err = st_io_fsync(&log->opt, log->seg_fd, &log->sync_time)) != 0)
		return st_refuse_errno(sc, err, "fsync", name);
	log->data_syncs++;
	add_report(sc->loaded,
			   "cut a torn tail off %s/%s at offset %llu (%llu bytes, %s); entries after %llu had not been synced",
			   sc->dir, name, (unsigned long long) sc->cut_offset,
			   (unsigned long long) sc->cut_bytes, sc->cut_why,
			   (unsigned long long) log->segs[log->n_segs - 1].last);
	return RAFT_OK;
}

/* Makes the checked state true on disk: the repairs listed at the top. */
static int
repair(struct scan *sc, bool discard_all)
{
	struct raft_log *log = sc->log;
	bool		dir_changed = false;
	int			rv;
	int			err;

	if (sc->remove_tmp)
	{
		if ((rv = remove_tmp_files(sc)) != RAFT_OK)
			return rv;
		dir_changed = true;
	}
	for (size_t i = 0; i < sc->n_obsolete; i++)
	{
		char		name[SEG_NAME_LEN + 1];

		st_seg_name(name, sc->obsolete[i]);
		if (unlinkat(log->dir_fd, name, 0) != 0 && errno != ENOENT)
			return st_refuse_errno(sc, errno, "remove", name);
		dir_changed = true;
	}
	if (dir_changed)
	{
		if ((err = st_io_dirsync(&log->opt, log->dir_fd, &log->sync_time)) != 0)
			return st_refuse_errno(sc, err, "fsync", ".");
		log->dir_syncs++;
	}
	if (log->n_segs > 0)
	{
		char		name[SEG_NAME_LEN + 1];

		st_seg_name(name, log->segs[log->n_segs - 1].first);
		log->seg_fd = openat(log->dir_fd, name, O_RDWR | O_CLOEXEC);
		if (log->seg_fd < 0)
			return st_refuse_errno(sc, errno, "open", name);
	}
	if (sc->cut_tail && !discard_all && (rv = cut_torn_tail(sc)) != RAFT_OK)
		return rv;
	if (discard_all)
	{
		raft_index	first = st_log_first_index(log);
		raft_index	last = st_log_last_index(log);

		if ((rv = st_log_remove_all(log)) != RAFT_OK)
			return st_refuse(sc, rv, "%s", log->errmsg);
		if (last >= first && last > 0)
			add_report(sc->loaded,
					   "discarded entries %llu to %llu: they do not continue the snapshot at index %llu, term %llu (an interrupted snapshot installation)",
					   (unsigned long long) first, (unsigned long long) last,
					   (unsigned long long) log->snap_index,
					   (unsigned long long) log->snap_term);
		sc->loaded->n_entries = 0;
	}
	return RAFT_OK;
}

static int
open_dir(struct scan *sc, const char *dir)
{
	struct raft_log *log = sc->log;
	int			fd;

	log->dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (log->dir_fd < 0 && errno == ENOENT)
	{
		char		parent[PATH_MAX];
		char	   *slash;

		if (mkdir(dir, 0700) != 0 && errno != EEXIST)
			return st_refuse_errno(sc, errno, "create directory", "");
		snprintf(parent, sizeof(parent), "%s", dir);
		slash = strrchr(parent, '/');
		if (slash == NULL)
			strcpy(parent, ".");
		else if (slash == parent)
			parent[1] = '\0';
		else
			*slash = '\0';
		fd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd >= 0)
		{
			if (fsync(fd) == 0)
				log->dir_syncs++;
			close(fd);
		}
		log->dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	}
	if (log->dir_fd < 0)
		return st_refuse_errno(sc, errno, "open directory", "");
	log->lock_fd = openat(log->dir_fd, LOCK_FILE, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (log->lock_fd < 0)
		return st_refuse_errno(sc, errno, "create", LOCK_FILE);
	if (flock(log->lock_fd, LOCK_EX | LOCK_NB) != 0)
	{
		if (errno == EWOULDBLOCK)
			return st_refuse(sc, RAFT_EIO, "log directory %s is in use by another process or handle",
							 dir);
		return st_refuse_errno(sc, errno, "lock", LOCK_FILE);
	}
	return RAFT_OK;
}

static int
options_set(struct raft_log *log, const struct raft_log_options *opt,
			struct scan *sc)
{
	if (opt == NULL)
		raft_log_options_default(&log->opt);
	else
		log->opt = *opt;
	if (log->opt.segment_bytes == 0)
		log->opt.segment_bytes = RAFT_LOG_DEFAULT_SEGMENT_BYTES;
	log->opt.segment_bytes = (log->opt.segment_bytes + 4095) & ~(size_t) 4095;
	if (log->opt.segment_bytes < RAFT_LOG_MIN_SEGMENT_BYTES ||
		log->opt.segment_bytes > RAFT_LOG_MAX_SEGMENT_BYTES)
		return st_refuse(sc, RAFT_EINVAL, "segment size %zu out of range",
						 log->opt.segment_bytes);
	if (log->opt.max_record_bytes == 0)
		log->opt.max_record_bytes = RAFT_LOG_DEFAULT_RECORD_BYTES;
	if (log->opt.max_record_bytes > RAFT_LOG_DEFAULT_RECORD_BYTES)
		return st_refuse(sc, RAFT_EINVAL, "maximum record size %zu out of range",
						 log->opt.max_record_bytes);
	if (log->opt.max_pending_bytes == 0)
		log->opt.max_pending_bytes = RAFT_LOG_DEFAULT_PENDING_BYTES;
	if (log->opt.max_snapshot_bytes == 0)
		log->opt.max_snapshot_bytes = RAFT_LOG_DEFAULT_SNAPSHOT_BYTES;
	return RAFT_OK;
}

/* Frees what loaded points to; keeps the messages. */
static void
loaded_release(struct raft_log_loaded *l)
{
	struct loaded_mem *m = l->mem_;

	if (m != NULL)
	{
		for (size_t i = 0; i < m->n_bufs; i++)
			free(m->bufs[i]);
		free(m->bufs);
		free(m->snap_buf);
		free(m);
	}
	free(l->entries);
	l->mem_ = NULL;
	l->entries = NULL;
	l->n_entries = 0;
	memset(&l->snapshot, 0, sizeof(l->snapshot));
}

void
raft_log_loaded_free(struct raft_log_loaded *loaded)
{
	if (loaded != NULL)
		loaded_release(loaded);
}

static int
open_log(struct scan *sc, const char *dir, const struct raft_log_options *opt)
{
	struct raft_log *log = sc->log;
	struct raft_log_loaded *l = sc->loaded;
	raft_index *firsts = NULL;
	size_t		n_firsts = 0;
	bool		have_hs;
	bool		discard_all = false;
	raft_index	last;
	int			rv;

	if ((rv = options_set(log, opt, sc)) != RAFT_OK)
		return rv;
	if (strlen(dir) == 0 || strlen(dir) + SEG_NAME_LEN + 8 >= sizeof(log->dir))
		return st_refuse(sc, RAFT_EINVAL, "bad log directory name");
	snprintf(log->dir, sizeof(log->dir), "%s", dir);
	if ((rv = open_dir(sc, dir)) != RAFT_OK)
		return rv;
	if ((rv = st_scan_list_dir(sc, &firsts, &n_firsts)) != RAFT_OK)
		return rv;
	rv = st_meta_load(log->dir_fd, dir, log->opt.max_snapshot_bytes,
					  &l->hard_state, &have_hs, &l->snapshot, &sc->mem->snap_buf,
					  l->error, sizeof(l->error));
	if (rv != RAFT_OK)
		goto out;
	log->hard_state = l->hard_state;
	log->snap_index = l->snapshot.index;
	log->snap_term = l->snapshot.term;
	if ((rv = st_scan_segments(sc, firsts, n_firsts)) != RAFT_OK)
		goto out;

	/* §5: the log continues the snapshot only if it holds its last entry. */
	if (log->snap_index > 0 && log->n_segs > 0 &&
		(sc->log_last < log->snap_index ||
		 (sc->log_first <= log->snap_index &&
		  st_log_term(log, log->snap_index) != log->snap_term)))
		discard_all = true;
	last = discard_all ? 0 : sc->log_last;
	if (last < log->snap_index)
		last = log->snap_index;
	if (l->hard_state.commit > last)
	{
		rv = st_refuse(sc, RAFT_ECORRUPT,
					   "log damaged: the hard state's commit index %llu is beyond the last entry %llu in %s (committed entries are missing)",
					   (unsigned long long) l->hard_state.commit,
					   (unsigned long long) last, dir);
		goto out;
	}
	if ((rv = repair(sc, discard_all)) != RAFT_OK)
		goto out;
	l->fresh = !have_hs && log->snap_index == 0 && n_firsts == 0;
out:
	free(firsts);
	return rv;
}

int
raft_log_open(const char *dir, const struct raft_log_options *opt,
			  struct raft_log **out, struct raft_log_loaded *loaded)
{
	struct scan sc;
	struct raft_log *log;
	int			rv;

	*out = NULL;
	memset(loaded, 0, sizeof(*loaded));
	memset(&sc, 0, sizeof(sc));
	log = calloc(1, sizeof(*log));
	sc.mem = calloc(1, sizeof(*sc.mem));
	if (log == NULL || sc.mem == NULL)
	{
		free(log);
		free(sc.mem);
		snprintf(loaded->error, sizeof(loaded->error), "out of memory opening the log");
		return RAFT_ENOMEM;
	}
	log->dir_fd = -1;
	log->lock_fd = -1;
	log->seg_fd = -1;
	loaded->mem_ = sc.mem;
	sc.dir = dir;
	sc.log = log;
	sc.loaded = loaded;
	rv = open_log(&sc, dir, opt);
	if (rv != RAFT_OK)
	{
		raft_log_close(log);
		loaded_release(loaded);
		memset(&loaded->hard_state, 0, sizeof(loaded->hard_state));
		loaded->repaired = false;
		loaded->report[0] = '\0';
		return rv;
	}
	*out = log;
	return RAFT_OK;
}
