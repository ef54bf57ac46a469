/* Deadlines of host-initiated connections awaiting the guest's answer to
 * their REQUEST.  Every such connection gets the same timeout, so a FIFO
 * in creation order is also in deadline order: O(1) to add and remove, and
 * one timerfd set for the oldest deadline serves them all.
 *
 * The timer is armed when a connection arrives and finds it idle, and
 * re-armed only when it fires and connections still wait.  Answered
 * connections leave the FIFO without touching it, so a busy stream of
 * connections costs about one timerfd_settime per timeout period; once
 * nothing waits it fires at most once more and then stays idle. */
#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "device_priv.h"
#include "env_ms.h"
#include "log.h"

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void timer_arm(struct vsock_device *dev, int64_t deadline_ms)
{
	struct itimerspec its = {
		.it_value = {.tv_sec = deadline_ms / 1000,
			     .tv_nsec = (deadline_ms % 1000) * 1000000},
	};

	if (timerfd_settime(dev->request_timer_ev.fd, TFD_TIMER_ABSTIME, &its, NULL) < 0) {
		log_warn_rl("request timer: timerfd_settime: %s", strerror(errno));
		return;
	}
	dev->request_timer_armed = true;
}

/* The guest never answered: the host client is closed without "OK".  A
 * guest that got the REQUEST is owed an RST (its late RESPONSE then finds
 * no connection and is answered with an RST too); one that never got it
 * never hears of the connection. */
static void expire(struct vsock_device *dev, struct conn *c)
{
	log_info_rl("guest port %u did not answer a host connection within %u ms; "
		    "closing the host side", c->key.peer_port, dev->request_timeout_ms);
	if (c->pending & CONN_PEND_REQUEST)
		device_conn_drop(dev, c);
	else
		device_conn_reset(dev, c);
}

static void timer_fired(struct ev_source *src, uint32_t events)
{
	struct vsock_device *dev = container_of(src, struct vsock_device, request_timer_ev);
	uint64_t expirations;
	int64_t now;

	(void)events;
	if (read(src->fd, &expirations, sizeof(expirations)) < 0 && errno == EAGAIN)
		return;
	dev->request_timer_armed = false;
	now = now_ms();
	/* Each expiry takes the head out of the FIFO. */
	while (dev->waiting_head && dev->waiting_head->answer_deadline_ms <= now)
		expire(dev, dev->waiting_head);
	if (dev->waiting_head)
		timer_arm(dev, dev->waiting_head->answer_deadline_ms);
}

int device_deadline_open(struct vsock_device *dev)
{
	int rc;

	dev->request_timeout_ms = DEVICE_REQUEST_TIMEOUT_MS;
	if (!env_ms_override(DEVICE_REQUEST_TIMEOUT_ENV, &dev->request_timeout_ms))
		return -1;
	dev->request_timer_ev = (struct ev_source){
		.handler = timer_fired,
		.fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC),
	};
	if (dev->request_timer_ev.fd < 0) {
		log_err("cid %llu: timerfd: %s", (unsigned long long)dev->guest_cid,
			strerror(errno));
		return -1;
	}
	rc = ev_set(dev->epfd, &dev->request_timer_ev, EPOLLIN);
	if (rc < 0) {
		log_err("cid %llu: epoll for the request timer: %s",
			(unsigned long long)dev->guest_cid, strerror(-rc));
		return -1;
	}
	return 0;
}

void device_deadline_close(struct vsock_device *dev)
{
	if (dev->request_timer_ev.fd < 0)
		return;
	ev_set(dev->epfd, &dev->request_timer_ev, 0);
	close(dev->request_timer_ev.fd);
	dev->request_timer_ev.fd = -1;
}

void device_deadline_start(struct vsock_device *dev, struct conn *c)
{
	c->answer_deadline_ms = now_ms() + dev->request_timeout_ms;
	c->wait_next = NULL;
	c->wait_prev = dev->waiting_tail;
	if (dev->waiting_tail)
		dev->waiting_tail->wait_next = c;
	else
		dev->waiting_head = c;
	dev->waiting_tail = c;
	c->awaiting_answer = true;
	/* An armed timer fires no later than this deadline: it is either the
	 * head's, or an older one that re-arms for the head. */
	if (!dev->request_timer_armed)
		timer_arm(dev, c->answer_deadline_ms);
}

void device_deadline_cancel(struct vsock_device *dev, struct conn *c)
{
	if (!c->awaiting_answer)
		return;
	if (c->wait_prev)
		c->wait_prev->wait_next = c->wait_next;
	else
		dev->waiting_head = c->wait_next;
	if (c->wait_next)
		c->wait_next->wait_prev = c->wait_prev;
	else
		dev->waiting_tail = c->wait_prev;
	c->wait_prev = c->wait_next = NULL;
	c->awaiting_answer = false;
}
