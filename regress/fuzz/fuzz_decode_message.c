/*
 * regress/fuzz/fuzz_decode_message.c — libFuzzer target for
 * raft_decode_message (what arrives from the network), with a round-trip
 * oracle, and a check that one entry slot fewer than needed gives
 * RAFT_ETOOBIG rather than a write past the array.
 */
#include "fuzz_decode_check.h"

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Enough for any input under libFuzzer's -max_len=65536 (21 bytes each). */
#define FUZZ_MAX_ENTRIES 4096

static struct raft_entry entries[FUZZ_MAX_ENTRIES];
static struct raft_entry entries_again[FUZZ_MAX_ENTRIES];

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct raft_message m;
	static struct raft_message again;
	uint8_t    *buf;
	int			rv = raft_decode_message(data, size, &m, entries,
										 FUZZ_MAX_ENTRIES);

	FUZZ_CHECK(fuzz_known_result(rv));
	if (size <= 65536)
		FUZZ_CHECK(rv != RAFT_ETOOBIG);
	if (rv != RAFT_OK)
		return 0;
	FUZZ_CHECK(m.type >= 1 && m.type <= RAFT_MSG_TYPE_MAX);
	FUZZ_CHECK(m.n_entries <= FUZZ_MAX_ENTRIES);
	FUZZ_CHECK(m.n_entries == 0 ? m.entries == NULL : m.entries == entries);
	for (uint32_t i = 0; i < m.n_entries; i++)
		FUZZ_CHECK(fuzz_inside(entries[i].data.base, entries[i].data.len,
							   data, size));
	FUZZ_CHECK(fuzz_inside(m.snapshot.data.base, m.snapshot.data.len,
						   data, size));

	/* Round trip: same bytes back, equal value again. */
	FUZZ_CHECK(raft_encoded_size_message(&m) == size);
	buf = malloc(size);
	FUZZ_CHECK(buf != NULL);
	FUZZ_CHECK(raft_encode_message(&m, buf, size - 1) == 0);
	FUZZ_CHECK(raft_encode_message(&m, buf, size) == size);
	FUZZ_CHECK(memcmp(buf, data, size) == 0);
	FUZZ_CHECK(raft_decode_message(buf, size, &again, entries_again,
								   FUZZ_MAX_ENTRIES) == RAFT_OK);
	FUZZ_CHECK(message_equal(&m, &again));

	/* Capacity: one slot short is refused. */
	if (m.n_entries > 0)
		FUZZ_CHECK(raft_decode_message(buf, size, &again, entries_again,
									   m.n_entries - 1) == RAFT_ETOOBIG);
	free(buf);
	return 0;
}
