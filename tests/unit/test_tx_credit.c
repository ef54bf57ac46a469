/* The credit offered to the guest for guest->host data: full windows while
 * the device's pool has room, less past it (but never below the floor),
 * edges that never move back, charges that follow what is promised or
 * buffered, windows that start small and grow as they are used, and
 * CREDIT_UPDATEs only when they would give the guest more.  Most tests use
 * a window the size of the initial one, so that growth does not enter. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tx_credit.h"

#define WINDOW TX_CREDIT_INITIAL

static struct device_stats stats;

static void init(struct conn *c, uint32_t port)
{
	const struct conn_key k = {port, 1234};

	conn_init(c, NULL, &k, -1, VIRTIO_VSOCK_TYPE_STREAM);
}

static void test_full_window_while_the_pool_has_room(void **state)
{
	struct tx_pool p;
	struct conn c;

	(void)state;
	tx_pool_init(&p, 4 * WINDOW, WINDOW, &stats);
	init(&c, 1);
	assert_int_equal(tx_credit_offer(&p, &c), WINDOW);
	assert_int_equal(c.credit_edge, WINDOW);
	assert_int_equal(tx_credit_room(&c), WINDOW);
	assert_int_equal(p.charged, WINDOW);
	/* offering again changes nothing */
	assert_int_equal(tx_credit_offer(&p, &c), WINDOW);
	assert_int_equal(p.charged, WINDOW);
	tx_credit_release(&p, &c);
	assert_int_equal(p.charged, 0);
}

static void test_less_credit_past_the_budget_never_below_the_floor(void **state)
{
	struct tx_pool p;
	struct conn a, b, c;

	(void)state;
	tx_pool_init(&p, WINDOW + WINDOW / 2, WINDOW, &stats);
	init(&a, 1);
	init(&b, 2);
	init(&c, 3);
	stats = (struct device_stats){0};
	assert_int_equal(tx_credit_offer(&p, &a), WINDOW);
	assert_int_equal(stats_counter(&stats, STAT_BUDGET_TX_BUFFER_TOTAL), 0);
	assert_int_equal(tx_credit_offer(&p, &b), WINDOW / 2);
	assert_int_equal(tx_credit_offer(&p, &c), TX_CREDIT_FLOOR);
	/* two offers cut by the budget, for the API's counter */
	assert_int_equal(stats_counter(&stats, STAT_BUDGET_TX_BUFFER_TOTAL), 2);
	assert_int_equal(p.charged, 2 * WINDOW - WINDOW / 2 + TX_CREDIT_FLOOR);
	/* a's window goes back to the pool; b may then grow */
	tx_credit_release(&p, &a);
	assert_int_equal(tx_credit_offer(&p, &b), WINDOW);
}

/* The guest may send up to the edge of the most generous header: an edge
 * never moves back, even when the pool shrinks the window offered. */
static void test_edges_never_retract(void **state)
{
	struct tx_pool p;
	struct conn a, b;

	(void)state;
	tx_pool_init(&p, WINDOW, WINDOW, &stats);
	init(&a, 1);
	init(&b, 2);
	assert_int_equal(tx_credit_offer(&p, &a), WINDOW);
	assert_int_equal(tx_credit_offer(&p, &b), TX_CREDIT_FLOOR);
	/* a forwards half its window: that room went back to the pool, b
	 * takes it */
	a.fwd_cnt += WINDOW / 2;
	tx_credit_account(&p, &a);
	assert_int_equal(tx_credit_offer(&p, &b), WINDOW / 2);
	/* a's next header: the window shrinks, the edge stays */
	assert_int_equal(tx_credit_offer(&p, &a), WINDOW / 2);
	assert_int_equal(a.credit_edge, WINDOW);
}

/* A connection is charged what it buffers when that is more than what it
 * is promised. */
static void test_buffered_bytes_are_charged(void **state)
{
	struct tx_pool p;
	struct conn c;

	(void)state;
	tx_pool_init(&p, 4 * WINDOW, WINDOW, &stats);
	init(&c, 1);
	tx_credit_offer(&p, &c);
	c.txbuf.size = WINDOW;
	c.txbuf.len = WINDOW;
	c.fwd_cnt = 0;
	tx_credit_account(&p, &c);
	assert_int_equal(p.charged, WINDOW);
	/* the host takes it all, but the storage is still held */
	c.txbuf.len = 0;
	c.fwd_cnt = WINDOW;
	tx_credit_account(&p, &c);
	assert_int_equal(p.charged, WINDOW);
	/* the storage is freed once drained */
	c.txbuf.size = 0;
	tx_credit_account(&p, &c);
	assert_int_equal(p.charged, 0);
}

