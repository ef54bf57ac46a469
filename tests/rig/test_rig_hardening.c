/* Acceptance items of the core and rig issues that need a dedicated check:
 * log lines that say why and name the CID, rate-limited warnings under a
 * flood, a guest that shrinks its buffer below the bytes in flight, and a
 * guest that sends beyond the credit the daemon advertised. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/virtio_vsock.h>

#include "rig_test.h"

#define PORT 1234
#define HOST_PORT 5200

/* Waits, running the rig, until the daemon's log has at least min lines
 * containing needle.  Returns the last count. */
static int wait_log(struct fixture *f, const char *needle, int min)
{
	int64_t deadline = rig_now_ms() + T_MS;
	int n;

	while ((n = rig_daemon_log_count(&f->d, needle)) < min && rig_now_ms() < deadline)
		rig_poll(f->rig, NULL, 0, 10);
	return n;
}

/* Sends h (payload len bytes of buf), waiting for a TX slot if needed. */
static void send_raw(struct fixture *f, const struct rig_hdr *h, const void *buf, size_t len)
{
	int err;

	while ((err = rig_send_pkt(f->rig, h, buf, len)) == -EAGAIN)
		assert_true(rig_poll(f->rig, NULL, 0, T_MS) >= 0);
	assert_int_equal(err, 0);
}

static struct rig_hdr conn_raw_hdr(const struct fixture *f, const struct rig_conn *c,
				   uint16_t op)
{
	return (struct rig_hdr){
		.src_cid = f->rig->cid, .dst_cid = c->peer_cid,
		.src_port = c->local_port, .dst_port = c->peer_port,
		.type = VIRTIO_VSOCK_TYPE_STREAM, .op = op,
		.buf_alloc = c->buf_alloc, .fwd_cnt = c->fwd_cnt,
	};
}

static void test_queue_size_refusal_says_why(void **state)
{
	struct fixture *f = *state;
	uint32_t num[2] = {1, 1000};

	assert_int_equal(rig_vu_send_raw(&f->rig->vu, VU_SET_VRING_NUM, VU_FLAG_VERSION, 8,
					 num, 8, NULL, 0), 0);
	/* One line, with the device's CID, the size and the reason. */
	assert_int_equal(wait_log(f, "cid=3: SET_VRING_NUM: size 1000 for", 1), 1);
	assert_int_equal(rig_daemon_log_count(&f->d, "not a power of two"), 1);
	/* The front-end may have been dropped; the next one is served. */
	assert_int_equal(rig_reconnect(f->rig), 0);
	assert_int_equal(rig_listen(f->rig, PORT), 0);
	{
		struct rig_conn *c;
		int hfd = rig_host_open(f->rig, f->d.uds_path, PORT, &c, T_MS);

		assert_true(hfd >= 0);
		rig_close(f->rig, c);
		close(hfd);
	}
}

static bool got_rst(struct rig *rig, void *arg)
{
	(void)rig;
	return rig->stats.rsts_received >= *(uint64_t *)arg;
}

static void test_flood_of_bad_packets_rate_limited(void **state)
{
	struct fixture *f = *state;
	enum { FLOOD = 500 };
	struct rig_hdr h = {
		.src_cid = 77, .dst_cid = RIG_HOST_CID, .src_port = 9000, .dst_port = 9000,
		.type = VIRTIO_VSOCK_TYPE_STREAM, .op = VIRTIO_VSOCK_OP_RW, .buf_alloc = 4096,
	};
	uint64_t want;
	int lines;

	for (int i = 0; i < FLOOD; i++)
		send_raw(f, &h, NULL, 0);
	/* A probe for an unknown connection: its RST comes after the daemon
	 * went through the whole flood (TX is handled in order). */
	h.src_cid = f->rig->cid;
	want = f->rig->stats.rsts_received + 1;
	send_raw(f, &h, NULL, 0);
	assert_int_equal(rig_wait(f->rig, got_rst, &want, T_MS), 0);
	lines = rig_daemon_log_count(&f->d, "not the guest's");
	/* LOG_RL_BURST (10) lines per second and call site: the flood takes a
	 * second or two at most, never FLOOD lines. */
	assert_true(lines >= 1);
	assert_true(lines <= 30);
	assert_true(rig_daemon_log_count(&f->d, "cid=3: ") >= lines);
}

