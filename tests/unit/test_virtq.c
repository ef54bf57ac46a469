/* Split-ring mechanics against rings built by hand in a memfd that is mapped
 * as two guest_mem regions with non-zero guest-physical bases, contiguous in
 * guest-physical space so buffers can straddle the boundary. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <linux/virtio_ring.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "log.h"
#include "virtq.h"

#define REGION_SIZE 0x10000ull
#define GPA_A 0x100000ull            /* region A */
#define GPA_B (GPA_A + REGION_SIZE)  /* region B, right after A */
#define UVA_BASE 0x7f0000000000ull
#define RING_GPA GPA_A
#define DESC_OFF 0x0
#define AVAIL_OFF 0x1000
#define USED_OFF 0x2000
#define BUF_GPA (GPA_A + 0x4000)     /* scratch buffers */
#define NUM 8

struct ring_fixture {
	struct guest_mem mem;
	struct virtq vq;
	struct vq_chain chain;
	uint16_t avail_idx;          /* driver's next avail index */
};

static void *gptr(struct ring_fixture *f, uint64_t gpa)
{
	return guest_mem_gpa_ptr(&f->mem, gpa, 1);
}

static struct vring_desc *desc_at(struct ring_fixture *f, uint64_t table_gpa,
				  unsigned i)
{
	return (struct vring_desc *)gptr(f, table_gpa + i * sizeof(struct vring_desc));
}

static void set_desc_in(struct ring_fixture *f, uint64_t table_gpa, unsigned i,
			uint64_t gpa, uint32_t len, uint16_t flags, uint16_t next)
{
	struct vring_desc *d = desc_at(f, table_gpa, i);

	d->addr = htole64(gpa);
	d->len = htole32(len);
	d->flags = htole16(flags);
	d->next = htole16(next);
}

static void set_desc(struct ring_fixture *f, unsigned i, uint64_t gpa,
		     uint32_t len, uint16_t flags, uint16_t next)
{
	set_desc_in(f, RING_GPA + DESC_OFF, i, gpa, len, flags, next);
}

static struct vring_avail *avail(struct ring_fixture *f)
{
	return gptr(f, RING_GPA + AVAIL_OFF);
}

static struct vring_used *used(struct ring_fixture *f)
{
	return gptr(f, RING_GPA + USED_OFF);
}

static void publish(struct ring_fixture *f, uint16_t head)
{
	avail(f)->ring[f->avail_idx % NUM] = htole16(head);
	f->avail_idx++;
	avail(f)->idx = htole16(f->avail_idx);
}

static uint16_t *used_event(struct ring_fixture *f)
{
	return &avail(f)->ring[NUM];
}

static uint16_t *avail_event(struct ring_fixture *f)
{
	return (uint16_t *)&used(f)->ring[NUM];
}

/* Number of signals the device sent since the last call. */
static uint64_t signals(struct ring_fixture *f)
{
	uint64_t n = 0;

	if (read(f->vq.call_fd, &n, sizeof(n)) < 0)
		assert_int_equal(errno, EAGAIN);
	return n;
}

static int setup(void **state)
{
	struct ring_fixture *f = calloc(1, sizeof(*f));
	int fd = memfd_create("guest", MFD_CLOEXEC);
	struct guest_region_desc descs[2] = {
		{.gpa = GPA_A, .size = REGION_SIZE, .uva = UVA_BASE, .mmap_offset = 0},
		{.gpa = GPA_B, .size = REGION_SIZE, .uva = UVA_BASE + REGION_SIZE,
		 .mmap_offset = REGION_SIZE},
	};
	int fds[2];

	assert_non_null(f);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 2 * REGION_SIZE), 0);
	fds[0] = fd;
	fds[1] = dup(fd);
	assert_int_equal(guest_mem_map(&f->mem, descs, fds, 2), 0);

	virtq_init(&f->vq, "test");
	f->vq.num = NUM;
	f->vq.desc_uva = UVA_BASE + DESC_OFF;
	f->vq.avail_uva = UVA_BASE + AVAIL_OFF;
	f->vq.used_uva = UVA_BASE + USED_OFF;
	f->vq.addr_set = true;
	f->vq.started = true;
	f->vq.enabled = true;
	f->vq.kick_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	f->vq.call_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	assert_true(virtq_translate(&f->vq, &f->mem));
	assert_true(virtq_ready(&f->vq));
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct ring_fixture *f = *state;

	close(f->vq.kick_fd);
	close(f->vq.call_fd);
	guest_mem_unmap(&f->mem);
	free(f);
	return 0;
}

