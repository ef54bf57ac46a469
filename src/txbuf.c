#include "txbuf.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "iov_util.h"

void txbuf_init(struct txbuf *tb, uint32_t cap)
{
	*tb = (struct txbuf){.cap = cap};
}

/* The stored bytes as at most two segments (the ring may wrap). */
static unsigned txbuf_segments(const struct txbuf *tb, struct iovec seg[2])
{
	uint32_t first = tb->cap - tb->head;

	if (first >= tb->len) {
		seg[0] = (struct iovec){tb->data + tb->head, tb->len};
		return 1;
	}
	seg[0] = (struct iovec){tb->data + tb->head, first};
	seg[1] = (struct iovec){tb->data, tb->len - first};
	return 2;
}

int txbuf_push(struct txbuf *tb, const struct iovec *iov, unsigned n)
{
	size_t total = iov_total(iov, n);
	size_t done = 0;
	uint32_t tail;

	if (total > txbuf_space(tb))
		return -ENOBUFS;
	if (total == 0)
		return 0;
	if (!tb->data) {
		tb->data = malloc(tb->cap);
		if (!tb->data)
			return -ENOMEM;
		tb->head = 0;
	}
	tail = (uint32_t)(((uint64_t)tb->head + tb->len) % tb->cap);
	while (done < total) {
		size_t room = tb->cap - tail;
		size_t chunk = total - done < room ? total - done : room;

		iov_to_buf(iov, n, done, tb->data + tail, chunk);
		done += chunk;
		tail = (uint32_t)((tail + chunk) % tb->cap);
	}
	tb->len += (uint32_t)total;
	return 0;
}

ssize_t txbuf_flush(struct txbuf *tb, int fd)
{
	struct iovec seg[2];
	struct msghdr msg = {.msg_iov = seg};
	ssize_t n;

	if (tb->len == 0)
		return 0;
	msg.msg_iovlen = txbuf_segments(tb, seg);
	n = sendmsg(fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
	if (n < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	tb->head = (uint32_t)(((uint64_t)tb->head + (size_t)n) % tb->cap);
	tb->len -= (uint32_t)n;
	if (tb->len == 0)
		txbuf_free(tb);
	return n;
}

void txbuf_free(struct txbuf *tb)
{
	free(tb->data);
	tb->data = NULL;
	tb->head = 0;
	tb->len = 0;
}
