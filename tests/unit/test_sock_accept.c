/* sock_accept(): ordinary accepts, nothing pending, and a client that
 * arrives while the process is out of fds is shed instead of left pending
 * (which would keep a level-triggered listener readable forever). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"
#include "sock_accept.h"

static socklen_t addr_len;

static int listener(struct sockaddr_un *addr)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);

	assert_true(fd >= 0);
	*addr = (struct sockaddr_un){.sun_family = AF_UNIX};
	/* Autobind: an abstract address, no file to clean up. */
	assert_int_equal(bind(fd, (struct sockaddr *)addr, sizeof(sa_family_t)), 0);
	addr_len = sizeof(*addr);
	assert_int_equal(getsockname(fd, (struct sockaddr *)addr, &addr_len), 0);
	assert_int_equal(listen(fd, 8), 0);
	return fd;
}

static int client(const struct sockaddr_un *addr)
{
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	assert_int_equal(connect(fd, (const struct sockaddr *)addr, addr_len), 0);
	return fd;
}

static bool readable(int fd)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};

	return poll(&p, 1, 0) == 1;
}

static void test_accepts_nonblocking_cloexec(void **state)
{
	struct sockaddr_un addr;
	int lfd = listener(&addr), cfd, fd;

	(void)state;
	assert_int_equal(sock_accept(lfd, NULL, NULL, "test"), -1); /* none pending */
	cfd = client(&addr);
	fd = sock_accept(lfd, NULL, NULL, "test");
	assert_true(fd >= 0);
	assert_true(fcntl(fd, F_GETFL) & O_NONBLOCK);
	assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	close(fd);
	close(cfd);
	close(lfd);
}

static void test_out_of_fds_sheds_the_client(void **state)
{
	struct sockaddr_un addr;
	struct rlimit saved, low;
	int lfd = listener(&addr), cfd, filler[64], n = 0;
	char byte;

	(void)state;
	log_set_level(LOG_LVL_ERROR);
	sock_accept_reserve();
	cfd = client(&addr);
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &saved), 0);
	/* Use up every fd below a low limit. */
	low = saved;
	low.rlim_cur = (rlim_t)cfd + 8;
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
	for (int fd; n < 64 && (fd = dup(0)) >= 0;)
		filler[n++] = fd;
	assert_int_equal(errno, EMFILE);

	assert_true(readable(lfd));
	assert_int_equal(sock_accept(lfd, NULL, NULL, "test"), -1);
	/* The listener is quiet again and the client sees its end closed. */
	assert_false(readable(lfd));
	assert_int_equal(read(cfd, &byte, 1), 0);

	for (int i = 0; i < n; i++)
		close(filler[i]);
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &saved), 0);
	close(cfd);
	close(lfd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_accepts_nonblocking_cloexec),
		cmocka_unit_test(test_out_of_fds_sheds_the_client),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