static void expect_bad_chain(struct ring_fixture *f, uint16_t head)
{
	assert_int_equal(virtq_pop(&f->vq, &f->chain), VQ_POP_BAD_CHAIN);
	assert_int_equal(f->chain.head, head);
	/* The bad chain is returned to the guest, and the ring goes on. */
	virtq_push(&f->vq, head, 0);
	assert_int_equal(le16toh(used(f)->idx), f->vq.used_idx);
	assert_int_equal(le32toh(used(f)->ring[(f->vq.used_idx - 1) % NUM].id), head);
	assert_false(f->vq.broken);
}

static void test_simple_chain(void **state)
{
	struct ring_fixture *f = *state;

	assert_int_equal(virtq_pop(&f->vq, &f->chain), VQ_POP_EMPTY);
	set_desc(f, 3, BUF_GPA, 100, 0, 0);
	publish(f, 3);
	assert_true(virtq_has_avail(&f->vq));
	assert_int_equal(virtq_pop(&f->vq, &f->chain), VQ_POP_OK);
	assert_int_equal(f->chain.head, 3);
	assert_int_equal(f->chain.nr_out, 1);
	assert_int_equal(f->chain.nr_in, 0);
	assert_int_equal(f->chain.out_len, 100);
	assert_ptr_equal(f->chain.iov[0].iov_base, gptr(f, BUF_GPA));
	assert_int_equal(f->chain.iov[0].iov_len, 100);
	assert_int_equal(virtq_pop(&f->vq, &f->chain), VQ_POP_EMPTY);

	virtq_push(&f->vq, 3, 42);
	assert_int_equal(le16toh(used(f)->idx), 1);
	assert_int_equal(le32toh(used(f)->ring[0].id), 3);
	assert_int_equal(le32toh(used(f)->ring[0].len), 42);
}

/* A 44-byte header and a payload spread over several descriptors, then
 * writable buffers: the shape Linux >= 6.17 uses for big TX packets. */
static void test_split_chain(void **state)
{
	struct ring_fixture *f = *state;

	set_desc(f, 0, BUF_GPA, 44, VRING_DESC_F_NEXT, 5);
	set_desc(f, 5, BUF_GPA + 0x100, 1000, VRING_DESC_F_NEXT, 2);
	set_desc(f, 2, BUF_GPA + 0x800, 2000, VRING_DESC_F_NEXT, 7);
	set_desc(f, 7, BUF_GPA + 0x1000, 300, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 1);
	set_desc(f, 1, BUF_GPA + 0x2000, 400, VRING_DESC_F_WRITE, 0);
	publish(f, 0);
	assert_int_equal(virtq_pop(&f->vq, &f->chain), VQ_POP_OK);
	assert_int_equal(f->chain.nr_out, 3);
	assert_int_equal(f->chain.nr_in, 2);
	assert_int_equal(f->chain.out_len, 3044);
	assert_int_equal(f->chain.in_len, 700);
	assert_ptr_equal(f->chain.iov[1].iov_base, gptr(f, BUF_GPA + 0x100));
	assert_int_equal(f->chain.iov[2].iov_len, 2000);
	assert_ptr_equal(f->chain.iov[3].iov_base, gptr(f, BUF_GPA + 0x1000));
	assert_int_equal(f->chain.iov[4].iov_len, 400);
}

static void test_buffer_across_regions(void **state)
{
	struct ring_fixture *f = *state;

	set_desc(f, 0, GPA_B - 0x10, 0x30, VRING_DESC_F_WRITE, 0);
	publish(f, 0);
	assert_int_equal(virtq_pop(&f->vq, &f->chain), VQ_POP_OK);
	assert_int_equal(f->chain.nr_in, 2);
	assert_int_equal(f->chain.in_len, 0x30);
	assert_ptr_equal(f->chain.iov[0].iov_base, gptr(f, GPA_B - 0x10));
	assert_int_equal(f->chain.iov[0].iov_len, 0x10);
	assert_ptr_equal(f->chain.iov[1].iov_base, gptr(f, GPA_B));
	assert_int_equal(f->chain.iov[1].iov_len, 0x20);
}

