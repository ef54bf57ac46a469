/* Stream behaviour through the real daemon: handshakes and refusals both
 * ways, data both ways checked byte for byte with random chunk sizes and
 * ring wrap-around, credit exhaustion and recovery, CREDIT_REQUEST,
 * half-close both ways, and the same data path under other ring layouts. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/virtio_vsock.h>

#include "rig_test.h"

#define PORT 1234
#define XFER (1u << 20)

static uint8_t *pattern(size_t len, uint64_t seed)
{
	uint8_t *p = malloc(len);

	assert_non_null(p);
	pattern_fill(seed, 0, p, len);
	return p;
}

/* The two ends' non-blocking calls: bytes moved, or 0 when the call would
 * block; anything else (an error, EOF) fails the test. */
static size_t guest_send(struct fixture *f, struct rig_conn *c,
			 const uint8_t *p, size_t len)
{
	ssize_t n = rig_send(f->rig, c, p, len);

	assert_true(n >= 0);
	return (size_t)n;
}

static size_t guest_recv(struct fixture *f, struct rig_conn *c, uint8_t *p,
			 size_t len)
{
	ssize_t n = rig_recv(f->rig, c, p, len);

	if (n > 0)
		return (size_t)n;
	assert_int_equal(n, -EAGAIN);
	return 0;
}

static size_t host_send(int hfd, const uint8_t *p, size_t len)
{
	ssize_t n = send(hfd, p, len, MSG_DONTWAIT | MSG_NOSIGNAL);

	assert_true(n > 0 || errno == EAGAIN);
	return n > 0 ? (size_t)n : 0;
}

static size_t host_recv(int hfd, uint8_t *p, size_t len)
{
	ssize_t n = recv(hfd, p, len, MSG_DONTWAIT);

	if (n > 0)
		return (size_t)n;
	assert_true(n < 0 && errno == EAGAIN);
	return 0;
}

/* One direction at a time, both ends moving at once: the sender writes
 * random chunk sizes, the receiver reads random sizes (the guest at most a
 * few packets' worth), bytes compared by the caller. */
static void pump(struct fixture *f, struct rig_conn *c, int hfd, bool to_host,
		 const uint8_t *out, uint8_t *got, uint64_t *rs)
{
	const char *dir = to_host ? "guest->host" : "host->guest";
	size_t sent = 0, recvd = 0;
	int64_t last_progress = rig_now_ms();

	while (recvd < XFER) {
		struct pollfd pfd = {.fd = hfd, .events = to_host ? POLLIN : POLLOUT};
		bool progress = false;
		size_t n;

		if (sent < XFER) {
			size_t chunk = 1 + rnd_below(rs, 70000);

			if (chunk > XFER - sent)
				chunk = XFER - sent;
			n = to_host ? guest_send(f, c, out + sent, chunk)
				    : host_send(hfd, out + sent, chunk);
			sent += n;
			progress = n > 0;
		}
		n = to_host ? host_recv(hfd, got + recvd, 1 + rnd_below(rs, 100000))
			    : guest_recv(f, c, got + recvd, 1 + rnd_below(rs, 9000));
		if (n > 0) {
			recvd += n;
			if (recvd > XFER)
				fail_msg("%s: more received than was sent", dir);
			last_progress = rig_now_ms();
			continue;
		}
		/* The host socket is polled while it has a part to play. */
		if (progress)
			last_progress = rig_now_ms();
		else
			assert_true(rig_poll(f->rig, &pfd, to_host || sent < XFER, T_MS) >= 0);
		if (rig_now_ms() - last_progress > T_MS)
			fail_msg("%s stalled at %zu of %u bytes", dir, recvd, XFER);
	}
}

