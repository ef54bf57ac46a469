/* Connection lifecycle and the host side of each connection: creation,
 * reset and teardown, which socket events to watch, writing guest data to
 * the host socket (and flushing what it refused), half and full close. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/vm_sockets.h>

#include "device_priv.h"
#include "iov_util.h"
#include "log.h"

/* Host socket interest while the guest may still get data from it.  Also
 * held while the guest has yet to accept a host client, so that a backend's
 * registration is taken over once and kept: data and EOF arriving early are
 * remembered in host_readable until the connection is up. */
#define HOST_READ_EVENTS (EPOLLIN | EPOLLRDHUP | EPOLLET)

static void conn_event(struct ev_source *src, uint32_t events);

struct conn *device_conn_new(struct vsock_device *dev, const struct conn_key *key, int fd)
{
	struct conn *c;

	if (dev->conns.count >= DEVICE_MAX_CONNS) {
		log_warn_rl("connection limit (%u) reached; refusing port %u -> %u",
			    DEVICE_MAX_CONNS, key->peer_port, key->local_port);
		return NULL;
	}
	c = malloc(sizeof(*c));
	if (!c) {
		log_warn_rl("out of memory for a new connection");
		return NULL;
	}
	conn_init(c, dev, key, fd, dev->tx_buffer_size);
	c->ev.handler = conn_event;
	conn_table_insert(&dev->conns, c);
	return c;
}

void device_conn_schedule(struct vsock_device *dev, struct conn *c)
{
	if (!c->pending || c->in_rx_fifo || c->state == CONN_DEAD)
		return;
	c->rx_next = NULL;
	c->rx_prev = dev->rx_tail;
	if (dev->rx_tail)
		dev->rx_tail->rx_next = c;
	else
		dev->rx_head = c;
	dev->rx_tail = c;
	c->in_rx_fifo = true;
}

void device_conn_unschedule(struct vsock_device *dev, struct conn *c)
{
	if (!c->in_rx_fifo)
		return;
	if (c->rx_prev)
		c->rx_prev->rx_next = c->rx_next;
	else
		dev->rx_head = c->rx_next;
	if (c->rx_next)
		c->rx_next->rx_prev = c->rx_prev;
	else
		dev->rx_tail = c->rx_prev;
	c->rx_prev = c->rx_next = NULL;
	c->in_rx_fifo = false;
}

static void close_host_socket(struct conn *c)
{
	if (c->ev.fd < 0)
		return;
	/* The device holds the only descriptor of this socket, so closing
	 * it also removes it from the epoll set. */
	c->ev.events = 0;
	close(c->ev.fd);
	c->ev.fd = -1;
	txbuf_free(&c->txbuf);
	free(c->early);
	c->early = NULL;
	c->early_len = 0;
}

void device_conn_drop(struct vsock_device *dev, struct conn *c)
{
	if (c->state == CONN_DEAD)
		return;
	device_deadline_cancel(dev, c);
	device_conn_unschedule(dev, c);
	close_host_socket(c);
	conn_table_remove(&dev->conns, c);
	c->state = CONN_DEAD;
	c->pending = 0;
	/* Events for it may still be in the current epoll batch. */
	c->hash_next = dev->dead;
	dev->dead = c;
}

void device_conn_reset(struct vsock_device *dev, struct conn *c)
{
	if (c->state == CONN_DEAD || c->state == CONN_CLOSING)
		return;
	device_deadline_cancel(dev, c);
	close_host_socket(c);
	c->state = CONN_CLOSING;
	c->pending = CONN_PEND_RST;
	device_conn_schedule(dev, c);
}

void device_conn_drop_all(struct vsock_device *dev)
{
	struct conn *c;

	while ((c = conn_table_any(&dev->conns)))
		device_conn_drop(dev, c);
	ctrl_queue_init(&dev->ctrl);
	dev->tx_blocked = false;
}

void device_conn_drop_known_to_guest(struct vsock_device *dev)
{
	struct conn *keep = NULL, *c;

	/* Host clients whose REQUEST the old driver never saw can still be
	 * offered to the new one. */
	while ((c = conn_table_any(&dev->conns))) {
		conn_table_remove(&dev->conns, c);
		if (c->state == CONN_REQUESTING && (c->pending & CONN_PEND_REQUEST)) {
			c->hash_next = keep;
			keep = c;
		} else {
			device_conn_drop(dev, c);
		}
	}
	while (keep) {
		c = keep;
		keep = c->hash_next;
		conn_table_insert(&dev->conns, c);
	}
	ctrl_queue_init(&dev->ctrl);
	dev->tx_blocked = false;
}

void device_conn_free_dead(struct vsock_device *dev)
{
	while (dev->dead) {
		struct conn *c = dev->dead;

		dev->dead = c->hash_next;
		free(c);
	}
}

