/* --poll-us reaches the device thread: after traffic whose gaps are
 * shorter than the limit, the daemon spends those gaps polling (CPU time
 * while nothing happens), and with --poll-us=0 it sleeps through them. */
#include "rig_test.h"

#include <time.h>

#define PORT 5200u
#define ROUND_TRIPS 100
/* Far shorter than the 10 ms window of the polling daemon, so that the
 * scheduling delays of a loaded machine do not make its waits look long
 * (which closes the window, as it should for a daemon that is idle). */
#define GAP_MS 2

static int setup_daemon_with(void **state, const char *poll_us)
{
	const char *const extra[] = {"--poll-us", poll_us, NULL};

	if (fixture_setup_daemon_args(state, extra))
		return -1;
	fixture_open_rig(*state);
	return 0;
}

static int setup_polling(void **state)
{
	return setup_daemon_with(state, "10000");
}

static int setup_not_polling(void **state)
{
	return setup_daemon_with(state, "0");
}

/* Daemon CPU milliseconds spent over ROUND_TRIPS one-byte round trips,
 * each followed by a GAP_MS pause in which neither side sends anything. */
static long cpu_over_gaps(struct fixture *f)
{
	const struct timespec gap = {.tv_nsec = GAP_MS * 1000000L};
	struct rig_conn *c;
	long before;
	char byte = 'x';
	int hfd;

	assert_int_equal(rig_listen(f->rig, PORT), 0);
	hfd = rig_host_open(f->rig, f->d.uds_path, PORT, &c, T_MS);
	assert_true(hfd >= 0);
	before = process_cpu_ms(f->d.pid);
	for (int i = 0; i < ROUND_TRIPS; i++) {
		assert_int_equal(rig_host_write_all(f->rig, hfd, &byte, 1, T_MS), 0);
		assert_int_equal(rig_recv_wait(f->rig, c, &byte, 1, T_MS), 1);
		assert_int_equal(rig_send_all(f->rig, c, &byte, 1, T_MS), 0);
		assert_int_equal(rig_host_read_full(f->rig, hfd, &byte, 1, T_MS), 1);
		nanosleep(&gap, NULL);
	}
	return process_cpu_ms(f->d.pid) - before;
}

static void test_gaps_within_the_window_are_polled(void **state)
{
	/* About ROUND_TRIPS * GAP_MS = 200 ms of spinning; less on a loaded
	 * machine, where the daemon shares a CPU, but well above the 0 to
	 * 10 ms of a daemon that sleeps. */
	assert_true(cpu_over_gaps(*state) >= 30);
}

static void test_poll_us_zero_sleeps(void **state)
{
	assert_true(cpu_over_gaps(*state) <= 20);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_gaps_within_the_window_are_polled,
						setup_polling, fixture_teardown),
		cmocka_unit_test_setup_teardown(test_poll_us_zero_sleeps, setup_not_polling,
						fixture_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
