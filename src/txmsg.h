/* Where the guest messages of a seqpacket connection end, while their bytes
 * wait in the connection's txbuf for the host socket: the lengths of the
 * complete messages, oldest first, and how much of the next one has
 * arrived.  A complete message holds at least one byte (empty ones are not
 * kept), so there are never more lengths than buffered bytes; the lengths
 * live in a ring that grows by doubling and is freed when it empties. */
#ifndef VSOCK_TXMSG_H
#define VSOCK_TXMSG_H

#include <stddef.h>
#include <stdint.h>

struct txmsg {
	uint32_t *len;  /* NULL while no message is complete */
	uint32_t size;  /* entries allocated */
	uint32_t head;
	uint32_t count; /* complete messages */
	uint32_t open;  /* bytes of the message still arriving */
};

static inline void txmsg_init(struct txmsg *q) { *q = (struct txmsg){0}; }
/* Appends a complete message's length.  Returns 0 or -ENOMEM. */
int txmsg_push(struct txmsg *q, uint32_t len);
/* The oldest complete message's length; count must be > 0. */
static inline uint32_t txmsg_first(const struct txmsg *q) { return q->len[q->head]; }
void txmsg_pop(struct txmsg *q);
/* The memory the lengths take. */
static inline size_t txmsg_bytes(const struct txmsg *q) { return q->size * sizeof(q->len[0]); }
void txmsg_free(struct txmsg *q);

#endif
