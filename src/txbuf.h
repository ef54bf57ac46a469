/* Per-connection overflow buffer for guest->host data the host socket
 * would not take at once.  The storage grows (doubling) only as far as the
 * data needs and the caller allows, and is freed as soon as it drains, so
 * idle connections cost nothing here and a slow reader costs about what it
 * left unread. */
#ifndef VSOCK_TXBUF_H
#define VSOCK_TXBUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

/* The first allocation, unless the limit is smaller. */
#define TXBUF_MIN_SIZE 4096u

struct txbuf {
	uint8_t *data;   /* NULL while empty */
	uint32_t size;   /* bytes allocated */
	uint32_t head;   /* offset of the oldest byte in data */
	uint32_t len;
};

static inline void txbuf_init(struct txbuf *tb) { *tb = (struct txbuf){0}; }
static inline bool txbuf_empty(const struct txbuf *tb) { return tb->len == 0; }
/* Appends all of iov[0..n), or nothing, growing the storage to at most
 * max_size bytes.  Returns 0, -ENOBUFS when the data does not fit in
 * max_size, -ENOMEM when the storage cannot grow. */
int txbuf_push(struct txbuf *tb, const struct iovec *iov, unsigned n, uint32_t max_size);
/* Sends as much as the socket takes (non-blocking, no SIGPIPE).  Returns
 * the bytes sent (0 if empty) or -errno (-EAGAIN if nothing could be sent). */
ssize_t txbuf_flush(struct txbuf *tb, int fd);
/* Sends the oldest len bytes (len <= tb->len) as one message of a
 * seqpacket socket: all of them or none.  Returns len or -errno (-EAGAIN
 * if the socket has no room now). */
ssize_t txbuf_send_msg(struct txbuf *tb, int fd, uint32_t len);
void txbuf_free(struct txbuf *tb);

#endif
