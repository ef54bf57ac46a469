#include "process.h"

#include <errno.h>
#include <pthread.h>
#include <sys/resource.h>
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

unsigned long process_raise_fd_limit(void)
{
	struct rlimit lim;

	if (getrlimit(RLIMIT_NOFILE, &lim) < 0)
		return 0;
	if (lim.rlim_cur < lim.rlim_max) {
		struct rlimit raised = {.rlim_cur = lim.rlim_max, .rlim_max = lim.rlim_max};

		if (setrlimit(RLIMIT_NOFILE, &raised) == 0)
			lim = raised;
	}
	return lim.rlim_cur;
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
