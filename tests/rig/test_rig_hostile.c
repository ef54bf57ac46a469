/* A hostile guest: raw headers (unknown connections, unknown types, RST for
 * nothing, forged source CIDs) and malformed descriptor chains on both
 * rings.  The daemon must answer exactly as the spec says, return every
 * chain to the used ring, and keep serving everyone else. */
#include <endian.h>
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/virtio_vsock.h>

#include "rig_internal.h"
#include "rig_test.h"

static struct rig_hdr raw_hdr(struct rig *rig, uint32_t src_port,
			      uint32_t dst_port, uint16_t op)
{
	return (struct rig_hdr){
		.src_cid = rig->cid, .dst_cid = RIG_HOST_CID,
		.src_port = src_port, .dst_port = dst_port,
		.type = VIRTIO_VSOCK_TYPE_STREAM, .op = op, .buf_alloc = 65536,
	};
}

/* Sends h and returns the next stray packet the daemon sends back. */
static struct rig_hdr answer_to(struct fixture *f, const struct rig_hdr *h)
{
	struct rig_hdr back;

	assert_int_equal(rig_send_pkt(f->rig, h, NULL, 0), 0);
	assert_int_equal(rig_wait_stray(f->rig, &back, T_MS), 0);
	return back;
}

static void assert_rst_for(const struct rig_hdr *back, const struct rig_hdr *h)
{
	assert_int_equal(back->op, VIRTIO_VSOCK_OP_RST);
	assert_int_equal(back->src_port, h->dst_port);
	assert_int_equal(back->dst_port, h->src_port);
	assert_int_equal(back->src_cid, RIG_HOST_CID);
}

static void test_rst_for_unknown_connection(void **state)
{
	struct fixture *f = *state;
	static const uint16_t ops[] = {
		VIRTIO_VSOCK_OP_RW, VIRTIO_VSOCK_OP_RESPONSE,
		VIRTIO_VSOCK_OP_SHUTDOWN, VIRTIO_VSOCK_OP_CREDIT_UPDATE,
		VIRTIO_VSOCK_OP_CREDIT_REQUEST, VIRTIO_VSOCK_OP_INVALID, 99,
	};

	for (unsigned i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		struct rig_hdr h = raw_hdr(f->rig, 7000 + i, 8000 + i, ops[i]);
		struct rig_hdr back = answer_to(f, &h);

		assert_rst_for(&back, &h);
	}
}

static void test_rst_for_unknown_type(void **state)
{
	struct fixture *f = *state;
	struct rig_hdr h = raw_hdr(f->rig, 7100, 8100, VIRTIO_VSOCK_OP_REQUEST);
	struct rig_hdr back;

	h.type = 9;
	back = answer_to(f, &h);
	assert_rst_for(&back, &h);
}

static void test_no_rst_for_rst(void **state)
{
	struct fixture *f = *state;
	struct rig_hdr rst = raw_hdr(f->rig, 7200, 8200, VIRTIO_VSOCK_OP_RST);
	struct rig_hdr probe = raw_hdr(f->rig, 7201, 8201, VIRTIO_VSOCK_OP_RW);
	struct rig_hdr back;

	/* The daemon handles TX packets in order: once the probe's answer is
	 * here, an answer to the RST would have come first. */
	assert_int_equal(rig_send_pkt(f->rig, &rst, NULL, 0), 0);
	back = answer_to(f, &probe);
	assert_rst_for(&back, &probe);
	assert_false(rig_pop_stray(f->rig, &back));
}

static void test_forged_src_cid_dropped(void **state)
{
	struct fixture *f = *state;
	int lfd = rig_host_listen(f->d.uds_path, 5100);
	struct rig_hdr forged = raw_hdr(f->rig, 7300, 5100, VIRTIO_VSOCK_OP_REQUEST);
	struct rig_hdr probe = raw_hdr(f->rig, 7301, 8301, VIRTIO_VSOCK_OP_RW);
	struct rig_hdr back;

	assert_true(lfd >= 0);
	forged.src_cid = 7;
	assert_int_equal(rig_send_pkt(f->rig, &forged, NULL, 0), 0);
	back = answer_to(f, &probe);
	assert_rst_for(&back, &probe);
	/* No answer to the forged REQUEST, and no host connection made. */
	assert_false(rig_pop_stray(f->rig, &back));
	assert_int_equal(accept(lfd, NULL, NULL), -1);
	assert_int_equal(errno, EAGAIN);
	close(lfd);
}

