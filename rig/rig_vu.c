#include "rig_vu.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

struct vu_hdr {
	uint32_t request;
	uint32_t flags;
	uint32_t size;
};

int rig_vu_connect(struct rig_vu *vu, const char *path, int timeout_ms)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};

	memset(vu, 0, sizeof(*vu));
	vu->fd = -1;
	vu->timeout_ms = timeout_ms;
	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	vu->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (vu->fd < 0)
		return -errno;
	if (connect(vu->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int err = -errno;

		rig_vu_close(vu);
		return err;
	}
	return 0;
}

void rig_vu_close(struct rig_vu *vu)
{
	if (vu->fd >= 0)
		close(vu->fd);
	vu->fd = -1;
	vu->features = vu->protocol_features = 0;
	vu->reply_ack = false;
}

int rig_vu_send_raw(struct rig_vu *vu, uint32_t request, uint32_t flags,
		    uint32_t size_field, const void *payload, size_t len,
		    const int *fds, unsigned nfds)
{
	struct vu_hdr hdr = {request, flags, size_field};
	struct iovec iov[2] = {
		{.iov_base = &hdr, .iov_len = sizeof(hdr)},
		{.iov_base = (void *)payload, .iov_len = len},
	};
	union {
		char buf[CMSG_SPACE(sizeof(int) * VU_MAX_FDS)];
		struct cmsghdr align;
	} control;
	struct msghdr mh = {.msg_iov = iov, .msg_iovlen = len ? 2 : 1};
	size_t total = sizeof(hdr) + len;
	ssize_t n;

	if (vu->fd < 0)
		return -ENOTCONN;
	if (nfds > VU_MAX_FDS)
		return -EINVAL;
	if (nfds) {
		struct cmsghdr *cm;

		memset(&control, 0, sizeof(control));
		mh.msg_control = control.buf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(cm), fds, sizeof(int) * nfds);
	}
	n = sendmsg(vu->fd, &mh, MSG_NOSIGNAL);
	if (n < 0)
		return -errno;
	/* A Unix stream socket takes a message this small in one call. */
	return (size_t)n == total ? 0 : -EIO;
}

static int wait_readable(int fd, int timeout_ms)
{
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	int n;

	do
		n = poll(&pfd, 1, timeout_ms);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	return n == 0 ? -ETIMEDOUT : 0;
}

static int read_full(struct rig_vu *vu, void *buf, size_t len)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n;
		int err = wait_readable(vu->fd, vu->timeout_ms);

		if (err)
			return err;
		n = read(vu->fd, (char *)buf + done, len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -ECONNRESET;
		done += (size_t)n;
	}
	return 0;
}

static void take_fds(struct msghdr *mh, struct rig_vu_msg *msg)
{
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(mh); cm; cm = CMSG_NXTHDR(mh, cm)) {
		size_t n;

		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		n = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < n; i++) {
			int fd;

			memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int), sizeof(fd));
			if (msg->nfds < VU_MAX_FDS)
				msg->fds[msg->nfds++] = fd;
			else
				close(fd);
		}
	}
}

int rig_vu_recv(struct rig_vu *vu, struct rig_vu_msg *msg)
{
	struct vu_hdr hdr;
	struct iovec iov = {.iov_base = &hdr, .iov_len = sizeof(hdr)};
	union {
		char buf[CMSG_SPACE(sizeof(int) * VU_MAX_FDS)];
		struct cmsghdr align;
	} control;
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1,
			    .msg_control = control.buf,
			    .msg_controllen = sizeof(control.buf)};
	ssize_t n;
	int err;

	memset(msg, 0, sizeof(*msg));
	if (vu->fd < 0)
		return -ENOTCONN;
	err = wait_readable(vu->fd, vu->timeout_ms);
	if (err)
		return err;
	do
		n = recvmsg(vu->fd, &mh, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == ECONNRESET ? -ECONNRESET : -errno;
	if (n == 0)
		return -ECONNRESET;
	take_fds(&mh, msg);
	if ((size_t)n < sizeof(hdr)) {
		err = read_full(vu, (char *)&hdr + n, sizeof(hdr) - (size_t)n);
		if (err)
			return err;
	}
	msg->request = hdr.request;
	msg->flags = hdr.flags;
	msg->size = hdr.size;
	if (hdr.size > VU_MAX_PAYLOAD)
		return -EPROTO;
	return read_full(vu, msg->payload.raw, hdr.size);
}

int rig_vu_wait_closed(struct rig_vu *vu, int timeout_ms)
{
	char buf[256];

	for (;;) {
		ssize_t n;
		int err = wait_readable(vu->fd, timeout_ms);

		if (err)
			return err;
		n = read(vu->fd, buf, sizeof(buf));
		if (n == 0 || (n < 0 && errno == ECONNRESET))
			return 0;
		if (n < 0 && errno != EINTR)
			return -errno;
	}
}

static bool has_own_reply(uint32_t request)
{
	switch (request) {
	case VU_GET_FEATURES:
	case VU_GET_PROTOCOL_FEATURES:
	case VU_GET_VRING_BASE:
	case VU_GET_QUEUE_NUM:
	case VU_GET_CONFIG:
	case VU_GET_INFLIGHT_FD:
	case VU_GET_MAX_MEM_SLOTS:
		return true;
	default:
		return false;
	}
}

