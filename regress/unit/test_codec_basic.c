/*
 * regress/unit/test_codec_basic.c — the hard-state, entry and configuration
 * encodings (raft/codec/codec_{hard_state,entry,config}.c): round trips of
 * edge values, the documented byte layout, refusal of every truncation,
 * trailing bytes, wrong versions, lengths past the end, out-of-range
 * fields, and encoders given one byte too few.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "codec.h"
#include "test_codec_util.h"

#define BUF_SIZE 4096

/* ------------------------------------------------------------------------
 * Hard state
 * ------------------------------------------------------------------------ */
static int
decode_hs(const uint8_t *buf, size_t len)
{
	struct raft_hard_state hs;

	return raft_decode_hard_state(buf, len, &hs);
}

static void
test_hard_state_round_trip(void **state)
{
	static const struct raft_hard_state cases[] = {
		{0, 0, 0},
		{1, RAFT_NONE, 0},
		{7, 3, 42},
		{UINT64_MAX, UINT64_MAX, UINT64_MAX},
		{0x0102030405060708u, 0x1112131415161718u, 0x2122232425262728u},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
	{
		uint8_t		buf[RAFT_HARD_STATE_ENCODED_SIZE + 8];
		struct raft_hard_state out;

		memset(&out, 0xAB, sizeof(out));
		assert_int_equal(raft_encode_hard_state(&cases[i], buf, sizeof(buf)),
						 RAFT_HARD_STATE_ENCODED_SIZE);
		assert_int_equal(raft_decode_hard_state(buf,
												RAFT_HARD_STATE_ENCODED_SIZE,
												&out), RAFT_OK);
		assert_true(hard_state_equal(&cases[i], &out));
	}
}

/* The table at the top of codec_hard_state.c, byte by byte. */
static void
test_hard_state_layout(void **state)
{
	struct raft_hard_state hs = {0x0102030405060708u, 0x1112131415161718u,
	0x2122232425262728u};
	uint8_t		buf[RAFT_HARD_STATE_ENCODED_SIZE];
	uint8_t		want[RAFT_HARD_STATE_ENCODED_SIZE];
	struct bytes b = {want, 0};

	bytes_u8(&b, RAFT_CODEC_VERSION);
	bytes_u64(&b, hs.term);
	bytes_u64(&b, hs.vote);
	bytes_u64(&b, hs.commit);
	assert_int_equal(b.len, RAFT_HARD_STATE_ENCODED_SIZE);
	assert_int_equal(raft_encode_hard_state(&hs, buf, sizeof(buf)),
					 sizeof(buf));
	assert_memory_equal(buf, want, sizeof(buf));
	assert_int_equal(buf[1], 0x08);		/* little-endian */
}

static void
test_hard_state_refusals(void **state)
{
	struct raft_hard_state hs = {5, 2, 4};
	uint8_t		buf[RAFT_HARD_STATE_ENCODED_SIZE + 1];

	/* Encoder: one byte short. */
	assert_int_equal(raft_encode_hard_state(&hs, buf,
											RAFT_HARD_STATE_ENCODED_SIZE - 1),
					 0);
	assert_int_equal(raft_encode_hard_state(&hs, buf, sizeof(buf)),
					 RAFT_HARD_STATE_ENCODED_SIZE);

	/* Every truncation, including the empty buffer. */
	for (size_t len = 0; len < RAFT_HARD_STATE_ENCODED_SIZE; len++)
		assert_int_equal(decode_exact_copy(decode_hs, buf, len),
						 RAFT_EMALFORMED);
	assert_int_equal(decode_hs(NULL, 0), RAFT_EMALFORMED);

	/* A trailing byte. */
	buf[RAFT_HARD_STATE_ENCODED_SIZE] = 0;
	assert_int_equal(decode_hs(buf, sizeof(buf)), RAFT_EMALFORMED);

	/* Other versions, even with the right length. */
	buf[0] = 0;
	assert_int_equal(decode_hs(buf, RAFT_HARD_STATE_ENCODED_SIZE),
					 RAFT_EVERSION);
	buf[0] = RAFT_CODEC_VERSION + 1;
	assert_int_equal(decode_hs(buf, RAFT_HARD_STATE_ENCODED_SIZE),
					 RAFT_EVERSION);
	buf[0] = 0xFF;
	assert_int_equal(decode_hs(buf, 1), RAFT_EVERSION);
}

/* ------------------------------------------------------------------------
 * Entries
 * ------------------------------------------------------------------------ */
static int
decode_entry(const uint8_t *buf, size_t len)
{
	struct raft_entry e;

	return raft_decode_entry(buf, len, &e);
}

static void
check_entry_round_trip(const struct raft_entry *e)
{
	uint8_t    *buf = malloc(raft_encoded_size_entry(e) + 1);
	size_t		size = raft_encoded_size_entry(e);
	struct raft_entry out;

	assert_non_null(buf);
	assert_int_equal(size, 22 + e->data.len);
	/* One byte short is refused; exactly enough is not. */
	assert_int_equal(raft_encode_entry(e, buf, size - 1), 0);
	assert_int_equal(raft_encode_entry(e, buf, size), size);
	assert_int_equal(raft_decode_entry(buf, size, &out), RAFT_OK);
	assert_true(entry_equal(e, &out));
	/* Data is decoded in place, not copied. */
	if (e->data.len > 0)
		assert_ptr_equal(out.data.base, buf + 22);
	else
		assert_null(out.data.base);
	/* Every truncation is refused, and so is a trailing byte. */
	for (size_t len = 0; len < size; len++)
		assert_int_equal(decode_exact_copy(decode_entry, buf, len),
						 RAFT_EMALFORMED);
	buf[size] = 0;
	assert_int_equal(decode_entry(buf, size + 1), RAFT_EMALFORMED);
	free(buf);
}

static void
test_entry_round_trip(void **state)
{
	uint8_t		data[300];
	struct raft_entry e;

	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t) (i * 7 + 1);

	e = (struct raft_entry) {1, 1, RAFT_ENTRY_COMMAND, {data, 1}};
	check_entry_round_trip(&e);
	e = (struct raft_entry) {0, 0, RAFT_ENTRY_NOOP, {NULL, 0}};
	check_entry_round_trip(&e);
	e = (struct raft_entry) {UINT64_MAX, UINT64_MAX, RAFT_ENTRY_CONFIG,
	{data, sizeof(data)}};
	check_entry_round_trip(&e);
	/* Zero bytes are data like any other. */
	memset(data, 0, 17);
	e = (struct raft_entry) {3, 9, RAFT_ENTRY_COMMAND, {data, 17}};
	check_entry_round_trip(&e);
}

