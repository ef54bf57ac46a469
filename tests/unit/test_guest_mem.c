/* Guest memory mapping and address translation, against memfd regions at
 * non-zero guest-physical bases. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "guest_mem.h"
#include "log.h"

#define PAGE 0x1000ull
#define SIZE (16 * PAGE)
#define GPA_A 0x80000000ull
#define GPA_B (GPA_A + SIZE)          /* contiguous with A */
#define GPA_C 0x100000000ull          /* after a hole */
#define UVA_A 0x7f0000000000ull

static int make_memfd(void)
{
	int fd = memfd_create("guest", MFD_CLOEXEC);

	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 3 * SIZE), 0);
	return fd;
}

static bool fd_is_open(int fd)
{
	return fcntl(fd, F_GETFD) >= 0;
}

/* Three regions of one memfd: A and B adjacent in guest-physical space,
 * C after a hole; C is mapped from a non-page-aligned file offset. */
static void map_three(struct guest_mem *mem, int memfd)
{
	const struct guest_region_desc descs[3] = {
		{.gpa = GPA_A, .size = SIZE, .uva = UVA_A, .mmap_offset = 0},
		{.gpa = GPA_B, .size = SIZE, .uva = UVA_A + SIZE, .mmap_offset = SIZE},
		{.gpa = GPA_C, .size = SIZE - PAGE, .uva = UVA_A + 4 * SIZE,
		 .mmap_offset = 2 * SIZE + 0x10},
	};
	int fds[3] = {dup(memfd), dup(memfd), dup(memfd)};

	assert_int_equal(guest_mem_map(mem, descs, fds, 3), 0);
	assert_int_equal(mem->count, 3);
	for (int i = 0; i < 3; i++)
		assert_false(fd_is_open(fds[i]));
}

static void test_translation(void **state)
{
	struct guest_mem mem = {0};
	int memfd = make_memfd();
	uint8_t *file = mmap(NULL, 3 * SIZE, PROT_READ | PROT_WRITE, MAP_SHARED,
			     memfd, 0);

	(void)state;
	assert_true(file != MAP_FAILED);
	map_three(&mem, memfd);
	/* Writes through the guest mapping land at the right file offsets. */
	memcpy(guest_mem_gpa_ptr(&mem, GPA_A + 5, 3), "abc", 3);
	assert_memory_equal(file + 5, "abc", 3);
	memcpy(guest_mem_gpa_ptr(&mem, GPA_C, 3), "xyz", 3);
	assert_memory_equal(file + 2 * SIZE + 0x10, "xyz", 3);
	assert_ptr_equal(guest_mem_uva_ptr(&mem, UVA_A + SIZE + 7, 1),
			 guest_mem_gpa_ptr(&mem, GPA_B + 7, 1));

	/* Ranges must lie inside one region. */
	assert_non_null(guest_mem_gpa_ptr(&mem, GPA_A, SIZE));
	assert_null(guest_mem_gpa_ptr(&mem, GPA_A, SIZE + 1));
	assert_null(guest_mem_gpa_ptr(&mem, GPA_A - 1, 1));
	assert_null(guest_mem_gpa_ptr(&mem, GPA_C + SIZE - PAGE, 1));
	assert_null(guest_mem_gpa_ptr(&mem, 0, 1));
	assert_null(guest_mem_gpa_ptr(&mem, GPA_A + 8, UINT64_MAX));
	assert_null(guest_mem_uva_ptr(&mem, UVA_A + 2 * SIZE, 1));
	assert_null(guest_mem_uva_ptr(&mem, UVA_A + SIZE - 4, 8));

	guest_mem_unmap(&mem);
	assert_int_equal(mem.count, 0);
	assert_null(guest_mem_gpa_ptr(&mem, GPA_A, 1));
	munmap(file, 3 * SIZE);
	close(memfd);
}

static void test_iov_split_across_regions(void **state)
{
	struct guest_mem mem = {0};
	int memfd = make_memfd();
	struct iovec iov[4];
	unsigned n = 1;

	(void)state;
	map_three(&mem, memfd);
	assert_int_equal(guest_mem_gpa_to_iov(&mem, GPA_B - 10, 30, iov, 4, &n), 0);
	assert_int_equal(n, 3);
	assert_ptr_equal(iov[1].iov_base, guest_mem_gpa_ptr(&mem, GPA_B - 10, 10));
	assert_int_equal(iov[1].iov_len, 10);
	assert_ptr_equal(iov[2].iov_base, guest_mem_gpa_ptr(&mem, GPA_B, 20));
	assert_int_equal(iov[2].iov_len, 20);

	/* Zero length: nothing appended, address not even looked at. */
	assert_int_equal(guest_mem_gpa_to_iov(&mem, 0, 0, iov, 4, &n), 0);
	assert_int_equal(n, 3);

	/* Errors leave *n alone. */
	assert_int_equal(guest_mem_gpa_to_iov(&mem, GPA_B - 10, 30, iov, 4, &n), -E2BIG);
	assert_int_equal(n, 3);
	n = 0;
	assert_int_equal(guest_mem_gpa_to_iov(&mem, GPA_B + SIZE - 4, 8, iov, 4, &n),
			 -EFAULT); /* runs into the hole */
	assert_int_equal(guest_mem_gpa_to_iov(&mem, 0x1000, 8, iov, 4, &n), -EFAULT);
	assert_int_equal(guest_mem_gpa_to_iov(&mem, UINT64_MAX - 4, 8, iov, 4, &n),
			 -EFAULT);
	assert_int_equal(n, 0);
	guest_mem_unmap(&mem);
	close(memfd);
}

