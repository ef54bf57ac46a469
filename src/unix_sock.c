#include "unix_sock.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
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

bool unix_socket_live(const char *path)
{
	struct sockaddr_un addr;
	bool live;
	int fd;

	if (fill_addr(&addr, path) < 0)
		return false;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return false;
	/* Refused: nobody listens there; anything else (accepted, a full
	 * backlog, a socket of another type) means somebody does. */
	live = connect(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0 ||
	       (errno != ECONNREFUSED && errno != ENOENT);
	close(fd);
	return live;
}

/* Whether path may be replaced: 0 if nothing is there, 1 if a stale socket
 * is, -EEXIST (logged) for anything else (a file, a socket somebody
 * listens on), or -errno. */
static int check_replaceable(const char *path)
{
	struct stat st;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(st.st_mode)) {
		log_err("%s exists and is not a socket; refusing to replace it", path);
		return -EEXIST;
	}
	if (unix_socket_live(path)) {
		log_err("%s: somebody listens on this socket already; refusing to replace it",
			path);
		return -EEXIST;
	}
	return 1;
}

/* Names tried for the temporary socket: another is needed only if a
 * process that had our pid crashed and left its temporary socket behind. */
#define TEMP_NAME_TRIES 16

/* A fresh name for the socket in path's directory (so that rename() onto
 * path is atomic), unique to this process and listener.  Returns false if
 * it does not fit in a sun_path. */
static bool make_temp_addr(struct sockaddr_un *tmp, const char *path)
{
	static unsigned seq;
	const char *slash = strrchr(path, '/');
	int dir_len = slash ? (int)(slash - path + 1) : 0;
	int n;

	memset(tmp, 0, sizeof(*tmp));
	tmp->sun_family = AF_UNIX;
	n = snprintf(tmp->sun_path, sizeof(tmp->sun_path), "%.*s.vsock-tmp.%d.%u", dir_len,
		     path, (int)getpid(), __atomic_fetch_add(&seq, 1, __ATOMIC_RELAXED));
	return n > 0 && (size_t)n < sizeof(tmp->sun_path);
}

/* Binds fd to a temporary name next to path, filled into *tmp.  Returns 0,
 * -ENAMETOOLONG if no such name fits, or -errno. */
static int bind_temp(int fd, struct sockaddr_un *tmp, const char *path)
{
	for (unsigned i = 0; i < TEMP_NAME_TRIES; i++) {
		if (!make_temp_addr(tmp, path))
			return -ENAMETOOLONG;
		if (bind(fd, (struct sockaddr *)tmp, sizeof(*tmp)) == 0)
			return 0;
		if (errno != EADDRINUSE)
			return -errno;
	}
	return -EADDRINUSE;
}

/* Binds fd to path itself, replacing a stale socket first (errors are
 * logged).  For paths too long for a temporary name beside them: a client
 * that connects between bind() and listen() is refused. */
static int bind_in_place(int fd, const struct sockaddr_un *addr, const char *path,
			 bool stale)
{
	int rc;

	log_info("%s: no room for a temporary name beside it; binding it directly", path);
	if (stale && unlink(path) < 0 && errno != ENOENT) {
		rc = -errno;
		log_err("%s: cannot remove the stale socket: %s", path, strerror(errno));
		return rc;
	}
	if (bind(fd, (const struct sockaddr *)addr, sizeof(*addr)) < 0) {
		rc = -errno;
		log_err("%s: cannot listen: %s", path, strerror(errno));
		return rc;
	}
	return 0;
}

/* The socket is bound to a temporary name, listens, and only then is moved
 * onto path: whoever sees path appear can connect at once. */
