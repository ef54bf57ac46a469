/* Host-initiated connections the guest does not answer: the daemon closes
 * the host client once the request timeout passes (shortened here through
 * its environment variable), tells a guest that got the REQUEST with an
 * RST, and never shows the REQUEST to one that did not.  The rig stands
 * for a guest that does not answer simply by not being polled. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <linux/virtio_vsock.h>

#include "rig_test.h"

#define PORT 1234
#define OTHER_PORT 1235
#define REQUEST_TIMEOUT_MS 1000
#define TIMEOUT_ENV "VHOST_DEVICE_VSOCK_REQUEST_TIMEOUT_MS"
/* Slack for a loaded machine (or a sanitizer build) between the deadline
 * and the daemon acting on it. */
#define MARGIN_MS 1500
#define EXPIRED_LOG "did not answer a host connection within 1000 ms"

static int setup_env(void **state, int (*setup)(void **state))
{
	char value[16];
	int err;

	snprintf(value, sizeof(value), "%d", REQUEST_TIMEOUT_MS);
	setenv(TIMEOUT_ENV, value, 1);
	setenv("VHOST_DEVICE_VSOCK_LOG", "info", 1); /* the expiry line's level */
	err = setup(state);
	unsetenv(TIMEOUT_ENV);
	unsetenv("VHOST_DEVICE_VSOCK_LOG");
	return err;
}

static int setup_short_timeout(void **state)
{
	return setup_env(state, fixture_setup);
}

static int setup_short_timeout_daemon_only(void **state)
{
	return setup_env(state, fixture_setup_daemon_only);
}

/* A host client that asks for guest port `port`. */
static int host_client(struct fixture *f, uint32_t port)
{
	char line[32];
	int len = snprintf(line, sizeof(line), "CONNECT %u\n", port);
	int hfd = rig_host_connect(f->d.uds_path);

	assert_true(hfd >= 0);
	assert_int_equal(write(hfd, line, (size_t)len), len);
	return hfd;
}

/* The daemon closes the client without a reply line within the timeout
 * (plus margin) of start, and not before it.  The rig is not run. */
static void expect_closed_unanswered(int hfd, int64_t start)
{
	char line[32];

	assert_int_equal(rig_host_read_line(NULL, hfd, line, sizeof(line),
					    REQUEST_TIMEOUT_MS + MARGIN_MS), 0);
	assert_true(rig_now_ms() - start >= REQUEST_TIMEOUT_MS);
}

/* Counts the packets the guest gets for one of its ports. */
struct port_watch {
	uint32_t port;
	unsigned packets;
};

static void count_packets(void *arg, const struct rig_hdr *h, const void *payload)
{
	struct port_watch *w = arg;

	(void)payload;
	if (h->dst_port == w->port)
		w->packets++;
}

static void test_unanswered_client_closed(void **state)
{
	struct fixture *f = *state;
	int idle = rig_daemon_fd_count(&f->d);
	int64_t start = rig_now_ms();
	int hfd = host_client(f, PORT);
	struct rig_hdr h;

	expect_closed_unanswered(hfd, start);
	close(hfd);
	assert_int_equal(rig_daemon_log_count(&f->d, "guest port 1234 " EXPIRED_LOG), 1);
	/* The guest (listening nowhere) finds the REQUEST, then the RST. */
	assert_int_equal(rig_wait_stray(f->rig, &h, T_MS), 0);
	assert_int_equal(h.op, VIRTIO_VSOCK_OP_REQUEST);
	assert_int_equal(h.dst_port, PORT);
	assert_int_equal(rig_wait_stray(f->rig, &h, T_MS), 0);
	assert_int_equal(h.op, VIRTIO_VSOCK_OP_RST);
	assert_int_equal(h.dst_port, PORT);
	assert_round_trip(f, 5000);
	assert_int_equal(wait_fd_count(f, idle, T_MS), idle);
}

/* The guest answers late, yet in time: the connection is not closed at
 * the deadline and carries data both ways after it. */
