/*
 * raft/core/blob.c — reference-counted data of entries and snapshots.
 *
 * An entry's data is shared by the log, by messages that carry it and by
 * the ready handed to the host; each holds a reference, so truncating or
 * compacting the log while a message or a ready still points at the data
 * never frees it under them.  base (what struct raft_buffer holds) points
 * just past a small header.
 */
#include "core.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

struct blob_header
{
	size_t		refs;
	size_t		len;
};

static struct blob_header *
blob_header_of(void *base)
{
	return (struct blob_header *) ((char *) base - sizeof(struct blob_header));
}

void *
blob_new(const void *data, size_t len)
{
	struct blob_header *h;

	if (len == 0)
		return NULL;
	h = malloc(sizeof(*h) + len);
	if (h == NULL)
		return NULL;
	h->refs = 1;
	h->len = len;
	if (data != NULL)
		memcpy(h + 1, data, len);
	return h + 1;
}

void
blob_ref(void *base)
{
	if (base == NULL)
		return;
	blob_header_of(base)->refs++;
}

void
blob_unref(void *base)
{
	struct blob_header *h;

	if (base == NULL)
		return;
	h = blob_header_of(base);
	assert(h->refs > 0);
	if (--h->refs == 0)
		free(h);
}
