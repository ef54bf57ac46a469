/* Seqpacket connections' host sockets: one guest message is one host
 * message, and the reverse.
 *
 * Guest to host: a message arrives as RW packets, EOM on the last.  The
 * packets of a message that come together in one TX drain are written with
 * one sendmsg, straight from guest memory; a message still arriving when
 * the drain ends, or one the host socket has no room for, waits in the
 * connection's txbuf, which records where it ends, and is sent whole
 * later.  The guest's credit bounds
 * all of it, and the window offered is capped at the largest message the
 * host socket takes, so a Linux guest refuses (EMSGSIZE) a larger one
 * itself.  Empty messages are not sent: a Unix seqpacket reader could not
 * tell one from the end of the connection.  EOR (MSG_EOR) means nothing to
 * Unix sockets, so it is not carried either way.
 *
 * Host to guest: the next message's length is peeked first; it is read
 * only once the guest has credit for all of it and enough RX buffers are
 * popped, straight into them, then handed out as RW packets with EOM on
 * the last.  A message the guest can never take (larger than its buf_alloc
 * or than RX_BATCH_BYTES) resets the connection: never truncated. */
#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include "device_priv.h"
#include "iov_util.h"
#include "log.h"

void device_seqpacket_open(struct vsock_device *dev, struct conn *c)
{
	const struct backend_ops *ops = dev->backend->ops;

	c->max_window = ops->max_message
				? ops->max_message(dev->backend, c->ev.fd, dev->tx_pool.window)
				: 0;
	c->window = dev->tx_pool.window;
}

/* The host socket refused a message for good. */
static void message_failed(struct vsock_device *dev, struct conn *c, int err, size_t len)
{
	if (err == EMSGSIZE || err == ENOBUFS) {
		log_warn_rl("host socket for port %u -> %u refuses a message of %zu bytes as too "
			    "large; resetting", c->key.peer_port, c->key.local_port, len);
		device_conn_reset(dev, c);
		return;
	}
	device_check_guest_fault(dev, err);
	device_conn_write_failed(dev, c, err);
}

/* Sends the message in iov at once; false if the socket had no room. */
static bool send_now(struct vsock_device *dev, struct conn *c, const struct iovec *iov,
		     unsigned n, size_t len)
{
	struct msghdr msg = {.msg_iov = (struct iovec *)iov, .msg_iovlen = n};

	if (sendmsg(c->ev.fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT) >= 0) {
		device_conn_forwarded(dev, c, (uint32_t)len);
		return true;
	}
	if (errno == EAGAIN || errno == EWOULDBLOCK)
		return false;
	message_failed(dev, c, errno, len);
	return true;
}

void device_seqpacket_write(struct vsock_device *dev, struct conn *c,
			    const struct iovec *iov, unsigned n, uint32_t flags)
{
	size_t len = iov_total(iov, n);
	bool eom = flags & VIRTIO_VSOCK_SEQ_EOM;
	bool queued = c->txbuf.msgs > 0;
	int rc;

	if (c->guest_shut_send && (len || eom)) {
		log_warn_rl("guest sent data on port %u after SHUTDOWN(SEND); resetting",
			    c->key.peer_port);
		device_conn_reset(dev, c);
		return;
	}
	if (eom && c->txbuf.open + len == 0) {
		log_info_rl("guest sent an empty message on port %u -> %u; not sent",
			    c->key.peer_port, c->key.local_port);
		return;
	}
	if (eom && !queued && c->txbuf.open == 0 && send_now(dev, c, iov, n, len))
		return;
	/* Within the guest's credit, as for streams. */
	rc = txbuf_push(&c->txbuf, iov, n, c->credit_edge - c->fwd_cnt);
	if (rc == 0 && eom)
		txbuf_end_message(&c->txbuf);
	if (rc < 0) {
		log_warn_rl("cannot buffer a message for port %u -> %u: %s; resetting",
			    c->key.peer_port, c->key.local_port, strerror(-rc));
		device_conn_reset(dev, c);
		return;
	}
	tx_credit_account(&dev->tx_pool, c);
	/* A message completed in the buffer goes now if nothing is ahead of it. */
	if (eom && !queued)
		device_seqpacket_flush(dev, c);
}

void device_seqpacket_flush(struct vsock_device *dev, struct conn *c)
{
	while (c->txbuf.msgs) {
		ssize_t n = txbuf_send_msg(&c->txbuf, c->ev.fd);

		if (n == -EAGAIN)
			return;
		if (n < 0) {
			message_failed(dev, c, (int)-n, txbuf_msg_len(&c->txbuf));
			return;
		}
		device_conn_forwarded(dev, c, (uint32_t)n);
	}
	if (txbuf_empty(&c->txbuf))
		device_conn_drained(dev, c);
}

/* recv() gave 0: the end of the connection, or an empty message (which
 * the guest is not sent: see above).  With nothing queued behind it and
 * the peer gone, it is the end. */
