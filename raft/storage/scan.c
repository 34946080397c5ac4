/*
 * raft/storage/scan.c — reading and checking what is on disk when a log is
 * opened: the directory listing, then every segment header and record
 * (CRC32C, decoding, consecutive indexes, terms never going down, segments
 * following each other without a gap).  Nothing here changes a file: the
 * findings go into struct scan, and open.c decides and repairs.
 *
 * The torn-tail rule: a bad record at the end of the last segment, with no
 * valid record at any 8-byte boundary after it, is a write that a crash
 * interrupted before its fdatasync returned (nobody was told it was
 * durable); it may be cut off.  A bad record anywhere else is damage.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "codec.h"
#include "storage_internal.h"

#define MAX_SEGMENTS (1u << 24)	/* bound on the directory listing */

static int
cmp_index(const void *a, const void *b)
{
	raft_index	x = *(const raft_index *) a;
	raft_index	y = *(const raft_index *) b;

	return x < y ? -1 : x > y;
}

/* Lists segment names (sorted by first index) and notes *.tmp files. */
int
st_scan_list_dir(struct scan *sc, raft_index **firsts, size_t *n)
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
		return st_refuse_errno(sc, err, "list", ".");
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
			return st_refuse(sc, RAFT_ECORRUPT, "log damaged: more than %u segments in %s",
							 MAX_SEGMENTS, sc->dir);
		}
		if (*n == cap)
		{
			raft_index *f;

			cap = cap ? cap * 2 : 64;
			if ((f = realloc(*firsts, cap * sizeof(*f))) == NULL)
			{
				closedir(d);
				return st_refuse(sc, RAFT_ENOMEM, "out of memory listing %s", sc->dir);
			}
			*firsts = f;
		}
		(*firsts)[(*n)++] = first;
	}
	if (errno != 0)
	{
		int			err = errno;

		closedir(d);
		return st_refuse_errno(sc, err, "list", ".");
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
			return st_refuse(sc, RAFT_ENOMEM, "out of memory loading entries");
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
			return st_refuse(sc, RAFT_ENOMEM, "out of memory loading segments");
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
		return st_refuse(sc, RAFT_ECORRUPT, "log damaged: %s/%s is larger than any segment",
						 sc->dir, name);
	if (err != 0)
		return st_refuse_errno(sc, err, "read", name);
	if ((why = st_seg_header_check(buf, size, &hdr_first)) != NULL)
	{
		free(buf);
		return st_refuse(sc, RAFT_ECORRUPT, "log damaged: %s in %s/%s offset 0",
						 why, sc->dir, name);
	}
	if (hdr_first != first)
	{
		free(buf);
		return st_refuse(sc, RAFT_ECORRUPT,
						 "log damaged: %s/%s offset 0: header says first index %llu",
						 sc->dir, name, (unsigned long long) hdr_first);
	}
	if (first != expect)
	{
		free(buf);
		return st_refuse(sc, RAFT_ECORRUPT,
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
					return st_refuse(sc, RAFT_ECORRUPT,
									 "log damaged: %s at %s/%s offset %llu (a valid record follows at offset %llu)",
									 why, sc->dir, name, (unsigned long long) off,
									 (unsigned long long) next_valid);
				return st_refuse(sc, RAFT_ECORRUPT,
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
			return st_refuse(sc, RAFT_ECORRUPT,
							 "log damaged: record at %s/%s offset %llu does not decode: %s",
							 sc->dir, name, (unsigned long long) off, raft_strerror(rv));
		}
		if (e.index != index)
		{
			free(buf);
			return st_refuse(sc, RAFT_ECORRUPT,
							 "log damaged: record at %s/%s offset %llu has index %llu, %llu expected",
							 sc->dir, name, (unsigned long long) off,
							 (unsigned long long) e.index, (unsigned long long) index);
		}
		if (e.term == 0 || e.term < *term)
		{
			free(buf);
			return st_refuse(sc, RAFT_ECORRUPT,
							 "log damaged: record at %s/%s offset %llu: term %llu after term %llu",
							 sc->dir, name, (unsigned long long) off,
							 (unsigned long long) e.term, (unsigned long long) *term);
		}
		*term = e.term;
		if (st_runs_push(log, e.index, e.term) != RAFT_OK)
		{
			free(buf);
			return st_refuse(sc, RAFT_ENOMEM, "out of memory loading entries");
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
			return st_refuse(sc, RAFT_ENOMEM, "out of memory opening the log");
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
int
st_scan_segments(struct scan *sc, const raft_index *firsts, size_t n)
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
		return st_refuse(sc, RAFT_ECORRUPT,
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
