/* Inside one vsock device: the state its thread owns, shared by
 * vsock_device.c (thread, front-end, hooks), device_conn.c (connection
 * lifecycle and host sockets), device_tx.c (guest->device packets) and
 * device_rx.c (device->guest packets).  Only the device thread touches it. */
#ifndef VSOCK_DEVICE_PRIV_H
#define VSOCK_DEVICE_PRIV_H

#include <pthread.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>

#include "backend.h"
#include "conn_table.h"
#include "ctrl_queue.h"
#include "ev.h"
#include "fifo_timer.h"
#include "port_alloc.h"
#include "router.h"
#include "unix_sock.h"
#include "vhost_user.h"
#include "vsock_device.h"

/* Most connections one device serves; more are refused (RST, or the host
 * client closed) with a log line. */
#define DEVICE_MAX_CONNS (256u * 1024)
/* Most RX chains filled by one readv from a host socket. */
#define RX_BATCH_CHAINS 64
/* Most bytes read from one host socket per readv (a few 4 KiB buffers
 * apiece, bounded so one busy connection does not hog a pass). */
#define RX_BATCH_BYTES (256u * 1024)
/* Most sibling mail bytes moved into the RX ring per turn, so that host
 * connections and sibling VMs share it fairly. */
#define RX_MAIL_BUDGET RX_BATCH_BYTES
/* A host-initiated connection the guest has not answered (RESPONSE or RST)
 * this long after it was made is closed, so that a guest with no driver,
 * no RX buffers or a hang cannot leave the host application waiting
 * forever (Linux's own vsock connect() gives up after 2 s).  The
 * environment variable overrides it (milliseconds, read at start-up) so
 * tests need not wait 10 s. */
#define DEVICE_REQUEST_TIMEOUT_MS 10000u
#define DEVICE_REQUEST_TIMEOUT_ENV "VHOST_DEVICE_VSOCK_REQUEST_TIMEOUT_MS"

#define container_of(ptr, type, member) \
	((type *)(void *)((char *)(ptr) - offsetof(type, member)))

struct kick_source {
	struct ev_source ev;
	struct vsock_device *dev;
	unsigned idx;
};

/* Chains popped for one readv: their writable iovecs (header first) live
 * in iov[first .. first+count). */
struct rx_slot {
	uint16_t head;
	unsigned first;
	unsigned count;
	size_t payload_cap;
};

struct rx_batch {
	unsigned n;
	unsigned n_iov;
	struct rx_slot slot[RX_BATCH_CHAINS];
	struct iovec iov[VQ_CHAIN_MAX_SEGS];
	struct iovec payload[VQ_CHAIN_MAX_SEGS];
};

/* Most TX chains of one connection whose payloads one sendmsg gathers. */
#define TX_BATCH_CHAINS 64

/* Consecutive RW packets of one connection popped in one TX drain: their
 * payloads (gathered in payload[0..n_iov)) go to the host socket in one
 * write, then their chains go back to the guest. */
struct tx_batch {
	struct conn *conn; /* NULL while empty */
	unsigned n_chains;
	unsigned n_iov;
	uint16_t head[TX_BATCH_CHAINS];
	struct iovec payload[VQ_CHAIN_MAX_SEGS];
};

struct vsock_device {
	uint64_t guest_cid;
	uint32_t tx_buffer_size;
	uint32_t poll_us;               /* busy-poll window limit (epoll_poll.h) */
	struct router *router;
	struct router_port *port;       /* this guest's place in the router */
	struct ev_source mail_ev;       /* the router's wakeup eventfd */

	int epfd;
	struct ev_source stop_ev;
	struct ev_source listen_ev;
	struct ev_source frontend_ev;
	struct kick_source kick[VU_NUM_QUEUES];
	struct unix_listener vu_listener;
	struct vu_dev vu;
	struct backend *backend;

	struct conn_table conns;
	struct port_alloc ports;
	struct ctrl_queue ctrl;
	struct conn *rx_head, *rx_tail; /* connections owing the guest a packet */
	struct conn *dead;              /* freed after the current event batch */
	/* Host-initiated connections awaiting the guest's answer, oldest
	 * first: they all get the same timeout, so the head has the earliest
	 * deadline. */
	struct conn *waiting_head, *waiting_tail;
	unsigned request_timeout_ms;
	struct fifo_timer request_timer; /* for the head's deadline */
	bool tx_due;                    /* TX kicked or started: process it */
	bool tx_blocked;                /* TX paused until ctrl replies drain */
	bool tx_wait_router;            /* TX paused: a sibling mailbox was full */
	bool stopping;