static void
test_entry_layout(void **state)
{
	uint8_t		want[64];
	uint8_t		buf[64];
	struct bytes b = {want, 0};
	struct raft_entry e = {0x0A0B0C0D0E0F1011u, 0x55u, RAFT_ENTRY_NOOP,
	{"xyz", 3}};
	struct raft_entry out;

	bytes_u8(&b, RAFT_CODEC_VERSION);
	bytes_u64(&b, e.term);
	bytes_u64(&b, e.index);
	bytes_u8(&b, RAFT_ENTRY_NOOP);
	bytes_u32(&b, 3);
	bytes_raw(&b, "xyz", 3);
	assert_int_equal(raft_encode_entry(&e, buf, sizeof(buf)), b.len);
	assert_memory_equal(buf, want, b.len);
	assert_int_equal(raft_decode_entry(want, b.len, &out), RAFT_OK);
	assert_true(entry_equal(&e, &out));
}

static void
test_entry_refusals(void **state)
{
	uint8_t		buf[64];
	uint8_t		data[4] = {1, 2, 3, 4};
	struct raft_entry e = {2, 3, RAFT_ENTRY_COMMAND, {data, 4}};
	size_t		size = raft_encode_entry(&e, buf, sizeof(buf));
	static const uint8_t bad_types[] = {0, RAFT_ENTRY_CONFIG + 1, 0x80, 0xFF};

	assert_int_equal(size, 26);

	/* Version. */
	buf[0] = 2;
	assert_int_equal(decode_entry(buf, size), RAFT_EVERSION);
	buf[0] = RAFT_CODEC_VERSION;

	/* Entry type out of range (byte 17), in decoder and encoder. */
	for (size_t i = 0; i < sizeof(bad_types); i++)
	{
		struct raft_entry bad = e;

		buf[17] = bad_types[i];
		assert_int_equal(decode_entry(buf, size), RAFT_EMALFORMED);
		bad.type = bad_types[i];
		assert_int_equal(raft_encode_entry(&bad, buf + 32, 32), 0);
	}
	buf[17] = RAFT_ENTRY_COMMAND;
	assert_int_equal(decode_entry(buf, size), RAFT_OK);

	/* Length one past the end, far past it, and one short of it. */
	patch_u32(buf, 18, 5);
	assert_int_equal(decode_entry(buf, size), RAFT_EMALFORMED);
	patch_u32(buf, 18, UINT32_MAX);
	assert_int_equal(decode_entry(buf, size), RAFT_EMALFORMED);
	patch_u32(buf, 18, 3);
	assert_int_equal(decode_entry(buf, size), RAFT_EMALFORMED);
	patch_u32(buf, 18, 4);
	assert_int_equal(decode_entry(buf, size), RAFT_OK);

	/* Encoder: data without a base; data over the limit. */
	e.data.base = NULL;
	assert_int_equal(raft_encode_entry(&e, buf, sizeof(buf)), 0);
	e.data.base = data;
	e.data.len = (size_t) RAFT_MAX_ENTRY_BYTES + 1;
	assert_int_equal(raft_encode_entry(&e, buf, sizeof(buf)), 0);
}

