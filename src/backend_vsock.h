/* Host AF_VSOCK backend (--forward-cid C, --forward-listen P1+P2...):
 *  - a guest REQUEST to (CID 2, port P) becomes a non-blocking AF_VSOCK
 *    connect to (C, P);
 *  - the daemon listens on every forward-listen port P; a connection that
 *    comes from CID C becomes a REQUEST to the guest's port P, from CID 2
 *    and a local port taken from the device's allocator (so peers that use
 *    the same source port from different CIDs can never collide).
 *
 * Listeners bind VMADDR_CID_ANY, because a bind address names a CID of this
 * machine while C names the peer; peers whose CID is not C are closed at
 * accept (the reference daemon let any CID in: its bug C7). */
#ifndef VSOCK_BACKEND_VSOCK_H
#define VSOCK_BACKEND_VSOCK_H

#include <stddef.h>
#include <stdint.h>

#include "backend.h"
#include "ev.h"

/* Backlog of each forward-listen socket. */
#define VSOCK_BACKLOG 128

/* Opens one listener per port of listen_ports (errors are logged naming
 * the port); the listeners are served by the device's loop. */
struct backend *backend_vsock_create(struct vsock_device *dev, struct ev_loop *loop,
				     uint32_t forward_cid, const uint32_t *listen_ports,
				     size_t n_listen_ports);

#endif
