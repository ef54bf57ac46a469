/* Replies owed to the guest for packets that have no connection (RST to an
 * unknown port, to a refused REQUEST...).  Bounded: when it is full the
 * device stops taking TX packets until the guest frees RX buffers, as
 * Linux vhost-vsock does with queued_replies, so nothing is dropped and
 * nothing grows without limit. */
#ifndef VSOCK_CTRL_QUEUE_H
#define VSOCK_CTRL_QUEUE_H

#include <stdbool.h>

#include "vsock_hdr.h"

#define CTRL_QUEUE_SIZE 64

struct ctrl_queue {
	unsigned head;
	unsigned len;
	struct vsock_hdr hdr[CTRL_QUEUE_SIZE];
};

void ctrl_queue_init(struct ctrl_queue *q);
static inline bool ctrl_queue_full(const struct ctrl_queue *q) { return q->len == CTRL_QUEUE_SIZE; }
static inline bool ctrl_queue_empty(const struct ctrl_queue *q) { return q->len == 0; }
/* Returns false (and queues nothing) when full. */
bool ctrl_queue_push(struct ctrl_queue *q, const struct vsock_hdr *hdr);
/* The oldest entry; the queue must not be empty. */
const struct vsock_hdr *ctrl_queue_peek(const struct ctrl_queue *q);
void ctrl_queue_pop(struct ctrl_queue *q);

#endif