/* RAFT_MAX_ENTRY_BYTES is the limit even when the bytes are all there. */
static void
test_entry_size_limit(void **state)
{
	size_t		size = 22 + (size_t) RAFT_MAX_ENTRY_BYTES + 1;
	uint8_t    *buf = calloc(1, size);
	struct bytes b = {buf, 0};
	struct raft_entry out;

	assert_non_null(buf);
	bytes_u8(&b, RAFT_CODEC_VERSION);
	bytes_u64(&b, 1);
	bytes_u64(&b, 1);
	bytes_u8(&b, RAFT_ENTRY_COMMAND);
	bytes_u32(&b, RAFT_MAX_ENTRY_BYTES + 1);
	assert_int_equal(raft_decode_entry(buf, size, &out), RAFT_EMALFORMED);
	/* The same with exactly the limit is accepted. */
	patch_u32(buf, 18, RAFT_MAX_ENTRY_BYTES);
	assert_int_equal(raft_decode_entry(buf, size - 1, &out), RAFT_OK);
	assert_int_equal(out.data.len, RAFT_MAX_ENTRY_BYTES);
	free(buf);
}

/* ------------------------------------------------------------------------
 * Configurations
 * ------------------------------------------------------------------------ */
static int
decode_config(const uint8_t *buf, size_t len)
{
	struct raft_config c;

	return raft_decode_config(buf, len, &c);
}

static void
add_member(struct raft_config *c, raft_id id, uint8_t flags, const char *addr)
{
	struct raft_member *m = &c->members[c->n++];

	m->id = id;
	m->flags = flags;
	memset(m->addr, 0, sizeof(m->addr));
	snprintf(m->addr, sizeof(m->addr), "%s", addr);
}

static void
check_config_round_trip(const struct raft_config *c)
{
	uint8_t		buf[BUF_SIZE];
	size_t		size = raft_encoded_size_config(c);
	struct raft_config out;
	uint8_t		again[BUF_SIZE];

	assert_true(size < BUF_SIZE);
	assert_int_equal(raft_encode_config(c, buf, size - 1), 0);
	assert_int_equal(raft_encode_config(c, buf, size), size);
	memset(&out, 0xAB, sizeof(out));
	assert_int_equal(raft_decode_config(buf, size, &out), RAFT_OK);
	assert_true(config_equal(c, &out));
	/* Members past n come back zeroed. */
	for (uint32_t i = out.n; i < RAFT_MAX_MEMBERS; i++)
		assert_int_equal(out.members[i].id, 0);
	/* Canonical: re-encoding gives the same bytes. */
	assert_int_equal(raft_encode_config(&out, again, sizeof(again)), size);
	assert_memory_equal(buf, again, size);
	for (size_t len = 0; len < size; len++)
		assert_int_equal(decode_exact_copy(decode_config, buf, len),
						 RAFT_EMALFORMED);
	buf[size] = 0;
	assert_int_equal(decode_config(buf, size + 1), RAFT_EMALFORMED);
}

