/* The overflow buffer: allocated on first use, grown by doubling within
 * the caller's limit, kept in order across wrap-around and growth, freed
 * once drained. */
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
	txbuf_init(&tb, false);
	assert_null(tb.data);
	assert_true(txbuf_empty(&tb));
	assert_int_equal(txbuf_flush(&tb, sv[0]), 0);
	assert_int_equal(txbuf_push(&tb, &v, 1, 1u << 20), 0);
	assert_non_null(tb.data);
	assert_int_equal(tb.size, TXBUF_MIN_SIZE);
	assert_int_equal(txbuf_flush(&tb, sv[0]), 5);
	assert_null(tb.data);
	assert_int_equal(tb.size, 0);
	assert_int_equal(read(sv[1], out, sizeof(out)), 5);
	assert_memory_equal(out, "hello", 5);
	close(sv[0]);
	close(sv[1]);
}

static void test_push_all_or_nothing_within_the_limit(void **state)
{
	struct txbuf tb;
	struct iovec v[2] = {one("0123456789", 10), one("abcdef", 6)};
	struct iovec extra = one("x", 1);

	(void)state;
	txbuf_init(&tb, false);
	assert_int_equal(txbuf_push(&tb, v, 2, 16), 0);
	assert_int_equal(tb.size, 16); /* never more than the limit */
	assert_int_equal(txbuf_push(&tb, &extra, 1, 16), -ENOBUFS);
	assert_int_equal(tb.len, 16);
	assert_int_equal(txbuf_push(&tb, &extra, 1, 0xffffffffu), 0);
	assert_int_equal(tb.len, 17);
	txbuf_free(&tb);
}

/* Storage doubles as data comes, and never outgrows the limit. */
static void test_growth_doubles_up_to_the_limit(void **state)
{
	static char chunk[3000];
	struct txbuf tb;
	struct iovec v = one(chunk, sizeof(chunk));
	const uint32_t limit = 20000;
	uint32_t sizes[8], n = 0;

	(void)state;
	txbuf_init(&tb, false);
	while (txbuf_push(&tb, &v, 1, limit) == 0)
		if (n == 0 || sizes[n - 1] != tb.size)
			sizes[n++] = tb.size;
	assert_int_equal(tb.len, 6 * sizeof(chunk));
	assert_int_equal(n, 4);
	assert_int_equal(sizes[0], TXBUF_MIN_SIZE);
	assert_int_equal(sizes[1], 2 * TXBUF_MIN_SIZE);
	assert_int_equal(sizes[2], 4 * TXBUF_MIN_SIZE);
	assert_int_equal(sizes[3], limit);
	txbuf_free(&tb);
}

/* Data that wraps around the end of the ring comes out in order, also
 * after the storage grew under it. */
