/* --poll-us reaches the device thread: in a back-and-forth exchange whose
 * turns come within the window, a polling device thread catches the next
 * event while spinning instead of blocking for it.  Two daemons, one with
 * the largest window and one with --poll-us=0, run the same exchange
 * interleaved, so that whatever load the machine is under falls on both;
 * the test compares how often each one's device thread blocked (voluntary
 * context switches), which preemption does not count, rather than CPU time,
 * which depends on how much of a CPU the machine leaves the daemon. */
#include "rig_test.h"

#include <stdio.h>
#include <stdlib.h>

#define PORT 5200u
/* Round trips that let the polling window grow from its first few
 * microseconds to the length of a turn (it doubles per short wait). */
#define WARM_UP 20
#define ROUND_TRIPS 200

struct pair {
	void *polling;  /* a struct fixture with --poll-us 10000 */
	void *sleeping; /* the same with --poll-us 0 */
};

struct side {
	struct fixture *f;
	struct rig_conn *c;
	int hfd;
};

static int setup_daemon_with(void **state, const char *poll_us)
{
	const char *const extra[] = {"--poll-us", poll_us, NULL};

	if (fixture_setup_daemon_args(state, extra))
		return -1;
	fixture_open_rig(*state);
	return 0;
}

static int teardown_pair(void **state)
{
	struct pair *p = *state;
	int rc = 0;

	if (p->polling && fixture_teardown(&p->polling))
		rc = -1;
	if (p->sleeping && fixture_teardown(&p->sleeping))
		rc = -1;
	free(p);
	return rc;
}

static int setup_pair(void **state)
{
	struct pair *p = calloc(1, sizeof(*p));

	if (!p)
		return -1;
	*state = p;
	/* The largest window: only a turn delayed by over 10 ms closes it.
	 * cmocka skips the teardown of a failed setup, so clean up here. */
	if (setup_daemon_with(&p->polling, "10000") == 0 &&
	    setup_daemon_with(&p->sleeping, "0") == 0)
		return 0;
	teardown_pair(state);
	return -1;
}

static void open_side(struct side *s, void *fixture)
{
	s->f = fixture;
	assert_int_equal(rig_listen(s->f->rig, PORT), 0);
	s->hfd = rig_host_open(s->f->rig, s->f->d.uds_path, PORT, &s->c, T_MS);
	assert_true(s->hfd >= 0);
}

/* One byte from the host to the guest and back. */
static void round_trip(struct side *s)
{
	char byte = 'x';

	assert_int_equal(rig_host_write_all(s->f->rig, s->hfd, &byte, 1, T_MS), 0);
	assert_int_equal(rig_recv_wait(s->f->rig, s->c, &byte, 1, T_MS), 1);
	assert_int_equal(rig_send_all(s->f->rig, s->c, &byte, 1, T_MS), 0);
	assert_int_equal(rig_host_read_full(s->f->rig, s->hfd, &byte, 1, T_MS), 1);
}

static long blocks(struct side *s)
{
	return thread_voluntary_switches(s->f->d.pid, DEVICE_THREAD);
}

static void test_turns_within_the_window_are_polled(void **state)
{
	struct pair *p = *state;
	struct side polling, sleeping;
	long polling_blocks, sleeping_blocks;

	open_side(&polling, p->polling);
	open_side(&sleeping, p->sleeping);
	for (int i = 0; i < WARM_UP; i++) {
		round_trip(&polling);
		round_trip(&sleeping);
	}
	polling_blocks = blocks(&polling);
	sleeping_blocks = blocks(&sleeping);
	for (int i = 0; i < ROUND_TRIPS; i++) {
		round_trip(&polling);
		round_trip(&sleeping);
	}
	polling_blocks = blocks(&polling) - polling_blocks;
	sleeping_blocks = blocks(&sleeping) - sleeping_blocks;
	fprintf(stderr, "over %d round trips the device thread blocked %ld times polling, "
		"%ld times with --poll-us=0\n", ROUND_TRIPS, polling_blocks, sleeping_blocks);
	/* Without polling, the thread runs out of work twice a round trip and
	 * blocks unless the test's answer is already there. */
	assert_true(sleeping_blocks >= ROUND_TRIPS);
	/* Polling, it blocks only when a turn took longer than the window
	 * (the test preempted for over 10 ms), and a few times after that
	 * while the window grows back. */
	assert_true(polling_blocks * 2 <= sleeping_blocks);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_turns_within_the_window_are_polled,
						setup_pair, teardown_pair),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
