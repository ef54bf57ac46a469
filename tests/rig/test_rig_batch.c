/* The TX batching path (device_tx.c): consecutive RW packets of one
 * connection are written to its host socket together.  Here several guest
 * connections to the same host port (so only the guest's source port tells
 * them apart) interleave their packets, and forged packets sit in the
 * middle, all published at once so that one drain of the TX ring meets
 * them together (rig_ring_hold).  Each host socket must get exactly its
 * connection's bytes, in order; the forged packets are dropped without an
 * answer; everything around them is delivered intact. */
#include <endian.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/virtio_vsock.h>

#include "rig_test.h"

#define PORT 5300u
#define NCONN 3
#define ROUNDS 6
#define FORGED_CID 7u

struct batch {
	struct rig_conn *c[NCONN];
	int hfd[NCONN];
	uint8_t *data[NCONN];
	size_t len[NCONN];  /* queued so far */
	size_t cap;
};

static void open_conns(struct fixture *f, struct batch *b, int lfd)
{
	b->cap = 64 * 1024;
	for (int i = 0; i < NCONN; i++) {
		/* One at a time, so the i-th accepted host socket is c[i]'s. */
		assert_int_equal(rig_connect(f->rig, RIG_HOST_CID, PORT, T_MS, &b->c[i]), 0);
		b->hfd[i] = rig_host_accept(f->rig, lfd, T_MS);
		assert_true(b->hfd[i] >= 0);
		b->data[i] = malloc(b->cap);
		assert_non_null(b->data[i]);
		pattern_fill(1000 + (uint64_t)i, 0, b->data[i], b->cap);
		b->len[i] = 0;
	}
	for (int i = 1; i < NCONN; i++)
		assert_int_not_equal(b->c[i]->local_port, b->c[0]->local_port);
}

/* Queues the next n bytes of connection i's pattern (one RW packet). */
static void queue_data(struct fixture *f, struct batch *b, int i, size_t n)
{
	assert_true(b->len[i] + n <= b->cap);
	assert_int_equal(rig_send(f->rig, b->c[i], b->data[i] + b->len[i], n), (ssize_t)n);
	b->len[i] += n;
}

/* An RW on c's ports (or c's RW with another source CID), not c's data. */
static void queue_forged(struct fixture *f, const struct rig_conn *c, uint64_t src_cid)
{
	static const char evil[] = "FORGED-FORGED-FORGED";
	struct rig_hdr h = {
		.src_cid = src_cid, .dst_cid = RIG_HOST_CID,
		.src_port = c->local_port, .dst_port = c->peer_port,
		.len = sizeof(evil), .type = VIRTIO_VSOCK_TYPE_STREAM,
		.op = VIRTIO_VSOCK_OP_RW, .buf_alloc = c->buf_alloc, .fwd_cnt = c->fwd_cnt,
	};

	assert_int_equal(rig_send_pkt(f->rig, &h, evil, sizeof(evil)), 0);
}

/* Every host socket holds exactly its connection's bytes, then EOF. */
static void check_delivery(struct fixture *f, struct batch *b)
{
	for (int i = 0; i < NCONN; i++) {
		uint8_t *got = malloc(b->len[i] + 64);

		assert_non_null(got);
		assert_int_equal(rig_shutdown(f->rig, b->c[i], VIRTIO_VSOCK_SHUTDOWN_SEND), 0);
		assert_int_equal(rig_host_read_full(f->rig, b->hfd[i], got, b->len[i] + 64, T_MS),
				 (ssize_t)b->len[i]);
		if (memcmp(got, b->data[i], b->len[i]) != 0)
			fail_msg("connection %d: host got other bytes than its guest sent", i);
		free(got);
	}
}

static void close_all(struct fixture *f, struct batch *b)
{
	for (int i = 0; i < NCONN; i++) {
		close(b->hfd[i]);
		rig_close(f->rig, b->c[i]);
		free(b->data[i]);
	}
}

/* Connections to the same host port take turns packet by packet, and in
 * runs of several packets; runs are where the batch grows. */
static void test_interleaved_connections_kept_apart(void **state)
{
	struct fixture *f = *state;
	int lfd = rig_host_listen(f->d.uds_path, PORT);
	uint64_t seed = 42;
	struct batch b;
	struct rig_hdr stray;

	assert_true(lfd >= 0);
	open_conns(f, &b, lfd);
	rig_ring_hold(&f->rig->txq, true);
	for (int r = 0; r < ROUNDS; r++) {
		/* Round robin, then a run of three on one connection. */
		for (int i = 0; i < NCONN; i++)
			queue_data(f, &b, i, 100 + rnd_below(&seed, 3000));
		for (int k = 0; k < 3 && r % 2 == 0; k++)
			queue_data(f, &b, r % NCONN, 1 + rnd_below(&seed, 2000));
	}
	/* Nothing published yet: the daemon sees them all at once. */
	assert_int_not_equal(le16toh(f->rig->txq.avail->idx), f->rig->txq.avail_idx);
	rig_ring_hold(&f->rig->txq, false);
	check_delivery(f, &b);
	assert_false(rig_pop_stray(f->rig, &stray));
	close_all(f, &b);
	close(lfd);
}

