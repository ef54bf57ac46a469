/* One vhost-user vsock device: its vhost-user listener, its host backend and
 * its connections, all served by one thread running one epoll loop. */
#ifndef VSOCK_DEVICE_H
#define VSOCK_DEVICE_H

#include <stdint.h>

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
/* Starts the device thread.  Returns 0 or -errno. */
int vsock_device_start(struct vsock_device *dev);
/* Asks the device thread to finish (safe to call from another thread). */
void vsock_device_request_stop(struct vsock_device *dev);
/* Joins the thread (if started), closes every fd and removes the socket
 * files this device created. */
void vsock_device_destroy(struct vsock_device *dev);

#endif
