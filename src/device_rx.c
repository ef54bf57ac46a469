/* Device -> guest: fills RX chains with the control replies and then with
 * what each scheduled connection owes the guest, host data read straight
 * from the host socket into guest memory. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/uio.h>

#include <linux/vm_sockets.h>

#include "device_priv.h"
#include "iov_util.h"
#include "log.h"

/* Pops the next usable RX chain into dev->chain; false if there is none.
 * Chains that cannot hold a header plus some payload are returned empty;
 * with stop_at_bad, popping ends before such a chain, which stays in the
 * ring to be returned when it comes first, so that the chains popped since
 * a caller's first one stay contiguous and can be given back with unpop. */
static bool pop_rx_chain(struct vsock_device *dev, struct virtq *vq, bool stop_at_bad)
{
	for (;;) {
		switch (virtq_pop(vq, &dev->chain)) {
		case VQ_POP_EMPTY:
		case VQ_POP_BROKEN:
			return false;
		case VQ_POP_BAD_CHAIN:
			break;
		case VQ_POP_OK:
			if (dev->chain.nr_out == 0 && dev->chain.in_len > VSOCK_HDR_SIZE)
				return true;
			if (stop_at_bad)
				break;
			log_warn_rl("rx: chain %u has %u readable descriptors and %zu writable "
				    "bytes; returned unused", dev->chain.head, dev->chain.nr_out,
				    dev->chain.in_len);
			break;
		}
		if (stop_at_bad) {
			virtq_unpop(vq);
			return false;
		}
		stats_count(&dev->stats, STAT_MALFORMED_CHAINS, 1);
		virtq_push(vq, dev->chain.head, 0);
	}
}

bool device_rx_pop_chain(struct vsock_device *dev, struct virtq *vq)
{
	return pop_rx_chain(dev, vq, false);
}

static void write_hdr(const struct iovec *iov, unsigned n, const struct vsock_hdr *hdr)
{
	uint8_t raw[VSOCK_HDR_SIZE];

	vsock_hdr_encode(hdr, raw);
	buf_to_iov(iov, n, 0, raw, VSOCK_HDR_SIZE);
}

/* Sends a header-only packet; false if the guest has no RX buffer. */
static bool send_control(struct vsock_device *dev, struct virtq *vq,
			 const struct vsock_hdr *hdr)
{
	if (!pop_rx_chain(dev, vq, false))
		return false;
	write_hdr(dev->chain.iov, dev->chain.nr_in, hdr);
	virtq_push(vq, dev->chain.head, VSOCK_HDR_SIZE);
	if (hdr->op == VIRTIO_VSOCK_OP_RST)
		stats_count(&dev->stats, STAT_RST_SENT, 1);
	return true;
}

/* A header for c: every one carries our credit, which it may extend. */
static struct vsock_hdr conn_hdr(struct vsock_device *dev, struct conn *c, uint16_t op)
{
	return (struct vsock_hdr){
		.src_cid = VMADDR_CID_HOST,
		.dst_cid = dev->guest_cid,
		.src_port = c->key.local_port,
		.dst_port = c->key.peer_port,
		.type = c->type,
		.op = op,
		.buf_alloc = op == VIRTIO_VSOCK_OP_RST ? c->credit_edge - c->fwd_cnt
						       : tx_credit_offer(&dev->tx_pool, c),
		.fwd_cnt = c->fwd_cnt,
	};
}

void device_rx_return_empty(struct vsock_device *dev, struct virtq *vq)
{
	for (unsigned i = 0; i < dev->rx.n; i++)
		virtq_push(vq, dev->rx.slot[i].head, 0);
	dev->rx.n = 0;
}

/* The last chains popped: rewinding the avail index returns exactly them. */
void device_rx_unpop_from(struct vsock_device *dev, struct virtq *vq, unsigned from)
{
	while (dev->rx.n > from) {
		virtq_unpop(vq);
		dev->rx.n--;
	}
}

