/*
 * regress/fuzz/fuzz_decode_check.h — what the codec's fuzz targets share:
 * a check that aborts (so libFuzzer reports the input), and the equality
 * helpers of the unit tests.
 *
 * Every target is a round-trip oracle, not only a crash test: whatever
 * decodes must re-encode to exactly the input bytes (the encodings are
 * canonical), and those bytes must decode again to an equal value.
 */
#ifndef FUZZ_DECODE_CHECK_H
#define FUZZ_DECODE_CHECK_H

#include <stdio.h>
#include <stdlib.h>

#include "codec.h"
#include "../unit/test_codec_util.h"

#define FUZZ_CHECK(cond)                                                     \
	do {                                                                     \
		if (!(cond))                                                         \
		{                                                                    \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, \
					#cond);                                                  \
			abort();                                                         \
		}                                                                    \
	} while (0)

/* p..p+n lies inside buf..buf+len (decoded data is in place). */
static inline bool
fuzz_inside(const void *p, size_t n, const uint8_t *buf, size_t len)
{
	const uint8_t *q = p;

	if (n == 0)
		return p == NULL;
	return q >= buf && n <= len && q - buf <= (ptrdiff_t) (len - n);
}

/* The decoders' result is one of the documented codes. */
static inline bool
fuzz_known_result(int rv)
{
	return rv == RAFT_OK || rv == RAFT_EMALFORMED || rv == RAFT_EVERSION ||
		rv == RAFT_ETOOBIG;
}

#endif							/* FUZZ_DECODE_CHECK_H */
