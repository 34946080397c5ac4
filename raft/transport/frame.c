/*
 * raft/transport/frame.c — sealing and parsing transport frames (frame.h).
 */
#include "frame.h"

#include <stdlib.h>

#include "codec.h"
#include "crc32c.h"

static void
put_u32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t) v;
	p[1] = (uint8_t) (v >> 8);
	p[2] = (uint8_t) (v >> 16);
	p[3] = (uint8_t) (v >> 24);
}

static uint32_t
get_u32(const uint8_t *p)
{
	return (uint32_t) p[0] | (uint32_t) p[1] << 8 |
		(uint32_t) p[2] << 16 | (uint32_t) p[3] << 24;
}

void
raft_frame_seal(uint8_t *buf, size_t payload_len)
{
	uint32_t	crc;

	put_u32(buf, (uint32_t) payload_len);
	crc = raft_crc32c(0, buf, 4);
	crc = raft_crc32c(crc, buf + RAFT_FRAME_HEADER, payload_len);
	put_u32(buf + 4, crc);
}

int
raft_frame_parse(const uint8_t *buf, size_t len, size_t max_payload,
				 const uint8_t **payload, size_t *payload_len, size_t *need)
{
	uint32_t	announced;
	uint32_t	crc;

	*payload = NULL;
	*payload_len = 0;
	*need = RAFT_FRAME_HEADER;
	if (len < RAFT_FRAME_HEADER)
		return RAFT_FRAME_NEED_MORE;
	announced = get_u32(buf);
	if (announced > max_payload)
		return RAFT_FRAME_TOO_BIG;
	*need = RAFT_FRAME_HEADER + (size_t) announced;
	if (len < *need)
		return RAFT_FRAME_NEED_MORE;
	crc = raft_crc32c(0, buf, 4);
	crc = raft_crc32c(crc, buf + RAFT_FRAME_HEADER, announced);
	if (crc != get_u32(buf + 4))
		return RAFT_FRAME_BAD_CRC;
	*payload = buf + RAFT_FRAME_HEADER;
	*payload_len = announced;
	return RAFT_FRAME_OK;
}

int
raft_frame_encode_message(const struct raft_message *m, size_t max_payload,
						  uint8_t **frame, size_t *frame_len)
{
	size_t		size = raft_encoded_size_message(m);
	size_t		written;
	uint8_t    *buf;

	*frame = NULL;
	*frame_len = 0;
	if (size == 0)
		return RAFT_EINVAL;
	if (size > max_payload || size > UINT32_MAX)
		return RAFT_ETOOBIG;
	buf = malloc(RAFT_FRAME_HEADER + size);
	if (buf == NULL)
		return RAFT_ENOMEM;
	written = raft_encode_message(m, buf + RAFT_FRAME_HEADER, size);
	if (written == 0 || written > size)
	{
		free(buf);
		return RAFT_EINVAL;
	}
	raft_frame_seal(buf, written);
	*frame = buf;
	*frame_len = RAFT_FRAME_HEADER + written;
	return RAFT_OK;
}