static void test_answer_before_deadline_keeps_connection(void **state)
{
	struct fixture *f = *state;
	int64_t start = rig_now_ms();
	int hfd = host_client(f, PORT);
	struct rig_conn *c;
	char buf[32];

	assert_int_equal(rig_listen(f->rig, PORT), 0);
	/* A guest slow to answer: nothing happens to the client meanwhile. */
	assert_int_equal(rig_host_wait_eof(NULL, hfd, REQUEST_TIMEOUT_MS * 6 / 10), -ETIMEDOUT);
	assert_int_equal(rig_accept(f->rig, PORT, T_MS, &c), 0);
	assert_true(rig_host_read_line(f->rig, hfd, buf, sizeof(buf), T_MS) > 0);
	assert_string_equal(buf, "OK 1234\n");
	assert_true(rig_now_ms() - start < REQUEST_TIMEOUT_MS);
	/* Well past the deadline, the connection is still open. */
	assert_int_equal(rig_host_wait_eof(f->rig, hfd, REQUEST_TIMEOUT_MS), -ETIMEDOUT);
	assert_int_equal(rig_host_write_all(f->rig, hfd, "ping", 4, T_MS), 0);
	assert_int_equal(rig_recv_wait(f->rig, c, buf, sizeof(buf), T_MS), 4);
	assert_memory_equal(buf, "ping", 4);
	assert_int_equal(rig_send_all(f->rig, c, "pong", 4, T_MS), 0);
	assert_int_equal(rig_host_read_full(f->rig, hfd, buf, 4, T_MS), 4);
	assert_memory_equal(buf, "pong", 4);
	assert_int_equal(rig_daemon_log_count(&f->d, EXPIRED_LOG), 0);
	rig_close(f->rig, c);
	close(hfd);
}

/* The guest gets the REQUEST and the RST together and answers the REQUEST
 * anyway: that RESPONSE finds no connection and is answered with an RST
 * of its own; the daemon goes on serving. */
static void test_late_response_gets_rst(void **state)
{
	struct fixture *f = *state;
	int64_t start = rig_now_ms();
	int hfd = host_client(f, PORT);
	struct rig_conn *c;
	struct rig_hdr h;
	char line[32];

	assert_int_equal(rig_listen(f->rig, PORT), 0);
	expect_closed_unanswered(hfd, start);
	close(hfd);
	assert_int_equal(rig_accept(f->rig, PORT, T_MS, &c), 0);
	assert_int_equal(rig_wait_stray(f->rig, &h, T_MS), 0);
	assert_int_equal(h.op, VIRTIO_VSOCK_OP_RST);
	assert_int_equal(h.src_port, c->peer_port);
	assert_int_equal(h.dst_port, PORT);
	assert_int_equal(c->state, RIG_CONN_CLOSED);
	assert_int_equal(c->error, -ECONNRESET);
	assert_int_equal(f->rig->stats.rsts_received, 2);
	rig_close(f->rig, c);

	hfd = rig_host_open(f->rig, f->d.uds_path, PORT, &c, T_MS);
	assert_true(hfd >= 0);
	assert_int_equal(rig_host_write_all(f->rig, hfd, "ping", 4, T_MS), 0);
	assert_int_equal(rig_recv_wait(f->rig, c, line, sizeof(line), T_MS), 4);
	assert_memory_equal(line, "ping", 4);
	rig_close(f->rig, c);
	close(hfd);
	assert_int_equal(rig_daemon_log_count(&f->d, EXPIRED_LOG), 1);
}

/* One RX buffer, taken by the first client's REQUEST: the second one's
 * REQUEST cannot leave.  Both clients are closed at the deadline; the
 * guest later gets the first REQUEST and its RST, and nothing at all about
 * the second. */
static void test_request_never_sent_without_rx_buffers(void **state)
{
	struct fixture *f = *state;
	struct port_watch second_port = {OTHER_PORT, 0};
	struct rig_conn *c;
	char line[8];
	int64_t start;
	int first, second;

	f->opts.rx_bufs = 1;
	fixture_open_rig(f);
	f->rig->on_packet = count_packets;
	f->rig->on_packet_arg = &second_port;
	start = rig_now_ms();
	first = host_client(f, PORT);
	/* Long enough for the daemon to send the first REQUEST. */
	assert_int_equal(rig_host_wait_eof(NULL, first, 100), -ETIMEDOUT);
	second = host_client(f, OTHER_PORT);
	expect_closed_unanswered(first, start);
	expect_closed_unanswered(second, start);
	close(first);
	close(second);
	assert_int_equal(rig_daemon_log_count(&f->d, EXPIRED_LOG), 2);

	assert_int_equal(rig_listen(f->rig, PORT), 0);
	assert_int_equal(rig_listen(f->rig, OTHER_PORT), 0);
	assert_int_equal(rig_accept(f->rig, PORT, T_MS, &c), 0);
	assert_int_equal(rig_recv_wait(f->rig, c, line, sizeof(line), T_MS), -ECONNRESET);
	rig_close(f->rig, c);
	assert_int_equal(rig_accept(f->rig, OTHER_PORT, 300, &c), -ETIMEDOUT);
	assert_int_equal(second_port.packets, 0);
	assert_round_trip(f, 5000);
}

