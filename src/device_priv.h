/* Inside one vsock device: the state its thread owns, shared by
 * vsock_device.c (thread, front-end, hooks), device_conn.c (connection
 * lifecycle and host sockets), device_tx.c (guest->device packets),
 * device_rx.c (device->guest packets) and device_seqpacket.c (message
 * boundaries on host sockets).  Only the device thread touches it. */
#ifndef VSOCK_DEVICE_PRIV_H
#define VSOCK_DEVICE_PRIV_H

#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>

#include "backend.h"
#include "conn_table.h"
#include "ctrl_queue.h"
#include "device_stats.h"
#include "ev.h"
#include "fifo_timer.h"
#include "port_alloc.h"
#include "router.h"
#include "tx_credit.h"
#include "unix_sock.h"
#include "vhost_user.h"
#include "vsock_device.h"

/* Most RX chains filled by one readv from a host socket: enough for a
 * whole RX_BATCH_BYTES message in RX buffers of 2 KiB or more. */
#define RX_BATCH_CHAINS 128
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
/* A TX packet for a sibling whose mailbox is full waits at most this long
 * for room (device_park.c), then its connection is reset; overridable like
 * the request timeout. */
#define DEVICE_PARK_TIMEOUT_MS 10000u
#define DEVICE_PARK_TIMEOUT_ENV "VHOST_DEVICE_VSOCK_SIBLING_TIMEOUT_MS"
/* Most packets waiting for full mailboxes, and most for any one VM... */
#define DEVICE_PARK_MAX 1024
#define DEVICE_PARK_MAX_PER_VM (DEVICE_PARK_MAX / 4)
/* ...of which at most this many (and never more than half the TX ring,
 * which the guest needs for its other traffic) keep their chain, and at
 * most half of those for any one VM. */
#define DEVICE_PARK_MAX_CHAINS 256
/* Siblings remembered as stalled (device_park.c). */
#define DEVICE_PARK_MAX_STALLED 64

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
	bool full;  /* stopped by its own limits, not by the ring */
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
	uint32_t len;      /* payload bytes */
	uint32_t flags;    /* seqpacket: the last packet's EOM */
	uint16_t head[TX_BATCH_CHAINS];
	struct iovec payload[VQ_CHAIN_MAX_SEGS];
};

/* A TX packet for a sibling whose mailbox was full, its header as checked
 * when it arrived.  One with a payload keeps its chain, whose payload is
 * read again from the ring when it is retried; a header alone is all there
 * is, and its chain goes back at once. */
struct parked_pkt {
	int64_t deadline_ms; /* CLOCK_MONOTONIC */
	struct vsock_hdr hdr;
	uint16_t head;
	bool has_chain;
};

/* Packets waiting for full sibling mailboxes, oldest first; packets for the
 * same VM leave in order.  Since every one waits the same time, the oldest
 * also has the earliest deadline. */
struct park {
	struct parked_pkt pkt[DEVICE_PARK_MAX];
	unsigned count;
	unsigned chains;               /* entries with has_chain */
	uint32_t stalled[DEVICE_PARK_MAX_STALLED]; /* siblings not waited for */
	unsigned n_stalled;
	unsigned timeout_ms;
	struct fifo_timer timer;       /* for the oldest deadline */
	bool retry;                    /* a mailbox has room: try again */
	bool expired;                  /* the timer fired: resolve what is overdue */
};

/* A function the control plane runs on the device thread (device_call.c). */
struct device_call {
	void (*fn)(struct vsock_device *dev, void *arg);
	void *arg;
	TAILQ_ENTRY(device_call) link;
	int result;  /* 0, or -ESHUTDOWN when the device stopped first */
	bool done;
};

struct device_calls {
	pthread_mutex_t lock;   /* guards queue, closed, each call's done */
	pthread_cond_t done;
	TAILQ_HEAD(, device_call) queue;
	struct ev_source ev;    /* eventfd: calls are queued */
	bool closed;            /* the thread ended: calls are refused */
	bool ready;             /* lock and cond initialised */
};

/* The device's budgets (README, "Security model"), from its vm_config. */
struct device_budget {
	uint32_t max_connections;
	uint32_t max_pending;
};

