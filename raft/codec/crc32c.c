/*
 * raft/codec/crc32c.c — CRC-32C (Castagnoli), as used by iSCSI (RFC 3720
 * appendix B.4): reflected, initial value and final xor 0xFFFFFFFF.
 *
 * Two implementations of the same function, chosen at run time:
 *  - raft_crc32c_sw: portable slicing-by-8 (Kounavis & Berry 2005): eight
 *    bytes per step through eight 256-entry tables, then a byte at a time
 *    for the tail.  Bytes are read one by one, so neither alignment nor
 *    host byte order matters.
 *  - raft_crc32c_hw: the SSE4.2 crc32 instruction (x86-64, GCC or Clang),
 *    eight bytes per instruction.  It is compiled for SSE4.2 by a target
 *    attribute on that function alone, so the rest of the build needs no
 *    -msse4.2 and runs on any x86-64; it is called only once cpuid has
 *    said the CPU has the instruction.
 *
 * raft_crc32c(0, buf, len) is the CRC of buf; raft_crc32c(crc, more, n)
 * extends it: the CRC of buf followed by more.
 */
#include <stdatomic.h>
#include <string.h>

#include "crc32c.h"
#include "crc32c_table.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define RAFT_CRC32C_SSE42 1
#include <cpuid.h>
#include <nmmintrin.h>
#endif

uint32_t
raft_crc32c_sw(uint32_t crc, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	crc = ~crc;
	while (len >= 8)
	{
		uint32_t	lo = crc ^ ((uint32_t) p[0] | (uint32_t) p[1] << 8 |
								(uint32_t) p[2] << 16 | (uint32_t) p[3] << 24);
		uint32_t	hi = (uint32_t) p[4] | (uint32_t) p[5] << 8 |
			(uint32_t) p[6] << 16 | (uint32_t) p[7] << 24;

		crc = crc32c_table[7][lo & 0xff] ^
			crc32c_table[6][(lo >> 8) & 0xff] ^
			crc32c_table[5][(lo >> 16) & 0xff] ^
			crc32c_table[4][lo >> 24] ^
			crc32c_table[3][hi & 0xff] ^
			crc32c_table[2][(hi >> 8) & 0xff] ^
			crc32c_table[1][(hi >> 16) & 0xff] ^
			crc32c_table[0][hi >> 24];
		p += 8;
		len -= 8;
	}
	while (len > 0)
	{
		crc = (crc >> 8) ^ crc32c_table[0][(crc ^ *p) & 0xff];
		p++;
		len--;
	}
	return ~crc;
}

#ifdef RAFT_CRC32C_SSE42

__attribute__((target("sse4.2")))
static uint32_t
crc32c_sse42(uint32_t crc, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	uint64_t	c = (uint32_t) ~crc;

	while (len >= 8)
	{
		uint64_t	word;

		memcpy(&word, p, sizeof(word));	/* any alignment; x86 is little-endian */
		c = _mm_crc32_u64(c, word);
		p += 8;
		len -= 8;
	}
	crc = (uint32_t) c;
	while (len > 0)
	{
		crc = _mm_crc32_u8(crc, *p);
		p++;
		len--;
	}
	return ~crc;
}

/*
 * -1 until the first call asks cpuid, then 0 or 1.  Threads (libuv's pool)
 * may race on that first call: each computes the same answer, and the
 * relaxed atomic makes the race well defined.
 */
static atomic_int sse42_state = -1;

static int
have_sse42(void)
{
	int			state = atomic_load_explicit(&sse42_state, memory_order_relaxed);

	if (state < 0)
	{
		unsigned	eax,
					ebx,
					ecx,
					edx;

		state = __get_cpuid(1, &eax, &ebx, &ecx, &edx) && (ecx & bit_SSE4_2) ? 1 : 0;
		atomic_store_explicit(&sse42_state, state, memory_order_relaxed);
	}
	return state;
}

#endif							/* RAFT_CRC32C_SSE42 */

bool
raft_crc32c_hw_available(void)
{
#ifdef RAFT_CRC32C_SSE42
	return have_sse42() == 1;
#else
	return false;
#endif
}

uint32_t
raft_crc32c_hw(uint32_t crc, const void *buf, size_t len)
{
#ifdef RAFT_CRC32C_SSE42
	if (have_sse42() == 1)
		return crc32c_sse42(crc, buf, len);
#endif
	return raft_crc32c_sw(crc, buf, len);
}

uint32_t
raft_crc32c(uint32_t crc, const void *buf, size_t len)
{
	return raft_crc32c_hw(crc, buf, len);
}
