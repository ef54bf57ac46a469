#include "ev.h"

#include <errno.h>
#include <sys/epoll.h>

int ev_set(int epfd, struct ev_source *src, uint32_t events)
{
	struct epoll_event ev = {.events = events, .data.ptr = src};
	int op;

	if (events == src->events)
		return 0;
	if (events == 0)
		op = EPOLL_CTL_DEL;
	else if (src->events == 0)
		op = EPOLL_CTL_ADD;
	else
		op = EPOLL_CTL_MOD;
	if (epoll_ctl(epfd, op, src->fd, &ev) < 0)
		return -errno;
	src->events = events;
	return 0;
}
