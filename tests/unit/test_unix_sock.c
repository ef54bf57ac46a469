#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <cmocka.h>

#include "log.h"
#include "unix_sock.h"

static char dir[64];
static char path[128];

/* The build wraps these libc calls of unix_sock.c (-Wl,--wrap): a test can
 * make them fail with an errno, and see whether path existed at listen(). */
int __real_listen(int fd, int backlog);
int __wrap_listen(int fd, int backlog);
int __real_rename(const char *from, const char *to);
int __wrap_rename(const char *from, const char *to);
static int listen_fails, rename_fails;
static bool path_existed_at_listen;

int __wrap_listen(int fd, int backlog)
{
	path_existed_at_listen = access(path, F_OK) == 0;
	if (listen_fails) {
		errno = listen_fails;
		return -1;
	}
	return __real_listen(fd, backlog);
}

int __wrap_rename(const char *from, const char *to)
{
	if (rename_fails) {
		errno = rename_fails;
		return -1;
	}
	return __real_rename(from, to);
}

static int setup(void **state)
{
	(void)state;
	log_set_level(LOG_LVL_ERROR);
	listen_fails = rename_fails = 0;
	strcpy(dir, "/tmp/test_unix_sock.XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/s", dir);
	return 0;
}

/* Removes whatever the test left in d, then d. */
static void remove_dir(const char *d)
{
	DIR *dp = opendir(d);
	struct dirent *e;
	char p[512];

	if (!dp)
		return;
	while ((e = readdir(dp))) {
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
			snprintf(p, sizeof(p), "%s/%s", d, e->d_name);
			unlink(p);
		}
	}
	closedir(dp);
	rmdir(d);
}

static int teardown(void **state)
{
	(void)state;
	remove_dir(dir);
	return 0;
}

/* The directory d holds exactly the entry `only` (or nothing, if NULL):
 * no temporary socket was left behind. */
static void assert_dir_holds(const char *d, const char *only)
{
	DIR *dp = opendir(d);
	struct dirent *e;
	unsigned n = 0;

	assert_non_null(dp);
	while ((e = readdir(dp))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		n++;
		assert_non_null(only);
		assert_string_equal(e->d_name, only);
	}
	closedir(dp);
	assert_int_equal(n, only ? 1 : 0);
}

