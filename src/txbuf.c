#include "txbuf.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "iov_util.h"

/* The stored bytes as at most two segments (the ring may wrap). */
static unsigned txbuf_segments(const struct txbuf *tb, struct iovec seg[2])
{
	uint32_t first = tb->size - tb->head;

	if (first >= tb->len) {
		seg[0] = (struct iovec){tb->data + tb->head, tb->len};
		return 1;
	}
	seg[0] = (struct iovec){tb->data + tb->head, first};
	seg[1] = (struct iovec){tb->data, tb->len - first};
	return 2;
}

static bool end_bit(const uint8_t *ends, uint32_t pos)
{
	return ends[pos / 8] & (1u << (pos % 8));
}

static void set_end_bit(uint8_t *ends, uint32_t pos, bool end)
{
	if (end)
		ends[pos / 8] |= (uint8_t)(1u << (pos % 8));
	else
		ends[pos / 8] &= (uint8_t)~(1u << (pos % 8));
}

/* Where the i-th stored byte is. */
static uint32_t ring_pos(const struct txbuf *tb, uint32_t i)
{
	return (uint32_t)(((uint64_t)tb->head + i) % tb->size);
}

/* Moves the bytes (and their message ends) into a larger buffer, oldest
 * first. */
static int grow(struct txbuf *tb, uint32_t need, uint32_t max_size)
{
	uint64_t size = tb->size ? 2 * (uint64_t)tb->size : TXBUF_MIN_SIZE;
	struct iovec seg[2];
	uint8_t *data, *ends = NULL;

	if (size < need)
		size = need;
	if (size > max_size)
		size = max_size;
	data = malloc(size);
	if (tb->messages)
		ends = calloc((size + 7) / 8, 1);
	if (!data || (tb->messages && !ends)) {
		free(data);
		free(ends);
		return -ENOMEM;
	}
	if (tb->len)
		iov_to_buf(seg, txbuf_segments(tb, seg), 0, data, tb->len);
	for (uint32_t i = 0; ends && i < tb->len; i++)
		set_end_bit(ends, i, end_bit(tb->ends, ring_pos(tb, i)));
	free(tb->data);
	free(tb->ends);
	tb->data = data;
	tb->ends = ends;
	tb->size = (uint32_t)size;
	tb->head = 0;
	return 0;
}

int txbuf_push(struct txbuf *tb, const struct iovec *iov, unsigned n, uint32_t max_size)
{
	size_t total = iov_total(iov, n);
	size_t done = 0;
	uint32_t tail;

	if (total > max_size || tb->len > max_size - total)
		return -ENOBUFS;
	if (total == 0)
		return 0;
	if (tb->len + total > tb->size) {
		int rc = grow(tb, (uint32_t)(tb->len + total), max_size);

		if (rc < 0)
			return rc;
	}
	tail = ring_pos(tb, tb->len);
	for (uint32_t i = 0; tb->ends && i < total; i++)
		set_end_bit(tb->ends, ring_pos(tb, tb->len + i), false);
	while (done < total) {
		size_t room = tb->size - tail;
		size_t chunk = total - done < room ? total - done : room;

		iov_to_buf(iov, n, done, tb->data + tail, chunk);
		done += chunk;
		tail = (uint32_t)((tail + chunk) % tb->size);
	}
	tb->len += (uint32_t)total;
	if (tb->messages)
		tb->open += (uint32_t)total;
	return 0;
}

bool txbuf_end_message(struct txbuf *tb)
{
	if (!tb->messages || tb->open == 0)
		return false;
	set_end_bit(tb->ends, ring_pos(tb, tb->len - 1), true);
	tb->open = 0;
	tb->msgs++;
	return true;
}

/* Drained: the memory goes. */
static void release_storage(struct txbuf *tb)
{
	free(tb->data);
	free(tb->ends);
	tb->data = tb->ends = NULL;
	tb->size = tb->head = 0;
}

/* Sends what seg[0..n) holds of the oldest bytes, and drops what went. */
static ssize_t send_oldest(struct txbuf *tb, int fd, struct iovec *seg, unsigned n)
{
	struct msghdr msg = {.msg_iov = seg, .msg_iovlen = n};
	ssize_t sent = sendmsg(fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);

	if (sent < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	tb->head = ring_pos(tb, (uint32_t)sent);
	tb->len -= (uint32_t)sent;
	if (tb->len == 0)
		release_storage(tb);
	return sent;
}

ssize_t txbuf_flush(struct txbuf *tb, int fd)
{
	struct iovec seg[2];

	if (tb->len == 0)
		return 0;
	return send_oldest(tb, fd, seg, txbuf_segments(tb, seg));
}

uint32_t txbuf_msg_len(const struct txbuf *tb)
{
	uint32_t len = 1;

	while (!end_bit(tb->ends, ring_pos(tb, len - 1)))
		len++;
	return len;
}

ssize_t txbuf_send_msg(struct txbuf *tb, int fd)
{
	struct iovec seg[2];
	unsigned n = txbuf_segments(tb, seg);
	uint32_t len = txbuf_msg_len(tb);
	ssize_t sent;

	if (seg[0].iov_len >= len) {
		seg[0].iov_len = len;
		n = 1;
	} else {
		seg[1].iov_len = len - seg[0].iov_len;
	}
	sent = send_oldest(tb, fd, seg, n);
	if (sent >= 0)
		tb->msgs--;
	return sent;
}

void txbuf_free(struct txbuf *tb)
{
	release_storage(tb);
	txbuf_init(tb, tb->messages);
}
