#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "log.h"
#include "unix_sock.h"

static char dir[64];
static char path[128];

static int setup(void **state)
{
	(void)state;
	log_set_level(LOG_LVL_ERROR);
	strcpy(dir, "/tmp/test_unix_sock.XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/s", dir);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	unlink(path);
	rmdir(dir);
	return 0;
}

static void test_listen_connect_and_cleanup(void **state)
{
	struct unix_listener l;
	bool done = false;
	int fd;

	(void)state;
	assert_int_equal(unix_listener_open(&l, path, 4), 0);
	fd = unix_connect_nb(path, &done);
	assert_true(fd >= 0);
	assert_true(done);
	close(fd);
	unix_listener_close(&l);
	assert_int_equal(access(path, F_OK), -1);
	/* nobody listening any more */
	assert_int_equal(unix_connect_nb(path, &done), -ENOENT);
}

static void test_stale_socket_replaced(void **state)
{
	struct unix_listener first, second;

	(void)state;
	assert_int_equal(unix_listener_open(&first, path, 4), 0);
	close(first.fd); /* leaves a stale socket file behind */
	first.fd = -1;
	assert_int_equal(unix_listener_open(&second, path, 4), 0);
	/* the old owner must not remove the new owner's file */
	unix_listener_close(&first);
	assert_int_equal(access(path, F_OK), 0);
	unix_listener_close(&second);
	assert_int_equal(access(path, F_OK), -1);
}

static void test_regular_file_refused(void **state)
{
	struct unix_listener l;
	struct stat st;
	int fd = open(path, O_CREAT | O_WRONLY, 0600);

	(void)state;
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(unix_listener_open(&l, path, 4), -EEXIST);
	assert_int_equal(stat(path, &st), 0);
	assert_true(S_ISREG(st.st_mode));
}

static void test_path_too_long(void **state)
{
	struct unix_listener l;
	char longp[200];
	bool done;

	(void)state;
	memset(longp, 'a', sizeof(longp) - 1);
	longp[sizeof(longp) - 1] = '\0';
	assert_int_equal(unix_listener_open(&l, longp, 4), -ENAMETOOLONG);
	assert_int_equal(unix_connect_nb(longp, &done), -ENAMETOOLONG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_listen_connect_and_cleanup, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stale_socket_replaced, setup, teardown),
		cmocka_unit_test_setup_teardown(test_regular_file_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_path_too_long, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
