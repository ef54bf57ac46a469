/* Adaptive polling in front of epoll_wait. */
#ifndef VSOCK_EPOLL_POLL_H
#define VSOCK_EPOLL_POLL_H

#include <stdint.h>
#include <sys/epoll.h>

struct epoll_poller {
	uint64_t max_ns;  /* 0: never poll */
	uint64_t poll_ns; /* current polling window */
};

void epoll_poller_init(struct epoll_poller *p, uint64_t max_ns);

/* epoll_wait(epfd, events, max, -1), but first, while recent waits were
 * short, polls without sleeping for up to the current window, yielding the CPU
 * between empty polls. */
int epoll_poller_wait(struct epoll_poller *p, int epfd, struct epoll_event *events,
		      int max);

#endif
