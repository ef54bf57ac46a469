/* Deadlines of host-initiated connections awaiting the guest's answer to
 * their REQUEST.  Every such connection gets the same timeout, so a FIFO
 * in creation order is also in deadline order: O(1) to add and remove, and
 * one timer set for the oldest deadline serves them all (fifo_timer.h).
 * Answered connections leave the FIFO without touching the timer, so a
 * busy stream of connections costs about one timerfd_settime per timeout
 * period. */
#include "device_priv.h"
#include "env_ms.h"
#include "log.h"
#include "mono_time.h"

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
	struct vsock_device *dev = container_of(src, struct vsock_device, request_timer.ev);
	int64_t now;

	(void)events;
	if (!fifo_timer_fired(&dev->request_timer))
		return;
	now = mono_ms();
	/* Each expiry takes the head out of the FIFO. */
	while (dev->waiting_head && dev->waiting_head->answer_deadline_ms <= now)
		expire(dev, dev->waiting_head);
	if (dev->waiting_head)
		fifo_timer_rearm(&dev->request_timer, dev->waiting_head->answer_deadline_ms);
}

int device_deadline_open(struct vsock_device *dev)
{
	dev->request_timeout_ms = DEVICE_REQUEST_TIMEOUT_MS;
	if (!env_ms_override(DEVICE_REQUEST_TIMEOUT_ENV, &dev->request_timeout_ms))
		return -1;
	return fifo_timer_open(&dev->request_timer, dev->epfd, timer_fired, "request timer");
}

void device_deadline_close(struct vsock_device *dev)
{
	fifo_timer_close(&dev->request_timer);
}

void device_deadline_start(struct vsock_device *dev, struct conn *c)
{
	c->answer_deadline_ms = mono_ms() + dev->request_timeout_ms;
	c->wait_next = NULL;
	c->wait_prev = dev->waiting_tail;
	if (dev->waiting_tail)
		dev->waiting_tail->wait_next = c;
	else
		dev->waiting_head = c;
	dev->waiting_tail = c;
	c->awaiting_answer = true;
	fifo_timer_entry_added(&dev->request_timer, c->answer_deadline_ms);
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
