/* Sibling routing: packets between the VMs served by this process.
 *
 * One router per process; each device registers a port (its guest CID, its
 * groups, its wakeup eventfd).  A device's TX path hands a guest packet whose
 * dst_cid is not the host to router_send(), which copies it once into the
 * target's mailbox; the target's own device thread later takes it out with
 * router_peek()/router_consume() and writes it into its guest's RX buffers,
 * splitting it across as many buffers as it needs.  Packets are relayed as
 * the guest sent them (src_cid, ports, buf_alloc, fwd_cnt, flags untouched):
 * the two guests run the handshake and credit accounting end to end.
 *
 * Mailboxes are bounded in bytes and in packets.  When the target's mailbox
 * is full, router_send() returns ROUTER_FULL and remembers the sender; the
 * sender must keep the packet (stop processing its TX ring) and retry when
 * its wakeup eventfd fires, which happens once the target has drained its
 * mailbox to half of the limits (or unregistered).  No packet is dropped.
 *
 * Threads and locks: any thread may send; only the port's owner peeks,
 * consumes and unregisters.  A read/write lock guards the registry (read on
 * every send, write only to register/unregister); each mailbox has its own
 * mutex.  No code path holds two mailbox locks, and nobody blocks waiting
 * for space, so two devices streaming to each other at full speed cannot
 * deadlock: each one keeps draining its own mailbox while its TX waits.
 *
 * Wakeup eventfd: written (value 1) when a mailbox goes from empty to
 * non-empty, and when space frees up in a mailbox this port was refused by.
 * The owner should then drain its mailbox and retry its refused packet.
 * Because the "mail" wakeup fires only on the empty -> non-empty edge, an
 * owner that stops draining early (guest RX ring full) must come back to
 * router_peek() on its own, e.g. when the guest adds RX buffers. */
#ifndef VSOCK_ROUTER_H
#define VSOCK_ROUTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "vsock_hdr.h"

/* Defaults per mailbox: 16 full-size (64 KiB) packets, or many small ones. */
#define ROUTER_DEFAULT_MAILBOX_BYTES (1u << 20)
#define ROUTER_DEFAULT_MAILBOX_PACKETS 1024u

struct router;
struct router_port;

enum router_result {
	ROUTER_DELIVERED,   /* in the target's mailbox */
	ROUTER_FULL,        /* target mailbox full: keep the packet, retry on wakeup */
	ROUTER_UNREACHABLE, /* no such CID, or no group in common: answer RST */
	ROUTER_INVALID,     /* payload length differs from hdr.len or exceeds
			     * VSOCK_MAX_PKT_PAYLOAD, or src_cid is not the
			     * sender's: a malformed or forged packet */
};

/* mailbox_bytes counts the payload plus a small per-packet overhead; it
 * must leave room for one full-size packet.  NULL with errno set on error. */
struct router *router_create(size_t mailbox_bytes, unsigned mailbox_packets);
/* Every port must have been unregistered. */
void router_destroy(struct router *router);

/* Adds a port for cid.  groups are copied.  wakeup_fd (an eventfd) must stay
 * open until router_unregister() returns.  NULL with errno EEXIST when the
 * CID is already registered, EINVAL for no groups, ENOMEM. */
struct router_port *router_register(struct router *router, uint32_t cid,
				    const char *const *groups, size_t n_groups,
				    int wakeup_fd);
/* Removes the port, drops the packets still in its mailbox and wakes the
 * senders waiting for it (their retry then gets ROUTER_UNREACHABLE). */
void router_unregister(struct router_port *port);

/* Routes one packet from the guest behind `from` to hdr->dst_cid (which may
 * be from's own CID: loopback).  payload/iovcnt describe hdr->len bytes, for
 * example straight in guest memory; they are copied before this returns. */
enum router_result router_send(struct router_port *from, const struct vsock_hdr *hdr,
			       const struct iovec *payload, size_t iovcnt);

/* The oldest packet in the port's mailbox.  payload[0..1] point at what is
 * left of its payload (two pieces when it wraps around the mailbox),
 * remaining is their total length.  Valid until the next router_consume(). */
struct router_msg {
	struct vsock_hdr hdr; /* as sent; hdr.len is the whole payload length */
	struct iovec payload[2];
	size_t remaining;
};
/* Owner thread only.  Returns false when the mailbox is empty. */
bool router_peek(struct router_port *port, struct router_msg *msg);
/* Marks n more payload bytes of the oldest packet as delivered (more than
 * remain counts as all of them); once none remain, the packet leaves the mailbox, so a
 * packet without payload leaves on router_consume(port, 0). */
void router_consume(struct router_port *port, size_t n);
/* Packets in the port's mailbox (0 for NULL).  Any thread, no lock: the
 * count as it was at the last send or consume. */
unsigned router_port_depth(const struct router_port *port);

#endif
