#include "fifo_timer.h"

#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "log.h"
#include "mono_time.h"

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

static void deadline_fifo_fired(struct ev_source *src, uint32_t events)
{
	struct deadline_fifo *f = container_of(src, struct deadline_fifo, timer.ev);
	int64_t now;

	(void)events;
	if (!fifo_timer_fired(&f->timer))
		return;
	now = mono_ms();
	while (!TAILQ_EMPTY(&f->entries) && TAILQ_FIRST(&f->entries)->at_ms <= now) {
		struct deadline *d = TAILQ_FIRST(&f->entries);

		deadline_fifo_remove(f, d);
		f->expire(d);
	}
	if (!TAILQ_EMPTY(&f->entries))
		fifo_timer_rearm(&f->timer, TAILQ_FIRST(&f->entries)->at_ms);
}

static const struct ev_ops deadline_fifo_ops = {.handle = deadline_fifo_fired};

int deadline_fifo_open(struct deadline_fifo *f, struct ev_loop *loop, unsigned timeout_ms,
		       void (*expire)(struct deadline *d), const char *name)
{
	f->count = 0;
	f->timeout_ms = timeout_ms;
	f->expire = expire;
	TAILQ_INIT(&f->entries);
	return fifo_timer_open(&f->timer, loop, &deadline_fifo_ops, name);
}

void deadline_fifo_close(struct deadline_fifo *f)
{
	fifo_timer_close(&f->timer);
}

void deadline_fifo_add(struct deadline_fifo *f, struct deadline *d)
{
	d->at_ms = mono_ms() + f->timeout_ms;
	TAILQ_INSERT_TAIL(&f->entries, d, link);
	d->queued = true;
	f->count++;
	fifo_timer_entry_added(&f->timer, d->at_ms);
}

void deadline_fifo_remove(struct deadline_fifo *f, struct deadline *d)
{
	if (!d->queued)
		return;
	TAILQ_REMOVE(&f->entries, d, link);
	d->queued = false;
	f->count--;
}
