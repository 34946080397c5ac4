/*
 * raft/storage/format.c — the byte layout of segment files: names, the
 * segment header and the framing of one record.  No I/O here.
 *
 *   segment header (32 bytes)        record (8-byte aligned)
 *   0  magic "PGRAFTSG"              0  u32 payload length (> 0)
 *   8  u32 format version (1)        4  u32 CRC32C of bytes 0..3 and
 *  12  u32 header size (32)                 of the payload
 *  16  u64 first index               8  payload: raft_encode_entry
 *  24  u32 reserved (0)              .  zeros up to a multiple of 8
 *  28  u32 CRC32C of bytes 0..27
 *
 * All integers little-endian.  The CRC covers the length, so a damaged
 * length is caught like damaged data.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "crc32c.h"
#include "storage_internal.h"

void
st_put_le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t) (v >> (8 * i));
}

void
st_put_le64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t) (v >> (8 * i));
}

uint32_t
st_get_le32(const uint8_t *p)
{
	uint32_t	v = 0;

	for (int i = 0; i < 4; i++)
		v |= (uint32_t) p[i] << (8 * i);
	return v;
}

uint64_t
st_get_le64(const uint8_t *p)
{
	uint64_t	v = 0;

	for (int i = 0; i < 8; i++)
		v |= (uint64_t) p[i] << (8 * i);
	return v;
}

void
st_seg_name(char *buf, raft_index first)
{
	snprintf(buf, SEG_NAME_LEN + 1, "%020" PRIu64 ".seg", (uint64_t) first);
}

/* Exactly 20 digits and ".seg", as st_seg_name writes it. */
bool
st_seg_parse_name(const char *name, raft_index *first)
{
	uint64_t	v = 0;

	if (strlen(name) != SEG_NAME_LEN || strcmp(name + 20, ".seg") != 0)
		return false;
	for (int i = 0; i < 20; i++)
	{
		unsigned	d;

		if (name[i] < '0' || name[i] > '9')
			return false;
		d = (unsigned) (name[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*first = v;
	return true;
}

void
st_seg_header_encode(uint8_t *buf, raft_index first)
{
	memset(buf, 0, SEG_HEADER_SIZE);
	memcpy(buf, SEG_MAGIC, 8);
	st_put_le32(buf + 8, SEG_FORMAT_VERSION);
	st_put_le32(buf + 12, SEG_HEADER_SIZE);
	st_put_le64(buf + 16, first);
	st_put_le32(buf + 28, raft_crc32c(0, buf, 28));
}

const char *
st_seg_header_check(const uint8_t *buf, size_t len, raft_index *first)
{
	if (len < SEG_HEADER_SIZE)
		return "file shorter than a segment header";
	if (memcmp(buf, SEG_MAGIC, 8) != 0)
		return "bad magic in segment header";
	if (st_get_le32(buf + 28) != raft_crc32c(0, buf, 28))
		return "bad CRC in segment header";
	if (st_get_le32(buf + 8) != SEG_FORMAT_VERSION)
		return "unsupported segment format version";
	if (st_get_le32(buf + 12) != SEG_HEADER_SIZE)
		return "bad header size in segment header";
	*first = st_get_le64(buf + 16);
	if (*first == 0)
		return "first index 0 in segment header";
	return NULL;
}

static uint32_t
rec_crc(const uint8_t *buf, uint32_t payload_len)
{
	return raft_crc32c(raft_crc32c(0, buf, 4), buf + REC_HEADER_SIZE,
					   payload_len);
}

void
st_rec_frame(uint8_t *buf, uint32_t payload_len)
{
	uint64_t	size = rec_size(payload_len);

	st_put_le32(buf, payload_len);
	st_put_le32(buf + 4, rec_crc(buf, payload_len));
	memset(buf + REC_HEADER_SIZE + payload_len, 0,
		   size - REC_HEADER_SIZE - payload_len);
}

static bool
all_zero(const uint8_t *buf, uint64_t len)
{
	for (uint64_t i = 0; i < len; i++)
		if (buf[i] != 0)
			return false;
	return true;
}

enum st_rec_check
st_rec_check(const uint8_t *buf, uint64_t avail, size_t max_payload,
			 uint32_t *payload_len, const char **why)
{
	uint32_t	len;

	/*
	 * Records end on 8-byte boundaries and preallocated files are multiples
	 * of 8, so a few stray bytes at the end are a torn write, even zeros.
	 */
	if (avail < REC_HEADER_SIZE)
	{
		*why = "partial record header at end of file";
		return REC_BAD;
	}
	len = st_get_le32(buf);
	if (len == 0)
	{
		if (all_zero(buf, avail))
			return REC_END;
		*why = "zero record length followed by non-zero bytes";
		return REC_BAD;
	}
	if (len > max_payload)
	{
		*why = "record length beyond the maximum";
		return REC_BAD;
	}
	if (rec_size(len) > avail)
	{
		*why = "record extends past the end of the file";
		return REC_BAD;
	}
	if (st_get_le32(buf + 4) != rec_crc(buf, len))
	{
		*why = "bad CRC in record";
		return REC_BAD;
	}
	if (!all_zero(buf + REC_HEADER_SIZE + len, rec_size(len) - REC_HEADER_SIZE - len))
	{
		*why = "non-zero padding after record";
		return REC_BAD;
	}
	*payload_len = len;
	return REC_OK;
}