static void test_response_before_data_and_rw_zero_len(void **state)
{
	struct fixture *f = *state;
	int lfd = rig_host_listen(f->d.uds_path, 5101);
	struct rig_hdr h;
	struct rig_conn *c;
	char buf[8];
	int hfd;

	assert_true(lfd >= 0);
	assert_int_equal(rig_connect(f->rig, RIG_HOST_CID, 5101, T_MS, &c), 0);
	hfd = rig_host_accept(f->rig, lfd, T_MS);
	assert_true(hfd >= 0);
	/* An empty RW is harmless: the connection goes on. */
	h = raw_hdr(f->rig, c->local_port, 5101, VIRTIO_VSOCK_OP_RW);
	h.fwd_cnt = c->fwd_cnt;
	h.buf_alloc = c->buf_alloc;
	assert_int_equal(rig_send_pkt(f->rig, &h, NULL, 0), 0);
	assert_int_equal(rig_send_all(f->rig, c, "ok", 2, T_MS), 0);
	assert_int_equal(rig_host_read_full(f->rig, hfd, buf, 2, T_MS), 2);
	assert_memory_equal(buf, "ok", 2);
	close(hfd);
	close(lfd);
	rig_close(f->rig, c);
}

/* ---- Malformed chains ----------------------------------------------------- */

#define DESC(a, l, fl, nx)                                                      \
	((struct vring_desc){.addr = htole64(a), .len = htole32(l),              \
			     .flags = htole16(fl), .next = htole16(nx)})

static void post_and_expect_return(struct fixture *f, unsigned ring,
				   const struct vring_desc *d, unsigned n,
				   const char *what)
{
	int head = rig_post_raw(f->rig, ring, d, n);
	uint32_t len = 12345;

	assert_true(head >= 0);
	if (rig_wait_raw(f->rig, ring, head, &len, T_MS))
		fail_msg("%s chain never returned to the used ring", what);
	if (ring == 1 && len != 0)
		fail_msg("%s: TX used length %u", what, len);
}

static void test_malformed_tx_chains_returned(void **state)
{
	struct fixture *f = *state;
	struct rig *rig = f->rig;
	uint64_t buf = rig_mem_alloc(&rig->mem, 4096, 64);
	uint64_t table = rig_mem_alloc(&rig->mem, 16 * 4, 16);
	uint64_t bad = rig_mem_unmapped_gpa(&rig->mem);
	struct rig_hdr h = raw_hdr(rig, 7400, 8400, VIRTIO_VSOCK_OP_RW);
	struct vring_desc *ind = rig_mem_ptr(&rig->mem, table, 16 * 4);
	const uint16_t N = VRING_DESC_F_NEXT, W = VRING_DESC_F_WRITE;

	h.len = 100;
	rig_hdr_encode(&h, rig_mem_ptr(&rig->mem, buf, 44));
	{
		struct vring_desc loop[2] = {DESC(buf, 44, N, 1), DESC(buf + 44, 100, N, 0)};
		struct vring_desc self[1] = {DESC(buf, 44, N, 0)};
		struct vring_desc unmapped[1] = {DESC(bad, 144, 0, 0)};
		struct vring_desc straddle_end[1] = {DESC(rig->mem.regions[0].gpa +
							  rig->mem.regions[0].size - 20,
							  144, 0, 0)};
		struct vring_desc zero_head[2] = {DESC(buf, 0, N, 1), DESC(buf, 144, 0, 0)};
		struct vring_desc huge[2] = {DESC(buf, 44, N, 1),
					     DESC(buf + 44, 0xffffffffu, 0, 0)};
		struct vring_desc write_only[2] = {DESC(buf, 44, W, 1),
						   DESC(buf + 44, 100, W, 0)};
		struct vring_desc short_hdr[1] = {DESC(buf, 20, 0, 0)};
		struct vring_desc next_oob[2] = {DESC(buf, 44, N, 1),
						 DESC(buf + 44, 100, N, 60000)};
		struct vring_desc payload_short[2] = {DESC(buf, 44, N, 1),
						      DESC(buf + 44, 10, 0, 0)};
		struct vring_desc ind_unmapped[1] = {DESC(bad, 32, VRING_DESC_F_INDIRECT, 0)};
		struct vring_desc ind_loop[1] = {DESC(table, 32, VRING_DESC_F_INDIRECT, 0)};
		struct vring_desc ind_odd[1] = {DESC(table, 17, VRING_DESC_F_INDIRECT, 0)};

		post_and_expect_return(f, 1, loop, 2, "looping");
		post_and_expect_return(f, 1, self, 1, "self-looping");
		post_and_expect_return(f, 1, unmapped, 1, "unmapped");
		post_and_expect_return(f, 1, straddle_end, 1, "past the region end");
		post_and_expect_return(f, 1, zero_head, 2, "zero-length head");
		post_and_expect_return(f, 1, huge, 2, "4 GiB payload");
		post_and_expect_return(f, 1, write_only, 2, "write-only TX");
		post_and_expect_return(f, 1, short_hdr, 1, "20-byte header");
		post_and_expect_return(f, 1, next_oob, 2, "next out of range");
		post_and_expect_return(f, 1, payload_short, 2, "payload shorter than len");
		post_and_expect_return(f, 1, ind_unmapped, 1, "unmapped indirect table");
		ind[0] = DESC(buf, 44, N, 1);
		ind[1] = DESC(buf + 44, 100, N, 0);
		post_and_expect_return(f, 1, ind_loop, 1, "looping indirect table");
		post_and_expect_return(f, 1, ind_odd, 1, "indirect table of 17 bytes");
	}
	assert_true(rig_daemon_alive(&f->d));
	assert_round_trip(f, 5200);
}

