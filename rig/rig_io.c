/* The driver's data path: TX slots and packets, RX buffers and their
 * parsing, and the event loop that ties them to the call eventfds. */
#include "rig_internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/virtio_vsock.h>

char rig_raw_cookie;

void rig_violation(struct rig *rig, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(rig->last_violation, sizeof(rig->last_violation), fmt, ap);
	va_end(ap);
	rig->stats.violations++;
	if (!rig->opts.quiet)
		fprintf(stderr, "rig: device violation: %s\n", rig->last_violation);
}

static unsigned tx_segments(const struct rig *rig, size_t len,
			    struct rig_seg *segs, uint64_t slot)
{
	uint64_t hdr = slot + RIG_SLOT_HDR_OFF;
	uint64_t payload = slot + RIG_SLOT_PAYLOAD_OFF;
	unsigned n = 0;

	switch (rig->opts.tx_layout) {
	case RIG_TX_LINEAR:
		segs[n++] = (struct rig_seg){hdr, (uint32_t)(RIG_HDR_SIZE + len), false};
		break;
	case RIG_TX_SPLIT:
		segs[n++] = (struct rig_seg){hdr, RIG_HDR_SIZE, false};
		if (len)
			segs[n++] = (struct rig_seg){payload, (uint32_t)len, false};
		break;
	case RIG_TX_FRAGS:
		segs[n++] = (struct rig_seg){hdr, RIG_HDR_SIZE, false};
		for (size_t off = 0; off < len; off += rig->opts.tx_frag_size) {
			size_t piece = len - off < rig->opts.tx_frag_size
					       ? len - off
					       : rig->opts.tx_frag_size;

			segs[n++] = (struct rig_seg){payload + off, (uint32_t)piece,
						     false};
		}
		break;
	}
	return n;
}

int rig_xmit(struct rig *rig, const struct rig_hdr *h, const void *payload,
	     size_t len)
{
	struct rig_seg segs[RIG_RING_INDIRECT_MAX];
	struct rig_tx_slot *slot;
	unsigned n;
	int head;

	if (!rig->device_started || rig->n_tx_free == 0)
		return -EAGAIN;
	slot = rig->tx_free[rig->n_tx_free - 1];
	n = tx_segments(rig, len, segs, slot->gpa);
	rig_hdr_encode(h, rig_mem_ptr(&rig->mem, slot->gpa + RIG_SLOT_HDR_OFF,
				      RIG_HDR_SIZE));
	if (len)
		memcpy(rig_mem_ptr(&rig->mem, slot->gpa + RIG_SLOT_PAYLOAD_OFF, len),
		       payload, len);
	head = rig_ring_add(&rig->txq, segs, n, rig->opts.indirect, slot);
	if (head < 0)
		return -EAGAIN;
	rig->n_tx_free--;
	rig->stats.tx_pkts++;
	rig->stats.tx_bytes += len;
	if (h->op == VIRTIO_VSOCK_OP_RST)
		rig->stats.rsts_sent++;
	return 0;
}

static bool flush_pending(struct rig *rig)
{
	bool sent = false;

	while (rig->pending_len) {
		if (rig_xmit(rig, &rig->pending[rig->pending_head], NULL, 0))
			break;
		rig->pending_head = (rig->pending_head + 1) % RIG_PENDING_MAX;
		rig->pending_len--;
		sent = true;
	}
	return sent;
}

void rig_send_ctrl(struct rig *rig, const struct rig_hdr *h)
{
	if (rig->pending_len == 0 && rig_xmit(rig, h, NULL, 0) == 0) {
		rig_ring_kick(&rig->txq);
		return;
	}
	if (rig->pending_len == RIG_PENDING_MAX) {
		/* Only a device that never returns TX buffers gets here. */
		rig_violation(rig, "TX ring not drained: control packet dropped");
		return;
	}
	rig->pending[(rig->pending_head + rig->pending_len) % RIG_PENDING_MAX] = *h;
	rig->pending_len++;
}

