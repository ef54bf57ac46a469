/* Guest -> device: drains the TX ring, validates each packet and applies
 * it to its connection.  Every chain popped goes back to the used ring,
 * malformed ones included. */
#include <string.h>
#include <unistd.h>

#include <linux/vm_sockets.h>

#include "device_priv.h"
#include "iov_util.h"
#include "log.h"

void device_reply_rst(struct vsock_device *dev, const struct vsock_hdr *pkt)
{
	const struct vsock_hdr rst = {
		.src_cid = pkt->dst_cid,
		.dst_cid = pkt->src_cid,
		.src_port = pkt->dst_port,
		.dst_port = pkt->src_port,
		.type = pkt->type,
		.op = VIRTIO_VSOCK_OP_RST,
	};

	/* Cannot fail: the TX loop pops a chain only while there is room. */
	ctrl_queue_push(&dev->ctrl, &rst);
}

bool device_tx_parse(const struct vq_chain *chain, struct vsock_hdr *hdr)
{
	uint8_t raw[VSOCK_HDR_SIZE];

	if (chain->nr_in > 0) {
		log_warn_rl("tx: chain %u has device-writable descriptors; dropped", chain->head);
		return false;
	}
	if (chain->out_len < VSOCK_HDR_SIZE) {
		log_warn_rl("tx: chain %u holds %zu bytes, less than a header; dropped",
			    chain->head, chain->out_len);
		return false;
	}
	iov_to_buf(chain->iov, chain->nr_out, 0, raw, VSOCK_HDR_SIZE);
	vsock_hdr_decode(raw, hdr);
	if (hdr->len != chain->out_len - VSOCK_HDR_SIZE || hdr->len > VSOCK_MAX_PKT_PAYLOAD) {
		log_warn_rl("tx: %s header says len %u but the chain carries %zu payload bytes; "
			    "dropped", vsock_op_name(hdr->op), hdr->len,
			    chain->out_len - VSOCK_HDR_SIZE);
		return false;
	}
	return true;
}

/* A guest REQUEST for a connection we do not have: connect to the host. */
static void guest_connect(struct vsock_device *dev, const struct vsock_hdr *hdr)
{
	const struct conn_key key = {hdr->dst_port, hdr->src_port};
	struct conn *c;
	bool done = false;
	int fd;

	if (device_conn_full(dev)) {
		log_warn_rl("max-connections (%u) reached: refusing guest port %u -> host port "
			    "%u (RST)", dev->budget.max_connections, hdr->src_port,
			    hdr->dst_port);
		stats_count(&dev->stats, STAT_REFUSED_BUDGET, 1);
		stats_count(&dev->stats, STAT_BUDGET_MAX_CONNECTIONS, 1);
		device_reply_rst(dev, hdr);
		return;
	}
	fd = dev->backend->ops->connect(dev->backend, hdr->dst_port, hdr->type, &done);
	if (fd == -EPROTOTYPE) {
		log_warn_rl("guest port %u -> host port %u: the host listens with the other "
			    "socket type than %s; answering RST", hdr->src_port, hdr->dst_port,
			    vsock_type_name(hdr->type));
	} else if (fd < 0) {
		log_info_rl("guest port %u -> host port %u: %s; answering RST", hdr->src_port,
			    hdr->dst_port, strerror(-fd));
	}
	if (fd < 0) {
		device_count_refusal(dev, -fd);
		device_reply_rst(dev, hdr);
		return;
	}
	c = device_conn_new(dev, &key, fd, hdr->type, done ? CONN_ESTABLISHED : CONN_CONNECTING);
	if (!c) {
		close(fd);
		device_reply_rst(dev, hdr);
		return;
	}
	conn_update_peer_credit(c, hdr->buf_alloc, hdr->fwd_cnt);
	device_conn_sync_interest(dev, c);
	device_conn_schedule(dev, c);
}

/* Writes the batch's payloads to its connection's host socket, then gives
 * its chains back to the guest. */