struct vsock_device {
	uint64_t guest_cid;
	struct device_stats stats;      /* written by this thread only */
	uint32_t poll_us;               /* busy-poll window limit (epoll_poll.h) */
	struct device_budget budget;
	struct tx_pool tx_pool;         /* guest->host credit and buffers */
	struct router *router;
	struct router_port *port;       /* this guest's place in the router */
	struct ev_source mail_ev;       /* the router's wakeup eventfd */

	struct ev_loop loop;
	struct ev_source stop_ev;
	struct device_calls calls;
	struct ev_source listen_ev;
	struct ev_source frontend_ev;
	struct kick_source kick[VU_NUM_QUEUES];
	struct unix_listener vu_listener;
	struct vu_dev vu;
	struct backend *backend;

	struct conn_table conns;
	struct port_alloc ports;
	struct ctrl_queue ctrl;
	struct conn_fifo rx_fifo;       /* connections owing the guest a packet */
	struct conn_fifo rx_waiters;    /* waiting for more RX buffers (device_rx.c) */
	/* Host-initiated connections awaiting the guest's answer
	 * (device_deadline.c). */
	struct deadline_fifo waiting;
	struct park park;
	/* When TX is served: set by device_tx_sched.c only. */
	bool tx_due;                    /* TX kicked or started: process it */
	bool tx_blocked;                /* TX paused until ctrl replies drain */
	bool stopping;

	pthread_t thread;
	bool thread_started;

	struct vq_chain chain;          /* scratch for one popped chain */
	struct iovec tx_payload[VQ_CHAIN_MAX_SEGS]; /* a sibling packet's payload */
	struct tx_batch tx;
	struct iovec tx_rest[VQ_CHAIN_MAX_SEGS];    /* what the host socket refused */
	struct rx_batch rx;
};

/* A system call on guest memory failed with err: EFAULT means the memory
 * is gone (its file shrank), which the SIGBUS handler would have caught
 * had the access been ours: the front-end is dropped the same way. */
static inline void device_check_guest_fault(struct vsock_device *dev, int err)
{
	if (err == EFAULT)
		dev->vu.mem.faulted = 1;
}

/* device_call.c */
int device_calls_open(struct vsock_device *dev);
/* Ends the calls: those queued return -ESHUTDOWN, and so do later ones. */
void device_calls_refuse(struct vsock_device *dev);
void device_calls_close(struct vsock_device *dev);
/* From another thread: runs fn(dev, arg) on the device thread and waits
 * for it.  Returns 0, or -ESHUTDOWN if the device stopped (fn not run). */
int device_call(struct vsock_device *dev, void (*fn)(struct vsock_device *dev, void *arg),
		void *arg);

/* device_conn.c */
/* Whether max-connections are open already (the caller refuses and logs). */
static inline bool device_conn_full(const struct vsock_device *dev)
{
	return dev->conns.count >= dev->budget.max_connections;
}
/* A new connection (the caller checked device_conn_full()) in its first
 * state: for a guest REQUEST, CONN_CONNECTING, or CONN_ESTABLISHED (owing
 * the guest its RESPONSE) if the host end connected at once; for a host
 * client, CONN_REQUESTING (owing the guest a REQUEST). */
struct conn *device_conn_new(struct vsock_device *dev, const struct conn_key *key, int fd,
			     uint16_t type, enum conn_state state);
/* Counts a connection refused because connecting failed with err. */
void device_count_refusal(struct vsock_device *dev, int err);
/* Resets every connection (the VM is going away): host sockets close, and
 * the guest is owed an RST for each it knows. */
void device_conn_reset_all(struct vsock_device *dev);
/* Frees at once without telling the guest (guest RST, driver reset). */
void device_conn_drop(struct vsock_device *dev, struct conn *c);
/* Closes the host side and owes the guest an RST; freed once it is sent. */
void device_conn_reset(struct vsock_device *dev, struct conn *c);
/* A host-initiated connection the guest has not answered ends (timeout,
 * client gone): silently if the guest never got its REQUEST, with an RST
 * otherwise (a late RESPONSE then finds no connection). */
void device_conn_abandon(struct vsock_device *dev, struct conn *c);
void device_conn_drop_all(struct vsock_device *dev);
/* Guest driver reset: drops every connection the old driver knew of. */
void device_conn_drop_known_to_guest(struct vsock_device *dev);
/* Re-computes which host socket events the connection needs, and whether
 * an RX pass should read its host socket (CONN_PEND_RW). */
