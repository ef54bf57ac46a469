/* A connection's receive queue, kept as a Linux guest keeps its socket's
 * skbs: an RX buffer that brought data stays on the queue, out of the
 * ring, until the application has read it, and a spare from the pool is
 * posted in its place, so received bytes are copied once, by rig_recv.
 * Small payloads, and any payload when no spare is left, are copied
 * instead and their buffer goes straight back to the ring, so a slow
 * reader never starves the ring. */
#include "rig_internal.h"

#include <stdlib.h>
#include <string.h>

/* Linux copies payloads up to GOOD_COPY_LEN (128) bytes into the tail of
 * the previous skb rather than keep a whole buffer for them. */
#define RXQ_COPY_MAX 128u

static void append(struct rig_conn *c, struct rig_rx_item *it)
{
	it->next = NULL;
	if (c->rxq_last)
		c->rxq_last->next = it;
	else
		c->rxq_first = it;
	c->rxq_last = it;
}

static void hold(struct rig *rig, struct rig_conn *c, struct rig_rx_buf *b,
		 uint32_t len)
{
	struct rig_rx_item *it = &b->item;

	b->state = RIG_RX_HELD;
	*it = (struct rig_rx_item){
		.buf = b,
		.data = rig_mem_ptr(&rig->mem, b->data_gpa, b->data_len),
		.len = len,
		.cap = b->data_len,
	};
	append(c, it);
	rig->stats.rx_payloads_held++;
}

/* Copies into the last item's tail room, or a new heap item with a
 * buffer's room, so that more small payloads can follow it there. */
static bool copy(struct rig *rig, struct rig_conn *c, const struct rig_rx_buf *b,
		 const uint8_t *payload, uint32_t len)
{
	struct rig_rx_item *it = c->rxq_last;

	if (!it || it->cap - it->len < len) {
		it = malloc(sizeof(*it) + b->data_len);
		if (!it)
			return false;
		*it = (struct rig_rx_item){.data = (uint8_t *)(it + 1),
					   .cap = b->data_len};
		append(c, it);
	}
	memcpy(it->data + it->len, payload, len);
	it->len += len;
	rig->stats.rx_payloads_copied++;
	return true;
}

void rig_rxq_add(struct rig *rig, struct rig_conn *c, struct rig_rx_buf *b,
		 const uint8_t *payload, uint32_t len)
{
	if (len > RXQ_COPY_MAX && rig->n_rx_free > 0)
		hold(rig, c, b, len);
	else if (!copy(rig, c, b, payload, len))
		/* Out of memory: nothing is lost, at worst the ring is one
		 * buffer short until the application reads. */
		hold(rig, c, b, len);
	c->rxq_len += len;
}

static void drop_first(struct rig *rig, struct rig_conn *c)
{
	struct rig_rx_item *it = c->rxq_first;

	c->rxq_first = it->next;
	if (!c->rxq_first)
		c->rxq_last = NULL;
	if (it->buf)
		rig_rx_buf_release(rig, it->buf);
	else
		free(it);
}

void rig_rxq_read(struct rig *rig, struct rig_conn *c, void *buf, uint32_t len)
{
	uint32_t done = 0;

	while (done < len) {
		struct rig_rx_item *it = c->rxq_first;
		uint32_t n = it->len - it->off;

		if (n > len - done)
			n = len - done;
		memcpy((uint8_t *)buf + done, it->data + it->off, n);
		it->off += n;
		done += n;
		if (it->off == it->len)
			drop_first(rig, c);
	}
	c->rxq_len -= len;
}

void rig_rxq_purge(struct rig *rig, struct rig_conn *c)
{
	while (c->rxq_first)
		drop_first(rig, c);
	c->rxq_len = 0;
}
