/* Unix-domain socket helpers for the paths the daemon serves. */
#ifndef VSOCK_UNIX_SOCK_H
#define VSOCK_UNIX_SOCK_H

#include <stdbool.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>

/* A listening socket bound to a path, remembering which file it created so
 * that only that file is ever removed; or one inherited from whoever
 * started us (--fd, socket activation), whose file is theirs. */
struct unix_listener {
	int fd;        /* -1 when closed */
	char *path;    /* for an inherited socket: its path, or "fd N" */
	bool inherited;
	dev_t st_dev;
	ino_t st_ino;
	struct timespec st_ctim; /* inode numbers are reused: tell files apart */
};

/* Mode and group given to the socket file before it appears at its path. */
struct unix_perm {
	mode_t mode;
	gid_t gid;
	bool set_gid;
};

/* Whether somebody listens on the Unix socket at path (a connect is not
 * refused). */
bool unix_socket_live(const char *path);

/* Binds a socket of type (SOCK_STREAM, SOCK_SEQPACKET) and listens
 * (non-blocking, close-on-exec).  The socket is bound
 * under a temporary name beside path and renamed onto it once it listens,
 * so path never exists without accepting connections (except for paths so
 * long that no temporary name fits: those are bound directly).  A stale
 * socket file at path is replaced; a socket somebody listens on, or any
 * other existing file, is refused.
 * Errors are logged with the path and returned as -errno, leaving no file
 * behind. */
int unix_listener_open_type(struct unix_listener *l, const char *path, int type, int backlog,
			    const struct unix_perm *perm);
/* A SOCK_STREAM one. */
static inline int unix_listener_open(struct unix_listener *l, const char *path, int backlog,
				     const struct unix_perm *perm)
{
	return unix_listener_open_type(l, path, SOCK_STREAM, backlog, perm);
}
/* Takes over fd, which must be a listening Unix socket of type
 * (SOCK_STREAM, SOCK_SEQPACKET) (made non-blocking and close-on-exec); name
 * (may be NULL: "fd N") is for log lines.  Returns 0 or -errno (logged);
 * fd is left open on failure. */
int unix_listener_adopt_type(struct unix_listener *l, int fd, int type, const char *name);
static inline int unix_listener_adopt(struct unix_listener *l, int fd, const char *name)
{
	return unix_listener_adopt_type(l, fd, SOCK_STREAM, name);
}
/* unix_listener_adopt() when inherited_fd >= 0, else unix_listener_open(). */
int unix_listener_serve(struct unix_listener *l, const char *path, int inherited_fd,
			int backlog, const struct unix_perm *perm);
/* Closes the socket and removes the file if it is still the one we bound
 * (never an inherited socket's). */
void unix_listener_close(struct unix_listener *l);

/* Attaches fds[0..n) to mh as one SCM_RIGHTS message built in ctl, which
 * must be aligned for a struct cmsghdr and hold CMSG_SPACE(n * sizeof(int))
 * bytes.  Nothing is attached when n is 0. */
void unix_attach_fds(struct msghdr *mh, void *ctl, const int *fds, unsigned n);

/* Starts a non-blocking connect of a socket of type (SOCK_STREAM,
 * SOCK_SEQPACKET) to path.  Returns the fd, with *done set when the
 * connection completed at once, or -errno (-EPROTOTYPE: path listens with
 * another type). */
int unix_connect_nb(const char *path, int type, bool *done);

#endif
