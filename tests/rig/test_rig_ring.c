/* Self-test of the rig's driver-side ring, against a few lines of device
 * logic written here (walk a chain, push used), so the rig's own mistakes
 * are not blamed on the daemon. */
#include <endian.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "rig_mem.h"
#include "rig_ring.h"

struct env {
	struct rig_mem mem;
	struct rig_ring ring;
	uint16_t dev_avail; /* the emulated device's next avail entry */
};

static int setup(void **state)
{
	static struct env e;

	memset(&e, 0, sizeof(e));
	if (rig_mem_init(&e.mem, 1u << 20, 3) ||
	    rig_ring_init(&e.ring, &e.mem, 8, true))
		return -1;
	*state = &e;
	return 0;
}

static int teardown(void **state)
{
	struct env *e = *state;

	rig_ring_destroy(&e->ring);
	rig_mem_destroy(&e->mem);
	return 0;
}

/* Device: takes the next avail head, counts its descriptors (following an
 * indirect table if any), and returns it with used length len. */
static unsigned device_consume(struct env *e, uint32_t len, uint16_t *head_out)
{
	struct rig_ring *r = &e->ring;
	uint16_t head = le16toh(r->avail->ring[e->dev_avail % r->num]);
	const struct vring_desc *table = r->desc;
	uint16_t i = head, used_idx = le16toh(r->used->idx);
	unsigned count = 0;

	assert_int_not_equal(e->dev_avail, le16toh(r->avail->idx));
	if (le16toh(r->desc[head].flags) & VRING_DESC_F_INDIRECT) {
		table = rig_mem_ptr(&e->mem, le64toh(r->desc[head].addr),
				    le32toh(r->desc[head].len));
		assert_non_null(table);
		i = 0;
	}
	for (;;) {
		assert_non_null(rig_mem_ptr(&e->mem, le64toh(table[i].addr),
					    le32toh(table[i].len)));
		count++;
		if (!(le16toh(table[i].flags) & VRING_DESC_F_NEXT))
			break;
		i = le16toh(table[i].next);
	}
	r->used->ring[used_idx % r->num].id = htole32(head);
	r->used->ring[used_idx % r->num].len = htole32(len);
	r->used->idx = htole16((uint16_t)(used_idx + 1));
	e->dev_avail++;
	*head_out = head;
	return count;
}

static void test_regions_and_alloc(void **state)
{
	struct env *e = *state;
	uint64_t a = rig_mem_alloc(&e->mem, 100, 64);
	uint64_t b = rig_mem_alloc(&e->mem, 100, 64);

	/* Non-zero, distinct bases; allocations spread over regions. */
	assert_true(e->mem.regions[0].gpa != 0);
	assert_true(e->mem.regions[1].gpa > e->mem.regions[0].gpa + e->mem.regions[0].size);
	assert_non_null(rig_mem_ptr(&e->mem, a, 100));
	assert_non_null(rig_mem_ptr(&e->mem, b, 100));
	assert_true(a % 64 == 0 && b % 64 == 0);
	assert_null(rig_mem_ptr(&e->mem, rig_mem_unmapped_gpa(&e->mem), 1));
	assert_null(rig_mem_ptr(&e->mem, e->mem.regions[0].gpa, e->mem.regions[0].size + 1));
	assert_int_equal(rig_mem_alloc(&e->mem, 2u << 20, 64), 0);
}

static void test_chains_wrap_and_cookies(void **state)
{
	struct env *e = *state;
	uint64_t buf = rig_mem_alloc(&e->mem, 4096, 64);
	struct rig_seg segs[3] = {{buf, 44, false}, {buf + 44, 100, false},
				  {buf + 200, 300, true}};
	int cookies[40];

	/* 40 chains of 3 descriptors through a ring of 8 wraps every index. */
	for (int i = 0; i < 40; i++) {
		uint16_t head;
		uint32_t len;
		void *cookie;
		int got;

		assert_true(rig_ring_add(&e->ring, segs, 3, i % 2, &cookies[i]) >= 0);
		assert_int_equal(device_consume(e, (uint32_t)i, &head), 3);
		got = rig_ring_get_used(&e->ring, &len, &cookie);
		assert_int_equal(got, head);
		assert_int_equal(len, (uint32_t)i);
		assert_ptr_equal(cookie, &cookies[i]);
		assert_int_equal(rig_ring_in_flight(&e->ring), 0);
	}
	assert_int_equal(rig_ring_add(&e->ring, segs, 3, false, NULL) >= 0, 1);
	assert_int_equal(rig_ring_add(&e->ring, segs, 3, false, NULL) >= 0, 1);
	/* 6 of 8 descriptors taken: a third direct chain does not fit. */
	assert_int_equal(rig_ring_add(&e->ring, segs, 3, false, NULL), -ENOSPC);
	assert_true(rig_ring_add(&e->ring, segs, 2, false, NULL) >= 0);
}

