#include "rig_mem.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define GIB (1ULL << 30)
#define REGION_GAP (64ULL << 10)

int rig_mem_init(struct rig_mem *m, size_t region_size, unsigned count)
{
	memset(m, 0, sizeof(*m));
	m->fd = -1;
	if (count == 0 || count > RIG_MEM_MAX_REGIONS || region_size == 0 ||
	    region_size % 4096 || region_size > GIB)
		return -EINVAL;

	m->total = region_size * count;
	m->fd = memfd_create("rig-guest-ram", MFD_CLOEXEC);
	if (m->fd < 0)
		return -errno;
	if (ftruncate(m->fd, (off_t)m->total) < 0)
		goto fail;
	m->base = mmap(NULL, m->total, PROT_READ | PROT_WRITE, MAP_SHARED,
		       m->fd, 0);
	if (m->base == MAP_FAILED) {
		m->base = NULL;
		goto fail;
	}
	m->count = count;
	for (unsigned i = 0; i < count; i++) {
		struct rig_mem_region *r = &m->regions[i];

		r->gpa = GIB * (i + 1) + REGION_GAP * i;
		r->size = region_size;
		r->file_offset = (uint64_t)region_size * i;
		r->ptr = m->base + r->file_offset;
	}
	return 0;
fail: {
	int err = -errno;

	rig_mem_destroy(m);
	return err;
}
}

void rig_mem_destroy(struct rig_mem *m)
{
	if (m->base)
		munmap(m->base, m->total);
	if (m->fd >= 0)
		close(m->fd);
	memset(m, 0, sizeof(*m));
	m->fd = -1;
}

static uint64_t alloc_in(struct rig_mem_region *r, size_t len, size_t align)
{
	uint64_t start = (r->next_free + align - 1) & ~((uint64_t)align - 1);

	if (start > r->size || r->size - start < len)
		return 0;
	r->next_free = start + len;
	memset(r->ptr + start, 0, len);
	return r->gpa + start;
}

uint64_t rig_mem_alloc(struct rig_mem *m, size_t len, size_t align)
{
	if (len == 0 || align == 0 || (align & (align - 1)))
		return 0;
	for (unsigned tries = 0; tries < m->count; tries++) {
		struct rig_mem_region *r = &m->regions[m->next_region];
		uint64_t gpa;

		m->next_region = (m->next_region + 1) % m->count;
		gpa = alloc_in(r, len, align);
		if (gpa)
			return gpa;
	}
	return 0;
}

void rig_mem_reset_alloc(struct rig_mem *m)
{
	for (unsigned i = 0; i < m->count; i++)
		m->regions[i].next_free = 0;
	m->next_region = 0;
}

static const struct rig_mem_region *find(const struct rig_mem *m, uint64_t gpa,
					 size_t len)
{
	for (unsigned i = 0; i < m->count; i++) {
		const struct rig_mem_region *r = &m->regions[i];

		if (gpa >= r->gpa && gpa - r->gpa <= r->size &&
		    len <= r->size - (gpa - r->gpa))
			return r;
	}
	return NULL;
}

void *rig_mem_ptr(const struct rig_mem *m, uint64_t gpa, size_t len)
{
	const struct rig_mem_region *r = find(m, gpa, len);

	return r ? r->ptr + (gpa - r->gpa) : NULL;
}

uint64_t rig_mem_uva(const struct rig_mem *m, uint64_t gpa)
{
	const struct rig_mem_region *r = find(m, gpa, 0);

	return r ? (uint64_t)(uintptr_t)(r->ptr + (gpa - r->gpa)) : 0;
}

uint64_t rig_mem_unmapped_gpa(const struct rig_mem *m)
{
	/* Inside the gap that follows region 0. */
	return m->regions[0].gpa + m->regions[0].size + REGION_GAP / 2;
}
