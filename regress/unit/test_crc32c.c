/*
 * regress/unit/test_crc32c.c — raft_crc32c against the CRC-32C check
 * values of RFC 3720 (iSCSI) appendix B.4 and the catalogue's "123456789"
 * check, against a bit-at-a-time reference written from the definition
 * (all eight slicing tables, every alignment), and incremental against
 * one-shot; and the hardware path (SSE4.2) against the tables on every
 * length up to 1 KiB at every offset, whole and in pieces.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "crc32c.h"

/* The definition: reflected CRC, polynomial 0x82F63B78, ~init, ~final. */
static uint32_t
crc32c_bitwise(uint32_t crc, const uint8_t *p, size_t len)
{
	crc = ~crc;
	for (size_t i = 0; i < len; i++)
	{
		crc ^= p[i];
		for (int k = 0; k < 8; k++)
			crc = (crc & 1) ? (crc >> 1) ^ 0x82F63B78u : crc >> 1;
	}
	return ~crc;
}

/* A fixed pseudo-random fill (xorshift), so failures replay. */
static void
fill(uint8_t *p, size_t len, uint64_t seed)
{
	uint64_t	x = seed | 1;

	for (size_t i = 0; i < len; i++)
	{
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		p[i] = (uint8_t) x;
	}
}

static void
test_check_string(void **state)
{
	assert_int_equal(raft_crc32c(0, "123456789", 9), 0xE3069283u);
}

/* RFC 3720 B.4: 32 bytes of zeros, of ones, ascending, descending. */
static void
test_rfc3720_vectors(void **state)
{
	uint8_t		buf[32];

	memset(buf, 0, sizeof(buf));
	assert_int_equal(raft_crc32c(0, buf, sizeof(buf)), 0x8A9136AAu);
	memset(buf, 0xFF, sizeof(buf));
	assert_int_equal(raft_crc32c(0, buf, sizeof(buf)), 0x62A8AB43u);
	for (int i = 0; i < 32; i++)
		buf[i] = (uint8_t) i;
	assert_int_equal(raft_crc32c(0, buf, sizeof(buf)), 0x46DD794Eu);
	for (int i = 0; i < 32; i++)
		buf[i] = (uint8_t) (31 - i);
	assert_int_equal(raft_crc32c(0, buf, sizeof(buf)), 0x113FDB5Cu);
}

/* RFC 3720 B.4: an iSCSI read command PDU. */
static void
test_rfc3720_read_pdu(void **state)
{
	static const uint8_t pdu[48] = {
		0x01, 0xc0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
		0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
		0x14, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00,
		0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x18,
		0x28, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
		0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	};

	assert_int_equal(raft_crc32c(0, pdu, sizeof(pdu)), 0xD9963A56u);
}

static void
test_empty(void **state)
{
	assert_int_equal(raft_crc32c(0, "", 0), 0);
	assert_int_equal(raft_crc32c(0, NULL, 0), 0);
	/* Extending by nothing changes nothing. */
	assert_int_equal(raft_crc32c(0xE3069283u, NULL, 0), 0xE3069283u);
}

/* Every length 0..300 at every start offset 0..7, against the reference. */
static void
test_matches_bitwise_reference(void **state)
{
	uint8_t		buf[320];

	fill(buf, sizeof(buf), 42);
	for (size_t off = 0; off < 8; off++)
		for (size_t len = 0; len <= 300; len++)
			assert_int_equal(raft_crc32c(0, buf + off, len),
							 crc32c_bitwise(0, buf + off, len));
}

/* Every split point of a buffer, and three-way splits. */
static void
test_incremental_equals_one_shot(void **state)
{
	uint8_t		buf[257];
	uint32_t	whole;

	fill(buf, sizeof(buf), 7);
	whole = raft_crc32c(0, buf, sizeof(buf));
	assert_int_equal(whole, crc32c_bitwise(0, buf, sizeof(buf)));
	for (size_t cut = 0; cut <= sizeof(buf); cut++)
	{
		uint32_t	crc = raft_crc32c(0, buf, cut);

		crc = raft_crc32c(crc, buf + cut, sizeof(buf) - cut);
		assert_int_equal(crc, whole);
	}
	for (size_t a = 0; a <= sizeof(buf); a += 13)
		for (size_t b = a; b <= sizeof(buf); b += 7)
		{
			uint32_t	crc = raft_crc32c(0, buf, a);

			crc = raft_crc32c(crc, buf + a, b - a);
			crc = raft_crc32c(crc, buf + b, sizeof(buf) - b);
			assert_int_equal(crc, whole);
		}
}