static void exchange(struct fixture *f, struct rig_conn *c, int host_fd,
		     uint64_t seed)
{
	uint8_t *out = pattern(XFER, seed), *back = pattern(XFER, seed + 1);
	uint8_t *got = malloc(XFER);
	uint64_t rs = seed;

	assert_non_null(got);
	pump(f, c, host_fd, true, out, got, &rs);
	assert_memory_equal(got, out, XFER);
	memset(got, 0, XFER);
	pump(f, c, host_fd, false, back, got, &rs);
	assert_memory_equal(got, back, XFER);
	assert_int_equal(f->rig->stats.credit_violations, 0);
	free(out);
	free(back);
	free(got);
}

static void guest_connect_and_exchange(struct fixture *f, uint64_t seed)
{
	int lfd = rig_host_listen(f->d.uds_path, 5000);
	struct rig_conn *c;
	int hfd;

	assert_true(lfd >= 0);
	assert_int_equal(rig_connect(f->rig, RIG_HOST_CID, 5000, T_MS, &c), 0);
	hfd = rig_host_accept(f->rig, lfd, T_MS);
	assert_true(hfd >= 0);
	exchange(f, c, hfd, seed);
	close(hfd);
	assert_int_equal(rig_recv_wait(f->rig, c, &seed, 1, T_MS), 0);
	assert_int_equal(rig_close_wait(f->rig, c, T_MS), 0);
	close(lfd);
}

static void test_guest_initiated_data(void **state)
{
	guest_connect_and_exchange(*state, 1);
}

static void test_host_initiated_data(void **state)
{
	struct fixture *f = *state;
	struct rig_conn *c;
	int hfd;

	assert_int_equal(rig_listen(f->rig, PORT), 0);
	hfd = rig_host_open(f->rig, f->d.uds_path, PORT, &c, T_MS);
	assert_true(hfd >= 0);
	assert_int_equal(c->local_port, PORT);
	exchange(f, c, hfd, 7);
	/* Guest closes: the host sees EOF. */
	assert_int_equal(rig_close_wait(f->rig, c, T_MS), 0);
	assert_int_equal(rig_host_wait_eof(f->rig, hfd, T_MS), 0);
	close(hfd);
}

static void test_ok_line_names_guest_port(void **state)
{
	struct fixture *f = *state;
	struct rig_conn *c;
	char line[64];
	int hfd = rig_host_connect(f->d.uds_path);

	assert_true(hfd >= 0);
	assert_int_equal(rig_listen(f->rig, 4242), 0);
	assert_int_equal(rig_host_write_all(f->rig, hfd, "CONNECT 4242\n", 13, T_MS), 0);
	assert_int_equal(rig_accept(f->rig, 4242, T_MS, &c), 0);
	assert_int_equal(c->peer_cid, RIG_HOST_CID);
	assert_true(rig_host_read_line(f->rig, hfd, line, sizeof(line), T_MS) > 0);
	assert_string_equal(line, "OK 4242\n");
	rig_abort(f->rig, c);
	assert_int_equal(rig_host_wait_eof(f->rig, hfd, T_MS), 0);
	close(hfd);
}

static void test_guest_connect_refused(void **state)
{
	struct fixture *f = *state;
	int64_t t0 = rig_now_ms();
	struct rig_conn *c;

	/* Nobody listens on <uds>_6000: an RST, well before any timeout. */
	assert_int_equal(rig_connect(f->rig, RIG_HOST_CID, 6000, T_MS, &c),
			 -ECONNRESET);
	assert_true(rig_now_ms() - t0 < T_MS / 2);
	/* And again: nothing stuck. */
	assert_int_equal(rig_connect(f->rig, RIG_HOST_CID, 6000, T_MS, &c),
			 -ECONNRESET);
}

