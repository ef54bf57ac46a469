/* Split virtqueue mechanics (virtio 1.x §2.7): popping descriptor chains as
 * iovecs into guest memory, returning them to the used ring, event-index
 * notification suppression and interrupt batching.  Knows nothing of vsock.
 *
 * The guest is hostile: every index, address, length and flag read from the
 * ring is validated; a malformed chain is reported (VQ_POP_BAD_CHAIN) so the
 * caller can return it with length 0, and a ring whose indices make no sense
 * is marked broken and no longer touched. */
#ifndef VSOCK_VIRTQ_H
#define VSOCK_VIRTQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "guest_mem.h"

#define VIRTQ_MAX_SIZE 32768
/* Most segments one chain may have (after splitting at region boundaries).
 * Linux uses at most ~20; a longer chain is rejected as malformed. */
#define VQ_CHAIN_MAX_SEGS 1024

struct vring_desc;
struct vring_avail;
struct vring_used;

struct virtq {
	/* Set by the vhost-user layer. */
	uint16_t num;            /* ring size, power of two; 0 = not set */
	uint64_t desc_uva, avail_uva, used_uva;
	bool addr_set;
	int kick_fd;             /* -1 when none */
	int call_fd;             /* -1 when none */
	bool enabled;            /* SET_VRING_ENABLE */
	bool started;            /* has a kick fd and was not stopped since */
	bool event_idx;          /* VIRTIO_RING_F_EVENT_IDX negotiated */
	bool indirect;           /* VIRTIO_RING_F_INDIRECT_DESC negotiated */
	bool notify_on_empty;    /* VIRTIO_F_NOTIFY_ON_EMPTY negotiated */
	bool broken;             /* guest corrupted the ring; do not touch */

	/* Translated ring pointers, valid while memory is mapped. */
	struct vring_desc *desc;
	struct vring_avail *avail;
	struct vring_used *used;

	uint16_t last_avail_idx; /* next avail entry to consume */
	uint16_t used_idx;       /* next used entry to fill (shadow of used->idx) */
	uint16_t signalled_used; /* used_idx at the last interrupt */
	bool signalled_used_valid;
	bool pending_signal;     /* pushed since last virtq_notify() */
	uint16_t inflight;       /* popped but not yet pushed (NOTIFY_ON_EMPTY) */

	const struct guest_mem *mem;
	const char *name;        /* "rx", "tx", "event", for logs */
};

/* One popped chain: device-readable segments first, then device-writable. */
struct vq_chain {
	uint16_t head;
	unsigned nr_out;         /* readable segments: iov[0 .. nr_out) */
	unsigned nr_in;          /* writable segments: iov[nr_out .. nr_out+nr_in) */
	size_t out_len;          /* total readable bytes */
	size_t in_len;           /* total writable bytes */
	struct iovec iov[VQ_CHAIN_MAX_SEGS];
};

enum vq_pop_result {
	VQ_POP_EMPTY,      /* nothing available */
	VQ_POP_OK,         /* *chain describes the next chain */
	VQ_POP_BAD_CHAIN,  /* chain->head is valid but the chain is malformed
			      (loop, bad index/address/length, readable after
			      writable, bad indirect table...): already logged;
			      the caller must virtq_push(head, 0) it */
	VQ_POP_BROKEN,     /* the ring itself is corrupt: vq->broken is set */
};

void virtq_init(struct virtq *vq, const char *name);
/* Recomputes desc/avail/used pointers from the uvas (after SET_VRING_ADDR or a
 * memory table change).  Returns false if a ring part is not mapped. */
bool virtq_translate(struct virtq *vq, const struct guest_mem *mem);
/* Makes the device's next used index the one the guest sees in used->idx:
 * after SET_VRING_ADDR the ring may belong to a new driver instance (guest
 * reboot) whose used ring starts over.  Needs translated addresses. */
void virtq_sync_used_idx(struct virtq *vq);
/* Ready = started, enabled, addresses translated, not broken. */
bool virtq_ready(const struct virtq *vq);

enum vq_pop_result virtq_pop(struct virtq *vq, struct vq_chain *chain);
/* Reads again the chain at head, popped earlier and not pushed yet (a
 * packet the device kept): VQ_POP_OK, VQ_POP_BAD_CHAIN (logged; the caller
 * pushes it with length 0) or VQ_POP_BROKEN (the ring is unusable). */
enum vq_pop_result virtq_reread(struct virtq *vq, uint16_t head, struct vq_chain *chain);
/* Gives back the most recently popped chain (it will be popped again next
 * time).  Repeatable: n calls give back the last n chains, newest first. */
void virtq_unpop(struct virtq *vq);
/* Returns a chain to the used ring with the number of bytes written. */
void virtq_push(struct virtq *vq, uint16_t head, uint32_t len);
/* Interrupts the guest once for everything pushed since the last call, if
 * the guest asked for it (used_event / VRING_AVAIL_F_NO_INTERRUPT). */
void virtq_notify(struct virtq *vq);

/* Kick suppression around a drain loop:
 *   do { virtq_disable_kicks(vq); drain(); } while (virtq_enable_kicks(vq));
 * virtq_enable_kicks() returns true if buffers arrived meanwhile. */
void virtq_disable_kicks(struct virtq *vq);
bool virtq_enable_kicks(struct virtq *vq);
bool virtq_has_avail(struct virtq *vq);
/* For a device that needs more buffers than the guest made available,
 * some of them given back unused: asks for a kick when the guest adds one
 * past *seen, the avail index now.  Returns true if it did already. */
bool virtq_kick_on_new(struct virtq *vq, uint16_t *seen);
/* The guest's avail index (last_avail_idx if the ring is not ready). */
uint16_t virtq_avail_idx(struct virtq *vq);

#endif