static void expect_refused(struct guest_mem *mem, const struct guest_region_desc *d,
			   unsigned count, int memfd)
{
	int fds[GUEST_MEM_MAX_REGIONS + 1];
	unsigned before = mem->count;
	void *probe = guest_mem_gpa_ptr(mem, GPA_A, 1);

	for (unsigned i = 0; i < count; i++)
		fds[i] = dup(memfd);
	assert_true(guest_mem_map(mem, d, fds, count) < 0);
	/* The old table is untouched and every fd passed in is closed. */
	assert_int_equal(mem->count, before);
	assert_ptr_equal(guest_mem_gpa_ptr(mem, GPA_A, 1), probe);
	for (unsigned i = 0; i < count; i++)
		assert_false(fd_is_open(fds[i]));
}

static void test_invalid_tables_refused(void **state)
{
	struct guest_mem mem = {0};
	int memfd = make_memfd();
	const struct guest_region_desc overlap[2] = {
		{.gpa = GPA_A, .size = SIZE, .uva = UVA_A},
		{.gpa = GPA_A + SIZE - 1, .size = SIZE, .uva = UVA_A + SIZE},
	};
	const struct guest_region_desc zero[1] = {{.gpa = GPA_A, .size = 0}};
	const struct guest_region_desc wraps[1] = {
		{.gpa = UINT64_MAX - PAGE, .size = 2 * PAGE, .uva = UVA_A}};
	/* Past the end of the file: touching it would raise SIGBUS. */
	const struct guest_region_desc past_eof[1] = {
		{.gpa = GPA_A, .size = SIZE, .uva = UVA_A, .mmap_offset = 2 * SIZE + PAGE}};

	(void)state;
	map_three(&mem, memfd);
	expect_refused(&mem, overlap, 2, memfd);
	expect_refused(&mem, zero, 1, memfd);
	expect_refused(&mem, wraps, 1, memfd);
	expect_refused(&mem, past_eof, 1, memfd);
	expect_refused(&mem, zero, 0, memfd);      /* no region at all */
	guest_mem_unmap(&mem);
	close(memfd);
}

/* One page per region, each from its own page of the file. */
static void page_regions(struct guest_region_desc *d, unsigned count)
{
	for (unsigned i = 0; i < count; i++)
		d[i] = (struct guest_region_desc){.gpa = GPA_A + i * PAGE, .size = PAGE,
						  .uva = UVA_A + i * PAGE,
						  .mmap_offset = i * PAGE};
}

/* As many regions as the table holds are mapped; one more is refused. */
static void test_region_count_limit(void **state)
{
	struct guest_mem mem = {0};
	struct guest_region_desc d[GUEST_MEM_MAX_REGIONS + 1];
	int fds[GUEST_MEM_MAX_REGIONS];
	int memfd = make_memfd();

	(void)state;
	page_regions(d, GUEST_MEM_MAX_REGIONS + 1);
	for (unsigned i = 0; i < GUEST_MEM_MAX_REGIONS; i++)
		fds[i] = dup(memfd);
	assert_int_equal(guest_mem_map(&mem, d, fds, GUEST_MEM_MAX_REGIONS), 0);
	assert_int_equal(mem.count, GUEST_MEM_MAX_REGIONS);
	expect_refused(&mem, d, GUEST_MEM_MAX_REGIONS + 1, memfd);
	guest_mem_unmap(&mem);
	close(memfd);
}

static void test_bad_fd_refused(void **state)
{
	struct guest_mem mem = {0};
	const struct guest_region_desc d[1] = {{.gpa = GPA_A, .size = SIZE, .uva = UVA_A}};
	int p[2];

	(void)state;
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	close(p[1]);
	assert_true(guest_mem_map(&mem, d, p, 1) < 0);  /* a pipe cannot be mapped */
	assert_int_equal(mem.count, 0);
	assert_false(fd_is_open(p[0]));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_translation),
		cmocka_unit_test(test_iov_split_across_regions),
		cmocka_unit_test(test_invalid_tables_refused),
		cmocka_unit_test(test_region_count_limit),
		cmocka_unit_test(test_bad_fd_refused),
	};

	log_set_level(LOG_LVL_ERROR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