static void tx_batch_flush(struct vsock_device *dev, struct virtq *vq)
{
	struct tx_batch *b = &dev->tx;
	struct conn *c = b->conn;

	if (!c)
		return;
	if (conn_is_seqpacket(c))
		device_seqpacket_write(dev, c, b->payload, b->n_iov, b->flags);
	else
		device_conn_write(dev, c, b->payload, b->n_iov);
	if (c->state == CONN_ESTABLISHED)
		device_conn_sync_interest(dev, c);
	device_conn_schedule(dev, c);
	for (unsigned i = 0; i < b->n_chains; i++)
		virtq_push(vq, b->head[i], 0);
	b->conn = NULL;
	b->n_chains = 0;
	b->n_iov = 0;
	b->len = 0;
	b->flags = 0;
}

static bool tx_batch_has_room(const struct tx_batch *b, const struct vq_chain *chain)
{
	return b->n_chains < TX_BATCH_CHAINS && chain->nr_out <= VQ_CHAIN_MAX_SEGS - b->n_iov;
}

/* Holds the chain's payload for the batch's next write. */
static void tx_batch_add(struct tx_batch *b, struct conn *c, const struct vq_chain *chain,
			 uint32_t len, uint32_t flags)
{
	b->conn = c;
	b->flags = flags & VIRTIO_VSOCK_SEQ_EOM;
	b->n_iov += iov_slice(chain->iov, chain->nr_out, VSOCK_HDR_SIZE, len,
			      b->payload + b->n_iov, VQ_CHAIN_MAX_SEGS - b->n_iov);
	b->head[b->n_chains++] = chain->head;
	b->len += len;
}

/* Whether the guest stays within the credit it was given, counting what
 * is batched for the connection already. */
static bool within_credit(const struct vsock_device *dev, const struct conn *c, uint32_t len)
{
	uint32_t batched = dev->tx.conn == c ? dev->tx.len : 0;

	return len <= tx_credit_room(c) - batched;
}

/* The batched connection's next RW packet, with room for it: it joins the
 * batch without anything else happening in between.  A seqpacket batch
 * holds one message at most: its write ends with the message. */
static bool tx_batch_extends(const struct vsock_device *dev, const struct vsock_hdr *hdr,
			     const struct vq_chain *chain)
{
	const struct conn *c = dev->tx.conn;

	return c && hdr->op == VIRTIO_VSOCK_OP_RW && hdr->type == c->type &&
	       !(dev->tx.flags & VIRTIO_VSOCK_SEQ_EOM) &&
	       hdr->src_cid == dev->guest_cid && hdr->dst_cid == VMADDR_CID_HOST &&
	       hdr->dst_port == c->key.local_port && hdr->src_port == c->key.peer_port &&
	       tx_batch_has_room(&dev->tx, chain) && within_credit(dev, c, hdr->len);
}

/* Returns true if the chain joined the TX batch (it goes back to the
 * guest when the batch is flushed). */
static bool guest_data(struct vsock_device *dev, struct conn *c,
		       const struct vq_chain *chain, const struct vsock_hdr *hdr)
{
	uint32_t len = hdr->len;

	if (c->state != CONN_ESTABLISHED) {
		log_warn_rl("guest sent RW on port %u before the connection was up; resetting",
			    c->key.peer_port);
		device_conn_reset(dev, c);
		return false;
	}
	if (!within_credit(dev, c, len)) {
		log_warn_rl("guest overran its credit on port %u -> %u (%u bytes, %u allowed); "
			    "resetting", c->key.peer_port, c->key.local_port, len,
			    tx_credit_room(c));
		device_conn_reset(dev, c);
		return false;
	}
	tx_batch_add(&dev->tx, c, chain, len, hdr->flags);
	return true;
}

