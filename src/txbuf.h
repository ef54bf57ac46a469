/* Per-connection overflow buffer for guest->host data the host socket
 * would not take at once.  The storage is allocated on first use and freed
 * as soon as it drains, so idle connections cost nothing here. */
#ifndef VSOCK_TXBUF_H
#define VSOCK_TXBUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

struct txbuf {
	uint8_t *data;   /* NULL while empty */
	uint32_t cap;
	uint32_t head;   /* offset of the oldest byte in data */
	uint32_t len;
};

void txbuf_init(struct txbuf *tb, uint32_t cap);
static inline bool txbuf_empty(const struct txbuf *tb) { return tb->len == 0; }
static inline uint32_t txbuf_space(const struct txbuf *tb) { return tb->cap - tb->len; }
/* Appends all of iov[0..n), or nothing: returns 0, -ENOBUFS when it does
 * not fit, -ENOMEM when the storage cannot be allocated. */
int txbuf_push(struct txbuf *tb, const struct iovec *iov, unsigned n);
/* Sends as much as the socket takes (non-blocking, no SIGPIPE).  Returns
 * the bytes sent (0 if empty) or -errno (-EAGAIN if nothing could be sent). */
ssize_t txbuf_flush(struct txbuf *tb, int fd);
void txbuf_free(struct txbuf *tb);

#endif
