/* accept4() for the device's listeners, safe against fd exhaustion.  A
 * level-triggered listener whose pending client cannot be accepted
 * (EMFILE, ENFILE, ENOBUFS, ENOMEM) would wake its event loop forever;
 * instead the listener is paused for a moment (ev_pause()) and the client
 * waits in the backlog until descriptors are free again.  Nothing is
 * shared between device threads, so none can take another's way out. */
#ifndef VSOCK_SOCK_ACCEPT_H
#define VSOCK_SOCK_ACCEPT_H

#include <sys/socket.h>

#include "ev.h"

/* Accepts a client of the listener behind src, which is on loop.  Returns
 * a non-blocking, close-on-exec fd, or -1 when there is none to hand over
 * (none pending, or the listener paused for lack of resources: logged,
 * naming what).  addr/addrlen as for accept4(), may be NULL. */
int sock_accept(struct ev_loop *loop, struct ev_source *src, struct sockaddr *addr,
		socklen_t *addrlen, const char *what);

#endif
