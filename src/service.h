/* The service manager (systemd, through libsystemd): socket activation and
 * readiness.  Outside systemd (no LISTEN_FDS, no NOTIFY_SOCKET) every call
 * does nothing.  The static build for inside test guests has no
 * libsystemd: there, inherited LISTEN_FDS are a start-up error and
 * notifications are not sent. */
#ifndef VSOCK_SERVICE_H
#define VSOCK_SERVICE_H

#include <stddef.h>

#include "config.h"

/* Takes the listening sockets passed by the service manager (LISTEN_FDS,
 * LISTEN_FDNAMES) and gives each to the VM socket it names: the name is the
 * file name of a VM's vhost-user socket or uds-path, and the socket must be
 * bound to that very path.  A socket that names nothing, names two, is
 * bound elsewhere, or a VM socket given twice is an error: logged, and
 * false returned (the caller exits; the inherited sockets stay with the
 * service manager).  Unsets the variables, so no child inherits them. */
bool service_take_listeners(struct daemon_config *cfg);

/* READY=1 with a STATUS= naming how many VMs are served: every device
 * accepts connections from now on. */
void service_ready(size_t n_vms);

/* STOPPING=1: shutdown has begun. */
void service_stopping(void);

#endif
