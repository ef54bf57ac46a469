/* Fuzzes the split-ring mechanics (src/virtq.c) and the guest-memory
 * translations (src/guest_mem.c) as a hostile guest would drive them.
 *
 * Guest memory is a zeroed heap buffer of GUEST_BYTES, so AddressSanitizer
 * sees any access outside it, cut into one to three regions built by hand
 * (no fds): region i covers buf[start_i .. start_i+1) at uva UVA_BASE +
 * start_i and at a guest-physical base of its own, with page gaps between
 * regions or none (buffers then straddle them), the last one optionally at
 * the very top of the 64-bit space.
 *
 * Input: a header, then operations until the input runs out.
 *   header: u8 log2 of the ring size (mod 9), u8 flags (EVENT_IDX,
 *     INDIRECT_DESC, NOTIFY_ON_EMPTY, an eventfd as call fd, last region
 *     at the top), u8 region count, then per region a u16 end (mod what is
 *     left) and a u8 gap in pages, then u16 desc, avail and used offsets
 *     (mod GUEST_BYTES, aligned down as SET_VRING_ADDR requires).
 *   operations: one byte picks one; the guest's are stores into memory (raw
 *     bytes, a descriptor into one or more entries of the ring's table or of
 *     an indirect one, a published head, avail->idx, the suppression
 *     fields), the device's are virtq calls (pop, push, unpop, kicks,
 *     notify, sync_used_idx) and direct translations of input-chosen
 *     ranges.  Addresses are a region's base plus a u16, or a raw u64.
 * Checks: a translated ring is where its uvas say; a popped chain's iovecs
 * lie inside the buffer, number at most VQ_CHAIN_MAX_SEGS and add up to
 * out_len/in_len; a push lands in the used ring; translations agree with
 * each other and stay inside the buffer; failed ones leave *n alone.
 * VHOST_DEVICE_VSOCK_LOG=debug shows why chains were refused. */
#include <errno.h>
#include <linux/virtio_ring.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "fuzz_input.h"
#include "guest_mem.h"
#include "log.h"
#include "virtq.h"

#define GUEST_BYTES 0x4000u
#define GPA_BASE 0x100000ull
#define UVA_BASE 0x7f0000000000ull
#define PAGE 0x1000ull
#define MAX_REGIONS 3
#define MAX_RING_LOG2 8
#define MAX_OUTSTANDING 512
#define MAX_TEST_IOVS 8
#define RAW_ADDRESS 0xf0 /* address selectors from here on: a raw u64 */
#define RAW_LENGTH 0xffff /* a u16 length of this: a raw u64 follows */

enum header_flag {
	FLAG_EVENT_IDX = 1 << 0,
	FLAG_INDIRECT = 1 << 1,
	FLAG_NOTIFY_ON_EMPTY = 1 << 2,
	FLAG_CALL_FD = 1 << 3,
	FLAG_REGION_AT_TOP = 1 << 4,
};

enum op {
	OP_GUEST_WRITE,      /* raw bytes anywhere in guest memory */
	OP_GUEST_DESC,       /* descriptors, in the ring or anywhere (indirect) */
	OP_GUEST_PUBLISH,    /* a head into the avail ring, avail->idx moved on */
	OP_GUEST_AVAIL_IDX,  /* avail->idx set to anything */
	OP_GUEST_SUPPRESS,   /* avail->flags and used_event */
	OP_POP,
	OP_PUSH,
	OP_UNPOP,
	OP_KICKS,
	OP_NOTIFY,
	OP_SYNC_USED_IDX,
	OP_GPA_TO_IOV,
	OP_GPA_PTR,
	OP_UVA_PTR,
	OP_COUNT,
};

/* A chain popped and not yet pushed, and the avail slot it came from. */
struct popped {
	uint16_t head;
	uint16_t avail_pos;
};

struct harness {
	uint8_t *buf;
	struct guest_mem mem;
	struct virtq vq;
	uint32_t desc_off, avail_off, used_off;
	uint16_t guest_avail_idx; /* the driver's next avail index */
	struct popped outstanding[MAX_OUTSTANDING]; /* in pop order */
	unsigned n_outstanding;
};

