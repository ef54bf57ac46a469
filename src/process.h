/* Process-wide lifecycle.  main() blocks the signals below in every thread
 * (before creating any) and waits for them with sigwait(), so no signal
 * handler ever runs.  A device thread that hits an error it cannot recover
 * from calls process_fail(): main() then stops every device and the process
 * exits with status 1. */
#ifndef VSOCK_PROCESS_H
#define VSOCK_PROCESS_H

#include <signal.h>

/* Sent to the process by process_fail(). */
#define PROCESS_FAIL_SIGNAL SIGUSR1

/* Ignores SIGPIPE, blocks SIGINT, SIGTERM, SIGHUP and PROCESS_FAIL_SIGNAL in
 * the calling thread (threads created later inherit the mask) and fills
 * waited with them.  Returns 0 or -errno. */
int process_block_signals(sigset_t *waited);

/* Raises the soft limit on open files to the hard limit: every connection
 * holds a host socket, so the default 1024 would cap a device at ~1000
 * connections.  Returns the new soft limit. */
unsigned long process_raise_fd_limit(void);

/* Asks main() to shut the daemon down with exit status 1.  Safe from any
 * thread, at any time, any number of times. */
void process_fail(void);

/* Waits for one of the signals in waited; returns the exit status it calls
 * for (0 for SIGINT/SIGTERM, and for SIGHUP, which main() takes as "read
 * the configuration again"; 1 after process_fail()) and stores the signal
 * in *signo. */
int process_wait(const sigset_t *waited, int *signo);

#endif
