/*
 * regress/fuzz/fuzz_frame.c — libFuzzer target for the transport's receive
 * path without sockets: the input is a byte stream as a connection would
 * receive it after the handshake; frames are cut with raft_frame_parse and
 * decoded with raft_frame_decode_message, as conn.c does.  Oracles: the
 * parser never claims more than it has, a frame it accepts re-seals to the
 * same header, and decoded data points inside the frame.
 *
 * Input: byte 0 picks the frame limit (x 64 bytes); byte 1 bit 0 picks the
 * mode.  Raw mode: the rest is the stream.  Sealing mode: the rest is
 * records (u16 length, payload), each sealed into a frame with a correct
 * CRC, so random payloads reach the message decoder.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "frame.h"

#define CHECK(cond) \
	do { if (!(cond)) { fprintf(stderr, "check failed: %s (%s:%d)\n", \
		#cond, __FILE__, __LINE__); abort(); } } while (0)

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool
inside(const void *p, size_t n, const uint8_t *base, size_t len)
{
	const uint8_t *b = p;

	return n == 0 || (b >= base && b + n <= base + len);
}

/* Sealing mode: builds a stream of valid frames from (u16 len, bytes). */
static uint8_t *
seal_records(const uint8_t *in, size_t in_len, size_t *out_len)
{
	uint8_t    *out = malloc(in_len / 2 * (RAFT_FRAME_HEADER + 2) + in_len + 16);
	size_t		o = 0;
	size_t		i = 0;

	CHECK(out != NULL);
	while (i + 2 <= in_len)
	{
		size_t		n = (size_t) in[i] | (size_t) in[i + 1] << 8;

		i += 2;
		if (n > in_len - i)
			n = in_len - i;
		memcpy(out + o + RAFT_FRAME_HEADER, in + i, n);
		raft_frame_seal(out + o, n);
		o += RAFT_FRAME_HEADER + n;
		i += n;
	}
	*out_len = o;
	return out;
}

static void run_stream(const uint8_t *data, size_t size, size_t max_payload);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t		max_payload;

	/* The first byte picks the frame limit, so both sides of it get hit. */
	if (size < 2)
		return 0;
	max_payload = (size_t) data[0] * 64;
	if (data[1] & 1)
	{
		size_t		len;
		uint8_t    *stream = seal_records(data + 2, size - 2, &len);

		run_stream(stream, len, max_payload);
		free(stream);
	}
	else
		run_stream(data + 2, size - 2, max_payload);
	return 0;
}

static void
run_stream(const uint8_t *data, size_t size, size_t max_payload)
{
	size_t		off = 0;
	struct raft_entry *entries = NULL;
	size_t		cap = 0;

	while (off < size)
	{
		const uint8_t *payload;
		size_t		plen;
		size_t		need;
		int			rc = raft_frame_parse(data + off, size - off, max_payload,
										  &payload, &plen, &need);

		if (rc == RAFT_FRAME_NEED_MORE)
		{
			CHECK(need > size - off);
			CHECK(need <= RAFT_FRAME_HEADER + max_payload);
			break;
		}
		if (rc != RAFT_FRAME_OK)
		{
			CHECK(rc == RAFT_FRAME_TOO_BIG || rc == RAFT_FRAME_BAD_CRC);
			break;				/* the connection would be closed */
		}
		CHECK(plen <= max_payload);
		CHECK(payload == data + off + RAFT_FRAME_HEADER);
		CHECK(off + RAFT_FRAME_HEADER + plen <= size);
		{
			uint8_t    *copy = malloc(RAFT_FRAME_HEADER + plen);

			CHECK(copy != NULL);
			memcpy(copy + RAFT_FRAME_HEADER, payload, plen);
			raft_frame_seal(copy, plen);
			CHECK(memcmp(copy, data + off, RAFT_FRAME_HEADER) == 0);
			free(copy);
		}
		{
			struct raft_message m;

			rc = raft_frame_decode_message(payload, plen, &m, &entries, &cap);
			CHECK(rc == RAFT_OK || rc == RAFT_EMALFORMED || rc == RAFT_EVERSION);
			if (rc == RAFT_OK)
			{
				CHECK(m.n_entries <= cap);
				for (uint32_t i = 0; i < m.n_entries; i++)
					CHECK(inside(m.entries[i].data.base, m.entries[i].data.len,
								 payload, plen));
				CHECK(inside(m.snapshot.data.base, m.snapshot.data.len,
							 payload, plen));
				CHECK(raft_encoded_size_message(&m) == plen);
			}
		}
		off += RAFT_FRAME_HEADER + plen;
	}
	free(entries);
}
