/* TX packets for sibling VMs whose mailbox is full.  Stopping the whole TX
 * ring for them, as a first version did, let one VM that never drains its
 * mailbox stall every VM that sent it anything, and all their other
 * traffic with it.  Instead such a packet waits here while the device goes
 * on with the rest of the ring; later packets for the same VM queue behind
 * it, so that packets to one VM keep their order.
 *
 *  - A header alone (RST, RESPONSE, SHUTDOWN, credit: what a hostile VM can
 *    make its victims send it without limit) is copied, and its chain goes
 *    back to the guest at once.
 *  - A packet with a payload keeps its chain, popped but not returned, up
 *    to half the TX ring; past that the ring waits, which is the same
 *    back-pressure a slow receiver puts on the credit-bound data it is
 *    sent.
 *  - Each packet is kept with its header as checked when it came: a chain
 *    the guest rewrote meanwhile is dropped, not sent.
 *  - One VM may hold up a quarter of the park's headers and half its
 *    chains: past that its own packets are answered (headers) or wait in
 *    the ring (data), never the other VMs'.
 *
 * A packet leaves when its mailbox has room again (the router's wakeup),
 * or once it has waited the park timeout: then its connection is reset (an
 * RST to the guest) and that VM counts as stalled, so that what is sent to
 * it next is answered at once instead of waiting again, until a packet gets
 * through.  So a VM that stops draining delays only what is addressed to
 * it, and never for longer than the timeout. */

#include "cid_list.h"
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
	device_tx_park_ready(dev);
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

void device_park_forget(struct vsock_device *dev)
{
	struct park *p = &dev->park;

	p->count = p->chains = p->n_stalled = 0;
	p->retry = p->expired = false;
}

/* What waits for cid: headers alone and chains. */
struct queued {
	unsigned packets;
	unsigned chains;
};

static struct queued queued_for(const struct park *p, uint64_t cid)
{
	struct queued q = {0, 0};

	for (unsigned i = 0; i < p->count; i++) {
		if (p->pkt[i].hdr.dst_cid == cid) {
			q.packets++;
			q.chains += p->pkt[i].has_chain;
		}
	}
	return q;
}

static void add(struct park *p, const struct vsock_hdr *hdr, const struct vq_chain *chain)
{
	struct parked_pkt *pk = &p->pkt[p->count++];

	*pk = (struct parked_pkt){
		.deadline_ms = mono_ms() + p->timeout_ms,
		.hdr = *hdr,
		.head = chain ? chain->head : 0,
		.has_chain = chain != NULL,
	};
	p->chains += chain != NULL;
	fifo_timer_entry_added(&p->timer, pk->deadline_ms);
}

/* One try.  A stalled VM's full mailbox, or give_up, answers the packet at
 * once (and marks that VM stalled); only a delivery clears the mark. */
static bool send_once(struct vsock_device *dev, const struct vsock_hdr *hdr,
		      const struct vq_chain *chain, bool give_up)
{
	struct park *p = &dev->park;
	/* The router knows no CID wider than 32 bits: those never get here. */
	uint32_t cid = (uint32_t)hdr->dst_cid;

	switch (device_sibling_send(dev, hdr, chain)) {
	case SIBLING_DELIVERED:
		cid_list_remove(p->stalled, &p->n_stalled, cid);
		return true;
	case SIBLING_ANSWERED:
		return true;
	case SIBLING_FULL:
		break;
	}
	if (!give_up && !cid_list_has(p->stalled, p->n_stalled, cid))
		return false;
	device_sibling_undeliverable(dev, hdr, "its mailbox stayed full");
	/* At most DEVICE_PARK_MAX_STALLED marks: the oldest goes, and at
	 * worst that VM is waited for again. */
	cid_list_add(p->stalled, &p->n_stalled, DEVICE_PARK_MAX_STALLED, cid);
	return true;
}

/* Half the TX ring (at least one chain, so that a packet always has a
 * place and a timeout), at most DEVICE_PARK_MAX_CHAINS. */
static unsigned chain_room(const struct vsock_device *dev)
{
	unsigned half = dev->vu.vq[VU_QUEUE_TX].num / 2;

	if (half > DEVICE_PARK_MAX_CHAINS)
		return DEVICE_PARK_MAX_CHAINS;
	return half ? half : 1;
}

