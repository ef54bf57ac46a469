/* Unix-domain socket helpers for the paths the daemon serves. */
#ifndef VSOCK_UNIX_SOCK_H
#define VSOCK_UNIX_SOCK_H

#include <stdbool.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>

/* A listening socket bound to a path, remembering which file it created so
 * that only that file is ever removed. */
struct unix_listener {
	int fd;        /* -1 when closed */
	char *path;
	dev_t st_dev;
	ino_t st_ino;
	struct timespec st_ctim; /* inode numbers are reused: tell files apart */
};

/* Binds and listens (non-blocking, close-on-exec).  The socket is bound
 * under a temporary name beside path and renamed onto it once it listens,
 * so path never exists without accepting connections (except for paths so
 * long that no temporary name fits: those are bound directly).  A stale
 * socket file at path is replaced; any other existing file is refused.
 * Errors are logged with the path and returned as -errno, leaving no file
 * behind. */
int unix_listener_open(struct unix_listener *l, const char *path, int backlog);
/* Closes the socket and removes the file if it is still the one we bound. */
void unix_listener_close(struct unix_listener *l);

/* Attaches fds[0..n) to mh as one SCM_RIGHTS message built in ctl, which
 * must be aligned for a struct cmsghdr and hold CMSG_SPACE(n * sizeof(int))
 * bytes.  Nothing is attached when n is 0. */
void unix_attach_fds(struct msghdr *mh, void *ctl, const int *fds, unsigned n);

/* Starts a non-blocking connect to path.  Returns the fd, with *done set
 * when the connection completed at once, or -errno. */
int unix_connect_nb(const char *path, bool *done);

#endif
