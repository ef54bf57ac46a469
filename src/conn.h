/* One vsock connection (stream or seqpacket) between the guest and a host
 * socket: its state, its flow-control counters, the replies it owes the
 * guest and its overflow buffer.  Pure bookkeeping: the device does the I/O and decides
 * which fds to watch. */
#ifndef VSOCK_CONN_H
#define VSOCK_CONN_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>

#include <linux/virtio_vsock.h>

#include "ev.h"
#include "fifo_timer.h"
#include "txbuf.h"

struct vsock_device;

enum conn_state {
	CONN_CONNECTING,   /* guest REQUEST: host connect() in progress */
	CONN_REQUESTING,   /* host client: REQUEST sent or queued, awaiting RESPONSE */
	CONN_ESTABLISHED,
	CONN_CLOSING,      /* host side closed; only our RST is left to send */
	CONN_DEAD,         /* retired: freed once the current event batch is over */
};

/* Packets owed to the guest, one bit each so duplicates merge and memory
 * stays bounded however much the guest asks. */
enum conn_pending {
	CONN_PEND_RST = 1u << 0,
	CONN_PEND_REQUEST = 1u << 1,
	CONN_PEND_RESPONSE = 1u << 2,
	CONN_PEND_RW = 1u << 3,
	CONN_PEND_CREDIT_UPDATE = 1u << 4,
};

/* The host end is always VMADDR_CID_HOST: sibling traffic is relayed,
 * not tracked. */
struct conn_key {
	uint32_t local_port;
	uint32_t peer_port;
};

struct conn {
	struct ev_source ev;       /* the host socket */
	struct vsock_device *dev;
	struct conn *hash_next;    /* conn_table chain */
	/* Device FIFO of connections owing the guest a packet, while in_rx_fifo. */
	TAILQ_ENTRY(conn) rx_link;
	/* Device list of connections waiting for more RX buffers, while
	 * rx_waits (a seqpacket message needs more than the guest posted). */
	TAILQ_ENTRY(conn) rx_wait_link;
	/* In the device's FIFO of host-initiated connections awaiting the
	 * guest's answer (device_deadline.c), while queued. */
	struct deadline answer_deadline;
	struct conn_key key;

	uint32_t peer_buf_alloc;   /* from the guest's latest header */
	uint32_t peer_fwd_cnt;
	uint32_t rx_cnt;           /* payload bytes sent to the guest */
	uint32_t fwd_cnt;          /* guest payload bytes written to the host */
	/* The guest may send up to here: fwd_cnt + buf_alloc of the most
	 * generous header we sent (tx_credit.h).  Only moves forward. */
	uint32_t credit_edge;
	uint32_t window;           /* the most it is offered now; 0: not yet */
	uint32_t max_window;       /* the most it may be offered; 0: the pool's */
	uint32_t charged;          /* counted against the device's tx pool */
	uint64_t bytes_g2h;        /* payload bytes written to the host */
	uint64_t bytes_h2g;        /* payload bytes sent to the guest */
	struct txbuf txbuf;             /* of messages for seqpacket */
	/* Seqpacket: the length of the host message waiting in the socket
	 * for the guest's credit (0: none known). */
	uint32_t rx_msg_len;
	uint16_t rx_wait_avail;    /* the RX avail index it waits to move */
	/* Host bytes the backend read along with its handshake (a client's
	 * data right behind its CONNECT line): the guest gets them before
	 * anything read from the socket.  NULL when there are none. */
	char *early;
	uint32_t early_len;

	uint16_t type;             /* VIRTIO_VSOCK_TYPE_STREAM or _SEQPACKET */
	uint8_t state;             /* enum conn_state; device_conn.c sets it */
	uint8_t pending;           /* enum conn_pending bits */
	bool in_rx_fifo;
	bool rx_waits;             /* in the device's rx_waiters */
	bool guest_shut_send;      /* guest SHUTDOWN(SEND): no more data from it */
	bool guest_shut_rcv;       /* guest SHUTDOWN(RCV): send it no more data */
	bool host_eof;             /* host socket read side reached EOF */
	bool host_readable;        /* host socket may hold unread data (its
				    * EPOLLIN is edge-triggered) */
	bool host_rdhup;           /* host socket signalled EOF after its data */
	bool host_shut_wr;         /* shutdown(SHUT_WR) done on the host socket */
};

TAILQ_HEAD(conn_fifo, conn);

void conn_init(struct conn *c, struct vsock_device *dev, const struct conn_key *key, int fd,
	       uint16_t type);
static inline bool conn_is_seqpacket(const struct conn *c)
{
	return c->type == VIRTIO_VSOCK_TYPE_SEQPACKET;
}

/* The next reply to send, by priority: RST (the connection is going away),
 * then REQUEST and RESPONSE (the handshake must precede data), then RW, then
 * CREDIT_UPDATE.  0 if nothing is pending. */
enum conn_pending conn_next_pending(const struct conn *c);

/* Records buf_alloc/fwd_cnt from a guest header. */
void conn_update_peer_credit(struct conn *c, uint32_t buf_alloc, uint32_t fwd_cnt);
/* Bytes the guest can still take from us. */
uint32_t conn_peer_credit(const struct conn *c);
/* Guest payload bytes received: written to the host, or buffered. */
static inline uint32_t conn_received(const struct conn *c)
{
	return c->fwd_cnt + c->txbuf.len;
}
/* Every packet we send carries fwd_cnt and buf_alloc: a pending
 * CREDIT_UPDATE is now redundant. */
void conn_account_sent_header(struct conn *c);

#endif
