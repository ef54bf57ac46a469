/* txmsg: the lengths of a seqpacket connection's buffered messages come
 * out oldest first, across growth of a wrapped ring;
 * the storage goes when the last one does, the open message's count
 * stays. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "txmsg.h"

static void test_fifo_order_across_growth(void **state)
{
	struct txmsg q;
	uint32_t next = 1;

	(void)state;
	txmsg_init(&q);
	for (uint32_t i = 1; i <= 10; i++)
		assert_int_equal(txmsg_push(&q, i), 0);
	for (unsigned i = 0; i < 5; i++, next++) {
		assert_int_equal(txmsg_first(&q), next);
		txmsg_pop(&q);
	}
	/* The ring's head is mid-way: the next pushes wrap, then grow it. */
	for (uint32_t i = 11; i <= 40; i++)
		assert_int_equal(txmsg_push(&q, i), 0);
	assert_int_equal(q.count, 35);
	assert_int_equal(txmsg_bytes(&q), 64 * sizeof(uint32_t));
	q.open = 77;
	for (; next <= 40; next++) {
		assert_int_equal(txmsg_first(&q), next);
		txmsg_pop(&q);
	}
	assert_int_equal(q.count, 0);
	assert_null(q.len);
	assert_int_equal(txmsg_bytes(&q), 0);
	assert_int_equal(q.open, 77);
	txmsg_free(&q);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fifo_order_across_growth),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