static bool readable_at_least(struct rig *rig, void *arg)
{
	(void)rig;
	return rig_conn_readable((struct rig_conn *)arg) >= 65536;
}

static bool more_than_64k(struct rig *rig, void *arg)
{
	(void)rig;
	return rig_conn_readable((struct rig_conn *)arg) > 65536;
}

static bool credit_update_seen(struct rig *rig, void *arg)
{
	(void)rig;
	return ((struct rig_conn *)arg)->credit_updates_received > 0;
}

/* The guest announces a buffer smaller than what the daemon already sent
 * and it has not consumed: the daemon's credit is 0 (not a wrapped huge
 * number) until the guest makes room, then the data flows, none lost. */
static void test_buf_alloc_shrunk_below_in_flight(void **state)
{
	struct fixture *f = *state;
	enum { FIRST = 65536, SECOND = 131072, TOTAL = FIRST + SECOND };
	uint8_t *data = malloc(TOTAL), *got = malloc(TOTAL);
	struct rig_conn *c;
	struct rig_hdr h;
	size_t have = 0;
	int hfd;

	assert_non_null(data);
	assert_non_null(got);
	pattern_fill(5, 0, data, TOTAL);
	assert_int_equal(rig_listen(f->rig, PORT), 0);
	hfd = rig_host_open(f->rig, f->d.uds_path, PORT, &c, T_MS);
	assert_true(hfd >= 0);
	assert_int_equal(rig_host_write_all(f->rig, hfd, data, FIRST, T_MS), 0);
	assert_int_equal(rig_wait(f->rig, readable_at_least, c, T_MS), 0);

	h = conn_raw_hdr(f, c, VIRTIO_VSOCK_OP_CREDIT_UPDATE);
	h.buf_alloc = 4096;
	send_raw(f, &h, NULL, 0);
	/* Once the answer to this request is here, the shrink was applied. */
	h.op = VIRTIO_VSOCK_OP_CREDIT_REQUEST;
	send_raw(f, &h, NULL, 0);
	assert_int_equal(rig_wait(f->rig, credit_update_seen, c, T_MS), 0);

	assert_int_equal(rig_host_write_all(f->rig, hfd, data + FIRST, SECOND, T_MS), 0);
	/* Nothing more may come: a bounded wait that must time out. */
	assert_int_equal(rig_wait(f->rig, more_than_64k, c, 300), -ETIMEDOUT);

	/* Room again: the full buffer, nothing consumed yet. */
	h.op = VIRTIO_VSOCK_OP_CREDIT_UPDATE;
	h.buf_alloc = c->buf_alloc;
	send_raw(f, &h, NULL, 0);
	while (have < TOTAL) {
		ssize_t n = rig_recv_wait(f->rig, c, got + have, TOTAL - have, T_MS);

		assert_true(n > 0);
		have += (size_t)n;
	}
	assert_memory_equal(got, data, TOTAL);
	assert_int_equal(f->rig->stats.credit_violations, 0);
	rig_close(f->rig, c);
	close(hfd);
	free(data);
	free(got);
}

/* A guest that ignores the daemon's credit while the host does not read is
 * reset, with one log line; other connections go on. */
