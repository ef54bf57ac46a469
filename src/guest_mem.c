#include "guest_mem.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

/* True if [start, start+len) does not wrap around the 64-bit space. */
static bool range_fits(uint64_t start, uint64_t len)
{
	return len <= UINT64_MAX - start;
}

static bool ranges_overlap(uint64_t a, uint64_t a_len, uint64_t b, uint64_t b_len)
{
	return a < b + b_len && b < a + a_len;
}

static int check_desc(const struct guest_region_desc *d, unsigned idx)
{
	if (d->size == 0 || !range_fits(d->gpa, d->size) ||
	    !range_fits(d->uva, d->size) || !range_fits(d->mmap_offset, d->size) ||
	    d->size > SIZE_MAX / 2) {
		log_warn_rl("memory region %u: invalid range gpa=0x%llx size=0x%llx "
			    "uva=0x%llx offset=0x%llx", idx,
			    (unsigned long long)d->gpa, (unsigned long long)d->size,
			    (unsigned long long)d->uva,
			    (unsigned long long)d->mmap_offset);
		return -EINVAL;
	}
	return 0;
}

static int check_no_overlap(const struct guest_region_desc *descs, unsigned count)
{
	for (unsigned i = 0; i < count; i++) {
		for (unsigned j = i + 1; j < count; j++) {
			if (ranges_overlap(descs[i].gpa, descs[i].size,
					   descs[j].gpa, descs[j].size)) {
				log_warn_rl("memory regions %u and %u overlap in "
					    "guest-physical space", i, j);
				return -EINVAL;
			}
		}
	}
	return 0;
}

/* mmap needs a page-aligned offset: map from the page start and skip the
 * head, so any mmap_offset the front-end sends works. */
static int map_region(const struct guest_region_desc *d, int fd,
		      struct guest_region *r)
{
	uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
	uint64_t head = d->mmap_offset % page;
	size_t len = (size_t)(d->size + head);
	struct stat st;
	void *base;

	/* Touching a mapping beyond the end of its file raises SIGBUS: a
	 * region larger than its file would let the front-end (or the guest,
	 * through descriptors) kill the daemon. */
	if (fstat(fd, &st) < 0)
		return -errno;
	if (S_ISREG(st.st_mode) && d->mmap_offset + d->size > (uint64_t)st.st_size)
		return -ERANGE;
	base = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE,
		    fd, (off_t)(d->mmap_offset - head));
	if (base == MAP_FAILED)
		return -errno;
	r->gpa = d->gpa;
	r->size = d->size;
	r->uva = d->uva;
	r->map_base = base;
	r->map_len = len;
	r->hva = (uint8_t *)base + head;
	r->page = (uint64_t)st.st_blksize > page ? (size_t)st.st_blksize : (size_t)page;
	return 0;
}

static void unmap_regions(struct guest_region *regions, unsigned count)
{
	for (unsigned i = 0; i < count; i++)
		munmap(regions[i].map_base, regions[i].map_len);
}

int guest_mem_map(struct guest_mem *mem, const struct guest_region_desc *descs,
		  const int *fds, unsigned count)
{
	struct guest_mem fresh = {.count = 0};
	int ret = 0;

	if (count == 0 || count > GUEST_MEM_MAX_REGIONS) {
		log_warn_rl("memory table with %u regions (1..%u allowed)", count,
			    GUEST_MEM_MAX_REGIONS);
		ret = -EINVAL;
		goto close_fds;
	}
	for (unsigned i = 0; i < count && ret == 0; i++)
		ret = check_desc(&descs[i], i);
	if (ret == 0)
		ret = check_no_overlap(descs, count);
	for (unsigned i = 0; i < count && ret == 0; i++) {
		ret = map_region(&descs[i], fds[i], &fresh.regions[i]);
		if (ret < 0)
			log_warn_rl("memory region %u: mapping 0x%llx bytes failed: %s",
				    i, (unsigned long long)descs[i].size,
				    strerror(-ret));
		else
			fresh.count++;
	}
	if (ret < 0)
		unmap_regions(fresh.regions, fresh.count);
	else {
		guest_mem_unmap(mem);
		*mem = fresh;
	}
close_fds:
	for (unsigned i = 0; i < count; i++)
		close(fds[i]);
	return ret;
}

