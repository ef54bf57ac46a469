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
static const struct unix_perm owner_only = {.mode = 0600};

/* The build wraps these libc calls of unix_sock.c (-Wl,--wrap): a test can
 * make them fail with an errno, and see whether path existed at listen(). */
int __real_listen(int fd, int backlog);
int __wrap_listen(int fd, int backlog);
int __real_rename(const char *from, const char *to);
int __wrap_rename(const char *from, const char *to);
static int listen_fails, rename_fails;
static bool path_existed_at_listen;

static struct stat bound_at_listen; /* the socket's file when listen() ran */

int __wrap_listen(int fd, int backlog)
{
	struct sockaddr_un bound;
	socklen_t len = sizeof(bound);

	path_existed_at_listen = access(path, F_OK) == 0;
	if (getsockname(fd, (struct sockaddr *)&bound, &len) < 0 ||
	    stat(bound.sun_path, &bound_at_listen) < 0)
		memset(&bound_at_listen, 0, sizeof(bound_at_listen));
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
	assert_int_equal(unix_listener_open(&l, path, 4, &owner_only), 0);
	/* The path appears only once the socket listens. */
	assert_false(path_existed_at_listen);
	assert_is_socket(path);
	assert_dir_holds(dir, "s");
	fd = unix_connect_nb(path, SOCK_STREAM, &done);
	assert_true(fd >= 0);
	assert_true(done);
	close(fd);
	unix_listener_close(&l);
	assert_dir_holds(dir, NULL);
	assert_int_equal(access(path, F_OK), -1);
	/* nobody listening any more */
	assert_int_equal(unix_connect_nb(path, SOCK_STREAM, &done), -ENOENT);
}

/* The file has its mode and group before it listens, so before it shows
 * up at path; a group is left alone unless one is given. */
static void test_mode_and_group(void **state)
{
	struct unix_perm perm = {.mode = 0640, .gid = getegid(), .set_gid = true};
	struct unix_listener l;
	struct stat st;

	(void)state;
	umask(0);
	assert_int_equal(unix_listener_open(&l, path, 4, &perm), 0);
	umask(022);
	assert_false(path_existed_at_listen);
	assert_int_equal(bound_at_listen.st_mode & 07777, 0640);
	assert_int_equal(bound_at_listen.st_gid, getegid());
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0640);
	unix_listener_close(&l);
	if (geteuid() == 0) {
		perm = (struct unix_perm){.mode = 0660, .gid = 65534, .set_gid = true};
		assert_int_equal(unix_listener_open(&l, path, 4, &perm), 0);
		assert_int_equal(stat(path, &st), 0);
		assert_int_equal(st.st_gid, 65534);
		assert_int_equal(st.st_mode & 07777, 0660);
		unix_listener_close(&l);
	}
	assert_int_equal(unix_listener_open(&l, path, 4, &owner_only), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(st.st_gid, getegid());
	unix_listener_close(&l);
	assert_dir_holds(dir, NULL);
}

/* An inherited listener is taken over as it is (made non-blocking), and
 * its file, which the daemon did not create, stays when it is closed;
 * anything but a listening Unix stream socket is refused. */
static void test_adopt(void **state)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	struct unix_listener l;
	int fd = socket(AF_UNIX, SOCK_STREAM, 0), p[2];
	bool done;

	(void)state;
	strcpy(addr.sun_path, path);
	assert_int_equal(bind(fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
	assert_int_equal(unix_listener_adopt(&l, fd, NULL), -ENOTSOCK);
	assert_int_equal(l.fd, -1);
	assert_int_equal(__real_listen(fd, 4), 0);
	assert_int_equal(unix_listener_adopt(&l, fd, NULL), 0);
	assert_int_equal(l.fd, fd);
	assert_true(fcntl(fd, F_GETFL) & O_NONBLOCK);
	assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	assert_true(l.path && strncmp(l.path, "fd ", 3) == 0);
	close(unix_connect_nb(path, SOCK_STREAM, &done));
	unix_listener_close(&l);
	assert_is_socket(path);
	assert_int_equal(unlink(path), 0);

	assert_int_equal(pipe(p), 0);
	assert_int_equal(unix_listener_adopt(&l, p[0], "a pipe"), -ENOTSOCK);
	close(p[0]);
	close(p[1]);
	assert_int_equal(unix_listener_adopt(&l, p[0], NULL), -EBADF);
	fd = socket(AF_UNIX, SOCK_DGRAM, 0);
	assert_int_equal(unix_listener_adopt(&l, fd, NULL), -ENOTSOCK);
	close(fd);
}

static void test_stale_socket_replaced(void **state)
{
	struct unix_listener first, second;

	(void)state;
	assert_int_equal(unix_listener_open(&first, path, 4, &owner_only), 0);
	close(first.fd); /* leaves a stale socket file behind */
	first.fd = -1;
	assert_int_equal(unix_listener_open(&second, path, 4, &owner_only), 0);
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
	assert_int_equal(unix_listener_open(&l, path, 4, &owner_only), -EEXIST);
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
	assert_int_equal(unix_listener_open(&l, path, 4, &owner_only), -EEXIST);
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
	assert_int_equal(unix_listener_open(&l, path, 4, &owner_only), -EADDRINUSE);
	assert_int_equal(l.fd, -1);
	assert_dir_holds(dir, NULL);
	listen_fails = 0;

	rename_fails = EPERM;
	assert_int_equal(unix_listener_open(&l, path, 4, &owner_only), -EPERM);
	assert_dir_holds(dir, NULL);

	assert_int_equal(unix_listener_open(&stale, path, 4, &owner_only), -EPERM);
	rename_fails = 0;
	assert_int_equal(unix_listener_open(&stale, path, 4, &owner_only), 0);
	close(stale.fd); /* the file stays: a stale socket */
	stale.fd = -1;
	rename_fails = ENOSPC;
	assert_int_equal(unix_listener_open(&l, path, 4, &owner_only), -ENOSPC);
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
	assert_int_equal(unix_listener_open(&first, path, 4, &owner_only), 0);
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
	assert_int_equal(unix_listener_open(&second, path, 4, &owner_only), 0);
	fd = unix_connect_nb(path, SOCK_STREAM, &done);
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
	assert_int_equal(unix_listener_open(&l, longp, 4, &owner_only), 0);
	assert_is_socket(longp);
	assert_dir_holds(sub, "s");
	fd = unix_connect_nb(longp, SOCK_STREAM, &done);
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
	assert_int_equal(unix_listener_open(&l, longp, 4, &owner_only), -ENAMETOOLONG);
	assert_int_equal(unix_connect_nb(longp, SOCK_STREAM, &done), -ENAMETOOLONG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_listen_connect_and_cleanup, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mode_and_group, setup, teardown),
		cmocka_unit_test_setup_teardown(test_adopt, setup, teardown),
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
