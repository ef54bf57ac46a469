/* Half-closes that complete a connection, in each order: the SHUTDOWN the
 * guest gets carries the right flags, the host socket sees EOF (never a
 * reset) and is closed by the daemon as soon as both directions are done,
 * and afterwards the connection is gone: a packet on its ports gets an
 * RST. */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/virtio_vsock.h>

#include "rig_test.h"

#define PORT 5700u
#define SEND VIRTIO_VSOCK_SHUTDOWN_SEND
#define RCV VIRTIO_VSOCK_SHUTDOWN_RCV

/* SHUTDOWN packets the daemon sent the guest on one port. */
struct shut_log {
	uint32_t port;
	unsigned n;
	uint32_t flags[8];
	unsigned rsts;
};

static void record(void *arg, const struct rig_hdr *h, const void *payload)
{
	struct shut_log *l = arg;

	(void)payload;
	if (h->dst_port != l->port)
		return;
	if (h->op == VIRTIO_VSOCK_OP_SHUTDOWN && l->n < 8)
		l->flags[l->n++] = h->flags;
	if (h->op == VIRTIO_VSOCK_OP_RST)
		l->rsts++;
}

struct pair {
	struct rig_conn *c;
	int lfd, hfd;
	uint32_t local_port, peer_port;
	int base_fds;
	struct shut_log log;
};

static void open_pair(struct fixture *f, struct pair *p)
{
	memset(p, 0, sizeof(*p));
	p->lfd = rig_host_listen(f->d.uds_path, PORT);
	assert_true(p->lfd >= 0);
	p->base_fds = rig_daemon_fd_count(&f->d);
	p->log.port = f->rig->next_local_port;
	f->rig->on_packet = record;
	f->rig->on_packet_arg = &p->log;
	assert_int_equal(rig_connect(f->rig, RIG_HOST_CID, PORT, T_MS, &p->c), 0);
	assert_int_equal(p->c->local_port, p->log.port);
	p->local_port = p->c->local_port;
	p->peer_port = p->c->peer_port;
	p->hfd = rig_host_accept(f->rig, p->lfd, T_MS);
	assert_true(p->hfd >= 0);
}

static bool peer_shut(struct rig *rig, void *arg)
{
	(void)rig;
	return ((struct rig_conn *)arg)->peer_shutdown != 0;
}

/* The host reads EOF: read returns 0, not an error, and nothing after. */
static void host_sees_eof(struct fixture *f, int hfd)
{
	char b;

	assert_int_equal(rig_wait_fd(f->rig, hfd, POLLIN, rig_now_ms() + T_MS), 0);
	assert_int_equal(read(hfd, &b, 1), 0);
	assert_int_equal(read(hfd, &b, 1), 0);
}

/* The daemon holds no descriptor for the connection any more. */
static void host_socket_released(struct fixture *f, struct pair *p)
{
	assert_int_equal(wait_fd_count(f, p->base_fds, T_MS), p->base_fds);
}

/* The connection is gone from the daemon: a packet on its ports gets an
 * RST (the rig has forgotten it too, so the RST is a stray), and it is the
 * only reply on those ports: a probe sent after it draws the last reply of
 * that TX drain, and everything owed before (an answer to the guest's own
 * RST, say) would have come first. */
static void conn_gone(struct fixture *f, const struct pair *p)
{
	struct rig_hdr h = {
		.src_cid = f->rig->cid, .dst_cid = RIG_HOST_CID,
		.src_port = p->local_port, .dst_port = p->peer_port,
		.type = VIRTIO_VSOCK_TYPE_STREAM, .op = VIRTIO_VSOCK_OP_CREDIT_UPDATE,
		.buf_alloc = 65536,
	};
	struct rig_hdr probe = h, back;

	probe.src_port = 7999;
	probe.dst_port = 8999;
	assert_int_equal(rig_send_pkt(f->rig, &h, NULL, 0), 0);
	assert_int_equal(rig_send_pkt(f->rig, &probe, NULL, 0), 0);
	assert_int_equal(rig_wait_stray(f->rig, &back, T_MS), 0);
	assert_int_equal(back.op, VIRTIO_VSOCK_OP_RST);
	assert_int_equal(back.src_port, p->peer_port);
	assert_int_equal(back.dst_port, p->local_port);
	assert_int_equal(rig_wait_stray(f->rig, &back, T_MS), 0);
	assert_int_equal(back.op, VIRTIO_VSOCK_OP_RST);
	assert_int_equal(back.dst_port, probe.src_port);
	assert_false(rig_pop_stray(f->rig, &back));
}

static void finish(struct fixture *f, struct pair *p)
{
	f->rig->on_packet = NULL;
	close(p->hfd);
	close(p->lfd);
	assert_round_trip(f, PORT + 1);
}

/* Guest SHUTDOWN(SEND) first, host EOF second: the daemon's SHUTDOWN says
 * both directions are over (RCV|SEND), the host socket is closed at once
 * (while the guest still has the host's last bytes unread, so it has not
 * closed yet), and the guest's RST ends the connection without an
 * answer. */
