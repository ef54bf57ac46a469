/* Guest memory as mapped from the front-end's SET_MEM_TABLE regions, and the
 * translations the rings need: guest-physical addresses (descriptors) and
 * front-end virtual addresses (SET_VRING_ADDR) to pointers in this process.
 * Nothing here trusts an address or a length: every translation checks that
 * the whole range lies inside mapped regions.
 *
 * Nor is the file behind a region trusted to stay as large as it was when
 * mapped: a front-end that shrinks it makes the next access there raise
 * SIGBUS, which would kill every VM of the process.  The handler
 * (guest_mem_catch_sigbus()) maps zero pages over the part that faulted, if
 * it lies in the guest memory the faulting thread serves (guest_mem_serve()),
 * and marks that memory faulted: the access completes on the zero page, and
 * the device drops that front-end at its next check.  Faults anywhere else
 * keep their default effect. */
#ifndef VSOCK_GUEST_MEM_H
#define VSOCK_GUEST_MEM_H

#include <stdbool.h>
#include <stddef.h>
#include <signal.h>
#include <stdint.h>
#include <sys/uio.h>

#define GUEST_MEM_MAX_REGIONS 32

struct guest_region {
	uint64_t gpa;      /* guest-physical start */
	uint64_t size;
	uint64_t uva;      /* front-end virtual start */
	uint8_t *hva;      /* where gpa maps in this process */
	void *map_base;    /* what mmap returned (mmap_offset may be non-zero) */
	size_t map_len;
	size_t page;       /* the file's page size (huge pages on hugetlbfs) */
};

struct guest_mem {
	unsigned count;
	struct guest_region regions[GUEST_MEM_MAX_REGIONS];
	volatile sig_atomic_t faulted; /* set by the SIGBUS handler */
};

/* Description of one region as received in SET_MEM_TABLE. */
struct guest_region_desc {
	uint64_t gpa;
	uint64_t size;
	uint64_t uva;
	uint64_t mmap_offset;
};

/* Maps every region (one fd each; fds are always closed by this call).
 * Replaces nothing on failure: *mem is left as it was and -errno returned. */
int guest_mem_map(struct guest_mem *mem, const struct guest_region_desc *descs,
		  const int *fds, unsigned count);
void guest_mem_unmap(struct guest_mem *mem);

/* Installs the SIGBUS handler (once, at start-up).  Returns 0 or -errno. */
int guest_mem_catch_sigbus(void);
/* The calling thread accesses mem (and no other guest memory) from now on. */
void guest_mem_serve(struct guest_mem *mem);

/* Pointer to [gpa, gpa+len) if it lies inside a single region, else NULL. */
void *guest_mem_gpa_ptr(const struct guest_mem *mem, uint64_t gpa, uint64_t len);
/* Same for a front-end virtual address. */
void *guest_mem_uva_ptr(const struct guest_mem *mem, uint64_t uva, uint64_t len);

/* Appends iovecs covering [gpa, gpa+len), split at region boundaries, to
 * iov[*n..max).  Returns 0, or -EFAULT (unmapped or overflowing range) or
 * -E2BIG (more than max iovecs needed); *n is unchanged on error. */
int guest_mem_gpa_to_iov(const struct guest_mem *mem, uint64_t gpa, uint64_t len,
			 struct iovec *iov, unsigned max, unsigned *n);

#endif
