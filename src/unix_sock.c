#include "unix_sock.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"

static int fill_addr(struct sockaddr_un *addr, const char *path)
{
	size_t len = strlen(path);

	if (len == 0 || len >= sizeof(addr->sun_path))
		return -ENAMETOOLONG;
	memset(addr, 0, sizeof(*addr));
	addr->sun_family = AF_UNIX;
	memcpy(addr->sun_path, path, len + 1);
	return 0;
}

/* Removes a leftover socket file; refuses to touch anything else. */
static int remove_stale_socket(const char *path)
{
	struct stat st;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(st.st_mode)) {
		log_err("%s exists and is not a socket; refusing to replace it", path);
		return -EEXIST;
	}
	if (unlink(path) < 0 && errno != ENOENT)
		return -errno;
	return 0;
}

int unix_listener_open(struct unix_listener *l, const char *path, int backlog)
{
	struct sockaddr_un addr;
	struct stat st;
	int rc;

	*l = (struct unix_listener){.fd = -1};
	rc = fill_addr(&addr, path);
	if (rc < 0) {
		log_err("%s: socket path is empty or too long", path);
		return rc;
	}
	rc = remove_stale_socket(path);
	if (rc < 0) {
		if (rc != -EEXIST)
			log_err("%s: cannot remove the stale socket: %s", path, strerror(-rc));
		return rc;
	}
	l->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (l->fd < 0) {
		rc = -errno;
		log_err("%s: socket: %s", path, strerror(errno));
		return rc;
	}
	if (bind(l->fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 ||
	    listen(l->fd, backlog) < 0 || stat(path, &st) < 0) {
		rc = -errno;
		log_err("%s: cannot listen: %s", path, strerror(errno));
		close(l->fd);
		l->fd = -1;
		return rc;
	}
	l->path = strdup(path);
	l->st_dev = st.st_dev;
	l->st_ino = st.st_ino;
	l->st_ctim = st.st_ctim;
	if (!l->path) {
		unlink(path);
		close(l->fd);
		l->fd = -1;
		return -ENOMEM;
	}
	return 0;
}

void unix_listener_close(struct unix_listener *l)
{
	struct stat st;

	if (l->fd >= 0)
		close(l->fd);
	l->fd = -1;
	if (l->path && lstat(l->path, &st) == 0 && st.st_dev == l->st_dev &&
	    st.st_ino == l->st_ino && st.st_ctim.tv_sec == l->st_ctim.tv_sec &&
	    st.st_ctim.tv_nsec == l->st_ctim.tv_nsec)
		unlink(l->path);
	free(l->path);
	l->path = NULL;
}

int unix_connect_nb(const char *path, bool *done)
{
	struct sockaddr_un addr;
	int fd, rc = fill_addr(&addr, path);

	if (rc < 0)
		return rc;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0) {
		*done = true;
		return fd;
	}
	rc = -errno;
	if (rc == -EINPROGRESS) {
		*done = false;
		return fd;
	}
	close(fd);
	return rc;
}