void device_conn_sync_interest(struct vsock_device *dev, struct conn *c)
{
	bool open_for_reading = !c->host_eof && !c->guest_shut_rcv;
	bool reading = c->state == CONN_ESTABLISHED && open_for_reading;
	uint32_t want = 0;
	int rc;

	/* Read only what the guest can take: data waits in the host socket
	 * (back-pressure) while it has no credit. */
	if (reading && (c->host_readable || c->early_len) && conn_peer_credit(c) > 0)
		c->pending |= CONN_PEND_RW;
	else
		c->pending &= (uint8_t)~CONN_PEND_RW;
	if (c->state == CONN_CONNECTING) {
		want = EPOLLOUT;
	} else if (c->state == CONN_REQUESTING) {
		if (open_for_reading)
			want = HOST_READ_EVENTS;
	} else if (c->state == CONN_ESTABLISHED) {
		/* Edge-triggered, so the interest stays put while data waits
		 * for credit or RX buffers: host_readable remembers it. */
		if (reading)
			want |= HOST_READ_EVENTS;
		if (!txbuf_empty(&c->txbuf))
			want |= EPOLLOUT | EPOLLET;
	}
	rc = ev_set(dev->epfd, &c->ev, want);
	if (rc < 0) {
		log_warn_rl("epoll on a host socket (port %u): %s", c->key.local_port,
			    strerror(-rc));
		device_conn_reset(dev, c);
	}
}

static void shut_host_write_side(struct conn *c)
{
	if (c->host_shut_wr)
		return;
	c->host_shut_wr = true;
	if (shutdown(c->ev.fd, SHUT_WR) < 0 && errno != ENOTCONN)
		log_info_rl("shutdown of a host socket (port %u): %s", c->key.local_port,
			    strerror(errno));
}

void device_conn_release_finished_host(struct conn *c)
{
	if (c->host_eof && c->guest_shut_send && txbuf_empty(&c->txbuf))
		close_host_socket(c);
}

/* Called when the txbuf has drained (or a guest shutdown arrives with
 * nothing buffered): finish the close steps the guest asked for.
 * Returns false if the connection is gone. */
static bool after_drain(struct vsock_device *dev, struct conn *c)
{
	if (c->guest_shut_send && c->guest_shut_rcv) {
		device_conn_reset(dev, c);
		return false;
	}
	if (c->guest_shut_send) {
		shut_host_write_side(c);
		device_conn_release_finished_host(c);
	}
	return true;
}

static void host_write_failed(struct vsock_device *dev, struct conn *c, int err)
{
	log_info_rl("host socket for port %u -> %u: %s; resetting", c->key.peer_port,
		    c->key.local_port, strerror(err));
	device_conn_reset(dev, c);
}

void device_conn_write(struct vsock_device *dev, struct conn *c,
		       const struct iovec *iov, unsigned n)
{
	size_t total = iov_total(iov, n);
	size_t sent = 0;
	int rc;

	if (total == 0)
		return;
	if (c->guest_shut_send) {
		log_warn_rl("guest sent data on port %u after SHUTDOWN(SEND); resetting",
			    c->key.peer_port);
		device_conn_reset(dev, c);
		return;
	}
	if (txbuf_empty(&c->txbuf)) {
		struct msghdr msg = {.msg_iov = (struct iovec *)iov, .msg_iovlen = n};
		ssize_t w = sendmsg(c->ev.fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
			host_write_failed(dev, c, errno);
			return;
		}
		sent = w < 0 ? 0 : (size_t)w;
		conn_account_forwarded(c, (uint32_t)sent, dev->tx_buffer_size);
		if (sent == total)
			return;
		n = iov_slice(iov, n, sent, total - sent, dev->tx_rest, VQ_CHAIN_MAX_SEGS);
		iov = dev->tx_rest;
	}
	rc = txbuf_push(&c->txbuf, iov, n);
	if (rc < 0) {
		log_warn_rl("guest overran its credit on port %u -> %u (%zu bytes, %u free); "
			    "resetting", c->key.peer_port, c->key.local_port, total - sent,
			    txbuf_space(&c->txbuf));
		device_conn_reset(dev, c);
	}
}

static void flush_txbuf(struct vsock_device *dev, struct conn *c)
{
	ssize_t n = txbuf_flush(&c->txbuf, c->ev.fd);

	if (n == -EAGAIN)
		return;
	if (n < 0) {
		host_write_failed(dev, c, (int)-n);
		return;
	}
	conn_account_forwarded(c, (uint32_t)n, dev->tx_buffer_size);
	if (!txbuf_empty(&c->txbuf))
		return;
	if (c->fwd_cnt != c->advertised_fwd_cnt)
		c->pending |= CONN_PEND_CREDIT_UPDATE;
	after_drain(dev, c);
}

