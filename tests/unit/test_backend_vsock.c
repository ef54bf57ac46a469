/* backend_vsock: listeners come and go with the backend (nothing leaks, a
 * failed start releases what it opened), bind failures name the port, and a
 * guest connect never blocks.  Accepted peers and data need CID 1 and are
 * covered end to end by tests/vsock/.  Uses ports 47001..47003. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include <linux/virtio_vsock.h>
#include <linux/vm_sockets.h>

#include "backend_vsock.h"

#define PORT_A 47001
#define PORT_B 47002
#define PORT_C 47003

/* A device pointer the backend only passes back through
 * device_conn_host_connect, which no test here reaches. */
#define NO_DEVICE ((struct vsock_device *)NULL)

static bool vsock_supported(void)
{
	int fd = socket(AF_VSOCK, SOCK_STREAM, 0);

	if (fd < 0)
		return false;
	close(fd);
	return true;
}

/* Binds port like the backend does; returns the fd or -errno. */
static int bind_port(uint32_t port)
{
	const struct sockaddr_vm addr = {
		.svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_ANY, .svm_port = port};
	int fd = socket(AF_VSOCK, SOCK_STREAM, 0);
	int err;

	if (fd < 0)
		return -errno;
	if (bind(fd, (const struct sockaddr *)&addr, sizeof(addr)) == 0)
		return fd;
	err = errno;
	close(fd);
	return -err;
}

static bool port_free(uint32_t port)
{
	int fd = bind_port(port);

	if (fd < 0)
		return false;
	close(fd);
	return true;
}

static int setup(void **state)
{
	static struct ev_loop loop;

	if (!vsock_supported()) {
		print_message("AF_VSOCK is not supported on this kernel\n");
		return -1;
	}
	*state = &loop;
	return ev_loop_init(&loop);
}

static int teardown(void **state)
{
	ev_loop_fini(*state);
	return 0;
}

static void test_listeners_live_with_the_backend(void **state)
{
	const uint32_t ports[] = {PORT_A, PORT_B};
	struct backend *be = backend_vsock_create(NO_DEVICE, *state, 1, ports, 2);

	assert_non_null(be);
	assert_int_equal(bind_port(PORT_A), -EADDRINUSE);
	assert_int_equal(bind_port(PORT_B), -EADDRINUSE);
	be->ops->destroy(be);
	assert_true(port_free(PORT_A));
	assert_true(port_free(PORT_B));
}

static void test_no_listen_ports(void **state)
{
	struct backend *be = backend_vsock_create(NO_DEVICE, *state, 1, NULL, 0);

	assert_non_null(be);
	be->ops->destroy(be);
}

/* Runs backend_vsock_create with stderr captured into log (NUL-ended). */
static struct backend *create_logged(struct ev_loop *loop, const uint32_t *ports, size_t n,
				     char *log, size_t cap)
{
	FILE *tmp = tmpfile();
	int saved = dup(STDERR_FILENO);
	struct backend *be;
	size_t len;

	assert_non_null(tmp);
	assert_true(saved >= 0);
	fflush(stderr);
	assert_true(dup2(fileno(tmp), STDERR_FILENO) >= 0);
	be = backend_vsock_create(NO_DEVICE, loop, 1, ports, n);
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	rewind(tmp);
	len = fread(log, 1, cap - 1, tmp);
	log[len] = '\0';
	fclose(tmp);
	return be;
}

static void test_port_in_use_fails_and_releases_the_others(void **state)
{
	const uint32_t ports[] = {PORT_A, PORT_C, PORT_B};
	int taken = bind_port(PORT_C);
	char log[1024];

	assert_true(taken >= 0);
	assert_int_equal(listen(taken, 1), 0);
	assert_null(create_logged(*state, ports, 3, log, sizeof(log)));
	assert_non_null(strstr(log, "cannot listen on port 47003"));
	assert_non_null(strstr(log, strerror(EADDRINUSE)));
	assert_true(port_free(PORT_A));
	assert_true(port_free(PORT_B));
	close(taken);
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Whatever the peer (here a CID nobody answers for quickly), the call
 * returns at once: a pending fd or an error, never a wait. */
static void test_connect_does_not_block(void **state)
{
	struct backend *be = backend_vsock_create(NO_DEVICE, *state, 1, NULL, 0);
	int64_t start = now_ms();
	bool done = false;
	int fd;

	assert_non_null(be);
	fd = be->ops->connect(be, PORT_A, VIRTIO_VSOCK_TYPE_STREAM, &done);
	assert_true(now_ms() - start < 500);
	if (fd >= 0) {
		/* Non-blocking, so the device can watch it for completion. */
		assert_true(fcntl(fd, F_GETFL) & O_NONBLOCK);
		close(fd);
	}
	be->ops->destroy(be);
}

/* A guest seqpacket connection is refused before any socket is made: a
 * non-blocking seqpacket send on AF_VSOCK cannot be retried safely. */
static void test_seqpacket_refused(void **state)
{
	struct backend *be = backend_vsock_create(NO_DEVICE, *state, 1, NULL, 0);
	bool done = false;

	assert_non_null(be);
	assert_int_equal(be->ops->connect(be, PORT_A, VIRTIO_VSOCK_TYPE_SEQPACKET, &done),
			 -EOPNOTSUPP);
	be->ops->destroy(be);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_listeners_live_with_the_backend),
		cmocka_unit_test(test_no_listen_ports),
		cmocka_unit_test(test_port_in_use_fails_and_releases_the_others),
		cmocka_unit_test(test_connect_does_not_block),
		cmocka_unit_test(test_seqpacket_refused),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
