#include "vsock_env.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/vm_sockets.h>

#define START_TIMEOUT_MS 10000
#define STOP_TIMEOUT_MS 10000
#define PUMP_CHUNK 70000

static int vsock_stream(void)
{
	return socket(AF_VSOCK, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
}

bool env_cid1_available(void)
{
	const struct sockaddr_vm addr = {.svm_family = AF_VSOCK,
					 .svm_cid = VMADDR_CID_LOCAL,
					 .svm_port = VMADDR_PORT_ANY};
	int fd = vsock_stream();
	bool ok = fd >= 0 && bind(fd, (const struct sockaddr *)&addr, sizeof(addr)) == 0;

	if (fd >= 0)
		close(fd);
	return ok;
}

int env_start(struct env *e, const char *daemon_bin)
{
	char vm[2][256], timeout_ms[16];
	const char *argv[6], *sockets[3];
	struct rig_opts o;
	int rc;

	*e = (struct env){0};
	rc = rig_daemon_prepare(&e->d);
	if (rc < 0) {
		printf("# cannot make the daemon's directory: %s\n", strerror(-rc));
		return -1;
	}
	snprintf(e->socket[0], sizeof(e->socket[0]), "%s/vhost3.socket", e->d.dir);
	snprintf(e->socket[1], sizeof(e->socket[1]), "%s/vhost4.socket", e->d.dir);
	snprintf(vm[0], sizeof(vm[0]), "guest-cid=%u,socket=%s,forward-cid=%u,"
		 "forward-listen=%u+%u+%u", ENV_GUEST_CID, e->socket[0], ENV_FORWARD_CID,
		 ENV_LISTEN_A, ENV_LISTEN_B, ENV_LISTEN_C);
	snprintf(vm[1], sizeof(vm[1]), "guest-cid=%u,socket=%s,forward-cid=%u,forward-listen=%u",
		 ENV_OTHER_CID, e->socket[1], ENV_FOREIGN_CID, ENV_LISTEN_OTHER);
	snprintf(timeout_ms, sizeof(timeout_ms), "%d", ENV_REQUEST_TIMEOUT_MS);
	/* The daemon inherits them; this program reads neither. */
	setenv("VHOST_DEVICE_VSOCK_LOG", "info", 1);
	setenv("VHOST_DEVICE_VSOCK_REQUEST_TIMEOUT_MS", timeout_ms, 1);
	argv[0] = daemon_bin;
	argv[1] = "--vm";
	argv[2] = vm[0];
	argv[3] = "--vm";
	argv[4] = vm[1];
	argv[5] = NULL;
	sockets[0] = e->socket[0];
	sockets[1] = e->socket[1];
	sockets[2] = NULL;
	rc = rig_daemon_spawn(&e->d, argv, sockets);
	if (rc < 0) {
		printf("# the daemon did not start: %s\n", strerror(-rc));
		return -1;
	}
	rig_opts_default(&o);
	o.socket_path = e->socket[0];
	o.timeout_ms = ENV_T_MS;
	rc = rig_open(&e->rig, &o);
	if (rc < 0) {
		printf("# rig_open: %s\n", strerror(-rc));
		return -1;
	}
	return 0;
}

int env_stop(struct env *e)
{
	int rc;

	env_close_fds(e);
	if (e->rig)
		rig_destroy(e->rig);
	e->rig = NULL;
	rc = rig_daemon_terminate(&e->d, ENV_T_MS);
	if (rc != 0) {
		printf("# the daemon did not exit cleanly on SIGTERM (%d)\n", rc);
		rc = -1;
	}
	for (unsigned i = 0; i < 2; i++) {
		const char *path = e->socket[i];

		if (path[0] && access(path, F_OK) == 0) {
			/* fputs: GCC's format checker misjudges path under ASan. */
			fputs("# the daemon left this socket behind: ", stdout);
			puts(path);
			rc = -1;
		}
	}
	rig_daemon_stop(&e->d, ENV_T_MS);
	return rc;
}

static int track(struct env *e, int fd)
{
	if (fd < 0)
		return fd;
	if (e->n_fds == ENV_MAX_FDS) {
		close(fd);
		return -EMFILE;
	}
	e->fds[e->n_fds++] = fd;
	return fd;
}

void env_close_fds(struct env *e)
{
	while (e->n_fds)
		close(e->fds[--e->n_fds]);
}

int env_wait_fd(struct env *e, int fd, short events)
{
	return rig_wait_fd(e->rig, fd, events, rig_now_ms() + ENV_T_MS);
}

int env_host_listen(struct env *e, uint32_t port)
{
	const struct sockaddr_vm addr = {.svm_family = AF_VSOCK,
					 .svm_cid = VMADDR_CID_ANY,
					 .svm_port = port};
	int fd = track(e, vsock_stream());

	if (fd < 0)
		return -errno;
	if (bind(fd, (const struct sockaddr *)&addr, sizeof(addr)) < 0 || listen(fd, 16) < 0)
		return -errno;
	return fd;
}

int env_host_accept(struct env *e, int listen_fd)
{
	for (;;) {
		int fd = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		int rc;

		if (fd >= 0)
			return track(e, fd);
		if (errno != EAGAIN && errno != EINTR)
			return -errno;
		rc = env_wait_fd(e, listen_fd, POLLIN);
		if (rc < 0)
			return rc;
	}
}

int env_host_connect(struct env *e, uint32_t port, bool run_rig)
{
	const struct sockaddr_vm addr = {.svm_family = AF_VSOCK,
					 .svm_cid = ENV_FORWARD_CID,
					 .svm_port = port};
	int fd = track(e, vsock_stream());
	int err = 0;
	socklen_t len = sizeof(err);

	if (fd < 0)
		return -errno;
	if (connect(fd, (const struct sockaddr *)&addr, sizeof(addr)) == 0)
		return fd;
	if (errno != EINPROGRESS)
		return -errno;
	if (run_rig) {
		int rc = env_wait_fd(e, fd, POLLOUT);

		if (rc < 0)
			return rc;
	} else {
		struct pollfd pfd = {.fd = fd, .events = POLLOUT};

		if (poll(&pfd, 1, ENV_T_MS) != 1)
			return -ETIMEDOUT;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		return -errno;
	return err ? -err : fd;
}

static int pump_result(const uint8_t *got, const uint8_t *out, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (got[i] != out[i]) {
			printf("# byte %zu of %zu differs\n", i, len);
			return -1;
		}
	}
	return 0;
}

int env_pump_g2h(struct env *e, struct rig_conn *c, int hfd, const uint8_t *out, size_t len)
{
	uint8_t *got = malloc(len ? len : 1);
	size_t sent = 0, recvd = 0;
	int64_t deadline = rig_now_ms() + ENV_T_MS;
	int rc = -1;

	while (got && recvd < len && rig_left_ms(deadline) > 0) {
		struct pollfd pfd = {.fd = hfd, .events = POLLIN};
		ssize_t n = 0;

		if (sent < len) {
			n = rig_send(e->rig, c, out + sent,
				     len - sent < PUMP_CHUNK ? len - sent : PUMP_CHUNK);
			if (n < 0) {
				printf("# guest send: %s\n", strerror((int)-n));
				break;
			}
			sent += (size_t)n;
		}
		ssize_t r = recv(hfd, got + recvd, len - recvd, MSG_DONTWAIT);

		if (r > 0) {
			recvd += (size_t)r;
			continue;
		}
		if (r == 0 || errno != EAGAIN) {
			printf("# host recv after %zu bytes: %s\n", recvd, r ? strerror(errno) : "EOF");
			break;
		}
		if (n == 0 && rig_poll(e->rig, &pfd, 1, rig_left_ms(deadline)) < 0)
			break;
	}
	if (recvd == len)
		rc = pump_result(got, out, len);
	else
		printf("# guest -> host: %zu of %zu bytes arrived\n", recvd, len);
	free(got);
	return rc;
}

int env_pump_h2g(struct env *e, struct rig_conn *c, int hfd, const uint8_t *out, size_t len)
{
	uint8_t *got = malloc(len ? len : 1);
	size_t sent = 0, recvd = 0;
	int64_t deadline = rig_now_ms() + ENV_T_MS;
	int rc = -1;

	while (got && recvd < len && rig_left_ms(deadline) > 0) {
		struct pollfd pfd = {.fd = hfd, .events = POLLOUT};
		bool progress = false;

		if (sent < len) {
			ssize_t n = send(hfd, out + sent,
					 len - sent < PUMP_CHUNK ? len - sent : PUMP_CHUNK,
					 MSG_DONTWAIT | MSG_NOSIGNAL);

			if (n < 0 && errno != EAGAIN) {
				printf("# host send: %s\n", strerror(errno));
				break;
			}
			if (n > 0) {
				sent += (size_t)n;
				progress = true;
			}
		}
		ssize_t r = rig_recv(e->rig, c, got + recvd, len - recvd);

		if (r > 0) {
			recvd += (size_t)r;
			continue;
		}
		if (r != -EAGAIN) {
			printf("# guest recv after %zu bytes: %s\n", recvd,
			       r ? strerror((int)-r) : "EOF");
			break;
		}
		if (!progress && rig_poll(e->rig, &pfd, sent < len, rig_left_ms(deadline)) < 0)
			break;
	}
	if (recvd == len)
		rc = pump_result(got, out, len);
	else
		printf("# host -> guest: %zu of %zu bytes arrived\n", recvd, len);
	free(got);
	return rc;
}
