/* The device's side of sibling routing (router.h): guest packets for
 * another served VM go out through the router; packets other VMs sent to
 * this guest come out of its mailbox into the guest's RX buffers, split
 * across as many buffers as they need.  The device relays, it keeps no
 * connection state: the two guests run handshake and credit end to end.
 *
 * Mail waits in the mailbox while this guest has no RX ring (front-end not
 * connected yet, or gone): senders feel back-pressure once it is full, and
 * a guest that comes up later gets what was sent meanwhile, answering with
 * RST what belongs to connections it does not know. */
#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <linux/virtio_vsock.h>

#include "device_priv.h"
#include "iov_util.h"
#include "log.h"

/* The router's wakeup: mail arrived, or a mailbox that refused our packet
 * has room again.  device_pump() runs next and does both jobs. */
static void mail_event(struct ev_source *src, uint32_t events)
{
	struct vsock_device *dev = container_of(src, struct vsock_device, mail_ev);
	uint64_t count;

	(void)events;
	if (read(src->fd, &count, sizeof(count)) < 0 && errno != EAGAIN)
		log_warn("reading the router wakeup: %s", strerror(errno));
	if (dev->park.count) {
		dev->park.retry = true;
		device_tx_park_ready(dev);
	}
}

static const struct ev_ops mail_ops = {.handle = mail_event};

int device_sibling_open(struct vsock_device *dev, const struct vm_config *cfg)
{
	int rc;

	dev->mail_ev = (struct ev_source){.ops = &mail_ops,
					  .fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)};
	if (dev->mail_ev.fd < 0) {
		log_err("cid %u: eventfd: %s", cfg->guest_cid, strerror(errno));
		return -1;
	}
	rc = ev_set(&dev->loop, &dev->mail_ev, EPOLLIN);
	if (rc < 0) {
		log_err("cid %u: epoll: %s", cfg->guest_cid, strerror(-rc));
		return -1;
	}
	dev->port = router_register(dev->router, cfg->guest_cid,
				    (const char *const *)cfg->groups, cfg->n_groups,
				    dev->mail_ev.fd);
	if (!dev->port) {
		log_err("cid %u: cannot join the sibling router: %s", cfg->guest_cid,
			strerror(errno));
		return -1;
	}
	return 0;
}

void device_sibling_close(struct vsock_device *dev)
{
	router_unregister(dev->port);
	dev->port = NULL;
	ev_close(&dev->mail_ev);
}

enum sibling_result device_sibling_send(struct vsock_device *dev, const struct vsock_hdr *hdr,
					const struct vq_chain *chain)
{
	/* A slice of a chain has no more segments than the chain. */
	unsigned n = chain ? iov_slice(chain->iov, chain->nr_out, VSOCK_HDR_SIZE, hdr->len,
				       dev->tx_payload, VQ_CHAIN_MAX_SEGS)
			   : 0;

	switch (router_send(dev->port, hdr, dev->tx_payload, n)) {
	case ROUTER_DELIVERED:
		return SIBLING_DELIVERED;
	case ROUTER_FULL:
		return SIBLING_FULL;
	case ROUTER_UNREACHABLE:
		log_info_rl("tx: %s for cid %llu port %u: no such VM in our groups; %s",
			    vsock_op_name(hdr->op), (unsigned long long)hdr->dst_cid,
			    hdr->dst_port,
			    hdr->op == VIRTIO_VSOCK_OP_RST ? "dropped" : "answering RST");
		if (hdr->op != VIRTIO_VSOCK_OP_RST)
			device_reply_rst(dev, hdr);
		return SIBLING_ANSWERED;
	case ROUTER_INVALID:
		break;
	}
	log_warn_rl("tx: %s for cid %llu: the router refused it as malformed; dropped",
		    vsock_op_name(hdr->op), (unsigned long long)hdr->dst_cid);
	return SIBLING_ANSWERED;
}

void device_sibling_undeliverable(struct vsock_device *dev, const struct vsock_hdr *hdr,
				  const char *why)
{
	log_warn_rl("tx: %s for cid %llu port %u: %s; %s", vsock_op_name(hdr->op),
		    (unsigned long long)hdr->dst_cid, hdr->dst_port, why,
		    hdr->op == VIRTIO_VSOCK_OP_RST ? "dropped" : "resetting the connection");
	if (hdr->op != VIRTIO_VSOCK_OP_RST)
		device_reply_rst(dev, hdr);
}

/* Copies up to len bytes of the message's remaining payload into the
 * chain's writable part, after the header. */
static void copy_piece(const struct vq_chain *chain, const struct router_msg *msg, size_t len)
{
	const struct iovec *in = &chain->iov[chain->nr_out];
	size_t off = VSOCK_HDR_SIZE;

	for (unsigned i = 0; i < 2 && len > 0; i++) {
		size_t take = msg->payload[i].iov_len < len ? msg->payload[i].iov_len : len;

		buf_to_iov(in, chain->nr_in, off, msg->payload[i].iov_base, take);
		off += take;
		len -= take;
	}
}

/* Writes the next piece of the oldest message into the chain just popped
 * and returns the payload bytes it carries. */
static size_t deliver_piece(struct vsock_device *dev, struct virtq *vq,
			    const struct router_msg *msg)
{
	const struct vq_chain *chain = &dev->chain;
	size_t room = chain->in_len - VSOCK_HDR_SIZE;
	size_t len = msg->remaining < room ? msg->remaining : room;
	struct vsock_hdr hdr = msg->hdr;
	uint8_t raw[VSOCK_HDR_SIZE];

	hdr.len = (uint32_t)len;
	/* A message's boundary is where its last byte is. */
	if (hdr.type == VIRTIO_VSOCK_TYPE_SEQPACKET && len < msg->remaining)
		hdr.flags &= ~(uint32_t)(VIRTIO_VSOCK_SEQ_EOM | VIRTIO_VSOCK_SEQ_EOR);
	vsock_hdr_encode(&hdr, raw);
	buf_to_iov(&chain->iov[chain->nr_out], chain->nr_in, 0, raw, VSOCK_HDR_SIZE);
	copy_piece(chain, msg, len);
	virtq_push(vq, chain->head, (uint32_t)(VSOCK_HDR_SIZE + len));
	return len;
}

enum mail_result device_sibling_deliver(struct vsock_device *dev, struct virtq *vq,
					size_t budget)
{
	struct router_msg msg;
	size_t done = 0;

	while (router_peek(dev->port, &msg)) {
		size_t len;

		if (done >= budget)
			return MAIL_MORE;
		if (!device_rx_pop_chain(dev, vq))
			return MAIL_NO_BUFFER;
		len = deliver_piece(dev, vq, &msg);
		router_consume(dev->port, len);
		done += VSOCK_HDR_SIZE + len;
	}
	return MAIL_EMPTY;
}
