/* Sibling router: registry, groups, mailbox bounds and wrap-around,
 * back-pressure wakeups, and two threads streaming both ways at once. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "router.h"
#include "router_mailbox.h"

static const char *const default_group[] = {"default"};

struct node {
	struct router_port *port;
	int efd;
	uint32_t cid;
};

static void node_add(struct router *r, struct node *n, uint32_t cid,
		     const char *const *groups, size_t n_groups)
{
	n->cid = cid;
	n->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	assert_true(n->efd >= 0);
	n->port = router_register(r, cid, groups, n_groups, n->efd);
	assert_non_null(n->port);
}

static void node_remove(struct node *n)
{
	router_unregister(n->port);
	close(n->efd);
}

/* Reads and clears the node's eventfd: how many wakeups were pending. */
static uint64_t wakeups(const struct node *n)
{
	uint64_t count = 0;

	if (read(n->efd, &count, sizeof(count)) < 0)
		assert_int_equal(errno, EAGAIN);
	return count;
}

static struct vsock_hdr make_hdr(uint32_t src, uint32_t dst, uint32_t len, uint32_t tag)
{
	return (struct vsock_hdr){
		.src_cid = src, .dst_cid = dst, .src_port = tag, .dst_port = 1234,
		.len = len, .type = 1, .op = 5, .flags = 0x3, .buf_alloc = 65536,
		.fwd_cnt = tag * 7,
	};
}

/* Payload byte i of the packet tagged tag: recognisable and order-sensitive. */
static uint8_t pattern(uint32_t tag, size_t i) { return (uint8_t)(tag * 31 + i * 7 + (i >> 8)); }

static enum router_result send_tagged(struct node *from, uint32_t dst, uint32_t len,
				      uint32_t tag)
{
	static uint8_t buf[VSOCK_MAX_PKT_PAYLOAD];
	struct vsock_hdr hdr = make_hdr(from->cid, dst, len, tag);
	/* Split the payload in three pieces, as guest memory regions might. */
	struct iovec iov[3] = {
		{buf, len / 3}, {buf + len / 3, len / 3}, {buf + 2 * (len / 3), len - 2 * (len / 3)},
	};

	for (size_t i = 0; i < len; i++)
		buf[i] = pattern(tag, i);
	return router_send(from->port, &hdr, iov, 3);
}

/* Takes the oldest packet out in pieces of at most `piece` bytes and checks
 * header and every payload byte. */
static void expect_packet(struct node *n, uint32_t src, uint32_t len, uint32_t tag,
			  size_t piece)
{
	struct router_msg msg;
	size_t done = 0;

	do {
		assert_true(router_peek(n->port, &msg));
		assert_int_equal(msg.hdr.src_cid, src);
		assert_int_equal(msg.hdr.dst_cid, n->cid);
		assert_int_equal(msg.hdr.src_port, tag);
		assert_int_equal(msg.hdr.fwd_cnt, tag * 7);
		assert_int_equal(msg.hdr.flags, 0x3);
		assert_int_equal(msg.hdr.len, len);
		assert_int_equal(msg.remaining, len - done);
		assert_int_equal(msg.payload[0].iov_len + msg.payload[1].iov_len, msg.remaining);
		size_t take = msg.remaining < piece ? msg.remaining : piece;
		for (size_t i = 0; i < take; i++) {
			const struct iovec *v = &msg.payload[i < msg.payload[0].iov_len ? 0 : 1];
			size_t off = i < msg.payload[0].iov_len ? i : i - msg.payload[0].iov_len;
			assert_int_equal(((uint8_t *)v->iov_base)[off], pattern(tag, done + i));
		}
		router_consume(n->port, take);
		done += take;
	} while (done < len);
}