static bool empty_or_eof(struct vsock_device *dev, struct virtq *vq, struct conn *c)
{
	int queued = -1;

	if (ioctl(c->ev.fd, FIONREAD, &queued) < 0)
		queued = -1; /* unknown */
	if (c->host_rdhup && queued <= 0) {
		device_rx_gather(dev, vq, 1, 1);
		if (dev->rx.n == 0)
			return false;
		c->host_readable = false;
		device_rx_send_host_eof(dev, vq, c);
		return true;
	}
	recv(c->ev.fd, NULL, 0, MSG_DONTWAIT);
	log_info_rl("host sent an empty message on port %u -> %u; not sent to the guest",
		    c->key.local_port, c->key.peer_port);
	/* More data, or the peer's end, brings a new edge. */
	if (queued <= 0)
		c->host_readable = false;
	device_conn_sync_interest(dev, c);
	return true;
}

/* Resets a connection whose next host message the guest can never take. */
static void too_large(struct vsock_device *dev, struct conn *c, size_t len, const char *why)
{
	log_warn_rl("host message of %zu bytes for port %u -> %u is larger than %s; "
		    "resetting", len, c->key.local_port, c->key.peer_port, why);
	device_conn_reset(dev, c);
}

/* The RX chains popped for a message of len bytes hold only room: gives
 * them back and decides what next.  Returns what serve_rw returns. */
static bool short_of_buffers(struct vsock_device *dev, struct virtq *vq, struct conn *c,
			     size_t len, size_t room)
{
	unsigned popped = dev->rx.n;

	if (!dev->rx.full && virtq_has_avail(vq)) {
		/* A malformed chain ended the batch: the chains before it go
		 * back unused, it goes next, and those behind it serve. */
		log_warn_rl("rx: a malformed chain among the buffers for a %zu-byte message; "
			    "the chains before it returned unused", len);
		device_rx_return_empty(dev, vq);
		return true;
	}
	device_rx_unpop_from(dev, vq, 0);
	/* Waiting for more buffers is only worth it if a ring full of buffers
	 * like these would hold the message. */
	if (dev->rx.full || (popped && room * vq->num / popped < len)) {
		too_large(dev, c, len, "the guest's RX buffers can hold");
		return true;
	}
	if (popped == 0)
		return false; /* none at all: the RX pass waits for a kick */
	device_rx_wait_for_buffers(dev, vq, c);
	return true;
}

bool device_seqpacket_serve_rw(struct vsock_device *dev, struct virtq *vq, struct conn *c)
{
	struct msghdr msg = {.msg_iov = dev->rx.payload};
	ssize_t len = recv(c->ev.fd, NULL, 0, MSG_PEEK | MSG_TRUNC | MSG_DONTWAIT);
	size_t room;
	ssize_t n;

	if (len == 0)
		return empty_or_eof(dev, vq, c);
	if (len < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK) {
			c->host_readable = false;
			device_conn_sync_interest(dev, c);
		} else if (errno != EINTR) {
			log_info_rl("reading host socket for guest port %u: %s; resetting",
				    c->key.peer_port, strerror(errno));
			device_conn_reset(dev, c);
		}
		return true;
	}
	if ((size_t)len > RX_BATCH_BYTES) {
		too_large(dev, c, (size_t)len, "the largest the daemon carries (256 KiB)");
		return true;
	}
	if ((size_t)len > c->peer_buf_alloc) {
		too_large(dev, c, (size_t)len, "the guest's receive buffer");
		return true;
	}
	c->rx_msg_len = (uint32_t)len;
	if (conn_peer_credit(c) < (uint32_t)len) {
		device_conn_sync_interest(dev, c); /* until the guest reads more */
		return true;
	}
	msg.msg_iovlen = device_rx_gather(dev, vq, (size_t)len, (size_t)len);
	room = iov_total(dev->rx.payload, msg.msg_iovlen);
	if (room < (size_t)len)
		return short_of_buffers(dev, vq, c, (size_t)len, room);
	n = recvmsg(c->ev.fd, &msg, MSG_DONTWAIT);
	if (n < 0 && errno == EINTR) {
		device_rx_unpop_from(dev, vq, 0);
		return true;
	}
	if (n != len || (msg.msg_flags & MSG_TRUNC)) {
		int err = n < 0 ? errno : EPROTO;

		device_rx_unpop_from(dev, vq, 0);
		device_check_guest_fault(dev, err);
		log_info_rl("reading a message of %zd bytes for guest port %u: %s; resetting",
			    len, c->key.peer_port, strerror(err));
		device_conn_reset(dev, c);
		return true;
	}
	c->rx_msg_len = 0;
	device_rx_send_batch(dev, vq, c, (size_t)n, VIRTIO_VSOCK_SEQ_EOM);
	device_conn_sync_interest(dev, c);
	return true;
}
