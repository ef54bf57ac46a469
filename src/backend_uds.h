/* Hybrid vsock over Unix sockets (Firecracker's protocol, as the reference
 * daemon implements it):
 *  - host clients connect to uds_path and send "CONNECT <guest port>\n";
 *    once the guest accepts they receive "OK <guest port>\n" (the guest
 *    port, like the reference daemon; Firecracker sends the host port);
 *  - a guest connecting to host port P reaches the listener at
 *    "<uds_path>_<P>". */
#ifndef VSOCK_BACKEND_UDS_H
#define VSOCK_BACKEND_UDS_H

#include "backend.h"

/* Most host clients that may sit between accept and their CONNECT line. */
#define UDS_MAX_HANDSHAKES 1024

/* Listens on uds_path (errors are logged naming it); the listener and the
 * handshakes are served by the device's epoll set epfd. */
struct backend *backend_uds_create(struct vsock_device *dev, int epfd,
				   const char *uds_path);

#endif
