#include "backend_uds.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/virtio_vsock.h>

#include "connect_line.h"
#include "env_ms.h"
#include "fifo_timer.h"
#include "log.h"
#include "sock_accept.h"
#include "unix_sock.h"

#define UDS_BACKLOG 1024

/* A host client that has not finished its CONNECT line yet. */
struct uds_handshake {
	struct ev_source ev;
	struct backend_uds *be;
	struct deadline deadline; /* in be->handshakes once it waits for more */
	uint16_t type;            /* its listener's VIRTIO_VSOCK_TYPE_* */
	struct connect_line line;
};

/* Where host clients of one socket type connect. */
struct uds_listener {
	struct ev_source ev;
	struct backend_uds *be;
	struct unix_listener sock; /* fd -1 when there is none */
	uint16_t type;
};

struct backend_uds {
	struct backend base;
	struct vsock_device *dev;
	struct ev_loop *loop;
	struct uds_listener stream, seqpacket;
	/* Handshakes waiting for the rest of their line: finishing one costs
	 * no syscall. */
	struct deadline_fifo handshakes;
	unsigned max_handshakes;
};

static void handshake_release(struct ev_source *src)
{
	free(container_of(src, struct uds_handshake, ev));
}

static void handshake_readable(struct ev_source *src, uint32_t events);

static const struct ev_ops handshake_ops = {
	.handle = handshake_readable,
	.release = handshake_release,
};

/* Ends the handshake; it is freed after the current event batch, which
 * may still hold events for it.  With close_fd, closing the only
 * descriptor also takes the socket out of the epoll set; without it the fd
 * and its registration go to the device. */
static void handshake_end(struct uds_handshake *hs, bool close_fd)
{
	struct backend_uds *be = hs->be;

	if (close_fd)
		ev_close(&hs->ev);
	else
		hs->ev.events = 0; /* the registration is the device's now */
	deadline_fifo_remove(&be->handshakes, &hs->deadline);
	ev_retire(be->loop, &hs->ev);
}

/* One read, never more than the rest of a CONNECT line can take: bytes a
 * stream client sent behind the newline go to the device with the socket,
 * for the guest to get first.  A seqpacket client's first message must be
 * the line, whole and alone.  Returns true while the line is still
 * incomplete; otherwise the handshake has ended (handed over, or closed). */
