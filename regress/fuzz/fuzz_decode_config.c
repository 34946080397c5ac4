/*
 * regress/fuzz/fuzz_decode_config.c — libFuzzer target for
 * raft_decode_config, with a round-trip oracle.
 */
#include "fuzz_decode_check.h"

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct raft_config c;
	struct raft_config again;
	uint8_t    *buf;
	int			rv = raft_decode_config(data, size, &c);

	FUZZ_CHECK(rv == RAFT_OK || rv == RAFT_EMALFORMED || rv == RAFT_EVERSION);
	if (rv != RAFT_OK)
		return 0;
	FUZZ_CHECK(c.n <= RAFT_MAX_MEMBERS);
	for (uint32_t i = 0; i < c.n; i++)
	{
		FUZZ_CHECK(c.members[i].id != RAFT_NONE);
		FUZZ_CHECK(memchr(c.members[i].addr, '\0', RAFT_ADDR_LEN) != NULL);
		FUZZ_CHECK((c.members[i].flags &
					~(RAFT_VOTER_NEW | RAFT_VOTER_OLD)) == 0);
		for (uint32_t j = 0; j < i; j++)
			FUZZ_CHECK(c.members[j].id != c.members[i].id);
	}
	FUZZ_CHECK(raft_encoded_size_config(&c) == size);
	buf = malloc(size);
	FUZZ_CHECK(buf != NULL);
	FUZZ_CHECK(raft_encode_config(&c, buf, size - 1) == 0);
	FUZZ_CHECK(raft_encode_config(&c, buf, size) == size);
	FUZZ_CHECK(memcmp(buf, data, size) == 0);
	FUZZ_CHECK(raft_decode_config(buf, size, &again) == RAFT_OK);
	FUZZ_CHECK(config_equal(&c, &again));
	free(buf);
	return 0;
}
