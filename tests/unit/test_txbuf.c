#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include "txbuf.h"

static struct iovec one(const void *p, size_t n)
{
	return (struct iovec){(void *)p, n};
}

static void test_lazy_allocation_and_free_on_drain(void **state)
{
	struct txbuf tb;
	int sv[2];
	char out[16];
	struct iovec v = one("hello", 5);

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	txbuf_init(&tb, 16);
	assert_null(tb.data);
	assert_true(txbuf_empty(&tb));
	assert_int_equal(txbuf_flush(&tb, sv[0]), 0);
	assert_int_equal(txbuf_push(&tb, &v, 1), 0);
	assert_non_null(tb.data);
	assert_int_equal(txbuf_space(&tb), 11);
	assert_int_equal(txbuf_flush(&tb, sv[0]), 5);
	assert_null(tb.data);
	assert_int_equal(read(sv[1], out, sizeof(out)), 5);
	assert_memory_equal(out, "hello", 5);
	close(sv[0]);
	close(sv[1]);
}

static void test_push_all_or_nothing(void **state)
{
	struct txbuf tb;
	struct iovec v[2] = {one("0123456789", 10), one("abcdef", 6)};
	struct iovec extra = one("x", 1);

	(void)state;
	txbuf_init(&tb, 16);
	assert_int_equal(txbuf_push(&tb, v, 2), 0);
	assert_int_equal(txbuf_space(&tb), 0);
	assert_int_equal(txbuf_push(&tb, &extra, 1), -ENOBUFS);
	assert_int_equal(tb.len, 16);
	txbuf_free(&tb);
}

/* Data that wraps around the end of the ring comes out in order. */
static void test_wrap_keeps_order(void **state)
{
	struct txbuf tb;
	int sv[2];
	char out[32];
	struct iovec a = one("ABCDEFGHIJ", 10);
	struct iovec b = one("klmnopqr", 8);

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	txbuf_init(&tb, 16);
	assert_int_equal(txbuf_push(&tb, &a, 1), 0);
	/* consume 6 bytes so head sits mid-ring, then wrap the next push */
	tb.head = 6;
	tb.len = 4;
	assert_int_equal(txbuf_push(&tb, &b, 1), 0);
	assert_int_equal(tb.len, 12);
	assert_int_equal(tb.data[0], 'q');
	assert_int_equal(txbuf_flush(&tb, sv[0]), 12);
	assert_int_equal(read(sv[1], out, sizeof(out)), 12);
	assert_memory_equal(out, "GHIJklmnopqr", 12);
	close(sv[0]);
	close(sv[1]);
}

/* A socket that takes only part keeps the rest queued; errors pass up. */
static void test_partial_flush_and_errors(void **state)
{
	static char big[256 * 1024];
	struct txbuf tb;
	int sv[2];
	ssize_t first, n;
	struct iovec v = one(big, sizeof(big));

	(void)state;
	memset(big, 0x5a, sizeof(big));
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(fcntl(sv[0], F_SETFL, O_NONBLOCK), 0);
	txbuf_init(&tb, sizeof(big));
	assert_int_equal(txbuf_push(&tb, &v, 1), 0);
	first = txbuf_flush(&tb, sv[0]);
	assert_true(first > 0 && first < (ssize_t)sizeof(big));
	assert_int_equal(tb.len, sizeof(big) - (size_t)first);
	assert_int_equal(txbuf_flush(&tb, sv[0]), -EAGAIN);
	close(sv[1]);
	n = txbuf_flush(&tb, sv[0]);
	assert_true(n == -EPIPE || n == -ECONNRESET);
	assert_non_null(tb.data);
	txbuf_free(&tb);
	assert_null(tb.data);
	close(sv[0]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lazy_allocation_and_free_on_drain),
		cmocka_unit_test(test_push_all_or_nothing),
		cmocka_unit_test(test_wrap_keeps_order),
		cmocka_unit_test(test_partial_flush_and_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