void rig_refill_rx(struct rig *rig)
{
	if (!rig->device_started || rig->rx_frozen)
		return;
	while (rig->n_rx_posted < rig->opts.rx_bufs && rig->n_rx_free) {
		struct rig_rx_buf *b = rig->rx_free[rig->n_rx_free - 1];
		struct rig_seg segs[2];
		unsigned n;

		if (rig->opts.rx_layout == RIG_RX_LINEAR) {
			segs[0] = (struct rig_seg){b->hdr_gpa, RIG_HDR_SIZE + b->data_len,
						   true};
			n = 1;
		} else {
			segs[0] = (struct rig_seg){b->hdr_gpa, RIG_HDR_SIZE, true};
			segs[1] = (struct rig_seg){b->data_gpa, b->data_len, true};
			n = 2;
		}
		if (rig_ring_add(&rig->rxq, segs, n, rig->opts.indirect, b) < 0)
			break;
		rig->n_rx_free--;
		rig->n_rx_posted++;
		b->state = RIG_RX_POSTED;
	}
}

void rig_freeze_rx(struct rig *rig, bool frozen)
{
	rig->rx_frozen = frozen;
}

void rig_rx_buf_release(struct rig *rig, struct rig_rx_buf *b)
{
	b->state = RIG_RX_FREE;
	rig->rx_free[rig->n_rx_free++] = b;
}

void rig_forget_buffers(struct rig *rig)
{
	/* Backwards, so that the lowest buffers are posted first. */
	rig->n_rx_free = rig->n_rx_posted = 0;
	for (unsigned i = rig->n_rx_bufs; i-- > 0;)
		if (rig->rx_bufs[i].state != RIG_RX_HELD)
			rig_rx_buf_release(rig, &rig->rx_bufs[i]);
	rig->n_tx_free = rig->n_tx_slots;
	for (unsigned i = 0; i < rig->n_tx_slots; i++)
		rig->tx_free[i] = &rig->tx_slots[i];
	rig->pending_head = rig->pending_len = 0;
	for (unsigned q = 0; q < 2; q++) {
		memset(rig->raw_done[q], 0, rig->opts.queue_size);
		memset(rig->raw_len[q], 0, rig->opts.queue_size * sizeof(uint32_t));
	}
}

static void raw_returned(struct rig *rig, unsigned q, int head, uint32_t len)
{
	rig->raw_done[q][head] = 1;
	rig->raw_len[q][head] = len;
}

static bool reap_tx(struct rig *rig)
{
	bool progress = false;
	uint32_t len;
	void *cookie;
	int head;

	while ((head = rig_ring_get_used(&rig->txq, &len, &cookie)) != -EAGAIN) {
		progress = true;
		if (head < 0) {
			rig_violation(rig, "TX used ring names a chain not in flight");
			continue;
		}
		if (cookie == RIG_RAW)
			raw_returned(rig, 1, head, len);
		else
			rig->tx_free[rig->n_tx_free++] = cookie;
	}
	return progress;
}

static void deliver(struct rig *rig, struct rig_rx_buf *b, uint32_t used_len)
{
	const uint8_t *wire = rig_mem_ptr(&rig->mem, b->hdr_gpa, RIG_HDR_SIZE);
	const uint8_t *payload;
	struct rig_hdr h;

	if (used_len == 0) {
		rig->stats.rx_buffers_returned_empty++;
		return;
	}
	if (used_len < RIG_HDR_SIZE || used_len > RIG_HDR_SIZE + b->data_len) {
		rig_violation(rig, "RX used length %u outside [44, %u]", used_len,
			      RIG_HDR_SIZE + b->data_len);
		return;
	}
	rig_hdr_decode(wire, &h);
	if (h.len != used_len - RIG_HDR_SIZE) {
		rig_violation(rig, "RX header len %u but used length %u (op %u)",
			      h.len, used_len, h.op);
		return;
	}
	payload = rig_mem_ptr(&rig->mem, b->data_gpa, h.len);
	rig->stats.rx_pkts++;
	rig->stats.rx_bytes += h.len;
	if (h.op == VIRTIO_VSOCK_OP_RST)
		rig->stats.rsts_received++;
	if (rig->on_packet)
		rig->on_packet(rig->on_packet_arg, &h, payload);
	rig_dispatch(rig, &h, payload, b);
}

