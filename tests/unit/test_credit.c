#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "credit.h"

static void test_peer_free_basic(void **state)
{
	(void)state;
	assert_int_equal(credit_peer_free(0, 0, 0), 0);
	assert_int_equal(credit_peer_free(65536, 0, 0), 65536);
	assert_int_equal(credit_peer_free(65536, 0, 32768), 32768);
	assert_int_equal(credit_peer_free(65536, 0, 65536), 0);
	assert_int_equal(credit_peer_free(65536, 1024, 65536), 1024);
}

static void test_peer_free_wraps(void **state)
{
	(void)state;
	/* counters straddle 2^32 */
	assert_int_equal(credit_peer_free(262144, 0xfffff000u, 0x00001000u), 262144 - 0x2000);
	assert_int_equal(credit_peer_free(4096, 0xffffffffu, 0xffffffffu), 4096);
	assert_int_equal(credit_peer_free(4096, 0xfffffff0u, 0x00000ff0u), 0);
}

static void test_peer_free_saturates(void **state)
{
	(void)state;
	/* guest shrank buf_alloc below what is in flight */
	assert_int_equal(credit_peer_free(1000, 0, 5000), 0);
	assert_int_equal(credit_peer_free(1000, 0, 1001), 0); /* by one byte */
	/* guest claims to have consumed more than we sent */
	assert_int_equal(credit_peer_free(65536, 100, 50), 0);
}

static void test_update_threshold(void **state)
{
	(void)state;
	/* a quarter of the window, but at least one full-size packet */
	assert_int_equal(credit_update_threshold(1u << 20), 256 * 1024);
	assert_int_equal(credit_update_threshold(262144), 65536);
	assert_int_equal(credit_update_threshold(65536), 65536);
	/* a window smaller than a packet: all of it */
	assert_int_equal(credit_update_threshold(4096), 4096);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_peer_free_basic),
		cmocka_unit_test(test_peer_free_wraps),
		cmocka_unit_test(test_peer_free_saturates),
		cmocka_unit_test(test_update_threshold),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
