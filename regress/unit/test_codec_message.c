/*
 * regress/unit/test_codec_message.c — the snapshot and message encodings
 * (raft/codec/codec_{snapshot,message}.c): round trips of every message
 * type with every field set and at edge values, entries and snapshots
 * inside messages, the documented layout, refusal of every truncation,
 * wrong versions, counts and lengths past the end, more entries than the
 * caller's capacity, out-of-range types and bools, and encoders given one
 * byte too few.
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

#define BUF_SIZE 8192
#define MAX_ENTRIES 8
#define MESSAGE_MIN_SIZE 80		/* header 79 + has_snapshot */
#define N_ENTRIES_OFFSET 75
#define ENTRIES_OFFSET 79

static uint8_t payload[512];

static int
setup(void **state)
{
	for (size_t i = 0; i < sizeof(payload); i++)
		payload[i] = (uint8_t) (i * 31 + 5);
	return 0;
}

static void
three_voters(struct raft_config *c)
{
	memset(c, 0, sizeof(*c));
	c->n = 3;
	for (uint32_t i = 0; i < 3; i++)
	{
		c->members[i].id = i + 1;
		c->members[i].flags = RAFT_VOTER_NEW;
		snprintf(c->members[i].addr, RAFT_ADDR_LEN, "127.0.0.%u:7000", i + 1);
	}
}

static void
some_snapshot(struct raft_snapshot *s)
{
	memset(s, 0, sizeof(*s));
	s->index = 1000;
	s->term = 7;
	three_voters(&s->config);
	s->data.base = payload;
	s->data.len = 100;
}

/* Every field distinct and non-zero, so a swapped field shows. */
static void
every_field(struct raft_message *m, uint8_t type)
{
	memset(m, 0, sizeof(*m));
	m->type = type;
	m->from = 0x0101010101010101u;
	m->to = 0x0202020202020202u;
	m->term = 0x0303030303030303u;
	m->log_term = 0x0404040404040404u;
	m->index = 0x0505050505050505u;
	m->commit = 0x0606060606060606u;
	m->reject = true;
	m->reject_hint = 0x0707070707070707u;
	m->hint_term = 0x0808080808080808u;
	m->context = 0x0909090909090909u;
}

static int
decode_msg(const uint8_t *buf, size_t len)
{
	struct raft_message m;
	struct raft_entry entries[MAX_ENTRIES];

	return raft_decode_message(buf, len, &m, entries, MAX_ENTRIES);
}

/* Round trip, exact size, one byte short, canonical, every truncation. */
static void
check_message_round_trip(const struct raft_message *m)
{
	static uint8_t buf[BUF_SIZE];
	static uint8_t again[BUF_SIZE];
	size_t		size = raft_encoded_size_message(m);
	struct raft_message out;
	struct raft_entry entries[MAX_ENTRIES];

	assert_true(size >= MESSAGE_MIN_SIZE && size < BUF_SIZE);
	assert_int_equal(raft_encode_message(m, buf, size - 1), 0);
	assert_int_equal(raft_encode_message(m, buf, size), size);
	memset(&out, 0xAB, sizeof(out));
	assert_int_equal(raft_decode_message(buf, size, &out, entries,
										 MAX_ENTRIES), RAFT_OK);
	assert_true(message_equal(m, &out));
	if (m->n_entries == 0)
		assert_null(out.entries);
	else
		assert_ptr_equal(out.entries, entries);
	assert_int_equal(raft_encode_message(&out, again, sizeof(again)), size);
	assert_memory_equal(buf, again, size);
	for (size_t len = 0; len < size; len++)
		assert_int_equal(decode_exact_copy(decode_msg, buf, len),
						 RAFT_EMALFORMED);
	buf[size] = 0;
	assert_int_equal(decode_msg(buf, size + 1), RAFT_EMALFORMED);
}

static void
test_every_type_round_trip(void **state)
{
	struct raft_message m;
	struct raft_entry entries[3] = {
		{5, 10, RAFT_ENTRY_COMMAND, {payload, 10}},
		{5, 11, RAFT_ENTRY_NOOP, {NULL, 0}},
		{6, 12, RAFT_ENTRY_CONFIG, {payload + 10, 200}},
	};

	for (uint8_t type = 1; type <= RAFT_MSG_TYPE_MAX; type++)
	{
		/* Only the header. */
		every_field(&m, type);
		check_message_round_trip(&m);
		assert_int_equal(raft_encoded_size_message(&m), MESSAGE_MIN_SIZE);

		/* With entries. */
		m.n_entries = 3;
		m.entries = entries;
		check_message_round_trip(&m);

		/* With entries and a snapshot: the codec carries every field. */
		some_snapshot(&m.snapshot);
		check_message_round_trip(&m);

		/* Zeros and reject = false. */
		memset(&m, 0, sizeof(m));
		m.type = type;
		check_message_round_trip(&m);
	}
}

