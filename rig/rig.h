/* The guest rig: one object that plays both the VMM (a vhost-user front-end
 * with guest RAM in a memfd) and the guest's virtio-vsock driver, against a
 * real back-end over its socket.  Written from the specs (vhost-user.rst,
 * virtio 1.x split rings and socket device, Linux's virtio_transport_common
 * behaviour), independently of the daemon, so it can catch its mistakes.
 *
 * Single-threaded: nothing happens unless the caller runs rig_poll() (the
 * blocking calls below run it for you).  The driver checks the device as it
 * goes; every protocol breach is counted in rig->stats.violations with the
 * last one described in rig->last_violation.
 *
 * Typical use:
 *	struct rig_opts o;
 *	struct rig *rig;
 *	rig_opts_default(&o);
 *	o.socket_path = "/tmp/vhost3.socket";
 *	if (rig_open(&rig, &o) == 0) {
 *		struct rig_conn *c;
 *		if (rig_connect(rig, 2, 5000, 5000, &c) == 0)
 *			rig_send_all(rig, c, "hi", 2, 5000);
 *		rig_destroy(rig);
 *	}
 */
#ifndef RIG_H
#define RIG_H

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "rig_mem.h"
#include "rig_ring.h"
#include "rig_vu.h"

#define RIG_HDR_SIZE 44u
#define RIG_HOST_CID 2u
#define RIG_MAX_PKT_PAYLOAD 65536u
/* Enough for 16 connections' 256 KiB of unread data in 4 KiB buffers
 * (about 3.9 KiB of payload each), with room for part-filled ones. */
#define RIG_RX_SPARE_BUFS 1152u

enum rig_rx_layout {
	RIG_RX_LINEAR, /* one descriptor: header then payload (Linux >= 6.2) */
	RIG_RX_SPLIT,  /* a 44-byte header descriptor, then a payload one */
};

enum rig_tx_layout {
	RIG_TX_FRAGS,  /* header descriptor, payload in tx_frag_size pieces
			  (Linux >= 6.17 nonlinear skbs) */
	RIG_TX_LINEAR, /* header and payload in one descriptor */
	RIG_TX_SPLIT,  /* header descriptor plus one payload descriptor */
};

struct rig_opts {
	const char *socket_path;
	uint16_t queue_size;        /* ring size, power of two (QEMU: 128) */
	bool event_idx;             /* negotiate VIRTIO_RING_F_EVENT_IDX */
	bool indirect;              /* post chains through indirect tables */
	enum rig_rx_layout rx_layout;
	uint32_t rx_buf_size;       /* bytes per RX chain, header included */
	unsigned rx_bufs;           /* RX chains kept posted (<= queue_size) */
	unsigned rx_spare_bufs;     /* more RX buffers, to stand in on the ring
				       for those holding unread data */
	enum rig_tx_layout tx_layout;
	uint32_t tx_frag_size;
	uint32_t max_pkt_payload;   /* largest RW payload sent (<= 64 KiB) */
	unsigned tx_slots;          /* TX packets in flight at most */
	uint32_t buf_alloc;         /* receive buffer per connection */
	int timeout_ms;             /* vhost-user replies */
	unsigned mem_regions;
	size_t region_size;
	bool quiet;                 /* do not print violations on stderr */
	bool strays_unanswered;     /* no RST for stray packets: the test answers */
};

/* Fills *o with a Linux-like guest: queue 128, EVENT_IDX, 4 KiB linear RX
 * buffers (and RIG_RX_SPARE_BUFS spares), 64 KiB TX packets in 4 KiB
 * fragments, 256 KiB buf_alloc. */
void rig_opts_default(struct rig_opts *o);

/* A vsock packet header in host byte order. */
struct rig_hdr {
	uint64_t src_cid, dst_cid;
	uint32_t src_port, dst_port;
	uint32_t len;
	uint16_t type, op;
	uint32_t flags;
	uint32_t buf_alloc, fwd_cnt;
};

void rig_hdr_encode(const struct rig_hdr *h, void *wire44);
void rig_hdr_decode(const void *wire44, struct rig_hdr *h);