unsigned device_rx_gather(struct vsock_device *dev, struct virtq *vq, size_t want,
			  size_t budget)
{
	struct rx_batch *b = &dev->rx;
	unsigned n_payload = 0;
	size_t cap = 0;

	b->n = 0;
	b->n_iov = 0;
	b->full = true;
	while (b->n < RX_BATCH_CHAINS && cap < want && cap < budget &&
	       pop_rx_chain(dev, vq, b->n > 0)) {
		const struct vq_chain *ch = &dev->chain;
		struct rx_slot *s = &b->slot[b->n];
		unsigned got;

		if (ch->nr_in > VQ_CHAIN_MAX_SEGS - b->n_iov) {
			virtq_unpop(vq);
			return n_payload;
		}
		memcpy(&b->iov[b->n_iov], &ch->iov[ch->nr_out], ch->nr_in * sizeof(struct iovec));
		s->head = ch->head;
		s->first = b->n_iov;
		s->count = ch->nr_in;
		s->payload_cap = ch->in_len - VSOCK_HDR_SIZE;
		if (s->payload_cap > budget - cap)
			s->payload_cap = budget - cap;
		got = iov_slice(&b->iov[s->first], s->count, VSOCK_HDR_SIZE, s->payload_cap,
				&b->payload[n_payload], VQ_CHAIN_MAX_SEGS - n_payload);
		if (got > VQ_CHAIN_MAX_SEGS - n_payload) {
			virtq_unpop(vq);
			return n_payload;
		}
		b->n_iov += ch->nr_in;
		n_payload += got;
		cap += s->payload_cap;
		b->n++;
	}
	b->full = b->n == RX_BATCH_CHAINS;
	return n_payload;
}

/* If the guest already said it will not send either and nothing is left
 * to flush, says both. */
void device_rx_send_host_eof(struct vsock_device *dev, struct virtq *vq, struct conn *c)
{
	const struct rx_slot *s = &dev->rx.slot[0];
	struct vsock_hdr hdr = conn_hdr(dev, c, VIRTIO_VSOCK_OP_SHUTDOWN);

	hdr.flags = VIRTIO_VSOCK_SHUTDOWN_SEND;
	if (c->guest_shut_send && txbuf_empty(&c->txbuf))
		hdr.flags |= VIRTIO_VSOCK_SHUTDOWN_RCV;
	write_hdr(&dev->rx.iov[s->first], s->count, &hdr);
	virtq_push(vq, s->head, VSOCK_HDR_SIZE);
	conn_account_sent_header(c);
	device_rx_unpop_from(dev, vq, 1);
	c->host_eof = true;
	device_conn_release_finished_host(dev, c);
}

void device_rx_send_batch(struct vsock_device *dev, struct virtq *vq, struct conn *c,
			  size_t n, uint32_t flags)
{
	unsigned used = 0;

	while (used < dev->rx.n && n > 0) {
		const struct rx_slot *s = &dev->rx.slot[used];
		size_t len = n < s->payload_cap ? n : s->payload_cap;
		struct vsock_hdr hdr = conn_hdr(dev, c, VIRTIO_VSOCK_OP_RW);

		hdr.len = (uint32_t)len;
		if (len == n)
			hdr.flags = flags;
		write_hdr(&dev->rx.iov[s->first], s->count, &hdr);
		virtq_push(vq, s->head, (uint32_t)(VSOCK_HDR_SIZE + len));
		c->rx_cnt += (uint32_t)len;
		c->bytes_h2g += len;
		stats_count(&dev->stats, STAT_BYTES_H2G, len);
		n -= len;
		used++;
	}
	conn_account_sent_header(c);
	device_rx_unpop_from(dev, vq, used);
}

/* Sends what the backend read along with the handshake, as much as budget
 * allows; it goes before anything read from the socket.  Returns false when
 * the guest has no RX buffer. */
