/*
 * raft/codec/crc32c.h — CRC-32C (Castagnoli), the checksum of every log
 * record and transport frame.  raft/ may not use PostgreSQL's copy, so it
 * owns this small one; it is tested against the RFC 3720 check values and
 * a bit-at-a-time reference.
 */
#ifndef RAFT_CRC32C_H
#define RAFT_CRC32C_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* crc = raft_crc32c(0, buf, len); extend with raft_crc32c(crc, more, n). */
uint32_t	raft_crc32c(uint32_t crc, const void *buf, size_t len);

/*
 * The two implementations raft_crc32c chooses between, for the tests:
 * portable tables, and the CPU's instruction (SSE4.2), which falls back to
 * the tables where the CPU or the compiler lacks it.
 */
uint32_t	raft_crc32c_sw(uint32_t crc, const void *buf, size_t len);
uint32_t	raft_crc32c_hw(uint32_t crc, const void *buf, size_t len);
bool		raft_crc32c_hw_available(void);

#endif							/* RAFT_CRC32C_H */