void device_conn_sync_interest(struct vsock_device *dev, struct conn *c);
/* Queues the connection for an RX pass if it owes the guest something. */
void device_conn_schedule(struct vsock_device *dev, struct conn *c);
void device_conn_unschedule(struct vsock_device *dev, struct conn *c);
/* Writes guest payload to the host socket, buffering what it refuses. */
void device_conn_write(struct vsock_device *dev, struct conn *c,
		       const struct iovec *iov, unsigned n);
/* Whether buffered guest data waits for the host socket to take it. */
static inline bool device_conn_has_unsent(const struct conn *c)
{
	return c->txbuf.messages ? c->txbuf.msgs > 0 : !txbuf_empty(&c->txbuf);
}
/* n more guest bytes reached the host. */
void device_conn_forwarded(struct vsock_device *dev, struct conn *c, uint32_t n);
/* Writing to the host socket failed with err: resets the connection. */
void device_conn_write_failed(struct vsock_device *dev, struct conn *c, int err);
/* The txbuf has drained (or a guest shutdown came with nothing buffered):
 * finishes the close steps the guest asked for.  Returns false if the
 * connection is gone. */
bool device_conn_drained(struct vsock_device *dev, struct conn *c);
/* Both directions are over (host EOF sent to the guest, the guest's
 * SHUTDOWN(SEND) written through to the host): closes the host socket now,
 * since nothing is left for it to carry, rather than when the guest's RST
 * comes, which a guest holding its socket open may put off indefinitely.
 * The connection itself stays until that RST. */
void device_conn_release_finished_host(struct vsock_device *dev, struct conn *c);
/* Guest SHUTDOWN flags, accumulated. */
void device_conn_guest_shutdown(struct vsock_device *dev, struct conn *c, uint32_t flags);
/* The guest accepted our REQUEST. */
void device_conn_guest_accepted(struct vsock_device *dev, struct conn *c);

/* device_deadline.c: connections enter dev->waiting when their REQUEST is
 * owed (device_conn.c) and leave it when the guest answers or they go. */
/* Reads the timeout, creates the timer and adds it to the epoll set.
 * Returns 0, or -1 (logged). */
int device_deadline_open(struct vsock_device *dev);
void device_deadline_close(struct vsock_device *dev);

/* device_tx.c */
void device_process_tx(struct vsock_device *dev);
/* Reads the header out of a TX chain's readable part; false if the chain
 * cannot be a TX packet (already logged). */
bool device_tx_parse(const struct vq_chain *chain, struct vsock_hdr *hdr);
/* Owes the guest an RST for a packet with no connection. */
void device_reply_rst(struct vsock_device *dev, const struct vsock_hdr *pkt);

/* device_rx.c */
void device_process_rx(struct vsock_device *dev);
/* Pops the next usable RX chain into dev->chain; false if there is none. */
bool device_rx_pop_chain(struct vsock_device *dev, struct virtq *vq);
/* Pops RX chains for up to `budget` payload bytes, enough to hold `want`
 * bytes, into dev->rx; returns the number of payload iovecs built. */
unsigned device_rx_gather(struct vsock_device *dev, struct virtq *vq, size_t want,
			  size_t budget);
/* Returns every chain of dev->rx to the guest unused. */
void device_rx_return_empty(struct vsock_device *dev, struct virtq *vq);
/* Gives back the chains of dev->rx from index `from` on. */
void device_rx_unpop_from(struct vsock_device *dev, struct virtq *vq, unsigned from);
/* Hands out n bytes read into dev->rx, one RW packet per chain, the last
 * one with `flags` (seqpacket EOM); gives back the chains left over. */
void device_rx_send_batch(struct vsock_device *dev, struct virtq *vq, struct conn *c,
			  size_t n, uint32_t flags);
/* Tells the guest of the host's EOF in dev->rx's first chain. */
void device_rx_send_host_eof(struct vsock_device *dev, struct virtq *vq, struct conn *c);
/* c needs more RX buffers than the guest has posted: it is not served
 * until the guest posts more (which it will once it takes what is in its
 * used ring), and the RX ring kicks when it does. */
