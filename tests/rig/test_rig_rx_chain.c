/* RX chains of many descriptors, up to the limit the daemon enforces: a
 * chain may map to at most 1024 iovecs (VQ_CHAIN_MAX_SEGS in src/virtq.h,
 * the "too many segments" check of virtq.c; each descriptor within one
 * memory region is one iovec).  A chain at the limit is filled like any
 * other, header spread over several descriptors, payload intact; one past
 * it is malformed and goes back to the used ring with length 0 while the
 * data waits for the next buffers, none lost.  A chain at the limit behind
 * a small one in the same batch (device_rx.c gathers several chains for one
 * readv) is left for the next batch, not squeezed into this one.  A chain
 * that starts with a device-readable descriptor is no receive buffer at all
 * and goes back unused too.
 *
 * The chains are the adversary API's raw ones, posted through an indirect
 * table (so the ring's size does not bound them), after the rig's own RX
 * buffers have been used up while it does not take them back
 * (rig_freeze_rx): the daemon then has only these. */
#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <linux/virtio_vsock.h>

#include "rig_test.h"

#define PORT 5500u
#define LIMIT 1024u    /* VQ_CHAIN_MAX_SEGS */
#define SEG_LEN 16u    /* the 44-byte header spans three descriptors */
#define SEG_STRIDE 32u /* gaps between descriptors: no two are adjacent */
#define SMALL_LEN 4096u

#define DESC(a, l, fl, nx)                                                      \
	((struct vring_desc){.addr = htole64(a), .len = htole32(l),              \
			     .flags = htole16(fl), .next = htole16(nx)})

struct raw_chain {
	int head;
	uint64_t buf;   /* SEG_STRIDE apart, or one SMALL_LEN buffer */
	unsigned nsegs; /* 0: the single small buffer */
};

static int setup(void **state)
{
	struct fixture *f;

	if (fixture_setup_daemon_only(state))
		return -1;
	f = *state;
	f->opts.indirect = true;
	f->opts.rx_bufs = 1;
	fixture_open_rig(f);
	return 0;
}

/* Posts a chain of nsegs writable descriptors through an indirect table. */
static void post_many(struct rig *rig, struct raw_chain *ch, unsigned nsegs)
{
	uint64_t table = rig_mem_alloc(&rig->mem, nsegs * sizeof(struct vring_desc), 16);
	struct vring_desc *t = rig_mem_ptr(&rig->mem, table, nsegs * sizeof(struct vring_desc));
	struct vring_desc ind[1] = {DESC(table, nsegs * sizeof(struct vring_desc),
					 VRING_DESC_F_INDIRECT, 0)};

	ch->buf = rig_mem_alloc(&rig->mem, (size_t)nsegs * SEG_STRIDE, 64);
	ch->nsegs = nsegs;
	for (unsigned i = 0; i < nsegs; i++) {
		bool last = i + 1 == nsegs;

		t[i] = DESC(ch->buf + (uint64_t)i * SEG_STRIDE, SEG_LEN,
			    VRING_DESC_F_WRITE | (last ? 0 : VRING_DESC_F_NEXT),
			    last ? 0 : i + 1);
	}
	ch->head = rig_post_raw(rig, 0, ind, 1);
	assert_true(ch->head >= 0);
}

static void post_small(struct rig *rig, struct raw_chain *ch)
{
	struct vring_desc d[1];

	ch->buf = rig_mem_alloc(&rig->mem, SMALL_LEN, 64);
	ch->nsegs = 0;
	d[0] = DESC(ch->buf, SMALL_LEN, VRING_DESC_F_WRITE, 0);
	ch->head = rig_post_raw(rig, 0, d, 1);
	assert_true(ch->head >= 0);
}

/* Copies what the device wrote into the chain (len bytes) out of it. */
static void read_chain(struct rig *rig, const struct raw_chain *ch, uint8_t *out, uint32_t len)
{
	if (ch->nsegs == 0) {
		memcpy(out, rig_mem_ptr(&rig->mem, ch->buf, len), len);
		return;
	}
	for (uint32_t off = 0; off < len; off += SEG_LEN) {
		uint32_t n = len - off < SEG_LEN ? len - off : SEG_LEN;

		memcpy(out + off, rig_mem_ptr(&rig->mem, ch->buf + off / SEG_LEN * SEG_STRIDE, n),
		       n);
	}
}

/* A guest connection with its host end, and the rig left with no RX buffer
 * posted: the single one it had takes an RST it provokes. */
static struct rig_conn *conn_without_rx_buffers(struct fixture *f, int *lfd, int *hfd)
{
	struct rig_hdr h = {
		.src_cid = f->rig->cid, .dst_cid = RIG_HOST_CID, .src_port = 7600,
		.dst_port = 8600, .type = VIRTIO_VSOCK_TYPE_STREAM, .op = VIRTIO_VSOCK_OP_RW,
	};
	struct rig_conn *c;

	*lfd = rig_host_listen(f->d.uds_path, PORT);
	assert_true(*lfd >= 0);
	assert_int_equal(rig_connect(f->rig, RIG_HOST_CID, PORT, T_MS, &c), 0);
	*hfd = rig_host_accept(f->rig, *lfd, T_MS);
	assert_true(*hfd >= 0);
	rig_freeze_rx(f->rig, true);
	assert_int_equal(f->rig->n_rx_posted, 1);
	assert_int_equal(rig_send_pkt(f->rig, &h, NULL, 0), 0);
	wait_rx_used(f->rig, 1);
	return c;
}

/* The chain came back holding one RW packet of c with the next bytes of
 * data from *pos on. */
