/* Defaults from the README that reach the running code, observed without
 * waiting for them: the 10 s CONNECT-line and request timeouts are read
 * off the daemon's armed timerfds (/proc/PID/fdinfo shows each timer's
 * remaining time), each with the other timeout moved far away through its
 * environment variable so the two cannot be confused.  (The default
 * tx-buffer-size, 262144, is checked in test_rig_credit.c as the window a
 * busy connection grows to.) */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rig_test.h"

#define DEFAULT_TIMEOUT_MS 10000
/* How long the test may take between the daemon arming a timer and this
 * reading it, on a loaded machine. */
#define SLACK_MS 4000
#define FAR_AWAY "600000"

static long wait_timer_armed(const struct fixture *f)
{
	int64_t deadline = rig_now_ms() + T_MS;
	long ms;

	while ((ms = next_timer_ms(f->d.pid)) < 0) {
		assert_true(rig_now_ms() < deadline);
		poll(NULL, 0, 5);
	}
	return ms;
}

static int setup_with_env(void **state, const char *far_env)
{
	int err;

	setenv(far_env, FAR_AWAY, 1);
	err = fixture_setup_daemon_only(state);
	unsetenv(far_env);
	return err;
}

static int setup_request_far(void **state)
{
	return setup_with_env(state, "VHOST_DEVICE_VSOCK_REQUEST_TIMEOUT_MS");
}

static int setup_connect_far(void **state)
{
	return setup_with_env(state, "VHOST_DEVICE_VSOCK_CONNECT_TIMEOUT_MS");
}

static void assert_default_timeout(long ms)
{
	if (ms > DEFAULT_TIMEOUT_MS || ms < DEFAULT_TIMEOUT_MS - SLACK_MS)
		fail_msg("timer armed for %ld ms, expected just under %d", ms, DEFAULT_TIMEOUT_MS);
}

/* A client that sends nothing: the CONNECT-line deadline, 10 s. */
static void test_connect_line_timeout_default(void **state)
{
	struct fixture *f = *state;
	int hfd;

	assert_int_equal(next_timer_ms(f->d.pid), -1);
	hfd = rig_host_connect(f->d.uds_path);
	assert_true(hfd >= 0);
	assert_default_timeout(wait_timer_armed(f));
	close(hfd);
}

/* A client whose line is complete while no guest driver runs: the request
 * deadline, 10 s (the line's deadline is 600 s away). */
static void test_request_timeout_default(void **state)
{
	struct fixture *f = *state;
	int64_t deadline = rig_now_ms() + T_MS;
	long ms;
	int hfd;

	assert_int_equal(next_timer_ms(f->d.pid), -1);
	hfd = rig_host_connect(f->d.uds_path);
	assert_true(hfd >= 0);
	assert_int_equal(rig_host_write_all(NULL, hfd, "CONNECT 1234\n", 13, T_MS), 0);
	while ((ms = next_timer_ms(f->d.pid)) < 0 || ms > DEFAULT_TIMEOUT_MS * 2) {
		assert_true(rig_now_ms() < deadline);
		poll(NULL, 0, 5);
	}
	assert_default_timeout(ms);
	close(hfd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_connect_line_timeout_default,
						setup_request_far, fixture_teardown),
		cmocka_unit_test_setup_teardown(test_request_timeout_default, setup_connect_far,
						fixture_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
