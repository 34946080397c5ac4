/*
 * regress/sim/sim_trace.c — the run's trace: a ring of the last lines for
 * the report of a violation, a hash of every line for the replay check,
 * and, with --trace, every line printed as it is made.
 */
#include <stdlib.h>
#include <string.h>

#include "sim.h"

void
sim_trace_init(struct sim_trace *t, size_t cap, bool live)
{
	memset(t, 0, sizeof(*t));
	t->cap = cap ? cap : 1;
	t->ring = sim_xcalloc(t->cap, SIM_LINE);
	t->live = live;
}

void
sim_trace_free(struct sim_trace *t)
{
	free(t->ring);
	t->ring = NULL;
}

void
sim_trace_line(struct sim_trace *t, const char *line)
{
	size_t len = strnlen(line, SIM_LINE - 1);
	char *slot = t->ring + t->next * SIM_LINE;

	memcpy(slot, line, len);
	slot[len] = '\0';
	t->next = (t->next + 1) % t->cap;
	if (t->count < t->cap)
		t->count++;
	t->hash = sim_hash_bytes(t->hash, line, len);
	t->hash = sim_hash_bytes(t->hash, "\n", 1);
	t->lines++;
	if (t->live)
		printf("%s\n", slot);
}

/* Prints the last `last` lines (all that the ring holds if 0). */
void
sim_trace_dump(const struct sim_trace *t, FILE *out, size_t last)
{
	size_t n = t->count;

	if (last != 0 && last < n)
		n = last;
	for (size_t k = 0; k < n; k++)
	{
		size_t i = (t->next + t->cap - n + k) % t->cap;

		fprintf(out, "%s\n", t->ring + i * SIM_LINE);
	}
}