	pthread_t thread;
	bool thread_started;

	struct vq_chain chain;          /* scratch for one popped chain */
	struct iovec tx_payload[VQ_CHAIN_MAX_SEGS]; /* a sibling packet's payload */
	struct tx_batch tx;
	struct iovec tx_rest[VQ_CHAIN_MAX_SEGS];    /* what the host socket refused */
	struct rx_batch rx;
};

/* device_conn.c */
struct conn *device_conn_new(struct vsock_device *dev, const struct conn_key *key, int fd);
/* Frees at once without telling the guest (guest RST, driver reset). */
void device_conn_drop(struct vsock_device *dev, struct conn *c);
/* Closes the host side and owes the guest an RST; freed once it is sent. */
void device_conn_reset(struct vsock_device *dev, struct conn *c);
void device_conn_drop_all(struct vsock_device *dev);
/* Guest driver reset: drops every connection the old driver knew of. */
void device_conn_drop_known_to_guest(struct vsock_device *dev);
void device_conn_free_dead(struct vsock_device *dev);
/* Re-computes which host socket events the connection needs, and whether
 * an RX pass should read its host socket (CONN_PEND_RW). */
void device_conn_sync_interest(struct vsock_device *dev, struct conn *c);
/* Queues the connection for an RX pass if it owes the guest something. */
void device_conn_schedule(struct vsock_device *dev, struct conn *c);
void device_conn_unschedule(struct vsock_device *dev, struct conn *c);
/* Writes guest payload to the host socket, buffering what it refuses. */
void device_conn_write(struct vsock_device *dev, struct conn *c,
		       const struct iovec *iov, unsigned n);
/* Both directions are over (host EOF sent to the guest, the guest's
 * SHUTDOWN(SEND) written through to the host): closes the host socket now,
 * since nothing is left for it to carry, rather than when the guest's RST
 * comes, which a guest holding its socket open may put off indefinitely.
 * The connection itself stays until that RST. */
void device_conn_release_finished_host(struct conn *c);
/* Guest SHUTDOWN flags, accumulated. */
void device_conn_guest_shutdown(struct vsock_device *dev, struct conn *c, uint32_t flags);
/* The guest accepted our REQUEST. */
void device_conn_guest_accepted(struct vsock_device *dev, struct conn *c);

/* device_deadline.c */
/* Reads the timeout, creates the timer and adds it to the epoll set.
 * Returns 0, or -1 (logged). */
int device_deadline_open(struct vsock_device *dev);
void device_deadline_close(struct vsock_device *dev);
/* The connection's timeout starts now. */
void device_deadline_start(struct vsock_device *dev, struct conn *c);
/* The guest answered, or the connection is going away: no timeout. */
void device_deadline_cancel(struct vsock_device *dev, struct conn *c);

/* device_tx.c */
void device_process_tx(struct vsock_device *dev);
/* Owes the guest an RST for a packet with no connection. */
void device_reply_rst(struct vsock_device *dev, const struct vsock_hdr *pkt);

/* device_rx.c */
void device_process_rx(struct vsock_device *dev);
/* Pops the next usable RX chain into dev->chain; false if there is none. */
bool device_rx_pop_chain(struct vsock_device *dev, struct virtq *vq);

/* device_sibling.c */
int device_sibling_open(struct vsock_device *dev, const struct vm_config *cfg);
void device_sibling_close(struct vsock_device *dev);
/* Routes a guest packet for another VM.  Returns false when the target's
 * mailbox is full: the caller keeps the chain and waits for the wakeup. */
bool device_sibling_send(struct vsock_device *dev, const struct vsock_hdr *hdr,
			 const struct vq_chain *chain);
enum mail_result {
	MAIL_EMPTY,     /* the mailbox is empty */
	MAIL_MORE,      /* budget used up, more mail waiting */
	MAIL_NO_BUFFER, /* the guest has no RX buffer left */
};
/* Moves mail into the guest's RX buffers, about budget bytes at most. */
enum mail_result device_sibling_deliver(struct vsock_device *dev, struct virtq *vq,
					size_t budget);

/* Runs TX and RX until neither can progress, then interrupts the guest. */
void device_pump(struct vsock_device *dev);

#endif