static void
test_edge_values(void **state)
{
	struct raft_message m;
	struct raft_entry entries[MAX_ENTRIES];

	memset(&m, 0, sizeof(m));
	m.type = RAFT_MSG_APPEND;
	m.from = m.to = m.term = m.log_term = m.index = m.commit = UINT64_MAX;
	m.reject_hint = m.hint_term = m.context = UINT64_MAX;
	for (int i = 0; i < MAX_ENTRIES; i++)
		entries[i] = (struct raft_entry) {UINT64_MAX, UINT64_MAX - i,
			RAFT_ENTRY_COMMAND, {payload, (size_t) i * 60}};
	m.n_entries = MAX_ENTRIES;
	m.entries = entries;
	m.snapshot.index = UINT64_MAX;
	m.snapshot.term = UINT64_MAX;
	check_message_round_trip(&m);

	/* A snapshot with only data, or only a joint flag, is still present. */
	memset(&m, 0, sizeof(m));
	m.type = RAFT_MSG_SNAPSHOT;
	m.snapshot.data.base = payload;
	m.snapshot.data.len = 1;
	check_message_round_trip(&m);
	memset(&m.snapshot, 0, sizeof(m.snapshot));
	m.snapshot.config.joint = true;
	check_message_round_trip(&m);
	assert_int_equal(raft_encoded_size_message(&m), MESSAGE_MIN_SIZE + 25);
}

/* The table at the top of codec_message.c, written by hand. */
static void
test_message_layout(void **state)
{
	uint8_t		want[256];
	uint8_t		buf[256];
	struct bytes b = {want, 0};
	struct raft_message m;
	struct raft_entry e = {9, 10, RAFT_ENTRY_COMMAND, {"ab", 2}};

	every_field(&m, RAFT_MSG_APPEND);
	m.n_entries = 1;
	m.entries = &e;
	m.snapshot.index = 3;
	m.snapshot.term = 2;
	m.snapshot.data.base = "s";
	m.snapshot.data.len = 1;

	bytes_u8(&b, RAFT_CODEC_VERSION);
	bytes_u8(&b, RAFT_MSG_APPEND);
	bytes_u64(&b, m.from);
	bytes_u64(&b, m.to);
	bytes_u64(&b, m.term);
	bytes_u64(&b, m.log_term);
	bytes_u64(&b, m.index);
	bytes_u64(&b, m.commit);
	bytes_u8(&b, 1);
	bytes_u64(&b, m.reject_hint);
	bytes_u64(&b, m.hint_term);
	bytes_u64(&b, m.context);
	assert_int_equal(b.len, N_ENTRIES_OFFSET);
	bytes_u32(&b, 1);
	bytes_u64(&b, 9);
	bytes_u64(&b, 10);
	bytes_u8(&b, RAFT_ENTRY_COMMAND);
	bytes_u32(&b, 2);
	bytes_raw(&b, "ab", 2);
	bytes_u8(&b, 1);			/* has_snapshot */
	bytes_u64(&b, 3);
	bytes_u64(&b, 2);
	bytes_u8(&b, 0);			/* joint */
	bytes_u32(&b, 0);			/* members */
	bytes_u32(&b, 1);
	bytes_raw(&b, "s", 1);

	assert_int_equal(raft_encode_message(&m, buf, sizeof(buf)), b.len);
	assert_memory_equal(buf, want, b.len);
}