static void test_bogus_used_is_rejected(void **state)
{
	struct env *e = *state;
	uint64_t buf = rig_mem_alloc(&e->mem, 64, 64);
	struct rig_seg seg = {buf, 64, true};
	uint32_t len;
	void *cookie;

	assert_true(rig_ring_add(&e->ring, &seg, 1, false, NULL) >= 0);
	/* A used element naming a descriptor that is not a head in flight. */
	e->ring.used->ring[0].id = htole32(5);
	e->ring.used->idx = htole16(1);
	assert_int_equal(rig_ring_get_used(&e->ring, &len, &cookie), -EPROTO);
	/* A used index far beyond what was made available. */
	e->ring.used->idx = htole16(100);
	assert_int_equal(rig_ring_get_used(&e->ring, &len, &cookie), -EPROTO);
	assert_int_equal(rig_ring_get_used(&e->ring, &len, &cookie), -EAGAIN);
}

static void test_raw_chain_remaps_next(void **state)
{
	struct env *e = *state;
	struct vring_desc d[2] = {
		{.addr = htole64(1), .len = htole32(44),
		 .flags = htole16(VRING_DESC_F_NEXT), .next = htole16(1)},
		{.addr = htole64(2), .len = htole32(8),
		 .flags = htole16(VRING_DESC_F_NEXT), .next = htole16(0)},
	};
	int head = rig_ring_add_raw(&e->ring, d, 2, NULL);
	uint16_t second;
	uint32_t len;
	void *cookie;

	assert_true(head >= 0);
	/* A loop: head -> second -> head, with real slot numbers. */
	second = le16toh(e->ring.desc[head].next);
	assert_int_not_equal(second, head);
	assert_int_equal(le16toh(e->ring.desc[second].next), head);
	assert_int_equal(le64toh(e->ring.desc[second].addr), 2);
	/* Returned by the device, both descriptors are free again. */
	e->ring.used->ring[0].id = htole32((uint32_t)head);
	e->ring.used->idx = htole16(1);
	assert_int_equal(rig_ring_get_used(&e->ring, &len, &cookie), head);
	assert_int_equal(rig_ring_in_flight(&e->ring), 0);
}

static void test_kick_suppression(void **state)
{
	struct env *e = *state;
	uint64_t buf = rig_mem_alloc(&e->mem, 64, 64);
	struct rig_seg seg = {buf, 64, true};
	uint16_t *avail_event = (uint16_t *)&e->ring.used->ring[e->ring.num];

	/* The device asks to be kicked when entry 0 is made available. */
	*avail_event = htole16(0);
	assert_true(rig_ring_add(&e->ring, &seg, 1, false, NULL) >= 0);
	rig_ring_kick(&e->ring);
	assert_int_equal(e->ring.kicks, 1);
	/* Not again until entry 5. */
	*avail_event = htole16(5);
	for (int i = 0; i < 4; i++) {
		assert_true(rig_ring_add(&e->ring, &seg, 1, false, NULL) >= 0);
		rig_ring_kick(&e->ring);
	}
	assert_int_equal(e->ring.kicks, 1);
	assert_true(rig_ring_add(&e->ring, &seg, 1, false, NULL) >= 0);
	rig_ring_kick(&e->ring);
	assert_int_equal(e->ring.kicks, 2);
	/* Reset (guest reboot) zeroes the ring and frees everything. */
	rig_ring_reset(&e->ring);
	assert_int_equal(rig_ring_in_flight(&e->ring), 0);
	assert_int_equal(e->ring.avail->idx, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_regions_and_alloc, setup, teardown),
		cmocka_unit_test_setup_teardown(test_chains_wrap_and_cookies, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bogus_used_is_rejected, setup, teardown),
		cmocka_unit_test_setup_teardown(test_raw_chain_remaps_next, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kick_suppression, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
