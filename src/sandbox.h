/* The system-call allow-list (seccomp, through libseccomp), installed once
 * start-up is over: every socket is bound, every device thread runs.  What
 * a guest or a VMM can make the daemon do from then on is what the data
 * path, a front-end's reconnection and shutdown need, and nothing else.
 * libseccomp sets PR_SET_NO_NEW_PRIVS first, and synchronises the filter
 * to every thread of the process. */
#ifndef VSOCK_SANDBOX_H
#define VSOCK_SANDBOX_H

#include <stdbool.h>

#include "config.h"

/* Installs the filter for mode (nothing for SECCOMP_NONE); with
 * vms_at_run_time (the API), it also allows what starting a device needs:
 * binding its sockets, its event fds, its thread.  Returns 0, or -errno
 * (logged): the caller stops, rather than run unfiltered. */
int sandbox_apply(enum seccomp_mode mode, bool vms_at_run_time);

#endif
