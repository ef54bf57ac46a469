/* Event sources of a device's epoll loop.  Every object that owns an fd in
 * the loop embeds a struct ev_source and registers it as epoll data.ptr, so
 * dispatch is one indirect call and no fd -> object lookup is needed. */
#ifndef VSOCK_EV_H
#define VSOCK_EV_H

#include <stdint.h>

struct ev_source;
typedef void (*ev_handler)(struct ev_source *src, uint32_t events);

struct ev_source {
	ev_handler handler;
	int fd;
	uint32_t events; /* interest currently registered; 0 = not registered */
};

/* Thin wrappers over epoll_ctl that keep src->events authoritative.
 * ev_set() adds, modifies or removes (events == 0) as needed and is a no-op
 * when the interest does not change.  They return 0 or -errno. */
int ev_set(int epfd, struct ev_source *src, uint32_t events);

#endif