static int call_fd = -1;
static struct vq_chain chain; /* 16 KiB: not on the stack */

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_init_from_env();
	call_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (call_fd < 0) {
		perror("fuzz_virtq: eventfd");
		exit(1);
	}
	return 0;
}

/* ---- the guest: stores into its memory ---- */

/* Stores n bytes at buffer offset off; what does not fit is dropped. */
static void guest_store(struct harness *h, uint64_t off, const void *src, size_t n)
{
	if (off <= GUEST_BYTES && n <= GUEST_BYTES - off)
		memcpy(h->buf + off, src, n);
}

static void guest_store16(struct harness *h, uint64_t off, uint16_t v)
{
	v = htole16(v);
	guest_store(h, off, &v, sizeof(v));
}

static uint64_t avail_ring_off(const struct harness *h, unsigned i)
{
	return h->avail_off + offsetof(struct vring_avail, ring) + 2ull * i;
}

static uint64_t used_ring_off(const struct harness *h, unsigned i)
{
	return h->used_off + offsetof(struct vring_used, ring) +
	       sizeof(struct vring_used_elem) * (uint64_t)i;
}

/* Reads back what the device wrote at offset off (the ring is inside). */
static void load(const struct harness *h, uint64_t off, void *dst, size_t n)
{
	FUZZ_CHECK(off <= GUEST_BYTES && n <= GUEST_BYTES - off);
	memcpy(dst, h->buf + off, n);
}

/* A guest-physical address: a region's base plus a u16, or a raw u64. */
static uint64_t decode_gpa(struct fuzz_input *in, const struct guest_mem *mem)
{
	uint8_t sel = fuzz_u8(in);

	if (sel >= RAW_ADDRESS)
		return fuzz_u64(in);
	return mem->regions[sel % mem->count].gpa + fuzz_u16(in);
}

static uint64_t decode_uva(struct fuzz_input *in)
{
	if (fuzz_u8(in) >= RAW_ADDRESS)
		return fuzz_u64(in);
	return UVA_BASE + fuzz_u16(in);
}

static uint64_t decode_len(struct fuzz_input *in)
{
	uint16_t len = fuzz_u16(in);

	return len == RAW_LENGTH ? fuzz_u64(in) : len;
}

static void guest_write(struct harness *h, struct fuzz_input *in)
{
	uint16_t off = fuzz_u16(in) % GUEST_BYTES;
	uint8_t bytes[UINT8_MAX];
	uint8_t n = fuzz_u8(in);

	fuzz_take(in, bytes, n);
	guest_store(h, off, bytes, n);
}

/* A descriptor written to 1 + u8 consecutive entries, copy i with next + i:
 * copies chain one to the next, so chains can reach VQ_CHAIN_MAX_SEGS. */
static void guest_desc(struct harness *h, struct fuzz_input *in)
{
	uint16_t where = fuzz_u16(in);
	bool anywhere = where & 1; /* else an entry of the ring's table */
	uint16_t slot = where >> 1;
	uint64_t addr = decode_gpa(in, &h->mem);
	uint32_t len = (uint32_t)decode_len(in);
	uint16_t flags = fuzz_u8(in);
	uint16_t next = fuzz_u16(in);
	unsigned copies = 1 + fuzz_u8(in);

	for (unsigned i = 0; i < copies; i++) {
		struct vring_desc d = {
			.addr = htole64(addr),
			.len = htole32(len),
			.flags = htole16(flags),
			.next = htole16((uint16_t)(next + i)),
		};
		uint64_t off = anywhere ? slot % GUEST_BYTES + sizeof(d) * i
					: h->desc_off + sizeof(d) * ((slot + i) % h->vq.num);

		guest_store(h, off, &d, sizeof(d));
	}
}

static void guest_publish(struct harness *h, struct fuzz_input *in)
{
	uint16_t head = fuzz_u16(in);

	guest_store16(h, avail_ring_off(h, h->guest_avail_idx % h->vq.num), head);
	h->guest_avail_idx++;
	guest_store16(h, h->avail_off + offsetof(struct vring_avail, idx),
		      h->guest_avail_idx);
}

