#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "ctrl_queue.h"

static void test_fifo_bounded(void **state)
{
	struct ctrl_queue q;
	struct vsock_hdr h = {0};

	(void)state;
	ctrl_queue_init(&q);
	assert_true(ctrl_queue_empty(&q));
	/* wrap the ring once before filling it */
	for (unsigned i = 0; i < CTRL_QUEUE_SIZE / 2; i++) {
		h.src_port = i;
		assert_true(ctrl_queue_push(&q, &h));
		ctrl_queue_pop(&q);
	}
	for (unsigned i = 0; i < CTRL_QUEUE_SIZE; i++) {
		h.src_port = 100 + i;
		assert_true(ctrl_queue_push(&q, &h));
	}
	assert_true(ctrl_queue_full(&q));
	h.src_port = 9999;
	assert_false(ctrl_queue_push(&q, &h));
	for (unsigned i = 0; i < CTRL_QUEUE_SIZE; i++) {
		assert_int_equal(ctrl_queue_peek(&q)->src_port, 100 + i);
		ctrl_queue_pop(&q);
	}
	assert_true(ctrl_queue_empty(&q));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fifo_bounded),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
