/* TX chains for sibling VMs whose mailbox is full.  Stopping the whole TX
 * ring for them would let one VM that never drains its mailbox stall every
 * VM that sends it anything, and all their other traffic with it.  Instead
 * the chain waits here, popped but not returned, while the device goes on
 * with the rest of the ring; packets for the same VM wait in order behind
 * it.  A chain leaves when that mailbox has room again (the router's
 * wakeup), or once it has waited the park timeout: then its connection is
 * reset (an RST to the guest).  When half the TX ring, or DEVICE_PARK_MAX
 * chains, wait already, a new packet for a full mailbox is answered that
 * way at once.  So a VM that stops draining delays only what is addressed
 * to it, and never for longer than the timeout. */
#include "device_priv.h"
#include "env_ms.h"
#include "log.h"
#include "mono_time.h"

static void timer_fired(struct ev_source *src, uint32_t events)
{
	struct vsock_device *dev = container_of(src, struct vsock_device, park.timer.ev);

	(void)events;
	if (!fifo_timer_fired(&dev->park.timer))
		return;
	dev->park.expired = true;
	dev->tx_due = true;
}

static const struct ev_ops timer_ops = {.handle = timer_fired};

int device_park_open(struct vsock_device *dev)
{
	dev->park.timeout_ms = DEVICE_PARK_TIMEOUT_MS;
	if (!env_ms_override(DEVICE_PARK_TIMEOUT_ENV, &dev->park.timeout_ms))
		return -1;
	return fifo_timer_open(&dev->park.timer, &dev->loop, &timer_ops, "sibling park timer");
}

void device_park_close(struct vsock_device *dev)
{
	fifo_timer_close(&dev->park.timer);
}

bool device_park_holds(const struct vsock_device *dev, uint64_t cid)
{
	for (unsigned i = 0; i < dev->park.count; i++)
		if (dev->park.pkt[i].dst_cid == cid)
			return true;
	return false;
}

bool device_park_add(struct vsock_device *dev, uint16_t head, uint32_t dst_cid)
{
	struct park *p = &dev->park;
	unsigned half_ring = dev->vu.vq[VU_QUEUE_TX].num / 2;
	int64_t deadline = mono_ms() + p->timeout_ms;

	if (p->count >= DEVICE_PARK_MAX || p->count >= half_ring)
		return false;
	p->pkt[p->count++] = (struct parked_pkt){deadline, dst_cid, head};
	fifo_timer_entry_added(&p->timer, deadline);
	return true;
}

void device_park_forget(struct vsock_device *dev)
{
	dev->park.count = 0;
	dev->park.retry = false;
	dev->park.expired = false;
}

/* VMs whose mailbox refused a parked packet during one pass: their later
 * packets keep waiting, so that packets to one VM stay in order. */
struct full_set {
	uint32_t cid[DEVICE_PARK_MAX];
	unsigned n;
};

static bool full_set_has(const struct full_set *f, uint32_t cid)
{
	for (unsigned i = 0; i < f->n; i++)
		if (f->cid[i] == cid)
			return true;
	return false;
}

/* Tries to deliver, or else to expire, one parked packet.  Returns true
 * when its chain went back to the guest. */
static bool settle(struct vsock_device *dev, struct virtq *vq, const struct parked_pkt *pk,
		   int64_t now, struct full_set *full)
{
	struct vsock_hdr hdr;
	bool overdue = pk->deadline_ms <= now;

	if (full_set_has(full, pk->dst_cid) || (!dev->park.retry && !overdue))
		goto wait;
	/* The guest may have rewritten the chain meanwhile: check it again. */
	if (virtq_reread(vq, pk->head, &dev->chain) != VQ_POP_OK ||
	    !device_tx_parse(&dev->chain, &hdr) || hdr.dst_cid != pk->dst_cid) {
		log_warn_rl("tx: a packet kept for cid %u changed in the ring; dropped",
			    pk->dst_cid);
		virtq_push(vq, pk->head, 0);
		return true;
	}
	if (device_sibling_send(dev, &hdr, &dev->chain) == SIBLING_DONE) {
		virtq_push(vq, pk->head, 0);
		return true;
	}
	if (overdue) {
		device_sibling_undeliverable(dev, &hdr, "its mailbox stayed full");
		virtq_push(vq, pk->head, 0);
		return true;
	}
wait:
	if (!full_set_has(full, pk->dst_cid))
		full->cid[full->n++] = pk->dst_cid;
	return false;
}

void device_park_process(struct vsock_device *dev, struct virtq *vq)
{
	struct park *p = &dev->park;
	struct full_set full = {.n = 0};
	unsigned kept = 0, i;
	int64_t now;

	if (!p->retry && !p->expired)
		return;
	now = mono_ms();
	/* Each settled packet may owe the guest an RST: stop while the
	 * control queue is full, and finish once it drained (tx_blocked). */
	for (i = 0; i < p->count && !ctrl_queue_full(&dev->ctrl); i++)
		if (!settle(dev, vq, &p->pkt[i], now, &full))
			p->pkt[kept++] = p->pkt[i];
	for (; i < p->count; i++)
		p->pkt[kept++] = p->pkt[i];
	p->count = kept;
	if (ctrl_queue_full(&dev->ctrl)) {
		dev->tx_blocked = true;
		return;
	}
	if (p->expired && p->count)
		fifo_timer_rearm(&p->timer, p->pkt[0].deadline_ms);
	p->retry = false;
	p->expired = false;
}
