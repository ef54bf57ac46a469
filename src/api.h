/* The HTTP API on a Unix socket (--api-socket; README, "API").  It runs in
 * libmicrohttpd's thread and reads what the devices publish for it (their
 * configuration, device_stats.h counters, mailbox depths) without any lock
 * a device thread takes; a connection list or a VM's removal is one short
 * job on that VM's own thread (device_call.c), which the API waits for. */
#ifndef VSOCK_API_H
#define VSOCK_API_H

#include <stddef.h>


/* Clients served at once; the API holds at most that many descriptors
 * besides API_FIXED_FDS (listener, epoll, wakeup, /proc/self/fd). */
#define API_MAX_CLIENTS 16
#define API_FIXED_FDS 5

struct api;
struct vm_registry;

/* Serves the API for the VMs of reg (which outlives it: api_stop() first)
 * on listening socket fd, from a thread of its own; fd stays the caller's,
 * to close after api_stop().  Returns NULL on failure, and in a build
 * without libmicrohttpd (logged). */
struct api *api_start(int fd, struct vm_registry *reg);
/* Stops the thread once the requests in progress are answered (NULL: no
 * API). */
void api_stop(struct api *api);

#endif
