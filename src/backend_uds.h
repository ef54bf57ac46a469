/* Hybrid vsock over Unix sockets (Firecracker's protocol, as the reference
 * daemon implements it):
 *  - host clients connect to uds_path and send "CONNECT <guest port>\n";
 *    once the guest accepts they receive "OK <guest port>\n" (the guest
 *    port, like the reference daemon; Firecracker sends the host port);
 *  - a guest connecting to host port P reaches the listener at
 *    "<uds_path>_<P>", with a socket of its connection's type (stream or
 *    seqpacket: a listener of the other type refuses it);
 *  - seqpacket host clients connect to "<uds_path>_seqpacket" and send
 *    "CONNECT <guest port>\n" as their first message, alone; "OK <guest
 *    port>\n" comes back as one message, and every later message is one
 *    guest message. */
#ifndef VSOCK_BACKEND_UDS_H
#define VSOCK_BACKEND_UDS_H

#include "backend.h"
#include "config.h"
#include "ev.h"
#include "unix_sock.h"

/* A host client that has not sent its whole CONNECT line this long after
 * it connected is closed, so slow or silent clients cannot hold handshake
 * slots (max-handshakes of them) forever.  The environment variable overrides it
 * (milliseconds, read when the backend is created at start-up); it exists
 * so tests need not wait 10 s. */
#define UDS_HANDSHAKE_TIMEOUT_MS 10000u
#define UDS_HANDSHAKE_TIMEOUT_ENV "VHOST_DEVICE_VSOCK_CONNECT_TIMEOUT_MS"
/* Appended to uds_path for the seqpacket listener. */
#define UDS_SEQPACKET_SUFFIX "_seqpacket"
/* The largest guest message sent to a Unix seqpacket socket, whatever its
 * buffer: Linux allocates a message in one piece (KMALLOC_MAX_SIZE). */
#define UDS_SEQPACKET_MAX_MESSAGE (4u << 20)

/* Listens on cfg's uds-path, or its inherited uds listener, and on
 * uds-path + UDS_SEQPACKET_SUFFIX, with perm (errors are logged naming
 * them); the listeners and the handshakes, at most max-handshakes at once,
 * are served by the device's loop.  An inherited uds listener without an
 * inherited seqpacket one means no seqpacket listener (host clients then
 * cannot open seqpacket connections; guests still can). */
struct backend *backend_uds_create(struct vsock_device *dev, struct ev_loop *loop,
				   const struct vm_config *cfg, const struct unix_perm *perm);

#endif
