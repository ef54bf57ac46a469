#include "process.h"

#include <errno.h>
#include <pthread.h>
#include <unistd.h>

int process_block_signals(sigset_t *waited)
{
	/* Host peers may vanish at any time: a write to them must fail with
	 * EPIPE, never kill the daemon. */
	if (signal(SIGPIPE, SIG_IGN) == SIG_ERR)
		return -errno;
	sigemptyset(waited);
	sigaddset(waited, SIGINT);
	sigaddset(waited, SIGTERM);
	sigaddset(waited, SIGHUP);
	sigaddset(waited, PROCESS_FAIL_SIGNAL);
	return -pthread_sigmask(SIG_BLOCK, waited, NULL);
}

void process_fail(void)
{
	/* kill(), not raise(): a process-directed signal reaches the thread
	 * waiting in sigwait() even though every thread blocks it. */
	kill(getpid(), PROCESS_FAIL_SIGNAL);
}

int process_wait(const sigset_t *waited, int *signo)
{
	/* sigwait() fails only for an invalid set: treat it as fatal. */
	if (sigwait(waited, signo) != 0) {
		*signo = 0;
		return 1;
	}
	return *signo == PROCESS_FAIL_SIGNAL ? 1 : 0;
}