static void guest_avail_idx(struct harness *h, struct fuzz_input *in)
{
	h->guest_avail_idx = fuzz_u16(in);
	guest_store16(h, h->avail_off + offsetof(struct vring_avail, idx),
		      h->guest_avail_idx);
}

static void guest_suppress(struct harness *h, struct fuzz_input *in)
{
	guest_store16(h, h->avail_off + offsetof(struct vring_avail, flags),
		      fuzz_u16(in));
	guest_store16(h, avail_ring_off(h, h->vq.num), fuzz_u16(in));
}

/* ---- the device: virtq calls ---- */

static void check_inside_buffer(const struct harness *h, const void *p, uint64_t len)
{
	const uint8_t *b = p;

	FUZZ_CHECK(b >= h->buf && len <= GUEST_BYTES &&
		   (uint64_t)(b - h->buf) <= GUEST_BYTES - len);
}

static size_t sum_iov(const struct harness *h, const struct iovec *iov, unsigned n)
{
	size_t sum = 0;

	for (unsigned i = 0; i < n; i++) {
		FUZZ_CHECK(iov[i].iov_len > 0);
		check_inside_buffer(h, iov[i].iov_base, iov[i].iov_len);
		sum += iov[i].iov_len;
	}
	return sum;
}

static void check_chain(const struct harness *h, const struct vq_chain *c)
{
	FUZZ_CHECK(c->head < h->vq.num);
	FUZZ_CHECK(c->nr_out <= VQ_CHAIN_MAX_SEGS &&
		   c->nr_in <= VQ_CHAIN_MAX_SEGS - c->nr_out);
	FUZZ_CHECK(sum_iov(h, c->iov, c->nr_out) == c->out_len);
	FUZZ_CHECK(sum_iov(h, c->iov + c->nr_out, c->nr_in) == c->in_len);
}

static void device_pop(struct harness *h)
{
	uint16_t pos = h->vq.last_avail_idx;

	if (h->n_outstanding == MAX_OUTSTANDING)
		return;
	switch (virtq_pop(&h->vq, &chain)) {
	case VQ_POP_EMPTY:
		FUZZ_CHECK(h->vq.last_avail_idx == pos);
		return;
	case VQ_POP_BROKEN:
		FUZZ_CHECK(h->vq.broken && h->vq.last_avail_idx == pos);
		return;
	case VQ_POP_OK:
		check_chain(h, &chain);
		break;
	case VQ_POP_BAD_CHAIN:
		FUZZ_CHECK(chain.head < h->vq.num);
		break;
	}
	FUZZ_CHECK(h->vq.last_avail_idx == (uint16_t)(pos + 1));
	h->outstanding[h->n_outstanding++] = (struct popped){chain.head, pos};
}

static void device_push(struct harness *h, struct fuzz_input *in)
{
	unsigned i = fuzz_u8(in) % (h->n_outstanding ? h->n_outstanding : 1);
	uint32_t len = fuzz_u32(in);
	uint16_t used_idx = h->vq.used_idx;
	struct vring_used_elem elem;
	uint16_t head;

	if (h->n_outstanding == 0)
		return;
	head = h->outstanding[i].head;
	memmove(&h->outstanding[i], &h->outstanding[i + 1],
		(h->n_outstanding - i - 1) * sizeof(h->outstanding[0]));
	h->n_outstanding--;
	virtq_push(&h->vq, head, len);
	if (h->vq.broken)
		return;
	FUZZ_CHECK(h->vq.used_idx == (uint16_t)(used_idx + 1));
	load(h, used_ring_off(h, used_idx & (h->vq.num - 1)), &elem, sizeof(elem));
	FUZZ_CHECK(le32toh(elem.id) == head && le32toh(elem.len) == len);
	FUZZ_CHECK(le16toh(h->vq.used->idx) == h->vq.used_idx);
}

