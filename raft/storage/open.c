/*
 * raft/storage/open.c — opening a log directory: reading and checking
 * everything on disk, and recovery.
 *
 * Every segment header and every record is checked (CRC32C, decoding,
 * consecutive indexes, terms never going down, segments following each
 * other).  Checks come first and change nothing; only when they all pass
 * are the repairs made:
 *   - a torn tail is cut off: a bad record at the end of the last segment
 *     with no valid record anywhere after it (a write that a crash
 *     interrupted before its fdatasync returned, so nobody acknowledged it);
 *   - leftover temporary files (*.tmp) are removed;
 *   - segments wholly covered by the snapshot are removed (an interrupted
 *     raft_log_compact);
 *   - a log that does not hold the snapshot's last entry is discarded (an
 *     interrupted raft_log_save_snapshot, §5);
 *   - an empty last segment is removed (an interrupted rollover).
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

#define MAX_SEGMENTS (1u << 24)	/* bound on the directory listing */

/* What raft_log_loaded's mem_ points to. */
struct loaded_mem
{
	uint8_t   **bufs;			/* segment images the entries point into */
	size_t		n_bufs;
	uint8_t    *snap_buf;		/* the snapshot file's image */
};

/* Everything open() collects before deciding. */
struct scan
{
	const char *dir;
	struct raft_log *log;
	struct raft_log_loaded *loaded;
	struct loaded_mem *mem;
	size_t		cap_entries;
	size_t		cap_bufs;
	bool		remove_tmp;		/* *.tmp files seen */
	size_t		n_obsolete;		/* leading segments covered by the snapshot */
	raft_index *obsolete;
	bool		cut_tail;		/* torn tail found at cut_offset of last seg */
	uint64_t	cut_offset;
	uint64_t	cut_bytes;
	const char *cut_why;
	raft_index	log_first;		/* first entry on disk after the obsolete */
	raft_index	log_last;		/* 0 if none */
};

static int
refuse(struct scan *sc, int rv, const char *fmt,...)
	__attribute__((format(printf, 3, 4)));

static int
refuse(struct scan *sc, int rv, const char *fmt,...)
{
	va_list		ap;

	va_start(ap, fmt);
	vsnprintf(sc->loaded->error, sizeof(sc->loaded->error), fmt, ap);
	va_end(ap);
	return rv;
}

static int
refuse_errno(struct scan *sc, int err, const char *what, const char *name)
{
	char		es[128];

	st_io_strerror(err, es, sizeof(es));
	return refuse(sc, err == ENOMEM ? RAFT_ENOMEM : RAFT_EIO,
				  "could not %s %s/%s: %s", what, sc->dir, name, es);
}

static int
cmp_index(const void *a, const void *b)
{
	raft_index	x = *(const raft_index *) a;
	raft_index	y = *(const raft_index *) b;

	return x < y ? -1 : x > y;
}