static void
test_message_refusals(void **state)
{
	uint8_t		buf[BUF_SIZE];
	struct raft_message m;
	struct raft_message bad;
	struct raft_message out;
	struct raft_entry entries[2] = {
		{1, 2, RAFT_ENTRY_COMMAND, {payload, 4}},
		{1, 3, RAFT_ENTRY_COMMAND, {payload, 4}},
	};
	struct raft_entry room[2];
	size_t		size;
	static const uint8_t bad_types[] = {0, RAFT_MSG_TYPE_MAX + 1, 0xFF};
	size_t		has_snapshot_at;

	every_field(&m, RAFT_MSG_APPEND);
	m.n_entries = 2;
	m.entries = entries;
	size = raft_encode_message(&m, buf, sizeof(buf));
	assert_int_equal(size, MESSAGE_MIN_SIZE + 2 * (21 + 4));
	has_snapshot_at = size - 1;

	/* Capacity: exactly enough works; one less is RAFT_ETOOBIG. */
	assert_int_equal(raft_decode_message(buf, size, &out, room, 2), RAFT_OK);
	assert_int_equal(raft_decode_message(buf, size, &out, room, 1),
					 RAFT_ETOOBIG);
	assert_int_equal(raft_decode_message(buf, size, &out, NULL, 0),
					 RAFT_ETOOBIG);
	assert_int_equal(raft_decode_message(buf, size, &out, NULL, 5),
					 RAFT_ETOOBIG);

	/* Version. */
	buf[0] = RAFT_CODEC_VERSION + 1;
	assert_int_equal(decode_msg(buf, size), RAFT_EVERSION);
	buf[0] = 0;
	assert_int_equal(decode_msg(buf, size), RAFT_EVERSION);
	buf[0] = RAFT_CODEC_VERSION;

	/* Message type out of range, in decoder and encoder. */
	for (size_t i = 0; i < sizeof(bad_types); i++)
	{
		buf[1] = bad_types[i];
		assert_int_equal(decode_msg(buf, size), RAFT_EMALFORMED);
		bad = m;
		bad.type = bad_types[i];
		assert_int_equal(raft_encode_message(&bad, buf + size, 4096), 0);
	}
	buf[1] = RAFT_MSG_APPEND;

	/* reject and has_snapshot are bools. */
	buf[50] = 2;
	assert_int_equal(decode_msg(buf, size), RAFT_EMALFORMED);
	buf[50] = 1;
	buf[has_snapshot_at] = 2;
	assert_int_equal(decode_msg(buf, size), RAFT_EMALFORMED);
	buf[has_snapshot_at] = 0;
	assert_int_equal(decode_msg(buf, size), RAFT_OK);

	/* Entry count: past the bytes present is malformed, not "too big". */
	patch_u32(buf, N_ENTRIES_OFFSET, UINT32_MAX);
	assert_int_equal(decode_msg(buf, size), RAFT_EMALFORMED);
	patch_u32(buf, N_ENTRIES_OFFSET, 3);
	assert_int_equal(decode_msg(buf, size), RAFT_EMALFORMED);
	patch_u32(buf, N_ENTRIES_OFFSET, 1);	/* leaves bytes over */
	assert_int_equal(decode_msg(buf, size), RAFT_EMALFORMED);
	patch_u32(buf, N_ENTRIES_OFFSET, 2);

	/* An entry's length past the end; an entry's type out of range. */
	patch_u32(buf, ENTRIES_OFFSET + 17, UINT32_MAX);
	assert_int_equal(decode_msg(buf, size), RAFT_EMALFORMED);
	patch_u32(buf, ENTRIES_OFFSET + 17, (uint32_t) size);
	assert_int_equal(decode_msg(buf, size), RAFT_EMALFORMED);
	patch_u32(buf, ENTRIES_OFFSET + 17, 4);
	buf[ENTRIES_OFFSET + 16] = 0;
	assert_int_equal(decode_msg(buf, size), RAFT_EMALFORMED);
	buf[ENTRIES_OFFSET + 16] = RAFT_ENTRY_CONFIG + 1;
	assert_int_equal(decode_msg(buf, size), RAFT_EMALFORMED);
	buf[ENTRIES_OFFSET + 16] = RAFT_ENTRY_COMMAND;
	assert_int_equal(decode_msg(buf, size), RAFT_OK);

	/* Encoder: entries missing, a bad entry, a bad snapshot config. */
	bad = m;
	bad.entries = NULL;
	assert_int_equal(raft_encode_message(&bad, buf, sizeof(buf)), 0);
	bad = m;
	entries[1].type = 0;
	assert_int_equal(raft_encode_message(&bad, buf, sizeof(buf)), 0);
	entries[1].type = RAFT_ENTRY_COMMAND;
	bad = m;
	bad.snapshot.config.n = RAFT_MAX_MEMBERS + 1;
	assert_int_equal(raft_encode_message(&bad, buf, sizeof(buf)), 0);
}

/* has_snapshot = 1 with an all-zero snapshot is not canonical: refused. */
static void
test_message_empty_snapshot_refused(void **state)
{
	uint8_t		buf[BUF_SIZE];
	struct bytes b = {buf, 0};

	bytes_u8(&b, RAFT_CODEC_VERSION);
	bytes_u8(&b, RAFT_MSG_SNAPSHOT);
	for (int i = 0; i < 6; i++)
		bytes_u64(&b, 1);
	bytes_u8(&b, 0);
	for (int i = 0; i < 3; i++)
		bytes_u64(&b, 0);
	bytes_u32(&b, 0);
	bytes_u8(&b, 1);
	bytes_u64(&b, 0);
	bytes_u64(&b, 0);
	bytes_u8(&b, 0);
	bytes_u32(&b, 0);
	bytes_u32(&b, 0);
	assert_int_equal(decode_msg(buf, b.len), RAFT_EMALFORMED);
	/* The same with index 1 is a real snapshot. */
	buf[MESSAGE_MIN_SIZE] = 1;
	assert_int_equal(decode_msg(buf, b.len), RAFT_OK);
}