/* Only the most recent pop still outstanding can be given back. */
static void device_unpop(struct harness *h)
{
	uint16_t pos = h->vq.last_avail_idx - 1;

	if (h->n_outstanding == 0 || h->outstanding[h->n_outstanding - 1].avail_pos != pos)
		return;
	virtq_unpop(&h->vq);
	h->n_outstanding--;
	FUZZ_CHECK(h->vq.last_avail_idx == pos);
}

static void device_kicks(struct harness *h, struct fuzz_input *in)
{
	bool more;

	if (fuzz_u8(in) & 1)
		virtq_disable_kicks(&h->vq);
	more = virtq_enable_kicks(&h->vq);
	FUZZ_CHECK(more == virtq_has_avail(&h->vq));
	if (!virtq_ready(&h->vq))
		return;
	if (h->vq.event_idx) {
		uint16_t avail_event;

		load(h, used_ring_off(h, h->vq.num), &avail_event, sizeof(avail_event));
		FUZZ_CHECK(le16toh(avail_event) == h->vq.last_avail_idx);
	} else {
		FUZZ_CHECK(!(le16toh(h->vq.used->flags) & VRING_USED_F_NO_NOTIFY));
	}
}

static void device_notify(struct harness *h)
{
	virtq_notify(&h->vq);
	FUZZ_CHECK(!h->vq.pending_signal);
}

/* A new driver instance: the device drops the chains it held. */
static void device_sync_used_idx(struct harness *h)
{
	virtq_sync_used_idx(&h->vq);
	h->n_outstanding = 0;
}

/* ---- direct translations ---- */

static void translate_gpa_to_iov(struct harness *h, struct fuzz_input *in)
{
	struct iovec iov[MAX_TEST_IOVS] = {{0}};
	uint64_t gpa = decode_gpa(in, &h->mem);
	uint64_t len = decode_len(in);
	unsigned max = fuzz_u8(in) % (MAX_TEST_IOVS + 1);
	unsigned before = fuzz_u8(in) % (max + 1);
	unsigned n = before;
	int ret = guest_mem_gpa_to_iov(&h->mem, gpa, len, iov, max, &n);

	if (ret == 0) {
		FUZZ_CHECK(n >= before && n <= max);
		FUZZ_CHECK(sum_iov(h, iov + before, n - before) == len);
	} else {
		FUZZ_CHECK(ret == -EFAULT || ret == -E2BIG);
		FUZZ_CHECK(n == before);
	}
}

/* gpa_ptr finds a range exactly when it takes one iovec, at the same place. */
static void translate_gpa_ptr(struct harness *h, struct fuzz_input *in)
{
	uint64_t gpa = decode_gpa(in, &h->mem);
	uint64_t len = decode_len(in);
	void *p = guest_mem_gpa_ptr(&h->mem, gpa, len);
	struct iovec iov;
	unsigned n = 0;

	if (p)
		check_inside_buffer(h, p, len);
	if (len == 0)
		return;
	if (guest_mem_gpa_to_iov(&h->mem, gpa, len, &iov, 1, &n) == 0)
		FUZZ_CHECK(p && n == 1 && iov.iov_base == p);
	else
		FUZZ_CHECK(!p);
}

/* Every region's uva is UVA_BASE plus its offset in the buffer. */
static void translate_uva_ptr(struct harness *h, struct fuzz_input *in)
{
	uint64_t uva = decode_uva(in);
	uint64_t len = decode_len(in);
	uint8_t *p = guest_mem_uva_ptr(&h->mem, uva, len);

	if (!p)
		return;
	check_inside_buffer(h, p, len);
	FUZZ_CHECK(p == h->buf + (uva - UVA_BASE));
}

/* ---- set-up ---- */

