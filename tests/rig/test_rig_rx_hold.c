/* The rig's receive path keeps RX buffers on the connection until they are
 * read, as a Linux guest keeps skbs, with a spare posted in their place:
 * small payloads are copied into the tail room of the last queued item,
 * and when the pool of spares runs out payloads are copied and the buffer
 * goes back to the ring.  Bytes come out in order whatever path they
 * took, the ring never runs short, and every buffer comes back. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/virtio_vsock.h>

#include "rig_test.h"
#include "rig_internal.h"

#define PORT 1400
#define RX_PAYLOAD (4096u - RIG_HDR_SIZE) /* per default RX buffer */

struct readable_wait {
	const struct rig_conn *c;
	uint32_t want;
};

static bool readable_reaches(struct rig *rig, void *arg)
{
	const struct readable_wait *w = arg;

	(void)rig;
	return rig_conn_readable(w->c) >= w->want;
}

/* The host writes len bytes and the guest, not reading, has them all: one
 * write of at most an RX buffer's payload is one packet. */
static void host_send(struct fixture *f, int hfd, struct rig_conn *c,
		      const uint8_t *buf, size_t len)
{
	struct readable_wait w = {c, rig_conn_readable(c) + (uint32_t)len};

	assert_int_equal(rig_host_write_all(f->rig, hfd, buf, len, T_MS), 0);
	assert_int_equal(rig_wait(f->rig, readable_reaches, &w, T_MS), 0);
	assert_int_equal(rig_conn_readable(c), w.want);
}

/* Reads exactly len bytes in reads of the sizes in steps (cycled). */
static void read_in_steps(struct fixture *f, struct rig_conn *c, uint8_t *out,
			  size_t len, const size_t *steps, unsigned n_steps)
{
	size_t off = 0;

	for (unsigned i = 0; off < len; i++) {
		size_t want = steps[i % n_steps];
		ssize_t n;

		if (want > len - off)
			want = len - off;
		n = rig_recv_wait(f->rig, c, out + off, want, T_MS);
		assert_true(n > 0 && (size_t)n <= want);
		off += (size_t)n;
	}
}

static unsigned queued_items(const struct rig_conn *c)
{
	unsigned n = 0;

	for (const struct rig_rx_item *it = c->rxq_first; it; it = it->next)
		n++;
	return n;
}

/* Buffers in the pool or on the ring: all but those connections hold. */
static unsigned unheld(const struct rig *rig)
{
	return rig->n_rx_free + rig->n_rx_posted;
}

/* Where each payload goes: a big one keeps its buffer, small ones follow
 * it in its tail room, a small one after a full buffer starts a heap copy
 * that the next small one joins. */
static void test_small_payloads_share_tail_room(void **state)
{
	static const size_t steps[] = {1, 7, 333, 4097, 2};
	struct fixture *f = *state;
	uint8_t data[200 + 10 * 100 + RX_PAYLOAD + 50 + 60 + 129], got[sizeof(data)];
	const struct rig_rx_item *it;
	struct rig_conn *c;
	size_t off = 0;
	int hfd;

	pattern_fill(1, 0, data, sizeof(data));
	assert_int_equal(rig_listen(f->rig, PORT), 0);
	hfd = rig_host_open(f->rig, f->d.uds_path, PORT, &c, T_MS);
	assert_true(hfd >= 0);

	host_send(f, hfd, c, data, 200);
	off = 200;
	for (unsigned i = 0; i < 10; i++, off += 100)
		host_send(f, hfd, c, data + off, 100);
	host_send(f, hfd, c, data + off, RX_PAYLOAD);
	off += RX_PAYLOAD;
	host_send(f, hfd, c, data + off, 50);
	host_send(f, hfd, c, data + off + 50, 60);
	host_send(f, hfd, c, data + off + 110, 129);

	assert_int_equal(queued_items(c), 4);
	it = c->rxq_first;
	assert_non_null(it->buf);
	assert_int_equal(it->len, 1200);
	it = it->next;
	assert_non_null(it->buf);
	assert_int_equal(it->len, RX_PAYLOAD);
	it = it->next;
	assert_null(it->buf);
	assert_int_equal(it->len, 110);
	it = it->next;
	assert_non_null(it->buf);
	assert_int_equal(it->len, 129);
	assert_int_equal(f->rig->stats.rx_payloads_held, 3);
	assert_int_equal(f->rig->stats.rx_payloads_copied, 12);

	read_in_steps(f, c, got, sizeof(got), steps, 5);
	assert_memory_equal(got, data, sizeof(data));
	assert_null(c->rxq_first);
	assert_int_equal(unheld(f->rig), f->rig->n_rx_bufs);
	close(hfd);
}

