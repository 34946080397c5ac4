/*
 * regress/fuzz/fuzz_decode_entry.c — libFuzzer target for raft_decode_entry,
 * with a round-trip oracle.
 */
#include "fuzz_decode_check.h"

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct raft_entry e;
	struct raft_entry again;
	uint8_t    *buf;
	int			rv = raft_decode_entry(data, size, &e);

	FUZZ_CHECK(rv == RAFT_OK || rv == RAFT_EMALFORMED || rv == RAFT_EVERSION);
	if (rv != RAFT_OK)
		return 0;
	FUZZ_CHECK(e.type >= RAFT_ENTRY_COMMAND && e.type <= RAFT_ENTRY_CONFIG);
	FUZZ_CHECK(e.data.len <= RAFT_MAX_ENTRY_BYTES);
	FUZZ_CHECK(fuzz_inside(e.data.base, e.data.len, data, size));
	FUZZ_CHECK(raft_encoded_size_entry(&e) == size);
	buf = malloc(size);
	FUZZ_CHECK(buf != NULL);
	FUZZ_CHECK(raft_encode_entry(&e, buf, size - 1) == 0);
	FUZZ_CHECK(raft_encode_entry(&e, buf, size) == size);
	FUZZ_CHECK(memcmp(buf, data, size) == 0);
	FUZZ_CHECK(raft_decode_entry(buf, size, &again) == RAFT_OK);
	FUZZ_CHECK(entry_equal(&e, &again));
	free(buf);
	return 0;
}
