/*
 * raft/core/log.c — the in-memory log above the snapshot point.
 *
 * Entries offset+1 .. offset+n live in one array; offset/offset_term name
 * the last entry covered by the snapshot (§5.1), so the term of the entry
 * just before the first kept one stays known for the AppendEntries
 * consistency check (§3.5).  stable is what the host confirmed durable
 * (raft_advance); persist_from the first entry the next ready must carry.
 * Entry data is reference-counted (blob.c).  bytes_to keeps running sums
 * of the entries' data sizes, so the bytes a follower lacks cost O(1).
 */
#include "core.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

void
log_init(struct raft_log *l)
{
	memset(l, 0, sizeof(*l));
	l->persist_from = 1;
}

void
log_free(struct raft_log *l)
{
	for (size_t i = 0; i < l->n; i++)
		blob_unref(l->ents[i].data.base);
	free(l->ents);
	free(l->bytes_to);
	memset(l, 0, sizeof(*l));
}

raft_index
log_first_index(const struct raft_log *l)
{
	return l->offset + 1;
}

raft_index
log_last_index(const struct raft_log *l)
{
	return l->offset + l->n;
}

raft_term
log_last_term(const struct raft_log *l)
{
	return l->n > 0 ? l->ents[l->n - 1].term : l->offset_term;
}

int
log_term(const struct raft_log *l, raft_index i, raft_term *term)
{
	if (i == l->offset)
	{
		*term = l->offset_term;
		return RAFT_OK;
	}
	if (i < l->offset)
		return RAFT_ECOMPACTED;
	if (i > log_last_index(l))
		return RAFT_EUNAVAILABLE;
	*term = l->ents[i - l->offset - 1].term;
	return RAFT_OK;
}

raft_term
log_term_or_zero(const struct raft_log *l, raft_index i)
{
	raft_term	t = 0;

	if (log_term(l, i, &t) != RAFT_OK)
		return 0;
	return t;
}

bool
log_match_term(const struct raft_log *l, raft_index i, raft_term t)
{
	raft_term	have;

	if (log_term(l, i, &have) != RAFT_OK)
		return false;
	return have == t;
}

const struct raft_entry *
log_get(const struct raft_log *l, raft_index i)
{
	if (i <= l->offset || i > log_last_index(l))
		return NULL;
	return &l->ents[i - l->offset - 1];
}

int
log_reserve(struct raft_log *l, size_t more)
{
	size_t		cap;
	struct raft_entry *grown;
	uint64_t   *sums;

	if (l->n + more <= l->cap)
		return RAFT_OK;
	cap = l->cap == 0 ? 64 : l->cap;
	while (cap < l->n + more)
		cap *= 2;
	grown = realloc(l->ents, cap * sizeof(*grown));
	if (grown == NULL)
		return RAFT_ENOMEM;
	l->ents = grown;
	sums = realloc(l->bytes_to, cap * sizeof(*sums));
	if (sums == NULL)
		return RAFT_ENOMEM;
	l->bytes_to = sums;
	l->cap = cap;
	return RAFT_OK;
}

int
log_append_owned(struct raft_log *l, const struct raft_entry *e)
{
	int			rv;

	assert(e->index == log_last_index(l) + 1);
	rv = log_reserve(l, 1);
	if (rv != RAFT_OK)
		return rv;
	l->bytes_to[l->n] = (l->n > 0 ? l->bytes_to[l->n - 1] : l->bytes_base) +
		e->data.len;
	l->ents[l->n++] = *e;
	return RAFT_OK;
}

uint64_t
log_bytes_after(const struct raft_log *l, raft_index i)
{
	if (i < l->offset)
		i = l->offset;
	if (i >= log_last_index(l))
		return 0;
	return l->bytes_to[l->n - 1] -
		(i == l->offset ? l->bytes_base : l->bytes_to[i - l->offset - 1]);
}

void
log_truncate_from(struct raft_log *l, raft_index i)
{
	assert(i > l->offset);
	if (i > log_last_index(l))
		return;
	for (raft_index k = i; k <= log_last_index(l); k++)
		blob_unref(l->ents[k - l->offset - 1].data.base);
	l->n = i - l->offset - 1;
	if (l->persist_from > i)
		l->persist_from = i;
	if (l->stable >= i)
		l->stable = i - 1;
}

void
log_compact_to(struct raft_log *l, raft_index i)
{
	size_t		drop;

	assert(i > l->offset && i <= log_last_index(l));
	drop = i - l->offset;
	l->offset_term = l->ents[drop - 1].term;
	for (size_t k = 0; k < drop; k++)
		blob_unref(l->ents[k].data.base);
	l->bytes_base = l->bytes_to[drop - 1];
	memmove(l->ents, l->ents + drop, (l->n - drop) * sizeof(*l->ents));
	memmove(l->bytes_to, l->bytes_to + drop, (l->n - drop) * sizeof(*l->bytes_to));
	l->n -= drop;
	l->offset = i;
	if (l->stable < i)
		l->stable = i;
	if (l->persist_from <= i)
		l->persist_from = i + 1;
}

void
log_reset(struct raft_log *l, raft_index index, raft_term term)
{
	for (size_t k = 0; k < l->n; k++)
		blob_unref(l->ents[k].data.base);
	l->n = 0;
	l->offset = index;
	l->offset_term = term;
	l->stable = index;
	l->persist_from = index + 1;
}

raft_index
log_find_conflict_by_term(const struct raft_log *l, raft_index i, raft_term t)
{
	raft_term	have;

	if (i > log_last_index(l))
		i = log_last_index(l);
	/* Bounded by the log's length. */
	for (; i > l->offset; i--)
	{
		if (log_term(l, i, &have) != RAFT_OK || have <= t)
			return i;
	}
	return i;
}

bool
log_is_up_to_date(const struct raft_log *l, raft_term term, raft_index index)
{
	raft_term	last = log_last_term(l);

	return term > last || (term == last && index >= log_last_index(l));
}
