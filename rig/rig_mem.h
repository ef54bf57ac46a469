/* Guest RAM for the rig: one memfd, mapped once in this process, presented
 * to the back-end as several vhost-user memory regions with non-zero and
 * non-contiguous guest-physical bases (as a real VM's RAM below and above a
 * PCI hole would be).  A bump allocator hands out guest-physical ranges that
 * never straddle a region, spreading allocations over the regions in turn. */
#ifndef RIG_MEM_H
#define RIG_MEM_H

#include <stddef.h>
#include <stdint.h>

#define RIG_MEM_MAX_REGIONS 8

struct rig_mem_region {
	uint64_t gpa;          /* guest-physical base */
	uint64_t size;
	uint64_t file_offset;  /* where the region starts in the memfd */
	uint8_t *ptr;          /* where it is mapped here (also its "uva") */
	uint64_t next_free;    /* bump allocator, offset inside the region */
};

struct rig_mem {
	int fd;                /* memfd, shared with the back-end */
	uint8_t *base;
	size_t total;
	unsigned count;
	unsigned next_region;  /* round-robin cursor of the allocator */
	struct rig_mem_region regions[RIG_MEM_MAX_REGIONS];
};

/* Creates count regions of region_size bytes each (a multiple of 4 KiB).
 * Region i starts at guest-physical 1 GiB * (i + 1) + 64 KiB * i, so every
 * base is non-zero, none is aligned the same way and there are gaps.
 * Returns 0 or -errno. */
int rig_mem_init(struct rig_mem *m, size_t region_size, unsigned count);
void rig_mem_destroy(struct rig_mem *m);

/* Allocates len bytes aligned to align (power of two) and zeroes them.
 * Returns the guest-physical address, or 0 when no region has room. */
uint64_t rig_mem_alloc(struct rig_mem *m, size_t len, size_t align);
/* Forgets every allocation (the memory keeps its contents). */
void rig_mem_reset_alloc(struct rig_mem *m);

/* Pointer to [gpa, gpa + len) if it lies in one region, else NULL. */
void *rig_mem_ptr(const struct rig_mem *m, uint64_t gpa, size_t len);
/* The front-end virtual address (our pointer value) of a gpa, 0 if unmapped. */
uint64_t rig_mem_uva(const struct rig_mem *m, uint64_t gpa);
/* A guest-physical address guaranteed to lie outside every region. */
uint64_t rig_mem_unmapped_gpa(const struct rig_mem *m);

#endif
