#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "conn.h"

static void init(struct conn *c)
{
	const struct conn_key k = {1u << 30, 1234};

	conn_init(c, NULL, &k, -1, VIRTIO_VSOCK_TYPE_STREAM);
}

static void test_pending_priority(void **state)
{
	struct conn c;

	(void)state;
	init(&c);
	assert_int_equal(conn_next_pending(&c), 0);
	c.pending = CONN_PEND_CREDIT_UPDATE | CONN_PEND_RW | CONN_PEND_RESPONSE;
	assert_int_equal(conn_next_pending(&c), CONN_PEND_RESPONSE);
	c.pending |= CONN_PEND_RST;
	assert_int_equal(conn_next_pending(&c), CONN_PEND_RST);
	c.pending = CONN_PEND_RW | CONN_PEND_REQUEST;
	assert_int_equal(conn_next_pending(&c), CONN_PEND_REQUEST);
	c.pending = CONN_PEND_RW | CONN_PEND_CREDIT_UPDATE;
	assert_int_equal(conn_next_pending(&c), CONN_PEND_RW);
}

static void test_credit_tracking(void **state)
{
	struct conn c;

	(void)state;
	init(&c);
	assert_int_equal(conn_peer_credit(&c), 0);
	conn_update_peer_credit(&c, 262144, 0);
	assert_int_equal(conn_peer_credit(&c), 262144);
	c.rx_cnt = 262144 - 10;
	assert_int_equal(conn_peer_credit(&c), 10);
	conn_update_peer_credit(&c, 4096, 0); /* shrink: no credit, not a huge one */
	assert_int_equal(conn_peer_credit(&c), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pending_priority),
		cmocka_unit_test(test_credit_tracking),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
