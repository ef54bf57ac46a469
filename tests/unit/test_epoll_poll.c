/* The adaptive poller in front of epoll_wait: the window grows while
 * blocking waits end within the limit, drops to zero after a longer one,
 * events that come while polling are returned without sleeping, and a
 * limit of 0 never polls.
 *
 * The poller decides from how long its waits took, and on a loaded machine
 * a descheduled test makes any real wait as long as it likes.  So the
 * poller's clock (mono_ns() reads clock_gettime) and its epoll_wait calls
 * are wrapped (-Wl,--wrap, see meson.build): each test says when its event
 * comes, in simulated time, and checks what the poller did, counted in
 * epoll_wait calls that spin (timeout 0) and that sleep (timeout -1), and
 * in sched_yield calls between spins.  One test runs the real calls, for
 * the plumbing only. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "epoll_poll.h"

#define LIMIT_NS (20u * 1000 * 1000)
#define FIRST_NS 4000u /* the first window after a short wait */
#define SPIN_NS 1000u  /* simulated time one non-blocking epoll_wait takes */

int __real_clock_gettime(clockid_t clk, struct timespec *ts);
int __wrap_clock_gettime(clockid_t clk, struct timespec *ts);
int __real_epoll_wait(int epfd, struct epoll_event *events, int max, int timeout);
int __wrap_epoll_wait(int epfd, struct epoll_event *events, int max, int timeout);
int __real_sched_yield(void);
int __wrap_sched_yield(void);

static struct {
	bool on;           /* false: the wrappers pass through */
	uint64_t now;      /* CLOCK_MONOTONIC, ns */
	uint64_t event_at; /* when the next event comes */
	unsigned spins, sleeps, yields;
} sim;

int __wrap_clock_gettime(clockid_t clk, struct timespec *ts)
{
	if (!sim.on || clk != CLOCK_MONOTONIC)
		return __real_clock_gettime(clk, ts);
	ts->tv_sec = (time_t)(sim.now / 1000000000u);
	ts->tv_nsec = (long)(sim.now % 1000000000u);
	return 0;
}

int __wrap_epoll_wait(int epfd, struct epoll_event *events, int max, int timeout)
{
	if (!sim.on)
		return __real_epoll_wait(epfd, events, max, timeout);
	assert_true(max >= 1);
	if (timeout == 0) {
		sim.spins++;
		if (sim.now < sim.event_at) {
			sim.now += SPIN_NS;
			return 0;
		}
	} else {
		assert_int_equal(timeout, -1);
		sim.sleeps++;
		if (sim.now < sim.event_at)
			sim.now = sim.event_at;
	}
	events[0] = (struct epoll_event){.events = EPOLLIN};
	return 1;
}

int __wrap_sched_yield(void)
{
	if (!sim.on)
		return __real_sched_yield();
	sim.yields++;
	return 0;
}

static int sim_setup(void **state)
{
	(void)state;
	sim.on = true;
	sim.now = 1000000000u;
	return 0;
}

static int sim_teardown(void **state)
{
	(void)state;
	sim.on = false;
	return 0;
}

/* One wait whose event comes after_ns after the call; the counts are the
 * wait's own. */
static void wait_event_after(struct epoll_poller *p, uint64_t after_ns)
{
	struct epoll_event ev;

	sim.event_at = sim.now + after_ns;
	sim.spins = sim.sleeps = sim.yields = 0;
	assert_int_equal(epoll_poller_wait(p, -1, &ev, 1), 1);
}

/* Each event comes just after the window: polling misses it, the thread
 * sleeps briefly, and the window grows (doubling) up to the limit. */
static void grow_to_limit(struct epoll_poller *p)
{
	uint64_t want = p->poll_ns;

	while (want < p->max_ns) {
		bool polled = p->poll_ns > 0;

		wait_event_after(p, p->poll_ns + 100 * 1000);
		want = want ? 2 * want : FIRST_NS;
		if (want > p->max_ns)
			want = p->max_ns;
		assert_int_equal(p->poll_ns, want);
		assert_int_equal(sim.spins > 0, polled);
		assert_int_equal(sim.sleeps, 1);
	}
}

