/* The guest's vsock sockets: the connection table, the state machine and
 * credit accounting of a Linux-like virtio-vsock driver, and the
 * socket-like calls the rig offers on top of them. */
#include "rig_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <linux/virtio_vsock.h>

#define SHUTDOWN_BOTH (VIRTIO_VSOCK_SHUTDOWN_RCV | VIRTIO_VSOCK_SHUTDOWN_SEND)
/* Linux sends a credit update once the peer may think we have less than
 * this much room (VIRTIO_VSOCK_MAX_PKT_BUF_SIZE). */
#define CREDIT_UPDATE_THRESHOLD (64u * 1024)

/* ---- Connection table ----------------------------------------------------- */

static unsigned bucket_of(uint64_t cid, uint32_t peer_port, uint32_t local_port)
{
	uint64_t h = cid * 0x9E3779B97F4A7C15ULL ^ peer_port * 0x85EBCA6BULL ^
		     local_port * 0xC2B2AE35ULL;

	return (unsigned)((h ^ (h >> 29)) % RIG_HASH_BUCKETS);
}

/* Connections that still own their port pair (not CLOSED). */
static struct rig_conn *lookup(struct rig *rig, uint64_t cid, uint32_t peer_port,
			       uint32_t local_port)
{
	struct rig_conn *c = rig->buckets[bucket_of(cid, peer_port, local_port)];

	for (; c; c = c->hnext)
		if (c->peer_cid == cid && c->peer_port == peer_port &&
		    c->local_port == local_port)
			return c;
	return NULL;
}

static void unhash(struct rig *rig, struct rig_conn *c)
{
	struct rig_conn **p =
		&rig->buckets[bucket_of(c->peer_cid, c->peer_port, c->local_port)];

	for (; *p; p = &(*p)->hnext) {
		if (*p == c) {
			*p = c->hnext;
			c->hnext = NULL;
			return;
		}
	}
}

static struct rig_conn *conn_new(struct rig *rig, uint64_t cid, uint32_t peer_port,
				 uint32_t local_port)
{
	struct rig_conn *c = calloc(1, sizeof(*c));
	unsigned b = bucket_of(cid, peer_port, local_port);

	if (!c)
		return NULL;
	c->peer_cid = cid;
	c->peer_port = peer_port;
	c->local_port = local_port;
	c->buf_alloc = rig->opts.buf_alloc;
	c->hnext = rig->buckets[b];
	rig->buckets[b] = c;
	c->next = rig->all;
	if (rig->all)
		rig->all->prev = c;
	rig->all = c;
	rig->n_conns++;
	return c;
}

static void accept_queue_remove(struct rig *rig, struct rig_conn *c)
{
	struct rig_conn **p = &rig->accept_head, *prev = NULL;

	if (!c->in_accept_queue)
		return;
	while (*p && *p != c) {
		prev = *p;
		p = &(*p)->accept_next;
	}
	if (*p) {
		*p = c->accept_next;
		if (rig->accept_tail == c)
			rig->accept_tail = prev;
	}
	c->in_accept_queue = false;
	c->accept_next = NULL;
}

static void conn_free(struct rig *rig, struct rig_conn *c)
{
	if (c->state != RIG_CONN_CLOSED)
		unhash(rig, c);
	accept_queue_remove(rig, c);
	if (c->prev)
		c->prev->next = c->next;
	else
		rig->all = c->next;
	if (c->next)
		c->next->prev = c->prev;
	rig->n_conns--;
	rig_rxq_purge(rig, c);
	free(c);
}

/* The connection is over: free the port pair; free the connection unless
 * the application still holds it. */
static void conn_finish(struct rig *rig, struct rig_conn *c, int error)
{
	if (c->state != RIG_CONN_CLOSED)
		unhash(rig, c);
	c->state = RIG_CONN_CLOSED;
	if (!c->error)
		c->error = error;
	if (!c->app_owned && !c->in_accept_queue)
		conn_free(rig, c);
}

