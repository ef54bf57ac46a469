#include "sock_accept.h"

#include <errno.h>
#include <string.h>

#include "log.h"

int sock_accept(struct ev_loop *loop, struct ev_source *src, struct sockaddr *addr,
		socklen_t *addrlen, const char *what)
{
	int fd = accept4(src->fd, addr, addrlen, SOCK_NONBLOCK | SOCK_CLOEXEC);

	if (fd >= 0)
		return fd;
	switch (errno) {
	case EAGAIN:
	case EINTR:
	case ECONNABORTED:
		break;
	case EMFILE:
	case ENFILE:
	case ENOBUFS:
	case ENOMEM:
		log_warn_rl("%s: accept: %s; not accepting for %u ms", what, strerror(errno),
			    EV_PAUSE_MS);
		ev_pause(loop, src);
		break;
	default:
		log_warn_rl("%s: accept: %s", what, strerror(errno));
		break;
	}
	return -1;
}
