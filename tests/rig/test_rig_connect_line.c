/* Host-initiated connections and the "CONNECT <port>\n" line: split byte by
 * byte, case and CR variants, data right behind the newline, malformed and
 * oversized lines, and clients that leave before finishing the line. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "rig_test.h"

#define PORT 1234

static int host_send_line(struct fixture *f, const char *bytes, size_t len)
{
	int hfd = rig_host_connect(f->d.uds_path);

	assert_true(hfd >= 0);
	assert_int_equal(rig_host_write_all(f->rig, hfd, bytes, len, T_MS), 0);
	return hfd;
}

static void accept_and_expect_ok(struct fixture *f, int hfd)
{
	struct rig_conn *c;
	char line[32];

	assert_int_equal(rig_accept(f->rig, PORT, T_MS, &c), 0);
	assert_true(rig_host_read_line(f->rig, hfd, line, sizeof(line), T_MS) > 0);
	assert_string_equal(line, "OK 1234\n");
	rig_close(f->rig, c);
}

static void test_line_byte_by_byte(void **state)
{
	struct fixture *f = *state;
	const char *line = "CONNECT 1234\n";
	int hfd = rig_host_connect(f->d.uds_path);

	assert_true(hfd >= 0);
	assert_int_equal(rig_listen(f->rig, PORT), 0);
	for (const char *p = line; *p; p++) {
		assert_int_equal(write(hfd, p, 1), 1);
		/* The daemon reads each partial line before the next byte. */
		wait_device_idle(f);
	}
	accept_and_expect_ok(f, hfd);
	close(hfd);
}

static void test_line_variants(void **state)
{
	struct fixture *f = *state;
	static const char *const lines[] = {"connect 1234\n", "CONNECT 1234\r\n",
					    "Connect 1234\n"};

	assert_int_equal(rig_listen(f->rig, PORT), 0);
	for (unsigned i = 0; i < 3; i++) {
		int hfd = host_send_line(f, lines[i], strlen(lines[i]));

		accept_and_expect_ok(f, hfd);
		close(hfd);
	}
}

static void test_data_after_newline_kept(void **state)
{
	struct fixture *f = *state;
	static const char msg[] = "CONNECT 1234\nhello, guest";
	struct rig_conn *c;
	char buf[32], line[32];
	size_t got = 0;
	int hfd;

	assert_int_equal(rig_listen(f->rig, PORT), 0);
	hfd = host_send_line(f, msg, sizeof(msg) - 1);
	assert_int_equal(rig_accept(f->rig, PORT, T_MS, &c), 0);
	assert_true(rig_host_read_line(f->rig, hfd, line, sizeof(line), T_MS) > 0);
	assert_string_equal(line, "OK 1234\n");
	while (got < 12) {
		ssize_t n = rig_recv_wait(f->rig, c, buf + got, sizeof(buf) - got, T_MS);

		assert_true(n > 0);
		got += (size_t)n;
	}
	assert_int_equal(got, 12);
	assert_memory_equal(buf, "hello, guest", 12);
	rig_close(f->rig, c);
	close(hfd);
}

static void test_bad_lines_closed_without_reply(void **state)
{
	struct fixture *f = *state;
	static const char *const lines[] = {
		"CONNECT abc\n", "BOGUS 1234\n", "CONNECT 99999999999\n",
		"CONNECT\n", "CONNECT -1\n", "\n",
	};
	char oversized[300];
	char line[32];

	assert_int_equal(rig_listen(f->rig, PORT), 0);
	for (unsigned i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		int hfd = host_send_line(f, lines[i], strlen(lines[i]));

		assert_int_equal(rig_host_read_line(f->rig, hfd, line, sizeof(line), T_MS),
				 0);
		close(hfd);
	}
	/* A line that never ends: closed once it is clearly too long. */
	memcpy(oversized, "CONNECT ", 8);
	memset(oversized + 8, '1', sizeof(oversized) - 8);
	{
		int hfd = host_send_line(f, oversized, sizeof(oversized));

		assert_int_equal(rig_host_wait_eof(f->rig, hfd, T_MS), 0);
		close(hfd);
	}
	/* None of them reached the guest. */
	{
		struct rig_conn *c;

		assert_int_equal(rig_accept(f->rig, PORT, 0, &c), -ETIMEDOUT);
	}
}