void guest_mem_unmap(struct guest_mem *mem)
{
	unmap_regions(mem->regions, mem->count);
	mem->count = 0;
	mem->faulted = 0;
}

static __thread struct guest_mem *served;

void guest_mem_serve(struct guest_mem *mem)
{
	served = mem;
}

/* Replaces the page of r that holds addr with a private zero page.
 * Async-signal-safe: mmap is a plain system call. */
static bool patch_page(const struct guest_region *r, uintptr_t addr)
{
	uintptr_t base = (uintptr_t)r->map_base;
	uintptr_t start = base + (addr - base) / r->page * r->page;
	size_t len = r->page < base + r->map_len - start ? r->page : base + r->map_len - start;

	return mmap((void *)start, len, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) != MAP_FAILED;
}

static void on_sigbus(int sig, siginfo_t *info, void *ctx)
{
	uintptr_t addr = (uintptr_t)info->si_addr;
	struct guest_mem *mem = served;

	(void)ctx;
	for (unsigned i = 0; mem && i < mem->count; i++) {
		const struct guest_region *r = &mem->regions[i];

		if (addr - (uintptr_t)r->map_base < r->map_len && patch_page(r, addr)) {
			mem->faulted = 1;
			return;
		}
	}
	/* Not ours: returning re-runs the access, which now ends the process
	 * as SIGBUS always did. */
	signal(sig, SIG_DFL);
}

int guest_mem_catch_sigbus(void)
{
	struct sigaction sa = {.sa_sigaction = on_sigbus, .sa_flags = SA_SIGINFO};

	sigemptyset(&sa.sa_mask);
	return sigaction(SIGBUS, &sa, NULL) < 0 ? -errno : 0;
}

static const struct guest_region *find_gpa(const struct guest_mem *mem,
					   uint64_t gpa)
{
	for (unsigned i = 0; i < mem->count; i++) {
		const struct guest_region *r = &mem->regions[i];

		if (gpa >= r->gpa && gpa - r->gpa < r->size)
			return r;
	}
	return NULL;
}

void *guest_mem_gpa_ptr(const struct guest_mem *mem, uint64_t gpa, uint64_t len)
{
	const struct guest_region *r = find_gpa(mem, gpa);

	if (!r || len > r->size - (gpa - r->gpa))
		return NULL;
	return r->hva + (gpa - r->gpa);
}

void *guest_mem_uva_ptr(const struct guest_mem *mem, uint64_t uva, uint64_t len)
{
	for (unsigned i = 0; i < mem->count; i++) {
		const struct guest_region *r = &mem->regions[i];

		if (uva >= r->uva && uva - r->uva < r->size) {
			if (len > r->size - (uva - r->uva))
				return NULL;
			return r->hva + (uva - r->uva);
		}
	}
	return NULL;
}

int guest_mem_gpa_to_iov(const struct guest_mem *mem, uint64_t gpa, uint64_t len,
			 struct iovec *iov, unsigned max, unsigned *n)
{
	unsigned used = *n;

	if (!range_fits(gpa, len))
		return -EFAULT;
	while (len > 0) {
		const struct guest_region *r = find_gpa(mem, gpa);
		uint64_t chunk;

		if (!r)
			return -EFAULT;
		if (used >= max)
			return -E2BIG;
		chunk = r->size - (gpa - r->gpa);
		if (chunk > len)
			chunk = len;
		iov[used].iov_base = r->hva + (gpa - r->gpa);
		iov[used].iov_len = (size_t)chunk;
		used++;
		gpa += chunk;
		len -= chunk;
	}
	*n = used;
	return 0;
}
