/* The rig's daemon launcher: a test that dies without stopping its daemon
 * (killed by its timeout, or crashed) takes the daemon with it, so that a
 * broken daemon cannot go on using a CPU under the tests that follow. */
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "rig_daemon.h"

static void test_daemon_dies_with_its_test(void **state)
{
	struct rig_daemon d;
	int pipe_fds[2], pidfd;
	pid_t test, daemon = 0;
	struct pollfd pfd;

	(void)state;
	assert_int_equal(pipe(pipe_fds), 0);
	test = fork();
	assert_true(test >= 0);
	if (test == 0) {
		/* The "test": starts a daemon, reports it, and is killed. */
		if (rig_daemon_start(&d, 3, NULL) == 0 &&
		    write(pipe_fds[1], &d, sizeof(d)) == (ssize_t)sizeof(d))
			pause();
		_exit(1);
	}
	close(pipe_fds[1]);
	assert_int_equal(read(pipe_fds[0], &d, sizeof(d)), (ssize_t)sizeof(d));
	daemon = d.pid;
	pidfd = (int)syscall(SYS_pidfd_open, daemon, 0);
	assert_true(pidfd >= 0);
	kill(test, SIGKILL);
	waitpid(test, NULL, 0);

	pfd = (struct pollfd){.fd = pidfd, .events = POLLIN};
	assert_int_equal(poll(&pfd, 1, 10000), 1);
	close(pidfd);
	close(pipe_fds[0]);
	/* Its directory is left: remove it as rig_daemon_stop would. */
	d.pid = 0;
	d.pidfd = -1;
	rig_daemon_stop(&d, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_daemon_dies_with_its_test),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
