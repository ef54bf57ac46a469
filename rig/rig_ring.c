#include "rig_ring.h"

#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#define PAGE 4096

static size_t desc_bytes(uint16_t num) { return 16u * num; }
/* flags, idx, ring[num], used_event */
static size_t avail_bytes(uint16_t num) { return 6u + 2u * num; }
/* flags, idx, ring[num], avail_event */
static size_t used_bytes(uint16_t num) { return 6u + 8u * num; }

static volatile uint16_t *used_event_ptr(struct rig_ring *r)
{
	return (volatile uint16_t *)&r->avail->ring[r->num];
}

static volatile uint16_t *avail_event_ptr(struct rig_ring *r)
{
	return (volatile uint16_t *)&r->used->ring[r->num];
}

static void reset_tracking(struct rig_ring *r)
{
	r->avail_idx = 0;
	r->held = false;
	r->kicked_idx = 0;
	r->last_used_idx = 0;
	r->free_head = 0;
	r->num_free = r->num;
	for (uint16_t i = 0; i < r->num; i++) {
		r->free_next[i] = (uint16_t)(i + 1);
		r->chain_len[i] = 0;
		r->cookie[i] = NULL;
	}
}

int rig_ring_init(struct rig_ring *r, struct rig_mem *mem, uint16_t num,
		  bool event_idx)
{
	memset(r, 0, sizeof(*r));
	r->kick_fd = r->call_fd = -1;
	if (num == 0 || (num & (num - 1)))
		return -EINVAL;
	r->num = num;
	r->mem = mem;
	r->event_idx = event_idx;
	r->desc_gpa = rig_mem_alloc(mem, desc_bytes(num), PAGE);
	r->avail_gpa = rig_mem_alloc(mem, avail_bytes(num), PAGE);
	r->used_gpa = rig_mem_alloc(mem, used_bytes(num), PAGE);
	r->indirect_base = rig_mem_alloc(
		mem, (size_t)num * RIG_RING_INDIRECT_MAX * sizeof(struct vring_desc),
		PAGE);
	if (!r->desc_gpa || !r->avail_gpa || !r->used_gpa || !r->indirect_base)
		return -ENOMEM;
	r->desc = rig_mem_ptr(mem, r->desc_gpa, desc_bytes(num));
	r->avail = rig_mem_ptr(mem, r->avail_gpa, avail_bytes(num));
	r->used = rig_mem_ptr(mem, r->used_gpa, used_bytes(num));

	r->free_next = calloc(num, sizeof(*r->free_next));
	r->chain_next = calloc(num, sizeof(*r->chain_next));
	r->chain_len = calloc(num, sizeof(*r->chain_len));
	r->cookie = calloc(num, sizeof(*r->cookie));
	r->kick_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	r->call_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (!r->free_next || !r->chain_next || !r->chain_len || !r->cookie ||
	    r->kick_fd < 0 || r->call_fd < 0) {
		rig_ring_destroy(r);
		return -ENOMEM;
	}
	rig_ring_reset(r);
	return 0;
}

void rig_ring_destroy(struct rig_ring *r)
{
	free(r->free_next);
	free(r->chain_next);
	free(r->chain_len);
	free(r->cookie);
	if (r->kick_fd >= 0)
		close(r->kick_fd);
	if (r->call_fd >= 0)
		close(r->call_fd);
	memset(r, 0, sizeof(*r));
	r->kick_fd = r->call_fd = -1;
}

void rig_ring_reset(struct rig_ring *r)
{
	memset(r->desc, 0, desc_bytes(r->num));
	memset(r->avail, 0, avail_bytes(r->num));
	memset(r->used, 0, used_bytes(r->num));
	reset_tracking(r);
}

/* Takes n free descriptors, linked as one chain owned by the first. */
static int take_descs(struct rig_ring *r, unsigned n, uint16_t *ids)
{
	if (n == 0 || n > r->num_free)
		return n == 0 ? -EINVAL : -ENOSPC;
	for (unsigned i = 0; i < n; i++) {
		ids[i] = r->free_head;
		r->free_head = r->free_next[ids[i]];
		if (i)
			r->chain_next[ids[i - 1]] = ids[i];
	}
	r->num_free = (uint16_t)(r->num_free - n);
	r->chain_len[ids[0]] = (uint16_t)n;
	return 0;
}

static void publish(struct rig_ring *r, uint16_t head, void *cookie)
{
	r->cookie[head] = cookie;
	r->avail->ring[r->avail_idx & (r->num - 1)] = htole16(head);
	r->avail_idx++;
	/* The entry must be visible before the index that exposes it. */
	if (!r->held)
		__atomic_store_n(&r->avail->idx, htole16(r->avail_idx), __ATOMIC_RELEASE);
}

void rig_ring_hold(struct rig_ring *r, bool hold)
{
	r->held = hold;
	if (hold)
		return;
	__atomic_store_n(&r->avail->idx, htole16(r->avail_idx), __ATOMIC_RELEASE);
	rig_ring_kick_always(r);
}

static void fill_desc(struct vring_desc *d, const struct rig_seg *s,
		      uint16_t next, bool has_next)
{
	uint16_t flags = s->device_writes ? VRING_DESC_F_WRITE : 0;

	if (has_next)
		flags |= VRING_DESC_F_NEXT;
	d->addr = htole64(s->gpa);
	d->len = htole32(s->len);
	d->flags = htole16(flags);
	d->next = htole16(has_next ? next : 0);
}

