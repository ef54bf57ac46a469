#include "backend_uds.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <unistd.h>

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
	struct connect_line line;
};

struct backend_uds {
	struct backend base;
	struct vsock_device *dev;
	struct ev_loop *loop;
	struct ev_source listen_ev;
	struct unix_listener listener;
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

/* One read, never more than the rest of a CONNECT line can take: bytes the
 * client sent behind the newline go to the device with the socket, for the
 * guest to get first.  Returns true while the line is still incomplete;
 * otherwise the handshake has ended (handed over, or closed). */
static bool handshake_read(struct uds_handshake *hs)
{
	char buf[CONNECT_LINE_MAX];
	size_t consumed;
	uint32_t port;
	ssize_t n;
	int fd = hs->ev.fd;

	n = recv(fd, buf, CONNECT_LINE_MAX - hs->line.len, MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return true;
	if (n <= 0) {
		log_info_rl("uds: host client left before its CONNECT line");
		handshake_end(hs, true);
		return false;
	}
	switch (connect_line_feed(&hs->line, buf, (size_t)n, &consumed, &port)) {
	case CONNECT_LINE_MORE:
		return true;
	case CONNECT_LINE_BAD:
		log_warn_rl("uds: malformed or oversized CONNECT line; closing the client");
		handshake_end(hs, true);
		return false;
	case CONNECT_LINE_DONE:
		break;
	}
	{
		struct vsock_device *dev = hs->be->dev;
		uint32_t registered = hs->ev.events;

		handshake_end(hs, false);
		device_conn_host_handover(dev, fd, port, registered, buf + consumed,
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
	handshake_end(hs, true);
}

static void listener_readable(struct ev_source *src, uint32_t events)
{
	struct backend_uds *be = container_of(src, struct backend_uds, listen_ev);
	struct uds_handshake *hs;
	int fd, rc;

	(void)events;
	fd = sock_accept(be->loop, src, NULL, NULL, be->listener.path);
	if (fd < 0)
		return;
	if (be->handshakes.count >= be->max_handshakes) {
		log_warn_rl("uds: max-handshakes (%u) reached: closing a new client",
			    be->max_handshakes);
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

static int uds_connect(struct backend *base, uint32_t port, bool *done)
{
	struct backend_uds *be = (struct backend_uds *)base;
	char path[4096];

	if ((size_t)snprintf(path, sizeof(path), "%s_%u", be->listener.path, port) >= sizeof(path))
		return -ENAMETOOLONG;
	return unix_connect_nb(path, done);
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

static void uds_destroy(struct backend *base)
{
	struct backend_uds *be = (struct backend_uds *)base;

	while (!TAILQ_EMPTY(&be->handshakes.entries))
		handshake_end(container_of(TAILQ_FIRST(&be->handshakes.entries),
					   struct uds_handshake, deadline), true);
	ev_set(be->loop, &be->listen_ev, 0);
	deadline_fifo_close(&be->handshakes);
	unix_listener_close(&be->listener);
	free(be);
}

static const struct backend_ops uds_ops = {
	.connect = uds_connect,
	.accepted = uds_accepted,
	.destroy = uds_destroy,
};

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
	if (!env_ms_override(UDS_HANDSHAKE_TIMEOUT_ENV, &timeout_ms)) {
		free(be);
		return NULL;
	}
	if (deadline_fifo_open(&be->handshakes, loop, timeout_ms, handshake_overdue,
			       "uds: handshake timer") < 0) {
		free(be);
		return NULL;
	}
	if (unix_listener_serve(&be->listener, cfg->uds_path, cfg->uds_fd, UDS_BACKLOG,
				perm) < 0) {
		deadline_fifo_close(&be->handshakes);
		free(be);
		return NULL;
	}
	log_info("%s: max-handshakes %u, CONNECT-line timeout %u ms", be->listener.path,
		 cfg->max_handshakes, timeout_ms);
	be->listen_ev = (struct ev_source){.ops = &listen_ops, .fd = be->listener.fd};
	if (ev_set(loop, &be->listen_ev, EPOLLIN) < 0) {
		log_err("%s: epoll: %s", be->listener.path, strerror(errno));
		deadline_fifo_close(&be->handshakes);
		unix_listener_close(&be->listener);
		free(be);
		return NULL;
	}
	return &be->base;
}
