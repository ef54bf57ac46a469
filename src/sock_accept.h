/* accept4() for the device's listeners, safe against fd exhaustion.  A
 * level-triggered listener whose pending client cannot be accepted
 * (EMFILE/ENFILE) would wake the event loop forever; instead that client is
 * accepted on a reserved fd and closed at once, so the loop stays idle and
 * the client sees its connection closed rather than hanging. */
#ifndef VSOCK_SOCK_ACCEPT_H
#define VSOCK_SOCK_ACCEPT_H

#include <sys/socket.h>

/* Reserves the spare fd; call once at start-up while fds are plentiful. */
void sock_accept_reserve(void);

/* Returns a non-blocking, close-on-exec fd, or -1 when there is no client to
 * hand over (none pending, or one shed for lack of fds: logged, naming what).
 * addr/addrlen as for accept4(), may be NULL. */
int sock_accept(int listen_fd, struct sockaddr *addr, socklen_t *addrlen,
		const char *what);

#endif
