/* "An RST is never answered with an RST", on every path a guest packet can
 * take through device_tx.c and device_sibling.c: unknown type, unknown
 * connection, SEQPACKET toward the host backend, an unreachable sibling
 * CID, a live connection.  And the converse: the same bad packets with
 * any other op do draw exactly one RST each.  Each case list is published
 * at once (rig_ring_hold) and ends with a probe whose RST is the last
 * reply of that drain: the daemon answers TX packets in ring order, so
 * every reply owed comes before the probe's. */
#include <errno.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/virtio_vsock.h>

#include "rig_test.h"

#define HOST_PORT 5400u
#define NO_SUCH_CID 99u
#define UNKNOWN_TYPE 9u

static struct rig_hdr pkt(struct rig *rig, uint64_t dst_cid, uint16_t type, uint16_t op,
			  uint32_t src_port, uint32_t dst_port)
{
	return (struct rig_hdr){
		.src_cid = rig->cid, .dst_cid = dst_cid,
		.src_port = src_port, .dst_port = dst_port,
		.type = type, .op = op, .buf_alloc = 65536,
	};
}

/* The cases, with op RST or with another op. */
static unsigned make_cases(struct rig *rig, uint16_t op, struct rig_hdr *h)
{
	unsigned n = 0;

	h[n++] = pkt(rig, RIG_HOST_CID, UNKNOWN_TYPE, op, 7001, 8001);
	h[n++] = pkt(rig, RIG_HOST_CID, VIRTIO_VSOCK_TYPE_STREAM, op, 7002, 8002);
	h[n++] = pkt(rig, RIG_HOST_CID, VIRTIO_VSOCK_TYPE_SEQPACKET, op, 7003, 8003);
	h[n++] = pkt(rig, NO_SUCH_CID, VIRTIO_VSOCK_TYPE_STREAM, op, 7004, 8004);
	h[n++] = pkt(rig, NO_SUCH_CID, VIRTIO_VSOCK_TYPE_SEQPACKET, op, 7005, 8005);
	h[n++] = pkt(rig, NO_SUCH_CID, UNKNOWN_TYPE, op, 7006, 8006);
	return n;
}

static void assert_rst_answers(const struct rig_hdr *back, const struct rig_hdr *h)
{
	assert_int_equal(back->op, VIRTIO_VSOCK_OP_RST);
	assert_int_equal(back->src_cid, h->dst_cid);
	assert_int_equal(back->dst_cid, h->src_cid);
	assert_int_equal(back->src_port, h->dst_port);
	assert_int_equal(back->dst_port, h->src_port);
	assert_int_equal(back->type, h->type);
}

/* A guest connection to a host listener, and the host's end of it. */
static struct rig_conn *live_conn(struct fixture *f, int lfd, int *hfd)
{
	struct rig_conn *c;

	assert_int_equal(rig_connect(f->rig, RIG_HOST_CID, HOST_PORT, T_MS, &c), 0);
	*hfd = rig_host_accept(f->rig, lfd, T_MS);
	assert_true(*hfd >= 0);
	return c;
}

static bool conn_closed(struct rig *rig, void *arg)
{
	(void)rig;
	return ((struct rig_conn *)arg)->state == RIG_CONN_CLOSED;
}

static void test_rst_never_answered(void **state)
{
	struct fixture *f = *state;
	struct rig *rig = f->rig;
	int lfd = rig_host_listen(f->d.uds_path, HOST_PORT);
	struct rig_hdr h[8], probe, back, live, other_type;
	uint64_t rsts = rig->stats.rsts_received;
	struct rig_conn *c;
	unsigned n;
	int hfd;

	assert_true(lfd >= 0);
	c = live_conn(f, lfd, &hfd);
	live = pkt(rig, RIG_HOST_CID, VIRTIO_VSOCK_TYPE_STREAM, VIRTIO_VSOCK_OP_RST,
		   c->local_port, c->peer_port);
	n = make_cases(rig, VIRTIO_VSOCK_OP_RST, h);
	probe = pkt(rig, RIG_HOST_CID, VIRTIO_VSOCK_TYPE_STREAM, VIRTIO_VSOCK_OP_RW, 7100, 8100);
	other_type = live;
	other_type.type = VIRTIO_VSOCK_TYPE_SEQPACKET;
	rig_ring_hold(&rig->txq, true);
	for (unsigned i = 0; i < n; i++)
		assert_int_equal(rig_send_pkt(rig, &h[i], NULL, 0), 0);
	/* An RST of the other type on a live connection's ports: dropped. */
	assert_int_equal(rig_send_pkt(rig, &other_type, NULL, 0), 0);
	/* The guest aborts a live connection: the daemon drops it silently. */
	assert_int_equal(rig_send_pkt(rig, &live, NULL, 0), 0);
	assert_int_equal(rig_send_pkt(rig, &probe, NULL, 0), 0);
	rig_ring_hold(&rig->txq, false);

	assert_int_equal(rig_wait_stray(rig, &back, T_MS), 0);
	assert_rst_answers(&back, &probe);
	assert_false(rig_pop_stray(rig, &back));
	/* Not even on the live connection (the rig still thinks it is up, so an
	 * RST there would have reached c, not the strays). */
	assert_int_equal(rig->stats.rsts_received, rsts + 1);
	assert_int_equal(c->state, RIG_CONN_CONNECTED);
	/* The host side of the aborted connection is closed, once. */
	assert_int_equal(rig_host_wait_eof(rig, hfd, T_MS), 0);
	close(hfd);
	/* The connection is gone: a packet on its ports now gets an RST. */
	live.op = VIRTIO_VSOCK_OP_CREDIT_UPDATE;
	assert_int_equal(rig_send_pkt(rig, &live, NULL, 0), 0);
	assert_int_equal(rig_wait(rig, conn_closed, c, T_MS), 0);
	assert_int_equal(c->error, -ECONNRESET);
	close(lfd);
	rig_close(rig, c);
	assert_round_trip(f, HOST_PORT + 1);
}

