#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "iov_util.h"

/* "0123456789" split as 3 + 0 + 4 + 3 bytes (an empty segment included). */
static char seg_a[3], seg_b[1], seg_c[4], seg_d[3];
static struct iovec iov[4];

static int setup(void **state)
{
	(void)state;
	memcpy(seg_a, "012", 3);
	memcpy(seg_c, "3456", 4);
	memcpy(seg_d, "789", 3);
	iov[0] = (struct iovec){seg_a, 3};
	iov[1] = (struct iovec){seg_b, 0};
	iov[2] = (struct iovec){seg_c, 4};
	iov[3] = (struct iovec){seg_d, 3};
	return 0;
}

static void test_to_buf_across_segments(void **state)
{
	char out[16] = {0};

	(void)state;
	assert_int_equal(iov_to_buf(iov, 4, 2, out, 6), 6);
	assert_memory_equal(out, "234567", 6);
	assert_int_equal(iov_to_buf(iov, 4, 8, out, 10), 2);
	assert_memory_equal(out, "89", 2);
	assert_int_equal(iov_to_buf(iov, 4, 10, out, 1), 0);
	assert_int_equal(iov_total(iov, 4), 10);
}

static void test_buf_to_iov_across_segments(void **state)
{
	char out[11] = {0};

	(void)state;
	assert_int_equal(buf_to_iov(iov, 4, 1, "abcdefghijk", 11), 9);
	iov_to_buf(iov, 4, 0, out, 10);
	assert_memory_equal(out, "0abcdefghi", 10);
}

static void test_slice(void **state)
{
	struct iovec dst[4];
	char out[8];

	(void)state;
	assert_int_equal(iov_slice(iov, 4, 3, 5, dst, 4), 2);
	assert_ptr_equal(dst[0].iov_base, seg_c);
	assert_int_equal(dst[0].iov_len, 4);
	assert_int_equal(dst[1].iov_len, 1);
	iov_to_buf(dst, 2, 0, out, 5);
	assert_memory_equal(out, "34567", 5);
	/* offset in the middle of a segment, to the end */
	assert_int_equal(iov_slice(iov, 4, 1, SIZE_MAX, dst, 4), 3);
	assert_int_equal(iov_total(dst, 3), 9);
	/* destination too small */
	assert_int_equal(iov_slice(iov, 4, 0, 10, dst, 2), 3);
	/* nothing left */
	assert_int_equal(iov_slice(iov, 4, 10, 5, dst, 4), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_to_buf_across_segments, setup),
		cmocka_unit_test_setup(test_buf_to_iov_across_segments, setup),
		cmocka_unit_test_setup(test_slice, setup),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