static void test_zero_length_descriptors(void **state)
{
	struct ring_fixture *f = *state;

	set_desc(f, 0, 0xdead0000, 0, VRING_DESC_F_NEXT, 1);
	set_desc(f, 1, BUF_GPA, 8, VRING_DESC_F_NEXT, 2);
	set_desc(f, 2, BUF_GPA, 0, VRING_DESC_F_WRITE, 0);
	publish(f, 0);
	assert_int_equal(virtq_pop(&f->vq, &f->chain), VQ_POP_OK);
	assert_int_equal(f->chain.nr_out, 1);
	assert_int_equal(f->chain.nr_in, 0);
	assert_int_equal(f->chain.out_len, 8);
}

static void test_indirect(void **state)
{
	struct ring_fixture *f = *state;
	uint64_t table = BUF_GPA + 0x3000;

	f->vq.indirect = true;
	set_desc_in(f, table, 0, BUF_GPA, 44, VRING_DESC_F_NEXT, 2);
	set_desc_in(f, table, 2, BUF_GPA + 0x100, 10, VRING_DESC_F_NEXT, 1);
	set_desc_in(f, table, 1, BUF_GPA + 0x200, 4096, VRING_DESC_F_WRITE, 0);
	set_desc(f, 4, table, 3 * sizeof(struct vring_desc), VRING_DESC_F_INDIRECT, 0);
	publish(f, 4);
	assert_int_equal(virtq_pop(&f->vq, &f->chain), VQ_POP_OK);
	assert_int_equal(f->chain.head, 4);
	assert_int_equal(f->chain.nr_out, 2);
	assert_int_equal(f->chain.nr_in, 1);
	assert_int_equal(f->chain.out_len, 54);
	assert_int_equal(f->chain.in_len, 4096);
	assert_ptr_equal(f->chain.iov[2].iov_base, gptr(f, BUF_GPA + 0x200));

	/* Same chain without INDIRECT_DESC negotiated is malformed. */
	f->vq.indirect = false;
	publish(f, 4);
	expect_bad_chain(f, 4);
}

static void test_indirect_malformed(void **state)
{
	struct ring_fixture *f = *state;
	uint64_t table = BUF_GPA + 0x3000;

	f->vq.indirect = true;
	set_desc_in(f, table, 0, BUF_GPA, 44, 0, 0);
	/* Length not a multiple of 16, zero length, outside memory. */
	set_desc(f, 0, table, 17, VRING_DESC_F_INDIRECT, 0);
	publish(f, 0);
	expect_bad_chain(f, 0);
	set_desc(f, 0, table, 0, VRING_DESC_F_INDIRECT, 0);
	publish(f, 0);
	expect_bad_chain(f, 0);
	set_desc(f, 0, GPA_B + REGION_SIZE - 16, 32, VRING_DESC_F_INDIRECT, 0);
	publish(f, 0);
	expect_bad_chain(f, 0);
	/* INDIRECT together with NEXT. */
	set_desc(f, 0, table, 16, VRING_DESC_F_INDIRECT | VRING_DESC_F_NEXT, 1);
	set_desc(f, 1, BUF_GPA, 4, 0, 0);
	publish(f, 0);
	expect_bad_chain(f, 0);
	/* Nested indirect table. */
	set_desc_in(f, table, 0, table, 16, VRING_DESC_F_INDIRECT, 0);
	set_desc(f, 0, table, 16, VRING_DESC_F_INDIRECT, 0);
	publish(f, 0);
	expect_bad_chain(f, 0);
	/* Loop and out-of-range next inside the table. */
	set_desc_in(f, table, 0, BUF_GPA, 4, VRING_DESC_F_NEXT, 1);
	set_desc_in(f, table, 1, BUF_GPA, 4, VRING_DESC_F_NEXT, 0);
	set_desc(f, 0, table, 32, VRING_DESC_F_INDIRECT, 0);
	publish(f, 0);
	expect_bad_chain(f, 0);
	set_desc_in(f, table, 1, BUF_GPA, 4, VRING_DESC_F_NEXT, 2);
	publish(f, 0);
	expect_bad_chain(f, 0);
}

static void test_loop(void **state)
{
	struct ring_fixture *f = *state;

	set_desc(f, 0, BUF_GPA, 4, VRING_DESC_F_NEXT, 1);
	set_desc(f, 1, BUF_GPA, 4, VRING_DESC_F_NEXT, 0);
	publish(f, 0);
	expect_bad_chain(f, 0);
	/* Self loop of zero-length descriptors: bounded too. */
	set_desc(f, 6, BUF_GPA, 0, VRING_DESC_F_NEXT, 6);
	publish(f, 6);
	expect_bad_chain(f, 6);
}