static void test_guest_send_then_host_eof(void **state)
{
	struct fixture *f = *state;
	struct pair p;
	char buf[8];

	open_pair(f, &p);
	assert_int_equal(rig_shutdown(f->rig, p.c, SEND), 0);
	host_sees_eof(f, p.hfd);
	assert_int_equal(rig_host_write_all(f->rig, p.hfd, "tail", 4, T_MS), 0);
	assert_int_equal(shutdown(p.hfd, SHUT_WR), 0);
	assert_int_equal(rig_wait(f->rig, peer_shut, p.c, T_MS), 0);
	assert_int_equal(p.log.n, 1);
	assert_int_equal(p.log.flags[0], RCV | SEND);
	assert_int_equal(rig_conn_readable(p.c), 4);
	host_socket_released(f, &p);
	assert_int_equal(p.c->state, RIG_CONN_CONNECTED);
	assert_int_equal(rig_recv(f->rig, p.c, buf, sizeof(buf)), 4);
	assert_memory_equal(buf, "tail", 4);
	/* Both ways shut: close(2) sends RST, which is never answered. */
	rig_close(f->rig, p.c);
	conn_gone(f, &p);
	/* The RST conn_gone drew is the only one. */
	assert_int_equal(p.log.rsts, 1);
	assert_int_equal(p.log.n, 1);
	finish(f, &p);
}

/* Host EOF first: SHUTDOWN(SEND) only, the guest may still send, and its
 * later SHUTDOWN(SEND) gives the host EOF and releases the socket; the
 * guest's close then gets the daemon's RST. */
static void test_host_eof_then_guest_send(void **state)
{
	struct fixture *f = *state;
	struct pair p;
	char buf[8];

	open_pair(f, &p);
	assert_int_equal(shutdown(p.hfd, SHUT_WR), 0);
	assert_int_equal(rig_wait(f->rig, peer_shut, p.c, T_MS), 0);
	assert_int_equal(p.log.n, 1);
	assert_int_equal(p.log.flags[0], SEND);
	assert_int_equal(rig_recv(f->rig, p.c, buf, sizeof(buf)), 0);
	assert_int_equal(rig_send_all(f->rig, p.c, "after", 5, T_MS), 0);
	assert_int_equal(rig_host_read_full(f->rig, p.hfd, buf, 5, T_MS), 5);
	assert_memory_equal(buf, "after", 5);
	assert_int_equal(rig_shutdown(f->rig, p.c, SEND), 0);
	host_sees_eof(f, p.hfd);
	host_socket_released(f, &p);
	assert_int_equal(rig_close_wait(f->rig, p.c, T_MS), 0);
	assert_int_equal(p.log.rsts, 1);
	assert_int_equal(p.log.n, 1);
	conn_gone(f, &p);
	finish(f, &p);
}

/* Guest SHUTDOWN(RCV|SEND) while the host is open: the host reads EOF, the
 * guest gets an RST, and the connection is gone. */
static void test_guest_shuts_both(void **state)
{
	struct fixture *f = *state;
	struct pair p;

	open_pair(f, &p);
	assert_int_equal(rig_send_all(f->rig, p.c, "last", 4, T_MS), 0);
	assert_int_equal(rig_close_wait(f->rig, p.c, T_MS), 0);
	assert_int_equal(p.log.rsts, 1);
	assert_int_equal(p.log.n, 0);
	{
		char buf[4];

		assert_int_equal(rig_host_read_full(f->rig, p.hfd, buf, 4, T_MS), 4);
		assert_memory_equal(buf, "last", 4);
	}
	host_sees_eof(f, p.hfd);
	host_socket_released(f, &p);
	conn_gone(f, &p);
	finish(f, &p);
}

/* Host closes entirely after the guest's SHUTDOWN(SEND): as with SHUT_WR,
 * RCV|SEND, and the guest's RST is not answered. */
static void test_guest_send_then_host_close(void **state)
{
	struct fixture *f = *state;
	struct pair p;

	open_pair(f, &p);
	assert_int_equal(rig_shutdown(f->rig, p.c, SEND), 0);
	host_sees_eof(f, p.hfd);
	close(p.hfd);
	p.hfd = -1;
	assert_int_equal(rig_wait(f->rig, peer_shut, p.c, T_MS), 0);
	assert_int_equal(p.log.flags[0], RCV | SEND);
	host_socket_released(f, &p);
	rig_close(f->rig, p.c);
	conn_gone(f, &p);
	assert_int_equal(p.log.rsts, 1);
	finish(f, &p);
}

/* Guest SHUTDOWN(RCV): what the host writes afterwards is not read for
 * the guest (no RW on the connection) and costs the daemon nothing: it
 * sleeps, and serves other connections and the guest's own sending. */
static void test_guest_shuts_receiving(void **state)
{
	struct fixture *f = *state;
	struct pair p;
	char buf[5];

	open_pair(f, &p);
	assert_int_equal(rig_shutdown(f->rig, p.c, RCV), 0);
	wait_device_idle(f);
	assert_int_equal(rig_host_write_all(f->rig, p.hfd, "late", 4, T_MS), 0);
	wait_device_idle(f);
	assert_int_equal(p.c->bytes_in, 0);
	assert_int_equal(rig_send_all(f->rig, p.c, "still", 5, T_MS), 0);
	assert_int_equal(rig_host_read_full(f->rig, p.hfd, buf, 5, T_MS), 5);
	assert_memory_equal(buf, "still", 5);
	assert_int_equal(p.c->bytes_in, 0);
	rig_close(f->rig, p.c);
	finish(f, &p);
}