int rig_ring_add(struct rig_ring *r, const struct rig_seg *segs, unsigned n,
		 bool indirect, void *cookie)
{
	uint16_t ids[RIG_RING_INDIRECT_MAX];
	int err;

	if (n == 0 || n > RIG_RING_INDIRECT_MAX || n > r->num)
		return -EINVAL;
	if (indirect) {
		uint16_t head;
		uint64_t table_gpa;
		struct vring_desc *table;

		err = take_descs(r, 1, &head);
		if (err)
			return err;
		table_gpa = r->indirect_base +
			    (uint64_t)head * RIG_RING_INDIRECT_MAX * sizeof(*table);
		table = rig_mem_ptr(r->mem, table_gpa, n * sizeof(*table));
		for (unsigned i = 0; i < n; i++)
			fill_desc(&table[i], &segs[i], (uint16_t)(i + 1), i + 1 < n);
		r->desc[head].addr = htole64(table_gpa);
		r->desc[head].len = htole32((uint32_t)(n * sizeof(*table)));
		r->desc[head].flags = htole16(VRING_DESC_F_INDIRECT);
		r->desc[head].next = 0;
		publish(r, head, cookie);
		return head;
	}
	err = take_descs(r, n, ids);
	if (err)
		return err;
	for (unsigned i = 0; i < n; i++)
		fill_desc(&r->desc[ids[i]], &segs[i], i + 1 < n ? ids[i + 1] : 0,
			  i + 1 < n);
	publish(r, ids[0], cookie);
	return ids[0];
}

int rig_ring_add_raw(struct rig_ring *r, const struct vring_desc *descs,
		     unsigned n, void *cookie)
{
	uint16_t ids[RIG_RING_INDIRECT_MAX];
	int err;

	if (n > RIG_RING_INDIRECT_MAX)
		return -EINVAL;
	err = take_descs(r, n, ids);
	if (err)
		return err;
	for (unsigned i = 0; i < n; i++) {
		struct vring_desc *d = &r->desc[ids[i]];
		uint16_t next = le16toh(descs[i].next);

		d->addr = descs[i].addr;
		d->len = descs[i].len;
		d->flags = descs[i].flags;

		d->next = next < n ? htole16(ids[next]) : descs[i].next;
	}
	publish(r, ids[0], cookie);
	return ids[0];
}

void rig_ring_publish_head(struct rig_ring *r, uint16_t head)
{
	r->avail->ring[r->avail_idx & (r->num - 1)] = htole16(head);
	r->avail_idx++;
	__atomic_store_n(&r->avail->idx, htole16(r->avail_idx), __ATOMIC_RELEASE);
}

void rig_ring_kick_always(struct rig_ring *r)
{
	uint64_t one = 1;

	r->kicked_idx = r->avail_idx;
	if (r->kick_fd >= 0 && write(r->kick_fd, &one, sizeof(one)) == sizeof(one))
		r->kicks++;
}

void rig_ring_kick(struct rig_ring *r)
{
	uint16_t old = r->kicked_idx;
	bool needed;

	if (old == r->avail_idx || r->held)
		return;
	/* Publish avail->idx before reading the device's suppression state. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (r->event_idx)
		needed = vring_need_event(le16toh(*avail_event_ptr(r)),
					  r->avail_idx, old);
	else
		needed = !(le16toh(__atomic_load_n(&r->used->flags,
						   __ATOMIC_ACQUIRE)) &
			   VRING_USED_F_NO_NOTIFY);
	r->kicked_idx = r->avail_idx;
	if (needed)
		rig_ring_kick_always(r);
}

static void free_chain(struct rig_ring *r, uint16_t head)
{
	uint16_t id = head;

	for (uint16_t i = 0; i < r->chain_len[head]; i++) {
		uint16_t next = r->chain_next[id];

		r->free_next[id] = r->free_head;
		r->free_head = id;
		r->num_free++;
		id = next;
	}
	r->chain_len[head] = 0;
	r->cookie[head] = NULL;
}

int rig_ring_get_used(struct rig_ring *r, uint32_t *len, void **cookie)
{
	uint16_t used_idx = le16toh(__atomic_load_n(&r->used->idx, __ATOMIC_ACQUIRE));
	const struct vring_used_elem *e;
	uint32_t id;

	if (used_idx == r->last_used_idx)
		return -EAGAIN;
	if ((uint16_t)(used_idx - r->last_used_idx) > rig_ring_in_flight(r)) {
		/* More used than ever made available: believe none of it. */
		r->last_used_idx = used_idx;
		return -EPROTO;
	}
	e = &r->used->ring[r->last_used_idx & (r->num - 1)];
	id = le32toh(e->id);
	*len = le32toh(e->len);
	r->last_used_idx++;
	if (id >= r->num || r->chain_len[id] == 0)
		return -EPROTO;
	*cookie = r->cookie[id];
	free_chain(r, (uint16_t)id);
	return (int)id;
}

bool rig_ring_enable_cb(struct rig_ring *r)
{
	if (r->event_idx)
		*used_event_ptr(r) = htole16(r->last_used_idx);
	else
		r->avail->flags = 0;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return le16toh(__atomic_load_n(&r->used->idx, __ATOMIC_ACQUIRE)) !=
	       r->last_used_idx;
}

void rig_ring_clear_call(struct rig_ring *r)
{
	uint64_t count;

	if (r->call_fd >= 0)
		while (read(r->call_fd, &count, sizeof(count)) == sizeof(count))
			;
}
