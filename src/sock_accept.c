#include "sock_accept.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

/* One spare fd for the whole process: device threads share the fd table. */
static pthread_mutex_t reserve_lock = PTHREAD_MUTEX_INITIALIZER;
static int reserve_fd = -1;

static int open_reserve(void)
{
	return open("/dev/null", O_RDONLY | O_CLOEXEC);
}

void sock_accept_reserve(void)
{
	pthread_mutex_lock(&reserve_lock);
	if (reserve_fd < 0)
		reserve_fd = open_reserve();
	pthread_mutex_unlock(&reserve_lock);
}

/* Frees the spare fd just long enough to accept the pending client and drop
 * it.  Returns true if a client was shed. */
static bool shed_one_client(int listen_fd)
{
	bool shed = false;

	pthread_mutex_lock(&reserve_lock);
	if (reserve_fd >= 0) {
		close(reserve_fd);
		int fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);

		if (fd >= 0) {
			close(fd);
			shed = true;
		}
		reserve_fd = open_reserve();
	}
	pthread_mutex_unlock(&reserve_lock);
	return shed;
}

int sock_accept(int listen_fd, struct sockaddr *addr, socklen_t *addrlen,
		const char *what)
{
	int fd = accept4(listen_fd, addr, addrlen, SOCK_NONBLOCK | SOCK_CLOEXEC);

	if (fd >= 0)
		return fd;
	switch (errno) {
	case EAGAIN:
	case EINTR:
	case ECONNABORTED:
		break;
	case EMFILE:
	case ENFILE:
		if (shed_one_client(listen_fd))
			log_warn_rl("%s: out of file descriptors: closed a new client",
				    what);
		else
			log_warn_rl("%s: out of file descriptors and no spare one: "
				    "a client waits in the backlog", what);
		break;
	default:
		log_warn_rl("%s: accept: %s", what, strerror(errno));
		break;
	}
	return -1;
}