enum park_verdict device_park_send(struct vsock_device *dev, const struct vsock_hdr *hdr,
				   const struct vq_chain *chain)
{
	struct park *p = &dev->park;
	struct queued q = queued_for(p, hdr->dst_cid);
	unsigned room = chain_room(dev);

	if (!q.packets && send_once(dev, hdr, chain, false))
		return PARK_SENT;
	/* One VM's share of the park is all it can hold up: past it, its
	 * packets are answered, never the others'. */
	if (hdr->len == 0) {
		if (q.packets < DEVICE_PARK_MAX_PER_VM && p->count < DEVICE_PARK_MAX) {
			add(p, hdr, NULL);
			return PARK_COPIED;
		}
		device_sibling_undeliverable(dev, hdr, "too many packets wait for its mailbox");
		return PARK_SENT;
	}
	if (q.packets < DEVICE_PARK_MAX_PER_VM && p->count < DEVICE_PARK_MAX &&
	    q.chains < (room + 1) / 2 && p->chains < room) {
		add(p, hdr, chain);
		return PARK_KEPT;
	}
	return PARK_WAIT;
}

/* Whether two headers are the same packet's. */
static bool same_header(const struct vsock_hdr *a, const struct vsock_hdr *b)
{
	return a->src_cid == b->src_cid && a->dst_cid == b->dst_cid &&
	       a->src_port == b->src_port && a->dst_port == b->dst_port && a->len == b->len &&
	       a->type == b->type && a->op == b->op && a->flags == b->flags &&
	       a->buf_alloc == b->buf_alloc && a->fwd_cnt == b->fwd_cnt;
}

/* VMs whose mailbox refused a parked packet during one pass: their later
 * packets keep waiting behind it. */
struct full_set {
	uint32_t cid[DEVICE_PARK_MAX];
	unsigned n;
};

/* Tries to deliver, or else to expire, one parked packet.  Returns true
 * when it left the park. */
static bool settle(struct vsock_device *dev, struct virtq *vq, const struct parked_pkt *pk,
		   int64_t now, struct full_set *full)
{
	struct park *p = &dev->park;
	uint32_t cid = (uint32_t)pk->hdr.dst_cid;
	bool overdue = pk->deadline_ms <= now;
	bool stalled = cid_list_has(p->stalled, p->n_stalled, cid);
	const struct vq_chain *chain = NULL;
	struct vsock_hdr again;

	if (cid_list_has(full->cid, full->n, cid) || (!p->retry && !overdue && !stalled))
		goto wait;
	if (pk->has_chain) {
		/* The header was checked when the packet came (its source CID
		 * above all): the guest must not have rewritten it since.  The
		 * payload it may rewrite; it is its own data. */
		if (virtq_reread(vq, pk->head, &dev->chain) != VQ_POP_OK ||
		    !device_tx_parse(&dev->chain, &again) || !same_header(&again, &pk->hdr)) {
			log_warn_rl("tx: the guest rewrote a packet kept for cid %u; dropped", cid);
			virtq_push(vq, pk->head, 0);
			return true;
		}
		chain = &dev->chain;
	}
	if (!send_once(dev, &pk->hdr, chain, overdue))
		goto wait;
	if (pk->has_chain)
		virtq_push(vq, pk->head, 0);
	return true;
wait:
	cid_list_add(full->cid, &full->n, DEVICE_PARK_MAX, cid);
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
	for (i = 0; i < p->count && !ctrl_queue_full(&dev->ctrl); i++) {
		if (!settle(dev, vq, &p->pkt[i], now, &full))
			p->pkt[kept++] = p->pkt[i];
		else if (p->pkt[i].has_chain)
			p->chains--;
	}
	for (; i < p->count; i++)
		p->pkt[kept++] = p->pkt[i];
	p->count = kept;
	if (ctrl_queue_full(&dev->ctrl))
		return; /* device_process_tx() finds it full too and blocks TX */
	if (p->expired && p->count)
		fifo_timer_rearm(&p->timer, p->pkt[0].deadline_ms);
	p->retry = false;
	p->expired = false;
}