/* Many rounds of packets of every size, each round partly read in odd
 * sizes before the next arrives, so that payloads land behind half-read
 * items: the bytes come out exactly as sent. */
static void test_mixed_sizes_read_back_in_order(void **state)
{
	static const size_t sizes[] = {1,     RX_PAYLOAD, 77, 128, 129, 5000, 3,
				       100,   20000,      2,  RX_PAYLOAD - 1,
				       64,    200,        12345};
	static const size_t steps[] = {1, 3, 333, 4097, 7, 65536, 129, 5};
	/* Unread bytes stay below 64 KiB: with more, the credit the peer
	 * sees may run out before the driver's update threshold (as in
	 * Linux) and the round's packets would not all arrive. */
	enum { ROUNDS = 8, KEEP = 10000 };
	struct fixture *f = *state;
	size_t round_len = 0, total, sent = 0, got_len = 0;
	uint8_t *data, *got;
	struct rig_conn *c;
	int hfd;

	for (unsigned i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		round_len += sizes[i];
	total = round_len * ROUNDS;
	data = malloc(total);
	got = malloc(total);
	assert_non_null(data);
	assert_non_null(got);
	pattern_fill(2, 0, data, total);
	assert_int_equal(rig_listen(f->rig, PORT), 0);
	hfd = rig_host_open(f->rig, f->d.uds_path, PORT, &c, T_MS);
	assert_true(hfd >= 0);

	for (unsigned r = 0; r < ROUNDS; r++) {
		size_t unread;

		for (unsigned i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
			host_send(f, hfd, c, data + sent, sizes[i]);
			sent += sizes[i];
		}
		unread = sent - got_len;
		if (unread > KEEP) {
			read_in_steps(f, c, got + got_len, unread - KEEP, steps,
				      sizeof(steps) / sizeof(steps[0]));
			got_len += unread - KEEP;
		}
	}
	read_in_steps(f, c, got + got_len, total - got_len, steps,
		      sizeof(steps) / sizeof(steps[0]));
	assert_memory_equal(got, data, total);
	assert_true(f->rig->stats.rx_payloads_held > 0);
	assert_true(f->rig->stats.rx_payloads_copied > 0);
	assert_int_equal(rig_conn_readable(c), 0);
	assert_int_equal(unheld(f->rig), f->rig->n_rx_bufs);
	close(hfd);
	free(data);
	free(got);
}

static int setup_four_spares(void **state)
{
	if (fixture_setup_daemon_only(state))
		return -1;
	((struct fixture *)*state)->opts.rx_spare_bufs = 4;
	fixture_open_rig(*state);
	return 0;
}

/* With 4 spares, an unread connection takes them all; the rest of its data
 * is copied, the ring stays full, a second connection still flows, and the
 * first one's bytes all come back in order. */
static void test_pool_exhaustion_copies(void **state)
{
	enum { LOT = 200 * 1024, OTHER = 100 * 1024 };
	static const size_t steps[] = {4099, 1, 65536};
	struct fixture *f = *state;
	struct rig *rig = f->rig;
	uint8_t *a_data = malloc(LOT), *b_data = malloc(OTHER), *got = malloc(LOT);
	struct rig_conn *a, *b;
	uint64_t copied;
	int ha, hb;

	assert_non_null(a_data);
	assert_non_null(b_data);
	assert_non_null(got);
	pattern_fill(3, 0, a_data, LOT);
	pattern_fill(4, 0, b_data, OTHER);
	assert_int_equal(rig_listen(rig, PORT), 0);
	ha = rig_host_open(rig, f->d.uds_path, PORT, &a, T_MS);
	hb = rig_host_open(rig, f->d.uds_path, PORT, &b, T_MS);
	assert_true(ha >= 0 && hb >= 0);

	host_send(f, ha, a, a_data, LOT);
	assert_int_equal(rig->stats.rx_payloads_held, 4);
	assert_true(rig->stats.rx_payloads_copied > 0);
	assert_int_equal(rig->n_rx_free, 0);
	assert_int_equal(rig->n_rx_posted, rig->opts.rx_bufs);

	copied = rig->stats.rx_payloads_copied;
	assert_int_equal(rig_host_write_all(rig, hb, b_data, OTHER, T_MS), 0);
	read_in_steps(f, b, got, OTHER, steps, 3);
	assert_memory_equal(got, b_data, OTHER);
	assert_true(rig->stats.rx_payloads_copied > copied);
	assert_int_equal(rig->stats.rx_payloads_held, 4);

	read_in_steps(f, a, got, LOT, steps, 3);
	assert_memory_equal(got, a_data, LOT);
	assert_int_equal(rig->n_rx_free + rig->n_rx_posted, rig->n_rx_bufs);
	/* The spares are back: a big payload keeps its buffer again. */
	host_send(f, ha, a, a_data, RX_PAYLOAD);
	assert_int_equal(rig->stats.rx_payloads_held, 5);
	close(ha);
	close(hb);
	free(a_data);
	free(b_data);
	free(got);
}

static int setup_eight_spares(void **state)
{
	if (fixture_setup_daemon_only(state))
		return -1;
	((struct fixture *)*state)->opts.rx_spare_bufs = 8;
	fixture_open_rig(*state);
	return 0;
}

/* A long transfer read as it comes, in small reads: every buffer read to
 * its end goes back and is posted again, so held buffers far outnumber the
 * spares, and after every turn of the loop the ring is full. */
static void test_read_buffers_are_reposted(void **state)
{
	enum { TOTAL = 4 << 20, READ = 1000 };
	struct fixture *f = *state;
	struct rig *rig = f->rig;
	uint8_t *data = malloc(TOTAL), *got = malloc(TOTAL);
	size_t sent = 0, got_len = 0;
	int64_t deadline = rig_now_ms() + 5 * T_MS;
	struct rig_conn *c;
	int hfd;

	assert_non_null(data);
	assert_non_null(got);
	pattern_fill(5, 0, data, TOTAL);
	assert_int_equal(rig_listen(rig, PORT), 0);
	hfd = rig_host_open(rig, f->d.uds_path, PORT, &c, T_MS);
	assert_true(hfd >= 0);
	while (got_len < TOTAL) {
		struct pollfd pfd = {.fd = hfd, .events = sent < TOTAL ? POLLOUT : 0};
		ssize_t n;

		if (sent < TOTAL) {
			n = send(hfd, data + sent, TOTAL - sent, MSG_DONTWAIT | MSG_NOSIGNAL);
			assert_true(n > 0 || errno == EAGAIN);
			if (n > 0)
				sent += (size_t)n;
		}
		n = rig_recv(rig, c, got + got_len, READ);
		if (n > 0) {
			got_len += (size_t)n;
			continue;
		}
		assert_int_equal(n, -EAGAIN);
		assert_true(rig_left_ms(deadline) > 0);
		assert_true(rig_poll(rig, &pfd, 1, rig_left_ms(deadline)) >= 0);
		assert_int_equal(rig->n_rx_posted, rig->opts.rx_bufs);
	}
	assert_memory_equal(got, data, TOTAL);
	assert_true(rig->stats.rx_payloads_held > 10 * 8);
	assert_int_equal(rig->n_rx_free + rig->n_rx_posted, rig->n_rx_bufs);
	close(hfd);
	free(data);
	free(got);
}

/* Fills a new connection with unread data and returns it. */
static struct rig_conn *filled_conn(struct fixture *f, uint8_t *data, size_t len,
				    int *hfd)
{
	struct rig_conn *c;

	*hfd = rig_host_open(f->rig, f->d.uds_path, PORT, &c, T_MS);
	assert_true(*hfd >= 0);
	host_send(f, *hfd, c, data, len);
	return c;
}

static bool peer_shut_send(struct rig *rig, void *arg)
{
	const struct rig_conn *c = arg;

	(void)rig;
	return c->peer_shutdown & VIRTIO_VSOCK_SHUTDOWN_SEND;
}

/* Freeing a connection, by abort, by close after the peer's EOF, or by a
 * guest reboot, gives its held buffers back. */
static void test_freed_conn_returns_buffers(void **state)
{
	enum { LOT = 100 * 1024 };
	struct fixture *f = *state;
	struct rig *rig = f->rig;
	uint8_t *data = malloc(LOT);
	unsigned all = rig->n_rx_bufs;
	struct rig_conn *c;
	int hfd;

	assert_non_null(data);
	pattern_fill(6, 0, data, LOT);
	assert_int_equal(rig_listen(rig, PORT), 0);

	c = filled_conn(f, data, LOT, &hfd);
	assert_true(unheld(rig) < all - LOT / RX_PAYLOAD);
	rig_abort(rig, c);
	assert_int_equal(unheld(rig), all);
	close(hfd);

	c = filled_conn(f, data, LOT, &hfd);
	close(hfd);
	assert_int_equal(rig_wait(rig, peer_shut_send, c, T_MS), 0);
	assert_true(unheld(rig) < all);
	assert_int_equal(rig_close_wait(rig, c, T_MS), 0);
	assert_int_equal(unheld(rig), all);

	c = filled_conn(f, data, LOT, &hfd);
	assert_true(unheld(rig) < all);
	assert_int_equal(rig_reboot(rig), 0);
	assert_int_equal(unheld(rig), all);
	assert_int_equal(rig->n_rx_posted, rig->opts.rx_bufs);
	close(hfd);
	assert_round_trip(f, PORT + 1);
	free(data);
}

/* A device reset forgets the ring, not the data: buffers a connection
 * holds stay readable and return to the pool once, when read. */
static void test_forget_keeps_held_buffers(void **state)
{
	enum { LOT = 100 * 1024 };
	struct fixture *f = *state;
	struct rig *rig = f->rig;
	uint8_t *data = malloc(LOT), *got = malloc(LOT);
	static const size_t steps[] = {3000, 17};
	struct rig_conn *c;
	int hfd;

	assert_non_null(data);
	assert_non_null(got);
	pattern_fill(7, 0, data, LOT);
	assert_int_equal(rig_listen(rig, PORT), 0);
	c = filled_conn(f, data, LOT, &hfd);
	assert_true(unheld(rig) < rig->n_rx_bufs);

	assert_int_equal(rig_stop(rig), 0);
	rig_ring_reset(&rig->rxq);
	rig_ring_reset(&rig->txq);
	rig_forget_buffers(rig);
	assert_int_equal(rig->n_rx_posted, 0);
	assert_true(rig->n_rx_free < rig->n_rx_bufs);

	read_in_steps(f, c, got, LOT, steps, 2);
	assert_memory_equal(got, data, LOT);
	assert_int_equal(rig->n_rx_free, rig->n_rx_bufs);
	close(hfd);
	free(data);
	free(got);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, fixture_setup, fixture_teardown)
		T(test_small_payloads_share_tail_room),
		T(test_mixed_sizes_read_back_in_order),
		T(test_freed_conn_returns_buffers),
		T(test_forget_keeps_held_buffers),
#undef T
		cmocka_unit_test_setup_teardown(test_pool_exhaustion_copies,
						setup_four_spares, fixture_teardown),
		cmocka_unit_test_setup_teardown(test_read_buffers_are_reposted,
						setup_eight_spares, fixture_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