static void check_rw_chain(struct fixture *f, const struct raw_chain *ch, struct rig_conn *c,
			   const uint8_t *data, size_t *pos, uint32_t want_len)
{
	uint8_t *got = malloc(want_len);
	struct rig_hdr h;
	uint32_t len = 0;

	assert_non_null(got);
	assert_int_equal(rig_wait_raw(f->rig, 0, ch->head, &len, T_MS), 0);
	assert_int_equal(len, want_len);
	read_chain(f->rig, ch, got, len);
	rig_hdr_decode(got, &h);
	assert_int_equal(h.op, VIRTIO_VSOCK_OP_RW);
	assert_int_equal(h.type, VIRTIO_VSOCK_TYPE_STREAM);
	assert_int_equal(h.src_cid, RIG_HOST_CID);
	assert_int_equal(h.dst_cid, f->rig->cid);
	assert_int_equal(h.src_port, c->peer_port);
	assert_int_equal(h.dst_port, c->local_port);
	assert_int_equal(h.len, len - RIG_HDR_SIZE);
	if (memcmp(got + RIG_HDR_SIZE, data + *pos, h.len) != 0)
		fail_msg("payload of the %u-segment chain differs from what the host sent",
			 ch->nsegs);
	*pos += h.len;
	free(got);
}

/* The rest of data reaches c through the rig's own buffers. */
static void check_rest(struct fixture *f, struct rig_conn *c, const uint8_t *data, size_t pos,
		       size_t total)
{
	uint8_t *got = malloc(total - pos);

	assert_non_null(got);
	for (size_t n = 0; n < total - pos;) {
		ssize_t r = rig_recv_wait(f->rig, c, got + n, total - pos - n, T_MS);

		assert_true(r > 0);
		n += (size_t)r;
	}
	if (memcmp(got, data + pos, total - pos) != 0)
		fail_msg("bytes after the raw chains differ");
	free(got);
}

static void run(void **state, bool small_first, unsigned nsegs)
{
	struct fixture *f = *state;
	size_t total = 3 * LIMIT * SEG_LEN, pos = 0;
	uint8_t *data = malloc(total);
	struct raw_chain small, big;
	struct rig_conn *c;
	int lfd, hfd;

	assert_non_null(data);
	pattern_fill(nsegs + small_first, 0, data, total);
	c = conn_without_rx_buffers(f, &lfd, &hfd);
	/* The data waits in the host socket: the guest has no RX buffer. */
	assert_int_equal(rig_host_write_all(f->rig, hfd, data, total, T_MS), 0);
	/* Both chains appear at once, so one batch meets them together. */
	rig_ring_hold(&f->rig->rxq, true);
	if (small_first)
		post_small(f->rig, &small);
	post_many(f->rig, &big, nsegs);
	rig_ring_hold(&f->rig->rxq, false);
	rig_freeze_rx(f->rig, false);
	if (small_first)
		check_rw_chain(f, &small, c, data, &pos, SMALL_LEN);
	if (nsegs <= LIMIT) {
		check_rw_chain(f, &big, c, data, &pos, nsegs * SEG_LEN);
	} else {
		uint32_t len = 1;

		assert_int_equal(rig_wait_raw(f->rig, 0, big.head, &len, T_MS), 0);
		assert_int_equal(len, 0);
		assert_true(rig_daemon_log_count(&f->d, "too many segments") >= 1);
	}
	check_rest(f, c, data, pos, total);
	close(hfd);
	close(lfd);
	rig_close(f->rig, c);
	free(data);
	assert_round_trip(f, PORT + 1);
}

static void test_chain_at_the_limit_filled(void **state)
{
	run(state, false, LIMIT);
}

static void test_chain_past_the_limit_returned_empty(void **state)
{
	run(state, false, LIMIT + 1);
}

static void test_chain_at_the_limit_behind_a_small_one(void **state)
{
	run(state, true, LIMIT);
}

/* A chain that starts with a device-readable descriptor is no receive
 * buffer, whatever writable room follows: it goes back unused (length 0),
 * logged, and the data waits for the next buffers, none lost. */
static void test_chain_with_readable_descriptor_returned_empty(void **state)
{
	struct fixture *f = *state;
	size_t total = 3 * SMALL_LEN;
	uint8_t *data = malloc(total);
	struct vring_desc d[2];
	struct rig_conn *c;
	uint32_t len = 1;
	uint64_t buf;
	int head, lfd, hfd;

	assert_non_null(data);
	pattern_fill(77, 0, data, total);
	c = conn_without_rx_buffers(f, &lfd, &hfd);
	assert_int_equal(rig_host_write_all(f->rig, hfd, data, total, T_MS), 0);
	buf = rig_mem_alloc(&f->rig->mem, 64 + SMALL_LEN, 64);
	d[0] = DESC(buf, 64, VRING_DESC_F_NEXT, 1);
	d[1] = DESC(buf + 64, SMALL_LEN, VRING_DESC_F_WRITE, 0);
	head = rig_post_raw(f->rig, 0, d, 2);
	assert_true(head >= 0);
	/* The rig's own buffers come after it on the ring. */
	rig_freeze_rx(f->rig, false);
	assert_int_equal(rig_wait_raw(f->rig, 0, head, &len, T_MS), 0);
	assert_int_equal(len, 0);
	assert_true(rig_daemon_log_count(&f->d, "readable descriptors") >= 1);
	check_rest(f, c, data, 0, total);
	close(hfd);
	close(lfd);
	rig_close(f->rig, c);
	free(data);
	assert_round_trip(f, PORT + 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, fixture_teardown)
		T(test_chain_at_the_limit_filled),
		T(test_chain_past_the_limit_returned_empty),
		T(test_chain_at_the_limit_behind_a_small_one),
		T(test_chain_with_readable_descriptor_returned_empty),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