/* The same packets with other ops: one RST each, in order, and a live
 * connection sent an unknown op is reset (RST to the guest, host closed). */
static void test_bad_packets_answered_with_one_rst(void **state)
{
	static const uint16_t ops[] = {
		VIRTIO_VSOCK_OP_REQUEST, VIRTIO_VSOCK_OP_RW, VIRTIO_VSOCK_OP_SHUTDOWN,
		VIRTIO_VSOCK_OP_CREDIT_REQUEST,
	};
	struct fixture *f = *state;
	struct rig *rig = f->rig;
	int lfd = rig_host_listen(f->d.uds_path, HOST_PORT);
	struct rig_hdr h[8], probe, back, bad_op;
	struct rig_conn *c;
	unsigned n;
	int hfd;

	assert_true(lfd >= 0);
	for (unsigned k = 0; k < sizeof(ops) / sizeof(ops[0]); k++) {
		n = make_cases(rig, ops[k], h);
		probe = pkt(rig, RIG_HOST_CID, VIRTIO_VSOCK_TYPE_STREAM, VIRTIO_VSOCK_OP_RW,
			    7100, 8100);
		rig_ring_hold(&rig->txq, true);
		for (unsigned i = 0; i < n; i++)
			assert_int_equal(rig_send_pkt(rig, &h[i], NULL, 0), 0);
		assert_int_equal(rig_send_pkt(rig, &probe, NULL, 0), 0);
		rig_ring_hold(&rig->txq, false);
		for (unsigned i = 0; i < n; i++) {
			assert_int_equal(rig_wait_stray(rig, &back, T_MS), 0);
			assert_rst_answers(&back, &h[i]);
		}
		assert_int_equal(rig_wait_stray(rig, &back, T_MS), 0);
		assert_rst_answers(&back, &probe);
		assert_false(rig_pop_stray(rig, &back));
	}
	/* An op no spec defines, on a live connection. */
	c = live_conn(f, lfd, &hfd);
	bad_op = pkt(rig, RIG_HOST_CID, VIRTIO_VSOCK_TYPE_STREAM, 99, c->local_port,
		     c->peer_port);
	assert_int_equal(rig_send_pkt(rig, &bad_op, NULL, 0), 0);
	assert_int_equal(rig_wait(rig, conn_closed, c, T_MS), 0);
	assert_int_equal(c->error, -ECONNRESET);
	assert_int_equal(rig_host_wait_eof(rig, hfd, T_MS), 0);
	close(hfd);
	close(lfd);
	rig_close(rig, c);
	assert_round_trip(f, HOST_PORT + 1);
}

/* A RESPONSE on a connection that is already up is a protocol error: the
 * connection is reset (the host end sees EOF, and nothing else: no second
 * "OK" line or other bytes), the guest gets an RST. */
static void test_response_on_live_connection_resets(void **state)
{
	struct fixture *f = *state;
	int lfd = rig_host_listen(f->d.uds_path, HOST_PORT);
	struct rig_conn *c;
	struct rig_hdr h;
	char buf[64];
	int hfd;

	assert_true(lfd >= 0);
	c = live_conn(f, lfd, &hfd);
	h = pkt(f->rig, RIG_HOST_CID, VIRTIO_VSOCK_TYPE_STREAM, VIRTIO_VSOCK_OP_RESPONSE,
		c->local_port, c->peer_port);
	assert_int_equal(rig_send_pkt(f->rig, &h, NULL, 0), 0);
	assert_int_equal(rig_wait(f->rig, conn_closed, c, T_MS), 0);
	assert_int_equal(c->error, -ECONNRESET);
	assert_int_equal(rig_host_read_full(f->rig, hfd, buf, sizeof(buf), T_MS), 0);
	rig_close(f->rig, c);
	close(hfd);
	close(lfd);
}

/* Host backends speak STREAM only: a SEQPACKET REQUEST to a port where a
 * host application listens is refused with an RST of the same type, and
 * the application is not connected to. */