static void assert_is_socket(const char *p)
{
	struct stat st;

	assert_int_equal(lstat(p, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
}

static void test_listen_connect_and_cleanup(void **state)
{
	struct unix_listener l;
	bool done = false;
	int fd;

	(void)state;
	assert_int_equal(unix_listener_open(&l, path, 4), 0);
	/* The path appears only once the socket listens. */
	assert_false(path_existed_at_listen);
	assert_is_socket(path);
	assert_dir_holds(dir, "s");
	fd = unix_connect_nb(path, &done);
	assert_true(fd >= 0);
	assert_true(done);
	close(fd);
	unix_listener_close(&l);
	assert_dir_holds(dir, NULL);
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
	assert_is_socket(path);
	assert_dir_holds(dir, "s");
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
	assert_int_equal(l.fd, -1);
	assert_int_equal(stat(path, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_dir_holds(dir, "s");
}

static void test_directory_refused(void **state)
{
	struct unix_listener l;

	(void)state;
	assert_int_equal(mkdir(path, 0700), 0);
	assert_int_equal(unix_listener_open(&l, path, 4), -EEXIST);
	assert_int_equal(rmdir(path), 0);
	assert_dir_holds(dir, NULL);
}

/* Failing after the temporary socket exists removes it, and path is never
 * created; a stale socket at path stays as it was. */
static void test_failure_after_bind_leaves_nothing(void **state)
{
	struct unix_listener l, stale;

	(void)state;
	listen_fails = EADDRINUSE;
	assert_int_equal(unix_listener_open(&l, path, 4), -EADDRINUSE);
	assert_int_equal(l.fd, -1);
	assert_dir_holds(dir, NULL);
	listen_fails = 0;

	rename_fails = EPERM;
	assert_int_equal(unix_listener_open(&l, path, 4), -EPERM);
	assert_dir_holds(dir, NULL);

	assert_int_equal(unix_listener_open(&stale, path, 4), -EPERM);
	rename_fails = 0;
	assert_int_equal(unix_listener_open(&stale, path, 4), 0);
	close(stale.fd); /* the file stays: a stale socket */
	stale.fd = -1;
	rename_fails = ENOSPC;
	assert_int_equal(unix_listener_open(&l, path, 4), -ENOSPC);
	assert_is_socket(path);
	assert_dir_holds(dir, "s");
	rename_fails = 0;
	unix_listener_close(&stale);
}

/* A temporary name already taken (left behind by a crashed process that had
 * our pid) is skipped, not removed. */
static void test_taken_temporary_name_skipped(void **state)
{
	struct unix_listener first, second;
	struct sockaddr_un bound;
	socklen_t len = sizeof(bound);
	char taken[2][160];
	unsigned pid, seq;
	char *name;
	bool done;
	int fd;

	(void)state;
	assert_int_equal(unix_listener_open(&first, path, 4), 0);
	/* The socket keeps the name it was bound to: the temporary one. */
	assert_int_equal(getsockname(first.fd, (struct sockaddr *)&bound, &len), 0);
	name = strrchr(bound.sun_path, '/');
	assert_non_null(name);
	assert_int_equal(sscanf(name, "/.vsock-tmp.%u.%u", &pid, &seq), 2);
	assert_int_equal(pid, (unsigned)getpid());
	unix_listener_close(&first);
	for (unsigned i = 0; i < 2; i++) {
		snprintf(taken[i], sizeof(taken[i]), "%s/.vsock-tmp.%u.%u", dir, pid, seq + 1 + i);
		fd = open(taken[i], O_CREAT | O_WRONLY, 0600);
		assert_true(fd >= 0);
		close(fd);
	}
	assert_int_equal(unix_listener_open(&second, path, 4), 0);
	fd = unix_connect_nb(path, &done);
	assert_true(fd >= 0);
	close(fd);
	for (unsigned i = 0; i < 2; i++) {
		struct stat st;

		assert_int_equal(stat(taken[i], &st), 0);
		assert_true(S_ISREG(st.st_mode));
		unlink(taken[i]);
	}
	unix_listener_close(&second);
	assert_dir_holds(dir, NULL);
}

/* A path that fits a sun_path but leaves no room for a temporary name
 * beside it is bound directly, and still works. */
static void test_no_room_for_temporary_name(void **state)
{
	const size_t longest = sizeof(((struct sockaddr_un *)0)->sun_path) - 1;
	struct unix_listener l;
	char sub[256], longp[256];
	size_t dir_len = strlen(dir);
	bool done;
	int fd;

	(void)state;
	/* dir/aaa...a/s: the longest path a sun_path holds. */
	memcpy(sub, dir, dir_len);
	sub[dir_len] = '/';
	memset(sub + dir_len + 1, 'a', longest - 2 - dir_len - 1);
	sub[longest - 2] = '\0';
	assert_int_equal(mkdir(sub, 0700), 0);
	strcpy(longp, sub);
	strcat(longp, "/s");
	assert_int_equal(strlen(longp), longest);
	assert_int_equal(unix_listener_open(&l, longp, 4), 0);
	assert_is_socket(longp);
	assert_dir_holds(sub, "s");
	fd = unix_connect_nb(longp, &done);
	assert_true(fd >= 0);
	close(fd);
	unix_listener_close(&l);
	assert_dir_holds(sub, NULL);
	assert_int_equal(rmdir(sub), 0);
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
		cmocka_unit_test_setup_teardown(test_directory_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failure_after_bind_leaves_nothing, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_taken_temporary_name_skipped, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_no_room_for_temporary_name, setup, teardown),
		cmocka_unit_test_setup_teardown(test_path_too_long, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