static bool send_early(struct vsock_device *dev, struct virtq *vq, struct conn *c,
		       size_t budget)
{
	size_t len = c->early_len < budget ? c->early_len : budget;
	unsigned n_iov = device_rx_gather(dev, vq, len, budget);

	if (dev->rx.n == 0)
		return false;
	len = buf_to_iov(dev->rx.payload, n_iov, 0, c->early, len);
	device_rx_send_batch(dev, vq, c, len, 0);
	c->early_len -= (uint32_t)len;
	if (c->early_len) {
		memmove(c->early, c->early + len, c->early_len);
	} else {
		free(c->early);
		c->early = NULL;
	}
	device_conn_sync_interest(dev, c);
	return true;
}

/* Moves host data into guest RX buffers.  Returns false when the guest has
 * no RX buffer (the connection stays scheduled).  The RW bit stays set
 * (device_conn_sync_interest) while the socket may hold more and the guest
 * has credit for it. */
static bool serve_rw(struct vsock_device *dev, struct virtq *vq, struct conn *c)
{
	uint32_t credit = conn_peer_credit(c);
	size_t budget = credit < RX_BATCH_BYTES ? credit : RX_BATCH_BYTES;
	unsigned n_iov;
	int avail = 0;
	ssize_t n;

	if (c->state != CONN_ESTABLISHED || c->host_eof || budget == 0) {
		device_conn_sync_interest(dev, c);
		return true;
	}
	if (conn_is_seqpacket(c))
		return device_seqpacket_serve_rw(dev, vq, c);
	if (c->early_len)
		return send_early(dev, vq, c, budget);
	if (ioctl(c->ev.fd, FIONREAD, &avail) < 0 || avail <= 0)
		avail = 1; /* unknown, or EOF pending: one chain is enough */
	n_iov = device_rx_gather(dev, vq, (size_t)avail, budget);
	if (dev->rx.n == 0)
		return false;
	n = readv(c->ev.fd, dev->rx.payload, (int)n_iov);
	if (n > 0) {
		/* A stream socket fills a read while it has data: a short one
		 * drained it, and new data will bring a new edge.  An EOF
		 * already signalled will not: read again to see it. */
		if ((size_t)n < iov_total(dev->rx.payload, n_iov) && !c->host_rdhup)
			c->host_readable = false;
		device_rx_send_batch(dev, vq, c, (size_t)n, 0);
	} else if (n == 0) {
		c->host_readable = false;
		device_rx_send_host_eof(dev, vq, c);
	} else {
		int err = errno;

		device_rx_unpop_from(dev, vq, 0);
		if (err == EAGAIN || err == EWOULDBLOCK) {
			c->host_readable = false;
		} else if (err != EINTR) {
			device_check_guest_fault(dev, err);
			log_info_rl("reading host socket for guest port %u: %s; resetting",
				    c->key.peer_port, strerror(err));
			device_conn_reset(dev, c);
			return true;
		}
	}
	device_conn_sync_interest(dev, c);
	return true;
}

/* Sends the connection's most urgent packet.  Returns false when the guest
 * has no RX buffer. */
static uint16_t control_op(enum conn_pending what)
{
	switch (what) {
	case CONN_PEND_RST: return VIRTIO_VSOCK_OP_RST;
	case CONN_PEND_REQUEST: return VIRTIO_VSOCK_OP_REQUEST;
	case CONN_PEND_RESPONSE: return VIRTIO_VSOCK_OP_RESPONSE;
	default: return VIRTIO_VSOCK_OP_CREDIT_UPDATE;
	}
}

static bool serve_conn(struct vsock_device *dev, struct virtq *vq, struct conn *c,
		       enum conn_pending what)
{
	struct vsock_hdr hdr;

