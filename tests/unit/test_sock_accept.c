/* sock_accept(): ordinary accepts, nothing pending, and a listener whose
 * client cannot be accepted for lack of fds is paused instead of left
 * readable (a level-triggered listener would spin), then watched again. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <sys/epoll.h>
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

/* One wait on the loop; returns the source that fired, or NULL. */
static struct ev_source *wait_once(struct ev_loop *loop, int timeout_ms)
{
	struct epoll_event ev;

	return epoll_wait(loop->epfd, &ev, 1, timeout_ms) == 1 ? ev.data.ptr : NULL;
}

static void ignore(struct ev_source *src, uint32_t events)
{
	(void)src;
	(void)events;
}

static const struct ev_ops listener_ops = {.handle = ignore};

static void test_accepts_nonblocking_cloexec(void **state)
{
	struct sockaddr_un addr;
	struct ev_loop loop;
	struct ev_source l = {.ops = &listener_ops, .fd = listener(&addr)};
	int cfd, fd;

	(void)state;
	assert_int_equal(ev_loop_init(&loop), 0);
	assert_int_equal(ev_set(&loop, &l, EPOLLIN), 0);
	assert_int_equal(sock_accept(&loop, &l, NULL, NULL, "test"), -1); /* none pending */
	cfd = client(&addr);
	fd = sock_accept(&loop, &l, NULL, NULL, "test");
	assert_true(fd >= 0);
	assert_true(fcntl(fd, F_GETFL) & O_NONBLOCK);
	assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	assert_int_equal(l.events, EPOLLIN);
	close(fd);
	close(cfd);
	ev_close(&l);
	ev_loop_fini(&loop);
}

static void test_out_of_fds_pauses_the_listener(void **state)
{
	struct sockaddr_un addr;
	struct ev_loop loop;
	struct ev_source l = {.ops = &listener_ops, .fd = listener(&addr)};
	struct rlimit saved, low;
	int cfd, filler[64], n = 0, fd;

	(void)state;
	log_set_level(LOG_LVL_ERROR);
	assert_int_equal(ev_loop_init(&loop), 0);
	assert_int_equal(ev_set(&loop, &l, EPOLLIN), 0);
	cfd = client(&addr);
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &saved), 0);
	/* Use up every fd below a low limit. */
	low = saved;
	low.rlim_cur = (rlim_t)cfd + 8;
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
	for (int dup_fd; n < 64 && (dup_fd = dup(0)) >= 0;)
		filler[n++] = dup_fd;
	assert_int_equal(errno, EMFILE);

	assert_ptr_equal(wait_once(&loop, 0), &l);
	assert_int_equal(sock_accept(&loop, &l, NULL, NULL, "test"), -1);
	/* The loop no longer reports the listener; its resume timer fires
	 * after the pause and the listener is watched again. */
	assert_int_equal(l.events, 0);
	assert_null(wait_once(&loop, 0));
	assert_ptr_equal(wait_once(&loop, 10 * EV_PAUSE_MS), &loop.resume);
	loop.resume.ops->handle(&loop.resume, EPOLLIN);
	assert_int_equal(l.events, EPOLLIN);

	for (int i = 0; i < n; i++)
		close(filler[i]);
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &saved), 0);
	/* The client waited in the backlog and is served now. */
	assert_ptr_equal(wait_once(&loop, 0), &l);
	fd = sock_accept(&loop, &l, NULL, NULL, "test");
	assert_true(fd >= 0);
	close(fd);
	close(cfd);
	ev_close(&l);
	ev_loop_fini(&loop);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_accepts_nonblocking_cloexec),
		cmocka_unit_test(test_out_of_fds_pauses_the_listener),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