void rig_drop_connections(struct rig *rig)
{
	while (rig->all)
		conn_free(rig, rig->all);
	memset(rig->buckets, 0, sizeof(rig->buckets));
	rig->accept_head = rig->accept_tail = NULL;
	rig->n_listen = 0;
	rig->stray_head = rig->stray_len = 0;
}

/* ---- Packets out ----------------------------------------------------------- */

static struct rig_hdr conn_hdr(struct rig *rig, struct rig_conn *c, uint16_t op)
{
	c->last_fwd_cnt = c->fwd_cnt;
	return (struct rig_hdr){
		.src_cid = rig->cid, .dst_cid = c->peer_cid,
		.src_port = c->local_port, .dst_port = c->peer_port,
		.type = VIRTIO_VSOCK_TYPE_STREAM, .op = op,
		.buf_alloc = c->buf_alloc, .fwd_cnt = c->fwd_cnt,
	};
}

static void send_op(struct rig *rig, struct rig_conn *c, uint16_t op,
		    uint32_t flags)
{
	struct rig_hdr h = conn_hdr(rig, c, op);

	h.flags = flags;
	rig_send_ctrl(rig, &h);
}

/* RST in answer to a packet, as Linux does for unknown sockets. */
static void reply_rst(struct rig *rig, const struct rig_hdr *in)
{
	struct rig_hdr h = {
		.src_cid = in->dst_cid, .dst_cid = in->src_cid,
		.src_port = in->dst_port, .dst_port = in->src_port,
		.type = in->type, .op = VIRTIO_VSOCK_OP_RST,
	};

	if (in->op != VIRTIO_VSOCK_OP_RST && !rig->opts.strays_unanswered)
		rig_send_ctrl(rig, &h);
}

uint32_t rig_conn_credit(const struct rig_conn *c)
{
	uint32_t in_flight = c->tx_cnt - c->peer_fwd_cnt;

	/* A peer that shrinks its buffer below what is in flight gives no
	 * credit, never a wrapped-around huge one. */
	return in_flight >= c->peer_buf_alloc ? 0 : c->peer_buf_alloc - in_flight;
}

/* ---- Packets in ----------------------------------------------------------- */

static void stray(struct rig *rig, const struct rig_hdr *h)
{
	unsigned slot = (rig->stray_head + rig->stray_len) % RIG_STRAY_MAX;

	if (rig->stray_len == RIG_STRAY_MAX) {
		rig->stray_head = (rig->stray_head + 1) % RIG_STRAY_MAX;
		rig->stray_len--;
	}
	rig->strays[slot].hdr = *h;
	rig->stray_len++;
}

static bool listening(const struct rig *rig, uint32_t port)
{
	for (unsigned i = 0; i < rig->n_listen; i++)
		if (rig->listen_ports[i] == port)
			return true;
	return false;
}

static void incoming_request(struct rig *rig, const struct rig_hdr *h)
{
	struct rig_conn *c = conn_new(rig, h->src_cid, h->src_port, h->dst_port);

	if (!c) {
		reply_rst(rig, h);
		return;
	}
	c->peer_buf_alloc = h->buf_alloc;
	c->peer_fwd_cnt = h->fwd_cnt;
	c->state = RIG_CONN_CONNECTED;
	send_op(rig, c, VIRTIO_VSOCK_OP_RESPONSE, 0);
	c->in_accept_queue = true;
	if (rig->accept_tail)
		rig->accept_tail->accept_next = c;
	else
		rig->accept_head = c;
	rig->accept_tail = c;
}

static void receive_data(struct rig *rig, struct rig_conn *c,
			 const struct rig_hdr *h, const uint8_t *payload,
			 struct rig_rx_buf *b)
{
	if (c->peer_shutdown & VIRTIO_VSOCK_SHUTDOWN_SEND) {
		rig_violation(rig, "RW on port %u after SHUTDOWN(SEND)", c->local_port);
		return;
	}
	if (h->len > c->buf_alloc - c->rxq_len) {
		rig->stats.credit_violations++;
		rig_violation(rig, "RW of %u bytes on port %u with %u unread of %u "
			      "(credit exceeded)", h->len, c->local_port, c->rxq_len,
			      c->buf_alloc);
		return;
	}
	if (h->len)
		rig_rxq_add(rig, c, b, payload, h->len);
	c->bytes_in += h->len;
}