static void test_client_gone_before_newline(void **state)
{
	struct fixture *f = *state;
	int idle = rig_daemon_fd_count(&f->d);

	for (int i = 0; i < 20; i++) {
		int hfd = host_send_line(f, "CONNECT 12", 10);

		close(hfd);
	}
	{
		int hfd = rig_host_connect(f->d.uds_path);

		assert_true(hfd >= 0);
		close(hfd); /* nothing at all */
	}
	/* Every half-line client is forgotten: no fd left behind, no spin. */
	assert_int_equal(wait_fd_count(f, idle, T_MS), idle);
	assert_int_equal(rig_listen(f->rig, PORT), 0);
	{
		int hfd = host_send_line(f, "CONNECT 1234\n", 13);

		accept_and_expect_ok(f, hfd);
		close(hfd);
	}
}

static void test_guest_refuses(void **state)
{
	struct fixture *f = *state;
	char line[32];
	int hfd = host_send_line(f, "CONNECT 999\n", 12);

	/* Nobody listens on 999 in the guest: RST, then the host socket is
	 * closed with no reply. */
	assert_int_equal(rig_host_read_line(f->rig, hfd, line, sizeof(line), T_MS), 0);
	close(hfd);
}

static void test_guest_not_started_yet(void **state)
{
	struct fixture *f;
	int hfd;

	if (fixture_setup_daemon_only(state))
		fail();
	f = *state;
	/* The front-end is only half set up: no rings yet. */
	assert_int_equal(rig_create(&f->rig, &f->opts), 0);
	assert_int_equal(rig_handshake(f->rig), 0);
	hfd = rig_host_connect(f->d.uds_path);
	assert_true(hfd >= 0);
	assert_int_equal(write(hfd, "CONNECT 1234\n", 13), 13);
	assert_int_equal(rig_start(f->rig), 0);
	assert_int_equal(rig_listen(f->rig, PORT), 0);
	accept_and_expect_ok(f, hfd);
	close(hfd);
}

/* The daemon closes clients that have not finished their CONNECT line
 * within its handshake deadline.  The test shortens the deadline (10 s by
 * default) with the daemon's environment variable, so it runs in a second
 * yet still proves nothing is closed early. */
#define SHORT_DEADLINE_MS 600

static int setup_short_deadline(void **state)
{
	int err;

	setenv("VHOST_DEVICE_VSOCK_CONNECT_TIMEOUT_MS", "600", 1);
	err = fixture_setup(state);
	unsetenv("VHOST_DEVICE_VSOCK_CONNECT_TIMEOUT_MS");
	return err;
}

static void test_stalled_clients_closed_after_deadline(void **state)
{
	struct fixture *f = *state;
	int idle = rig_daemon_fd_count(&f->d);
	int64_t start = rig_now_ms();
	int stalled = host_send_line(f, "CONN", 4);
	int silent = rig_host_connect(f->d.uds_path);
	struct rig_conn *c;
	char line[32];
	int done;

	assert_true(silent >= 0);
	assert_int_equal(rig_listen(f->rig, PORT), 0);
	/* A client that finishes its line in time is served meanwhile, and
	 * its connection outlives the deadline. */
	done = host_send_line(f, "CONNECT 1234\n", 13);
	assert_int_equal(rig_accept(f->rig, PORT, T_MS, &c), 0);
	assert_true(rig_host_read_line(f->rig, done, line, sizeof(line), T_MS) > 0);
	assert_string_equal(line, "OK 1234\n");

	assert_int_equal(rig_host_wait_eof(f->rig, stalled, T_MS), 0);
	assert_true(rig_now_ms() - start >= SHORT_DEADLINE_MS);
	assert_int_equal(rig_host_wait_eof(f->rig, silent, T_MS), 0);
	assert_int_equal(rig_daemon_log_count(&f->d, "no complete CONNECT line"), 2);
	close(stalled);
	close(silent);

	assert_int_equal(rig_host_write_all(f->rig, done, "ping", 4, T_MS), 0);
	assert_int_equal(rig_recv_wait(f->rig, c, line, sizeof(line), T_MS), 4);
	assert_memory_equal(line, "ping", 4);
	rig_close(f->rig, c);
	close(done);
	assert_int_equal(wait_fd_count(f, idle, T_MS), idle);
}

