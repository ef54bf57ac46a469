/* Deadlines of host-initiated connections awaiting the guest's answer to
 * their REQUEST: how long the guest has, and what happens when it does not
 * answer.  They wait in a deadline FIFO (fifo_timer.h), so answered
 * connections leave it without touching the timer, and a busy stream of
 * connections costs about one timerfd_settime per timeout period.  The
 * FIFO's length is what max-pending bounds. */
#include "device_priv.h"
#include "env_ms.h"
#include "log.h"

static void answer_overdue(struct deadline *d)
{
	struct conn *c = container_of(d, struct conn, answer_deadline);
	struct vsock_device *dev = c->dev;

	log_info_rl("guest port %u did not answer a host connection within %u ms; "
		    "closing the host side", c->key.peer_port, dev->waiting.timeout_ms);
	stats_count(&dev->stats, STAT_REFUSED_TIMEOUT, 1);
	device_conn_abandon(dev, c);
}

int device_deadline_open(struct vsock_device *dev)
{
	unsigned timeout_ms = DEVICE_REQUEST_TIMEOUT_MS;

	if (!env_ms_override(DEVICE_REQUEST_TIMEOUT_ENV, &timeout_ms))
		return -1;
	return deadline_fifo_open(&dev->waiting, &dev->loop, timeout_ms, answer_overdue,
				  "request timer");
}

void device_deadline_close(struct vsock_device *dev)
{
	deadline_fifo_close(&dev->waiting);
}