static void test_register_rules(void **state)
{
	struct router *r = router_create(ROUTER_DEFAULT_MAILBOX_BYTES, 16);
	struct node a;

	(void)state;
	assert_non_null(r);
	node_add(r, &a, 3, default_group, 1);
	assert_null(router_register(r, 3, default_group, 1, a.efd));
	assert_int_equal(errno, EEXIST);
	assert_null(router_register(r, 4, default_group, 0, a.efd));
	assert_int_equal(errno, EINVAL);
	node_remove(&a);
	/* The CID is free again once unregistered. */
	node_add(r, &a, 3, default_group, 1);
	node_remove(&a);
	router_destroy(r);

	assert_null(router_create(1000, 16)); /* cannot hold a full-size packet */
	assert_int_equal(errno, EINVAL);
	assert_null(router_create(ROUTER_DEFAULT_MAILBOX_BYTES, 0));
}

static void test_groups_and_unknown_cids(void **state)
{
	const char *const g_ab[] = {"b", "a"}, *const g_b[] = {"b"}, *const g_c[] = {"c"};
	struct router *r = router_create(ROUTER_DEFAULT_MAILBOX_BYTES, 16);
	struct node ab, b, c;

	(void)state;
	node_add(r, &ab, 3, g_ab, 2);
	node_add(r, &b, 4, g_b, 1);
	node_add(r, &c, 5, g_c, 1);
	assert_int_equal(send_tagged(&ab, 4, 10, 1), ROUTER_DELIVERED);
	assert_int_equal(send_tagged(&b, 3, 10, 2), ROUTER_DELIVERED);
	assert_int_equal(send_tagged(&ab, 5, 10, 3), ROUTER_UNREACHABLE);
	assert_int_equal(send_tagged(&c, 4, 10, 4), ROUTER_UNREACHABLE);
	assert_int_equal(send_tagged(&c, 6, 10, 5), ROUTER_UNREACHABLE);
	assert_int_equal(send_tagged(&c, 2, 10, 6), ROUTER_UNREACHABLE);
	/* A CID that does not fit in 32 bits can match no port. */
	struct vsock_hdr wide = make_hdr(3, 4, 0, 7);
	wide.dst_cid |= 1ull << 32;
	assert_int_equal(router_send(ab.port, &wide, NULL, 0), ROUTER_UNREACHABLE);
	/* Loopback: a port shares its groups with itself. */
	assert_int_equal(send_tagged(&c, 5, 10, 8), ROUTER_DELIVERED);

	expect_packet(&b, 3, 10, 1, 100);
	expect_packet(&ab, 4, 10, 2, 100);
	expect_packet(&c, 5, 10, 8, 100);
	struct router_msg msg;
	assert_false(router_peek(ab.port, &msg));
	assert_false(router_peek(b.port, &msg));
	assert_false(router_peek(c.port, &msg));
	node_remove(&ab);
	node_remove(&b);
	node_remove(&c);
	router_destroy(r);
}

/* Whether two group lists share a name, the slow way. */
static bool lists_share(const char *const *a, const char *const *b)
{
	for (size_t i = 0; a[i]; i++)
		for (size_t j = 0; b[j]; j++)
			if (strcmp(a[i], b[j]) == 0)
				return true;
	return false;
}

/* Ports with several groups, named in different orders, overlapping in
 * one or more names or none, so that the sorted-id merge that decides
 * whether two ports share a group runs to the end of either list, steps
 * either side, and meets at the first, a middle or the last element. */
