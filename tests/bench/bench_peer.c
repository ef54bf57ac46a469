#include "bench_peer.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"
#include "bench_pump.h"

#define FDS_SPACE CMSG_SPACE(sizeof(int) * BENCH_MAX_CONNS)

static uint64_t echo(int fd)
{
	char buf[4096];
	uint64_t bytes = 0;
	ssize_t n;

	/* Blocking, like the simplest echo server. */
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		if (send(fd, buf, (size_t)n, MSG_NOSIGNAL) != n)
			break;
		bytes += (uint64_t)n;
	}
	return bytes;
}

static void run(const struct peer_cmd *cmd, const int *fds, struct peer_reply *r)
{
	switch (cmd->op) {
	case PEER_SINK:
	case PEER_SOURCE:
		r->err = pump_fds(fds, cmd->n_fds, cmd->op == PEER_SOURCE,
				  cmd->bytes_per_conn, cmd->io_size, BENCH_TIMEOUT_MS,
				  &r->bytes);
		break;
	case PEER_ECHO:
		r->err = cmd->n_fds == 1 ? 0 : -EINVAL;
		if (!r->err)
			r->bytes = echo(fds[0]);
		break;
	case PEER_HANDSHAKE:
		r->err = peer_handshake(cmd, BENCH_TIMEOUT_MS, r);
		break;
	default:
		r->err = -EINVAL;
		break;
	}
}

/* Receives one command and its fds.  Returns the number of fds, or -1 when
 * the parent has gone (or sent garbage). */
static int recv_cmd(int ctl, struct peer_cmd *cmd, int *fds)
{
	union {
		char buf[FDS_SPACE];
		struct cmsghdr align;
	} u;
	struct iovec iov = {cmd, sizeof(*cmd)};
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1,
			     .msg_control = u.buf, .msg_controllen = sizeof(u.buf)};
	ssize_t n = recvmsg(ctl, &msg, MSG_CMSG_CLOEXEC);
	int nfds = 0;

	if (n != (ssize_t)sizeof(*cmd))
		return -1;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
			nfds = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
			memcpy(fds, CMSG_DATA(c), sizeof(int) * (size_t)nfds);
		}
	}
	if ((uint32_t)nfds != cmd->n_fds) {
		for (int i = 0; i < nfds; i++)
			close(fds[i]);
		return -1;
	}
	return nfds;
}

static void peer_main(int ctl)
{
	struct peer_cmd cmd;
	int fds[BENCH_MAX_CONNS];
	int nfds;

	while ((nfds = recv_cmd(ctl, &cmd, fds)) >= 0) {
		struct peer_reply r = {0};

		run(&cmd, fds, &r);
		for (int i = 0; i < nfds; i++)
			close(fds[i]);
		if (write(ctl, &r, sizeof(r)) != (ssize_t)sizeof(r))
			break;
	}
	_exit(0);
}

int peer_start(struct peer *p)
{
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	p->pid = fork();
	if (p->pid < 0) {
		close(sv[0]);
		close(sv[1]);
		return -errno;
	}
	if (p->pid == 0) {
		close(sv[0]);
		peer_main(sv[1]);
	}
	close(sv[1]);
	p->ctl = sv[0];
	return 0;
}

int peer_send(struct peer *p, const struct peer_cmd *cmd, int *fds)
{
	union {
		char buf[FDS_SPACE];
		struct cmsghdr align;
	} u;
	struct iovec iov = {(void *)cmd, sizeof(*cmd)};
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
	size_t fd_bytes = sizeof(int) * cmd->n_fds;
	ssize_t n;
	int err = 0;

	if (cmd->n_fds > BENCH_MAX_CONNS)
		return -EINVAL;
	if (cmd->n_fds) {
		struct cmsghdr *c;

		memset(u.buf, 0, sizeof(u.buf));
		msg.msg_control = u.buf;
		msg.msg_controllen = CMSG_SPACE(fd_bytes);
		c = CMSG_FIRSTHDR(&msg);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(fd_bytes);
		memcpy(CMSG_DATA(c), fds, fd_bytes);
	}
	n = sendmsg(p->ctl, &msg, MSG_NOSIGNAL);
	if (n < 0)
		err = -errno;
	else if (n != (ssize_t)sizeof(*cmd))
		err = -EIO;
	for (uint32_t i = 0; i < cmd->n_fds; i++)
		close(fds[i]);
	return err;
}

int peer_reply(struct peer *p, struct peer_reply *r)
{
	ssize_t n = read(p->ctl, r, sizeof(*r));

	if (n == (ssize_t)sizeof(*r))
		return 0;
	return n < 0 ? -errno : -EPIPE;
}

void peer_stop(struct peer *p)
{
	if (p->pid <= 0)
		return;
	/* It holds nothing that needs a clean exit, and after a failed run it
	 * may be stuck in a command. */
	close(p->ctl);
	kill(p->pid, SIGKILL);
	waitpid(p->pid, NULL, 0);
	p->pid = -1;
}
