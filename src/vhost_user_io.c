#include "vhost_user_io.h"

#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "mono_time.h"
#include "unix_sock.h"

/* Waits until fd has events or the deadline passes: 0, or -ETIMEDOUT. */
static int wait_for(int fd, short events, int64_t deadline)
{
	for (;;) {
		struct pollfd pfd = {.fd = fd, .events = events};
		int64_t left = deadline - mono_ms();
		int n;

		if (left <= 0)
			return -ETIMEDOUT;
		n = poll(&pfd, 1, (int)left);
		if (n > 0)
			return 0;
		if (n < 0 && errno != EINTR)
			return -errno;
	}
}

static void keep_fds(struct vu_msg *msg, struct cmsghdr *cmsg, bool *overflow)
{
	size_t count = (cmsg->cmsg_len - CMSG_LEN(0)) / sizeof(int);
	const unsigned char *data = CMSG_DATA(cmsg);

	for (size_t i = 0; i < count; i++) {
		int fd;

		memcpy(&fd, data + i * sizeof(int), sizeof(fd));
		if (msg->nfds < VU_MAX_FDS) {
			msg->fds[msg->nfds++] = fd;
		} else {
			close(fd);
			*overflow = true;
		}
	}
}

/* One recvmsg: returns bytes read, 0 at EOF, or -errno. */
static ssize_t recv_some(int fd, void *buf, size_t len, struct vu_msg *msg,
			 bool *overflow)
{
	union {
		char buf[CMSG_SPACE(VU_MAX_FDS * sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = {.iov_base = buf, .iov_len = len};
	struct msghdr mh = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = ctl.buf,
		.msg_controllen = sizeof(ctl.buf),
	};
	ssize_t n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);

	if (n < 0)
		return -errno;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
			keep_fds(msg, c, overflow);
	}
	if (mh.msg_flags & MSG_CTRUNC)
		*overflow = true;
	return n;
}

/* Fills buf completely.  *started tells whether any byte of the message
 * has arrived: before that, EAGAIN means "no message" (-EAGAIN returned),
 * after it we wait until the deadline.  Returns 0, -EPIPE at EOF, or
 * -errno. */
static int recv_full(int fd, void *buf, size_t len, struct vu_msg *msg,
		     bool *overflow, bool *started, int64_t *deadline,
		     int timeout_ms)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = recv_some(fd, (char *)buf + got, len - got, msg, overflow);

		if (n > 0) {
			if (!*started) {
				*started = true;
				*deadline = mono_ms() + timeout_ms;
			}
			got += (size_t)n;
		} else if (n == 0) {
			return -EPIPE;
		} else if (n == -EAGAIN) {
			int ret;

			if (!*started)
				return -EAGAIN;
			ret = wait_for(fd, POLLIN, *deadline);
			if (ret < 0)
				return ret;
		} else if (n != -EINTR) {
			return (int)n;
		}
	}
	return 0;
}

void vu_msg_close_fds(struct vu_msg *msg)
{
	for (unsigned i = 0; i < msg->nfds; i++) {
		if (msg->fds[i] >= 0)
			close(msg->fds[i]);
	}
	msg->nfds = 0;
}

static enum vu_recv_result recv_failed(struct vu_msg *msg, bool started, int err)
{
	vu_msg_close_fds(msg);
	if (err == -EPIPE && !started)
		log_info("front-end closed the connection");
	else if (err == -EPIPE)
		log_warn_rl("front-end closed the connection in the middle of a message");
	else if (err == -ETIMEDOUT)
		log_warn_rl("front-end stalled in the middle of a message");
	else
		log_warn_rl("reading from the front-end failed: %s", strerror(-err));
	return VU_RECV_ERROR;
}

enum vu_recv_result vu_msg_recv(int fd, struct vu_msg *msg, int timeout_ms)
{
	bool overflow = false, started = false;
	int64_t deadline = 0;
	int ret;

	msg->nfds = 0;
	ret = recv_full(fd, &msg->hdr, sizeof(msg->hdr), msg, &overflow, &started,
			&deadline, timeout_ms);
	if (ret == -EAGAIN)
		return VU_RECV_NONE;
	if (ret < 0)
		return recv_failed(msg, started, ret);
	if (msg->hdr.size > VU_MAX_PAYLOAD) {
		log_warn_rl("front-end message %u has a %u-byte payload (at most %u)",
			    msg->hdr.request, msg->hdr.size, VU_MAX_PAYLOAD);
		vu_msg_close_fds(msg);
		return VU_RECV_ERROR;
	}
	ret = recv_full(fd, msg->payload.bytes, msg->hdr.size, msg, &overflow,
			&started, &deadline, timeout_ms);
	if (ret < 0)
		return recv_failed(msg, started, ret);
	if (overflow) {
		log_warn_rl("front-end message %u came with more than %u fds",
			    msg->hdr.request, VU_MAX_FDS);
		vu_msg_close_fds(msg);
		return VU_RECV_ERROR;
	}
	return VU_RECV_MSG;
}

int vu_msg_send(int fd, const struct vu_msg_hdr *hdr, const void *payload,
		const int *fds, unsigned nfds, int timeout_ms)
{
	union {
		char buf[CMSG_SPACE(VU_MAX_FDS * sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov[2] = {
		{.iov_base = (void *)hdr, .iov_len = sizeof(*hdr)},
		{.iov_base = (void *)payload, .iov_len = hdr->size},
	};
	struct msghdr mh = {.msg_iov = iov, .msg_iovlen = hdr->size ? 2 : 1};
	int64_t deadline = mono_ms() + timeout_ms;

	if (nfds > VU_MAX_FDS)
		return -EINVAL;
	unix_attach_fds(&mh, ctl.buf, fds, nfds);
	while (mh.msg_iovlen > 0) {
		ssize_t n = sendmsg(fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0) {
			int ret;

			if (errno == EINTR)
				continue;
			if (errno != EAGAIN)
				return -errno;
			ret = wait_for(fd, POLLOUT, deadline);
			if (ret < 0)
				return ret;
			continue;
		}
		/* The fds went with the first byte; skip what was sent. */
		mh.msg_control = NULL;
		mh.msg_controllen = 0;
		while (mh.msg_iovlen > 0 && (size_t)n >= mh.msg_iov->iov_len) {
			n -= (ssize_t)mh.msg_iov->iov_len;
			mh.msg_iov++;
			mh.msg_iovlen--;
		}
		if (mh.msg_iovlen > 0) {
			mh.msg_iov->iov_base = (char *)mh.msg_iov->iov_base + n;
			mh.msg_iov->iov_len -= (size_t)n;
		}
	}
	return 0;
}
