/* Host clients waiting for the guest to answer their REQUEST when the guest
 * is reset.  What src/ does (device_conn_drop_known_to_guest for a driver
 * reset, device_conn_drop_all when the VMM goes away):
 *  - guest driver reset (reboot): a client whose REQUEST the old driver
 *    got is closed without "OK" (the new driver never hears of it); one
 *    whose REQUEST was never sent (no RX buffer) is kept and offered to the
 *    new driver, which can accept it;
 *  - VMM disconnect and reconnect: every waiting client is closed, offered
 *    or not.
 * The old driver "got" a REQUEST when the daemon put it in an RX buffer
 * the rig does not take back (rig_freeze_rx); with a single RX buffer, the
 * next client's REQUEST has nowhere to go.  The request timeout is set far
 * beyond the test so that it cannot be what closes a client. */
#include <endian.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <linux/virtio_vsock.h>

#include "rig_test.h"

#define PORT 5800u
#define TIMEOUT_ENV "VHOST_DEVICE_VSOCK_REQUEST_TIMEOUT_MS"

static int setup(void **state)
{
	struct fixture *f;
	int err;

	setenv(TIMEOUT_ENV, "600000", 1);
	err = fixture_setup_daemon_only(state);
	unsetenv(TIMEOUT_ENV);
	if (err)
		return -1;
	f = *state;
	f->opts.rx_bufs = 1;
	fixture_open_rig(f);
	return 0;
}

static int host_client(struct fixture *f, uint32_t port)
{
	char line[32];
	int len = snprintf(line, sizeof(line), "CONNECT %u\n", port);
	int hfd = rig_host_connect(f->d.uds_path);

	assert_true(hfd >= 0);
	assert_int_equal(rig_host_write_all(NULL, hfd, line, (size_t)len, T_MS), 0);
	return hfd;
}

/* Registrations in the daemon's epoll sets with the mask of a host
 * connection's socket (EPOLLIN | EPOLLRDHUP | EPOLLET, plus the implicit
 * EPOLLERR | EPOLLHUP): a client still sending its CONNECT line is
 * registered with EPOLLIN alone, so this counts the clients that became
 * connections (/proc/PID/fdinfo of the epoll fds). */
static void count_conn_registration(const char *text, void *count)
{
	if (strstr(text, "tfd:") && strstr(text, "events: 80002019"))
		++*(int *)count;
}

static int conn_registrations(const struct fixture *f)
{
	int count = 0;

	fdinfo_lines(f->d.pid, count_conn_registration, &count);
	return count;
}

static void wait_conn_registrations(struct fixture *f, int want)
{
	int64_t deadline = rig_now_ms() + T_MS;

	while (conn_registrations(f) != want) {
		assert_true(rig_now_ms() < deadline);
		assert_true(rig_poll(f->rig, NULL, 0, 10) >= 0);
	}
}

/* Client `offered` has its REQUEST in the old driver's only RX buffer;
 * client `waiting` has had none sent (the daemon logs no answer for it). */
static void two_waiting_clients(struct fixture *f, int *offered, int *waiting)
{
	int base = conn_registrations(f);

	assert_int_equal(rig_listen(f->rig, PORT), 0);
	rig_freeze_rx(f->rig, true);
	assert_int_equal(f->rig->n_rx_posted, 1);
	*offered = host_client(f, PORT);
	wait_rx_used(f->rig, 1);
	*waiting = host_client(f, PORT);
	/* Its line read, it is a connection too, before the reset. */
	wait_conn_registrations(f, base + 2);
}

static void expect_closed_without_ok(struct rig *rig, int hfd)
{
	char line[32];

	assert_int_equal(rig_host_read_line(rig, hfd, line, sizeof(line), T_MS), 0);
	close(hfd);
}

static void expect_ok_and_data(struct fixture *f, int hfd)
{
	struct rig_conn *c;
	char line[32], buf[5];

	assert_int_equal(rig_accept(f->rig, PORT, T_MS, &c), 0);
	assert_true(rig_host_read_line(f->rig, hfd, line, sizeof(line), T_MS) > 0);
	assert_string_equal(line, "OK 5800\n");
	assert_int_equal(rig_host_write_all(f->rig, hfd, "hello", 5, T_MS), 0);
	assert_int_equal(rig_recv_wait(f->rig, c, buf, 5, T_MS), 5);
	assert_memory_equal(buf, "hello", 5);
	assert_int_equal(rig_send_all(f->rig, c, "world", 5, T_MS), 0);
	assert_int_equal(rig_host_read_full(f->rig, hfd, buf, 5, T_MS), 5);
	assert_memory_equal(buf, "world", 5);
	close(hfd);
	rig_close(f->rig, c);
}

/* base: the daemon's fd count with no client; each waiting client holds
 * one more. */
static void test_driver_reset_keeps_unoffered_client(void **state)
{
	struct fixture *f = *state;
	int base = rig_daemon_fd_count(&f->d);
	int offered, waiting;
	struct rig_hdr stray;

	two_waiting_clients(f, &offered, &waiting);
	/* Both are connections now (one host fd each), neither answered. */
	assert_int_equal(wait_fd_count(f, base + 2, T_MS), base + 2);
	assert_int_equal(rig_reboot(f->rig), 0);
	/* The rebooted guest listens again (a reboot forgets listeners). */
	assert_int_equal(rig_listen(f->rig, PORT), 0);
	rig_freeze_rx(f->rig, false);
	expect_closed_without_ok(f->rig, offered);
	expect_ok_and_data(f, waiting);
	/* The new driver never heard of the first client. */
	assert_false(rig_pop_stray(f->rig, &stray));
	assert_int_equal(wait_fd_count(f, base, T_MS), base);
	assert_round_trip(f, PORT + 1);
}

static void test_vmm_reconnect_closes_every_waiting_client(void **state)
{
	struct fixture *f = *state;
	int base = rig_daemon_fd_count(&f->d);
	int offered, waiting;
	struct rig_hdr stray;

	two_waiting_clients(f, &offered, &waiting);
	assert_int_equal(wait_fd_count(f, base + 2, T_MS), base + 2);
	assert_int_equal(rig_reconnect(f->rig), 0);
	assert_int_equal(rig_listen(f->rig, PORT), 0);
	rig_freeze_rx(f->rig, false);
	expect_closed_without_ok(f->rig, offered);
	expect_closed_without_ok(f->rig, waiting);
	assert_false(rig_pop_stray(f->rig, &stray));
	assert_int_equal(wait_fd_count(f, base, T_MS), base);
	/* A new client reaches the new front-end's guest. */
	expect_ok_and_data(f, host_client(f, PORT));
	assert_round_trip(f, PORT + 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_driver_reset_keeps_unoffered_client, setup,
						fixture_teardown),
		cmocka_unit_test_setup_teardown(test_vmm_reconnect_closes_every_waiting_client,
						setup, fixture_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
