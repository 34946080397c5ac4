/*
 * raft/core/prng.c — the only source of randomness in the core: splitmix64
 * (Steele, Lea, Flood 2014), seeded by options.seed, so that a simulator
 * replays every election timeout (§3.4 randomized timeouts) exactly.
 */
#include "core.h"

#include <assert.h>

void
prng_seed(struct prng *p, uint64_t seed)
{
	p->state = seed;
}

uint64_t
prng_next(struct prng *p)
{
	uint64_t	z;

	p->state += 0x9e3779b97f4a7c15ULL;
	z = p->state;
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

unsigned
prng_range(struct prng *p, unsigned lo, unsigned hi)
{
	assert(hi > lo);
	return lo + (unsigned) (prng_next(p) % (uint64_t) (hi - lo));
}