static void test_out_of_range(void **state)
{
	struct ring_fixture *f = *state;

	set_desc(f, 0, BUF_GPA, 4, VRING_DESC_F_NEXT, NUM);   /* next >= num */
	publish(f, 0);
	expect_bad_chain(f, 0);
	set_desc(f, 0, 0x1000, 4, 0, 0);                        /* below memory */
	publish(f, 0);
	expect_bad_chain(f, 0);
	set_desc(f, 0, GPA_B + REGION_SIZE - 8, 16, 0, 0);     /* runs off the end */
	publish(f, 0);
	expect_bad_chain(f, 0);
	set_desc(f, 0, BUF_GPA, 0xffffffff, 0, 0);              /* huge length */
	publish(f, 0);
	expect_bad_chain(f, 0);
	set_desc(f, 0, UINT64_MAX - 2, 8, 0, 0);                /* wraps */
	publish(f, 0);
	expect_bad_chain(f, 0);
}

static void test_writable_before_readable(void **state)
{
	struct ring_fixture *f = *state;

	set_desc(f, 0, BUF_GPA, 4, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 1);
	set_desc(f, 1, BUF_GPA, 4, 0, 0);
	publish(f, 0);
	expect_bad_chain(f, 0);
}

static void test_too_many_segments(void **state)
{
	struct ring_fixture *f = *state;
	uint64_t table = GPA_B;
	unsigned n = VQ_CHAIN_MAX_SEGS + 1;

	f->vq.indirect = true;
	for (unsigned i = 0; i < n; i++)
		set_desc_in(f, table, i, BUF_GPA + i, 1,
			    i + 1 < n ? VRING_DESC_F_NEXT : 0, (uint16_t)(i + 1));
	set_desc(f, 0, table, n * sizeof(struct vring_desc), VRING_DESC_F_INDIRECT, 0);
	publish(f, 0);
	expect_bad_chain(f, 0);
	/* One fewer fits exactly. */
	set_desc_in(f, table, n - 2, BUF_GPA, 1, 0, 0);
	publish(f, 0);
	assert_int_equal(virtq_pop(&f->vq, &f->chain), VQ_POP_OK);
	assert_int_equal(f->chain.nr_out, VQ_CHAIN_MAX_SEGS);
}

static void test_avail_idx_jump_breaks_ring(void **state)
{
	struct ring_fixture *f = *state;

	set_desc(f, 0, BUF_GPA, 4, 0, 0);
	avail(f)->idx = htole16(NUM + 1);
	assert_int_equal(virtq_pop(&f->vq, &f->chain), VQ_POP_BROKEN);
	assert_true(f->vq.broken);
	assert_false(virtq_ready(&f->vq));
	/* Broken stays broken even if the index looks sane again. */
	avail(f)->idx = htole16(1);
	assert_int_equal(virtq_pop(&f->vq, &f->chain), VQ_POP_BROKEN);
	virtq_push(&f->vq, 0, 0);
	assert_int_equal(used(f)->idx, 0);
}

static void test_head_out_of_range_breaks_ring(void **state)
{
	struct ring_fixture *f = *state;

	publish(f, NUM);
	assert_int_equal(virtq_pop(&f->vq, &f->chain), VQ_POP_BROKEN);
	assert_true(f->vq.broken);
}

static void test_index_wrap_around(void **state)
{
	struct ring_fixture *f = *state;

	f->avail_idx = 65533;
	avail(f)->idx = htole16(65533);
	f->vq.last_avail_idx = 65533;
	used(f)->idx = htole16(65533);
	f->vq.used_idx = 65533;
	for (uint16_t i = 0; i < 6; i++) {
		set_desc(f, i, BUF_GPA + i * 16u, 16, 0, 0);
		publish(f, i);
	}
	assert_int_equal(f->avail_idx, 3);
	for (uint16_t i = 0; i < 6; i++) {
		assert_int_equal(virtq_pop(&f->vq, &f->chain), VQ_POP_OK);
		assert_int_equal(f->chain.head, i);
		virtq_push(&f->vq, i, i);
	}
	assert_int_equal(virtq_pop(&f->vq, &f->chain), VQ_POP_EMPTY);
	assert_int_equal(f->vq.last_avail_idx, 3);
	assert_int_equal(le16toh(used(f)->idx), 3);
	/* Used slot of the 6th push: (65533 + 5) % NUM. */
	assert_int_equal(le32toh(used(f)->ring[2].id), 5);
}