static bool handshake_read(struct uds_handshake *hs)
{
	char buf[CONNECT_LINE_MAX];
	struct iovec iov = {buf, CONNECT_LINE_MAX - hs->line.len};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
	bool seqpacket = hs->type == VIRTIO_VSOCK_TYPE_SEQPACKET;
	enum connect_line_status status;
	size_t consumed;
	uint32_t port;
	ssize_t n;
	int fd = hs->ev.fd;

	n = recvmsg(fd, &mh, MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return true;
	if (n <= 0) {
		log_info_rl("uds: host client left before its CONNECT line");
		handshake_end(hs, true);
		return false;
	}
	status = connect_line_feed(&hs->line, buf, (size_t)n, &consumed, &port);
	if (seqpacket && status != CONNECT_LINE_BAD &&
	    (status == CONNECT_LINE_MORE || consumed != (size_t)n || (mh.msg_flags & MSG_TRUNC))) {
		log_warn_rl("uds: a seqpacket client's first message is not one CONNECT line "
			    "alone; closing the client");
		device_count(hs->be->dev, STAT_REFUSED_HANDSHAKE);
		handshake_end(hs, true);
		return false;
	}
	switch (status) {
	case CONNECT_LINE_MORE:
		return true;
	case CONNECT_LINE_BAD:
		log_warn_rl("uds: malformed or oversized CONNECT line; closing the client");
		device_count(hs->be->dev, STAT_REFUSED_HANDSHAKE);
		handshake_end(hs, true);
		return false;
	case CONNECT_LINE_DONE:
		break;
	}
	{
		struct vsock_device *dev = hs->be->dev;
		uint32_t registered = hs->ev.events;
		uint16_t type = hs->type;

		handshake_end(hs, false);
		device_conn_host_handover(dev, fd, port, type, registered, buf + consumed,
					  (size_t)n - consumed);
	}
	return false;
}

static void handshake_readable(struct ev_source *src, uint32_t events)
{
	(void)events;
	handshake_read(container_of(src, struct uds_handshake, ev));
}

/* Closes a client whose deadline has passed (slowloris: connect, send a
 * few bytes or nothing, and hold a handshake slot forever). */
static void handshake_overdue(struct deadline *d)
{
	struct uds_handshake *hs = container_of(d, struct uds_handshake, deadline);

	log_warn_rl("uds: host client sent no complete CONNECT line within %u ms; "
		    "closing it", hs->be->handshakes.timeout_ms);
	device_count(hs->be->dev, STAT_REFUSED_HANDSHAKE);
	handshake_end(hs, true);
}

static void listener_readable(struct ev_source *src, uint32_t events)
{
	struct uds_listener *l = container_of(src, struct uds_listener, ev);
	struct backend_uds *be = l->be;
	struct uds_handshake *hs;
	int fd, rc;

	(void)events;
	fd = sock_accept(be->loop, src, NULL, NULL, l->sock.path);
	if (fd < 0)
		return;
	if (be->handshakes.count >= be->max_handshakes) {
		log_warn_rl("uds: max-handshakes (%u) reached: closing a new client",
			    be->max_handshakes);
		device_count(be->dev, STAT_REFUSED_BUDGET);
		device_count(be->dev, STAT_BUDGET_MAX_HANDSHAKES);
		close(fd);
		return;
	}
	hs = calloc(1, sizeof(*hs));
	if (!hs) {
		close(fd);
		return;
	}
	hs->ev = (struct ev_source){.ops = &handshake_ops, .fd = fd};
	hs->be = be;
	hs->type = l->type;
	connect_line_init(&hs->line);
	/* Clients usually send the line with their connect(), so it is often
	 * here already: then the socket goes straight to the device and the
	 * handshake costs no epoll registration of its own. */
	if (!handshake_read(hs))
		return;
	rc = ev_set(be->loop, &hs->ev, EPOLLIN);
	if (rc < 0) {
		log_warn_rl("uds: epoll for a host client: %s; closing it", strerror(-rc));
		handshake_end(hs, true);
		return;
	}
	deadline_fifo_add(&be->handshakes, &hs->deadline);
}

static const struct ev_ops listen_ops = {.handle = listener_readable};

static int uds_connect(struct backend *base, uint32_t port, uint16_t type, bool *done)
{
	struct backend_uds *be = (struct backend_uds *)base;
	char path[4096];

	if ((size_t)snprintf(path, sizeof(path), "%s_%u", be->stream.sock.path, port) >=
	    sizeof(path))
		return -ENAMETOOLONG;
	return unix_connect_nb(path, type == VIRTIO_VSOCK_TYPE_SEQPACKET ? SOCK_SEQPACKET
									 : SOCK_STREAM, done);
}

/* A Unix seqpacket socket refuses (EMSGSIZE) a message longer than its
 * send buffer less 32 bytes (af_unix.c), and the buffer is twice what
 * SO_SNDBUF asks, within net.core.wmem_max.  It also needs the message in
 * one kernel allocation, which fails (ENOBUFS) past about 4 MiB. */
static uint32_t uds_max_message(struct backend *base, int fd, uint32_t want)
{
	int size = want > INT_MAX / 2 ? INT_MAX / 2 : (int)want;
	socklen_t len = sizeof(size);
	uint32_t max;

	(void)base;
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size)) < 0 ||
	    getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, &len) < 0)
		log_info_rl("uds: sizing a seqpacket socket's buffer: %s", strerror(errno));
	max = size > 32 ? (uint32_t)size - 32 : 1;
	return max < UDS_SEQPACKET_MAX_MESSAGE ? max : UDS_SEQPACKET_MAX_MESSAGE;
}

static int uds_accepted(struct backend *base, int fd, uint32_t guest_port)
{
	char line[24];
	int len = snprintf(line, sizeof(line), "OK %u\n", guest_port);
	ssize_t n;

	(void)base;
	n = send(fd, line, (size_t)len, MSG_NOSIGNAL | MSG_DONTWAIT);
	if (n < 0)
		return -errno;
	/* The client has read nothing yet, so its socket buffer has room; a
	 * short write would mean a broken peer. */
	return n == len ? 0 : -EIO;
}

static void listener_close(struct backend_uds *be, struct uds_listener *l)
{
	if (l->sock.fd < 0)
		return;
	ev_set(be->loop, &l->ev, 0);
	unix_listener_close(&l->sock);
}