/* TX chains that are dropped whole even around a well-formed REQUEST: one
 * with a device-writable part, one carrying more bytes than its header's
 * len.  Nothing is connected or answered, so the first packet back is the
 * RST for a probe sent after them. */
static void test_tx_chains_dropped_whole(void **state)
{
	struct fixture *f = *state;
	struct rig *rig = f->rig;
	uint64_t buf = rig_mem_alloc(&rig->mem, 4096, 64);
	struct rig_hdr req = raw_hdr(rig, 7410, 8410, VIRTIO_VSOCK_OP_REQUEST);
	struct rig_hdr probe = raw_hdr(rig, 7411, 8411, VIRTIO_VSOCK_OP_RW);
	struct rig_hdr back;
	const struct vring_desc tail[2] = {DESC(buf, 44, VRING_DESC_F_NEXT, 1),
					   DESC(buf + 64, 100, VRING_DESC_F_WRITE, 0)};
	const struct vring_desc extra[2] = {DESC(buf, 44, VRING_DESC_F_NEXT, 1),
					    DESC(buf + 64, 100, 0, 0)};

	rig_hdr_encode(&req, rig_mem_ptr(&rig->mem, buf, 44));
	post_and_expect_return(f, 1, tail, 2, "REQUEST with a writable tail");
	post_and_expect_return(f, 1, extra, 2, "REQUEST of len 0 with 100 bytes");
	back = answer_to(f, &probe);
	assert_rst_for(&back, &probe);
}

static void test_corrupt_ring_then_reboot(void **state)
{
	struct fixture *f = *state;

	/* A head index beyond the ring, published by hand: the daemon may give
	 * up on that ring, but must survive and serve the rebooted driver. */
	rig_ring_publish_head(&f->rig->txq, 5000);
	rig_ring_kick_always(&f->rig->txq);
	wait_device_idle(f);
	assert_true(rig_daemon_alive(&f->d));
	assert_int_equal(rig_reboot(f->rig), 0);
	assert_round_trip(f, 5202);
}

static int setup_indirect(void **state)
{
	if (fixture_setup_daemon_only(state))
		return -1;
	((struct fixture *)*state)->opts.indirect = true;
	fixture_open_rig(*state);
	return 0;
}

static void test_malformed_rx_chains_returned(void **state)
{
	struct fixture *f;
	struct rig *rig;
	uint64_t buf, bad;
	const uint16_t N = VRING_DESC_F_NEXT, W = VRING_DESC_F_WRITE;

	if (fixture_setup_daemon_only(state))
		fail();
	f = *state;
	/* Few good RX buffers, so the daemon reaches the bad ones soon. */
	f->opts.rx_bufs = 4;
	fixture_open_rig(f);
	rig = f->rig;
	buf = rig_mem_alloc(&rig->mem, 4096, 64);
	bad = rig_mem_unmapped_gpa(&rig->mem);
	{
		struct vring_desc read_only[1] = {DESC(buf, 4096, 0, 0)};
		struct vring_desc tiny[1] = {DESC(buf, 20, W, 0)};
		struct vring_desc unmapped[1] = {DESC(bad, 4096, W, 0)};
		struct vring_desc loop[2] = {DESC(buf, 44, W | N, 1),
					     DESC(buf + 64, 1000, W | N, 0)};
		const struct vring_desc *chains[] = {read_only, tiny, unmapped, loop};
		const unsigned lens[] = {1, 1, 1, 2};
		int heads[4];

		for (unsigned i = 0; i < 4; i++) {
			heads[i] = rig_post_raw(rig, 0, chains[i], lens[i]);
			assert_true(heads[i] >= 0);
		}
		/* Provoke 12 replies (RST to unknown connections): they must all
		 * arrive, in the good buffers, and the bad chains come back. */
		for (unsigned i = 0; i < 12; i++) {
			struct rig_hdr h = raw_hdr(rig, 7500 + i, 8500, VIRTIO_VSOCK_OP_RW);
			struct rig_hdr back = answer_to(f, &h);

			assert_rst_for(&back, &h);
		}
		for (unsigned i = 0; i < 4; i++) {
			uint32_t len = 1;

			assert_int_equal(rig_wait_raw(rig, 0, heads[i], &len, T_MS), 0);
			assert_int_equal(len, 0);
		}
	}
	assert_round_trip(f, 5201);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, fixture_setup, fixture_teardown)
		T(test_rst_for_unknown_connection),
		T(test_rst_for_unknown_type),
		T(test_no_rst_for_rst),
		T(test_forged_src_cid_dropped),
		T(test_response_before_data_and_rw_zero_len),
		T(test_malformed_tx_chains_returned),
		T(test_corrupt_ring_then_reboot),
		T(test_tx_chains_dropped_whole),
#undef T
		cmocka_unit_test_setup_teardown(test_malformed_tx_chains_returned,
						setup_indirect, fixture_teardown),
		cmocka_unit_test_teardown(test_malformed_rx_chains_returned,
					  fixture_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
