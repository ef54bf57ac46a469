/* One sibling mailbox: a byte ring holding whole packets (a small record
 * head, then the payload), bounded in bytes and in packets.  Not thread-safe:
 * router.c serializes access with the port's mutex. */
#ifndef VSOCK_ROUTER_MAILBOX_H
#define VSOCK_ROUTER_MAILBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "router.h"

struct mailbox {
	uint8_t *buf;
	size_t cap;          /* bytes in buf */
	size_t head;         /* offset of the oldest record */
	size_t used;         /* bytes of all records */
	unsigned packets;
	unsigned max_packets;
	size_t front_done;   /* payload bytes of the oldest record consumed */
};

/* Ring bytes one packet with this much payload takes. */
size_t mailbox_record_size(size_t payload_len);

int mailbox_init(struct mailbox *mb, size_t cap, unsigned max_packets);
void mailbox_fini(struct mailbox *mb);

bool mailbox_fits(const struct mailbox *mb, size_t payload_len);
/* Copies the packet in; the caller checked mailbox_fits(). */
void mailbox_push(struct mailbox *mb, const struct vsock_hdr *hdr,
		  const struct iovec *payload, size_t iovcnt, size_t payload_len);
bool mailbox_peek(const struct mailbox *mb, struct router_msg *msg);
/* Returns true when the oldest packet left the mailbox. */
bool mailbox_consume(struct mailbox *mb, size_t n);
/* At most half full in bytes and in packets: time to wake refused senders. */
bool mailbox_below_low_water(const struct mailbox *mb);

#endif