static void test_guest_overrunning_credit_reset(void **state)
{
	struct fixture *f = *state;
	enum { CHUNK = 16384, LIMIT = 64 << 20 };
	static uint8_t junk[CHUNK];
	int lfd = rig_host_listen(f->d.uds_path, HOST_PORT);
	struct rig_conn *c;
	size_t sent = 0;
	int hfd;

	assert_true(lfd >= 0);
	assert_int_equal(rig_connect(f->rig, RIG_HOST_CID, HOST_PORT, T_MS, &c), 0);
	hfd = rig_host_accept(f->rig, lfd, T_MS);
	assert_true(hfd >= 0);
	while (c->state != RIG_CONN_CLOSED && sent < LIMIT) {
		struct rig_hdr h = conn_raw_hdr(f, c, VIRTIO_VSOCK_OP_RW);

		h.len = CHUNK;
		send_raw(f, &h, junk, CHUNK);
		sent += CHUNK;
		assert_true(rig_poll(f->rig, NULL, 0, 0) >= 0);
	}
	assert_int_equal(c->state, RIG_CONN_CLOSED);
	assert_int_equal(c->error, -ECONNRESET);
	assert_int_equal(rig_host_wait_eof(f->rig, hfd, T_MS), 0);
	assert_int_equal(wait_log(f, "overran its credit", 1), 1);
	close(hfd);
	rig_close(f->rig, c);
	/* The next connection is served normally. */
	assert_int_equal(rig_connect(f->rig, RIG_HOST_CID, HOST_PORT, T_MS, &c), 0);
	hfd = rig_host_accept(f->rig, lfd, T_MS);
	assert_true(hfd >= 0);
	assert_int_equal(rig_send_all(f->rig, c, "fine", 4, T_MS), 0);
	{
		char buf[4];

		assert_int_equal(rig_host_read_full(f->rig, hfd, buf, 4, T_MS), 4);
		assert_memory_equal(buf, "fine", 4);
	}
	rig_close(f->rig, c);
	close(hfd);
	close(lfd);
}

/* The credit boundary is exact: in one TX drain (so no credit update comes
 * in between), a guest may send every byte of the credit it was given, and
 * one byte more resets the connection. */
static void send_credit_plus(struct fixture *f, struct rig_conn *c, uint32_t extra)
{
	static uint8_t junk[16384];
	uint32_t left = rig_conn_credit(c) + extra;

	rig_ring_hold(&f->rig->txq, true);
	while (left) {
		struct rig_hdr h = conn_raw_hdr(f, c, VIRTIO_VSOCK_OP_RW);

		h.len = left < sizeof(junk) ? left : sizeof(junk);
		send_raw(f, &h, junk, h.len);
		left -= h.len;
	}
	rig_ring_hold(&f->rig->txq, false);
}

static bool conn_closed(struct rig *rig, void *arg)
{
	(void)rig;
	return ((struct rig_conn *)arg)->state == RIG_CONN_CLOSED;
}

static void test_credit_boundary_exact(void **state)
{
	struct fixture *f = *state;
	int lfd = rig_host_listen(f->d.uds_path, HOST_PORT);
	struct rig_conn *c, *d;
	uint32_t credit;
	int hfd, hfd2;

	assert_true(lfd >= 0);
	assert_int_equal(rig_connect(f->rig, RIG_HOST_CID, HOST_PORT, T_MS, &c), 0);
	hfd = rig_host_accept(f->rig, lfd, T_MS);
	assert_true(hfd >= 0);
	credit = rig_conn_credit(c);
	assert_true(credit > 0);
	send_credit_plus(f, c, 0);
	{
		static uint8_t got[1 << 20];

		assert_int_equal(rig_host_read_full(f->rig, hfd, got, credit, T_MS),
				 (ssize_t)credit);
	}
	assert_int_equal(c->state, RIG_CONN_CONNECTED);

	assert_int_equal(rig_connect(f->rig, RIG_HOST_CID, HOST_PORT, T_MS, &d), 0);
	hfd2 = rig_host_accept(f->rig, lfd, T_MS);
	assert_true(hfd2 >= 0);
	send_credit_plus(f, d, 1);
	assert_int_equal(rig_wait(f->rig, conn_closed, d, T_MS), 0);
	assert_int_equal(d->error, -ECONNRESET);
	assert_int_equal(wait_log(f, "overran its credit", 1), 1);
	assert_int_equal(c->state, RIG_CONN_CONNECTED);
	rig_close(f->rig, c);
	rig_close(f->rig, d);
	close(hfd);
	close(hfd2);
	close(lfd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, fixture_setup, fixture_teardown)
		T(test_queue_size_refusal_says_why),
		T(test_flood_of_bad_packets_rate_limited),
		T(test_buf_alloc_shrunk_below_in_flight),
		T(test_guest_overrunning_credit_reset),
		T(test_credit_boundary_exact),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