static void test_wrap_and_growth_keep_order(void **state)
{
	struct txbuf tb;
	int sv[2];
	char out[64];
	struct iovec a = one("ABCDEFGHIJ", 10);
	struct iovec b = one("klmnopqr", 8);
	struct iovec c = one("0123456789", 10);

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	txbuf_init(&tb, false);
	assert_int_equal(txbuf_push(&tb, &a, 1, 16), 0);
	assert_int_equal(tb.size, 16);
	/* consume 6 bytes so head sits mid-ring, then wrap the next push */
	tb.head = 6;
	tb.len = 4;
	assert_int_equal(txbuf_push(&tb, &b, 1, 16), 0);
	assert_int_equal(tb.len, 12);
	assert_int_equal(tb.data[0], 'q');
	/* a wrapped ring that must grow is unrolled oldest first */
	assert_int_equal(txbuf_push(&tb, &c, 1, 64), 0);
	assert_int_equal(tb.size, 32);
	assert_int_equal(txbuf_flush(&tb, sv[0]), 22);
	assert_int_equal(read(sv[1], out, sizeof(out)), 22);
	assert_memory_equal(out, "GHIJklmnopqr0123456789", 22);
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
	txbuf_init(&tb, false);
	assert_int_equal(txbuf_push(&tb, &v, 1, sizeof(big)), 0);
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

/* A buffer of messages: each leaves as one message of a seqpacket socket,
 * also when it wraps around the end of the ring or was stored before the
 * ring grew; their ends cost a bit per byte. */
static void test_messages_leave_whole(void **state)
{
	struct txbuf tb;
	int sv[2];
	char out[64];
	struct iovec m1 = one("ABCDEFGHIJ", 10), part = one("KL", 2);
	struct iovec rest = one("mnopqrst", 8), m3 = one("uvwxyz0123456789", 16);

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
	txbuf_init(&tb, true);
	assert_false(txbuf_end_message(&tb));
	assert_int_equal(txbuf_push(&tb, &m1, 1, 16), 0);
	assert_true(txbuf_end_message(&tb));
	assert_int_equal(txbuf_push(&tb, &part, 1, 16), 0);
	assert_int_equal(tb.msgs, 1);
	assert_int_equal(tb.open, 2);
	assert_int_equal(txbuf_send_msg(&tb, sv[0]), 10);
	/* The rest of the second message wraps; the third makes the ring grow. */
	assert_int_equal(txbuf_push(&tb, &rest, 1, 16), 0);
	assert_true(txbuf_end_message(&tb));
	assert_int_equal(tb.head + tb.len - tb.size, 4);
	assert_int_equal(txbuf_push(&tb, &m3, 1, 64), 0);
	assert_true(txbuf_end_message(&tb));
	assert_int_equal(tb.size, 32);
	assert_int_equal(txbuf_bytes(&tb), 32 + 4);
	assert_int_equal(tb.msgs, 2);
	assert_int_equal(txbuf_msg_len(&tb), 10);
	assert_int_equal(txbuf_send_msg(&tb, sv[0]), 10);
	assert_int_equal(txbuf_send_msg(&tb, sv[0]), 16);
	assert_true(txbuf_empty(&tb));
	assert_int_equal(tb.msgs, 0);
	assert_null(tb.data);
	assert_null(tb.ends);
	assert_int_equal(recv(sv[1], out, sizeof(out), MSG_TRUNC), 10);
	assert_memory_equal(out, "ABCDEFGHIJ", 10);
	assert_int_equal(recv(sv[1], out, sizeof(out), MSG_TRUNC), 10);
	assert_memory_equal(out, "KLmnopqrst", 10);
	assert_int_equal(recv(sv[1], out, sizeof(out), MSG_TRUNC), 16);
	assert_memory_equal(out, "uvwxyz0123456789", 16);
	txbuf_free(&tb);
	assert_true(tb.messages);
	/* A buffer of bytes has no messages, whatever it holds. */
	txbuf_init(&tb, false);
	assert_int_equal(txbuf_push(&tb, &m1, 1, 16), 0);
	assert_int_equal(tb.open, 0);
	assert_false(txbuf_end_message(&tb));
	txbuf_free(&tb);
	close(sv[0]);
	close(sv[1]);
}

/* A message that wraps leaves whole, and an end mark left from a message
 * already sent does not cut a later one that covers its byte again. */
static void test_wrapped_message_over_an_old_end(void **state)
{
	struct txbuf tb;
	int sv[2];
	char out[32];
	struct iovec ab = one("AB", 2), cde = one("CDE", 3), f = one("F", 1);
	struct iovec rest = one("ghijklmnopqrs", 13);

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
	txbuf_init(&tb, true);
	assert_int_equal(txbuf_push(&tb, &ab, 1, 16), 0);
	assert_true(txbuf_end_message(&tb));
	assert_int_equal(txbuf_push(&tb, &cde, 1, 16), 0);
	assert_true(txbuf_end_message(&tb));
	assert_int_equal(txbuf_push(&tb, &f, 1, 16), 0);
	assert_int_equal(txbuf_send_msg(&tb, sv[0]), 2);
	assert_int_equal(txbuf_send_msg(&tb, sv[0]), 3);
	/* "F" at 5; the rest runs to the end of the 16-byte ring and on over
	 * bytes 0..2, where "AB" ended at 1. */
	assert_int_equal(txbuf_push(&tb, &rest, 1, 16), 0);
	assert_true(txbuf_end_message(&tb));
	assert_int_equal(tb.size, 16);
	assert_int_equal(txbuf_msg_len(&tb), 14);
	assert_int_equal(txbuf_send_msg(&tb, sv[0]), 14);
	assert_int_equal(recv(sv[1], out, sizeof(out), MSG_TRUNC), 2);
	assert_int_equal(recv(sv[1], out, sizeof(out), MSG_TRUNC), 3);
	assert_int_equal(recv(sv[1], out, sizeof(out), MSG_TRUNC), 14);
	assert_memory_equal(out, "Fghijklmnopqrs", 14);
	txbuf_free(&tb);
	close(sv[0]);
	close(sv[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lazy_allocation_and_free_on_drain),
		cmocka_unit_test(test_push_all_or_nothing_within_the_limit),
		cmocka_unit_test(test_growth_doubles_up_to_the_limit),
		cmocka_unit_test(test_wrap_and_growth_keep_order),
		cmocka_unit_test(test_partial_flush_and_errors),
		cmocka_unit_test(test_messages_leave_whole),
		cmocka_unit_test(test_wrapped_message_over_an_old_end),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
