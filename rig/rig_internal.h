/* Pieces shared by the rig's source files; not part of the rig's API. */
#ifndef RIG_INTERNAL_H
#define RIG_INTERNAL_H

#include "rig.h"

/* Where a TX slot keeps the header, so that header and payload are
 * contiguous for RIG_TX_LINEAR. */
#define RIG_SLOT_PAYLOAD_OFF 64u
#define RIG_SLOT_HDR_OFF (RIG_SLOT_PAYLOAD_OFF - RIG_HDR_SIZE)

/* Received bytes on a connection's receive queue: the RX buffer they came
 * in, kept off the ring until read (buf set, data in guest RAM), or a heap
 * copy (buf NULL, data right after this struct). */
struct rig_rx_item {
	struct rig_rx_item *next;
	struct rig_rx_buf *buf;
	uint8_t *data;
	uint32_t len;  /* bytes stored */
	uint32_t off;  /* of which the application has read */
	uint32_t cap;  /* room at data: len < cap leaves tail room */
};

enum rig_rx_buf_state {
	RIG_RX_FREE,   /* in the pool (rig->rx_free) */
	RIG_RX_POSTED, /* on the ring, the device's */
	RIG_RX_USED,   /* returned by the device, being delivered */
	RIG_RX_HELD,   /* its payload is queued on a connection (item) */
};

struct rig_rx_buf {
	uint64_t hdr_gpa;   /* RIG_HDR_SIZE bytes */
	uint64_t data_gpa;  /* data_len bytes; right after the header if linear */
	uint32_t data_len;
	enum rig_rx_buf_state state;
	struct rig_rx_item item; /* while HELD */
};

struct rig_tx_slot {
	uint64_t gpa;
};

/* Cookie of adversary chains. */
extern char rig_raw_cookie;
#define RIG_RAW ((void *)&rig_raw_cookie)

void rig_violation(struct rig *rig, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Puts one packet on the TX ring.  Returns 0 or -EAGAIN (no slot or not
 * enough descriptors now). */
int rig_xmit(struct rig *rig, const struct rig_hdr *h, const void *payload,
	     size_t len);
/* Sends a payload-less packet, queueing it if the ring is full. */
void rig_send_ctrl(struct rig *rig, const struct rig_hdr *h);
/* Posts pool buffers until opts.rx_bufs are on the ring (or it is full). */
void rig_refill_rx(struct rig *rig);
/* Puts a buffer back in the pool; the next refill posts it. */
void rig_rx_buf_release(struct rig *rig, struct rig_rx_buf *b);
/* Frees the buffers' bookkeeping after the rings were zeroed.  Buffers
 * held by connections stay held (still readable); the rest go to the pool. */
void rig_forget_buffers(struct rig *rig);

/* rig_sock.c: acts on one packet from the device, which came in RX buffer
 * b (payload points into it); an RW payload may keep b (RIG_RX_HELD). */
void rig_dispatch(struct rig *rig, const struct rig_hdr *h,
		  const uint8_t *payload, struct rig_rx_buf *b);
/* rig_sock.c: frees every connection and listener. */
void rig_drop_connections(struct rig *rig);

/* rig_rxq.c: a connection's receive queue (c->rxq_first..rxq_last). */
/* Queues len > 0 payload bytes that came in b: keeps b when a spare buffer
 * can take its place on the ring, else copies them. */
void rig_rxq_add(struct rig *rig, struct rig_conn *c, struct rig_rx_buf *b,
		 const uint8_t *payload, uint32_t len);
/* Moves the first len queued bytes (len <= c->rxq_len) to buf. */
void rig_rxq_read(struct rig *rig, struct rig_conn *c, void *buf, uint32_t len);
/* Drops everything queued, giving held buffers back to the pool. */
void rig_rxq_purge(struct rig *rig, struct rig_conn *c);

#endif
