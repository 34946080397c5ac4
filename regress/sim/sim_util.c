/*
 * regress/sim/sim_util.c — the simulator's randomness, hashing, a small
 * map and allocation that never returns NULL.
 *
 * All randomness is splitmix64 (Steele, Lea, Flood 2014), one stream per
 * purpose so that, say, a change in the workload does not shift the
 * network's choices.  No rand(), no time().
 */
#include <stdlib.h>
#include <string.h>

#include "sim.h"

uint64_t
sim_mix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

void
sim_rng_init(struct sim_rng *g, uint64_t seed, uint64_t stream)
{
	g->state = sim_mix64(seed ^ sim_mix64(stream + 0x5eed));
}

uint64_t
sim_rng_next(struct sim_rng *g)
{
	uint64_t z;

	g->state += 0x9e3779b97f4a7c15ull;
	z = g->state;
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

uint64_t
sim_rng_below(struct sim_rng *g, uint64_t n)
{
	if (n == 0)
		return 0;
	/* The modulo bias is far below anything a test could notice. */
	return sim_rng_next(g) % n;
}

uint64_t
sim_rng_range(struct sim_rng *g, uint64_t lo, uint64_t hi)
{
	if (hi <= lo)
		return lo;
	return lo + sim_rng_below(g, hi - lo + 1);
}

bool
sim_rng_chance(struct sim_rng *g, unsigned per_10k)
{
	return sim_rng_below(g, 10000) < per_10k;
}

/* FNV-1a, 64 bits. */
uint64_t
sim_hash_bytes(uint64_t h, const void *p, size_t len)
{
	const uint8_t *b = p;

	if (h == 0)
		h = 0xcbf29ce484222325ull;
	for (size_t i = 0; i < len; i++)
	{
		h ^= b[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

void *
sim_xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (p == NULL)
	{
		fprintf(stderr, "sim: out of memory (%zu bytes)\n", n);
		abort();
	}
	return p;
}

void *
sim_xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);

	if (p == NULL)
	{
		fprintf(stderr, "sim: out of memory (%zu x %zu bytes)\n", n, size);
		abort();
	}
	return p;
}

void *
sim_xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);

	if (q == NULL)
	{
		fprintf(stderr, "sim: out of memory (%zu bytes)\n", n);
		abort();
	}
	return q;
}

/* ------------------------------------------------------------------------
 * The map: linear probing, grows at half full, bounded by the run's size.
 * ------------------------------------------------------------------------ */
#define SIM_MAP_MAX (1u << 24)

static size_t
map_slot(const struct sim_map *m, uint64_t key)
{
	size_t i = sim_mix64(key) & (m->cap - 1);

	while (m->used[i] && m->keys[i] != key)
		i = (i + 1) & (m->cap - 1);
	return i;
}

bool
sim_map_get(const struct sim_map *m, uint64_t key, uint64_t *a, uint64_t *b)
{
	size_t i;

	if (m->cap == 0)
		return false;
	i = map_slot(m, key);
	if (!m->used[i])
		return false;
	if (a)
		*a = m->a[i];
	if (b)
		*b = m->b[i];
	return true;
}

static void
map_grow(struct sim_map *m)
{
	struct sim_map old = *m;

	m->cap = old.cap ? old.cap * 2 : 256;
	if (m->cap > SIM_MAP_MAX)
	{
		fprintf(stderr, "sim: map over %u entries\n", SIM_MAP_MAX / 2);
		abort();
	}
	m->keys = sim_xcalloc(m->cap, sizeof(uint64_t));
	m->a = sim_xcalloc(m->cap, sizeof(uint64_t));
	m->b = sim_xcalloc(m->cap, sizeof(uint64_t));
	m->used = sim_xcalloc(m->cap, 1);
	m->n = 0;
	for (size_t i = 0; i < old.cap; i++)
		if (old.used[i])
			sim_map_put(m, old.keys[i], old.a[i], old.b[i]);
	sim_map_free(&old);
}

void
sim_map_put(struct sim_map *m, uint64_t key, uint64_t a, uint64_t b)
{
	size_t i;

	if (m->cap == 0 || (m->n + 1) * 2 > m->cap)
		map_grow(m);
	i = map_slot(m, key);
	if (!m->used[i])
	{
		m->used[i] = 1;
		m->keys[i] = key;
		m->n++;
	}
	m->a[i] = a;
	m->b[i] = b;
}

void
sim_map_free(struct sim_map *m)
{
	free(m->keys);
	free(m->a);
	free(m->b);
	free(m->used);
	memset(m, 0, sizeof(*m));
}
