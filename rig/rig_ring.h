/* The driver (guest) side of a split virtqueue (virtio 1.x §2.7), living in
 * rig guest RAM: adding descriptor chains (direct or through an indirect
 * table), publishing them on the available ring, kicking the device the way
 * a Linux guest does (event index or VRING_USED_F_NO_NOTIFY), and reading
 * back the used ring.
 *
 * The rig plays a guest that checks the device: a used element that names a
 * descriptor the driver does not own, or a used index that jumps by more
 * than what is outstanding, is reported as -EPROTO rather than trusted.
 *
 * Descriptor ownership is tracked outside the descriptor table, so chains
 * written by the adversary API (loops, bad next indices...) are still freed
 * exactly when the device returns their head. */
#ifndef RIG_RING_H
#define RIG_RING_H

#include <stdbool.h>
#include <stdint.h>

#include <linux/virtio_ring.h>

#include "rig_mem.h"

/* Most entries in one indirect table the rig builds. */
#define RIG_RING_INDIRECT_MAX 64

struct rig_seg {
	uint64_t gpa;
	uint32_t len;
	bool device_writes; /* VRING_DESC_F_WRITE */
};

struct rig_ring {
	uint16_t num;
	bool event_idx;
	struct rig_mem *mem;
	uint64_t desc_gpa, avail_gpa, used_gpa;
	struct vring_desc *desc;
	struct vring_avail *avail;
	struct vring_used *used;

	uint16_t avail_idx;      /* shadow of avail->idx */
	uint16_t kicked_idx;     /* avail_idx at the last kick decision */
	uint16_t last_used_idx;  /* next used element to read */

	uint16_t free_head;      /* free descriptors, linked through free_next */
	uint16_t num_free;
	uint16_t *free_next;
	uint16_t *chain_next;    /* descriptors owned by one chain, linked */
	uint16_t *chain_len;     /* per head: descriptors owned, 0 = not in flight */
	void **cookie;           /* per head */
	uint64_t indirect_base;  /* per head: a table of RIG_RING_INDIRECT_MAX */

	int kick_fd;             /* eventfd the device reads (-1 = none) */
	int call_fd;             /* eventfd the device writes (-1 = none) */
	uint64_t kicks;          /* eventfd writes done */
	bool held;               /* avail->idx not moved (rig_ring_hold) */
};

/* Allocates the ring (page-aligned parts) and its indirect tables in guest
 * RAM and creates the kick and call eventfds.  num must be a power of two.
 * Returns 0 or -errno. */
int rig_ring_init(struct rig_ring *r, struct rig_mem *mem, uint16_t num,
		  bool event_idx);
void rig_ring_destroy(struct rig_ring *r);
/* Zeroes the ring memory and forgets every chain, as a rebooted guest driver
 * starts over (the eventfds are kept). */
void rig_ring_reset(struct rig_ring *r);

/* Adds one chain of n segments (device-readable ones first, as the spec
 * asks) and publishes it.  With indirect, the segments go into the head's
 * indirect table and the ring uses one descriptor.  Returns the head, or
 * -ENOSPC (not enough free descriptors) or -EINVAL. */
int rig_ring_add(struct rig_ring *r, const struct rig_seg *segs, unsigned n,
		 bool indirect, void *cookie);
/* Adversary: writes n raw descriptors into free slots and publishes the
 * first as a head.  A next value below n is taken as an index into descs and
 * remapped to the slot actually used; any other next value is written
 * unchanged (use >= num for an out-of-range index).  flags, addr and len are
 * written as given.  Returns the head or -ENOSPC / -EINVAL. */
int rig_ring_add_raw(struct rig_ring *r, const struct vring_desc *descs,
		     unsigned n, void *cookie);
/* Adversary: publishes an arbitrary head index on the available ring (it is
 * not tracked as in flight).  */
void rig_ring_publish_head(struct rig_ring *r, uint16_t head);

/* While held, chains are added but avail->idx stays put (and no kick is
 * sent), so the device sees none of them; releasing publishes them all at
 * once and kicks: one drain of the device then meets them together. */
void rig_ring_hold(struct rig_ring *r, bool hold);

/* Notifies the device if it asked for it since the last call. */
void rig_ring_kick(struct rig_ring *r);
/* Notifies unconditionally (an eventfd write). */
void rig_ring_kick_always(struct rig_ring *r);

/* Takes the next used element: returns its head (>= 0) with *len and
 * *cookie, -EAGAIN when there is none, or -EPROTO when the device returned
 * something it did not own (the element is skipped). */
int rig_ring_get_used(struct rig_ring *r, uint32_t *len, void **cookie);
/* Asks for an interrupt at the next used element; returns true if used
 * elements are already pending (check again before sleeping). */
bool rig_ring_enable_cb(struct rig_ring *r);
/* Consumes the call eventfd's count (non-blocking). */
void rig_ring_clear_call(struct rig_ring *r);

static inline unsigned rig_ring_in_flight(const struct rig_ring *r)
{
	return (unsigned)(r->num - r->num_free);
}

#endif
