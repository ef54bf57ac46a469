#include "rig_host.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "rig_internal.h"

static int make_addr(struct sockaddr_un *sa, const char *path)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa->sun_path))
		return -ENAMETOOLONG;
	strcpy(sa->sun_path, path);
	return 0;
}

int rig_host_connect(const char *uds_path)
{
	return rig_host_connect_type(uds_path, SOCK_STREAM);
}

int rig_host_connect_type(const char *path, int type)
{
	struct sockaddr_un sa;
	int fd, err = make_addr(&sa, path);

	if (err)
		return err;
	fd = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* Blocking connect: a Unix listener accepts into its backlog at once. */
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		err = -errno;
		close(fd);
		return err;
	}
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0) {
		err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

int rig_host_write_all(struct rig *rig, int fd, const void *buf, size_t len,
		       int timeout_ms)
{
	int64_t deadline = rig_now_ms() + timeout_ms;
	size_t done = 0;

	while (done < len) {
		ssize_t n = send(fd, (const char *)buf + done, len - done,
				 MSG_NOSIGNAL | MSG_DONTWAIT);
		int err;

		if (n > 0) {
			done += (size_t)n;
			continue;
		}
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			return -errno;
		err = rig_wait_fd(rig, fd, POLLOUT, deadline);
		if (err)
			return err;
	}
	return 0;
}

ssize_t rig_host_read_full(struct rig *rig, int fd, void *buf, size_t len,
			   int timeout_ms)
{
	int64_t deadline = rig_now_ms() + timeout_ms;
	size_t done = 0;

	while (done < len) {
		ssize_t n = recv(fd, (char *)buf + done, len - done, MSG_DONTWAIT);
		int err;

		if (n > 0) {
			done += (size_t)n;
			continue;
		}
		if (n == 0)
			break;
		if (errno != EAGAIN && errno != EINTR)
			return -errno;
		err = rig_wait_fd(rig, fd, POLLIN, deadline);
		if (err)
			return err;
	}
	return (ssize_t)done;
}

ssize_t rig_host_read_line(struct rig *rig, int fd, char *buf, size_t cap,
			   int timeout_ms)
{
	int64_t deadline = rig_now_ms() + timeout_ms;
	size_t len = 0;

	while (len + 1 < cap) {
		ssize_t n = recv(fd, buf + len, 1, MSG_DONTWAIT);
		int err;

		if (n == 1) {
			if (buf[len++] == '\n')
				break;
			continue;
		}
		if (n == 0)
			break;
		if (errno != EAGAIN && errno != EINTR)
			return errno == ECONNRESET ? 0 : -errno;
		err = rig_wait_fd(rig, fd, POLLIN, deadline);
		if (err)
			return err;
	}
	buf[len] = '\0';
	return (ssize_t)len;
}

int rig_host_wait_eof(struct rig *rig, int fd, int timeout_ms)
{
	int64_t deadline = rig_now_ms() + timeout_ms;
	char buf[4096];

	for (;;) {
		ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		int err;

		if (n == 0 || (n < 0 && errno == ECONNRESET))
			return 0;
		if (n > 0)
			continue;
		if (errno != EAGAIN && errno != EINTR)
			return -errno;
		err = rig_wait_fd(rig, fd, POLLIN, deadline);
		if (err)
			return err;
	}
}

int rig_host_open(struct rig *rig, const char *uds_path, uint32_t port,
		  struct rig_conn **guest, int timeout_ms)
{
	int64_t deadline = rig_now_ms() + timeout_ms;
	char line[64];
	int fd = rig_host_connect(uds_path);
	int len, err;
	ssize_t n;

	if (fd < 0)
		return fd;
	len = snprintf(line, sizeof(line), "CONNECT %u\n", port);
	err = rig_host_write_all(rig, fd, line, (size_t)len, timeout_ms);
	if (!err)
		err = rig_accept(rig, port, rig_left_ms(deadline), guest);
	if (err) {
		close(fd);
		return err;
	}
	n = rig_host_read_line(rig, fd, line, sizeof(line), rig_left_ms(deadline));
	if (n <= 0 || strncmp(line, "OK ", 3) != 0) {
		rig_abort(rig, *guest);
		close(fd);
		return n < 0 ? (int)n : -ECONNREFUSED;
	}
	return fd;
}

int rig_host_listen(const char *uds_path, uint32_t port)
{
	return rig_host_listen_type(uds_path, port, SOCK_STREAM);
}

int rig_host_listen_type(const char *uds_path, uint32_t port, int type)
{
	char path[sizeof(((struct sockaddr_un *)0)->sun_path) + 16];
	struct sockaddr_un sa;
	int fd, err;

	snprintf(path, sizeof(path), "%s_%u", uds_path, port);
	err = make_addr(&sa, path);
	if (err)
		return err;
	unlink(path);
	fd = socket(AF_UNIX, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 128) < 0) {
		err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

int rig_host_accept(struct rig *rig, int listen_fd, int timeout_ms)
{
	int64_t deadline = rig_now_ms() + timeout_ms;

	for (;;) {
		int fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		int err;

		if (fd >= 0)
			return fd;
		if (errno != EAGAIN && errno != EINTR)
			return -errno;
		err = rig_wait_fd(rig, listen_fd, POLLIN, deadline);
		if (err)
			return err;
	}
}