/* Returns true if the chain joined the TX batch. */
static bool conn_packet(struct vsock_device *dev, struct conn *c,
			const struct vsock_hdr *hdr, const struct vq_chain *chain)
{
	if (hdr->op == VIRTIO_VSOCK_OP_RST) {
		if (c->state == CONN_REQUESTING) /* nobody listens on that guest port */
			stats_count(&dev->stats, STAT_REFUSED_NO_LISTENER, 1);
		device_conn_drop(dev, c);
		return false;
	}
	if (c->state == CONN_CLOSING)
		return false; /* our RST is on its way */
	conn_update_peer_credit(c, hdr->buf_alloc, hdr->fwd_cnt);
	switch (hdr->op) {
	case VIRTIO_VSOCK_OP_RESPONSE:
		if (c->state == CONN_REQUESTING) {
			device_conn_guest_accepted(dev, c);
		} else {
			log_warn_rl("unexpected RESPONSE on port %u; resetting", c->key.peer_port);
			device_conn_reset(dev, c);
		}
		break;
	case VIRTIO_VSOCK_OP_RW:
		if (guest_data(dev, c, chain, hdr))
			return true; /* the flush syncs and schedules it */
		break;
	case VIRTIO_VSOCK_OP_CREDIT_UPDATE:
		break; /* the credit fields are all it carries */
	case VIRTIO_VSOCK_OP_CREDIT_REQUEST:
		c->pending |= CONN_PEND_CREDIT_UPDATE;
		break;
	case VIRTIO_VSOCK_OP_SHUTDOWN:
		device_conn_guest_shutdown(dev, c, hdr->flags);
		break;
	default:
		log_warn_rl("guest sent %s (op %u) on port %u; resetting", vsock_op_name(hdr->op),
			    hdr->op, c->key.peer_port);
		device_conn_reset(dev, c);
		break;
	}
	if (c->state == CONN_ESTABLISHED || c->state == CONN_CONNECTING)
		device_conn_sync_interest(dev, c);
	device_conn_schedule(dev, c);
	return false;
}

static bool known_type(uint16_t type)
{
	return type == VIRTIO_VSOCK_TYPE_STREAM || type == VIRTIO_VSOCK_TYPE_SEQPACKET;
}

enum tx_verdict {
	TX_APPLIED, /* done with: the chain goes back to the guest */
	TX_HELD,    /* in the TX batch or the park: returned later */
	TX_WAIT,    /* to be popped again once the park has room */
};

static enum tx_verdict sibling_packet(struct vsock_device *dev, const struct vsock_hdr *hdr,
				      const struct vq_chain *chain)
{
	switch (device_park_send(dev, hdr, chain)) {
	case PARK_SENT:
	case PARK_COPIED:
		return TX_APPLIED;
	case PARK_KEPT:
		return TX_HELD;
	case PARK_WAIT:
		break;
	}
	return TX_WAIT;
}

/* Applies one packet.  Anything but the batched connection's next data
 * flushes the batch first, so that packets take effect in ring order. */