static void connected_packet(struct rig *rig, struct rig_conn *c,
			     const struct rig_hdr *h, const uint8_t *payload,
			     struct rig_rx_buf *b)
{
	switch (h->op) {
	case VIRTIO_VSOCK_OP_RW:
		receive_data(rig, c, h, payload, b);
		break;
	case VIRTIO_VSOCK_OP_CREDIT_UPDATE:
		c->credit_updates_received++;
		break;
	case VIRTIO_VSOCK_OP_CREDIT_REQUEST:
		c->credit_requests_received++;
		send_op(rig, c, VIRTIO_VSOCK_OP_CREDIT_UPDATE, 0);
		break;
	case VIRTIO_VSOCK_OP_SHUTDOWN:
		if (!(h->flags & SHUTDOWN_BOTH))
			rig_violation(rig, "SHUTDOWN without flags on port %u",
				      c->local_port);
		c->peer_shutdown |= h->flags & SHUTDOWN_BOTH;
		if (c->peer_shutdown == SHUTDOWN_BOTH && c->rxq_len == 0) {
			send_op(rig, c, VIRTIO_VSOCK_OP_RST, 0);
			conn_finish(rig, c, 0);
		}
		break;
	case VIRTIO_VSOCK_OP_RST: {
		/* After SHUTDOWN(SEND) the stream already ended cleanly. */
		int err = c->peer_shutdown & VIRTIO_VSOCK_SHUTDOWN_SEND ? 0 : -ECONNRESET;

		c->peer_shutdown = SHUTDOWN_BOTH;
		conn_finish(rig, c, err);
		break;
	}
	default:
		rig_violation(rig, "op %u on established port %u", h->op,
			      c->local_port);
		send_op(rig, c, VIRTIO_VSOCK_OP_RST, 0);
		conn_finish(rig, c, -EPROTO);
		break;
	}
}

void rig_dispatch(struct rig *rig, const struct rig_hdr *h,
		  const uint8_t *payload, struct rig_rx_buf *b)
{
	struct rig_conn *c;

	if (h->dst_cid != rig->cid) {
		rig_violation(rig, "packet for CID %llu, we are %llu",
			      (unsigned long long)h->dst_cid,
			      (unsigned long long)rig->cid);
		return;
	}
	if (h->op != VIRTIO_VSOCK_OP_RW && h->len)
		rig_violation(rig, "op %u carries %u payload bytes", h->op, h->len);
	c = h->type == VIRTIO_VSOCK_TYPE_STREAM
		    ? lookup(rig, h->src_cid, h->src_port, h->dst_port)
		    : NULL;
	if (!c) {
		if (h->type == VIRTIO_VSOCK_TYPE_STREAM &&
		    h->op == VIRTIO_VSOCK_OP_REQUEST && listening(rig, h->dst_port)) {
			incoming_request(rig, h);
		} else {
			stray(rig, h);
			reply_rst(rig, h);
		}
		return;
	}
	c->peer_buf_alloc = h->buf_alloc;
	c->peer_fwd_cnt = h->fwd_cnt;
	switch (c->state) {
	case RIG_CONN_CONNECTING:
		if (h->op == VIRTIO_VSOCK_OP_RESPONSE) {
			c->state = RIG_CONN_CONNECTED;
		} else if (h->op == VIRTIO_VSOCK_OP_RST) {
			conn_finish(rig, c, -ECONNRESET);
		} else {
			rig_violation(rig, "op %u while connecting on port %u",
				      h->op, c->local_port);
			send_op(rig, c, VIRTIO_VSOCK_OP_RST, 0);
			conn_finish(rig, c, -EPROTO);
		}
		break;
	case RIG_CONN_CONNECTED:
		connected_packet(rig, c, h, payload, b);
		break;
	case RIG_CONN_CLOSING:
		if (h->op == VIRTIO_VSOCK_OP_RST) {
			conn_finish(rig, c, 0);
		} else if (h->op == VIRTIO_VSOCK_OP_SHUTDOWN) {
			send_op(rig, c, VIRTIO_VSOCK_OP_RST, 0);
			conn_finish(rig, c, 0);
		}
		break;
	case RIG_CONN_CLOSED:
		break; /* not hashed: unreachable */
	}
}