enum rig_conn_state {
	RIG_CONN_CONNECTING, /* REQUEST sent, waiting for RESPONSE */
	RIG_CONN_CONNECTED,
	RIG_CONN_CLOSING,    /* closed by us, waiting for the peer's RST */
	RIG_CONN_CLOSED,     /* over; the handle stays valid until rig_close */
};

struct rig_conn {
	uint64_t peer_cid;
	uint32_t peer_port, local_port;
	enum rig_conn_state state;
	int error;              /* -ECONNRESET once reset or refused */
	uint32_t peer_shutdown; /* VIRTIO_VSOCK_SHUTDOWN_* received */
	uint32_t our_shutdown;  /* VIRTIO_VSOCK_SHUTDOWN_* sent */
	bool app_owned;         /* accepted or connected, not yet closed */

	/* Credit, virtio 1.x §5.10.6.3, u32 arithmetic wraps. */
	uint32_t buf_alloc;      /* ours */
	uint32_t fwd_cnt;        /* bytes the application consumed */
	uint32_t last_fwd_cnt;   /* fwd_cnt last told to the peer */
	uint32_t peer_buf_alloc;
	uint32_t peer_fwd_cnt;
	uint32_t tx_cnt;         /* payload bytes sent */

	/* Received, unread bytes, oldest first: RX buffers kept off the ring
	 * until read, as Linux queues skbs, and copies of small payloads. */
	struct rig_rx_item *rxq_first, *rxq_last;
	uint32_t rxq_len;        /* unread bytes in all of them */

	uint64_t bytes_in, bytes_out;
	uint64_t credit_requests_received, credit_updates_received;

	struct rig_conn *hnext;          /* hash chain */
	struct rig_conn *prev, *next;    /* list of all connections */
	struct rig_conn *accept_next;    /* accept queue */
	bool in_accept_queue;
};

struct rig_stats {
	uint64_t rx_pkts, tx_pkts;
	uint64_t rx_bytes, tx_bytes;
	uint64_t violations;        /* the device broke the protocol */
	uint64_t credit_violations; /* of which: data beyond our credit */
	uint64_t rsts_sent, rsts_received;
	uint64_t rx_buffers_returned_empty; /* RX chains used with length 0 */
	uint64_t rx_payloads_held;   /* RW payloads left in their RX buffer */
	uint64_t rx_payloads_copied; /* small ones, or no spare buffer free */
};

/* A packet that matched no connection or listener (kept for tests). */
struct rig_stray {
	struct rig_hdr hdr;
};
#define RIG_STRAY_MAX 256

struct rig_rx_buf;
struct rig_rx_item;
struct rig_tx_slot;

#define RIG_HASH_BUCKETS 4096
#define RIG_PENDING_MAX 4096
#define RIG_MAX_LISTEN 64

struct rig {
	struct rig_opts opts;
	struct rig_mem mem;
	struct rig_vu vu;
	struct rig_ring rxq, txq;
	uint64_t cid;                /* from GET_CONFIG */
	uint64_t device_features;    /* offered by the back-end */
	uint64_t device_protocol_features;
	uint64_t queue_num;          /* GET_QUEUE_NUM */
	bool device_started;         /* rings set up and enabled */
	bool disconnected;           /* the back-end closed the socket */

	/* RX buffers: each is posted, held by a connection, or in the pool
	 * (a stack, so a refill costs what it posts). */
	struct rig_rx_buf *rx_bufs;
	unsigned n_rx_bufs;          /* opts.rx_bufs + opts.rx_spare_bufs */
	struct rig_rx_buf **rx_free;
	unsigned n_rx_free, n_rx_posted;
	struct rig_tx_slot *tx_slots;
	struct rig_tx_slot **tx_free;
	unsigned n_tx_slots, n_tx_free;

	/* Control packets waiting for a TX slot, sent before any data. */
	struct rig_hdr *pending;
	unsigned pending_head, pending_len;

	struct rig_conn *buckets[RIG_HASH_BUCKETS];
	struct rig_conn *all;
	unsigned n_conns;
	struct rig_conn *accept_head, *accept_tail;
	uint32_t listen_ports[RIG_MAX_LISTEN];
	unsigned n_listen;
	uint32_t next_local_port;

