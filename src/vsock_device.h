/* One vhost-user vsock device: its vhost-user listener, its host backend and
 * its connections, all served by one thread running one epoll loop. */
#ifndef VSOCK_DEVICE_H
#define VSOCK_DEVICE_H

#include <stdint.h>
#include <sys/types.h>

#include "config.h"
#include "device_stats.h"

struct vsock_device;
struct router;

/* Creates the device's listening sockets (vhost-user socket, backend
 * listeners).  Its thread busy-polls for up to poll_us after traffic (0:
 * never).  On failure logs why (naming the path or port) and returns NULL,
 * having removed anything it created. */
struct vsock_device *vsock_device_create(const struct vm_config *cfg,
					 struct router *router, uint32_t poll_us);
/* Its counters, for any thread to read (device_stats.h). */
const struct device_stats *vsock_device_stats(const struct vsock_device *dev);
/* Packets waiting in its sibling mailbox; any thread may ask. */
unsigned vsock_device_mailbox_depth(const struct vsock_device *dev);
/* One connection as GET /vms/<cid>/connections shows it. */
struct conn_report {
	uint32_t host_port, guest_port;
	uint16_t type;               /* VIRTIO_VSOCK_TYPE_* */
	uint8_t state;               /* enum conn_state */
	uint64_t bytes_g2h, bytes_h2g;
	uint32_t guest_buf_alloc;    /* the guest's receive buffer, last seen */
	uint32_t guest_credit;       /* what may still be sent to the guest */
	uint32_t offered;            /* what the guest may still send */
	uint32_t buffered;           /* guest bytes waiting for the host socket */
};
/* The device's connections, read by its own thread (the caller waits).
 * Returns how many are in *out (malloc'd, NULL for none), or -ENOMEM, or
 * -ESHUTDOWN once the device thread has ended. */
ssize_t vsock_device_connections(struct vsock_device *dev, struct conn_report **out);
/* Before a stop at run time: resets every connection on the device thread
 * (host sockets close, the guest gets an RST for each it knows, as far as
 * its RX buffers go), and waits until done. */
void vsock_device_close_connections(struct vsock_device *dev);
/* Starts the device thread.  Returns 0 or -errno. */
int vsock_device_start(struct vsock_device *dev);
/* Asks the device thread to finish (safe to call from another thread). */
void vsock_device_request_stop(struct vsock_device *dev);
/* Joins the thread (if started), closes every fd and removes the socket
 * files this device created. */
void vsock_device_destroy(struct vsock_device *dev);

#endif