static void test_group_merge(void **state)
{
	static const char *const groups[][5] = {
		{"g1", "g2", "g3", NULL},
		{"g5", "g4", "g3", NULL},
		{"g4", "g5", NULL},
		{"g6", "g0", "g7", NULL},
		{"g7", "g2", NULL},
		{"g0", NULL},
		{"g2", "g1", "g3", "g5", NULL},
		{"g8", "g9", "g10", "g11", NULL},
	};
	enum { N = sizeof(groups) / sizeof(groups[0]) };
	struct router *r = router_create(ROUTER_DEFAULT_MAILBOX_BYTES, 16);
	struct node nodes[N];
	uint32_t tag = 0;

	(void)state;
	for (size_t i = 0; i < N; i++) {
		size_t n = 0;

		while (groups[i][n])
			n++;
		node_add(r, &nodes[i], 3 + (uint32_t)i, groups[i], n);
	}
	for (size_t i = 0; i < N; i++) {
		for (size_t j = 0; j < N; j++) {
			bool share = lists_share(groups[i], groups[j]);
			enum router_result res = send_tagged(&nodes[i], nodes[j].cid, 10, ++tag);

			assert_int_equal(res, share ? ROUTER_DELIVERED : ROUTER_UNREACHABLE);
			if (share)
				expect_packet(&nodes[j], nodes[i].cid, 10, tag, 100);
		}
	}
	for (size_t i = 0; i < N; i++)
		node_remove(&nodes[i]);
	router_destroy(r);
}

static void test_invalid_packets(void **state)
{
	struct router *r = router_create(ROUTER_DEFAULT_MAILBOX_BYTES, 16);
	static uint8_t big[VSOCK_MAX_PKT_PAYLOAD + 1];
	struct node a, b;

	(void)state;
	node_add(r, &a, 3, default_group, 1);
	node_add(r, &b, 4, default_group, 1);
	struct vsock_hdr hdr = make_hdr(3, 4, 10, 1);
	struct iovec iov = {big, 9};
	assert_int_equal(router_send(a.port, &hdr, &iov, 1), ROUTER_INVALID);
	hdr.len = sizeof(big);
	iov.iov_len = sizeof(big);
	assert_int_equal(router_send(a.port, &hdr, &iov, 1), ROUTER_INVALID);
	/* Too big in all, though each piece is within the limit. */
	{
		struct iovec halves[2] = {{big, sizeof(big) / 2},
					  {big, sizeof(big) - sizeof(big) / 2}};

		assert_int_equal(router_send(a.port, &hdr, halves, 2), ROUTER_INVALID);
	}
	/* A source that is not the sender's own CID. */
	hdr = make_hdr(4, 4, 10, 1);
	iov.iov_len = 10;
	assert_int_equal(router_send(a.port, &hdr, &iov, 1), ROUTER_INVALID);
	/* The largest legal packet goes through. */
	assert_int_equal(send_tagged(&a, 4, VSOCK_MAX_PKT_PAYLOAD, 9), ROUTER_DELIVERED);
	expect_packet(&b, 3, VSOCK_MAX_PKT_PAYLOAD, 9, 4096);
	node_remove(&a);
	node_remove(&b);
	router_destroy(r);
}

static void test_wakeup_on_first_mail_only(void **state)
{
	struct router *r = router_create(ROUTER_DEFAULT_MAILBOX_BYTES, 16);
	struct node a, b;

	(void)state;
	node_add(r, &a, 3, default_group, 1);
	node_add(r, &b, 4, default_group, 1);
	assert_int_equal(wakeups(&b), 0);
	assert_int_equal(send_tagged(&a, 4, 0, 1), ROUTER_DELIVERED);
	assert_int_equal(send_tagged(&a, 4, 5, 2), ROUTER_DELIVERED);
	assert_int_equal(wakeups(&b), 1);
	assert_int_equal(wakeups(&a), 0);
	/* A packet without payload leaves on consume(0); one with payload
	 * does not. */
	expect_packet(&b, 3, 0, 1, 0);
	router_consume(b.port, 0);
	struct router_msg msg;
	assert_true(router_peek(b.port, &msg));
	assert_int_equal(msg.remaining, 5);
	expect_packet(&b, 3, 5, 2, 2);
	assert_int_equal(send_tagged(&a, 4, 1, 3), ROUTER_DELIVERED);
	assert_int_equal(wakeups(&b), 1);
	/* Consuming more than remains is capped at the packet's end. */
	router_consume(b.port, 1000);
	assert_false(router_peek(b.port, &msg));
	node_remove(&a);
	node_remove(&b);
	router_destroy(r);
}