	if (what == CONN_PEND_RW)
		return serve_rw(dev, vq, c);
	hdr = conn_hdr(dev, c, control_op(what));
	if (!send_control(dev, vq, &hdr))
		return false;
	c->pending &= (uint8_t)~what;
	conn_account_sent_header(c);
	if (what == CONN_PEND_RST) {
		device_conn_drop(dev, c);
	} else if (what == CONN_PEND_RESPONSE || what == CONN_PEND_REQUEST) {
		/* The handshake packet is out: data may follow. */
		device_conn_sync_interest(dev, c);
	}
	return true;
}

/* Serves the connection at the head of the RX fifo.  Returns false when
 * the guest has no RX buffer. */
static bool serve_next_conn(struct vsock_device *dev, struct virtq *vq)
{
	struct conn *c = TAILQ_FIRST(&dev->rx_fifo);
	enum conn_pending what = conn_next_pending(c);

	if (!what) {
		device_conn_unschedule(dev, c);
		return true;
	}
	if (!serve_conn(dev, vq, c, what))
		return false;
	/* Round robin: a connection with more to say goes to the back. */
	if (c->in_rx_fifo) {
		device_conn_unschedule(dev, c);
		device_conn_schedule(dev, c);
	}
	return true;
}

/* One pass over everything owed to the guest.  Returns false when the guest
 * ran out of RX buffers first. */
static bool rx_pass(struct vsock_device *dev, struct virtq *vq)
{
	bool mail = true; /* unknown until the mailbox is looked at */

	while (!ctrl_queue_empty(&dev->ctrl)) {
		if (!send_control(dev, vq, ctrl_queue_peek(&dev->ctrl)))
			return false;
		ctrl_queue_pop(&dev->ctrl);
	}
	/* Host connections and sibling mail take turns, so neither starves. */
	while (!TAILQ_EMPTY(&dev->rx_fifo) || mail) {
		if (!TAILQ_EMPTY(&dev->rx_fifo) && !serve_next_conn(dev, vq))
			return false;
		if (mail) {
			enum mail_result r = device_sibling_deliver(dev, vq, RX_MAIL_BUDGET);

			if (r == MAIL_NO_BUFFER)
				return false;
			mail = r == MAIL_MORE;
		}
	}
	return true;
}

void device_rx_wait_for_buffers(struct vsock_device *dev, struct virtq *vq, struct conn *c)
{
	/* Buffers added meanwhile: the next try pops them. */
	if (virtq_kick_on_new(vq, &c->rx_wait_avail))
		return;
	c->rx_waits = true;
	TAILQ_INSERT_TAIL(&dev->rx_waiters, c, rx_wait_link);
	device_conn_sync_interest(dev, c);
}

void device_rx_forget_waiter(struct vsock_device *dev, struct conn *c)
{
	if (!c->rx_waits)
		return;
	TAILQ_REMOVE(&dev->rx_waiters, c, rx_wait_link);
	c->rx_waits = false;
}

/* Serves again the connections whose wait for RX buffers is over. */
static void wake_waiters(struct vsock_device *dev, struct virtq *vq)
{
	uint16_t avail = virtq_avail_idx(vq);
	struct conn *c, *next;

	for (c = TAILQ_FIRST(&dev->rx_waiters); c; c = next) {
		next = TAILQ_NEXT(c, rx_wait_link);
		if (c->rx_wait_avail == avail)
			continue;
		device_rx_forget_waiter(dev, c);
		device_conn_sync_interest(dev, c);
		device_conn_schedule(dev, c);
	}
}

void device_process_rx(struct vsock_device *dev)
{
	struct virtq *vq = &dev->vu.vq[VU_QUEUE_RX];

	if (!virtq_ready(vq))
		return;
	wake_waiters(dev, vq);
	/* Out of buffers with work left: ask the guest to kick when it posts
	 * more (with EVENT_IDX it otherwise never would), and go on at once if
	 * it already has. */
	while (!rx_pass(dev, vq) && virtq_enable_kicks(vq))
		;
}