/* One flipped bit anywhere changes the CRC (CRCs detect all 1-bit errors). */
static void
test_detects_single_bit_flips(void **state)
{
	uint8_t		buf[64];
	uint32_t	whole;

	fill(buf, sizeof(buf), 99);
	whole = raft_crc32c(0, buf, sizeof(buf));
	for (size_t bit = 0; bit < 8 * sizeof(buf); bit++)
	{
		buf[bit / 8] ^= (uint8_t) (1u << (bit % 8));
		assert_int_not_equal(raft_crc32c(0, buf, sizeof(buf)), whole);
		buf[bit / 8] ^= (uint8_t) (1u << (bit % 8));
	}
}

/* Both implementations give the check values. */
static void
test_both_paths_check_values(void **state)
{
	uint8_t		buf[32];

	assert_int_equal(raft_crc32c_sw(0, "123456789", 9), 0xE3069283u);
	assert_int_equal(raft_crc32c_hw(0, "123456789", 9), 0xE3069283u);
	memset(buf, 0xFF, sizeof(buf));
	assert_int_equal(raft_crc32c_sw(0, buf, sizeof(buf)), 0x62A8AB43u);
	assert_int_equal(raft_crc32c_hw(0, buf, sizeof(buf)), 0x62A8AB43u);
	assert_int_equal(raft_crc32c_hw(0, NULL, 0), 0);
}

/*
 * The instruction against the tables (and the reference): every length
 * 0..1024 at every start offset 0..15, and every length split in two at a
 * few points.  Where the CPU lacks SSE4.2 this compares the tables with
 * themselves, and says so.
 */
static void
test_hw_matches_sw(void **state)
{
	static uint8_t buf[1024 + 16];

	if (!raft_crc32c_hw_available())
		fprintf(stderr, "test_crc32c: no SSE4.2 on this CPU: the hardware path is the tables\n");
	fill(buf, sizeof(buf), 2024);
	for (size_t off = 0; off < 16; off++)
		for (size_t len = 0; len <= 1024; len++)
		{
			uint32_t	sw = raft_crc32c_sw(0, buf + off, len);

			assert_int_equal(raft_crc32c_hw(0, buf + off, len), sw);
			if (len <= 64)
				assert_int_equal(crc32c_bitwise(0, buf + off, len), sw);
			if (len % 61 == 0)
				for (size_t cut = 0; cut <= len; cut += 3)
				{
					uint32_t	crc = raft_crc32c_hw(0, buf + off, cut);

					assert_int_equal(raft_crc32c_hw(crc, buf + off + cut, len - cut), sw);
					crc = raft_crc32c_sw(0, buf + off, cut);
					assert_int_equal(raft_crc32c_hw(crc, buf + off + cut, len - cut), sw);
				}
		}
}

/* raft_crc32c uses the instruction where there is one. */
static void
test_dispatch(void **state)
{
	uint8_t		buf[100];

	fill(buf, sizeof(buf), 5);
	assert_int_equal(raft_crc32c(0, buf, sizeof(buf)), raft_crc32c_hw(0, buf, sizeof(buf)));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_check_string),
		cmocka_unit_test(test_rfc3720_vectors),
		cmocka_unit_test(test_rfc3720_read_pdu),
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_matches_bitwise_reference),
		cmocka_unit_test(test_incremental_equals_one_shot),
		cmocka_unit_test(test_detects_single_bit_flips),
		cmocka_unit_test(test_both_paths_check_values),
		cmocka_unit_test(test_hw_matches_sw),
		cmocka_unit_test(test_dispatch),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