/* Lists segment names (sorted by first index) and notes *.tmp files. */
static int
list_dir(struct scan *sc, raft_index **firsts, size_t *n)
{
	struct raft_log *log = sc->log;
	size_t		cap = 0;
	DIR		   *d;
	struct dirent *de;
	int			fd = openat(log->dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	*firsts = NULL;
	*n = 0;
	if (fd < 0 || (d = fdopendir(fd)) == NULL)
	{
		int			err = errno;

		if (fd >= 0)
			close(fd);
		return refuse_errno(sc, err, "list", ".");
	}
	while ((errno = 0, de = readdir(d)) != NULL)
	{
		size_t		len = strlen(de->d_name);
		raft_index	first;

		if (len > strlen(TMP_SUFFIX) &&
			strcmp(de->d_name + len - strlen(TMP_SUFFIX), TMP_SUFFIX) == 0)
			sc->remove_tmp = true;
		if (!st_seg_parse_name(de->d_name, &first))
			continue;
		if (*n == MAX_SEGMENTS)
		{
			closedir(d);
			return refuse(sc, RAFT_ECORRUPT, "log damaged: more than %u segments in %s",
						  MAX_SEGMENTS, sc->dir);
		}
		if (*n == cap)
		{
			raft_index *f;

			cap = cap ? cap * 2 : 64;
			if ((f = realloc(*firsts, cap * sizeof(*f))) == NULL)
			{
				closedir(d);
				return refuse(sc, RAFT_ENOMEM, "out of memory listing %s", sc->dir);
			}
			*firsts = f;
		}
		(*firsts)[(*n)++] = first;
	}
	if (errno != 0)
	{
		int			err = errno;

		closedir(d);
		return refuse_errno(sc, err, "list", ".");
	}
	closedir(d);
	if (*n > 0)
		qsort(*firsts, *n, sizeof(**firsts), cmp_index);
	return RAFT_OK;
}

static int
keep_entry(struct scan *sc, const struct raft_entry *e)
{
	struct raft_log_loaded *l = sc->loaded;

	if (l->n_entries == sc->cap_entries)
	{
		size_t		cap = sc->cap_entries ? sc->cap_entries * 2 : 256;
		struct raft_entry *p = realloc(l->entries, cap * sizeof(*p));

		if (p == NULL)
			return refuse(sc, RAFT_ENOMEM, "out of memory loading entries");
		l->entries = p;
		sc->cap_entries = cap;
	}
	l->entries[l->n_entries++] = *e;
	return RAFT_OK;
}

static int
keep_buf(struct scan *sc, uint8_t *buf)
{
	struct loaded_mem *m = sc->mem;

	if (m->n_bufs == sc->cap_bufs)
	{
		size_t		cap = sc->cap_bufs ? sc->cap_bufs * 2 : 16;
		uint8_t   **p = realloc(m->bufs, cap * sizeof(*p));

		if (p == NULL)
			return refuse(sc, RAFT_ENOMEM, "out of memory loading segments");
		m->bufs = p;
		sc->cap_bufs = cap;
	}
	m->bufs[m->n_bufs++] = buf;
	return RAFT_OK;
}

/*
 * Is there a valid record anywhere in buf[from, size)?  Records start on
 * 8-byte boundaries, so only those are tried.  Returns its offset or 0.
 */
static uint64_t
valid_record_after(const uint8_t *buf, uint64_t size, uint64_t from,
				   size_t max_payload)
{
	for (uint64_t off = from; off + REC_HEADER_SIZE <= size; off += REC_ALIGN)
	{
		uint32_t	len = st_get_le32(buf + off);
		const char *why;

		if (len == 0 || len > max_payload || rec_size(len) > size - off)
			continue;
		if (st_rec_check(buf + off, size - off, max_payload, &len, &why) == REC_OK)
			return off;
	}
	return 0;
}

/*
 * Checks segment i (first index first) and collects its entries.  *last is
 * set to its last index.  is_last: the torn-tail rule applies.
 */
static int
scan_segment(struct scan *sc, raft_index first, bool is_last,
			 raft_index expect, raft_term *term, raft_index *last)
{
	struct raft_log *log = sc->log;
	char		name[SEG_NAME_LEN + 1];
	uint64_t	max_size = log->opt.segment_bytes;
	uint8_t    *buf;
	size_t		size;
	uint64_t	off = SEG_HEADER_SIZE;
	raft_index	index = first;
	raft_index	hdr_first;
	const char *why;
	bool		kept = false;
	int			err;
	int			rv;

	st_seg_name(name, first);
	if (rec_size(log->opt.max_record_bytes) + SEG_HEADER_SIZE > max_size)
		max_size = rec_size(log->opt.max_record_bytes) + SEG_HEADER_SIZE;
	if (max_size < RAFT_LOG_MAX_SEGMENT_BYTES)
		max_size = RAFT_LOG_MAX_SEGMENT_BYTES;	/* written with other options */
	err = st_io_read_file(log->dir_fd, name, max_size, &buf, &size);
	if (err == EFBIG)
		return refuse(sc, RAFT_ECORRUPT, "log damaged: %s/%s is larger than any segment",
					  sc->dir, name);
	if (err != 0)
		return refuse_errno(sc, err, "read", name);
	if ((why = st_seg_header_check(buf, size, &hdr_first)) != NULL)
	{
		free(buf);
		return refuse(sc, RAFT_ECORRUPT, "log damaged: %s in %s/%s offset 0",
					  why, sc->dir, name);
	}
	if (hdr_first != first)
	{
		free(buf);
		return refuse(sc, RAFT_ECORRUPT,
					  "log damaged: %s/%s offset 0: header says first index %llu",
					  sc->dir, name, (unsigned long long) hdr_first);
	}
	if (first != expect)
	{
		free(buf);
		return refuse(sc, RAFT_ECORRUPT,
					  "log damaged: index gap: %s/%s starts at %llu, %llu expected (a segment is missing)",
					  sc->dir, name, (unsigned long long) first,
					  (unsigned long long) expect);
	}

	while (off < size)
	{
		uint32_t	len;
		struct raft_entry e;
		enum st_rec_check c = st_rec_check(buf + off, size - off,
									 log->opt.max_record_bytes, &len, &why);
		uint64_t	next_valid;

		if (c == REC_END)
			break;
		if (c == REC_BAD)
		{
			next_valid = valid_record_after(buf, size, off + REC_ALIGN,
											log->opt.max_record_bytes);
			if (!is_last || next_valid != 0)
			{
				free(buf);
				if (next_valid != 0)
					return refuse(sc, RAFT_ECORRUPT,
								  "log damaged: %s at %s/%s offset %llu (a valid record follows at offset %llu)",
								  why, sc->dir, name, (unsigned long long) off,
								  (unsigned long long) next_valid);
				return refuse(sc, RAFT_ECORRUPT,
							  "log damaged: %s at %s/%s offset %llu (not the last segment)",
							  why, sc->dir, name, (unsigned long long) off);
			}
			sc->cut_tail = true;
			sc->cut_offset = off;
			sc->cut_bytes = size - off;
			sc->cut_why = why;
			break;
		}
		if ((rv = raft_decode_entry(buf + off + REC_HEADER_SIZE, len, &e)) != RAFT_OK)
		{
			free(buf);
			return refuse(sc, RAFT_ECORRUPT,
						  "log damaged: record at %s/%s offset %llu does not decode: %s",
						  sc->dir, name, (unsigned long long) off, raft_strerror(rv));
		}
		if (e.index != index)
		{
			free(buf);
			return refuse(sc, RAFT_ECORRUPT,
						  "log damaged: record at %s/%s offset %llu has index %llu, %llu expected",
						  sc->dir, name, (unsigned long long) off,
						  (unsigned long long) e.index, (unsigned long long) index);
		}
		if (e.term == 0 || e.term < *term)
		{
			free(buf);
			return refuse(sc, RAFT_ECORRUPT,
						  "log damaged: record at %s/%s offset %llu: term %llu after term %llu",
						  sc->dir, name, (unsigned long long) off,
						  (unsigned long long) e.term, (unsigned long long) *term);
		}
		*term = e.term;
		if (st_runs_push(log, e.index, e.term) != RAFT_OK)
		{
			free(buf);
			return refuse(sc, RAFT_ENOMEM, "out of memory loading entries");
		}
		if (e.index > log->snap_index)
		{
			if ((rv = keep_entry(sc, &e)) != RAFT_OK)
			{
				free(buf);
				return rv;
			}
			kept = true;
		}
		off += rec_size(len);
		index++;
	}
	*last = index - 1;
	if (is_last)
	{
		log->seg_end = off;
		log->seg_file_size = size;
	}
	if (!kept)
	{
		free(buf);
		return RAFT_OK;
	}
	return keep_buf(sc, buf);
}

/* Records segment first in the open log's list. */
static int
push_segment(struct scan *sc, raft_index first, raft_index last)
{
	struct raft_log *log = sc->log;

	if (log->n_segs == log->cap_segs)
	{
		size_t		cap = log->cap_segs ? log->cap_segs * 2 : 16;
		struct segment *s = realloc(log->segs, cap * sizeof(*s));

		if (s == NULL)
			return refuse(sc, RAFT_ENOMEM, "out of memory opening the log");
		log->segs = s;
		log->cap_segs = cap;
	}
	log->segs[log->n_segs].first = first;
	log->segs[log->n_segs].last = last;
	log->n_segs++;
	return RAFT_OK;
}

/*
 * Checks all segments.  Those before the first one that can hold entries
 * after the snapshot are obsolete (covered by it) and not read.
 */
static int
scan_segments(struct scan *sc, const raft_index *firsts, size_t n)
{
	struct raft_log *log = sc->log;
	size_t		start = 0;
	raft_term	term = 0;
	raft_index	expect;
	int			rv;

	while (start + 1 < n && firsts[start + 1] <= log->snap_index + 1)
		start++;
	sc->obsolete = (raft_index *) firsts;
	sc->n_obsolete = start;
	if (start == n)
		return RAFT_OK;
	expect = firsts[start];
	if (firsts[start] > log->snap_index + 1)
	{
		char		name[SEG_NAME_LEN + 1];

		st_seg_name(name, firsts[start]);
		return refuse(sc, RAFT_ECORRUPT,
					  "log damaged: index gap: the first segment %s/%s starts at %llu but the snapshot ends at %llu (a segment is missing)",
					  sc->dir, name, (unsigned long long) firsts[start],
					  (unsigned long long) log->snap_index);
	}
	sc->log_first = firsts[start];
	for (size_t i = start; i < n; i++)
	{
		raft_index	last = 0;

		rv = scan_segment(sc, firsts[i], i + 1 == n, expect, &term, &last);
		if (rv != RAFT_OK)
			return rv;
		if ((rv = push_segment(sc, firsts[i], last)) != RAFT_OK)
			return rv;
		expect = last + 1;
	}
	sc->log_last = expect - 1 >= sc->log_first ? expect - 1 : 0;
	return RAFT_OK;
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
		return refuse_errno(sc, err, "list", ".");
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
			return refuse_errno(sc, err, "remove", name);
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
		return refuse_errno(sc, errno, "truncate", name);
	log->seg_file_size = sc->cut_offset;
	if (log->opt.preallocate && sc->cut_offset < log->opt.segment_bytes &&
		st_io_allocate(&log->opt, log->seg_fd, sc->cut_offset,
					log->opt.segment_bytes - sc->cut_offset) == 0)
		log->seg_file_size = log->opt.segment_bytes;
	if ((err = st_io_fsync(&log->opt, log->seg_fd)) != 0)
		return refuse_errno(sc, err, "fsync", name);
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
			return refuse_errno(sc, errno, "remove", name);
		dir_changed = true;
	}
	if (dir_changed)
	{
		if ((err = st_io_dirsync(&log->opt, log->dir_fd)) != 0)
			return refuse_errno(sc, err, "fsync", ".");
		log->dir_syncs++;
	}
	if (log->n_segs > 0)
	{
		char		name[SEG_NAME_LEN + 1];

		st_seg_name(name, log->segs[log->n_segs - 1].first);
		log->seg_fd = openat(log->dir_fd, name, O_RDWR | O_CLOEXEC);
		if (log->seg_fd < 0)
			return refuse_errno(sc, errno, "open", name);
	}
	if (sc->cut_tail && !discard_all && (rv = cut_torn_tail(sc)) != RAFT_OK)
		return rv;
	if (discard_all)
	{
		raft_index	first = st_log_first_index(log);
		raft_index	last = st_log_last_index(log);

		if ((rv = st_log_remove_all(log)) != RAFT_OK)
			return refuse(sc, rv, "%s", log->errmsg);
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
			return refuse_errno(sc, errno, "create directory", "");
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
		return refuse_errno(sc, errno, "open directory", "");
	log->lock_fd = openat(log->dir_fd, LOCK_FILE, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (log->lock_fd < 0)
		return refuse_errno(sc, errno, "create", LOCK_FILE);
	if (flock(log->lock_fd, LOCK_EX | LOCK_NB) != 0)
	{
		if (errno == EWOULDBLOCK)
			return refuse(sc, RAFT_EIO, "log directory %s is in use by another process or handle",
						  dir);
		return refuse_errno(sc, errno, "lock", LOCK_FILE);
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
		return refuse(sc, RAFT_EINVAL, "segment size %zu out of range",
					  log->opt.segment_bytes);
	if (log->opt.max_record_bytes == 0)
		log->opt.max_record_bytes = RAFT_LOG_DEFAULT_RECORD_BYTES;
	if (log->opt.max_record_bytes > RAFT_LOG_DEFAULT_RECORD_BYTES)
		return refuse(sc, RAFT_EINVAL, "maximum record size %zu out of range",
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
		return refuse(sc, RAFT_EINVAL, "bad log directory name");
	snprintf(log->dir, sizeof(log->dir), "%s", dir);
	if ((rv = open_dir(sc, dir)) != RAFT_OK)
		return rv;
	if ((rv = list_dir(sc, &firsts, &n_firsts)) != RAFT_OK)
		return rv;
	rv = st_meta_load(log->dir_fd, dir, log->opt.max_snapshot_bytes,
				   &l->hard_state, &have_hs, &l->snapshot, &sc->mem->snap_buf,
				   l->error, sizeof(l->error));
	if (rv != RAFT_OK)
		goto out;
	log->hard_state = l->hard_state;
	log->snap_index = l->snapshot.index;
	log->snap_term = l->snapshot.term;
	if ((rv = scan_segments(sc, firsts, n_firsts)) != RAFT_OK)
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
		rv = refuse(sc, RAFT_ECORRUPT,
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