void device_rx_wait_for_buffers(struct vsock_device *dev, struct virtq *vq, struct conn *c);
/* c is going away: it waits no more. */
void device_rx_forget_waiter(struct vsock_device *dev, struct conn *c);

/* device_seqpacket.c: seqpacket connections' host sockets, one message per
 * system call each way. */
/* A new seqpacket connection: its window and the host socket's limit. */
void device_seqpacket_open(struct vsock_device *dev, struct conn *c);
/* Guest payload of one message, or of its first pieces unless flags has
 * VIRTIO_VSOCK_SEQ_EOM: sent as one message once complete, kept while
 * the host socket has no room. */
void device_seqpacket_write(struct vsock_device *dev, struct conn *c,
			    const struct iovec *iov, unsigned n, uint32_t flags);
/* Sends the complete messages the host socket refused before. */
void device_seqpacket_flush(struct vsock_device *dev, struct conn *c);
/* Moves the next host message, whole, into guest RX buffers.  Returns
 * false when the guest has too few RX buffers for it now. */
bool device_seqpacket_serve_rw(struct vsock_device *dev, struct virtq *vq, struct conn *c);

/* device_sibling.c */
int device_sibling_open(struct vsock_device *dev, const struct vm_config *cfg);
void device_sibling_close(struct vsock_device *dev);
enum sibling_result {
	SIBLING_DELIVERED, /* in the target's mailbox */
	SIBLING_ANSWERED,  /* refused (an RST owed to the guest, or dropped) */
	SIBLING_FULL,      /* the target's mailbox is full: nothing done */
};
/* Routes a guest packet (header hdr, payload in chain; NULL for a header
 * alone) for another VM. */
enum sibling_result device_sibling_send(struct vsock_device *dev, const struct vsock_hdr *hdr,
					const struct vq_chain *chain);
/* The packet cannot be delivered: the guest gets an RST for its
 * connection (unless it was an RST); logged with why. */
void device_sibling_undeliverable(struct vsock_device *dev, const struct vsock_hdr *hdr,
				  const char *why);
enum mail_result {
	MAIL_EMPTY,     /* the mailbox is empty */
	MAIL_MORE,      /* budget used up, more mail waiting */
	MAIL_NO_BUFFER, /* the guest has no RX buffer left */
};
/* Moves mail into the guest's RX buffers, about budget bytes at most. */
enum mail_result device_sibling_deliver(struct vsock_device *dev, struct virtq *vq,
					size_t budget);

/* device_park.c: TX packets waiting for full sibling mailboxes. */
int device_park_open(struct vsock_device *dev);
void device_park_close(struct vsock_device *dev);
enum park_verdict {
	PARK_SENT,    /* delivered or answered: the chain goes back */
	PARK_COPIED,  /* a header alone, kept as a copy: the chain goes back */
	PARK_KEPT,    /* the chain waits in the park */
	PARK_WAIT,    /* no room to keep it: the TX ring waits */
};
/* Sends a guest packet (hdr, chain) to another VM, or keeps it until that
 * VM's mailbox has room. */
enum park_verdict device_park_send(struct vsock_device *dev, const struct vsock_hdr *hdr,
				   const struct vq_chain *chain);
/* Retries and expires the waiting packets (the ctrl queue must have room
 * for the RSTs; what cannot be answered now waits for the next call). */
void device_park_process(struct vsock_device *dev, struct virtq *vq);
/* The ring's driver is gone: its chains are forgotten, not returned. */
void device_park_forget(struct vsock_device *dev);

/* device_tx_sched.c: the events that decide when TX is served. */
/* The guest kicked the TX queue, or it started. */
void device_tx_kicked(struct vsock_device *dev);
/* The park has packets to retry (a mailbox has room) or to expire (its
 * timer fired). */
void device_tx_park_ready(struct vsock_device *dev);
/* A TX pass ended, stopped by a full control queue or not. */
void device_tx_pass_done(struct vsock_device *dev, bool ctrl_full);
/* The control queue and the park were emptied (driver reset). */
void device_tx_guest_forgotten(struct vsock_device *dev);
/* The front-end is gone, and with it the guest's state. */
void device_tx_frontend_gone(struct vsock_device *dev);
/* Runs TX and RX until neither can progress, then interrupts the guest. */
void device_pump(struct vsock_device *dev);

#endif
