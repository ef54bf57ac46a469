#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "vsock_hdr.h"

static void test_encode_is_little_endian_at_spec_offsets(void **state)
{
	const struct vsock_hdr h = {
		.src_cid = 0x0102030405060708ull, .dst_cid = 2,
		.src_port = 0xaabbccdd, .dst_port = 1234, .len = 0x10000,
		.type = VIRTIO_VSOCK_TYPE_STREAM, .op = VIRTIO_VSOCK_OP_RW,
		.flags = 3, .buf_alloc = 0x40000, .fwd_cnt = 0xfffffffe,
	};
	uint8_t wire[VSOCK_HDR_SIZE];
	const uint8_t expect[VSOCK_HDR_SIZE] = {
		0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01, /* src_cid */
		2, 0, 0, 0, 0, 0, 0, 0,                         /* dst_cid */
		0xdd, 0xcc, 0xbb, 0xaa,                         /* src_port */
		0xd2, 0x04, 0, 0,                               /* dst_port */
		0, 0, 1, 0,                                     /* len */
		1, 0, 5, 0,                                     /* type, op */
		3, 0, 0, 0,                                     /* flags */
		0, 0, 4, 0,                                     /* buf_alloc */
		0xfe, 0xff, 0xff, 0xff,                         /* fwd_cnt */
	};

	(void)state;
	vsock_hdr_encode(&h, wire);
	assert_memory_equal(wire, expect, VSOCK_HDR_SIZE);
}

static void test_decode_roundtrip(void **state)
{
	uint8_t wire[VSOCK_HDR_SIZE];
	struct vsock_hdr h;

	(void)state;
	for (unsigned i = 0; i < VSOCK_HDR_SIZE; i++)
		wire[i] = (uint8_t)(i * 7 + 1);
	vsock_hdr_decode(wire, &h);
	assert_int_equal(h.src_cid, 0x322b241d160f0801ull);
	assert_int_equal(h.op, (uint16_t)(wire[30] | wire[31] << 8));
	assert_int_equal(h.fwd_cnt, (uint32_t)(wire[40] | wire[41] << 8 |
					       wire[42] << 16 | (uint32_t)wire[43] << 24));
	{
		uint8_t again[VSOCK_HDR_SIZE];

		vsock_hdr_encode(&h, again);
		assert_memory_equal(again, wire, VSOCK_HDR_SIZE);
	}
}

static void test_op_names(void **state)
{
	(void)state;
	assert_string_equal(vsock_op_name(VIRTIO_VSOCK_OP_CREDIT_REQUEST), "CREDIT_REQUEST");
	assert_string_equal(vsock_op_name(VIRTIO_VSOCK_OP_RST), "RST");
	assert_string_equal(vsock_op_name(99), "op?");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_encode_is_little_endian_at_spec_offsets),
		cmocka_unit_test(test_decode_roundtrip),
		cmocka_unit_test(test_op_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