static void test_host_connect_refused(void **state)
{
	struct fixture *f = *state;
	char line[64];
	int hfd = rig_host_connect(f->d.uds_path);

	/* The rig listens on nothing: it answers the REQUEST with RST and the
	 * host socket is closed with no OK. */
	assert_true(hfd >= 0);
	assert_int_equal(rig_host_write_all(f->rig, hfd, "CONNECT 4321\n", 13, T_MS), 0);
	assert_int_equal(rig_host_read_line(f->rig, hfd, line, sizeof(line), T_MS), 0);
	close(hfd);
	assert_int_equal(f->rig->stats.rsts_sent, 1);
}

static void test_credit_exhaustion_host_to_guest(void **state)
{
	struct fixture *f = *state;
	uint8_t *data = pattern(4 * XFER, 11), *got = malloc(4 * XFER);
	size_t written = 0, off = 0;
	struct rig_conn *c;
	int hfd;

	assert_non_null(got);
	assert_int_equal(rig_listen(f->rig, PORT), 0);
	hfd = rig_host_open(f->rig, f->d.uds_path, PORT, &c, T_MS);
	assert_true(hfd >= 0);
	/* The guest does not read: the host writer must stall once our
	 * 256 KiB window, the daemon and the socket buffers are full. */
	for (;;) {
		ssize_t n = send(hfd, data + written, 4 * XFER - written, MSG_DONTWAIT);

		if (n > 0) {
			written += (size_t)n;
			continue;
		}
		assert_true(n < 0 && errno == EAGAIN);
		/* Let the daemon move what it can, then try again. */
		if (rig_poll(f->rig, NULL, 0, 200) == 0 &&
		    rig_conn_readable(c) == c->buf_alloc)
			break;
	}
	assert_true(written < 4 * XFER);
	assert_int_equal(rig_conn_readable(c), c->buf_alloc);
	assert_int_equal(f->rig->stats.credit_violations, 0);
	/* Reading reopens the window: everything arrives, in order. */
	while (off < 4 * XFER) {
		ssize_t n = rig_recv(f->rig, c, got + off, 4 * XFER - off);
		struct pollfd pfd = {.fd = hfd, .events = POLLOUT};

		if (n > 0) {
			off += (size_t)n;
			continue;
		}
		assert_int_equal(n, -EAGAIN);
		if (written < 4 * XFER) {
			ssize_t w = send(hfd, data + written, 4 * XFER - written,
					 MSG_DONTWAIT);

			if (w > 0)
				written += (size_t)w;
		}
		assert_true(rig_poll(f->rig, written < 4 * XFER ? &pfd : NULL,
				     written < 4 * XFER, T_MS) >= 0);
	}
	assert_memory_equal(got, data, 4 * XFER);
	assert_int_equal(f->rig->stats.credit_violations, 0);
	close(hfd);
	free(data);
	free(got);
}

static bool credit_exhausted(struct rig *rig, void *arg)
{
	(void)rig;
	return rig_conn_credit(arg) == 0;
}

static void test_credit_exhaustion_guest_to_host(void **state)
{
	struct fixture *f = *state;
	size_t total = 4 * XFER, sent = 0;
	uint8_t *data = pattern(total, 12), *got = malloc(total);
	int lfd = rig_host_listen(f->d.uds_path, 5001);
	struct rig_conn *c;
	int hfd;

	assert_true(lfd >= 0 && got);
	assert_int_equal(rig_connect(f->rig, RIG_HOST_CID, 5001, T_MS, &c), 0);
	hfd = rig_host_accept(f->rig, lfd, T_MS);
	assert_true(hfd >= 0);
	assert_true(c->peer_buf_alloc > 0);
	/* The host does not read: the daemon's credit must run out. */
	while (rig_conn_credit(c) > 0 && sent < total) {
		ssize_t n = rig_send(f->rig, c, data + sent, total - sent);

		assert_true(n >= 0);
		sent += (size_t)n;
		if (n == 0)
			assert_true(rig_poll(f->rig, NULL, 0, 100) >= 0);
	}
	assert_true(sent < total);
	assert_int_equal(rig_wait(f->rig, credit_exhausted, c, T_MS), 0);
	/* Reading on the host gives credit back; everything arrives. */
	{
		size_t got_len = 0;

		while (got_len < total) {
			ssize_t n = recv(hfd, got + got_len, total - got_len, MSG_DONTWAIT);
			struct pollfd pfd = {.fd = hfd, .events = POLLIN};

			if (n > 0) {
				got_len += (size_t)n;
				continue;
			}
			if (sent < total) {
				ssize_t s = rig_send(f->rig, c, data + sent, total - sent);

				assert_true(s >= 0);
				sent += (size_t)s;
			}
			assert_true(rig_poll(f->rig, &pfd, 1, T_MS) >= 0);
		}
	}
	assert_memory_equal(got, data, total);
	close(hfd);
	close(lfd);
	free(data);
	free(got);
}