/* Forged source CIDs inside runs of one connection's packets, on that
 * connection's own ports: dropped without an RST (the daemon answers no one
 * for a CID the guest does not own), and the data before and after them in
 * the same drain reaches the host intact. */
static void test_forged_cid_mid_batch_dropped(void **state)
{
	struct fixture *f = *state;
	int lfd = rig_host_listen(f->d.uds_path, PORT);
	uint64_t rsts = f->rig->stats.rsts_received;
	uint64_t seed = 7;
	struct batch b;
	struct rig_hdr stray;

	assert_true(lfd >= 0);
	open_conns(f, &b, lfd);
	rig_ring_hold(&f->rig->txq, true);
	for (int r = 0; r < 3; r++) {
		queue_data(f, &b, 0, 500 + rnd_below(&seed, 2000));
		queue_data(f, &b, 0, 500 + rnd_below(&seed, 2000));
		/* Another VM's CID, then the host's own. */
		queue_forged(f, b.c[0], r == 1 ? RIG_HOST_CID : FORGED_CID);
		queue_data(f, &b, 0, 500 + rnd_below(&seed, 2000));
		queue_data(f, &b, 1, 500 + rnd_below(&seed, 2000));
		queue_forged(f, b.c[2], FORGED_CID);
		queue_data(f, &b, 2, 500 + rnd_below(&seed, 2000));
		queue_data(f, &b, 1, 500 + rnd_below(&seed, 2000));
	}
	rig_ring_hold(&f->rig->txq, false);
	check_delivery(f, &b);
	/* The drain is over and its replies are in (the shutdowns were
	 * handled after it): no RST answered a forged packet. */
	assert_false(rig_pop_stray(f->rig, &stray));
	assert_int_equal(f->rig->stats.rsts_received, rsts);
	/* The connections were not disturbed: the host can still answer. */
	for (int i = 0; i < NCONN; i++) {
		char buf[3];

		assert_int_equal(rig_host_write_all(f->rig, b.hfd[i], "ack", 3, T_MS), 0);
		assert_int_equal(rig_recv_wait(f->rig, b.c[i], buf, 3, T_MS), 3);
		assert_memory_equal(buf, "ack", 3);
	}
	close_all(f, &b);
	close(lfd);
	assert_round_trip(f, PORT + 1);
}

/* A TX ring with room for more than two batches of packets (two
 * descriptors each). */
static int setup_big_ring(void **state)
{
	struct fixture *f;

	if (fixture_setup_daemon_only(state))
		return -1;
	f = *state;
	f->opts.queue_size = 512;
	f->opts.tx_slots = 256;
	fixture_open_rig(f);
	return 0;
}

/* One connection's run of small packets, more than one batch holds
 * (TX_BATCH_CHAINS is 64): the batch is written out and a new one begun as
 * often as needed, every chain comes back, and the host gets every byte in
 * order. */
static void test_long_run_split_into_batches(void **state)
{
	struct fixture *f = *state;
	int lfd = rig_host_listen(f->d.uds_path, PORT + 2);
	struct rig_conn *c;
	uint8_t data[200 * 40], got[sizeof(data) + 64];
	int hfd;

	assert_true(lfd >= 0);
	assert_int_equal(rig_connect(f->rig, RIG_HOST_CID, PORT + 2, T_MS, &c), 0);
	hfd = rig_host_accept(f->rig, lfd, T_MS);
	assert_true(hfd >= 0);
	pattern_fill(77, 0, data, sizeof(data));
	rig_ring_hold(&f->rig->txq, true);
	for (size_t off = 0; off < sizeof(data); off += 40)
		assert_int_equal(rig_send(f->rig, c, data + off, 40), 40);
	rig_ring_hold(&f->rig->txq, false);
	assert_int_equal(rig_shutdown(f->rig, c, VIRTIO_VSOCK_SHUTDOWN_SEND), 0);
	assert_int_equal(rig_host_read_full(f->rig, hfd, got, sizeof(got), T_MS),
			 (ssize_t)sizeof(data));
	assert_memory_equal(got, data, sizeof(data));
	close(hfd);
	rig_close(f->rig, c);
	close(lfd);
	assert_round_trip(f, PORT + 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, fixture_setup, fixture_teardown)
		T(test_interleaved_connections_kept_apart),
		T(test_forged_cid_mid_batch_dropped),
#undef T
		cmocka_unit_test_setup_teardown(test_long_run_split_into_batches, setup_big_ring,
						fixture_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
