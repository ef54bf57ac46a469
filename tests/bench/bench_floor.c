/* The physical floor the daemon's CPU per GiB is compared with: one memcpy
 * of the same bytes, in the pieces the daemon handles (64 KiB TX packets),
 * from and to buffers far larger than any cache, so that every piece is
 * cache-cold as guest memory is when the daemon reads a packet. */
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include "bench.h"

#define FLOOR_BUF (256u << 20)
#define FLOOR_PIECE (64u << 10)

double bench_copy_floor(uint64_t bytes)
{
	char *src = mmap(NULL, FLOOR_BUF, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *dst = mmap(NULL, FLOOR_BUF, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	double t0, t1, s_per_gib = -1;

	if (src == MAP_FAILED || dst == MAP_FAILED) {
		perror("vsock-bench: copy floor: mmap");
		goto out;
	}
	/* Faulted in first: the floor is the copy, not the page faults. */
	memset(src, 0x5a, FLOOR_BUF);
	memset(dst, 0xa5, FLOOR_BUF);
	t0 = bench_cpu_s(CLOCK_THREAD_CPUTIME_ID);
	for (uint64_t done = 0; done < bytes; done += FLOOR_PIECE) {
		size_t off = done % FLOOR_BUF;

		memcpy(dst + off, src + off, FLOOR_PIECE);
		/* Keeps the copies: dst is never read. */
		__asm__ volatile("" : : "r"(dst) : "memory");
	}
	t1 = bench_cpu_s(CLOCK_THREAD_CPUTIME_ID);
	s_per_gib = (t1 - t0) / ((double)bytes / (1u << 30));
out:
	if (src != MAP_FAILED)
		munmap(src, FLOOR_BUF);
	if (dst != MAP_FAILED)
		munmap(dst, FLOOR_BUF);
	return s_per_gib;
}