/* Packets of awkward sizes through a small ring: records and payloads wrap
 * around its end, and every byte still comes out right. */
static void test_ring_wrap_around(void **state)
{
	size_t cap = mailbox_record_size(VSOCK_MAX_PKT_PAYLOAD) + 1000;
	struct router *r = router_create(cap, 1000);
	struct node a, b;
	uint32_t next_out = 0, tag = 0;
	uint32_t lens[64];
	unsigned seed = 1;

	(void)state;
	node_add(r, &a, 3, default_group, 1);
	node_add(r, &b, 4, default_group, 1);
	for (int round = 0; round < 2000; round++) {
		seed = seed * 1103515245 + 12345;
		uint32_t len = (seed >> 8) % 9000;
		if (round % 97 == 0)
			len = VSOCK_MAX_PKT_PAYLOAD;
		enum router_result res = send_tagged(&a, 4, len, tag);
		if (res == ROUTER_DELIVERED) {
			lens[tag % 64] = len;
			tag++;
			assert_true(tag - next_out <= 64);
			continue;
		}
		assert_int_equal(res, ROUTER_FULL);
		/* Drain a few, in odd-sized pieces. */
		for (int k = 0; k < 3 && next_out < tag; k++, next_out++)
			expect_packet(&b, 3, lens[next_out % 64], next_out, 1500 + (size_t)k);
	}
	while (next_out < tag) {
		expect_packet(&b, 3, lens[next_out % 64], next_out, 4096);
		next_out++;
	}
	assert_true(tag > 1000);
	node_remove(&a);
	node_remove(&b);
	router_destroy(r);
}

static void test_back_pressure_wakes_sender(void **state)
{
	struct router *r = router_create(ROUTER_DEFAULT_MAILBOX_BYTES, 4);
	struct node a, b, c;

	(void)state;
	node_add(r, &a, 3, default_group, 1);
	node_add(r, &b, 4, default_group, 1);
	node_add(r, &c, 5, default_group, 1);
	for (uint32_t t = 0; t < 4; t++)
		assert_int_equal(send_tagged(&a, 4, 100, t), ROUTER_DELIVERED);
	assert_int_equal(send_tagged(&a, 4, 100, 4), ROUTER_FULL);
	assert_int_equal(send_tagged(&c, 4, 0, 5), ROUTER_FULL);
	assert_int_equal(send_tagged(&a, 4, 100, 4), ROUTER_FULL);
	assert_int_equal(wakeups(&a), 0);
	/* Space for one packet is not enough: wait for the low-water mark. */
	expect_packet(&b, 3, 100, 0, 1000);
	assert_int_equal(wakeups(&a), 0);
	expect_packet(&b, 3, 100, 1, 1000);
	assert_int_equal(wakeups(&a), 1); /* once, though refused twice */
	assert_int_equal(wakeups(&c), 1);
	assert_int_equal(wakeups(&b), 1); /* its own "mail" wakeup, from the start */
	assert_int_equal(send_tagged(&a, 4, 100, 4), ROUTER_DELIVERED);
	/* Draining further wakes nobody: no one is waiting. */
	expect_packet(&b, 3, 100, 2, 1000);
	expect_packet(&b, 3, 100, 3, 1000);
	expect_packet(&b, 3, 100, 4, 1000);
	assert_int_equal(wakeups(&a), 0);
	node_remove(&a);
	node_remove(&b);
	node_remove(&c);
	router_destroy(r);
}

