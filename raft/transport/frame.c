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

#define FRAME_ENTRIES_MIN 64
#define FRAME_ENTRY_MIN 21

int
raft_frame_decode_message(const uint8_t *payload, size_t len,
						  struct raft_message *m, struct raft_entry **entries,
						  size_t *cap)
{
	int			rc;

	for (;;)
	{
		size_t		next;
		struct raft_entry *grown;

		if (*entries == NULL || *cap == 0)
		{
			free(*entries);
			*entries = calloc(FRAME_ENTRIES_MIN, sizeof(**entries));
			if (*entries == NULL)
			{
				*cap = 0;
				return RAFT_ENOMEM;
			}
			*cap = FRAME_ENTRIES_MIN;
		}
		rc = raft_decode_message(payload, len, m, *entries, *cap);
		/*
		 * Every encoded entry takes at least FRAME_ENTRY_MIN bytes (codec:
		 * term, index, type, length), so len bounds the count.
		 */
		if (rc != RAFT_ETOOBIG || *cap >= len / FRAME_ENTRY_MIN + 1)
			break;
		next = *cap * 4 < len / FRAME_ENTRY_MIN + 1 ?
			*cap * 4 : len / FRAME_ENTRY_MIN + 1;
		grown = realloc(*entries, next * sizeof(**entries));
		if (grown == NULL)
			return RAFT_ENOMEM;
		*entries = grown;
		*cap = next;
	}
	return rc == RAFT_ETOOBIG ? RAFT_EMALFORMED : rc;
}
