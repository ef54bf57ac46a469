/* When the TX ring is served.  Two flags of the device say it, and only
 * the events below set them: TX is due (a kick, a queue start, work for the
 * park) or blocked (control replies must drain first).  A packet that
 * found no room in the park stays in the ring: room comes only from the
 * park's own pass, which the park's events make due.  device_pump() acts
 * on them after every event batch. */
#include "device_priv.h"

void device_tx_kicked(struct vsock_device *dev)
{
	dev->tx_due = true;
}

void device_tx_park_ready(struct vsock_device *dev)
{
	dev->tx_due = true;
}

void device_tx_pass_done(struct vsock_device *dev, bool ctrl_full)
{
	dev->tx_blocked = ctrl_full;
}

void device_tx_guest_forgotten(struct vsock_device *dev)
{
	dev->tx_blocked = false;
}

void device_tx_frontend_gone(struct vsock_device *dev)
{
	device_tx_guest_forgotten(dev);
	dev->tx_due = false;
}

void device_pump(struct vsock_device *dev)
{
	do {
		if (dev->tx_due || (dev->tx_blocked && !ctrl_queue_full(&dev->ctrl))) {
			dev->tx_due = false;
			device_process_tx(dev);
		}
		device_process_rx(dev);
		/* Replies drained enough to take more TX packets? */
	} while (dev->tx_blocked && !ctrl_queue_full(&dev->ctrl));
	/* Both interrupts at the end, back to back: a guest waiting for RX
	 * data wakes once, not first for its TX completions and then again
	 * after the host socket reads. */
	virtq_notify(&dev->vu.vq[VU_QUEUE_RX]);
	virtq_notify(&dev->vu.vq[VU_QUEUE_TX]);
}