static bool got_credit_update(struct rig *rig, void *arg)
{
	(void)rig;
	return ((struct rig_conn *)arg)->credit_updates_received > 0;
}

static void test_credit_request_answered(void **state)
{
	struct fixture *f = *state;
	struct rig_conn *c;
	uint32_t window;
	int hfd;

	assert_int_equal(rig_listen(f->rig, PORT), 0);
	hfd = rig_host_open(f->rig, f->d.uds_path, PORT, &c, T_MS);
	assert_true(hfd >= 0);
	window = c->peer_buf_alloc; /* what the daemon's REQUEST offered */
	assert_true(window > 0);
	assert_int_equal(rig_credit_request(f->rig, c), 0);
	assert_int_equal(rig_wait(f->rig, got_credit_update, c, T_MS), 0);
	/* One answer, with the same window and nothing consumed: no data
	 * went either way. */
	assert_int_equal(c->credit_updates_received, 1);
	assert_int_equal(c->peer_buf_alloc, window);
	assert_int_equal(c->peer_fwd_cnt, 0);
	close(hfd);
}

static bool peer_sent_eof(struct rig *rig, void *arg)
{
	(void)rig;
	return ((struct rig_conn *)arg)->peer_shutdown & VIRTIO_VSOCK_SHUTDOWN_SEND;
}

static void test_guest_half_close(void **state)
{
	struct fixture *f = *state;
	int lfd = rig_host_listen(f->d.uds_path, 5002);
	char buf[64];
	struct rig_conn *c;
	int hfd;

	assert_true(lfd >= 0);
	assert_int_equal(rig_connect(f->rig, RIG_HOST_CID, 5002, T_MS, &c), 0);
	hfd = rig_host_accept(f->rig, lfd, T_MS);
	assert_true(hfd >= 0);
	assert_int_equal(rig_send_all(f->rig, c, "request", 7, T_MS), 0);
	assert_int_equal(rig_shutdown(f->rig, c, VIRTIO_VSOCK_SHUTDOWN_SEND), 0);
	/* The host reads the data, then EOF... */
	assert_int_equal(rig_host_read_full(f->rig, hfd, buf, sizeof(buf), T_MS), 7);
	assert_memory_equal(buf, "request", 7);
	/* ...and can still answer. */
	assert_int_equal(rig_host_write_all(f->rig, hfd, "reply", 5, T_MS), 0);
	assert_int_equal(rig_recv_wait(f->rig, c, buf, sizeof(buf), T_MS), 5);
	assert_memory_equal(buf, "reply", 5);
	close(hfd);
	assert_int_equal(rig_recv_wait(f->rig, c, buf, sizeof(buf), T_MS), 0);
	rig_close(f->rig, c);
	close(lfd);
}

