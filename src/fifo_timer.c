#include "fifo_timer.h"

#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "log.h"

int fifo_timer_open(struct fifo_timer *t, struct ev_loop *loop, const struct ev_ops *ops,
		    const char *name)
{
	int rc;

	*t = (struct fifo_timer){
		.ev = {.ops = ops,
		       .fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC)},
		.loop = loop,
		.name = name,
	};
	if (t->ev.fd < 0) {
		rc = -errno;
		log_err("%s: timerfd: %s", name, strerror(errno));
		return rc;
	}
	rc = ev_set(loop, &t->ev, EPOLLIN);
	if (rc < 0) {
		log_err("%s: epoll for its timer: %s", name, strerror(-rc));
		close(t->ev.fd);
		t->ev.fd = -1;
	}
	return rc;
}

void fifo_timer_close(struct fifo_timer *t)
{
	if (t->ev.fd < 0)
		return;
	ev_set(t->loop, &t->ev, 0);
	ev_close(&t->ev);
}

void fifo_timer_rearm(struct fifo_timer *t, int64_t deadline_ms)
{
	struct itimerspec its = {
		.it_value = {.tv_sec = deadline_ms / 1000,
			     .tv_nsec = (deadline_ms % 1000) * 1000000},
	};

	if (timerfd_settime(t->ev.fd, TFD_TIMER_ABSTIME, &its, NULL) < 0) {
		log_warn_rl("%s: timerfd_settime: %s", t->name, strerror(errno));
		return;
	}
	t->armed = true;
}

void fifo_timer_entry_added(struct fifo_timer *t, int64_t deadline_ms)
{
	if (!t->armed)
		fifo_timer_rearm(t, deadline_ms);
}

bool fifo_timer_fired(struct fifo_timer *t)
{
	uint64_t expirations;

	if (read(t->ev.fd, &expirations, sizeof(expirations)) < 0 && errno == EAGAIN)
		return false;
	t->armed = false;
	return true;
}