static void test_byte_limit(void **state)
{
	size_t cap = mailbox_record_size(VSOCK_MAX_PKT_PAYLOAD);
	struct router *r = router_create(cap, 100);
	struct node a, b;

	(void)state;
	node_add(r, &a, 3, default_group, 1);
	node_add(r, &b, 4, default_group, 1);
	assert_int_equal(send_tagged(&a, 4, 1, 0), ROUTER_DELIVERED);
	assert_int_equal(send_tagged(&a, 4, VSOCK_MAX_PKT_PAYLOAD, 1), ROUTER_FULL);
	expect_packet(&b, 3, 1, 0, 1);
	assert_int_equal(wakeups(&a), 1);
	assert_int_equal(send_tagged(&a, 4, VSOCK_MAX_PKT_PAYLOAD, 1), ROUTER_DELIVERED);
	assert_int_equal(send_tagged(&a, 4, 0, 2), ROUTER_FULL);
	expect_packet(&b, 3, VSOCK_MAX_PKT_PAYLOAD, 1, 60000);
	node_remove(&a);
	node_remove(&b);
	router_destroy(r);
}

static void test_unregister_wakes_waiters(void **state)
{
	struct router *r = router_create(ROUTER_DEFAULT_MAILBOX_BYTES, 1);
	struct node a, b;

	(void)state;
	node_add(r, &a, 3, default_group, 1);
	node_add(r, &b, 4, default_group, 1);
	assert_int_equal(send_tagged(&a, 4, 10, 0), ROUTER_DELIVERED);
	assert_int_equal(send_tagged(&a, 4, 10, 1), ROUTER_FULL);
	node_remove(&b); /* with a packet still queued: freed, not leaked */
	assert_int_equal(wakeups(&a), 1);
	assert_int_equal(send_tagged(&a, 4, 10, 1), ROUTER_UNREACHABLE);
	/* A device that comes back under the same CID starts empty. */
	node_add(r, &b, 4, default_group, 1);
	struct router_msg msg;
	assert_false(router_peek(b.port, &msg));
	assert_int_equal(send_tagged(&a, 4, 10, 1), ROUTER_DELIVERED);
	expect_packet(&b, 3, 10, 1, 10);
	node_remove(&a);
	node_remove(&b);
	router_destroy(r);
}

static void test_many_waiters_all_woken(void **state)
{
	struct router *r = router_create(ROUTER_DEFAULT_MAILBOX_BYTES, 1);
	struct node target, senders[12];

	(void)state;
	node_add(r, &target, 3, default_group, 1);
	for (uint32_t i = 0; i < 12; i++)
		node_add(r, &senders[i], 10 + i, default_group, 1);
	assert_int_equal(send_tagged(&senders[0], 3, 1, 0), ROUTER_DELIVERED);
	for (uint32_t i = 0; i < 12; i++)
		assert_int_equal(send_tagged(&senders[i], 3, 1, 1), ROUTER_FULL);
	expect_packet(&target, 10, 1, 0, 1);
	for (uint32_t i = 0; i < 12; i++) {
		assert_true(wakeups(&senders[i]) >= 1);
		node_remove(&senders[i]);
	}
	node_remove(&target);
	router_destroy(r);
}

/* ---- two device threads streaming to each other ------------------------- */

#define STREAM_PACKETS 20000u

struct streamer {
	struct node self;
	uint32_t peer;
	uint32_t sent, received;
	uint64_t bytes_checked;
	uint32_t full_count;
};

static uint32_t stream_len(uint32_t cid, uint32_t tag)
{
	uint32_t x = (cid * 2654435761u) ^ (tag * 40503u);

	return (tag % 500 == 0) ? VSOCK_MAX_PKT_PAYLOAD : x % 6000;
}

/* What a device thread would do on a wakeup: take all mail out (checking
 * it byte by byte), then retry the refused packet. */