/* ---- Socket calls ---------------------------------------------------------- */

int rig_listen(struct rig *rig, uint32_t port)
{
	if (listening(rig, port))
		return 0;
	if (rig->n_listen == RIG_MAX_LISTEN)
		return -ENOSPC;
	rig->listen_ports[rig->n_listen++] = port;
	return 0;
}

void rig_unlisten(struct rig *rig, uint32_t port)
{
	for (unsigned i = 0; i < rig->n_listen; i++) {
		if (rig->listen_ports[i] == port) {
			rig->listen_ports[i] = rig->listen_ports[--rig->n_listen];
			return;
		}
	}
}

static struct rig_conn *find_acceptable(struct rig *rig, uint32_t port)
{
	for (struct rig_conn *c = rig->accept_head; c; c = c->accept_next)
		if (port == 0 || c->local_port == port)
			return c;
	return NULL;
}

static bool acceptable(struct rig *rig, void *arg)
{
	return find_acceptable(rig, *(uint32_t *)arg) != NULL;
}

int rig_accept(struct rig *rig, uint32_t port, int timeout_ms,
	       struct rig_conn **out)
{
	struct rig_conn *c;
	int err = rig_wait(rig, acceptable, &port, timeout_ms);

	if (err)
		return err;
	c = find_acceptable(rig, port);
	accept_queue_remove(rig, c);
	c->app_owned = true;
	*out = c;
	return 0;
}

int rig_connect_start(struct rig *rig, uint64_t cid, uint32_t port,
		      struct rig_conn **out)
{
	struct rig_conn *c;
	uint32_t local;

	if (!rig->device_started)
		return -ENOTCONN;
	do
		local = rig->next_local_port++;
	while (local < 1024 || lookup(rig, cid, port, local));
	c = conn_new(rig, cid, port, local);
	if (!c)
		return -ENOMEM;
	c->state = RIG_CONN_CONNECTING;
	c->app_owned = true;
	send_op(rig, c, VIRTIO_VSOCK_OP_REQUEST, 0);
	*out = c;
	return 0;
}

static bool not_connecting(struct rig *rig, void *arg)
{
	(void)rig;
	return ((struct rig_conn *)arg)->state != RIG_CONN_CONNECTING;
}

int rig_connect(struct rig *rig, uint64_t cid, uint32_t port, int timeout_ms,
		struct rig_conn **out)
{
	struct rig_conn *c;
	int err = rig_connect_start(rig, cid, port, &c);

	if (err)
		return err;
	err = rig_wait(rig, not_connecting, c, timeout_ms);
	if (!err && c->state != RIG_CONN_CONNECTED)
		err = c->error ? c->error : -ECONNRESET;
	if (err) {
		if (c->state == RIG_CONN_CONNECTING)
			rig_abort(rig, c);
		else
			rig_close(rig, c);
		return err;
	}
	*out = c;
	return 0;
}

ssize_t rig_send(struct rig *rig, struct rig_conn *c, const void *buf,
		 size_t len)
{
	size_t done = 0;

	if (rig->disconnected)
		return -ENOTCONN;
	if (c->state == RIG_CONN_CLOSED)
		return c->error ? c->error : -EPIPE;
	if (c->state != RIG_CONN_CONNECTED)
		return -ENOTCONN;
	if (c->our_shutdown & VIRTIO_VSOCK_SHUTDOWN_SEND ||
	    c->peer_shutdown & VIRTIO_VSOCK_SHUTDOWN_RCV)
		return -EPIPE;
	/* Control packets still queued go first (a RESPONSE must precede data). */
	while (done < len && rig->pending_len == 0) {
		uint32_t credit = rig_conn_credit(c);
		size_t chunk = len - done;
		struct rig_hdr h;

		if (chunk > credit)
			chunk = credit;
		if (chunk > rig->opts.max_pkt_payload)
			chunk = rig->opts.max_pkt_payload;
		if (chunk == 0)
			break;
		h = conn_hdr(rig, c, VIRTIO_VSOCK_OP_RW);
		h.len = (uint32_t)chunk;
		if (rig_xmit(rig, &h, (const uint8_t *)buf + done, chunk))
			break;
		c->tx_cnt += (uint32_t)chunk;
		c->bytes_out += chunk;
		done += chunk;
	}
	if (done)
		rig_ring_kick(&rig->txq);
	return (ssize_t)done;
}