static void
test_config_round_trip(void **state)
{
	struct raft_config c;
	char		longest[RAFT_ADDR_LEN];

	memset(longest, 'a', sizeof(longest) - 1);
	longest[sizeof(longest) - 1] = '\0';

	/* Empty. */
	memset(&c, 0, sizeof(c));
	check_config_round_trip(&c);
	assert_int_equal(raft_encoded_size_config(&c), 6);

	/* Three voters. */
	add_member(&c, 1, RAFT_VOTER_NEW, "127.0.0.1:7001");
	add_member(&c, 2, RAFT_VOTER_NEW, "127.0.0.2:7001");
	add_member(&c, 3, RAFT_VOTER_NEW, "127.0.0.3:7001");
	check_config_round_trip(&c);

	/* Joint, every flag combination, an empty and a longest address. */
	memset(&c, 0, sizeof(c));
	c.joint = true;
	add_member(&c, 1, RAFT_VOTER_NEW | RAFT_VOTER_OLD, "a:1");
	add_member(&c, 2, RAFT_VOTER_OLD, "");
	add_member(&c, UINT64_MAX, RAFT_VOTER_NEW, longest);
	add_member(&c, 4, 0, "learner:5432");
	check_config_round_trip(&c);

	/* Full. */
	memset(&c, 0, sizeof(c));
	for (raft_id id = 1; id <= RAFT_MAX_MEMBERS; id++)
		add_member(&c, id * 1000, (uint8_t) (id % 4), longest);
	check_config_round_trip(&c);
	assert_int_equal(raft_encoded_size_config(&c),
					 6 + RAFT_MAX_MEMBERS * (10 + RAFT_ADDR_LEN - 1));
}

/* Bytes after an address's NUL are not sent and come back as zeros. */
static void
test_config_addr_tail_ignored(void **state)
{
	struct raft_config c;
	struct raft_config out;
	uint8_t		buf[BUF_SIZE];
	size_t		size;

	memset(&c, 0, sizeof(c));
	add_member(&c, 9, RAFT_VOTER_NEW, "h:1");
	memset(c.members[0].addr + 4, 'Z', RAFT_ADDR_LEN - 4);
	size = raft_encode_config(&c, buf, sizeof(buf));
	assert_int_equal(size, 6 + 10 + 3);
	assert_int_equal(raft_decode_config(buf, size, &out), RAFT_OK);
	assert_string_equal(out.members[0].addr, "h:1");
	for (size_t i = 3; i < RAFT_ADDR_LEN; i++)
		assert_int_equal(out.members[0].addr[i], 0);
}

/* A two-member configuration written by hand from the table. */
static size_t
build_config(uint8_t *buf, uint8_t joint, uint32_t n_claimed,
			 raft_id id2, uint8_t flags2, uint8_t addr_len2,
			 const char *addr2)
{
	struct bytes b = {buf, 0};

	bytes_u8(&b, RAFT_CODEC_VERSION);
	bytes_u8(&b, joint);
	bytes_u32(&b, n_claimed);
	bytes_u64(&b, 1);
	bytes_u8(&b, RAFT_VOTER_NEW);
	bytes_u8(&b, 3);
	bytes_raw(&b, "x:1", 3);
	bytes_u64(&b, id2);
	bytes_u8(&b, flags2);
	bytes_u8(&b, addr_len2);
	bytes_raw(&b, addr2, addr_len2);
	return b.len;
}

