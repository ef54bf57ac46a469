/* Connection lifecycle and the host side of each connection: creation
 * within the device's budgets, reset and teardown, which socket events to
 * watch, writing guest data to the host socket (and flushing what it
 * refused), half and full close.  Every change of a connection's state
 * (conn->state) is made here. */
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
 * remembered in host_readable until the connection is up, and a client
 * that hangs up meanwhile is noticed. */
#define HOST_READ_EVENTS (EPOLLIN | EPOLLRDHUP | EPOLLET)

static void conn_event(struct ev_source *src, uint32_t events);

static void conn_release(struct ev_source *src)
{
	free(container_of(src, struct conn, ev));
}

static const struct ev_ops conn_ops = {.handle = conn_event, .release = conn_release};

/* The only place a connection changes state, so that the gauges of
 * connections by state (device_stats.h) stay exact.  CONN_DEAD is not
 * counted: the connection is gone for the guest and the host. */
static void set_state(struct vsock_device *dev, struct conn *c, enum conn_state state)
{
	if (c->state != CONN_DEAD)
		stats_gauge_add(&dev->stats, (enum stat_gauge)c->state, -1);
	c->state = state;
	if (state != CONN_DEAD)
		stats_gauge_add(&dev->stats, (enum stat_gauge)state, 1);
}

void device_count_refusal(struct vsock_device *dev, int err)
{
	enum stat_counter why = STAT_REFUSED_ERROR;

	if (err == ENOENT || err == ECONNREFUSED || err == ECONNRESET)
		why = STAT_REFUSED_NO_LISTENER;
	else if (err == EPROTOTYPE)
		why = STAT_REFUSED_SOCKET_TYPE;
	stats_count(&dev->stats, why, 1);
}

struct conn *device_conn_new(struct vsock_device *dev, const struct conn_key *key, int fd,
			     uint16_t type, enum conn_state state)
{
	struct conn *c = malloc(sizeof(*c));

	if (!c) {
		log_warn_rl("out of memory for a new connection");
		return NULL;
	}
	conn_init(c, dev, key, fd, type);
	c->ev.ops = &conn_ops;
	if (conn_is_seqpacket(c))
		device_seqpacket_open(dev, c);
	c->state = CONN_DEAD; /* not counted yet */
	set_state(dev, c, state);
	if (state == CONN_ESTABLISHED) {
		stats_count(&dev->stats, STAT_OPENED_BY_GUEST, 1);
		c->pending = CONN_PEND_RESPONSE;
	} else if (state == CONN_REQUESTING)
		c->pending = CONN_PEND_REQUEST;
	conn_table_insert(&dev->conns, c);
	return c;
}

void device_conn_schedule(struct vsock_device *dev, struct conn *c)
{
	if (!c->pending || c->in_rx_fifo || c->state == CONN_DEAD)
		return;
	TAILQ_INSERT_TAIL(&dev->rx_fifo, c, rx_link);
	c->in_rx_fifo = true;
}

void device_conn_unschedule(struct vsock_device *dev, struct conn *c)
{
	if (!c->in_rx_fifo)
		return;
	TAILQ_REMOVE(&dev->rx_fifo, c, rx_link);
	c->in_rx_fifo = false;
}

/* Nothing more goes to or comes from the host: the fd, the buffers and
 * their charge are given back. */
static void close_host_socket(struct vsock_device *dev, struct conn *c)
{
	ev_close(&c->ev);
	txbuf_free(&c->txbuf);
	tx_credit_release(&dev->tx_pool, c);
	free(c->early);
	c->early = NULL;
	c->early_len = 0;
}

/* Frees the connection once the current batch is over. */
static void conn_retire(struct vsock_device *dev, struct conn *c)
{
	deadline_fifo_remove(&dev->waiting, &c->answer_deadline);
	device_conn_unschedule(dev, c);
	device_rx_forget_waiter(dev, c);
	close_host_socket(dev, c);
	set_state(dev, c, CONN_DEAD);
	c->pending = 0;
	ev_retire(&dev->loop, &c->ev);
}

void device_conn_drop(struct vsock_device *dev, struct conn *c)
{
	if (c->state == CONN_DEAD)
		return;
	conn_table_remove(&dev->conns, c);
	conn_retire(dev, c);
}