static void build_regions(struct harness *h, struct fuzz_input *in, bool at_top)
{
	unsigned count = 1 + fuzz_u8(in) % MAX_REGIONS;
	uint64_t gpa = GPA_BASE;
	uint32_t start = 0;

	for (unsigned i = 0; i < count; i++) {
		unsigned after = count - 1 - i; /* regions still to place */
		uint32_t end = after == 0 ? GUEST_BYTES
					  : start + 1 + fuzz_u16(in) % (GUEST_BYTES - start - after);
		struct guest_region *r = &h->mem.regions[i];

		gpa += fuzz_u8(in) * PAGE;
		*r = (struct guest_region){
			.gpa = gpa,
			.size = end - start,
			.uva = UVA_BASE + start,
			.hva = h->buf + start,
		};
		gpa += r->size;
		start = end;
	}
	/* The highest range guest_mem_map() accepts ends at UINT64_MAX. */
	if (at_top)
		h->mem.regions[count - 1].gpa = UINT64_MAX - h->mem.regions[count - 1].size;
	h->mem.count = count;
}

static void setup_queue(struct harness *h, struct fuzz_input *in, uint8_t flags,
			unsigned num_log2)
{
	struct virtq *vq = &h->vq;

	h->desc_off = (fuzz_u16(in) % GUEST_BYTES) & ~15u;
	h->avail_off = (fuzz_u16(in) % GUEST_BYTES) & ~1u;
	h->used_off = (fuzz_u16(in) % GUEST_BYTES) & ~3u;
	virtq_init(vq, "fuzz");
	vq->num = (uint16_t)(1u << num_log2);
	vq->desc_uva = UVA_BASE + h->desc_off;
	vq->avail_uva = UVA_BASE + h->avail_off;
	vq->used_uva = UVA_BASE + h->used_off;
	vq->addr_set = true;
	vq->kick_fd = -1;
	vq->call_fd = flags & FLAG_CALL_FD ? call_fd : -1;
	vq->enabled = true;
	vq->started = true;
	vq->event_idx = flags & FLAG_EVENT_IDX;
	vq->indirect = flags & FLAG_INDIRECT;
	vq->notify_on_empty = flags & FLAG_NOTIFY_ON_EMPTY;
	if (virtq_translate(vq, &h->mem)) {
		FUZZ_CHECK((uint8_t *)vq->desc == h->buf + h->desc_off);
		FUZZ_CHECK((uint8_t *)vq->avail == h->buf + h->avail_off);
		FUZZ_CHECK((uint8_t *)vq->used == h->buf + h->used_off);
	}
}

static void run_op(struct harness *h, struct fuzz_input *in, enum op op)
{
	switch (op) {
	case OP_GUEST_WRITE: guest_write(h, in); break;
	case OP_GUEST_DESC: guest_desc(h, in); break;
	case OP_GUEST_PUBLISH: guest_publish(h, in); break;
	case OP_GUEST_AVAIL_IDX: guest_avail_idx(h, in); break;
	case OP_GUEST_SUPPRESS: guest_suppress(h, in); break;
	case OP_POP: device_pop(h); break;
	case OP_PUSH: device_push(h, in); break;
	case OP_UNPOP: device_unpop(h); break;
	case OP_KICKS: device_kicks(h, in); break;
	case OP_NOTIFY: device_notify(h); break;
	case OP_SYNC_USED_IDX: device_sync_used_idx(h); break;
	case OP_GPA_TO_IOV: translate_gpa_to_iov(h, in); break;
	case OP_GPA_PTR: translate_gpa_ptr(h, in); break;
	case OP_UVA_PTR: translate_uva_ptr(h, in); break;
	case OP_COUNT: break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct harness h;
	struct fuzz_input in = fuzz_input_of(data, size);
	unsigned num_log2 = fuzz_u8(&in) % (MAX_RING_LOG2 + 1);
	uint8_t flags = fuzz_u8(&in);
	uint64_t signals;

	memset(&h, 0, sizeof(h));
	h.buf = calloc(1, GUEST_BYTES);
	FUZZ_CHECK(h.buf);
	build_regions(&h, &in, flags & FLAG_REGION_AT_TOP);
	setup_queue(&h, &in, flags, num_log2);
	while (in.left > 0)
		run_op(&h, &in, (enum op)(fuzz_u8(&in) % OP_COUNT));
	if (read(call_fd, &signals, sizeof(signals)) < 0)
		FUZZ_CHECK(errno == EAGAIN);
	free(h.buf);
	return 0;
}
