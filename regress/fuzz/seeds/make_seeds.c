/*
 * regress/fuzz/seeds/make_seeds.c — writes the small seed inputs of the
 * codec's fuzz targets (regress/fuzz/seeds/fuzz_decode_<type>/) with the
 * codec's own encoders: a few valid encodings of each type, so the fuzzer
 * starts from inputs that get past the version byte and the lengths.
 * The seeds are committed; rebuild them only when an encoding changes:
 *
 *   cc -Iraft -Iraft/codec regress/fuzz/seeds/make_seeds.c \
 *      $(ls raft/codec/[a-z]*.c) -o /tmp/make_seeds &&
 *   /tmp/make_seeds regress/fuzz/seeds
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"

static uint8_t buf[8192];

static void
save(const char *dir, const char *target, const char *name, size_t n)
{
	char		path[512];
	FILE	   *f;

	if (n == 0)
	{
		fprintf(stderr, "%s/%s: encoder refused\n", target, name);
		exit(1);
	}
	snprintf(path, sizeof(path), "%s/%s/%s", dir, target, name);
	f = fopen(path, "wb");
	if (f == NULL || fwrite(buf, 1, n, f) != n || fclose(f) != 0)
	{
		perror(path);
		exit(1);
	}
}

static void
config(struct raft_config *c, uint32_t n, bool joint)
{
	memset(c, 0, sizeof(*c));
	c->joint = joint;
	c->n = n;
	for (uint32_t i = 0; i < n; i++)
	{
		c->members[i].id = i + 1;
		c->members[i].flags = joint ? (uint8_t) (i % 4) : RAFT_VOTER_NEW;
		snprintf(c->members[i].addr, RAFT_ADDR_LEN, "127.0.0.%u:%u",
				 i + 1, 7000 + i);
	}
}

int
main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : ".";
	struct raft_hard_state hs = {3, 2, 17};
	struct raft_config c;
	struct raft_entry e[3];
	struct raft_snapshot s;
	struct raft_message m;
	static const char cmd[] = "INSERT INTO t VALUES (1)";
	uint8_t		cfg[2048];
	size_t		cfg_len;

	save(dir, "fuzz_decode_hard_state", "term3",
		 raft_encode_hard_state(&hs, buf, sizeof(buf)));

	config(&c, 0, false);
	save(dir, "fuzz_decode_config", "empty",
		 raft_encode_config(&c, buf, sizeof(buf)));
	config(&c, 3, false);
	save(dir, "fuzz_decode_config", "three",
		 raft_encode_config(&c, buf, sizeof(buf)));
	config(&c, 5, true);
	save(dir, "fuzz_decode_config", "joint5",
		 raft_encode_config(&c, buf, sizeof(buf)));

	config(&c, 3, false);
	cfg_len = raft_encode_config(&c, cfg, sizeof(cfg));
	e[0] = (struct raft_entry) {1, 1, RAFT_ENTRY_CONFIG, {cfg, cfg_len}};
	e[1] = (struct raft_entry) {2, 2, RAFT_ENTRY_NOOP, {NULL, 0}};
	e[2] = (struct raft_entry) {2, 3, RAFT_ENTRY_COMMAND,
	{(void *) cmd, sizeof(cmd) - 1}};
	for (int i = 0; i < 3; i++)
	{
		char		name[16];

		snprintf(name, sizeof(name), "entry%d", i);
		save(dir, "fuzz_decode_entry", name,
			 raft_encode_entry(&e[i], buf, sizeof(buf)));
	}

	memset(&s, 0, sizeof(s));
	save(dir, "fuzz_decode_snapshot", "none",
		 raft_encode_snapshot(&s, buf, sizeof(buf)));
	s.index = 100;
	s.term = 4;
	config(&s.config, 3, false);
	s.data.base = (void *) cmd;
	s.data.len = sizeof(cmd) - 1;
	save(dir, "fuzz_decode_snapshot", "index100",
		 raft_encode_snapshot(&s, buf, sizeof(buf)));

	memset(&m, 0, sizeof(m));
	m.type = RAFT_MSG_APPEND;
	m.from = 1;
	m.to = 2;
	m.term = 2;
	m.log_term = 1;
	m.index = 0;
	m.commit = 1;
	m.n_entries = 3;
	m.entries = e;
	save(dir, "fuzz_decode_message", "append",
		 raft_encode_message(&m, buf, sizeof(buf)));
	memset(&m, 0, sizeof(m));
	m.type = RAFT_MSG_APPEND_RESP;
	m.from = 2;
	m.to = 1;
	m.term = 2;
	m.index = 5;
	m.reject = true;
	m.reject_hint = 3;
	m.hint_term = 1;
	save(dir, "fuzz_decode_message", "append_resp",
		 raft_encode_message(&m, buf, sizeof(buf)));
	memset(&m, 0, sizeof(m));
	m.type = RAFT_MSG_SNAPSHOT;
	m.from = 1;
	m.to = 3;
	m.term = 4;
	m.snapshot = s;
	save(dir, "fuzz_decode_message", "snapshot",
		 raft_encode_message(&m, buf, sizeof(buf)));
	memset(&m, 0, sizeof(m));
	m.type = RAFT_MSG_HEARTBEAT;
	m.from = 1;
	m.to = 2;
	m.term = 4;
	m.commit = 9;
	m.context = 12;
	save(dir, "fuzz_decode_message", "heartbeat",
		 raft_encode_message(&m, buf, sizeof(buf)));
	return 0;
}