void device_conn_reset(struct vsock_device *dev, struct conn *c)
{
	if (c->state == CONN_DEAD || c->state == CONN_CLOSING)
		return;
	deadline_fifo_remove(&dev->waiting, &c->answer_deadline);
	close_host_socket(dev, c);
	set_state(dev, c, CONN_CLOSING);
	c->pending = CONN_PEND_RST;
	device_conn_schedule(dev, c);
}

void device_conn_abandon(struct vsock_device *dev, struct conn *c)
{
	if (c->pending & CONN_PEND_REQUEST)
		device_conn_drop(dev, c);
	else
		device_conn_reset(dev, c);
}

static void forget_guest_state(struct vsock_device *dev)
{
	ctrl_queue_init(&dev->ctrl);
}

/* conn_table_sweep() callbacks: the connection leaves the table retired. */
static bool retire_any(struct conn *c, void *dev)
{
	conn_retire(dev, c);
	return true;
}

static bool retire_known_to_guest(struct conn *c, void *dev)
{
	/* Host clients whose REQUEST the old driver never saw can still be
	 * offered to the new one. */
	if (c->state == CONN_REQUESTING && (c->pending & CONN_PEND_REQUEST))
		return false;
	conn_retire(dev, c);
	return true;
}

/* A guest that never got a host client's REQUEST has nothing to be told. */
static bool reset_or_retire(struct conn *c, void *dev)
{
	if (c->state == CONN_REQUESTING && (c->pending & CONN_PEND_REQUEST)) {
		conn_retire(dev, c);
		return true;
	}
	device_conn_reset(dev, c);
	return false;
}

void device_conn_reset_all(struct vsock_device *dev)
{
	conn_table_sweep(&dev->conns, reset_or_retire, dev);
}

void device_conn_drop_all(struct vsock_device *dev)
{
	conn_table_sweep(&dev->conns, retire_any, dev);
	forget_guest_state(dev);
}

void device_conn_drop_known_to_guest(struct vsock_device *dev)
{
	conn_table_sweep(&dev->conns, retire_known_to_guest, dev);
	forget_guest_state(dev);
}

void device_conn_sync_interest(struct vsock_device *dev, struct conn *c)
{
	bool open_for_reading = !c->host_eof && !c->guest_shut_rcv;
	bool reading = c->state == CONN_ESTABLISHED && open_for_reading;
	uint32_t want = 0;
	int rc;

	/* Read only what the guest can take: data waits in the host socket
	 * (back-pressure) while it has no credit, a message until the guest
	 * has credit for all of it (or shrank its buffer below it: then the
	 * next read resets the connection). */
	if (reading && (c->host_readable || c->early_len) && conn_peer_credit(c) > 0 &&
	    (conn_peer_credit(c) >= c->rx_msg_len || c->rx_msg_len > c->peer_buf_alloc) &&
	    !c->rx_waits)
		c->pending |= CONN_PEND_RW;
	else
		c->pending &= (uint8_t)~CONN_PEND_RW;
	if (c->state == CONN_CONNECTING) {
		want = EPOLLOUT;
	} else if (c->state == CONN_REQUESTING) {
		want = HOST_READ_EVENTS;
	} else if (c->state == CONN_ESTABLISHED) {
		/* Edge-triggered, so the interest stays put while data waits
		 * for credit or RX buffers: host_readable remembers it. */
		if (reading)
			want |= HOST_READ_EVENTS;
		if (device_conn_has_unsent(c))
			want |= EPOLLOUT | EPOLLET;
	}
	rc = ev_set(&dev->loop, &c->ev, want);
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

void device_conn_release_finished_host(struct vsock_device *dev, struct conn *c)
{
	if (c->host_eof && c->guest_shut_send && txbuf_empty(&c->txbuf))
		close_host_socket(dev, c);
}

bool device_conn_drained(struct vsock_device *dev, struct conn *c)
{
	if (c->guest_shut_send && c->guest_shut_rcv) {
		device_conn_reset(dev, c);
		return false;
	}
	if (c->guest_shut_send) {
		shut_host_write_side(c);
		device_conn_release_finished_host(dev, c);
	}
	return true;
}

void device_conn_write_failed(struct vsock_device *dev, struct conn *c, int err)
{
	log_info_rl("host socket for port %u -> %u: %s; resetting", c->key.peer_port,
		    c->key.local_port, strerror(err));
	device_conn_reset(dev, c);
}

void device_conn_forwarded(struct vsock_device *dev, struct conn *c, uint32_t n)
{
	c->fwd_cnt += n;
	c->bytes_g2h += n;
	stats_count(&dev->stats, STAT_BYTES_G2H, n);
	tx_credit_account(&dev->tx_pool, c);
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
			device_check_guest_fault(dev, errno);
			device_conn_write_failed(dev, c, errno);
			return;
		}
		sent = w < 0 ? 0 : (size_t)w;
		device_conn_forwarded(dev, c, (uint32_t)sent);
		if (sent == total)
			return;
		n = iov_slice(iov, n, sent, total - sent, dev->tx_rest, VQ_CHAIN_MAX_SEGS);
		iov = dev->tx_rest;
	}
	/* The guest kept within its credit (device_tx.c checks), and the
	 * credit is what the buffer may grow to. */
	rc = txbuf_push(&c->txbuf, iov, n, c->credit_edge - c->fwd_cnt);
	if (rc < 0) {
		log_warn_rl("cannot buffer %zu bytes for port %u -> %u: %s; resetting",
			    total - sent, c->key.peer_port, c->key.local_port, strerror(-rc));
		device_conn_reset(dev, c);
		return;
	}
	tx_credit_account(&dev->tx_pool, c);
}