/* --max-handshakes 2, and clients get a minute for their line. */
static int setup_two_handshakes(void **state)
{
	const char *const extra[] = {"--max-handshakes", "2", NULL};
	int err;

	setenv("VHOST_DEVICE_VSOCK_CONNECT_TIMEOUT_MS", "60000", 1);
	err = fixture_setup_daemon_args(state, extra);
	unsetenv("VHOST_DEVICE_VSOCK_CONNECT_TIMEOUT_MS");
	if (!err)
		fixture_open_rig(*state);
	return err;
}

/* With two clients owing their line, a third is closed at once; the two
 * are still served when their lines come. */
static void test_handshakes_past_the_budget_closed(void **state)
{
	struct fixture *f = *state;
	int first = rig_host_connect(f->d.uds_path);
	int second = rig_host_connect(f->d.uds_path);
	int third = rig_host_connect(f->d.uds_path);

	assert_true(first >= 0 && second >= 0 && third >= 0);
	assert_int_equal(rig_host_wait_eof(f->rig, third, T_MS), 0);
	assert_int_equal(rig_daemon_log_count(&f->d, "max-handshakes (2) reached"), 1);
	assert_int_equal(rig_listen(f->rig, PORT), 0);
	assert_int_equal(rig_host_write_all(f->rig, first, "CONNECT 1234\n", 13, T_MS), 0);
	accept_and_expect_ok(f, first);
	assert_int_equal(rig_host_write_all(f->rig, second, "CONNECT 1234\n", 13, T_MS), 0);
	accept_and_expect_ok(f, second);
	close(first);
	close(second);
	close(third);
}

/* A bad override is refused at start-up, naming the variable. */
static void test_bad_deadline_refused(void **state)
{
	struct rig_daemon d;
	int err;

	(void)state;
	setenv("VHOST_DEVICE_VSOCK_CONNECT_TIMEOUT_MS", "0", 1);
	err = rig_daemon_start(&d, T_CID, NULL);
	unsetenv("VHOST_DEVICE_VSOCK_CONNECT_TIMEOUT_MS");
	assert_int_equal(err, -ECHILD);
	assert_int_equal(rig_daemon_log_count(&d, "VHOST_DEVICE_VSOCK_CONNECT_TIMEOUT_MS: '0'"),
			 1);
	assert_int_equal(rig_daemon_stop(&d, T_MS), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, fixture_setup, fixture_teardown)
		T(test_line_byte_by_byte),
		T(test_line_variants),
		T(test_data_after_newline_kept),
		T(test_bad_lines_closed_without_reply),
		T(test_client_gone_before_newline),
		T(test_guest_refuses),
		cmocka_unit_test_setup_teardown(test_handshakes_past_the_budget_closed,
						setup_two_handshakes, fixture_teardown),
#undef T
		cmocka_unit_test_teardown(test_guest_not_started_yet, fixture_teardown),
		cmocka_unit_test_setup_teardown(test_stalled_clients_closed_after_deadline,
						setup_short_deadline, fixture_teardown),
		cmocka_unit_test(test_bad_deadline_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