static void test_unpop(void **state)
{
	struct ring_fixture *f = *state;

	set_desc(f, 2, BUF_GPA, 4, 0, 0);
	set_desc(f, 3, BUF_GPA, 8, 0, 0);
	publish(f, 2);
	publish(f, 3);
	assert_int_equal(virtq_pop(&f->vq, &f->chain), VQ_POP_OK);
	assert_int_equal(f->chain.head, 2);
	virtq_unpop(&f->vq);
	assert_int_equal(virtq_pop(&f->vq, &f->chain), VQ_POP_OK);
	assert_int_equal(f->chain.head, 2);
	assert_int_equal(virtq_pop(&f->vq, &f->chain), VQ_POP_OK);
	assert_int_equal(f->chain.head, 3);
	assert_int_equal(f->chain.out_len, 8);
}

/* Pushes n chains (already published) and returns signals after notify. */
static uint64_t push_and_notify(struct ring_fixture *f, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		set_desc(f, 0, BUF_GPA, 4, 0, 0);
		publish(f, 0);
		assert_int_equal(virtq_pop(&f->vq, &f->chain), VQ_POP_OK);
		virtq_push(&f->vq, 0, 0);
	}
	virtq_notify(&f->vq);
	return signals(f);
}

static void test_notify_batches(void **state)
{
	struct ring_fixture *f = *state;

	assert_int_equal(push_and_notify(f, 5), 1);
	virtq_notify(&f->vq);      /* nothing new pushed */
	assert_int_equal(signals(f), 0);
	assert_int_equal(push_and_notify(f, 1), 1);
}

static void test_notify_no_interrupt_flag(void **state)
{
	struct ring_fixture *f = *state;

	avail(f)->flags = htole16(VRING_AVAIL_F_NO_INTERRUPT);
	assert_int_equal(push_and_notify(f, 2), 0);
	/* NOTIFY_ON_EMPTY: everything consumed and returned -> signal anyway. */
	f->vq.notify_on_empty = true;
	assert_int_equal(push_and_notify(f, 1), 1);
	/* ... but not while the guest still has buffers queued. */
	set_desc(f, 1, BUF_GPA, 4, 0, 0);
	publish(f, 1);
	publish(f, 1);
	assert_int_equal(virtq_pop(&f->vq, &f->chain), VQ_POP_OK);
	virtq_push(&f->vq, 1, 0);
	virtq_notify(&f->vq);
	assert_int_equal(signals(f), 0);
	assert_int_equal(virtq_pop(&f->vq, &f->chain), VQ_POP_OK);
	virtq_push(&f->vq, 1, 0);
	virtq_notify(&f->vq);
	assert_int_equal(signals(f), 1);
	f->vq.notify_on_empty = false;
	avail(f)->flags = 0;
	assert_int_equal(push_and_notify(f, 1), 1);
}

static void check_event_idx(struct ring_fixture *f, uint16_t start)
{
	f->avail_idx = start;
	avail(f)->idx = htole16(start);
	f->vq.last_avail_idx = start;
	used(f)->idx = htole16(start);
	virtq_sync_used_idx(&f->vq);
	assert_int_equal(f->vq.used_idx, start);
	f->vq.event_idx = true;

	/* First signal after a (re)start is unconditional. */
	*used_event(f) = htole16((uint16_t)(start + 100));
	assert_int_equal(push_and_notify(f, 1), 1);
	/* Guest asks to hear when used entry start+3 is filled (idx passes it). */
	*used_event(f) = htole16((uint16_t)(start + 3));
	assert_int_equal(push_and_notify(f, 1), 0);   /* used idx start+2 */
	assert_int_equal(push_and_notify(f, 1), 0);   /* start+3: not yet past */
	assert_int_equal(push_and_notify(f, 1), 1);   /* start+4 crosses it */
	assert_int_equal(push_and_notify(f, 3), 0);   /* event already behind */
	*used_event(f) = htole16((uint16_t)(start + 7));
	assert_int_equal(push_and_notify(f, 2), 1);   /* 7 -> 9 crosses 7 */
}

static void test_event_idx_math(void **state)
{
	check_event_idx(*state, 100);
}

static void test_event_idx_math_wraps(void **state)
{
	check_event_idx(*state, 65533);
}