static void test_seqpacket_to_host_listener_refused(void **state)
{
	struct fixture *f = *state;
	int lfd = rig_host_listen(f->d.uds_path, HOST_PORT);
	struct rig_hdr h = pkt(f->rig, RIG_HOST_CID, VIRTIO_VSOCK_TYPE_SEQPACKET,
			       VIRTIO_VSOCK_OP_REQUEST, 7100, HOST_PORT);
	struct rig_hdr back;

	assert_true(lfd >= 0);
	assert_int_equal(rig_send_pkt(f->rig, &h, NULL, 0), 0);
	assert_int_equal(rig_wait_stray(f->rig, &back, T_MS), 0);
	assert_rst_answers(&back, &h);
	assert_true(accept(lfd, NULL, NULL) < 0);
	close(lfd);
}

/* A guest that sends data on a host connection it has not accepted (the
 * daemon's REQUEST unanswered) is reset: the host client gets no "OK" line
 * and none of that data, only EOF, and the guest an RST. */
static int setup_silent_guest(void **state)
{
	struct fixture *f;

	if (fixture_setup_daemon_only(state))
		return -1;
	f = *state;
	f->opts.strays_unanswered = true;
	fixture_open_rig(f);
	return 0;
}

static void test_data_before_accepting_resets(void **state)
{
	struct fixture *f = *state;
	int hfd = rig_host_connect(f->d.uds_path);
	struct rig_hdr req, rw, back;
	char buf[64];

	assert_true(hfd >= 0);
	assert_int_equal(rig_host_write_all(f->rig, hfd, "CONNECT 6100\n", 13, T_MS), 0);
	assert_int_equal(rig_wait_stray(f->rig, &req, T_MS), 0);
	assert_int_equal(req.op, VIRTIO_VSOCK_OP_REQUEST);
	assert_int_equal(req.dst_port, 6100);
	rw = (struct rig_hdr){
		.src_cid = f->rig->cid, .dst_cid = req.src_cid,
		.src_port = req.dst_port, .dst_port = req.src_port, .len = 5,
		.type = VIRTIO_VSOCK_TYPE_STREAM, .op = VIRTIO_VSOCK_OP_RW, .buf_alloc = 65536,
	};
	assert_int_equal(rig_send_pkt(f->rig, &rw, "early", 5), 0);
	assert_int_equal(rig_wait_stray(f->rig, &back, T_MS), 0);
	assert_int_equal(back.op, VIRTIO_VSOCK_OP_RST);
	assert_int_equal(back.src_port, req.src_port);
	assert_int_equal(rig_host_read_full(f->rig, hfd, buf, sizeof(buf), T_MS), 0);
	close(hfd);
}

/* A guest that sends a REQUEST on a port pair it already has a connection
 * on has forgotten the old one (a reboot the daemon did not see): the old
 * host connection is closed and a new one made, and the guest gets a
 * RESPONSE, not an RST.  Raw packets, so the rig keeps no state for them. */
static void test_request_reusing_ports_reconnects(void **state)
{
	struct fixture *f = *state;
	int lfd = rig_host_listen(f->d.uds_path, HOST_PORT);
	struct rig_hdr h = pkt(f->rig, RIG_HOST_CID, VIRTIO_VSOCK_TYPE_STREAM,
			       VIRTIO_VSOCK_OP_REQUEST, 7200, HOST_PORT);
	struct rig_hdr back;
	char buf[8];
	int old, fresh;

	assert_true(lfd >= 0);
	assert_int_equal(rig_send_pkt(f->rig, &h, NULL, 0), 0);
	assert_int_equal(rig_wait_stray(f->rig, &back, T_MS), 0);
	assert_int_equal(back.op, VIRTIO_VSOCK_OP_RESPONSE);
	old = rig_host_accept(f->rig, lfd, T_MS);
	assert_true(old >= 0);
	assert_int_equal(rig_send_pkt(f->rig, &h, NULL, 0), 0);
	assert_int_equal(rig_wait_stray(f->rig, &back, T_MS), 0);
	assert_int_equal(back.op, VIRTIO_VSOCK_OP_RESPONSE);
	assert_int_equal(back.dst_port, 7200);
	assert_int_equal(rig_host_read_full(f->rig, old, buf, sizeof(buf), T_MS), 0);
	fresh = rig_host_accept(f->rig, lfd, T_MS);
	assert_true(fresh >= 0);
	close(old);
	close(fresh);
	close(lfd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, fixture_setup, fixture_teardown)
		T(test_rst_never_answered),
		T(test_bad_packets_answered_with_one_rst),
		T(test_response_on_live_connection_resets),
		T(test_seqpacket_to_host_listener_refused),
#undef T
		cmocka_unit_test_setup_teardown(test_data_before_accepting_resets,
						setup_silent_guest, fixture_teardown),
		cmocka_unit_test_setup_teardown(test_request_reusing_ports_reconnects,
						setup_silent_guest, fixture_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
