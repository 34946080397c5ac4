/*
 * raft/codec/crc32c.c — CRC-32C (Castagnoli), as used by iSCSI (RFC 3720
 * appendix B.4): reflected, initial value and final xor 0xFFFFFFFF.
 * Portable slicing-by-8 (Intel's "slicing-by-8", Kounavis & Berry 2005):
 * eight bytes per step through eight 256-entry tables, then a byte at a
 * time for the tail.  Bytes are read one by one, so neither alignment nor
 * host byte order matters.  No CPU intrinsics.
 *
 * raft_crc32c(0, buf, len) is the CRC of buf; raft_crc32c(crc, more, n)
 * extends it: the CRC of buf followed by more.
 */
#include "crc32c.h"
#include "crc32c_table.h"

uint32_t
raft_crc32c(uint32_t crc, const void *buf, size_t len)
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