/* No driver yet (the rings are not set up): the REQUEST never leaves, the
 * client is closed at the deadline, and the driver, once started, hears
 * nothing of it. */
static void test_request_never_sent_without_driver(void **state)
{
	struct fixture *f = *state;
	struct port_watch watch = {PORT, 0};
	struct rig_conn *c;
	int64_t start;
	int hfd;

	assert_int_equal(rig_create(&f->rig, &f->opts), 0);
	assert_int_equal(rig_handshake(f->rig), 0);
	f->rig->on_packet = count_packets;
	f->rig->on_packet_arg = &watch;
	start = rig_now_ms();
	hfd = host_client(f, PORT);
	expect_closed_unanswered(hfd, start);
	close(hfd);
	assert_int_equal(rig_start(f->rig), 0);
	assert_int_equal(rig_listen(f->rig, PORT), 0);
	assert_int_equal(rig_accept(f->rig, PORT, 300, &c), -ETIMEDOUT);
	assert_int_equal(watch.packets, 0);
	assert_round_trip(f, 5000);
}

/* Many clients expire at about the same moment, half of their REQUESTs
 * sent and half stuck behind the guest's 128 RX buffers: all are closed,
 * and the daemon waits for the deadline without spinning. */
#define MANY 200

static void test_many_expire_without_spinning(void **state)
{
	struct fixture *f = *state;
	int idle = rig_daemon_fd_count(&f->d);
	int64_t start = rig_now_ms();
	int hfd[MANY];
	long cpu_waiting, next_timer;

	for (int i = 0; i < MANY; i++)
		hfd[i] = host_client(f, PORT);
	cpu_waiting = process_cpu_ms(f->d.pid);
	for (int i = 0; i < MANY; i++) {
		expect_closed_unanswered(hfd[i], start);
		close(hfd[i]);
	}
	/* About a second of waiting, then the expiries: a few milliseconds of
	 * work.  A daemon that polled or spun would use most of the time. */
	assert_true(process_cpu_ms(f->d.pid) - cpu_waiting < 300);
	/* Nothing is left to time: the daemon sleeps, and no timer of its is
	 * due within a request timeout (one armed for the CONNECT lines'
	 * 10 s deadline may still fire once, with nothing to do). */
	wait_device_idle(f);
	next_timer = next_timer_ms(f->d.pid);
	assert_true(next_timer < 0 || next_timer > REQUEST_TIMEOUT_MS);
	assert_true(rig_daemon_log_count(&f->d, EXPIRED_LOG) >= 1);
	assert_round_trip(f, 5000);
	assert_int_equal(wait_fd_count(f, idle, T_MS), idle);
}

/* A bad override is refused at start-up, naming the variable. */
static void test_bad_timeout_refused(void **state)
{
	static const char *const bad[] = {"0", "soon", "86400001"};

	(void)state;
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct rig_daemon d;
		char needle[64];
		int err;

		setenv(TIMEOUT_ENV, bad[i], 1);
		err = rig_daemon_start(&d, T_CID, NULL);
		unsetenv(TIMEOUT_ENV);
		assert_int_equal(err, -ECHILD);
		snprintf(needle, sizeof(needle), "%s: '%s'", TIMEOUT_ENV, bad[i]);
		assert_int_equal(rig_daemon_log_count(&d, needle), 1);
		assert_int_equal(rig_daemon_stop(&d, T_MS), 1);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup_short_timeout, fixture_teardown)
#define T_NO_RIG(fn) \
	cmocka_unit_test_setup_teardown(fn, setup_short_timeout_daemon_only, fixture_teardown)
		T(test_unanswered_client_closed),
		T(test_answer_before_deadline_keeps_connection),
		T(test_late_response_gets_rst),
		T_NO_RIG(test_request_never_sent_without_rx_buffers),
		T_NO_RIG(test_request_never_sent_without_driver),
		T(test_many_expire_without_spinning),
#undef T
#undef T_NO_RIG
		cmocka_unit_test(test_bad_timeout_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