static void drain(struct streamer *s)
{
	struct router_msg msg;

	while (router_peek(s->self.port, &msg)) {
		uint32_t tag = s->received;
		uint32_t len = stream_len(s->peer, tag);

		if (msg.hdr.src_port != tag || msg.hdr.len != len || msg.remaining != len ||
		    msg.hdr.src_cid != s->peer)
			return; /* the main thread reports the mismatch */
		for (size_t i = 0; i < len; i++) {
			const struct iovec *v = &msg.payload[i < msg.payload[0].iov_len ? 0 : 1];
			size_t off = i < msg.payload[0].iov_len ? i : i - msg.payload[0].iov_len;

			if (((uint8_t *)v->iov_base)[off] != pattern(tag, i))
				return;
		}
		s->bytes_checked += len;
		router_consume(s->self.port, len);
		s->received++;
	}
}

static enum router_result stream_send(struct streamer *s)
{
	static __thread uint8_t buf[VSOCK_MAX_PKT_PAYLOAD];
	uint32_t tag = s->sent, len = stream_len(s->self.cid, tag);
	struct vsock_hdr hdr = make_hdr(s->self.cid, s->peer, len, tag);
	struct iovec iov = {buf, len};

	for (size_t i = 0; i < len; i++)
		buf[i] = pattern(tag, i);
	return router_send(s->self.port, &hdr, &iov, 1);
}

static void *stream_thread(void *arg)
{
	struct streamer *s = arg;
	struct pollfd pfd = {.fd = s->self.efd, .events = POLLIN};

	for (;;) {
		drain(s);
		if (s->sent < STREAM_PACKETS) {
			enum router_result res = stream_send(s);

			if (res == ROUTER_DELIVERED) {
				s->sent++;
				continue;
			}
			if (res != ROUTER_FULL)
				return NULL;
			s->full_count++;
		} else if (s->received == STREAM_PACKETS) {
			return NULL;
		}
		/* Blocked on back-pressure or waiting for mail: sleep on
		 * the eventfd like an epoll loop would.  The timeout only
		 * turns a lost wakeup into a failure instead of a hang. */
		if (poll(&pfd, 1, 10000) != 1)
			return NULL;
		wakeups(&s->self);
	}
	return NULL;
}

static void test_two_threads_both_ways(void **state)
{
	/* Small mailboxes, so back-pressure happens all the time. */
	struct router *r = router_create(mailbox_record_size(VSOCK_MAX_PKT_PAYLOAD) * 2, 32);
	struct streamer a = {.peer = 4}, b = {.peer = 3};
	pthread_t ta, tb;

	(void)state;
	node_add(r, &a.self, 3, default_group, 1);
	node_add(r, &b.self, 4, default_group, 1);
	assert_int_equal(pthread_create(&ta, NULL, stream_thread, &a), 0);
	assert_int_equal(pthread_create(&tb, NULL, stream_thread, &b), 0);
	pthread_join(ta, NULL);
	pthread_join(tb, NULL);
	assert_int_equal(a.sent, STREAM_PACKETS);
	assert_int_equal(b.sent, STREAM_PACKETS);
	assert_int_equal(a.received, STREAM_PACKETS);
	assert_int_equal(b.received, STREAM_PACKETS);
	uint64_t expected = 0;
	for (uint32_t t = 0; t < STREAM_PACKETS; t++)
		expected += stream_len(3, t);
	assert_true(b.bytes_checked == expected);
	assert_true(a.full_count + b.full_count > 0);
	node_remove(&a.self);
	node_remove(&b.self);
	router_destroy(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_register_rules),
		cmocka_unit_test(test_groups_and_unknown_cids),
		cmocka_unit_test(test_group_merge),
		cmocka_unit_test(test_invalid_packets),
		cmocka_unit_test(test_wakeup_on_first_mail_only),
		cmocka_unit_test(test_ring_wrap_around),
		cmocka_unit_test(test_back_pressure_wakes_sender),
		cmocka_unit_test(test_byte_limit),
		cmocka_unit_test(test_unregister_wakes_waiters),
		cmocka_unit_test(test_many_waiters_all_woken),
		cmocka_unit_test(test_two_threads_both_ways),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