static void
test_config_decode_refusals(void **state)
{
	uint8_t		buf[BUF_SIZE];
	char		addr[256];		/* up to the largest u8 length */
	size_t		len;
	struct raft_config out;

	memset(addr, 'q', sizeof(addr));

	/* The hand-built baseline decodes. */
	len = build_config(buf, 0, 2, 2, RAFT_VOTER_OLD, 5, "y:222");
	assert_int_equal(raft_decode_config(buf, len, &out), RAFT_OK);
	assert_int_equal(out.n, 2);
	assert_string_equal(out.members[1].addr, "y:222");
	assert_int_equal(out.members[1].flags, RAFT_VOTER_OLD);

	/* joint is a bool. */
	len = build_config(buf, 2, 2, 2, 0, 1, "y");
	assert_int_equal(decode_config(buf, len), RAFT_EMALFORMED);

	/* Member count above RAFT_MAX_MEMBERS, or beyond the bytes. */
	len = build_config(buf, 0, RAFT_MAX_MEMBERS + 1, 2, 0, 1, "y");
	assert_int_equal(decode_config(buf, len), RAFT_EMALFORMED);
	len = build_config(buf, 0, UINT32_MAX, 2, 0, 1, "y");
	assert_int_equal(decode_config(buf, len), RAFT_EMALFORMED);
	len = build_config(buf, 0, 3, 2, 0, 1, "y");
	assert_int_equal(decode_config(buf, len), RAFT_EMALFORMED);
	/* ... and fewer than present leaves trailing bytes. */
	len = build_config(buf, 0, 1, 2, 0, 1, "y");
	assert_int_equal(decode_config(buf, len), RAFT_EMALFORMED);

	/* Unknown flag bits. */
	len = build_config(buf, 0, 2, 2, 0x04, 1, "y");
	assert_int_equal(decode_config(buf, len), RAFT_EMALFORMED);
	len = build_config(buf, 0, 2, 2, 0x80 | RAFT_VOTER_NEW, 1, "y");
	assert_int_equal(decode_config(buf, len), RAFT_EMALFORMED);

	/* Id 0 (RAFT_NONE) and a duplicate id. */
	len = build_config(buf, 0, 2, RAFT_NONE, 0, 1, "y");
	assert_int_equal(decode_config(buf, len), RAFT_EMALFORMED);
	len = build_config(buf, 0, 2, 1, 0, 1, "y");
	assert_int_equal(decode_config(buf, len), RAFT_EMALFORMED);

	/* Address: the longest fits; RAFT_ADDR_LEN bytes leave no room for NUL. */
	len = build_config(buf, 0, 2, 2, 0, RAFT_ADDR_LEN - 1, addr);
	assert_int_equal(decode_config(buf, len), RAFT_OK);
	len = build_config(buf, 0, 2, 2, 0, RAFT_ADDR_LEN, addr);
	assert_int_equal(decode_config(buf, len), RAFT_EMALFORMED);
	len = build_config(buf, 0, 2, 2, 0, 0xFF, addr);
	assert_int_equal(decode_config(buf, len), RAFT_EMALFORMED);

	/* A NUL inside the address (would not round-trip). */
	len = build_config(buf, 0, 2, 2, 0, 3, "a\0b");
	assert_int_equal(decode_config(buf, len), RAFT_EMALFORMED);

	/* Address length pointing past the end. */
	len = build_config(buf, 0, 2, 2, 0, 5, "y:222");
	assert_int_equal(decode_config(buf, len - 1), RAFT_EMALFORMED);

	/* Version. */
	len = build_config(buf, 0, 2, 2, 0, 1, "y");
	buf[0] = 0;
	assert_int_equal(decode_config(buf, len), RAFT_EVERSION);
}

