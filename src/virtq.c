#include "virtq.h"

#include <endian.h>
#include <errno.h>
#include <linux/virtio_ring.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

/* Orders our used-ring writes against our reads of the guest's
 * notification-suppression fields (and the guest's writes against ours). */
#define smp_mb() __atomic_thread_fence(__ATOMIC_SEQ_CST)

#define DESC_SIZE sizeof(struct vring_desc)
/* Largest indirect table we walk: bounds the work one chain can cost. */
#define INDIRECT_MAX_DESCS VIRTQ_MAX_SIZE

/* Ring part sizes (virtio 1.x §2.7), always including the event-index
 * fields so they can be used whether or not EVENT_IDX is negotiated. */
static uint64_t desc_bytes(uint16_t num) { return DESC_SIZE * (uint64_t)num; }
static uint64_t avail_bytes(uint16_t num) { return 4 + 2 * (uint64_t)num + 2; }
static uint64_t used_bytes(uint16_t num)
{
	return 4 + sizeof(struct vring_used_elem) * (uint64_t)num + 2;
}

void virtq_init(struct virtq *vq, const char *name)
{
	memset(vq, 0, sizeof(*vq));
	vq->kick_fd = -1;
	vq->call_fd = -1;
	vq->name = name;
}

static bool aligned(const void *p, uintptr_t align)
{
	return ((uintptr_t)p & (align - 1)) == 0;
}

bool virtq_translate(struct virtq *vq, const struct guest_mem *mem)
{
	void *desc, *avail, *used;

	vq->desc = NULL;
	vq->avail = NULL;
	vq->used = NULL;
	vq->mem = mem;
	if (!vq->addr_set || vq->num == 0)
		return false;
	desc = guest_mem_uva_ptr(mem, vq->desc_uva, desc_bytes(vq->num));
	avail = guest_mem_uva_ptr(mem, vq->avail_uva, avail_bytes(vq->num));
	used = guest_mem_uva_ptr(mem, vq->used_uva, used_bytes(vq->num));
	/* The uvas were checked for alignment; a region whose mapping offset
	 * breaks it must not make us do misaligned atomic accesses. */
	if (!desc || !avail || !used || !aligned(desc, 16) || !aligned(avail, 2) ||
	    !aligned(used, 4))
		return false;
	vq->desc = desc;
	vq->avail = avail;
	vq->used = used;
	return true;
}

void virtq_sync_used_idx(struct virtq *vq)
{
	if (!vq->used)
		return;
	vq->used_idx = le16toh(__atomic_load_n(&vq->used->idx, __ATOMIC_ACQUIRE));
	vq->signalled_used_valid = false;
	vq->inflight = 0;
}

bool virtq_ready(const struct virtq *vq)
{
	return vq->started && vq->enabled && !vq->broken && vq->desc &&
	       vq->avail && vq->used;
}

/* Acquire: the ring entries the guest published before this index are
 * read only after it (the smp_rmb of the virtio memory model). */
static uint16_t load_avail_idx(const struct virtq *vq)
{
	return le16toh(__atomic_load_n(&vq->avail->idx, __ATOMIC_ACQUIRE));
}

static uint16_t *used_event_ptr(const struct virtq *vq)
{
	return &vq->avail->ring[vq->num];
}

static uint16_t *avail_event_ptr(const struct virtq *vq)
{
	return (uint16_t *)&vq->used->ring[vq->num];
}

static void mark_broken(struct virtq *vq, const char *why, unsigned a, unsigned b)
{
	vq->broken = true;
	log_warn_rl("%s queue: guest corrupted the ring (%s: %u, %u); "
		    "no longer using it", vq->name, why, a, b);
}

struct chain_walk {
	const uint8_t *table;  /* descriptor table being walked */
	unsigned count;        /* entries in it */
	unsigned seen;         /* descriptors visited in it (loop bound) */
	bool in_indirect;
	bool seen_writable;
};

static const char *add_segment(const struct virtq *vq, struct vq_chain *chain,
			       struct chain_walk *w, const struct vring_desc *d)
{
	uint16_t flags = le16toh(d->flags);
	uint32_t len = le32toh(d->len);
	unsigned before = chain->nr_out + chain->nr_in;
	unsigned n = before;
	int ret;