int unix_listener_open_type(struct unix_listener *l, const char *path, int type, int backlog,
			    const struct unix_perm *perm)
{
	struct sockaddr_un addr, tmp;
	const char *bound = tmp.sun_path;
	struct stat st;
	int rc, stale;

	*l = (struct unix_listener){.fd = -1};
	rc = fill_addr(&addr, path);
	if (rc < 0) {
		log_err("%s: socket path is empty or too long", path);
		return rc;
	}
	stale = check_replaceable(path);
	if (stale < 0) {
		if (stale != -EEXIST)
			log_err("%s: cannot remove the stale socket: %s", path, strerror(-stale));
		return stale;
	}
	l->fd = socket(AF_UNIX, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (l->fd < 0) {
		rc = -errno;
		log_err("%s: socket: %s", path, strerror(errno));
		return rc;
	}
	rc = bind_temp(l->fd, &tmp, path);
	if (rc == -ENAMETOOLONG) {
		bound = path;
		rc = bind_in_place(l->fd, &addr, path, stale);
	} else if (rc < 0) {
		log_err("%s: cannot listen: %s", path, strerror(-rc));
	}
	if (rc < 0)
		goto fail;
	/* Before the file appears at path, so nobody connects under a
	 * looser mode (bind() gave it the umask's). */
	if (chmod(bound, perm->mode) < 0 ||
	    (perm->set_gid && chown(bound, (uid_t)-1, perm->gid) < 0)) {
		rc = -errno;
		log_err("%s: cannot give the socket mode %04o%s: %s", path, (unsigned)perm->mode,
			perm->set_gid ? " and its group" : "", strerror(errno));
		goto fail_bound;
	}
	if (listen(l->fd, backlog) < 0) {
		rc = -errno;
		log_err("%s: cannot listen: %s", path, strerror(errno));
		goto fail_bound;
	}
	if (bound != path && rename(bound, path) < 0) {
		rc = -errno;
		log_err("%s: cannot move the listening socket %s into place: %s", path, bound,
			strerror(errno));
		goto fail_bound;
	}
	/* The inode as it is now at path (rename() changes its ctime). */
	if (stat(path, &st) < 0) {
		rc = -errno;
		log_err("%s: cannot listen: %s", path, strerror(errno));
		goto fail;
	}
	l->path = strdup(path);
	if (!l->path) {
		rc = -ENOMEM;
		unlink(path);
		goto fail;
	}
	l->st_dev = st.st_dev;
	l->st_ino = st.st_ino;
	l->st_ctim = st.st_ctim;
	return 0;

fail_bound:
	unlink(bound);
fail:
	close(l->fd);
	l->fd = -1;
	return rc;
}

static int sock_opt(int fd, int opt)
{
	int v = 0;
	socklen_t len = sizeof(v);

	return getsockopt(fd, SOL_SOCKET, opt, &v, &len) < 0 ? -1 : v;
}

int unix_listener_adopt_type(struct unix_listener *l, int fd, int type, const char *name)
{
	char fallback[24];
	int flags = fcntl(fd, F_GETFL);

	*l = (struct unix_listener){.fd = -1, .inherited = true};
	snprintf(fallback, sizeof(fallback), "fd %d", fd);
	if (!name)
		name = fallback;
	if (flags < 0) {
		log_err("%s: not an open descriptor: %s", name, strerror(errno));
		return -EBADF;
	}
	if (sock_opt(fd, SO_DOMAIN) != AF_UNIX || sock_opt(fd, SO_TYPE) != type ||
	    sock_opt(fd, SO_ACCEPTCONN) != 1) {
		log_err("%s: not a listening Unix %s socket", name,
			type == SOCK_SEQPACKET ? "seqpacket" : "stream");
		return -ENOTSOCK;
	}
	if (fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0 || fcntl(fd, F_SETFD, FD_CLOEXEC) < 0) {
		log_err("%s: fcntl: %s", name, strerror(errno));
		return -errno;
	}
	l->path = strdup(name);
	if (!l->path)
		return -ENOMEM;
	l->fd = fd;
	return 0;
}

int unix_listener_serve(struct unix_listener *l, const char *path, int inherited_fd,
			int backlog, const struct unix_perm *perm)
{
	if (inherited_fd >= 0)
		return unix_listener_adopt(l, inherited_fd, path);
	return unix_listener_open(l, path, backlog, perm);
}

void unix_listener_close(struct unix_listener *l)
{
	struct stat st;

	if (l->fd >= 0)
		close(l->fd);
	l->fd = -1;
	if (l->path && !l->inherited && lstat(l->path, &st) == 0 && st.st_dev == l->st_dev &&
	    st.st_ino == l->st_ino && st.st_ctim.tv_sec == l->st_ctim.tv_sec &&
	    st.st_ctim.tv_nsec == l->st_ctim.tv_nsec)
		unlink(l->path);
	free(l->path);
	l->path = NULL;
}

int unix_connect_nb(const char *path, int type, bool *done)
{
	struct sockaddr_un addr;
	int fd, rc = fill_addr(&addr, path);

	if (rc < 0)
		return rc;
	fd = socket(AF_UNIX, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
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

void unix_attach_fds(struct msghdr *mh, void *ctl, const int *fds, unsigned n)
{
	struct cmsghdr *c;

	if (n == 0)
		return;
	memset(ctl, 0, CMSG_SPACE(n * sizeof(int)));
	mh->msg_control = ctl;
	mh->msg_controllen = CMSG_SPACE(n * sizeof(int));
	c = CMSG_FIRSTHDR(mh);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(n * sizeof(int));
	memcpy(CMSG_DATA(c), fds, n * sizeof(int));
}
