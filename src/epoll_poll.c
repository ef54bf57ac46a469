/* Adaptive polling, as QEMU's event loop does it: a thread whose events
 * usually come soon after it runs out of work spins on epoll_wait(0) for a
 * short window before sleeping.  Spinning costs CPU, but a sleeping thread
 * costs a wakeup per event, and on these small virtual hosts a wakeup that
 * crosses CPUs costs tens of microseconds.  The window grows while blocking
 * waits end within max_ns and drops to zero after a longer one, so an idle
 * device never polls.
 *
 * Between empty polls the thread yields: the guest's vCPU or the host peer
 * it is waiting for may be runnable on this very CPU (with three busy
 * parties on two CPUs, two share one), and a spinner that kept the CPU
 * would delay the event it waits for.  With nothing else runnable on the
 * CPU, sched_yield() returns at once. */
#include "epoll_poll.h"

#include <sched.h>

#include "mono_time.h"

#define POLL_NS_FIRST 4000u

void epoll_poller_init(struct epoll_poller *p, uint64_t max_ns)
{
	*p = (struct epoll_poller){.max_ns = max_ns};
}

int epoll_poller_wait(struct epoll_poller *p, int epfd, struct epoll_event *events,
		      int max)
{
	uint64_t start, waited;
	int n;

	if (p->max_ns == 0)
		return epoll_wait(epfd, events, max, -1);
	start = mono_ns();
	while (p->poll_ns) {
		n = epoll_wait(epfd, events, max, 0);
		if (n != 0)
			return n;
		if (mono_ns() - start >= p->poll_ns)
			break;
		sched_yield();
	}
	n = epoll_wait(epfd, events, max, -1);
	waited = mono_ns() - start;
	if (waited > p->max_ns) {
		p->poll_ns = 0;
	} else {
		uint64_t next = p->poll_ns ? p->poll_ns * 2 : POLL_NS_FIRST;

		p->poll_ns = next < p->max_ns ? next : p->max_ns;
	}
	return n;
}