static void test_host_half_close(void **state)
{
	struct fixture *f = *state;
	char buf[64];
	struct rig_conn *c;
	int hfd;

	assert_int_equal(rig_listen(f->rig, PORT), 0);
	hfd = rig_host_open(f->rig, f->d.uds_path, PORT, &c, T_MS);
	assert_true(hfd >= 0);
	assert_int_equal(rig_host_write_all(f->rig, hfd, "question", 8, T_MS), 0);
	assert_int_equal(shutdown(hfd, SHUT_WR), 0);
	/* The guest gets the data, then end of stream... */
	assert_int_equal(rig_recv_wait(f->rig, c, buf, 8, T_MS), 8);
	assert_memory_equal(buf, "question", 8);
	assert_int_equal(rig_recv_wait(f->rig, c, buf, sizeof(buf), T_MS), 0);
	/* ...while its own direction still works. */
	assert_int_equal(rig_send_all(f->rig, c, "answer", 6, T_MS), 0);
	assert_int_equal(rig_host_read_full(f->rig, hfd, buf, 6, T_MS), 6);
	assert_memory_equal(buf, "answer", 6);
	assert_int_equal(rig_close_wait(f->rig, c, T_MS), 0);
	assert_int_equal(rig_host_wait_eof(f->rig, hfd, T_MS), 0);
	close(hfd);
}

/* Both directions over while the guest still holds unread data (so it does
 * not answer with RST yet): the daemon keeps no host fd for it, whichever
 * side finished first, and the guest still reads everything. */
static void test_finished_connections_release_host_fds(void **state)
{
	enum { N = 20 };
	struct fixture *f = *state;
	struct rig_conn *c[N];
	char buf[16];
	int idle, hfd;

	assert_int_equal(rig_listen(f->rig, PORT), 0);
	idle = rig_daemon_fd_count(&f->d);
	for (int i = 0; i < N; i++) {
		hfd = rig_host_open(f->rig, f->d.uds_path, PORT, &c[i], T_MS);
		assert_true(hfd >= 0);
		assert_int_equal(rig_host_write_all(f->rig, hfd, "unread", 6, T_MS), 0);
		if (i % 2) {
			/* Guest first, then the host's EOF. */
			assert_int_equal(rig_shutdown(f->rig, c[i],
						      VIRTIO_VSOCK_SHUTDOWN_SEND), 0);
			assert_int_equal(rig_host_wait_eof(f->rig, hfd, T_MS), 0);
			close(hfd);
		} else {
			/* Host first: the guest sees the end of the stream
			 * behind the data before it shuts its own side. */
			close(hfd);
			assert_int_equal(rig_wait(f->rig, peer_sent_eof, c[i], T_MS), 0);
			assert_int_equal(rig_shutdown(f->rig, c[i],
						      VIRTIO_VSOCK_SHUTDOWN_SEND), 0);
		}
	}
	assert_int_equal(wait_fd_count(f, idle, T_MS), idle);
	for (int i = 0; i < N; i++) {
		assert_int_equal(rig_recv_wait(f->rig, c[i], buf, sizeof(buf), T_MS), 6);
		assert_memory_equal(buf, "unread", 6);
		assert_int_equal(rig_recv_wait(f->rig, c[i], buf, sizeof(buf), T_MS), 0);
		rig_close(f->rig, c[i]);
	}
	assert_round_trip(f, 5003);
}

static void test_many_connections(void **state)
{
	enum { N = 16, LEN = 256 * 1024 };
	struct fixture *f = *state;
	struct rig_conn *c[N];
	int hfd[N];
	uint8_t *data = pattern(LEN, 99), *got = malloc(LEN);

	assert_non_null(got);
	assert_int_equal(rig_listen(f->rig, PORT), 0);
	for (int i = 0; i < N; i++) {
		hfd[i] = rig_host_open(f->rig, f->d.uds_path, PORT, &c[i], T_MS);
		assert_true(hfd[i] >= 0);
	}
	/* All guests write at once; the host drains each in turn. */
	for (size_t off = 0; off < LEN; off += 16384)
		for (int i = 0; i < N; i++)
			assert_int_equal(rig_send_all(f->rig, c[i], data + off, 16384,
						      T_MS), 0);
	for (int i = 0; i < N; i++) {
		assert_int_equal(rig_host_read_full(f->rig, hfd[i], got, LEN, T_MS), LEN);
		assert_memory_equal(got, data, LEN);
		close(hfd[i]);
	}
	for (int i = 0; i < N; i++)
		rig_close(f->rig, c[i]);
	free(data);
	free(got);
}

