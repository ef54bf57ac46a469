/* Deadlines of host-initiated connections awaiting the guest's answer to
 * their REQUEST.  Every such connection gets the same timeout, so a FIFO
 * in creation order is also in deadline order: O(1) to add and remove, and
 * one timer set for the oldest deadline serves them all (fifo_timer.h).
 * Answered connections leave the FIFO without touching the timer, so a
 * busy stream of connections costs about one timerfd_settime per timeout
 * period.  The FIFO's length is what max-pending bounds. */
#include "device_priv.h"
#include "env_ms.h"
#include "log.h"
#include "mono_time.h"

static void timer_fired(struct ev_source *src, uint32_t events)
{
	struct vsock_device *dev = container_of(src, struct vsock_device, request_timer.ev);
	int64_t now;

	(void)events;
	if (!fifo_timer_fired(&dev->request_timer))
		return;
	now = mono_ms();
	/* Each expiry takes the head out of the FIFO. */
	while (!TAILQ_EMPTY(&dev->waiting) &&
	       TAILQ_FIRST(&dev->waiting)->answer_deadline_ms <= now) {
		struct conn *c = TAILQ_FIRST(&dev->waiting);

		log_info_rl("guest port %u did not answer a host connection within %u ms; "
			    "closing the host side", c->key.peer_port, dev->request_timeout_ms);
		device_conn_abandon(dev, c);
	}
	if (!TAILQ_EMPTY(&dev->waiting))
		fifo_timer_rearm(&dev->request_timer,
				 TAILQ_FIRST(&dev->waiting)->answer_deadline_ms);
}

static const struct ev_ops timer_ops = {.handle = timer_fired};

int device_deadline_open(struct vsock_device *dev)
{
	dev->request_timeout_ms = DEVICE_REQUEST_TIMEOUT_MS;
	if (!env_ms_override(DEVICE_REQUEST_TIMEOUT_ENV, &dev->request_timeout_ms))
		return -1;
	return fifo_timer_open(&dev->request_timer, &dev->loop, &timer_ops, "request timer");
}

void device_deadline_close(struct vsock_device *dev)
{
	fifo_timer_close(&dev->request_timer);
}

void device_deadline_start(struct vsock_device *dev, struct conn *c)
{
	c->answer_deadline_ms = mono_ms() + dev->request_timeout_ms;
	TAILQ_INSERT_TAIL(&dev->waiting, c, wait_link);
	dev->n_waiting++;
	c->awaiting_answer = true;
	fifo_timer_entry_added(&dev->request_timer, c->answer_deadline_ms);
}

void device_deadline_cancel(struct vsock_device *dev, struct conn *c)
{
	if (!c->awaiting_answer)
		return;
	TAILQ_REMOVE(&dev->waiting, c, wait_link);
	dev->n_waiting--;
	c->awaiting_answer = false;
}