static void
test_config_encode_refusals(void **state)
{
	uint8_t		buf[BUF_SIZE];
	struct raft_config c;
	struct raft_config bad;

	memset(&c, 0, sizeof(c));
	add_member(&c, 1, RAFT_VOTER_NEW, "a:1");
	add_member(&c, 2, RAFT_VOTER_NEW, "b:1");
	assert_true(raft_encode_config(&c, buf, sizeof(buf)) > 0);

	bad = c;
	bad.n = RAFT_MAX_MEMBERS + 1;
	assert_int_equal(raft_encode_config(&bad, buf, sizeof(buf)), 0);

	bad = c;
	memset(bad.members[1].addr, 'x', RAFT_ADDR_LEN);	/* no NUL */
	assert_int_equal(raft_encode_config(&bad, buf, sizeof(buf)), 0);

	bad = c;
	bad.members[0].flags = 0x04;
	assert_int_equal(raft_encode_config(&bad, buf, sizeof(buf)), 0);

	bad = c;
	bad.members[1].id = RAFT_NONE;
	assert_int_equal(raft_encode_config(&bad, buf, sizeof(buf)), 0);

	bad = c;
	bad.members[1].id = 1;
	assert_int_equal(raft_encode_config(&bad, buf, sizeof(buf)), 0);
}

/* Every encoder refuses a NULL or empty buffer; every decoder an empty one. */
static void
test_empty_buffers(void **state)
{
	struct raft_hard_state hs = {1, 1, 1};
	struct raft_entry e = {1, 1, RAFT_ENTRY_NOOP, {NULL, 0}};
	struct raft_config c;
	struct raft_snapshot s;
	struct raft_message m;
	struct raft_entry room[1];
	uint8_t		one[1];

	memset(&c, 0, sizeof(c));
	memset(&s, 0, sizeof(s));
	memset(&m, 0, sizeof(m));
	m.type = RAFT_MSG_HEARTBEAT;

	assert_int_equal(raft_encode_hard_state(&hs, NULL, 1024), 0);
	assert_int_equal(raft_encode_entry(&e, NULL, 1024), 0);
	assert_int_equal(raft_encode_config(&c, NULL, 1024), 0);
	assert_int_equal(raft_encode_snapshot(&s, NULL, 1024), 0);
	assert_int_equal(raft_encode_message(&m, NULL, 1024), 0);
	assert_int_equal(raft_encode_hard_state(&hs, one, 0), 0);
	assert_int_equal(raft_encode_entry(&e, one, 0), 0);
	assert_int_equal(raft_encode_config(&c, one, 0), 0);
	assert_int_equal(raft_encode_snapshot(&s, one, 0), 0);
	assert_int_equal(raft_encode_message(&m, one, 0), 0);

	assert_int_equal(raft_decode_hard_state(NULL, 0, &hs), RAFT_EMALFORMED);
	assert_int_equal(raft_decode_entry(NULL, 0, &e), RAFT_EMALFORMED);
	assert_int_equal(raft_decode_config(NULL, 0, &c), RAFT_EMALFORMED);
	assert_int_equal(raft_decode_snapshot(NULL, 0, &s), RAFT_EMALFORMED);
	assert_int_equal(raft_decode_message(NULL, 0, &m, room, 1),
					 RAFT_EMALFORMED);
	/* The version byte alone. */
	one[0] = RAFT_CODEC_VERSION;
	assert_int_equal(raft_decode_hard_state(one, 1, &hs), RAFT_EMALFORMED);
	assert_int_equal(raft_decode_entry(one, 1, &e), RAFT_EMALFORMED);
	assert_int_equal(raft_decode_config(one, 1, &c), RAFT_EMALFORMED);
	assert_int_equal(raft_decode_snapshot(one, 1, &s), RAFT_EMALFORMED);
	assert_int_equal(raft_decode_message(one, 1, &m, room, 1),
					 RAFT_EMALFORMED);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hard_state_round_trip),
		cmocka_unit_test(test_hard_state_layout),
		cmocka_unit_test(test_hard_state_refusals),
		cmocka_unit_test(test_entry_round_trip),
		cmocka_unit_test(test_entry_layout),
		cmocka_unit_test(test_entry_refusals),
		cmocka_unit_test(test_entry_size_limit),
		cmocka_unit_test(test_config_round_trip),
		cmocka_unit_test(test_config_addr_tail_ignored),
		cmocka_unit_test(test_config_decode_refusals),
		cmocka_unit_test(test_config_encode_refusals),
		cmocka_unit_test(test_empty_buffers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