void device_conn_guest_shutdown(struct vsock_device *dev, struct conn *c, uint32_t flags)
{
	if (flags & VIRTIO_VSOCK_SHUTDOWN_RCV) {
		c->guest_shut_rcv = true;
		c->pending &= (uint8_t)~CONN_PEND_RW;
	}
	if (flags & VIRTIO_VSOCK_SHUTDOWN_SEND)
		c->guest_shut_send = true;
	if (txbuf_empty(&c->txbuf))
		after_drain(dev, c);
}

void device_conn_guest_accepted(struct vsock_device *dev, struct conn *c)
{
	int rc;

	device_deadline_cancel(dev, c);
	rc = dev->backend->ops->accepted(dev->backend, c->ev.fd, c->key.peer_port);
	if (rc < 0) {
		log_info_rl("host client for guest port %u is gone (%s); resetting",
			    c->key.peer_port, strerror(-rc));
		device_conn_reset(dev, c);
		return;
	}
	c->state = CONN_ESTABLISHED;
}

static void connect_finished(struct vsock_device *dev, struct conn *c)
{
	int err = 0;
	socklen_t len = sizeof(err);

	if (getsockopt(c->ev.fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		err = errno;
	if (err) {
		log_info_rl("connect for guest port %u -> host port %u failed: %s",
			    c->key.peer_port, c->key.local_port, strerror(err));
		device_conn_reset(dev, c);
		return;
	}
	c->state = CONN_ESTABLISHED;
	c->pending |= CONN_PEND_RESPONSE;
}

static void conn_event(struct ev_source *src, uint32_t events)
{
	struct conn *c = (struct conn *)src;
	struct vsock_device *dev = c->dev;

	if (c->state == CONN_CONNECTING) {
		connect_finished(dev, c);
	} else if (c->state == CONN_ESTABLISHED || c->state == CONN_REQUESTING) {
		if ((events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) && !txbuf_empty(&c->txbuf))
			flush_txbuf(dev, c);
		if (c->state != CONN_CLOSING && (c->ev.events & EPOLLIN) &&
		    (events & (EPOLLIN | EPOLLRDHUP | EPOLLERR | EPOLLHUP))) {
			c->host_readable = true;
			/* Its only edge may come with the last data. */
			if (events & (EPOLLRDHUP | EPOLLERR | EPOLLHUP))
				c->host_rdhup = true;
		}
	}
	if (c->state == CONN_CONNECTING || c->state == CONN_ESTABLISHED)
		device_conn_sync_interest(dev, c);
	device_conn_schedule(dev, c);
}

struct port_query {
	const struct vsock_device *dev;
	struct conn_key key;
};

static bool local_port_busy(void *ctx, uint32_t port)
{
	struct port_query *q = ctx;

	q->key.local_port = port;
	return conn_table_find(&q->dev->conns, &q->key) != NULL;
}

/* A connection for a host client, owing the guest its REQUEST; NULL (fd
 * closed) if there is no room for it. */
static struct conn *host_conn_new(struct vsock_device *dev, int fd, uint32_t guest_port)
{
	struct port_query q = {dev, {.local_cid = VMADDR_CID_HOST, .peer_port = guest_port}};
	struct conn_key key = q.key;
	struct conn *c;

	if (!port_alloc_next(&dev->ports, local_port_busy, &q, dev->conns.count + 1,
			     &key.local_port)) {
		log_warn_rl("no free local port for guest port %u", guest_port);
		close(fd);
		return NULL;
	}
	c = device_conn_new(dev, &key, fd);
	if (!c) {
		close(fd);
		return NULL;
	}
	c->state = CONN_REQUESTING;
	c->pending = CONN_PEND_REQUEST;
	device_conn_schedule(dev, c);
	device_deadline_start(dev, c);
	return c;
}

void vsock_device_host_connect(struct vsock_device *dev, int fd, uint32_t guest_port)
{
	host_conn_new(dev, fd, guest_port);
}

void vsock_device_host_handover(struct vsock_device *dev, int fd, uint32_t guest_port,
				uint32_t events, const void *early, size_t early_len)
{
	char *copy = NULL;
	struct conn *c;
	int rc;

	if (early_len) {
		copy = malloc(early_len);
		if (!copy) {
			log_warn_rl("out of memory for a host client's first bytes");
			close(fd);
			return;
		}
		memcpy(copy, early, early_len);
	}
	c = host_conn_new(dev, fd, guest_port);
	if (!c) {
		free(copy);
		return;
	}
	c->early = copy;
	c->early_len = (uint32_t)early_len;
	/* The backend's registration, if any: ev_set turns it into ours (a MOD,
	 * or an ADD), which also reports data already waiting (edge-triggered). */
	c->ev.events = events;
	rc = ev_set(dev->epfd, &c->ev, HOST_READ_EVENTS);
	if (rc < 0) {
		log_warn_rl("epoll on a host client (guest port %u): %s; closing it",
			    guest_port, strerror(-rc));
		device_conn_drop(dev, c);
	}
}