static bool reap_rx(struct rig *rig)
{
	struct rig_rx_buf *b;
	bool progress = false;
	uint32_t len;
	void *cookie;
	int head;

	while ((head = rig_ring_get_used(&rig->rxq, &len, &cookie)) != -EAGAIN) {
		progress = true;
		if (head < 0) {
			rig_violation(rig, "RX used ring names a chain not in flight");
			continue;
		}
		if (cookie == RIG_RAW) {
			raw_returned(rig, 0, head, len);
			continue;
		}
		b = cookie;
		b->state = RIG_RX_USED;
		rig->n_rx_posted--;
		deliver(rig, b, len);
		if (b->state != RIG_RX_HELD)
			rig_rx_buf_release(rig, b);
		/* At once, so that the next packet sees whether a spare is
		 * left to take its buffer's place. */
		rig_refill_rx(rig);
	}
	return progress;
}

/* One pass over everything the device may have done.  Returns true if
 * anything moved. */
static bool process(struct rig *rig)
{
	bool progress;

	if (!rig->device_started)
		return false;
	progress = reap_tx(rig);
	if (!rig->rx_frozen)
		progress |= reap_rx(rig);
	progress |= flush_pending(rig);
	rig_refill_rx(rig);
	rig_ring_kick(&rig->rxq);
	rig_ring_kick(&rig->txq);
	return progress;
}

/* The back-end sends nothing unsolicited: readable means it went away. */
static void check_backend(struct rig *rig)
{
	char byte;
	ssize_t n = recv(rig->vu.fd, &byte, 1, MSG_DONTWAIT | MSG_PEEK);

	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
		rig->disconnected = true;
		rig->device_started = false;
	} else if (n > 0) {
		struct rig_vu_msg msg;

		if (rig_vu_recv(&rig->vu, &msg) == 0) {
			for (unsigned i = 0; i < msg.nfds; i++)
				close(msg.fds[i]);
			rig_violation(rig, "unsolicited vhost-user message %u",
				      msg.request);
		}
	}
}

int rig_poll(struct rig *rig, struct pollfd *extra, unsigned n_extra,
	     int timeout_ms)
{
	struct pollfd pfds[3 + 64];
	unsigned base = 3;
	int ready, count = 0;

	if (n_extra > 64)
		return -EINVAL;
	if (rig->disconnected || rig->vu.fd < 0)
		return -ENOTCONN;
	if (process(rig))
		timeout_ms = 0;
	if (rig->device_started) {
		/* Both rings must re-enable their callbacks. */
		bool rx_more = rig_ring_enable_cb(&rig->rxq);
		bool tx_more = rig_ring_enable_cb(&rig->txq);

		if (rx_more || tx_more)
			timeout_ms = 0;
	}
	pfds[0] = (struct pollfd){.fd = rig->device_started ? rig->rxq.call_fd : -1,
				  .events = POLLIN};
	pfds[1] = (struct pollfd){.fd = rig->device_started ? rig->txq.call_fd : -1,
				  .events = POLLIN};
	pfds[2] = (struct pollfd){.fd = rig->vu.fd, .events = POLLIN};
	for (unsigned i = 0; i < n_extra; i++) {
		pfds[base + i] = extra[i];
		pfds[base + i].revents = 0;
	}
	ready = poll(pfds, base + n_extra, timeout_ms);
	if (ready < 0)
		return errno == EINTR ? 0 : -errno;
	if (pfds[2].revents)
		check_backend(rig);
	if (rig->disconnected)
		return -ENOTCONN;
	if (pfds[0].revents)
		rig_ring_clear_call(&rig->rxq);
	if (pfds[1].revents)
		rig_ring_clear_call(&rig->txq);
	process(rig);
	for (unsigned i = 0; i < n_extra; i++) {
		extra[i].revents = pfds[base + i].revents;
		if (extra[i].revents)
			count++;
	}
	return count;
}

int rig_wait_fd(struct rig *rig, int fd, short events, int64_t deadline)
{
	for (;;) {
		struct pollfd pfd = {.fd = fd, .events = events};
		int left = rig_left_ms(deadline);
		int n = rig ? rig_poll(rig, &pfd, 1, left) : poll(&pfd, 1, left);

		if (n < 0)
			return n;
		if (n > 0)
			return 0;
		if (rig_left_ms(deadline) == 0)
			return -ETIMEDOUT;
	}
}
