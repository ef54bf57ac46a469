/* Pieces shared by the rig's source files; not part of the rig's API. */
#ifndef RIG_INTERNAL_H
#define RIG_INTERNAL_H

#include "rig.h"

/* Where a TX slot keeps the header, so that header and payload are
 * contiguous for RIG_TX_LINEAR. */
#define RIG_SLOT_PAYLOAD_OFF 64u
#define RIG_SLOT_HDR_OFF (RIG_SLOT_PAYLOAD_OFF - RIG_HDR_SIZE)

struct rig_rx_buf {
	uint64_t hdr_gpa;   /* RIG_HDR_SIZE bytes */
	uint64_t data_gpa;  /* data_len bytes; right after the header if linear */
	uint32_t data_len;
	bool posted;
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
/* Posts every RX buffer not currently on the ring. */
void rig_refill_rx(struct rig *rig);
/* Frees the buffers' bookkeeping after the rings were zeroed. */
void rig_forget_buffers(struct rig *rig);

/* rig_sock.c: acts on one packet from the device. */
void rig_dispatch(struct rig *rig, const struct rig_hdr *h,
		  const uint8_t *payload);
/* rig_sock.c: frees every connection and listener. */
void rig_drop_connections(struct rig *rig);

#endif