/* ------------------------------------------------------------------------
 * Snapshots on their own
 * ------------------------------------------------------------------------ */
static int
decode_snap(const uint8_t *buf, size_t len)
{
	struct raft_snapshot s;

	return raft_decode_snapshot(buf, len, &s);
}

static void
check_snapshot_round_trip(const struct raft_snapshot *s)
{
	static uint8_t buf[BUF_SIZE];
	static uint8_t again[BUF_SIZE];
	size_t		size = raft_encoded_size_snapshot(s);
	struct raft_snapshot out;

	assert_true(size < BUF_SIZE);
	assert_int_equal(raft_encode_snapshot(s, buf, size - 1), 0);
	assert_int_equal(raft_encode_snapshot(s, buf, size), size);
	memset(&out, 0xAB, sizeof(out));
	assert_int_equal(raft_decode_snapshot(buf, size, &out), RAFT_OK);
	assert_true(snapshot_equal(s, &out));
	if (s->data.len > 0)
		assert_ptr_equal(out.data.base, buf + size - s->data.len);
	else
		assert_null(out.data.base);
	assert_int_equal(raft_encode_snapshot(&out, again, sizeof(again)), size);
	assert_memory_equal(buf, again, size);
	for (size_t len = 0; len < size; len++)
		assert_int_equal(decode_exact_copy(decode_snap, buf, len),
						 RAFT_EMALFORMED);
	buf[size] = 0;
	assert_int_equal(decode_snap(buf, size + 1), RAFT_EMALFORMED);
}

static void
test_snapshot_round_trip(void **state)
{
	struct raft_snapshot s;

	memset(&s, 0, sizeof(s));
	check_snapshot_round_trip(&s);
	assert_int_equal(raft_encoded_size_snapshot(&s), 1 + 16 + 5 + 4);

	some_snapshot(&s);
	check_snapshot_round_trip(&s);

	s.index = UINT64_MAX;
	s.term = UINT64_MAX;
	s.config.joint = true;
	s.config.members[0].flags = RAFT_VOTER_OLD;
	s.data.base = payload;
	s.data.len = sizeof(payload);
	check_snapshot_round_trip(&s);
}

static void
test_snapshot_refusals(void **state)
{
	uint8_t		buf[BUF_SIZE];
	struct raft_snapshot s;
	struct raft_snapshot out;
	size_t		size;
	size_t		data_len_at;

	some_snapshot(&s);
	size = raft_encode_snapshot(&s, buf, sizeof(buf));
	assert_true(size > 0);
	data_len_at = size - s.data.len - 4;

	buf[0] = 7;
	assert_int_equal(decode_snap(buf, size), RAFT_EVERSION);
	buf[0] = RAFT_CODEC_VERSION;

	/* Data length past the end, one short, and exact. */
	patch_u32(buf, data_len_at, UINT32_MAX);
	assert_int_equal(decode_snap(buf, size), RAFT_EMALFORMED);
	patch_u32(buf, data_len_at, (uint32_t) s.data.len + 1);
	assert_int_equal(decode_snap(buf, size), RAFT_EMALFORMED);
	patch_u32(buf, data_len_at, (uint32_t) s.data.len - 1);
	assert_int_equal(decode_snap(buf, size), RAFT_EMALFORMED);
	patch_u32(buf, data_len_at, (uint32_t) s.data.len);
	assert_int_equal(raft_decode_snapshot(buf, size, &out), RAFT_OK);
	assert_true(snapshot_equal(&s, &out));

	/* A bad configuration inside: member count over the limit. */
	patch_u32(buf, 18, RAFT_MAX_MEMBERS + 1);
	assert_int_equal(decode_snap(buf, size), RAFT_EMALFORMED);
	patch_u32(buf, 18, 3);
	/* joint is a bool. */
	buf[17] = 2;
	assert_int_equal(decode_snap(buf, size), RAFT_EMALFORMED);
	buf[17] = 0;
	assert_int_equal(decode_snap(buf, size), RAFT_OK);

	/* Encoder: data without a base; a member without a NUL. */
	s.data.base = NULL;
	assert_int_equal(raft_encode_snapshot(&s, buf, sizeof(buf)), 0);
	s.data.base = payload;
	memset(s.config.members[2].addr, 'x', RAFT_ADDR_LEN);
	assert_int_equal(raft_encode_snapshot(&s, buf, sizeof(buf)), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_type_round_trip),
		cmocka_unit_test(test_edge_values),
		cmocka_unit_test(test_message_layout),
		cmocka_unit_test(test_message_refusals),
		cmocka_unit_test(test_message_empty_snapshot_refused),
		cmocka_unit_test(test_snapshot_round_trip),
		cmocka_unit_test(test_snapshot_refusals),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
