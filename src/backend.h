/* The host side of a device's connections, behind a small table of
 * operations so that hybrid vsock over Unix sockets (backend_uds.c) and a
 * host AF_VSOCK backend can share the whole device.  A backend owns its
 * listeners; it hands each host-initiated connection to the device with
 * device_conn_host_connect(). */
#ifndef VSOCK_BACKEND_H
#define VSOCK_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "device_stats.h"

struct vsock_device;
struct backend;

struct backend_ops {
	/* Starts a non-blocking connection of type (VIRTIO_VSOCK_TYPE_STREAM
	 * or _SEQPACKET) to the host service for a guest REQUEST to port.
	 * Returns the fd (with *done set if it completed at once; otherwise
	 * EPOLLOUT signals completion) or -errno. */
	int (*connect)(struct backend *be, uint32_t port, uint16_t type, bool *done);
	/* A seqpacket host socket: makes it take messages of want bytes if it
	 * can, and returns the largest message it takes (0: no limit of its
	 * own).  NULL for a backend without seqpacket. */
	uint32_t (*max_message)(struct backend *be, int fd, uint32_t want);
	/* The guest accepted a host-initiated connection on guest_port: tell
	 * the host client if the protocol says so.  Returns 0 or -errno. */
	int (*accepted)(struct backend *be, int fd, uint32_t guest_port);
	/* Closes the listeners and handshakes in progress; frees be. */
	void (*destroy)(struct backend *be);
};

struct backend {
	const struct backend_ops *ops;
};

/* Counts, for the device's operators, what its backend refused. */
void device_count(struct vsock_device *dev, enum stat_counter what);

/* Called by a backend for a host client that wants guest port guest_port,
 * over a socket of type (VIRTIO_VSOCK_TYPE_*).  Takes ownership of fd
 * (closed on failure). */
void device_conn_host_connect(struct vsock_device *dev, int fd, uint32_t guest_port,
			      uint16_t type);

/* The same for a client whose fd is already in the device's epoll set with
 * interest `events` (0: not registered): the device takes that registration
 * over with one EPOLL_CTL_MOD (no DEL and ADD per handshake).  early[0..early_len) is
 * connection data the client sent with its handshake; the guest gets it
 * first.  Takes ownership of fd (closed on failure). */
void device_conn_host_handover(struct vsock_device *dev, int fd, uint32_t guest_port,
			       uint16_t type, uint32_t events, const void *early,
			       size_t early_len);

#endif