	if (flags & VRING_DESC_F_WRITE)
		w->seen_writable = true;
	else if (w->seen_writable)
		return "device-readable descriptor after a writable one";
	if (len == 0)
		return NULL;
	ret = guest_mem_gpa_to_iov(vq->mem, le64toh(d->addr), len, chain->iov,
				   VQ_CHAIN_MAX_SEGS, &n);
	if (ret == -E2BIG)
		return "too many segments";
	if (ret < 0)
		return "buffer outside guest memory";
	if (flags & VRING_DESC_F_WRITE) {
		chain->nr_in += n - before;
		chain->in_len += len;
	} else {
		chain->nr_out += n - before;
		chain->out_len += len;
	}
	return NULL;
}

/* Switches the walk to the indirect table described by d. */
static const char *enter_indirect(const struct virtq *vq, struct chain_walk *w,
				  const struct vring_desc *d)
{
	uint16_t flags = le16toh(d->flags);
	uint32_t len = le32toh(d->len);

	if (!vq->indirect)
		return "indirect descriptor without INDIRECT_DESC negotiated";
	if (w->in_indirect)
		return "nested indirect table";
	if (flags & VRING_DESC_F_NEXT)
		return "indirect descriptor with NEXT set";
	if (len == 0 || len % DESC_SIZE != 0 || len / DESC_SIZE > INDIRECT_MAX_DESCS)
		return "bad indirect table length";
	w->table = guest_mem_gpa_ptr(vq->mem, le64toh(d->addr), len);
	if (!w->table)
		return "indirect table outside guest memory";
	w->count = len / DESC_SIZE;
	w->seen = 0;
	w->in_indirect = true;
	return NULL;
}

/* Returns NULL when the chain from head is valid, else why it is not. */
static const char *walk_chain(const struct virtq *vq, uint16_t head,
			      struct vq_chain *chain)
{
	struct chain_walk w = {
		.table = (const uint8_t *)vq->desc,
		.count = vq->num,
	};
	unsigned idx = head;

	for (;;) {
		struct vring_desc d;
		const char *err;
		uint16_t flags;

		if (++w.seen > w.count)
			return "descriptor loop";
		/* One copy: the guest may rewrite the descriptor meanwhile. */
		memcpy(&d, w.table + (size_t)idx * DESC_SIZE, sizeof(d));
		flags = le16toh(d.flags);
		if (flags & VRING_DESC_F_INDIRECT) {
			err = enter_indirect(vq, &w, &d);
			if (err)
				return err;
			idx = 0;
			continue;
		}
		err = add_segment(vq, chain, &w, &d);
		if (err)
			return err;
		if (!(flags & VRING_DESC_F_NEXT))
			return NULL;
		idx = le16toh(d.next);
		if (idx >= w.count)
			return "next index out of range";
	}
}

static enum vq_pop_result read_chain(struct virtq *vq, uint16_t head, struct vq_chain *chain)
{
	const char *err;

	memset(chain, 0, offsetof(struct vq_chain, iov));
	chain->head = head;
	err = walk_chain(vq, head, chain);
	if (err) {
		log_warn_rl("%s queue: malformed chain at head %u: %s", vq->name, head, err);
		return VQ_POP_BAD_CHAIN;
	}
	return VQ_POP_OK;
}

enum vq_pop_result virtq_pop(struct virtq *vq, struct vq_chain *chain)
{
	uint16_t avail_idx, pending, head;

	if (vq->broken)
		return VQ_POP_BROKEN;
	if (!virtq_ready(vq))
		return VQ_POP_EMPTY;
	avail_idx = load_avail_idx(vq);
	pending = (uint16_t)(avail_idx - vq->last_avail_idx);
	if (pending == 0)
		return VQ_POP_EMPTY;
	if (pending > vq->num) {
		mark_broken(vq, "avail idx ran ahead of last_avail", avail_idx,
			    vq->last_avail_idx);
		return VQ_POP_BROKEN;
	}
	head = le16toh(vq->avail->ring[vq->last_avail_idx & (vq->num - 1)]);
	if (head >= vq->num) {
		mark_broken(vq, "head index out of range", head, vq->num);
		return VQ_POP_BROKEN;
	}
	vq->last_avail_idx++;
	vq->inflight++;
	return read_chain(vq, head, chain);
}

enum vq_pop_result virtq_reread(struct virtq *vq, uint16_t head, struct vq_chain *chain)
{
	if (!virtq_ready(vq) || head >= vq->num)
		return VQ_POP_BROKEN;
	return read_chain(vq, head, chain);
}

