/*
 * regress/fuzz/fuzz_decode_snapshot.c — libFuzzer target for
 * raft_decode_snapshot, with a round-trip oracle.
 */
#include "fuzz_decode_check.h"

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct raft_snapshot s;
	static struct raft_snapshot again;
	uint8_t    *buf;
	int			rv = raft_decode_snapshot(data, size, &s);

	FUZZ_CHECK(rv == RAFT_OK || rv == RAFT_EMALFORMED || rv == RAFT_EVERSION);
	if (rv != RAFT_OK)
		return 0;
	FUZZ_CHECK(s.config.n <= RAFT_MAX_MEMBERS);
	FUZZ_CHECK(fuzz_inside(s.data.base, s.data.len, data, size));
	FUZZ_CHECK(raft_encoded_size_snapshot(&s) == size);
	buf = malloc(size);
	FUZZ_CHECK(buf != NULL);
	FUZZ_CHECK(raft_encode_snapshot(&s, buf, size - 1) == 0);
	FUZZ_CHECK(raft_encode_snapshot(&s, buf, size) == size);
	FUZZ_CHECK(memcmp(buf, data, size) == 0);
	FUZZ_CHECK(raft_decode_snapshot(buf, size, &again) == RAFT_OK);
	FUZZ_CHECK(snapshot_equal(&s, &again));
	free(buf);
	return 0;
}