static void test_kick_suppression_flags(void **state)
{
	struct ring_fixture *f = *state;

	virtq_disable_kicks(&f->vq);
	assert_true(le16toh(used(f)->flags) & VRING_USED_F_NO_NOTIFY);
	assert_false(virtq_enable_kicks(&f->vq));
	assert_false(le16toh(used(f)->flags) & VRING_USED_F_NO_NOTIFY);

	virtq_disable_kicks(&f->vq);
	set_desc(f, 0, BUF_GPA, 4, 0, 0);
	publish(f, 0);   /* arrives while kicks are off */
	assert_true(virtq_enable_kicks(&f->vq));
}

static void test_kick_suppression_event_idx(void **state)
{
	struct ring_fixture *f = *state;

	f->vq.event_idx = true;
	virtq_disable_kicks(&f->vq);
	assert_int_equal(used(f)->flags, 0);
	set_desc(f, 0, BUF_GPA, 4, 0, 0);
	publish(f, 0);
	publish(f, 0);
	assert_int_equal(virtq_pop(&f->vq, &f->chain), VQ_POP_OK);
	assert_true(virtq_enable_kicks(&f->vq));
	assert_int_equal(le16toh(*avail_event(f)), 1);
	assert_int_equal(virtq_pop(&f->vq, &f->chain), VQ_POP_OK);
	assert_false(virtq_enable_kicks(&f->vq));
	assert_int_equal(le16toh(*avail_event(f)), 2);
}

static void test_translate_refuses_bad_rings(void **state)
{
	struct ring_fixture *f = *state;

	f->vq.used_uva = UVA_BASE + 2 * REGION_SIZE - 8;  /* runs off the end */
	assert_false(virtq_translate(&f->vq, &f->mem));
	assert_false(virtq_ready(&f->vq));
	assert_int_equal(virtq_pop(&f->vq, &f->chain), VQ_POP_EMPTY);
	f->vq.used_uva = UVA_BASE + USED_OFF;
	f->vq.num = 8192;  /* descriptor table now runs off region B */
	f->vq.desc_uva = UVA_BASE + REGION_SIZE;
	assert_false(virtq_translate(&f->vq, &f->mem));
	f->vq.num = NUM;
	assert_true(virtq_translate(&f->vq, &f->mem));
}

/* A region whose uva is not aligned like its mapping: a ring address that
 * is aligned as a uva lands misaligned in our address space, and must be
 * refused rather than accessed with misaligned atomics. */
static void test_translate_refuses_misaligned_mapping(void **state)
{
	struct ring_fixture *f = *state;
	struct guest_mem mem = {.count = 0};
	int fd = memfd_create("odd", MFD_CLOEXEC);
	const struct guest_region_desc odd = {
		.gpa = GPA_A, .size = REGION_SIZE, .uva = UVA_BASE + 8, .mmap_offset = 0};

	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, REGION_SIZE), 0);
	assert_int_equal(guest_mem_map(&mem, &odd, &fd, 1), 0);
	/* 16-aligned uvas inside the region: hva = base + (uva - region uva). */
	f->vq.desc_uva = UVA_BASE + 16 + DESC_OFF;
	f->vq.avail_uva = UVA_BASE + 16 + AVAIL_OFF;
	f->vq.used_uva = UVA_BASE + 16 + USED_OFF;
	assert_false(virtq_translate(&f->vq, &mem));
	assert_false(virtq_ready(&f->vq));
	guest_mem_unmap(&mem);
}

static void test_sync_used_idx(void **state)
{
	struct ring_fixture *f = *state;

	used(f)->idx = htole16(1234);
	virtq_sync_used_idx(&f->vq);
	assert_int_equal(f->vq.used_idx, 1234);
	assert_false(f->vq.signalled_used_valid);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T(test_simple_chain),
		T(test_split_chain),
		T(test_buffer_across_regions),
		T(test_zero_length_descriptors),
		T(test_indirect),
		T(test_indirect_malformed),
		T(test_loop),
		T(test_out_of_range),
		T(test_writable_before_readable),
		T(test_too_many_segments),
		T(test_avail_idx_jump_breaks_ring),
		T(test_head_out_of_range_breaks_ring),
		T(test_index_wrap_around),
		T(test_unpop),
		T(test_notify_batches),
		T(test_notify_no_interrupt_flag),
		T(test_event_idx_math),
		T(test_event_idx_math_wraps),
		T(test_kick_suppression_flags),
		T(test_kick_suppression_event_idx),
		T(test_translate_refuses_bad_rings),
		T(test_translate_refuses_misaligned_mapping),
		T(test_sync_used_idx),
#undef T
	};

	log_set_level(LOG_LVL_ERROR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
