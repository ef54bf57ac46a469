#include "backend_vsock.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/virtio_vsock.h>
#include <linux/vm_sockets.h>

#include "ev.h"
#include "log.h"
#include "sock_accept.h"
#include "vsock_hdr.h"

struct vsock_listener {
	struct ev_source ev;
	struct backend_vsock *be;
	uint32_t port;
};

struct backend_vsock {
	struct backend base;
	struct vsock_device *dev;
	struct ev_loop *loop;
	uint32_t forward_cid;
	size_t n_listeners;
	struct vsock_listener listeners[];
};

static int vsock_socket(void)
{
	return socket(AF_VSOCK, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
}

static void listener_readable(struct ev_source *src, uint32_t events)
{
	struct vsock_listener *l = container_of(src, struct vsock_listener, ev);
	struct backend_vsock *be = l->be;
	/* A short address leaves CID_ANY, which is never the forward CID. */
	struct sockaddr_vm peer = {.svm_cid = VMADDR_CID_ANY};
	socklen_t len = sizeof(peer);
	int fd;

	(void)events;
	fd = sock_accept(be->loop, src, (struct sockaddr *)&peer, &len, "vsock listener");
	if (fd < 0)
		return;
	if (peer.svm_cid != be->forward_cid) {
		log_warn_rl("vsock: port %u: refusing a peer at cid %u (only cid %u is forwarded)",
			    l->port, peer.svm_cid, be->forward_cid);
		device_count(be->dev, STAT_REFUSED_HANDSHAKE);
		close(fd);
		return;
	}
	/* The peer's connect() has completed already: whatever it sends now
	 * waits in the socket until the guest answers the REQUEST. */
	device_conn_host_connect(be->dev, fd, l->port, VIRTIO_VSOCK_TYPE_STREAM);
}

static const struct ev_ops listener_ops = {.handle = listener_readable};

static int vsock_connect(struct backend *base, uint32_t port, uint16_t type, bool *done)
{
	struct backend_vsock *be = (struct backend_vsock *)base;
	const struct sockaddr_vm addr = {
		.svm_family = AF_VSOCK,
		.svm_cid = be->forward_cid,
		.svm_port = port,
	};
	int fd, err;

	/* A non-blocking seqpacket send on AF_VSOCK may put part of a message
	 * on the wire and still fail with EAGAIN when the peer's credit runs
	 * out (af_vsock.c, vsock_connectible_sendmsg): a retry could not know
	 * what is left, so messages could be corrupted.  Refused instead. */
	if (type != VIRTIO_VSOCK_TYPE_STREAM) {
		log_warn_rl("vsock: a guest %s connection to port %u is not forwarded: host "
			    "AF_VSOCK carries streams only here; answering RST",
			    vsock_type_name(type), port);
		return -EOPNOTSUPP;
	}
	fd = vsock_socket();
	if (fd < 0)
		return -errno;
	if (connect(fd, (const struct sockaddr *)&addr, sizeof(addr)) == 0) {
		*done = true;
		return fd;
	}
	err = errno;
	if (err == EINPROGRESS) {
		*done = false;
		return fd;
	}
	close(fd);
	return -err;
}

static int vsock_accepted(struct backend *base, int fd, uint32_t guest_port)
{
	/* Unlike hybrid vsock there is no reply line: the peer's connect()
	 * already succeeded. */
	(void)base;
	(void)fd;
	(void)guest_port;
	return 0;
}

static void vsock_destroy(struct backend *base)
{
	struct backend_vsock *be = (struct backend_vsock *)base;

	for (size_t i = 0; i < be->n_listeners; i++) {
		struct vsock_listener *l = &be->listeners[i];

		ev_close(&l->ev);
	}
	free(be);
}

static const struct backend_ops vsock_ops = {
	.connect = vsock_connect,
	.accepted = vsock_accepted,
	.destroy = vsock_destroy,
};

static const char *bind_hint(int err)
{
	switch (err) {
	case EADDRINUSE:
		return " (another process or device listens on it)";
	case EAFNOSUPPORT:
	case ENODEV:
		return " (no AF_VSOCK support: load the vsock modules, e.g. vhost_vsock or "
		       "vsock_loopback)";
	default:
		return "";
	}
}

static int listener_open(struct backend_vsock *be, struct vsock_listener *l)
{
	const struct sockaddr_vm addr = {
		.svm_family = AF_VSOCK,
		.svm_cid = VMADDR_CID_ANY,
		.svm_port = l->port,
	};
	int err, rc;

	l->ev.fd = vsock_socket();
	if (l->ev.fd < 0 || bind(l->ev.fd, (const struct sockaddr *)&addr, sizeof(addr)) < 0 ||
	    listen(l->ev.fd, VSOCK_BACKLOG) < 0) {
		err = errno;
		log_err("vsock: cannot listen on port %u: %s%s", l->port, strerror(err),
			bind_hint(err));
		return -err;
	}
	rc = ev_set(be->loop, &l->ev, EPOLLIN);
	if (rc < 0)
		log_err("vsock: port %u: epoll: %s", l->port, strerror(-rc));
	return rc;
}

struct backend *backend_vsock_create(struct vsock_device *dev, struct ev_loop *loop,
				     uint32_t forward_cid, const uint32_t *listen_ports,
				     size_t n_listen_ports)
{
	struct backend_vsock *be =
		calloc(1, sizeof(*be) + n_listen_ports * sizeof(be->listeners[0]));

	if (!be) {
		log_err("vsock: out of memory");
		return NULL;
	}
	be->base.ops = &vsock_ops;
	be->dev = dev;
	be->loop = loop;
	be->forward_cid = forward_cid;
	for (size_t i = 0; i < n_listen_ports; i++) {
		struct vsock_listener *l = &be->listeners[i];

		*l = (struct vsock_listener){
			.ev = {.ops = &listener_ops, .fd = -1},
			.be = be,
			.port = listen_ports[i],
		};
		be->n_listeners++;
		if (listener_open(be, l) < 0) {
			vsock_destroy(&be->base);
			return NULL;
		}
	}
	return &be->base;
}
