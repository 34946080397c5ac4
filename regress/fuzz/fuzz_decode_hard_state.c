/*
 * regress/fuzz/fuzz_decode_hard_state.c — libFuzzer target for
 * raft_decode_hard_state, with a round-trip oracle.
 */
#include "fuzz_decode_check.h"

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct raft_hard_state hs;
	struct raft_hard_state again;
	uint8_t		buf[RAFT_HARD_STATE_ENCODED_SIZE];
	int			rv = raft_decode_hard_state(data, size, &hs);

	FUZZ_CHECK(rv == RAFT_OK || rv == RAFT_EMALFORMED || rv == RAFT_EVERSION);
	if (rv != RAFT_OK)
		return 0;
	FUZZ_CHECK(size == RAFT_HARD_STATE_ENCODED_SIZE);
	FUZZ_CHECK(raft_encode_hard_state(&hs, buf, sizeof(buf)) == size);
	FUZZ_CHECK(memcmp(buf, data, size) == 0);
	FUZZ_CHECK(raft_decode_hard_state(buf, size, &again) == RAFT_OK);
	FUZZ_CHECK(hard_state_equal(&hs, &again));
	return 0;
}