	struct rig_stray strays[RIG_STRAY_MAX];
	unsigned stray_head, stray_len;

	/* Adversary chains (cookie RIG_RAW) returned by the device. */
	uint8_t *raw_done[2];        /* per ring, per head */
	uint32_t *raw_len[2];

	/* Called for every packet the device delivers, before the driver acts
	 * on it; payload points into guest RAM (hdr->len bytes). */
	void (*on_packet)(void *arg, const struct rig_hdr *hdr,
			  const void *payload);
	void *on_packet_arg;

	bool rx_frozen;              /* adversary: takes no more RX packets */

	struct rig_stats stats;
	char last_violation[256];
};

/* ---- Life cycle (the VMM's part) ---------------------------------------- */

/* rig_create + rig_handshake + rig_start. */
int rig_open(struct rig **out, const struct rig_opts *o);
/* Allocates guest RAM, rings and buffers; connects to nothing. */
int rig_create(struct rig **out, const struct rig_opts *o);
/* Connects and does what QEMU does at realize: GET_FEATURES,
 * GET/SET_PROTOCOL_FEATURES, GET_QUEUE_NUM, SET_OWNER, GET_CONFIG. */
int rig_handshake(struct rig *rig);
/* What QEMU does at DRIVER_OK: SET_FEATURES, SET_MEM_TABLE, rings 0 and 1
 * (NUM, BASE, ADDR, KICK, CALL), SET_VRING_ENABLE; then posts RX buffers. */
int rig_start(struct rig *rig);
/* Sets up one ring (SET_VRING_NUM/BASE/ADDR/KICK/CALL), no enable. */
int rig_setup_ring(struct rig *rig, unsigned index);
/* Guest reset: GET_VRING_BASE on both rings.  Connections stay as they are
 * (rig_reboot drops them). */
int rig_stop(struct rig *rig);
/* Guest reboot: rig_stop, forget every connection (handles become
 * invalid), zero the rings and rig_start again with base 0. */
int rig_reboot(struct rig *rig);
/* VMM restart: close the socket, forget every connection (handles become
 * invalid), zero the rings, then rig_handshake and rig_start. */
int rig_reconnect(struct rig *rig);
/* Closes the socket and frees everything. */
void rig_destroy(struct rig *rig);

/* ---- Event loop ----------------------------------------------------------- */

/* Processes what the device returned, refills RX, flushes control packets,
 * kicks; then waits up to timeout_ms for the device or for one of the extra
 * fds.  Returns how many extra fds have events (their revents set), 0 on
 * timeout or device progress, or -ENOTCONN once the back-end has gone. */
int rig_poll(struct rig *rig, struct pollfd *extra, unsigned n_extra,
	     int timeout_ms);
/* Runs rig_poll until cond(arg) is true; returns 0, -ETIMEDOUT or
 * -ENOTCONN.  The condition is checked first. */
int rig_wait(struct rig *rig, bool (*cond)(struct rig *rig, void *arg),
	     void *arg, int timeout_ms);

/* Runs rig_poll (or, with rig NULL, a plain poll) until fd has one of
 * events; returns 0, -ETIMEDOUT at the deadline (rig_now_ms() time) or
 * -errno / -ENOTCONN. */
int rig_wait_fd(struct rig *rig, int fd, short events, int64_t deadline);

/* Monotonic milliseconds, and what is left of a deadline (>= 0). */
int64_t rig_now_ms(void);
int rig_left_ms(int64_t deadline);

/* ---- Sockets (the guest application's part) ------------------------------ */

int rig_listen(struct rig *rig, uint32_t port);
void rig_unlisten(struct rig *rig, uint32_t port);
/* Waits for a connection to port (0 = any listened port). */
int rig_accept(struct rig *rig, uint32_t port, int timeout_ms,
	       struct rig_conn **out);
/* Sends REQUEST and waits for RESPONSE.  Returns 0, -ECONNRESET (refused),
 * -ETIMEDOUT or -ENOTCONN. */
int rig_connect(struct rig *rig, uint64_t cid, uint32_t port, int timeout_ms,
		struct rig_conn **out);