int rig_send_all(struct rig *rig, struct rig_conn *c, const void *buf,
		 size_t len, int timeout_ms)
{
	int64_t deadline = rig_now_ms() + timeout_ms;
	size_t done = 0;

	while (done < len) {
		ssize_t n = rig_send(rig, c, (const uint8_t *)buf + done, len - done);
		int err;

		if (n < 0)
			return (int)n;
		done += (size_t)n;
		if (done == len)
			break;
		if (rig_left_ms(deadline) == 0)
			return -ETIMEDOUT;
		err = rig_poll(rig, NULL, 0, rig_left_ms(deadline));
		if (err < 0)
			return err;
	}
	return 0;
}

ssize_t rig_recv(struct rig *rig, struct rig_conn *c, void *buf, size_t len)
{
	uint32_t n = c->rxq_len < len ? c->rxq_len : (uint32_t)len;

	if (n == 0) {
		if (c->state == RIG_CONN_CLOSED)
			return c->error;
		if (c->peer_shutdown & VIRTIO_VSOCK_SHUTDOWN_SEND)
			return 0;
		return c->state == RIG_CONN_CONNECTED ? -EAGAIN : -ENOTCONN;
	}
	rig_rxq_read(rig, c, buf, n);
	c->fwd_cnt += n;
	if (c->state == RIG_CONN_CONNECTED) {
		uint32_t free_space = c->buf_alloc - (c->fwd_cnt - c->last_fwd_cnt);

		if (free_space < CREDIT_UPDATE_THRESHOLD)
			send_op(rig, c, VIRTIO_VSOCK_OP_CREDIT_UPDATE, 0);
		/* As Linux: the peer finished both ways and we have read it all. */
		if (c->rxq_len == 0 && c->peer_shutdown == SHUTDOWN_BOTH) {
			send_op(rig, c, VIRTIO_VSOCK_OP_RST, 0);
			conn_finish(rig, c, 0);
		}
	}
	return n;
}

ssize_t rig_recv_wait(struct rig *rig, struct rig_conn *c, void *buf,
		      size_t len, int timeout_ms)
{
	int64_t deadline = rig_now_ms() + timeout_ms;

	for (;;) {
		ssize_t n = rig_recv(rig, c, buf, len);
		int err;

		if (n != -EAGAIN)
			return n;
		if (rig_left_ms(deadline) == 0)
			return -ETIMEDOUT;
		err = rig_poll(rig, NULL, 0, rig_left_ms(deadline));
		if (err < 0)
			return err;
	}
}

int rig_shutdown(struct rig *rig, struct rig_conn *c, uint32_t flags)
{
	if (c->state != RIG_CONN_CONNECTED)
		return c->error ? c->error : -ENOTCONN;
	c->our_shutdown |= flags & SHUTDOWN_BOTH;
	send_op(rig, c, VIRTIO_VSOCK_OP_SHUTDOWN, flags & SHUTDOWN_BOTH);
	return 0;
}

void rig_close(struct rig *rig, struct rig_conn *c)
{
	c->app_owned = false;
	switch (c->state) {
	case RIG_CONN_CONNECTED:
		if (c->peer_shutdown == SHUTDOWN_BOTH) {
			send_op(rig, c, VIRTIO_VSOCK_OP_RST, 0);
			conn_finish(rig, c, 0);
			return;
		}
		c->our_shutdown = SHUTDOWN_BOTH;
		send_op(rig, c, VIRTIO_VSOCK_OP_SHUTDOWN, SHUTDOWN_BOTH);
		c->state = RIG_CONN_CLOSING;
		return;
	case RIG_CONN_CONNECTING:
		send_op(rig, c, VIRTIO_VSOCK_OP_RST, 0);
		conn_finish(rig, c, 0);
		return;
	case RIG_CONN_CLOSING:
		return;
	case RIG_CONN_CLOSED:
		conn_free(rig, c);
		return;
	}
}