static void flush_txbuf(struct vsock_device *dev, struct conn *c)
{
	ssize_t n;

	if (conn_is_seqpacket(c)) {
		device_seqpacket_flush(dev, c);
		return;
	}
	n = txbuf_flush(&c->txbuf, c->ev.fd);

	if (n == -EAGAIN)
		return;
	if (n < 0) {
		device_conn_write_failed(dev, c, (int)-n);
		return;
	}
	device_conn_forwarded(dev, c, (uint32_t)n);
	if (txbuf_empty(&c->txbuf))
		device_conn_drained(dev, c);
}

void device_conn_guest_shutdown(struct vsock_device *dev, struct conn *c, uint32_t flags)
{
	if (flags & VIRTIO_VSOCK_SHUTDOWN_RCV) {
		c->guest_shut_rcv = true;
		c->pending &= (uint8_t)~CONN_PEND_RW;
	}
	if (flags & VIRTIO_VSOCK_SHUTDOWN_SEND) {
		c->guest_shut_send = true;
		if (c->txbuf.open) {
			log_warn_rl("guest shut down its sending side in the middle of a message "
				    "on port %u; resetting", c->key.peer_port);
			device_conn_reset(dev, c);
			return;
		}
	}
	if (txbuf_empty(&c->txbuf))
		device_conn_drained(dev, c);
}

void device_conn_guest_accepted(struct vsock_device *dev, struct conn *c)
{
	int rc;

	deadline_fifo_remove(&dev->waiting, &c->answer_deadline);
	rc = dev->backend->ops->accepted(dev->backend, c->ev.fd, c->key.peer_port);
	if (rc < 0) {
		log_info_rl("host client for guest port %u is gone (%s); resetting",
			    c->key.peer_port, strerror(-rc));
		stats_count(&dev->stats, STAT_REFUSED_ERROR, 1);
		device_conn_reset(dev, c);
		return;
	}
	set_state(dev, c, CONN_ESTABLISHED);
	stats_count(&dev->stats, STAT_OPENED_BY_HOST, 1);
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
		device_count_refusal(dev, err);
		device_conn_reset(dev, c);
		return;
	}
	set_state(dev, c, CONN_ESTABLISHED);
	stats_count(&dev->stats, STAT_OPENED_BY_GUEST, 1);
	c->pending |= CONN_PEND_RESPONSE;
}

/* Whether a host client waiting for the guest has closed its socket.  One
 * that only shut its write side (it sent everything and waits for "OK")
 * stays; a zero-length send fails once it is gone for good (Unix and vsock
 * sockets both check the peer before the length).  Not on a seqpacket
 * socket, where it would send an empty message: there a closed peer
 * raises EPOLLHUP. */