/* Starts a connection without waiting (state CONNECTING). */
int rig_connect_start(struct rig *rig, uint64_t cid, uint32_t port,
		      struct rig_conn **out);

/* Queues as much as credit and TX slots allow, now.  Returns bytes queued
 * (0 = try after rig_poll) or -EPIPE / -ECONNRESET / -ENOTCONN. */
ssize_t rig_send(struct rig *rig, struct rig_conn *c, const void *buf,
		 size_t len);
/* Sends everything, running the loop while waiting for credit.  Returns 0
 * or -errno (-ETIMEDOUT if it could not finish). */
int rig_send_all(struct rig *rig, struct rig_conn *c, const void *buf,
		 size_t len, int timeout_ms);
/* Takes up to len received bytes now, straight from the RX buffers they
 * came in (one copy, as in Linux); buffers read to the end go back to the
 * pool.  Returns the count, 0 at end of stream (peer sent SHUTDOWN(SEND)
 * or the connection ended), -EAGAIN when nothing is there yet, or
 * -ECONNRESET when reset with nothing left. */
ssize_t rig_recv(struct rig *rig, struct rig_conn *c, void *buf, size_t len);
/* Waits for data like recv(2) on a blocking socket. */
ssize_t rig_recv_wait(struct rig *rig, struct rig_conn *c, void *buf,
		      size_t len, int timeout_ms);
/* Unread bytes. */
static inline uint32_t rig_conn_readable(const struct rig_conn *c)
{
	return c->rxq_len;
}
/* Bytes we may send now under the peer's credit. */
uint32_t rig_conn_credit(const struct rig_conn *c);

/* Sends SHUTDOWN with flags (VIRTIO_VSOCK_SHUTDOWN_RCV / _SEND). */
int rig_shutdown(struct rig *rig, struct rig_conn *c, uint32_t flags);
/* close(2): SHUTDOWN(RCV|SEND), or RST if the peer already shut down both
 * ways; the connection lingers (CLOSING) until the peer's RST.  The handle
 * is invalid afterwards. */
void rig_close(struct rig *rig, struct rig_conn *c);
/* close(2) that waits for the peer's RST.  Returns 0 or -ETIMEDOUT. */
int rig_close_wait(struct rig *rig, struct rig_conn *c, int timeout_ms);
/* Aborts with RST; the handle is invalid afterwards. */
void rig_abort(struct rig *rig, struct rig_conn *c);
/* Sends CREDIT_REQUEST / CREDIT_UPDATE on c. */
int rig_credit_request(struct rig *rig, struct rig_conn *c);
int rig_credit_update(struct rig *rig, struct rig_conn *c);

/* ---- Adversary ----------------------------------------------------------- */

/* Sends a packet with this exact header (len field included, whatever
 * payload_len is) in the configured TX layout.  Returns 0 or -EAGAIN (no
 * TX slot free now). */
int rig_send_pkt(struct rig *rig, const struct rig_hdr *h, const void *payload,
		 size_t payload_len);
/* Posts raw descriptors on ring 0 (RX) or 1 (TX) (see rig_ring_add_raw) and
 * kicks.  Returns the head or -errno. */
int rig_post_raw(struct rig *rig, unsigned ring, const struct vring_desc *descs,
		 unsigned n);
/* Waits until the device returns raw chain head of ring; *len = used len. */
int rig_wait_raw(struct rig *rig, unsigned ring, int head, uint32_t *len,
		 int timeout_ms);
/* Stops (or resumes) reading and posting RX buffers, as a guest whose
 * driver no longer drains its receive queue: what the device delivers
 * stays in the buffers already posted, then waits in the device. */
void rig_freeze_rx(struct rig *rig, bool frozen);
/* Takes the oldest packet that matched no connection.  Returns false if
 * there is none. */
bool rig_pop_stray(struct rig *rig, struct rig_hdr *out);
/* Waits for a stray packet.  Returns 0 or -ETIMEDOUT / -ENOTCONN. */
int rig_wait_stray(struct rig *rig, struct rig_hdr *out, int timeout_ms);

#endif