int rig_vu_request(struct rig_vu *vu, uint32_t request, const void *payload,
		   size_t len, const int *fds, unsigned nfds,
		   struct rig_vu_msg *reply)
{
	bool own = has_own_reply(request);
	bool ack = !own && vu->reply_ack;
	uint32_t flags = VU_FLAG_VERSION | (ack ? VU_FLAG_NEED_REPLY : 0);
	struct rig_vu_msg local;
	struct rig_vu_msg *r = reply ? reply : &local;
	int err;

	err = rig_vu_send_raw(vu, request, flags, (uint32_t)len, payload, len,
			      fds, nfds);
	if (err || (!own && !ack))
		return err;
	err = rig_vu_recv(vu, r);
	for (unsigned i = 0; i < r->nfds && r != reply; i++)
		close(r->fds[i]);
	if (err)
		return err;
	if (r->request != request || !(r->flags & VU_FLAG_REPLY) ||
	    (r->flags & 0x3) != VU_FLAG_VERSION)
		return -EPROTO;
	if (ack) {
		if (r->size != sizeof(uint64_t))
			return -EPROTO;
		return r->payload.u64 ? -EIO : 0;
	}
	return 0;
}

int rig_vu_get_u64(struct rig_vu *vu, uint32_t request, uint64_t *out)
{
	struct rig_vu_msg reply;
	int err = rig_vu_request(vu, request, NULL, 0, NULL, 0, &reply);

	if (err)
		return err;
	if (reply.size != sizeof(uint64_t))
		return -EPROTO;
	*out = reply.payload.u64;
	return 0;
}

int rig_vu_set_u64(struct rig_vu *vu, uint32_t request, uint64_t value)
{
	return rig_vu_request(vu, request, &value, sizeof(value), NULL, 0, NULL);
}

int rig_vu_set_features(struct rig_vu *vu, uint64_t features)
{
	int err = rig_vu_set_u64(vu, VU_SET_FEATURES, features);

	if (!err)
		vu->features = features;
	return err;
}

int rig_vu_set_protocol_features(struct rig_vu *vu, uint64_t features)
{
	int err = rig_vu_set_u64(vu, VU_SET_PROTOCOL_FEATURES, features);

	if (!err) {
		vu->protocol_features = features;
		/* Acks apply from the next message on. */
		vu->reply_ack = features & (1ULL << VU_PROTO_F_REPLY_ACK);
	}
	return err;
}

int rig_vu_get_config(struct rig_vu *vu, uint32_t offset, uint32_t size,
		      void *out, uint32_t *got)
{
	struct rig_vu_msg reply;
	uint8_t req[12 + 256] = {0};
	int err;

	if (size > sizeof(req) - 12)
		return -EINVAL;
	memcpy(req, &offset, 4);
	memcpy(req + 4, &size, 4);
	err = rig_vu_request(vu, VU_GET_CONFIG, req, 12 + size, NULL, 0, &reply);
	if (err)
		return err;
	if (reply.size < 12 || reply.payload.config.size != reply.size - 12 ||
	    reply.payload.config.size > size)
		return -EPROTO;
	*got = reply.payload.config.size;
	memcpy(out, reply.payload.config.data, *got);
	return 0;
}

int rig_vu_set_mem_table(struct rig_vu *vu, const struct rig_mem *mem)
{
	uint8_t buf[8 + 32 * RIG_MEM_MAX_REGIONS] = {0};
	int fds[RIG_MEM_MAX_REGIONS];
	uint32_t count = mem->count;

	memcpy(buf, &count, 4);
	for (unsigned i = 0; i < mem->count; i++) {
		const struct rig_mem_region *r = &mem->regions[i];
		uint64_t fields[4] = {r->gpa, r->size, (uint64_t)(uintptr_t)r->ptr,
				      r->file_offset};

		memcpy(buf + 8 + 32 * i, fields, sizeof(fields));
		fds[i] = mem->fd;
	}
	return rig_vu_request(vu, VU_SET_MEM_TABLE, buf, 8 + 32 * mem->count,
			      fds, mem->count, NULL);
}

int rig_vu_set_vring_state(struct rig_vu *vu, uint32_t request, uint32_t index,
			   uint32_t num)
{
	uint32_t state[2] = {index, num};

	return rig_vu_request(vu, request, state, sizeof(state), NULL, 0, NULL);
}

int rig_vu_get_vring_base(struct rig_vu *vu, uint32_t index, uint32_t *num)
{
	uint32_t state[2] = {index, 0};
	struct rig_vu_msg reply;
	int err = rig_vu_request(vu, VU_GET_VRING_BASE, state, sizeof(state),
				 NULL, 0, &reply);

	if (err)
		return err;
	if (reply.size != 8 || reply.payload.state.index != index)
		return -EPROTO;
	*num = reply.payload.state.num;
	return 0;
}

int rig_vu_set_vring_addr(struct rig_vu *vu, uint32_t index, uint64_t desc_uva,
			  uint64_t used_uva, uint64_t avail_uva)
{
	/* index, flags, desc, used, avail, log */
	uint8_t buf[40] = {0};
	uint64_t addrs[3] = {desc_uva, used_uva, avail_uva};

	memcpy(buf, &index, 4);
	memcpy(buf + 8, addrs, sizeof(addrs));
	return rig_vu_request(vu, VU_SET_VRING_ADDR, buf, sizeof(buf), NULL, 0,
			      NULL);
}

int rig_vu_set_vring_fd(struct rig_vu *vu, uint32_t request, uint32_t index,
			int fd)
{
	uint64_t value = index | (fd < 0 ? VU_VRING_NOFD_MASK : 0);

	return rig_vu_request(vu, request, &value, sizeof(value), fd < 0 ? NULL : &fd,
			      fd < 0 ? 0 : 1, NULL);
}
