#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "cid_list.h"

#define CAP 4u

/* Adding keeps the order and never a duplicate. */
static void test_add_in_order_without_duplicates(void **state)
{
	uint32_t cids[CAP] = {0};
	unsigned n = 0;

	(void)state;
	assert_false(cid_list_has(cids, n, 3));
	cid_list_add(cids, &n, CAP, 3);
	cid_list_add(cids, &n, CAP, 5);
	cid_list_add(cids, &n, CAP, 3);
	assert_int_equal(n, 2);
	assert_int_equal(cids[0], 3);
	assert_int_equal(cids[1], 5);
	assert_true(cid_list_has(cids, n, 5));
	assert_false(cid_list_has(cids, n, 4));
	/* A CID wider than 32 bits is never in the list, whatever its low half. */
	assert_false(cid_list_has(cids, n, (1ull << 32) | 3));
}

/* A full list drops its oldest entry for the new one, and only that. */
static void test_full_list_drops_the_oldest(void **state)
{
	uint32_t cids[CAP + 1] = {[CAP] = 0xdeadbeef}; /* the slot past the end stays */
	unsigned n = 0;

	(void)state;
	for (uint32_t cid = 10; cid < 10 + CAP; cid++)
		cid_list_add(cids, &n, CAP, cid);
	cid_list_add(cids, &n, CAP, 99);
	assert_int_equal(n, CAP);
	assert_false(cid_list_has(cids, n, 10));
	for (unsigned i = 0; i + 1 < CAP; i++)
		assert_int_equal(cids[i], 11 + i);
	assert_int_equal(cids[CAP - 1], 99);
	assert_int_equal(cids[CAP], 0xdeadbeef);
	/* Re-adding one it has changes nothing, even when full. */
	cid_list_add(cids, &n, CAP, 12);
	assert_int_equal(n, CAP);
	assert_int_equal(cids[0], 11);
}

/* Removing keeps the others in order; removing one it lacks does nothing. */
static void test_remove_keeps_the_order(void **state)
{
	uint32_t cids[CAP] = {0};
	unsigned n = 0;

	(void)state;
	for (uint32_t cid = 1; cid <= 4; cid++)
		cid_list_add(cids, &n, CAP, cid);
	cid_list_remove(cids, &n, 2);
	assert_int_equal(n, 3);
	assert_int_equal(cids[0], 1);
	assert_int_equal(cids[1], 3);
	assert_int_equal(cids[2], 4);
	cid_list_remove(cids, &n, 7);
	assert_int_equal(n, 3);
	cid_list_remove(cids, &n, 4);
	cid_list_remove(cids, &n, 1);
	assert_int_equal(n, 1);
	assert_int_equal(cids[0], 3);
	/* The oldest is dropped next: 3, not one added after it. */
	for (uint32_t cid = 20; cid < 20 + CAP; cid++)
		cid_list_add(cids, &n, CAP, cid);
	assert_false(cid_list_has(cids, n, 3));
	assert_true(cid_list_has(cids, n, 20));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_add_in_order_without_duplicates),
		cmocka_unit_test(test_full_list_drops_the_oldest),
		cmocka_unit_test(test_remove_keeps_the_order),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