static void test_short_waits_grow_window_to_limit(void **state)
{
	struct epoll_poller p;

	(void)state;
	epoll_poller_init(&p, LIMIT_NS);
	assert_int_equal(p.poll_ns, 0);
	grow_to_limit(&p);
	assert_int_equal(p.poll_ns, LIMIT_NS);
}

static void test_long_wait_stops_polling(void **state)
{
	struct epoll_poller p;

	(void)state;
	epoll_poller_init(&p, LIMIT_NS);
	wait_event_after(&p, 1000);
	assert_int_equal(p.poll_ns, FIRST_NS);
	/* Longer than the limit: polling would only have burnt CPU. */
	wait_event_after(&p, 3 * LIMIT_NS);
	assert_int_equal(p.poll_ns, 0);
	/* The next wait sleeps at once, and a short one starts over. */
	wait_event_after(&p, 1000);
	assert_int_equal(sim.spins, 0);
	assert_int_equal(p.poll_ns, FIRST_NS);
}

static void test_event_while_polling_keeps_window(void **state)
{
	struct epoll_poller p;

	(void)state;
	epoll_poller_init(&p, LIMIT_NS);
	grow_to_limit(&p);
	wait_event_after(&p, LIMIT_NS / 2);
	assert_true(sim.spins > 0);
	assert_int_equal(sim.sleeps, 0);
	/* Each empty poll gave the CPU away; the one that found it did not. */
	assert_int_equal(sim.yields, sim.spins - 1);
	assert_int_equal(p.poll_ns, LIMIT_NS);
}

static void test_limit_zero_never_polls(void **state)
{
	struct epoll_poller p;

	(void)state;
	epoll_poller_init(&p, 0);
	wait_event_after(&p, 1000);
	assert_int_equal(sim.spins, 0);
	assert_int_equal(sim.yields, 0);
	assert_int_equal(sim.sleeps, 1);
	wait_event_after(&p, 50 * 1000 * 1000);
	assert_int_equal(sim.spins, 0);
	assert_int_equal(sim.sleeps, 1);
	assert_int_equal(p.poll_ns, 0);
}

/* A wait that outlasts the window spins for the whole window, then sleeps;
 * once the window has dropped to zero it sleeps at once. */
static void test_polling_spins_then_sleeps(void **state)
{
	struct epoll_poller p;

	(void)state;
	epoll_poller_init(&p, LIMIT_NS);
	grow_to_limit(&p);
	wait_event_after(&p, 100 * 1000 * 1000);
	assert_int_equal(sim.spins, LIMIT_NS / SPIN_NS);
	/* Between polls, not after the last one: the thread sleeps next. */
	assert_int_equal(sim.yields, sim.spins - 1);
	assert_int_equal(sim.sleeps, 1);
	assert_int_equal(p.poll_ns, 0);
	wait_event_after(&p, 50 * 1000 * 1000);
	assert_int_equal(sim.spins, 0);
	assert_int_equal(sim.sleeps, 1);
}

/* The real calls: a pending event comes back, polling or not (no timing
 * is checked, so load cannot fail it). */
static void test_real_epoll_returns_event(void **state)
{
	int epfd = epoll_create1(EPOLL_CLOEXEC);
	int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	struct epoll_event ev = {.events = EPOLLIN};
	uint64_t one = 1;

	(void)state;
	assert_true(epfd >= 0 && efd >= 0);
	ev.data.fd = efd;
	assert_int_equal(epoll_ctl(epfd, EPOLL_CTL_ADD, efd, &ev), 0);
	assert_int_equal(write(efd, &one, sizeof(one)), sizeof(one));
	for (int l = 0; l < 2; l++) {
		struct epoll_poller p;

		epoll_poller_init(&p, l ? LIMIT_NS : 0);
		for (int i = 0; i < 3; i++) {
			ev.data.fd = -1;
			assert_int_equal(epoll_poller_wait(&p, epfd, &ev, 1), 1);
			assert_int_equal(ev.data.fd, efd);
		}
	}
	close(efd);
	close(epfd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, sim_setup, sim_teardown)
		T(test_short_waits_grow_window_to_limit),
		T(test_long_wait_stops_polling),
		T(test_event_while_polling_keeps_window),
		T(test_limit_zero_never_polls),
		T(test_polling_spins_then_sleeps),
#undef T
		cmocka_unit_test(test_real_epoll_returns_event),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
