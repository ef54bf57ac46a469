#include "router_mailbox.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct record_head {
	uint32_t payload_len;
	struct vsock_hdr hdr;
};

size_t mailbox_record_size(size_t payload_len)
{
	return sizeof(struct record_head) + payload_len;
}

int mailbox_init(struct mailbox *mb, size_t cap, unsigned max_packets)
{
	memset(mb, 0, sizeof(*mb));
	mb->buf = malloc(cap);
	if (!mb->buf)
		return -ENOMEM;
	mb->cap = cap;
	mb->max_packets = max_packets;
	return 0;
}

void mailbox_fini(struct mailbox *mb)
{
	free(mb->buf);
	memset(mb, 0, sizeof(*mb));
}

static size_t wrap(const struct mailbox *mb, size_t pos)
{
	return pos >= mb->cap ? pos - mb->cap : pos;
}

/* Copies len bytes into the ring at pos (< cap), wrapping at the end. */
static void write_at(struct mailbox *mb, size_t pos, const void *src, size_t len)
{
	size_t first = mb->cap - pos < len ? mb->cap - pos : len;

	memcpy(mb->buf + pos, src, first);
	memcpy(mb->buf, (const uint8_t *)src + first, len - first);
}

static void read_at(const struct mailbox *mb, size_t pos, void *dst, size_t len)
{
	size_t first = mb->cap - pos < len ? mb->cap - pos : len;

	memcpy(dst, mb->buf + pos, first);
	memcpy((uint8_t *)dst + first, mb->buf, len - first);
}

bool mailbox_fits(const struct mailbox *mb, size_t payload_len)
{
	return mb->packets < mb->max_packets &&
	       mailbox_record_size(payload_len) <= mb->cap - mb->used;
}

void mailbox_push(struct mailbox *mb, const struct vsock_hdr *hdr,
		  const struct iovec *payload, size_t iovcnt, size_t payload_len)
{
	struct record_head head = {.payload_len = (uint32_t)payload_len, .hdr = *hdr};
	size_t pos = wrap(mb, mb->head + mb->used);

	write_at(mb, pos, &head, sizeof(head));
	pos = wrap(mb, pos + sizeof(head));
	for (size_t i = 0; i < iovcnt; i++) {
		if (payload[i].iov_len == 0)
			continue;
		write_at(mb, pos, payload[i].iov_base, payload[i].iov_len);
		pos = wrap(mb, pos + payload[i].iov_len);
	}
	mb->used += mailbox_record_size(payload_len);
	mb->packets++;
}

bool mailbox_peek(const struct mailbox *mb, struct router_msg *msg)
{
	struct record_head head;
	size_t pos, first;

	if (mb->packets == 0)
		return false;
	read_at(mb, mb->head, &head, sizeof(head));
	msg->hdr = head.hdr;
	msg->remaining = head.payload_len - mb->front_done;
	pos = wrap(mb, mb->head + sizeof(head) + mb->front_done);
	first = mb->cap - pos < msg->remaining ? mb->cap - pos : msg->remaining;
	msg->payload[0] = (struct iovec){mb->buf + pos, first};
	msg->payload[1] = (struct iovec){mb->buf, msg->remaining - first};
	return true;
}

bool mailbox_consume(struct mailbox *mb, size_t n)
{
	struct record_head head;

	if (mb->packets == 0)
		return false;
	read_at(mb, mb->head, &head, sizeof(head));
	mb->front_done += n;
	if (mb->front_done < head.payload_len)
		return false;
	mb->head = wrap(mb, mb->head + mailbox_record_size(head.payload_len));
	mb->used -= mailbox_record_size(head.payload_len);
	mb->packets--;
	mb->front_done = 0;
	if (mb->packets == 0)
		mb->head = 0; /* keep the next packets contiguous */
	return true;
}

bool mailbox_below_low_water(const struct mailbox *mb)
{
	return mb->used <= mb->cap / 2 && mb->packets <= mb->max_packets / 2;
}