static void uds_destroy(struct backend *base)
{
	struct backend_uds *be = (struct backend_uds *)base;

	while (!TAILQ_EMPTY(&be->handshakes.entries))
		handshake_end(container_of(TAILQ_FIRST(&be->handshakes.entries),
					   struct uds_handshake, deadline), true);
	listener_close(be, &be->stream);
	listener_close(be, &be->seqpacket);
	deadline_fifo_close(&be->handshakes);
	free(be);
}

static const struct backend_ops uds_ops = {
	.connect = uds_connect,
	.max_message = uds_max_message,
	.accepted = uds_accepted,
	.destroy = uds_destroy,
};

/* Serves l on the device's loop. */
static int listener_watch(struct backend_uds *be, struct uds_listener *l, uint16_t type)
{
	int rc;

	l->be = be;
	l->type = type;
	l->ev = (struct ev_source){.ops = &listen_ops, .fd = l->sock.fd};
	rc = ev_set(be->loop, &l->ev, EPOLLIN);
	if (rc < 0)
		log_err("%s: epoll: %s", l->sock.path, strerror(-rc));
	return rc;
}

/* The seqpacket listener beside the stream one: inherited, or created
 * when the stream one was.  Without it the device still serves (guests'
 * seqpacket connections need none), so a path too long for its suffix
 * only costs host-initiated seqpacket. */
static int seqpacket_listener_open(struct backend_uds *be, const struct vm_config *cfg,
				   const struct unix_perm *perm)
{
	char path[4096];
	int rc;

	snprintf(path, sizeof(path), "%s%s", cfg->uds_path, UDS_SEQPACKET_SUFFIX);
	if (cfg->uds_seqpacket_fd >= 0) {
		rc = unix_listener_adopt_type(&be->seqpacket.sock, cfg->uds_seqpacket_fd,
					      SOCK_SEQPACKET, path);
		return rc < 0 ? rc : listener_watch(be, &be->seqpacket,
						    VIRTIO_VSOCK_TYPE_SEQPACKET);
	}
	if (cfg->uds_fd >= 0) {
		log_info("%s: inherited without a %s listener beside it (socket activation can "
			 "pass one)", be->stream.sock.path, UDS_SEQPACKET_SUFFIX);
		return 0;
	}
	rc = unix_listener_open_type(&be->seqpacket.sock, path, SOCK_SEQPACKET, UDS_BACKLOG,
				     perm);
	if (rc == -ENAMETOOLONG) {
		log_warn("%s: path too long for a seqpacket listener beside it: host "
			 "clients cannot open seqpacket connections", cfg->uds_path);
		return 0;
	}
	return rc < 0 ? rc : listener_watch(be, &be->seqpacket, VIRTIO_VSOCK_TYPE_SEQPACKET);
}

struct backend *backend_uds_create(struct vsock_device *dev, struct ev_loop *loop,
				   const struct vm_config *cfg, const struct unix_perm *perm)
{
	struct backend_uds *be = calloc(1, sizeof(*be));
	unsigned timeout_ms = UDS_HANDSHAKE_TIMEOUT_MS;

	if (!be)
		return NULL;
	be->base.ops = &uds_ops;
	be->dev = dev;
	be->loop = loop;
	be->max_handshakes = cfg->max_handshakes;
	be->stream.sock.fd = -1;
	be->seqpacket.sock.fd = -1;
	if (!env_ms_override(UDS_HANDSHAKE_TIMEOUT_ENV, &timeout_ms)) {
		free(be);
		return NULL;
	}
	if (deadline_fifo_open(&be->handshakes, loop, timeout_ms, handshake_overdue,
			       "uds: handshake timer") < 0) {
		free(be);
		return NULL;
	}
	if (unix_listener_serve(&be->stream.sock, cfg->uds_path, cfg->uds_fd, UDS_BACKLOG,
				perm) < 0 ||
	    listener_watch(be, &be->stream, VIRTIO_VSOCK_TYPE_STREAM) < 0 ||
	    seqpacket_listener_open(be, cfg, perm) < 0) {
		uds_destroy(&be->base);
		return NULL;
	}
	log_info("%s: max-handshakes %u, CONNECT-line timeout %u ms", be->stream.sock.path,
		 cfg->max_handshakes, timeout_ms);
	return &be->base;
}