/* The same data path with other guest shapes. */
/* Host->guest with credit to spare, so the guest never transmits: only its
 * RX refills (and the kicks EVENT_IDX asks for) keep the stream going. */
static void test_rx_refills_alone_keep_host_data_flowing(void **state)
{
	struct fixture *f = *state;
	uint8_t *out = pattern(XFER, 11), *got = malloc(XFER);
	uint64_t rs = 11;
	struct rig_conn *c;
	int hfd;

	assert_non_null(got);
	assert_int_equal(rig_listen(f->rig, PORT), 0);
	hfd = rig_host_open(f->rig, f->d.uds_path, PORT, &c, T_MS);
	assert_true(hfd >= 0);
	pump(f, c, hfd, false, out, got, &rs);
	assert_memory_equal(got, out, XFER);
	close(hfd);
	free(out);
	free(got);
}

static int setup_small_ring_big_credit(void **state)
{
	struct fixture *f;

	if (fixture_setup_daemon_only(state))
		return -1;
	f = *state;
	f->opts.queue_size = 32;
	f->opts.rx_bufs = 32;
	f->opts.buf_alloc = 4 * XFER;
	fixture_open_rig(f);
	return 0;
}

static int setup_split_indirect(void **state)
{
	struct fixture *f;

	if (fixture_setup_daemon_only(state))
		return -1;
	f = *state;
	f->opts.rx_layout = RIG_RX_SPLIT;
	f->opts.indirect = true;
	f->opts.tx_layout = RIG_TX_SPLIT;
	fixture_open_rig(f);
	return 0;
}

static int setup_no_event_idx_small_ring(void **state)
{
	struct fixture *f;

	if (fixture_setup_daemon_only(state))
		return -1;
	f = *state;
	f->opts.event_idx = false;
	f->opts.queue_size = 32;
	f->opts.rx_bufs = 32;
	f->opts.rx_buf_size = 1024;
	f->opts.tx_layout = RIG_TX_LINEAR;
	fixture_open_rig(f);
	return 0;
}

static int setup_big_ring(void **state)
{
	struct fixture *f;

	if (fixture_setup_daemon_only(state))
		return -1;
	f = *state;
	f->opts.queue_size = 1024;
	f->opts.rx_bufs = 1024;
	f->opts.rx_buf_size = 65536 + 44;
	f->opts.tx_slots = 64;
	f->opts.mem_regions = 8;
	f->opts.region_size = 32u << 20;
	fixture_open_rig(f);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, fixture_setup, fixture_teardown)
		T(test_guest_initiated_data),
		T(test_host_initiated_data),
		T(test_ok_line_names_guest_port),
		T(test_guest_connect_refused),
		T(test_host_connect_refused),
		T(test_credit_exhaustion_host_to_guest),
		T(test_credit_exhaustion_guest_to_host),
		T(test_credit_request_answered),
		T(test_guest_half_close),
		T(test_host_half_close),
		T(test_finished_connections_release_host_fds),
		T(test_many_connections),
#undef T
		cmocka_unit_test_setup_teardown(test_guest_initiated_data,
						setup_split_indirect, fixture_teardown),
		cmocka_unit_test_setup_teardown(test_guest_initiated_data,
						setup_no_event_idx_small_ring,
						fixture_teardown),
		cmocka_unit_test_setup_teardown(test_guest_initiated_data,
						setup_big_ring, fixture_teardown),
		cmocka_unit_test_setup_teardown(test_rx_refills_alone_keep_host_data_flowing,
						setup_small_ring_big_credit,
						fixture_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