void virtq_unpop(struct virtq *vq)
{
	vq->last_avail_idx--;
	vq->inflight--;
}

void virtq_push(struct virtq *vq, uint16_t head, uint32_t len)
{
	struct vring_used_elem *elem;

	if (vq->broken || !vq->used)
		return;
	if (head >= vq->num) {
		log_warn_rl("%s queue: not returning invalid head %u", vq->name, head);
		return;
	}
	elem = &vq->used->ring[vq->used_idx & (vq->num - 1)];
	elem->id = htole32(head);
	elem->len = htole32(len);
	vq->used_idx++;
	vq->inflight--;
	/* Release: the element is visible before the index that publishes it. */
	__atomic_store_n(&vq->used->idx, htole16(vq->used_idx), __ATOMIC_RELEASE);
	vq->pending_signal = true;
}

static bool guest_wants_signal(struct virtq *vq)
{
	smp_mb();
	if (vq->notify_on_empty && vq->inflight == 0 &&
	    load_avail_idx(vq) == vq->last_avail_idx)
		return true;
	if (vq->event_idx) {
		uint16_t old = vq->signalled_used;
		uint16_t new = vq->used_idx;
		bool valid = vq->signalled_used_valid;
		uint16_t event = le16toh(__atomic_load_n(used_event_ptr(vq),
							 __ATOMIC_RELAXED));

		vq->signalled_used = new;
		vq->signalled_used_valid = true;
		return !valid || vring_need_event(event, new, old);
	}
	return !(le16toh(__atomic_load_n(&vq->avail->flags, __ATOMIC_RELAXED)) &
		 VRING_AVAIL_F_NO_INTERRUPT);
}

void virtq_notify(struct virtq *vq)
{
	static const uint64_t one = 1;

	if (!vq->pending_signal)
		return;
	vq->pending_signal = false;
	if (vq->call_fd < 0 || vq->broken || !vq->avail || !guest_wants_signal(vq))
		return;
	if (write(vq->call_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_warn_rl("%s queue: signalling the guest failed: %s", vq->name,
			    strerror(errno));
}

void virtq_disable_kicks(struct virtq *vq)
{
	uint16_t flags;

	/* With EVENT_IDX, leaving avail_event behind is enough: the guest
	 * kicks at most once more. */
	if (vq->event_idx || !vq->used || vq->broken)
		return;
	flags = le16toh(vq->used->flags) | VRING_USED_F_NO_NOTIFY;
	__atomic_store_n(&vq->used->flags, htole16(flags), __ATOMIC_RELAXED);
}

bool virtq_enable_kicks(struct virtq *vq)
{
	if (!virtq_ready(vq))
		return false;
	if (vq->event_idx) {
		__atomic_store_n(avail_event_ptr(vq), htole16(vq->last_avail_idx),
				 __ATOMIC_RELAXED);
	} else {
		uint16_t flags = le16toh(vq->used->flags) & ~VRING_USED_F_NO_NOTIFY;

		__atomic_store_n(&vq->used->flags, htole16(flags), __ATOMIC_RELAXED);
	}
	/* The guest either sees our re-enabled notifications or we see its
	 * new buffers here: never neither. */
	smp_mb();
	return load_avail_idx(vq) != vq->last_avail_idx;
}

bool virtq_kick_on_new(struct virtq *vq, uint16_t *seen)
{
	if (!virtq_ready(vq)) {
		*seen = vq->last_avail_idx;
		return false;
	}
	*seen = load_avail_idx(vq);
	if (vq->event_idx) {
		__atomic_store_n(avail_event_ptr(vq), htole16(*seen), __ATOMIC_RELAXED);
	} else {
		uint16_t flags = le16toh(vq->used->flags) & ~VRING_USED_F_NO_NOTIFY;

		__atomic_store_n(&vq->used->flags, htole16(flags), __ATOMIC_RELAXED);
	}
	/* As in virtq_enable_kicks: the guest sees the request or we see its
	 * buffers. */
	smp_mb();
	return load_avail_idx(vq) != *seen;
}

uint16_t virtq_avail_idx(struct virtq *vq)
{
	return virtq_ready(vq) ? load_avail_idx(vq) : vq->last_avail_idx;
}

bool virtq_has_avail(struct virtq *vq)
{
	return virtq_ready(vq) && load_avail_idx(vq) != vq->last_avail_idx;
}