/* A connection whose daemon side still buffers guest data the host has
 * not read: data is what was sent (sent bytes), got room to read it back. */
struct buffered {
	struct pair p;
	uint8_t *data, *got;
	size_t cap, sent;
};

/* Bytes waiting in the receive queue of host socket fd. */
static size_t host_queued(int fd)
{
	int n = -1;

	assert_int_equal(ioctl(fd, FIONREAD, &n), 0);
	assert_true(n >= 0);
	return (size_t)n;
}

/* Opens b's pair and sends data in 4 KiB pieces, the host not reading,
 * until the daemon buffers some of it: once it has handled every piece,
 * the host socket holds less than was sent (it is full).  The guest
 * still has credit then: less than a piece is buffered. */
static void open_buffered(struct fixture *f, struct buffered *b, uint32_t seed)
{
	b->cap = 8u << 20;
	b->sent = 0;
	b->data = malloc(b->cap);
	b->got = malloc(b->cap);
	assert_non_null(b->data);
	assert_non_null(b->got);
	pattern_fill(seed, 0, b->data, b->cap);
	open_pair(f, &b->p);
	do {
		assert_true(b->sent + 4096 <= b->cap);
		assert_int_equal(rig_send(f->rig, b->p.c, b->data + b->sent, 4096), 4096);
		b->sent += 4096;
		wait_tx_used(f->rig);
	} while (host_queued(b->p.hfd) == b->sent);
	assert_true(rig_conn_credit(b->p.c) > 0);
}

static void free_buffered(struct buffered *b)
{
	free(b->data);
	free(b->got);
}

/* Host EOF while the daemon still buffers guest data the host has not
 * read, the guest done sending: the guest hears SHUTDOWN(SEND) only (its
 * data is still on the way, so the connection is not over), the daemon
 * keeps the host socket until that data is written, and the host reads
 * every byte, then EOF. */
static void test_host_eof_with_data_buffered(void **state)
{
	struct fixture *f = *state;
	struct buffered b;

	open_buffered(f, &b, 31);
	assert_int_equal(rig_shutdown(f->rig, b.p.c, SEND), 0);
	assert_int_equal(shutdown(b.p.hfd, SHUT_WR), 0);
	wait_device_idle(f);
	assert_int_equal(rig_wait(f->rig, peer_shut, b.p.c, T_MS), 0);
	assert_int_equal(b.p.log.flags[0], SEND);
	assert_int_equal(rig_host_read_full(f->rig, b.p.hfd, b.got, b.cap, T_MS),
			 (ssize_t)b.sent);
	assert_memory_equal(b.got, b.data, b.sent);
	host_sees_eof(f, b.p.hfd);
	free_buffered(&b);
	rig_close(f->rig, b.p.c);
	finish(f, &b.p);
}

static bool conn_reset(struct rig *rig, void *arg)
{
	(void)rig;
	return ((struct rig_conn *)arg)->error == -ECONNRESET;
}

/* Data after the guest's SHUTDOWN(SEND), within its credit, while earlier
 * data still waits in the daemon: a protocol violation, answered with an
 * RST, and the late byte never reaches the host. */
static void test_data_after_shutdown_send(void **state)
{
	struct fixture *f = *state;
	struct buffered b;
	struct rig_hdr h;
	ssize_t got;

	open_buffered(f, &b, 32);
	assert_int_equal(rig_shutdown(f->rig, b.p.c, SEND), 0);
	h = (struct rig_hdr){
		.src_cid = f->rig->cid, .dst_cid = RIG_HOST_CID,
		.src_port = b.p.local_port, .dst_port = b.p.peer_port,
		.type = VIRTIO_VSOCK_TYPE_STREAM, .op = VIRTIO_VSOCK_OP_RW,
		.len = 1, .buf_alloc = b.p.c->buf_alloc, .fwd_cnt = b.p.c->fwd_cnt,
	};
	assert_int_equal(rig_send_pkt(f->rig, &h, "!", 1), 0);
	assert_int_equal(rig_wait(f->rig, conn_reset, b.p.c, T_MS), 0);
	got = rig_host_read_full(f->rig, b.p.hfd, b.got, b.cap, T_MS);
	assert_true(got >= 0 && (size_t)got < b.sent);
	assert_memory_equal(b.got, b.data, (size_t)got);
	free_buffered(&b);
	host_socket_released(f, &b.p);
	finish(f, &b.p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, fixture_setup, fixture_teardown)
		T(test_guest_send_then_host_eof),
		T(test_host_eof_then_guest_send),
		T(test_guest_shuts_both),
		T(test_guest_send_then_host_close),
		T(test_guest_shuts_receiving),
		T(test_host_eof_with_data_buffered),
		T(test_data_after_shutdown_send),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
