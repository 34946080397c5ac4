/*
 * raft/codec/crc32c.h — CRC-32C (Castagnoli), the checksum of every log
 * record and transport frame.  raft/ may not use PostgreSQL's copy, so it
 * owns this small one; it is tested against the RFC 3720 check values.
 */
#ifndef RAFT_CRC32C_H
#define RAFT_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* crc = raft_crc32c(0, buf, len); extend with raft_crc32c(crc, more, n). */
uint32_t	raft_crc32c(uint32_t crc, const void *buf, size_t len);

#endif							/* RAFT_CRC32C_H */
