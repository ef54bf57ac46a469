/* The deadline FIFO: each entry's deadline is its timeout after it joined,
 * entries expire oldest first and only once due, removed ones never, and
 * the timer keeps working after the FIFO ran empty. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <sys/epoll.h>

#include "ev.h"
#include "fifo_timer.h"
#include "mono_time.h"

#define TIMEOUT_MS 30

struct item {
	struct deadline d;
	unsigned expired; /* order of expiry, from 1 */
};

static unsigned expiries;

static void expire(struct deadline *d)
{
	container_of(d, struct item, d)->expired = ++expiries;
}

/* Runs the loop until the timer fires once (10 s at most); returns the
 * number of entries that expired on that fire. */
static unsigned one_fire(struct ev_loop *loop)
{
	unsigned before = expiries;
	struct epoll_event ev[4];
	int n = epoll_wait(loop->epfd, ev, 4, 10000);

	assert_int_equal(n, 1);
	ev_dispatch(ev, n);
	ev_loop_reap(loop);
	return expiries - before;
}

static void open_fifo(struct ev_loop *loop, struct deadline_fifo *f)
{
	expiries = 0;
	assert_int_equal(ev_loop_init(loop), 0);
	assert_int_equal(deadline_fifo_open(f, loop, TIMEOUT_MS, expire, "test"), 0);
}

static void close_fifo(struct ev_loop *loop, struct deadline_fifo *f)
{
	deadline_fifo_close(f);
	ev_loop_fini(loop);
}

/* The deadline is the timeout after the entry joined, and the first fire
 * of the timer, once that deadline has passed, expires it. */
static void test_expires_on_its_deadline(void **state)
{
	struct ev_loop loop;
	struct deadline_fifo f;
	struct item a = {0};
	int64_t before, after;

	(void)state;
	open_fifo(&loop, &f);
	before = mono_ms();
	deadline_fifo_add(&f, &a.d);
	after = mono_ms();
	assert_true(a.d.at_ms >= before + TIMEOUT_MS);
	assert_true(a.d.at_ms <= after + TIMEOUT_MS);
	assert_int_equal(f.count, 1);
	assert_int_equal(one_fire(&loop), 1);
	assert_true(mono_ms() >= a.d.at_ms);
	assert_int_equal(a.expired, 1);
	assert_int_equal(f.count, 0);
	assert_false(a.d.queued);
	close_fifo(&loop, &f);
}

/* Entries expire oldest first, each on the fire at its own deadline: the
 * timer is re-armed for the next one. */
static void test_oldest_first_and_rearmed(void **state)
{
	struct ev_loop loop;
	struct deadline_fifo f;
	struct item a = {0}, b = {0};

	(void)state;
	open_fifo(&loop, &f);
	deadline_fifo_add(&f, &a.d);
	while (mono_ms() < a.d.at_ms + 5)
		; /* b's deadline is later than a's */
	deadline_fifo_add(&f, &b.d);
	assert_int_equal(one_fire(&loop), 1);
	assert_int_equal(a.expired, 1);
	assert_int_equal(b.expired, 0);
	assert_int_equal(one_fire(&loop), 1);
	assert_int_equal(b.expired, 2);
	close_fifo(&loop, &f);
}

/* A removed entry never expires (removing it twice is harmless): the
 * timer fires once with nothing due.  An entry added after that, the FIFO
 * having run empty, still expires. */
static void test_removed_and_after_empty(void **state)
{
	struct ev_loop loop;
	struct deadline_fifo f;
	struct item a = {0}, b = {0};

	(void)state;
	open_fifo(&loop, &f);
	deadline_fifo_add(&f, &a.d);
	deadline_fifo_remove(&f, &a.d);
	deadline_fifo_remove(&f, &a.d);
	assert_int_equal(f.count, 0);
	assert_int_equal(one_fire(&loop), 0);
	assert_int_equal(a.expired, 0);
	deadline_fifo_add(&f, &b.d);
	assert_int_equal(one_fire(&loop), 1);
	assert_int_equal(b.expired, 1);
	close_fifo(&loop, &f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_expires_on_its_deadline),
		cmocka_unit_test(test_oldest_first_and_rearmed),
		cmocka_unit_test(test_removed_and_after_empty),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
