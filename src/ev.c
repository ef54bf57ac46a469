#include "ev.h"

#include <errno.h>
#include <string.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "log.h"

static void resume_paused(struct ev_source *src, uint32_t events)
{
	struct ev_loop *loop = container_of(src, struct ev_loop, resume);
	uint64_t expirations;

	(void)events;
	if (read(src->fd, &expirations, sizeof(expirations)) < 0)
		return;
	while (!SLIST_EMPTY(&loop->paused)) {
		struct ev_source *p = SLIST_FIRST(&loop->paused);
		int rc;

		SLIST_REMOVE_HEAD(&loop->paused, link);
		p->paused = false;
		rc = ev_set(loop, p, EPOLLIN);
		if (rc < 0)
			log_warn_rl("epoll: cannot watch a listener again: %s", strerror(-rc));
	}
}

static const struct ev_ops resume_ops = {.handle = resume_paused};

int ev_loop_init(struct ev_loop *loop)
{
	SLIST_INIT(&loop->retired);
	SLIST_INIT(&loop->paused);
	loop->resume = (struct ev_source){
		.ops = &resume_ops,
		.fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC),
	};
	loop->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (loop->epfd < 0 || loop->resume.fd < 0)
		return -errno;
	return ev_set(loop, &loop->resume, EPOLLIN);
}

void ev_loop_fini(struct ev_loop *loop)
{
	ev_loop_reap(loop);
	SLIST_INIT(&loop->paused);
	ev_close(&loop->resume);
	if (loop->epfd >= 0)
		close(loop->epfd);
	loop->epfd = -1;
}

int ev_set(struct ev_loop *loop, struct ev_source *src, uint32_t events)
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
	if (epoll_ctl(loop->epfd, op, src->fd, &ev) < 0)
		return -errno;
	src->events = events;
	return 0;
}

void ev_close(struct ev_source *src)
{
	if (src->fd < 0)
		return;
	close(src->fd);
	src->fd = -1;
	src->events = 0;
}

void ev_retire(struct ev_loop *loop, struct ev_source *src)
{
	if (src->paused) {
		SLIST_REMOVE(&loop->paused, src, ev_source, link);
		src->paused = false;
	}
	ev_set(loop, src, 0);
	/* Even if the DEL failed, events for it are no longer dispatched. */
	src->events = 0;
	SLIST_INSERT_HEAD(&loop->retired, src, link);
}

void ev_pause(struct ev_loop *loop, struct ev_source *src)
{
	const struct itimerspec in = {.it_value = {.tv_nsec = EV_PAUSE_MS * 1000000L}};

	if (src->paused)
		return;
	ev_set(loop, src, 0);
	/* Dispatch skips it from now on, even if the DEL failed. */
	src->events = 0;
	if (SLIST_EMPTY(&loop->paused) && timerfd_settime(loop->resume.fd, 0, &in, NULL) < 0)
		log_warn_rl("timerfd_settime: %s", strerror(errno));
	SLIST_INSERT_HEAD(&loop->paused, src, link);
	src->paused = true;
}

void ev_dispatch(const struct epoll_event *events, int n)
{
	for (int i = 0; i < n; i++) {
		struct ev_source *src = events[i].data.ptr;
		/* An earlier handler of this batch may have changed, dropped or
		 * retired the interest: act only on what is still asked. */
		uint32_t ev = events[i].events & (src->events | EPOLLERR | EPOLLHUP);

		if (src->events && ev)
			src->ops->handle(src, ev);
	}
}

void ev_loop_reap(struct ev_loop *loop)
{
	while (!SLIST_EMPTY(&loop->retired)) {
		struct ev_source *src = SLIST_FIRST(&loop->retired);

		SLIST_REMOVE_HEAD(&loop->retired, link);
		src->ops->release(src);
	}
}
