/* The adaptive poller in front of epoll_wait: the window grows while
 * blocking waits end within the limit, drops to zero after a longer one,
 * events that come while polling are returned without sleeping, and a
 * limit of 0 never polls. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdint.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "epoll_poll.h"

#define LIMIT_NS (20u * 1000 * 1000) /* generous: sanitizers, loaded CI */

struct fixture {
	int epfd, timer, efd;
};

static int setup(void **state)
{
	static struct fixture f;
	struct epoll_event ev = {.events = EPOLLIN};

	f.epfd = epoll_create1(EPOLL_CLOEXEC);
	f.timer = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	f.efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (f.epfd < 0 || f.timer < 0 || f.efd < 0)
		return -1;
	ev.data.fd = f.timer;
	if (epoll_ctl(f.epfd, EPOLL_CTL_ADD, f.timer, &ev) < 0)
		return -1;
	ev.data.fd = f.efd;
	if (epoll_ctl(f.epfd, EPOLL_CTL_ADD, f.efd, &ev) < 0)
		return -1;
	*state = &f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	close(f->epfd);
	close(f->timer);
	close(f->efd);
	return 0;
}

/* The timer fires after ns; returns how many events the wait got. */
static int wait_for_timer(struct fixture *f, struct epoll_poller *p, uint64_t ns)
{
	struct itimerspec its = {.it_value = {.tv_sec = (time_t)(ns / 1000000000u),
					      .tv_nsec = (long)(ns % 1000000000u)}};
	struct epoll_event ev;
	uint64_t expirations;
	int n;

	assert_int_equal(timerfd_settime(f->timer, 0, &its, NULL), 0);
	n = epoll_poller_wait(p, f->epfd, &ev, 1);
	assert_int_equal(n, 1);
	assert_int_equal(ev.data.fd, f->timer);
	assert_int_equal(read(f->timer, &expirations, sizeof(expirations)),
			 sizeof(expirations));
	return n;
}

/* Each event comes just after the window: polling misses it, the thread
 * blocks briefly, and the window grows (doubling) up to the limit.  On a
 * loaded machine a preempted poll may still catch an event (no growth), so
 * only the outcome is checked, within a bounded number of waits. */
static void grow_to_limit(struct fixture *f, struct epoll_poller *p)
{
	for (int i = 0; i < 200 && p->poll_ns < p->max_ns; i++) {
		wait_for_timer(f, p, p->poll_ns + 100 * 1000);
		assert_true(p->poll_ns <= p->max_ns);
	}
	assert_int_equal(p->poll_ns, p->max_ns);
}

static void test_short_waits_grow_window_to_limit(void **state)
{
	struct fixture *f = *state;
	struct epoll_poller p;

	epoll_poller_init(&p, LIMIT_NS);
	assert_int_equal(p.poll_ns, 0);
	grow_to_limit(f, &p);
	assert_int_equal(p.poll_ns, LIMIT_NS);
}

static void test_long_wait_stops_polling(void **state)
{
	struct fixture *f = *state;
	struct epoll_poller p;

	epoll_poller_init(&p, LIMIT_NS);
	wait_for_timer(f, &p, 1000);
	assert_true(p.poll_ns > 0);
	/* Longer than the limit: polling would only have burnt CPU. */
	wait_for_timer(f, &p, 3 * LIMIT_NS);
	assert_int_equal(p.poll_ns, 0);
}

static uint64_t thread_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void test_event_while_polling_keeps_window(void **state)
{
	struct fixture *f = *state;
	struct epoll_poller p;
	struct epoll_event ev;
	uint64_t one = 1, window;

	epoll_poller_init(&p, LIMIT_NS);
	wait_for_timer(f, &p, 1000);
	window = p.poll_ns;
	assert_int_equal(write(f->efd, &one, sizeof(one)), sizeof(one));
	assert_int_equal(epoll_poller_wait(&p, f->epfd, &ev, 1), 1);
	assert_int_equal(ev.data.fd, f->efd);
	assert_int_equal(p.poll_ns, window);
	assert_int_equal(read(f->efd, &one, sizeof(one)), sizeof(one));
}

/* With polling off the thread sleeps: a 50 ms wait costs next to no CPU. */
static void test_limit_zero_never_polls(void **state)
{
	struct fixture *f = *state;
	struct epoll_poller p;
	uint64_t cpu;

	epoll_poller_init(&p, 0);
	cpu = thread_cpu_ns();
	wait_for_timer(f, &p, 1000);
	wait_for_timer(f, &p, 50 * 1000 * 1000);
	assert_int_equal(p.poll_ns, 0);
	assert_true(thread_cpu_ns() - cpu < 10 * 1000 * 1000);
}

/* The window is spent spinning: a wait that outlasts it costs CPU (up to
 * the window; less on a loaded machine, where the spinner shares a CPU),
 * and next to none once the window has dropped to zero. */
static void test_polling_spins_then_sleeps(void **state)
{
	struct fixture *f = *state;
	struct epoll_poller p;
	uint64_t cpu;

	epoll_poller_init(&p, LIMIT_NS);
	grow_to_limit(f, &p);
	cpu = thread_cpu_ns();
	wait_for_timer(f, &p, 100 * 1000 * 1000);
	assert_true(thread_cpu_ns() - cpu >= LIMIT_NS / 10);
	assert_int_equal(p.poll_ns, 0);
	cpu = thread_cpu_ns();
	wait_for_timer(f, &p, 50 * 1000 * 1000);
	assert_true(thread_cpu_ns() - cpu < LIMIT_NS / 20);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_short_waits_grow_window_to_limit),
		cmocka_unit_test(test_long_wait_stops_polling),
		cmocka_unit_test(test_event_while_polling_keeps_window),
		cmocka_unit_test(test_limit_zero_never_polls),
		cmocka_unit_test(test_polling_spins_then_sleeps),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