static bool host_client_gone(const struct conn *c, uint32_t events)
{
	if (events & (EPOLLHUP | EPOLLERR))
		return true;
	if (!(events & EPOLLRDHUP) || conn_is_seqpacket(c))
		return false;
	return send(c->ev.fd, "", 0, MSG_NOSIGNAL | MSG_DONTWAIT) < 0 && errno != EAGAIN &&
	       errno != EINTR;
}

static void conn_event(struct ev_source *src, uint32_t events)
{
	struct conn *c = container_of(src, struct conn, ev);
	struct vsock_device *dev = c->dev;

	if (c->state == CONN_REQUESTING && host_client_gone(c, events)) {
		log_info_rl("host client for guest port %u left before the guest answered",
			    c->key.peer_port);
		device_conn_abandon(dev, c);
		return;
	}
	if (c->state == CONN_CONNECTING) {
		connect_finished(dev, c);
	} else if (c->state == CONN_ESTABLISHED || c->state == CONN_REQUESTING) {
		if ((events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) && device_conn_has_unsent(c))
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

/* Whether a host client for guest_port fits the budgets; logs why not. */
static bool host_client_fits(struct vsock_device *dev, uint32_t guest_port)
{
	if (dev->waiting.count >= dev->budget.max_pending) {
		log_warn_rl("max-pending (%u) reached: closing a host client for guest port %u",
			    dev->budget.max_pending, guest_port);
		stats_count(&dev->stats, STAT_REFUSED_BUDGET, 1);
		stats_count(&dev->stats, STAT_BUDGET_MAX_PENDING, 1);
		return false;
	}
	if (device_conn_full(dev)) {
		log_warn_rl("max-connections (%u) reached: closing a host client for guest "
			    "port %u", dev->budget.max_connections, guest_port);
		stats_count(&dev->stats, STAT_REFUSED_BUDGET, 1);
		stats_count(&dev->stats, STAT_BUDGET_MAX_CONNECTIONS, 1);
		return false;
	}
	return true;
}

/* A connection for a host client, owing the guest its REQUEST; NULL (fd
 * closed) if it does not fit. */
static struct conn *host_conn_new(struct vsock_device *dev, int fd, uint32_t guest_port,
				  uint16_t type)
{
	struct port_query q = {dev, {.peer_port = guest_port}};
	struct conn_key key = q.key;
	struct conn *c = NULL;

	if (!host_client_fits(dev, guest_port)) {
		close(fd);
		return NULL;
	}
	if (port_alloc_next(&dev->ports, local_port_busy, &q, dev->conns.count + 1,
			    &key.local_port))
		c = device_conn_new(dev, &key, fd, type, CONN_REQUESTING);
	else
		log_warn_rl("no free local port for guest port %u", guest_port);
	if (!c) {
		stats_count(&dev->stats, STAT_REFUSED_ERROR, 1);
		close(fd);
		return NULL;
	}
	device_conn_schedule(dev, c);
	deadline_fifo_add(&dev->waiting, &c->answer_deadline);
	return c;
}

void device_conn_host_connect(struct vsock_device *dev, int fd, uint32_t guest_port,
			      uint16_t type)
{
	struct conn *c = host_conn_new(dev, fd, guest_port, type);

	if (c)
		device_conn_sync_interest(dev, c);
}

void device_conn_host_handover(struct vsock_device *dev, int fd, uint32_t guest_port,
			       uint16_t type, uint32_t events, const void *early,
			       size_t early_len)
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
	c = host_conn_new(dev, fd, guest_port, type);
	if (!c) {
		free(copy);
		return;
	}
	c->early = copy;
	c->early_len = (uint32_t)early_len;
	/* The backend's registration, if any: ev_set turns it into ours (a MOD,
	 * or an ADD), which also reports data already waiting (edge-triggered). */
	c->ev.events = events;
	rc = ev_set(&dev->loop, &c->ev, HOST_READ_EVENTS);
	if (rc < 0) {
		log_warn_rl("epoll on a host client (guest port %u): %s; closing it",
			    guest_port, strerror(-rc));
		device_conn_drop(dev, c);
	}
}