struct closing_wait {
	uint64_t cid;
	uint32_t peer_port, local_port;
};

static bool pair_released(struct rig *rig, void *arg)
{
	struct closing_wait *w = arg;

	return lookup(rig, w->cid, w->peer_port, w->local_port) == NULL;
}

int rig_close_wait(struct rig *rig, struct rig_conn *c, int timeout_ms)
{
	struct closing_wait w = {c->peer_cid, c->peer_port, c->local_port};

	rig_close(rig, c);
	return rig_wait(rig, pair_released, &w, timeout_ms);
}

void rig_abort(struct rig *rig, struct rig_conn *c)
{
	c->app_owned = false;
	if (c->state != RIG_CONN_CLOSED)
		send_op(rig, c, VIRTIO_VSOCK_OP_RST, 0);
	conn_finish(rig, c, 0);
}

int rig_credit_request(struct rig *rig, struct rig_conn *c)
{
	if (c->state != RIG_CONN_CONNECTED)
		return -ENOTCONN;
	send_op(rig, c, VIRTIO_VSOCK_OP_CREDIT_REQUEST, 0);
	return 0;
}

int rig_credit_update(struct rig *rig, struct rig_conn *c)
{
	if (c->state != RIG_CONN_CONNECTED)
		return -ENOTCONN;
	send_op(rig, c, VIRTIO_VSOCK_OP_CREDIT_UPDATE, 0);
	return 0;
}

/* ---- Adversary ------------------------------------------------------------- */

int rig_send_pkt(struct rig *rig, const struct rig_hdr *h, const void *payload,
		 size_t payload_len)
{
	int err;

	if (payload_len > rig->opts.max_pkt_payload)
		return -EINVAL;
	err = rig_xmit(rig, h, payload, payload_len);
	if (!err)
		rig_ring_kick(&rig->txq);
	return err;
}

int rig_post_raw(struct rig *rig, unsigned ring, const struct vring_desc *descs,
		 unsigned n)
{
	struct rig_ring *r = ring == 0 ? &rig->rxq : &rig->txq;
	int head;

	if (ring > 1)
		return -EINVAL;
	head = rig_ring_add_raw(r, descs, n, RIG_RAW);
	if (head < 0)
		return head;
	rig->raw_done[ring][head] = 0;
	rig_ring_kick(r);
	return head;
}

struct raw_wait {
	unsigned ring;
	int head;
};

static bool raw_is_done(struct rig *rig, void *arg)
{
	struct raw_wait *w = arg;

	return rig->raw_done[w->ring][w->head];
}

int rig_wait_raw(struct rig *rig, unsigned ring, int head, uint32_t *len,
		 int timeout_ms)
{
	struct raw_wait w = {ring, head};
	int err;

	if (ring > 1 || head < 0 || head >= rig->opts.queue_size)
		return -EINVAL;
	err = rig_wait(rig, raw_is_done, &w, timeout_ms);
	if (!err && len)
		*len = rig->raw_len[ring][head];
	return err;
}

bool rig_pop_stray(struct rig *rig, struct rig_hdr *out)
{
	if (rig->stray_len == 0)
		return false;
	*out = rig->strays[rig->stray_head].hdr;
	rig->stray_head = (rig->stray_head + 1) % RIG_STRAY_MAX;
	rig->stray_len--;
	return true;
}

static bool has_stray(struct rig *rig, void *arg)
{
	(void)arg;
	return rig->stray_len > 0;
}

int rig_wait_stray(struct rig *rig, struct rig_hdr *out, int timeout_ms)
{
	int err = rig_wait(rig, has_stray, NULL, timeout_ms);

	if (!err)
		rig_pop_stray(rig, out);
	return err;
}
