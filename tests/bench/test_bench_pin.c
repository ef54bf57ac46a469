/* vsock-bench --pin: what it accepts, and that pinning a process moves
 * every one of its threads (a daemon's device threads included). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

/* The first and last CPU this process may run on. */
static void allowed_range(int *first, int *last)
{
	cpu_set_t set;

	assert_int_equal(sched_getaffinity(0, sizeof(set), &set), 0);
	*first = *last = -1;
	for (int cpu = 0; cpu < CPU_SETSIZE; cpu++) {
		if (!CPU_ISSET(cpu, &set))
			continue;
		if (*first < 0)
			*first = cpu;
		*last = cpu;
	}
	assert_true(*first >= 0);
}

static void test_parse(void **state)
{
	struct bench_pin pin = {0};
	char arg[64];
	int first, last;

	(void)state;
	allowed_range(&first, &last);
	snprintf(arg, sizeof(arg), "%d,%d,%d", first, last, first);
	assert_int_equal(bench_pin_parse(arg, &pin), 0);
	assert_true(pin.on);
	assert_int_equal(pin.daemon, first);
	assert_int_equal(pin.guest, last);
	assert_int_equal(pin.peer, first);
}

static void test_parse_refuses(void **state)
{
	static const char *const bad[] = {"", "0", "0,0", "0,0,", "0,0,0,", "0,0,0,0",
					  "a,0,0", "0;0;0", "-1,0,0", "0,,0", "0,0,0x"};
	char beyond[32];
	int first, last;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct bench_pin pin = {0};

		assert_int_equal(bench_pin_parse(bad[i], &pin), -EINVAL);
		assert_false(pin.on);
	}
	/* A CPU this process may not use (beyond its last). */
	allowed_range(&first, &last);
	snprintf(beyond, sizeof(beyond), "0,0,%d", last + 1);
	{
		struct bench_pin pin = {0};

		assert_int_equal(bench_pin_parse(beyond, &pin), -EINVAL);
	}
}

static void *idle_thread(void *arg)
{
	(void)arg;
	for (;;)
		pause();
	return NULL;
}

/* A child with a second thread, both started unpinned, reports when the
 * thread exists; pinning the child moves both. */
static void test_pins_every_thread(void **state)
{
	int ready[2], first, last, rc;
	unsigned threads = 0, on_last = 0;
	struct dirent *d;
	char path[64], c;
	DIR *dir;
	pid_t pid;

	(void)state;
	allowed_range(&first, &last);
	assert_int_equal(pipe(ready), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		pthread_t t;

		if (pthread_create(&t, NULL, idle_thread, NULL) != 0 ||
		    write(ready[1], "r", 1) != 1)
			_exit(1);
		for (;;)
			pause();
	}
	assert_int_equal(read(ready[0], &c, 1), 1);
	rc = bench_pin_process(pid, last);

	/* Read every thread's affinity, then stop the child, then check: a
	 * failed check must not leave the child behind. */
	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	dir = opendir(path);
	while (dir && (d = readdir(dir))) {
		pid_t tid = (pid_t)atoi(d->d_name);
		cpu_set_t set;

		if (tid <= 0)
			continue;
		threads++;
		if (sched_getaffinity(tid, sizeof(set), &set) == 0 && CPU_COUNT(&set) == 1 &&
		    CPU_ISSET(last, &set))
			on_last++;
	}
	if (dir)
		closedir(dir);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	assert_int_equal(rc, 0);
	assert_int_equal(threads, 2);
	assert_int_equal(on_last, 2);
	close(ready[0]);
	close(ready[1]);
}

static void test_pin_gone_process(void **state)
{
	pid_t pid = fork();

	(void)state;
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(0);
	waitpid(pid, NULL, 0);
	assert_int_equal(bench_pin_process(pid, 0), -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_parse_refuses),
		cmocka_unit_test(test_pins_every_thread),
		cmocka_unit_test(test_pin_gone_process),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
