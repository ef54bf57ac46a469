/* Per-connection overflow buffer for guest->host data the host socket
 * would not take at once.  The storage grows (doubling) only as far as the
 * data needs and the caller allows, and is freed as soon as it drains, so
 * idle connections cost nothing here and a slow reader costs about what it
 * left unread.
 *
 * For a seqpacket connection it also knows where the guest's messages end:
 * one bit per stored byte, set on each message's last byte (an eighth more
 * memory, whatever the sizes of the messages), so that they leave one
 * message per send. */
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
	uint8_t *ends;   /* messages: a bit per byte of data, set where one ends */
	uint32_t size;   /* bytes allocated */
	uint32_t head;   /* offset of the oldest byte in data */
	uint32_t len;
	uint32_t msgs;   /* messages: complete ones stored */
	uint32_t open;   /* messages: bytes of the one still arriving */
	bool messages;   /* keeps message ends (seqpacket) */
};

/* An empty buffer of bytes (a stream), or of messages. */
static inline void txbuf_init(struct txbuf *tb, bool messages)
{
	*tb = (struct txbuf){.messages = messages};
}
static inline bool txbuf_empty(const struct txbuf *tb) { return tb->len == 0; }
/* Appends all of iov[0..n), or nothing, growing the storage to at most
 * max_size bytes.  Returns 0, -ENOBUFS when the data does not fit in
 * max_size, -ENOMEM when the storage cannot grow. */
int txbuf_push(struct txbuf *tb, const struct iovec *iov, unsigned n, uint32_t max_size);
/* Messages: the bytes pushed since the last end are a complete message.
 * False (nothing done) when there are none. */
bool txbuf_end_message(struct txbuf *tb);
/* The memory the buffer holds. */
static inline uint32_t txbuf_bytes(const struct txbuf *tb)
{
	return tb->size + (tb->ends ? (tb->size + 7) / 8 : 0);
}
/* Sends as much as the socket takes (non-blocking, no SIGPIPE).  Returns
 * the bytes sent (0 if empty) or -errno (-EAGAIN if nothing could be sent). */
ssize_t txbuf_flush(struct txbuf *tb, int fd);
/* Messages: the length of the oldest complete message (msgs > 0). */
uint32_t txbuf_msg_len(const struct txbuf *tb);
/* Messages: sends the oldest complete message (msgs > 0) as one message of
 * a seqpacket socket, all of it or nothing.  Returns its length or -errno
 * (-EAGAIN if the socket has no room now). */
ssize_t txbuf_send_msg(struct txbuf *tb, int fd);
/* Frees the storage; the buffer stays one of bytes or of messages. */
void txbuf_free(struct txbuf *tb);

#endif