/* With a window of four packets, an update is due once the guest's view
 * is under a quarter of it. */
static void test_credit_update_when_it_gives_more(void **state)
{
	const uint32_t big = 4 * WINDOW;
	struct tx_pool p;
	struct conn c;

	(void)state;
	tx_pool_init(&p, 4 * big, big, &stats);
	init(&c, 1);
	c.window = big; /* grown already */
	assert_int_equal(tx_credit_offer(&p, &c), big);
	/* half the window forwarded: the guest still has plenty */
	c.fwd_cnt += big / 2;
	tx_credit_account(&p, &c);
	assert_false(c.pending & CONN_PEND_CREDIT_UPDATE);
	/* nearly all of it: the guest's view is small and a header helps */
	c.fwd_cnt += big / 2 - 1000;
	tx_credit_account(&p, &c);
	assert_true(c.pending & CONN_PEND_CREDIT_UPDATE);
	conn_account_sent_header(&c);
	assert_false(c.pending & CONN_PEND_CREDIT_UPDATE);
}

static void test_no_credit_update_that_gives_nothing(void **state)
{
	struct tx_pool p;
	struct conn a, c;

	(void)state;
	tx_pool_init(&p, WINDOW, WINDOW, &stats);
	init(&a, 1);
	init(&c, 2);
	tx_credit_offer(&p, &a);
	/* c is at the floor and has forwarded nothing: nothing to give */
	tx_credit_offer(&p, &c);
	tx_credit_account(&p, &c);
	assert_false(c.pending & CONN_PEND_CREDIT_UPDATE);
	/* once it forwarded, the floor is topped up: worth a header */
	c.fwd_cnt += 1000;
	tx_credit_account(&p, &c);
	assert_true(c.pending & CONN_PEND_CREDIT_UPDATE);
}

static void test_counters_wrap(void **state)
{
	struct tx_pool p;
	struct conn c;

	(void)state;
	tx_pool_init(&p, 4 * WINDOW, WINDOW, &stats);
	init(&c, 1);
	c.fwd_cnt = 0xffff0000u;
	c.credit_edge = 0xffff0000u;
	assert_int_equal(tx_credit_offer(&p, &c), WINDOW);
	assert_int_equal(c.credit_edge, 0xffff0000u + WINDOW);
	assert_int_equal(tx_credit_room(&c), WINDOW);
	assert_int_equal(p.charged, WINDOW);
}

/* A larger window is reached by doubling from the initial one, each
 * time the guest runs low. */
static void test_windows_start_small_and_grow_with_use(void **state)
{
	const uint32_t big = 4 * TX_CREDIT_INITIAL;
	struct tx_pool p;
	struct conn c, idle;

	(void)state;
	tx_pool_init(&p, 64 * big, big, &stats);
	init(&c, 1);
	init(&idle, 2);
	assert_int_equal(tx_credit_offer(&p, &idle), TX_CREDIT_INITIAL);
	assert_int_equal(tx_credit_offer(&p, &c), TX_CREDIT_INITIAL);
	/* The guest used it all and it was forwarded: double. */
	c.fwd_cnt += TX_CREDIT_INITIAL;
	tx_credit_account(&p, &c);
	assert_true(c.pending & CONN_PEND_CREDIT_UPDATE);
	assert_int_equal(tx_credit_offer(&p, &c), 2 * TX_CREDIT_INITIAL);
	c.fwd_cnt += 2 * TX_CREDIT_INITIAL;
	tx_credit_account(&p, &c);
	assert_int_equal(tx_credit_offer(&p, &c), big);
	/* Never past tx-buffer-size. */
	c.fwd_cnt += big;
	tx_credit_account(&p, &c);
	assert_int_equal(tx_credit_offer(&p, &c), big);
	/* The idle one still holds only the initial window. */
	assert_int_equal(tx_credit_offer(&p, &idle), TX_CREDIT_INITIAL);
	assert_int_equal(p.charged, big + TX_CREDIT_INITIAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full_window_while_the_pool_has_room),
		cmocka_unit_test(test_less_credit_past_the_budget_never_below_the_floor),
		cmocka_unit_test(test_edges_never_retract),
		cmocka_unit_test(test_buffered_bytes_are_charged),
		cmocka_unit_test(test_credit_update_when_it_gives_more),
		cmocka_unit_test(test_no_credit_update_that_gives_nothing),
		cmocka_unit_test(test_counters_wrap),
		cmocka_unit_test(test_windows_start_small_and_grow_with_use),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