static enum tx_verdict tx_packet(struct vsock_device *dev, struct virtq *vq,
				 const struct vq_chain *chain)
{
	struct vsock_hdr hdr;
	struct conn_key key;
	struct conn *c;

	if (!device_tx_parse(chain, &hdr)) {
		stats_count(&dev->stats, STAT_MALFORMED_CHAINS, 1);
		return TX_APPLIED;
	}
	if (tx_batch_extends(dev, &hdr, chain)) {
		conn_update_peer_credit(dev->tx.conn, hdr.buf_alloc, hdr.fwd_cnt);
		tx_batch_add(&dev->tx, dev->tx.conn, chain, hdr.len, hdr.flags);
		return TX_HELD;
	}
	tx_batch_flush(dev, vq);
	if (hdr.src_cid != dev->guest_cid) {
		log_warn_rl("tx: %s from cid %llu, not the guest's; dropped",
			    vsock_op_name(hdr.op), (unsigned long long)hdr.src_cid);
		return TX_APPLIED;
	}
	if (!known_type(hdr.type)) {
		log_warn_rl("tx: %s of unknown type %u; %s", vsock_op_name(hdr.op), hdr.type,
			    hdr.op == VIRTIO_VSOCK_OP_RST ? "dropped" : "answering RST");
		if (hdr.op != VIRTIO_VSOCK_OP_RST)
			device_reply_rst(dev, &hdr);
		return TX_APPLIED;
	}
	if (hdr.dst_cid != VMADDR_CID_HOST)
		return sibling_packet(dev, &hdr, chain);
	if (hdr.op == VIRTIO_VSOCK_OP_RST)
		stats_count(&dev->stats, STAT_RST_RECEIVED, 1);
	key = (struct conn_key){hdr.dst_port, hdr.src_port};
	c = conn_table_find(&dev->conns, &key);
	if (c && hdr.op == VIRTIO_VSOCK_OP_REQUEST) {
		/* The guest reuses a port pair, so it forgot the old one. */
		log_info_rl("guest port %u reconnects to host port %u; dropping the old "
			    "connection", hdr.src_port, hdr.dst_port);
		device_conn_drop(dev, c);
		c = NULL;
	}
	if (c && c->type != hdr.type) {
		/* As Linux answers a packet whose type is not its socket's. */
		log_warn_rl("guest sent a %s %s on %s port %u -> %u; %s",
			    vsock_type_name(hdr.type), vsock_op_name(hdr.op),
			    vsock_type_name(c->type), hdr.src_port, hdr.dst_port,
			    hdr.op == VIRTIO_VSOCK_OP_RST ? "dropped" : "answering RST");
		if (hdr.op != VIRTIO_VSOCK_OP_RST)
			device_reply_rst(dev, &hdr);
		return TX_APPLIED;
	}
	if (c)
		return conn_packet(dev, c, &hdr, chain) ? TX_HELD : TX_APPLIED;
	if (hdr.op == VIRTIO_VSOCK_OP_REQUEST)
		guest_connect(dev, &hdr);
	else if (hdr.op != VIRTIO_VSOCK_OP_RST)
		device_reply_rst(dev, &hdr);
	return TX_APPLIED;
}

enum tx_stop {
	TX_DRAINED,
	TX_CTRL_FULL,   /* control replies are backed up */
	TX_PARK_FULL,   /* a packet waits for room in the park */
};

static enum tx_stop drain_tx_ring(struct vsock_device *dev, struct virtq *vq)
{
	for (;;) {
		if (ctrl_queue_full(&dev->ctrl))
			return TX_CTRL_FULL;
		switch (virtq_pop(vq, &dev->chain)) {
		case VQ_POP_EMPTY:
		case VQ_POP_BROKEN:
			return TX_DRAINED;
		case VQ_POP_BAD_CHAIN:
			stats_count(&dev->stats, STAT_MALFORMED_CHAINS, 1);
			virtq_push(vq, dev->chain.head, 0);
			break;
		case VQ_POP_OK:
			switch (tx_packet(dev, vq, &dev->chain)) {
			case TX_APPLIED:
				virtq_push(vq, dev->chain.head, 0);
				break;
			case TX_HELD:
				break;
			case TX_WAIT:
				virtq_unpop(vq);
				return TX_PARK_FULL;
			}
			break;
		}
	}
}

static enum tx_stop drain_tx(struct vsock_device *dev, struct virtq *vq)
{
	enum tx_stop stop = drain_tx_ring(dev, vq);

	tx_batch_flush(dev, vq);
	return stop;
}

void device_process_tx(struct vsock_device *dev)
{
	struct virtq *vq = &dev->vu.vq[VU_QUEUE_TX];
	enum tx_stop stop;

	/* Nothing to resume until the queue starts again (queue_started). */
	if (!virtq_ready(vq)) {
		device_tx_pass_done(dev, false);
		return;
	}
	/* Packets kept for full mailboxes are older than anything in the ring. */
	device_park_process(dev, vq);
	do {
		virtq_disable_kicks(vq);
		stop = drain_tx(dev, vq);
	} while (stop == TX_DRAINED && virtq_enable_kicks(vq));
	/* Resumed once replies drain (device_pump), or by the router's
	 * wakeup or the park timer (device_park.c). */
	device_tx_pass_done(dev, stop == TX_CTRL_FULL);
}
