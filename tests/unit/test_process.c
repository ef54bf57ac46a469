/* Signals that end the daemon: termination signals exit 0, process_fail()
 * from any thread exits 1, SIGPIPE never kills. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <sys/resource.h>

#include <errno.h>
#include <pthread.h>
#include <unistd.h>

#include "process.h"

static sigset_t waited;

static int block(void **state)
{
	(void)state;
	return process_block_signals(&waited);
}

static void test_termination_signals_exit_zero(void **state)
{
	const int signals[] = {SIGTERM, SIGINT, SIGHUP};
	int signo;

	(void)state;
	for (size_t i = 0; i < sizeof(signals) / sizeof(signals[0]); i++) {
		assert_int_equal(kill(getpid(), signals[i]), 0);
		assert_int_equal(process_wait(&waited, &signo), 0);
		assert_int_equal(signo, signals[i]);
	}
}

static void *fail_from_thread(void *arg)
{
	(void)arg;
	process_fail();
	return NULL;
}

static void test_fail_from_another_thread_exits_one(void **state)
{
	pthread_t thread;
	int signo;

	(void)state;
	assert_int_equal(pthread_create(&thread, NULL, fail_from_thread, NULL), 0);
	assert_int_equal(process_wait(&waited, &signo), 1);
	assert_int_equal(signo, PROCESS_FAIL_SIGNAL);
	assert_int_equal(pthread_join(thread, NULL), 0);
}

static void *read_thread_mask(void *arg)
{
	pthread_sigmask(SIG_BLOCK, NULL, arg);
	return NULL;
}

static void test_threads_inherit_the_mask(void **state)
{
	sigset_t mask;
	pthread_t thread;

	(void)state;
	sigemptyset(&mask);
	assert_int_equal(pthread_create(&thread, NULL, read_thread_mask, &mask), 0);
	assert_int_equal(pthread_join(thread, NULL), 0);
	assert_true(sigismember(&mask, SIGTERM));
	assert_true(sigismember(&mask, SIGINT));
	assert_true(sigismember(&mask, SIGHUP));
	assert_true(sigismember(&mask, PROCESS_FAIL_SIGNAL));
}

static void test_sigpipe_is_ignored(void **state)
{
	int fds[2];

	(void)state;
	assert_int_equal(pipe(fds), 0);
	close(fds[0]);
	assert_int_equal(write(fds[1], "x", 1), -1);
	assert_int_equal(errno, EPIPE);
	close(fds[1]);
}

static void test_fd_limit_raised_to_hard_limit(void **state)
{
	struct rlimit lim;

	(void)state;
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &lim), 0);
	lim.rlim_cur = lim.rlim_max > 256 ? 256 : lim.rlim_max;
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &lim), 0);
	assert_int_equal(process_raise_fd_limit(), lim.rlim_max);
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &lim), 0);
	assert_int_equal(lim.rlim_cur, lim.rlim_max);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_termination_signals_exit_zero),
		cmocka_unit_test(test_fail_from_another_thread_exits_one),
		cmocka_unit_test(test_threads_inherit_the_mask),
		cmocka_unit_test(test_sigpipe_is_ignored),
		cmocka_unit_test(test_fd_limit_raised_to_hard_limit),
	};
	return cmocka_run_group_tests(tests, block, NULL);
}
