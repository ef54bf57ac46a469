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

/* What the daemon may still do once started, besides serving. */
enum sandbox_needs {
	SANDBOX_START_DEVICES = 1u << 0, /* VMs added at run time (API, reload) */
	SANDBOX_READ_FILES = 1u << 1,    /* the configuration read again, group
					  * names looked up (read-only opens) */
};

/* Installs the filter for mode (nothing for SECCOMP_NONE), with what needs
 * (enum sandbox_needs bits) asks: for starting devices, binding their
 * sockets, their event fds, their threads; for reading files, opening them
 * read-only.  Returns 0, or -errno (logged): the caller stops, rather than
 * run unfiltered. */
int sandbox_apply(enum seccomp_mode mode, unsigned needs);

#endif
