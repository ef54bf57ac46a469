/* SEQPACKET between the guest and the host over the Unix-socket backend:
 * one guest message is one host message and the reverse, at every size up
 * to the limits, whatever the packets and RX buffers it is split into;
 * messages of several connections interleave without mixing; a message the
 * host socket cannot take yet waits whole; the socket types must match;
 * the host side opens connections on "<uds_path>_seqpacket".  The guest
 * side is played with raw packets (the rig's sockets are streams): the
 * test keeps each connection's credit itself, as a Linux guest does. */
#include <endian.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/virtio_vsock.h>

#include "rig_test.h"

#define HOST_PORT 6100u
#define GUEST_PORT 6200u
#define MAX_MSGS 4096
#define EOM VIRTIO_VSOCK_SEQ_EOM
#define EOR VIRTIO_VSOCK_SEQ_EOR

/* The guest's end of one seqpacket connection, and what the device sent it. */
struct sp_conn {
	uint32_t gport, hport;   /* the guest's and the host's ports */
	uint32_t buf_alloc;      /* ours */
	uint32_t fwd_cnt;        /* payload we consumed */
	uint32_t tx_cnt;         /* payload we sent */
	uint32_t peer_buf_alloc, peer_fwd_cnt;
	unsigned responses, requests, rsts, shutdowns, credit_updates;
	uint32_t shutdown_flags;
	uint8_t *rx;             /* RW payloads, in order */
	size_t rx_len, rx_cap;
	size_t msg_end[MAX_MSGS]; /* where each message ended in rx */
	uint32_t msg_flags[MAX_MSGS];
	unsigned n_msgs;
	unsigned rw_packets;
};

struct sp {
	struct sp_conn conn[4];
	unsigned n;
};

static void on_packet(void *arg, const struct rig_hdr *h, const void *payload)
{
	struct sp *s = arg;

	for (unsigned i = 0; i < s->n; i++) {
		struct sp_conn *c = &s->conn[i];

		if (h->type != VIRTIO_VSOCK_TYPE_SEQPACKET || h->dst_port != c->gport ||
		    (c->hport && h->src_port != c->hport))
			continue;
		c->peer_buf_alloc = h->buf_alloc;
		c->peer_fwd_cnt = h->fwd_cnt;
		switch (h->op) {
		case VIRTIO_VSOCK_OP_REQUEST:
			c->hport = h->src_port;
			c->requests++;
			break;
		case VIRTIO_VSOCK_OP_RESPONSE:
			c->responses++;
			break;
		case VIRTIO_VSOCK_OP_RST:
			c->rsts++;
			break;
		case VIRTIO_VSOCK_OP_SHUTDOWN:
			c->shutdowns++;
			c->shutdown_flags |= h->flags;
			break;
		case VIRTIO_VSOCK_OP_CREDIT_UPDATE:
			c->credit_updates++;
			break;
		case VIRTIO_VSOCK_OP_RW:
			c->rw_packets++;
			if (c->rx_len + h->len > c->rx_cap) {
				c->rx_cap = 2 * (c->rx_len + h->len);
				c->rx = realloc(c->rx, c->rx_cap);
				assert_non_null(c->rx);
			}
			memcpy(c->rx + c->rx_len, payload, h->len);
			c->rx_len += h->len;
			if ((h->flags & EOM) && c->n_msgs < MAX_MSGS) {
				c->msg_flags[c->n_msgs] = h->flags;
				c->msg_end[c->n_msgs++] = c->rx_len;
			}
			break;
		}
		return;
	}
}

static struct sp *sp_new(struct fixture *f)
{
	struct sp *s = calloc(1, sizeof(*s));

	assert_non_null(s);
	f->rig->on_packet = on_packet;
	f->rig->on_packet_arg = s;
	return s;
}

static void sp_free(struct fixture *f, struct sp *s)
{
	f->rig->on_packet = NULL;
	for (unsigned i = 0; i < s->n; i++)
		free(s->conn[i].rx);
	free(s);
}

static struct sp_conn *sp_add(struct sp *s, uint32_t gport, uint32_t hport, uint32_t buf_alloc)
{
	struct sp_conn *c = &s->conn[s->n++];

	c->gport = gport;
	c->hport = hport;
	c->buf_alloc = buf_alloc;
	return c;
}

static struct rig_hdr sp_hdr(struct fixture *f, const struct sp_conn *c, uint16_t op)
{
	return (struct rig_hdr){
		.src_cid = f->rig->cid, .dst_cid = RIG_HOST_CID,
		.src_port = c->gport, .dst_port = c->hport,
		.type = VIRTIO_VSOCK_TYPE_SEQPACKET, .op = op,
		.buf_alloc = c->buf_alloc, .fwd_cnt = c->fwd_cnt,
	};
}

static void sp_op(struct fixture *f, struct sp_conn *c, uint16_t op, uint32_t flags)
{
	struct rig_hdr h = sp_hdr(f, c, op);

	h.flags = flags;
	send_pkt_waiting(f->rig, &h, NULL, 0);
}

static bool answered(struct rig *rig, void *arg)
{
	const struct sp_conn *c = arg;

	(void)rig;
	return c->responses || c->rsts;
}

static bool reset(struct rig *rig, void *arg)
{
	const struct sp_conn *c = arg;

	(void)rig;
	return c->rsts > 0;
}

/* The guest connects to the host's port; true once the device answered
 * RESPONSE, false for an RST. */
static bool sp_connect(struct fixture *f, struct sp_conn *c)
{
	sp_op(f, c, VIRTIO_VSOCK_OP_REQUEST, 0);
	assert_int_equal(rig_wait(f->rig, answered, c, T_MS), 0);
	return c->responses > 0;
}

struct credit_wait {
	const struct sp_conn *c;
	uint32_t need;
};

static uint32_t sp_credit(const struct sp_conn *c)
{
	uint32_t in_flight = c->tx_cnt - c->peer_fwd_cnt;

	return in_flight >= c->peer_buf_alloc ? 0 : c->peer_buf_alloc - in_flight;
}

static bool has_credit(struct rig *rig, void *arg)
{
	const struct credit_wait *w = arg;

	(void)rig;
	return sp_credit(w->c) >= w->need;
}

/* Sends one pkt_size piece of the message, waiting for credit first. */
static void send_piece(struct fixture *f, struct sp_conn *c, const uint8_t *data, uint32_t len,
		       uint32_t flags)
{
	struct credit_wait w = {c, len};
	struct rig_hdr h;

	assert_int_equal(rig_wait(f->rig, has_credit, &w, T_MS), 0);
	h = sp_hdr(f, c, VIRTIO_VSOCK_OP_RW);
	h.len = len;
	h.flags = flags;
	send_pkt_waiting(f->rig, &h, data, len);
	c->tx_cnt += len;
}

/* One guest message, in packets of at most pkt bytes, EOM (and extra
 * flags) on the last, as Linux sends one. */
static void sp_send_msg(struct fixture *f, struct sp_conn *c, const uint8_t *data, size_t len,
			uint32_t pkt, uint32_t extra)
{
	size_t off = 0;

	do {
		uint32_t n = len - off < pkt ? (uint32_t)(len - off) : pkt;

		send_piece(f, c, data + off, n, off + n == len ? EOM | extra : 0);
		off += n;
	} while (off < len);
}

/* The next host message on fd, waiting (the rig running) for it.  Returns
 * its real length (MSG_TRUNC), 0 at EOF. */
static ssize_t host_recv_msg(struct fixture *f, int fd, void *buf, size_t cap)
{
	int64_t deadline = rig_now_ms() + T_MS;

	for (;;) {
		ssize_t n = recv(fd, buf, cap, MSG_DONTWAIT | MSG_TRUNC);

		if (n >= 0 || errno != EAGAIN)
			return n < 0 ? -errno : n;
		assert_int_equal(rig_wait_fd(f->rig, fd, POLLIN, deadline), 0);
	}
}

/* A guest connection to a seqpacket host listener, and its host end. */
static struct sp_conn *g2h_open(struct fixture *f, struct sp *s, int lfd, uint32_t gport,
				int *hfd)
{
	struct sp_conn *c = sp_add(s, gport, HOST_PORT, 256u << 10);

	assert_true(sp_connect(f, c));
	*hfd = rig_host_accept(f->rig, lfd, T_MS);
	assert_true(*hfd >= 0);
	return c;
}

static int seqpacket_listen(struct fixture *f)
{
	int lfd = rig_host_listen_type(f->d.uds_path, HOST_PORT, SOCK_SEQPACKET);

	assert_true(lfd >= 0);
	return lfd;
}

/* Messages of 1 byte, one packet, one byte more, and many packets arrive
 * on the host one message each, whole; the RESPONSE offers the whole
 * window at once (a Linux guest refuses to send a message larger than the
 * buf_alloc it was given). */
static void test_g2h_boundaries(void **state)
{
	static const size_t sizes[] = {1, 100, 4096, 65536, 65537, 200000, 262144};
	struct fixture *f = *state;
	struct sp *s = sp_new(f);
	int lfd = seqpacket_listen(f), hfd;
	struct sp_conn *c = g2h_open(f, s, lfd, GUEST_PORT, &hfd);
	uint8_t *out = malloc(300000), *in = malloc(300000);

	assert_int_equal(c->peer_buf_alloc, 256u << 10);
	for (unsigned i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		pattern_fill(i, 0, out, sizes[i]);
		sp_send_msg(f, c, out, sizes[i], i % 2 ? 65536 : 4096, 0);
		assert_int_equal(host_recv_msg(f, hfd, in, 300000), (ssize_t)sizes[i]);
		assert_memory_equal(in, out, sizes[i]);
	}
	assert_int_equal(c->rsts, 0);
	free(out);
	free(in);
	close(hfd);
	close(lfd);
	sp_free(f, s);
}

/* Two seqpacket connections and a stream one send in turns, their packets
 * interleaved in the ring: each host socket gets its own messages, whole
 * and in order. */
static void test_g2h_interleaved(void **state)
{
	struct fixture *f = *state;
	struct sp *s = sp_new(f);
	int lfd = seqpacket_listen(f), hfd[2];
	int slfd = rig_host_listen(f->d.uds_path, HOST_PORT + 1), shfd;
	struct sp_conn *c[2];
	struct rig_conn *sc;
	uint8_t out[2][3 * 4000], in[20000], sin[300];

	c[0] = g2h_open(f, s, lfd, GUEST_PORT, &hfd[0]);
	c[1] = g2h_open(f, s, lfd, GUEST_PORT + 1, &hfd[1]);
	assert_int_equal(rig_connect(f->rig, RIG_HOST_CID, HOST_PORT + 1, T_MS, &sc), 0);
	shfd = rig_host_accept(f->rig, slfd, T_MS);
	assert_true(shfd >= 0);
	for (unsigned k = 0; k < 2; k++)
		pattern_fill(10 + k, 0, out[k], sizeof(out[k]));
	/* Three messages each of 4000 bytes, in 1000-byte packets, the two
	 * connections taking turns packet by packet, stream data between; all
	 * published at once (fewer than the rig's 32 TX slots), so that one
	 * drain meets them. */
	rig_ring_hold(&f->rig->txq, true);
	for (unsigned m = 0; m < 3; m++)
		for (unsigned p = 0; p < 4; p++)
			for (unsigned k = 0; k < 2; k++) {
				size_t off = m * 4000 + p * 1000;

				send_piece(f, c[k], out[k] + off, 1000, p == 3 ? EOM : 0);
				if (k == 1 && p == 2)
					assert_int_equal(rig_send(f->rig, sc, "stream", 6), 6);
			}
	rig_ring_hold(&f->rig->txq, false);
	for (unsigned m = 0; m < 3; m++)
		for (unsigned k = 0; k < 2; k++) {
			assert_int_equal(host_recv_msg(f, hfd[k], in, sizeof(in)), 4000);
			assert_memory_equal(in, out[k] + m * 4000, 4000);
		}
	assert_int_equal(rig_host_read_full(f->rig, shfd, sin, 18, T_MS), 18);
	assert_memory_equal(sin, "streamstreamstream", 18);
	/* Three whole messages of one connection back to back: three writes. */
	rig_ring_hold(&f->rig->txq, true);
	for (unsigned m = 0; m < 3; m++)
		send_piece(f, c[0], out[0] + m * 100, 100, EOM);
	rig_ring_hold(&f->rig->txq, false);
	for (unsigned m = 0; m < 3; m++) {
		assert_int_equal(host_recv_msg(f, hfd[0], in, sizeof(in)), 100);
		assert_memory_equal(in, out[0] + m * 100, 100);
	}
	for (unsigned k = 0; k < 2; k++)
		close(hfd[k]);
	close(shfd);
	close(lfd);
	close(slfd);
	sp_free(f, s);
}

/* A host that does not read: thousands of 1-byte messages (within the
 * guest's credit) fill its socket, the rest wait in the daemon with their
 * boundaries, and all arrive, one byte each, in order, once it reads; the
 * guest's SHUTDOWN(SEND), sent meanwhile, reaches it after the last. */
static void test_g2h_waits_for_host(void **state)
{
	enum { COUNT = 3000 };
	struct fixture *f = *state;
	struct sp *s = sp_new(f);
	int lfd = seqpacket_listen(f), hfd;
	struct sp_conn *c = g2h_open(f, s, lfd, GUEST_PORT, &hfd);
	uint8_t in[16];
	int queued = -1;

	for (unsigned i = 0; i < COUNT; i++) {
		uint8_t b = (uint8_t)(i % 251);

		send_piece(f, c, &b, 1, EOM);
	}
	sp_op(f, c, VIRTIO_VSOCK_OP_SHUTDOWN, VIRTIO_VSOCK_SHUTDOWN_SEND);
	wait_tx_used(f->rig);
	/* The host socket is full: part of them waits in the daemon. */
	assert_int_equal(ioctl(hfd, FIONREAD, &queued), 0);
	assert_true(queued > 0 && queued < COUNT);
	for (unsigned i = 0; i < COUNT; i++) {
		assert_int_equal(host_recv_msg(f, hfd, in, sizeof(in)), 1);
		assert_int_equal(in[0], i % 251);
	}
	assert_int_equal(host_recv_msg(f, hfd, in, sizeof(in)), 0);
	assert_int_equal(c->rsts, 0);
	close(hfd);
	close(lfd);
	sp_free(f, s);
}

/* An empty message is not sent (a Unix seqpacket reader would take it for
 * the end); the next one arrives. SHUTDOWN(SEND) then reads as EOF. */
static void test_g2h_empty_message_and_shutdown(void **state)
{
	struct fixture *f = *state;
	struct sp *s = sp_new(f);
	int lfd = seqpacket_listen(f), hfd;
	struct sp_conn *c = g2h_open(f, s, lfd, GUEST_PORT, &hfd);
	char in[16];

	send_piece(f, c, NULL, 0, EOM);
	send_piece(f, c, (const uint8_t *)"abc", 3, EOM);
	assert_int_equal(host_recv_msg(f, hfd, in, sizeof(in)), 3);
	assert_memory_equal(in, "abc", 3);
	sp_op(f, c, VIRTIO_VSOCK_OP_SHUTDOWN, VIRTIO_VSOCK_SHUTDOWN_SEND);
	assert_int_equal(host_recv_msg(f, hfd, in, sizeof(in)), 0);
	assert_int_equal(c->rsts, 0);
	close(hfd);
	close(lfd);
	sp_free(f, s);
}


/* SHUTDOWN(SEND) in the middle of a message: the message can never end,
 * so the connection is reset, and the host never sees a part of it. */
static void test_g2h_shutdown_mid_message(void **state)
{
	struct fixture *f = *state;
	struct sp *s = sp_new(f);
	int lfd = seqpacket_listen(f), hfd;
	struct sp_conn *c = g2h_open(f, s, lfd, GUEST_PORT, &hfd);
	char in[16];

	send_piece(f, c, (const uint8_t *)"part", 4, 0);
	sp_op(f, c, VIRTIO_VSOCK_OP_SHUTDOWN, VIRTIO_VSOCK_SHUTDOWN_SEND);
	assert_int_equal(rig_wait(f->rig, reset, c, T_MS), 0);
	assert_true(host_recv_msg(f, hfd, in, sizeof(in)) <= 0);
	assert_int_equal(rig_daemon_log_count(&f->d, "in the middle of a message"), 1);
	close(hfd);
	close(lfd);
	sp_free(f, s);
}

/* The guest's RST ends a seqpacket connection at once: the host socket is
 * closed, not answered, and a later packet on its ports gets an RST. */
static void test_g2h_guest_rst(void **state)
{
	struct fixture *f = *state;
	struct sp *s = sp_new(f);
	int lfd = seqpacket_listen(f), hfd;
	struct sp_conn *c = g2h_open(f, s, lfd, GUEST_PORT, &hfd);
	char in[16];

	sp_op(f, c, VIRTIO_VSOCK_OP_RST, 0);
	assert_int_equal(host_recv_msg(f, hfd, in, sizeof(in)), 0);
	assert_int_equal(c->rsts, 0);
	send_piece(f, c, (const uint8_t *)"late", 4, EOM);
	assert_int_equal(rig_wait(f->rig, reset, c, T_MS), 0);
	close(hfd);
	close(lfd);
	sp_free(f, s);
}

/* A port serves one socket type: a seqpacket REQUEST to a stream listener,
 * and a stream REQUEST to a seqpacket one, get an RST at once, logged. */
static void test_type_mismatch(void **state)
{
	struct fixture *f = *state;
	struct sp *s = sp_new(f);
	int slfd = rig_host_listen(f->d.uds_path, HOST_PORT);
	int qlfd = rig_host_listen_type(f->d.uds_path, HOST_PORT + 1, SOCK_SEQPACKET);
	struct sp_conn *c = sp_add(s, GUEST_PORT, HOST_PORT, 65536);
	struct rig_conn *sc;

	assert_true(slfd >= 0 && qlfd >= 0);
	assert_false(sp_connect(f, c));
	assert_int_equal(rig_connect(f->rig, RIG_HOST_CID, HOST_PORT + 1, T_MS, &sc),
			 -ECONNRESET);
	assert_int_equal(rig_daemon_log_count(&f->d, "the host listens with the other socket "
						    "type than seqpacket"), 1);
	assert_int_equal(rig_daemon_log_count(&f->d, "the host listens with the other socket "
						    "type than stream"), 1);
	close(slfd);
	close(qlfd);
	sp_free(f, s);
}

/* A stream packet on a seqpacket connection's ports gets an RST and leaves
 * the connection as it was, also in the middle of a message; a stream RST
 * there is not answered. */
static void test_packet_of_other_type(void **state)
{
	struct fixture *f = *state;
	struct sp *s = sp_new(f);
	int lfd = seqpacket_listen(f), hfd;
	struct sp_conn *c = g2h_open(f, s, lfd, GUEST_PORT, &hfd);
	struct rig_hdr h = sp_hdr(f, c, VIRTIO_VSOCK_OP_RW), back;
	char in[16];

	while (rig_pop_stray(f->rig, &back))
		;
	h.type = VIRTIO_VSOCK_TYPE_STREAM;
	h.len = 2;
	rig_ring_hold(&f->rig->txq, true);
	send_piece(f, c, (const uint8_t *)"ab", 2, 0);
	send_pkt_waiting(f->rig, &h, "xx", 2);
	send_piece(f, c, (const uint8_t *)"cd", 2, EOM);
	rig_ring_hold(&f->rig->txq, false);
	assert_int_equal(rig_wait_stray(f->rig, &back, T_MS), 0);
	assert_int_equal(back.op, VIRTIO_VSOCK_OP_RST);
	assert_int_equal(back.type, VIRTIO_VSOCK_TYPE_STREAM);
	assert_int_equal(host_recv_msg(f, hfd, in, sizeof(in)), 4);
	assert_memory_equal(in, "abcd", 4);
	h.op = VIRTIO_VSOCK_OP_RST;
	h.len = 0;
	send_pkt_waiting(f->rig, &h, NULL, 0);
	send_piece(f, c, (const uint8_t *)"ok", 2, EOM);
	assert_int_equal(host_recv_msg(f, hfd, in, sizeof(in)), 2);
	assert_false(rig_pop_stray(f->rig, &back));
	assert_int_equal(c->rsts, 0);
	close(hfd);
	close(lfd);
	sp_free(f, s);
}

/* With a tx-buffer-size larger than the host socket can take in one
 * message, the window is capped at what it takes (twice
 * min(SO_SNDBUF asked, wmem_max), less 32 bytes, and 4 MiB at most), and
 * a message of exactly that size arrives whole. */
static void test_g2h_largest_message(void **state)
{
	struct fixture *f = *state;
	struct sp *s = sp_new(f);
	int lfd = seqpacket_listen(f), hfd;
	struct sp_conn *c = g2h_open(f, s, lfd, GUEST_PORT, &hfd);
	FILE *wm = fopen("/proc/sys/net/core/wmem_max", "r");
	unsigned long wmem_max = 0, want = 8ul << 20;
	uint32_t limit;
	uint8_t *out, *in;

	assert_non_null(wm);
	assert_int_equal(fscanf(wm, "%lu", &wmem_max), 1);
	fclose(wm);
	limit = (uint32_t)(2 * (want < wmem_max ? want : wmem_max) - 32);
	if (limit > 4u << 20)
		limit = 4u << 20;
	assert_int_equal(c->peer_buf_alloc, limit);
	out = malloc(limit);
	in = malloc(limit + 1);
	pattern_fill(7, 0, out, limit);
	sp_send_msg(f, c, out, limit, 65536, 0);
	assert_int_equal(host_recv_msg(f, hfd, in, limit + 1), (ssize_t)limit);
	assert_memory_equal(in, out, limit);
	free(out);
	free(in);
	close(hfd);
	close(lfd);
	sp_free(f, s);
}

/* What a message's buffering takes counts against tx-buffer-total (128 KiB
 * here, windows of 64 KiB), where each message ends too: 30000 two-byte
 * messages the host does not read fill A's buffer (about 64 KiB) and its
 * message ends (an eighth of that), more than A's credit, so a new
 * connection is offered less than a window: about 56 KiB.  Then all of
 * them arrive. */
static void test_buffered_messages_count_against_the_budget(void **state)
{
	enum { COUNT = 30000 };
	struct fixture *f = *state;
	struct sp *s = sp_new(f);
	int lfd = seqpacket_listen(f), hfd[2];
	struct sp_conn *a = g2h_open(f, s, lfd, GUEST_PORT, &hfd[0]), *b;
	uint8_t in[4];

	assert_int_equal(a->peer_buf_alloc, 65536);
	for (unsigned i = 0; i < COUNT; i++)
		send_piece(f, a, (const uint8_t *)"mm", 2, EOM);
	wait_tx_used(f->rig);
	b = g2h_open(f, s, lfd, GUEST_PORT + 1, &hfd[1]);
	assert_true(b->peer_buf_alloc > 48u << 10 && b->peer_buf_alloc < 60u << 10);
	for (unsigned i = 0; i < COUNT; i++)
		assert_int_equal(host_recv_msg(f, hfd[0], in, sizeof(in)), 2);
	for (unsigned k = 0; k < 2; k++)
		close(hfd[k]);
	close(lfd);
	sp_free(f, s);
}

/* ---- Host to guest ------------------------------------------------------ */

static bool requested(struct rig *rig, void *arg)
{
	const struct sp_conn *c = arg;

	(void)rig;
	return c->requests > 0;
}

static int seqpacket_client(struct fixture *f)
{
	char path[160];
	int fd;

	snprintf(path, sizeof(path), "%s_seqpacket", f->d.uds_path);
	fd = rig_host_connect_type(path, SOCK_SEQPACKET);
	assert_true(fd >= 0);
	return fd;
}

/* A host client's seqpacket connection to the guest's port: "CONNECT
 * port\n" as its first message, a seqpacket REQUEST to the guest, which
 * accepts with buf_alloc, then "OK port\n" as one message. */
static struct sp_conn *h2g_open(struct fixture *f, struct sp *s, uint32_t gport,
				uint32_t buf_alloc, int *hfd)
{
	struct sp_conn *c = sp_add(s, gport, 0, buf_alloc);
	char line[32], want[32];
	int n = snprintf(line, sizeof(line), "CONNECT %u\n", gport);

	*hfd = seqpacket_client(f);
	assert_int_equal(send(*hfd, line, (size_t)n, 0), n);
	assert_int_equal(rig_wait(f->rig, requested, c, T_MS), 0);
	assert_int_not_equal(c->hport, 0);
	sp_op(f, c, VIRTIO_VSOCK_OP_RESPONSE, 0);
	n = snprintf(want, sizeof(want), "OK %u\n", gport);
	assert_int_equal(host_recv_msg(f, *hfd, line, sizeof(line)), n);
	assert_memory_equal(line, want, (size_t)n);
	return c;
}

/* Host messages of 1 byte, one RX buffer (4052 bytes here), one more, many
 * buffers and the largest (256 KiB) reach the guest as packets whose last
 * alone has EOM, their bytes whole and in order. */
static void test_h2g_boundaries(void **state)
{
	static const size_t sizes[] = {1, 4052, 4053, 65536, 262144};
	struct fixture *f = *state;
	struct sp *s = sp_new(f);
	int hfd;
	struct sp_conn *c;
	int big = 1 << 20;
	uint8_t *out = malloc(262144);
	size_t start = 0;

	c = h2g_open(f, s, GUEST_PORT, 256u << 10, &hfd);
	assert_int_equal(setsockopt(hfd, SOL_SOCKET, SO_SNDBUF, &big, sizeof(big)), 0);
	for (unsigned i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		unsigned rw_before = c->rw_packets;

		pattern_fill(20 + i, 0, out, sizes[i]);
		assert_int_equal(send(hfd, out, sizes[i], 0), (ssize_t)sizes[i]);
		while (c->n_msgs < i + 1)
			assert_true(rig_poll(f->rig, NULL, 0, T_MS) >= 0);
		assert_int_equal(c->msg_end[i] - start, sizes[i]);
		assert_memory_equal(c->rx + start, out, sizes[i]);
		assert_int_equal(c->msg_flags[i] & (EOM | EOR), EOM);
		/* Every packet before the last one of a message went without EOM. */
		assert_int_equal(c->rw_packets - rw_before, (sizes[i] + 4051) / 4052);
		start = c->msg_end[i];
		c->fwd_cnt = (uint32_t)start;
		sp_op(f, c, VIRTIO_VSOCK_OP_CREDIT_UPDATE, 0);
	}
	assert_int_equal(c->rsts, 0);
	free(out);
	close(hfd);
	sp_free(f, s);
}


/* A message waits in the host socket until the guest has credit for all
 * of it, then comes whole, and a smaller one behind it that fits the credit
 * left follows at once; messages of two connections do not mix. */
static void test_h2g_waits_for_credit(void **state)
{
	struct fixture *f = *state;
	struct sp *s = sp_new(f);
	int hfd[2];
	struct sp_conn *c[2];
	uint8_t out[6000];

	c[0] = h2g_open(f, s, GUEST_PORT, 10000, &hfd[0]);
	c[1] = h2g_open(f, s, GUEST_PORT + 1, 10000, &hfd[1]);
	pattern_fill(3, 0, out, sizeof(out));
	for (unsigned k = 0; k < 2; k++) {
		assert_int_equal(send(hfd[k], out, 6000, 0), 6000);
		assert_int_equal(send(hfd[k], out, 6000, 0), 6000);
		assert_int_equal(send(hfd[k], out, 3000, 0), 3000);
	}
	while (c[0]->n_msgs < 1 || c[1]->n_msgs < 1)
		assert_true(rig_poll(f->rig, NULL, 0, T_MS) >= 0);
	wait_device_idle(f);
	for (unsigned k = 0; k < 2; k++) {
		/* 4000 bytes of credit left: not one byte of the second. */
		assert_int_equal(c[k]->rx_len, 6000);
		assert_int_equal(c[k]->n_msgs, 1);
		c[k]->fwd_cnt = 6000;
		sp_op(f, c[k], VIRTIO_VSOCK_OP_CREDIT_UPDATE, 0);
	}
	while (c[0]->n_msgs < 3 || c[1]->n_msgs < 3)
		assert_true(rig_poll(f->rig, NULL, 0, T_MS) >= 0);
	for (unsigned k = 0; k < 2; k++) {
		assert_int_equal(c[k]->msg_end[1], 12000);
		assert_int_equal(c[k]->msg_end[2], 15000);
		assert_memory_equal(c[k]->rx + 6000, out, 6000);
		assert_memory_equal(c[k]->rx + 12000, out, 3000);
		close(hfd[k]);
	}
	sp_free(f, s);
}

/* A client that shuts its write side after CONNECT still gets "OK" as its
 * first message (never an empty message first), and one that closes
 * before the guest answers is let go. */
static void test_h2g_client_half_closed_or_gone(void **state)
{
	struct fixture *f = *state;
	struct sp *s = sp_new(f);
	struct sp_conn *c = sp_add(s, GUEST_PORT, 0, 65536);
	struct sp_conn *d = sp_add(s, GUEST_PORT + 1, 0, 65536);
	int fd = seqpacket_client(f), gone = seqpacket_client(f);
	char in[16];

	assert_int_equal(send(fd, "CONNECT 6200\n", 13, 0), 13);
	assert_int_equal(shutdown(fd, SHUT_WR), 0);
	assert_int_equal(rig_wait(f->rig, requested, c, T_MS), 0);
	wait_device_idle(f);
	sp_op(f, c, VIRTIO_VSOCK_OP_RESPONSE, 0);
	assert_int_equal(host_recv_msg(f, fd, in, sizeof(in)), 8);
	assert_memory_equal(in, "OK 6200\n", 8);
	assert_int_equal(c->rsts, 0);
	close(fd);

	/* Its hang-up (EPOLLHUP: seqpacket has no zero-length probe) ends
	 * the connection at once; the request timeout, a minute here, would
	 * come far too late. */
	assert_int_equal(send(gone, "CONNECT 6201\n", 13, 0), 13);
	assert_int_equal(rig_wait(f->rig, requested, d, T_MS), 0);
	close(gone);
	assert_int_equal(rig_wait(f->rig, reset, d, T_MS), 0);
	sp_free(f, s);
}

/* A guest that shrinks its buffer below the message waiting for its
 * credit can never take it: the connection is reset, not left waiting. */
static void test_h2g_buffer_shrinks_below_waiting_message(void **state)
{
	struct fixture *f = *state;
	struct sp *s = sp_new(f);
	int hfd;
	struct sp_conn *c = h2g_open(f, s, GUEST_PORT, 10000, &hfd);
	uint8_t out[6000] = {0}, in[8];

	assert_int_equal(send(hfd, out, 6000, 0), 6000);
	assert_int_equal(send(hfd, out, 6000, 0), 6000);
	while (c->n_msgs < 1)
		assert_true(rig_poll(f->rig, NULL, 0, T_MS) >= 0);
	wait_device_idle(f);
	c->fwd_cnt = 6000;
	c->buf_alloc = 5000;
	sp_op(f, c, VIRTIO_VSOCK_OP_CREDIT_UPDATE, 0);
	assert_int_equal(rig_wait(f->rig, reset, c, T_MS), 0);
	assert_int_equal(c->n_msgs, 1);
	assert_true(host_recv_msg(f, hfd, in, sizeof(in)) <= 0);
	close(hfd);
	sp_free(f, s);
}

/* A message larger than the guest's buf_alloc, or than 256 KiB, can never
 * be delivered: the connection is reset (the host socket closed), never a
 * truncated message. */
static void test_h2g_too_large(void **state)
{
	struct fixture *f = *state;
	struct sp *s = sp_new(f);
	int hfd[2], big = 1 << 20;
	struct sp_conn *c[2];
	uint8_t *out = calloc(1, 262145), in[8];

	c[0] = h2g_open(f, s, GUEST_PORT, 4096, &hfd[0]);
	c[1] = h2g_open(f, s, GUEST_PORT + 1, 1u << 20, &hfd[1]);
	assert_int_equal(setsockopt(hfd[1], SOL_SOCKET, SO_SNDBUF, &big, sizeof(big)), 0);
	assert_int_equal(send(hfd[0], out, 4097, 0), 4097);
	assert_int_equal(send(hfd[1], out, 262145, 0), 262145);
	for (unsigned k = 0; k < 2; k++) {
		assert_int_equal(rig_wait(f->rig, reset, c[k], T_MS), 0);
		assert_int_equal(c[k]->rw_packets, 0);
		assert_true(host_recv_msg(f, hfd[k], in, sizeof(in)) <= 0);
		close(hfd[k]);
	}
	assert_int_equal(rig_daemon_log_count(&f->d, "the guest's receive buffer"), 1);
	assert_int_equal(rig_daemon_log_count(&f->d, "the largest the daemon carries"), 1);
	free(out);
	sp_free(f, s);
}

/* A message more RX buffers long than the daemon fills at once (128 of
 * 1 KiB, from a ring of 128 or of 256 of them), or than the guest's whole
 * RX ring holds (32 buffers of 4 KiB), is reset, never delivered in part
 * nor waited for forever. */
static void test_h2g_rx_buffers_too_small(void **state)
{
	struct fixture *f = *state;
	struct sp *s = sp_new(f);
	int hfd, big = 1 << 20;
	struct sp_conn *c = h2g_open(f, s, GUEST_PORT, 256u << 10, &hfd);
	uint8_t *out = calloc(1, 200000), in[8];

	assert_int_equal(setsockopt(hfd, SOL_SOCKET, SO_SNDBUF, &big, sizeof(big)), 0);
	assert_int_equal(send(hfd, out, 200000, 0), 200000);
	assert_int_equal(rig_wait(f->rig, reset, c, T_MS), 0);
	assert_int_equal(c->rw_packets, 0);
	assert_true(host_recv_msg(f, hfd, in, sizeof(in)) <= 0);
	assert_int_equal(rig_daemon_log_count(&f->d, "the guest's RX buffers can hold"), 1);
	close(hfd);
	free(out);
	sp_free(f, s);
}

/* A message needing more RX buffers than the guest has posted (40 of
 * 4 KiB for 200000 bytes) waits for more: the device sleeps meanwhile
 * (no spinning on the buffers it gave back), other connections go on, and
 * the message arrives whole once the guest posts enough. */
static void test_h2g_waits_for_rx_buffers(void **state)
{
	struct fixture *f = *state;
	struct sp *s = sp_new(f);
	int hfd, big = 1 << 20;
	struct sp_conn *c = h2g_open(f, s, GUEST_PORT, 256u << 10, &hfd);
	uint8_t *out = malloc(200000);

	assert_int_equal(setsockopt(hfd, SOL_SOCKET, SO_SNDBUF, &big, sizeof(big)), 0);
	pattern_fill(5, 0, out, 200000);
	assert_int_equal(send(hfd, out, 200000, 0), 200000);
	wait_device_idle(f);
	assert_int_equal(c->rw_packets, 0);
	assert_round_trip(f, HOST_PORT + 5);
	wait_device_idle(f);
	assert_int_equal(c->rw_packets, 0);
	f->rig->opts.rx_bufs = 128;
	while (c->n_msgs < 1)
		assert_true(rig_poll(f->rig, NULL, 0, T_MS) >= 0);
	assert_int_equal(c->msg_end[0], 200000);
	assert_memory_equal(c->rx, out, 200000);
	assert_int_equal(c->rsts, 0);
	free(out);
	close(hfd);
	sp_free(f, s);
}

/* A VMM that reconnects while a message waits for RX buffers takes the
 * waiting connection with it; the device serves the new front-end. */
static void test_h2g_waiting_connection_dropped(void **state)
{
	struct fixture *f = *state;
	struct sp *s = sp_new(f);
	int hfd, big = 1 << 20;
	uint8_t *out = calloc(1, 200000), in[8];

	h2g_open(f, s, GUEST_PORT, 256u << 10, &hfd);
	assert_int_equal(setsockopt(hfd, SOL_SOCKET, SO_SNDBUF, &big, sizeof(big)), 0);
	assert_int_equal(send(hfd, out, 200000, 0), 200000);
	wait_device_idle(f);
	assert_int_equal(rig_reconnect(f->rig), 0);
	/* Closed with the message unread: ECONNRESET, or EOF. */
	assert_true(host_recv_msg(f, hfd, in, sizeof(in)) <= 0);
	assert_round_trip(f, HOST_PORT + 5);
	close(hfd);
	free(out);
	sp_free(f, s);
}

/* A raw 4 KiB RX buffer, or (readable) a malformed one. */
static int post_raw_rx(struct rig *rig, uint64_t *buf, bool readable)
{
	struct vring_desc d = {0};
	int head;

	*buf = rig_mem_alloc(&rig->mem, 4096, 64);
	d.addr = htole64(*buf);
	d.len = htole32(4096);
	d.flags = htole16(readable ? 0 : VRING_DESC_F_WRITE);
	head = rig_post_raw(rig, 0, &d, 1);
	assert_true(head >= 0);
	return head;
}

/* A malformed RX chain among the buffers a message needs: the chains
 * before it go back unused, it goes back unused once, and the message
 * arrives whole in the chains behind it (and the rig's next buffer). */
static void test_h2g_malformed_rx_chain(void **state)
{
	struct fixture *f = *state;
	struct sp *s = sp_new(f);
	int hfd, big = 1 << 20, head[4];
	uint64_t buf[4];
	uint32_t used[4];
	struct sp_conn *c = h2g_open(f, s, GUEST_PORT, 256u << 10, &hfd);
	uint8_t *out = malloc(12000), *got = malloc(12000);
	struct rig_hdr h;
	size_t at = 0;

	assert_int_equal(setsockopt(hfd, SOL_SOCKET, SO_SNDBUF, &big, sizeof(big)), 0);
	rig_freeze_rx(f->rig, true);
	assert_int_equal(f->rig->n_rx_posted, 1);
	rig_ring_hold(&f->rig->rxq, true);
	for (unsigned i = 0; i < 4; i++)
		head[i] = post_raw_rx(f->rig, &buf[i], i == 1);
	rig_ring_hold(&f->rig->rxq, false);
	pattern_fill(6, 0, out, 12000);
	assert_int_equal(send(hfd, out, 12000, 0), 12000);
	wait_device_idle(f);
	rig_freeze_rx(f->rig, false);
	for (unsigned i = 0; i < 4; i++)
		assert_int_equal(rig_wait_raw(f->rig, 0, head[i], &used[i], T_MS), 0);
	assert_int_equal(used[0], 0);
	assert_int_equal(used[1], 0);
	for (unsigned i = 2; i < 4; i++) {
		rig_hdr_decode(rig_mem_ptr(&f->rig->mem, buf[i], RIG_HDR_SIZE), &h);
		assert_int_equal(used[i], 4096);
		assert_int_equal(h.len, 4096 - RIG_HDR_SIZE);
		assert_int_equal(h.flags & EOM, 0);
		memcpy(got + at, rig_mem_ptr(&f->rig->mem, buf[i] + RIG_HDR_SIZE, h.len), h.len);
		at += h.len;
	}
	while (c->n_msgs < 1)
		assert_true(rig_poll(f->rig, NULL, 0, T_MS) >= 0);
	assert_int_equal(at + c->rx_len, 12000);
	memcpy(got + at, c->rx, c->rx_len);
	assert_memory_equal(got, out, 12000);
	assert_int_equal(f->rig->stats.rx_buffers_returned_empty, 1);
	free(out);
	free(got);
	close(hfd);
	sp_free(f, s);
}

/* An empty host message is not sent to the guest; the next one is.  The
 * host's close then reaches the guest as SHUTDOWN. */
static void test_h2g_empty_message_and_eof(void **state)
{
	struct fixture *f = *state;
	struct sp *s = sp_new(f);
	int hfd;
	struct sp_conn *c = h2g_open(f, s, GUEST_PORT, 65536, &hfd);

	/* An empty message alone, handled before anything follows it: not
	 * the end of the connection (its peer is still there). */
	assert_int_equal(send(hfd, "", 0, 0), 0);
	wait_device_idle(f);
	assert_true(rig_poll(f->rig, NULL, 0, 0) >= 0);
	assert_int_equal(c->shutdowns, 0);
	assert_int_equal(send(hfd, "", 0, 0), 0);
	assert_int_equal(send(hfd, "xyz", 3, 0), 3);
	while (c->n_msgs < 1)
		assert_true(rig_poll(f->rig, NULL, 0, T_MS) >= 0);
	assert_int_equal(c->rx_len, 3);
	assert_int_equal(c->rw_packets, 1);
	close(hfd);
	while (!c->shutdowns)
		assert_true(rig_poll(f->rig, NULL, 0, T_MS) >= 0);
	assert_true(c->shutdown_flags & VIRTIO_VSOCK_SHUTDOWN_SEND);
	assert_int_equal(c->rx_len, 3);
	sp_free(f, s);
}

/* A host client the guest does not answer is closed without "OK" when the
 * request timeout (shortened to 1 s here) passes, and the guest, which got
 * the REQUEST, gets an RST: as for streams. */
static void test_h2g_request_timeout(void **state)
{
	struct fixture *f = *state;
	struct sp *s = sp_new(f);
	struct sp_conn *c = sp_add(s, GUEST_PORT, 0, 65536);
	int fd = seqpacket_client(f);
	char in[16];

	assert_int_equal(send(fd, "CONNECT 6200\n", 13, 0), 13);
	assert_int_equal(rig_wait(f->rig, requested, c, T_MS), 0);
	assert_int_equal(rig_wait(f->rig, reset, c, T_MS), 0);
	assert_int_equal(host_recv_msg(f, fd, in, sizeof(in)), 0);
	close(fd);
	sp_free(f, s);
}

/* A guest reboot, then a VMM reconnect, drop the seqpacket connections of
 * both kinds: their host sockets see EOF; new ones work afterwards. */
static void test_guest_and_vmm_reset(void **state)
{
	struct fixture *f = *state;
	int lfd = seqpacket_listen(f), g2h_fd, h2g_fd;
	char in[16];

	for (unsigned round = 0; round < 3; round++) {
		struct sp *s = sp_new(f);
		struct sp_conn *c = g2h_open(f, s, lfd, GUEST_PORT + 2 * round, &g2h_fd);

		send_piece(f, c, (const uint8_t *)"hello", 5, EOM);
		assert_int_equal(host_recv_msg(f, g2h_fd, in, sizeof(in)), 5);
		h2g_open(f, s, GUEST_PORT + 2 * round + 1, 65536, &h2g_fd);
		if (round < 2) {
			/* The rig reuses its memory: the daemon must be done with
			 * the rings before they are zeroed. */
			wait_device_idle(f);
			assert_int_equal(round ? rig_reconnect(f->rig) : rig_reboot(f->rig), 0);
			assert_int_equal(host_recv_msg(f, g2h_fd, in, sizeof(in)), 0);
			assert_int_equal(host_recv_msg(f, h2g_fd, in, sizeof(in)), 0);
		}
		close(g2h_fd);
		close(h2g_fd);
		sp_free(f, s);
	}
	close(lfd);
}

/* The AF_VSOCK backend does not forward seqpacket (a non-blocking vsock
 * seqpacket send may send part of a message and fail): RST, logged. */
static void test_vsock_backend_refuses(void **state)
{
	struct fixture *f = *state;
	struct sp *s = sp_new(f);
	struct sp_conn *c = sp_add(s, GUEST_PORT, HOST_PORT, 65536);

	assert_false(sp_connect(f, c));
	assert_int_equal(rig_daemon_log_count(&f->d, "host AF_VSOCK carries streams only"), 1);
	sp_free(f, s);
}

/* The first message must be one CONNECT line, alone: anything else closes
 * the client without an answer, and no REQUEST reaches the guest. */
static void test_h2g_bad_connect(void **state)
{
	static const char *const bad[] = {"CONNECT 6200\nmore", "CONNECT 6200", "HELLO\n"};
	struct fixture *f = *state;
	char in[8];

	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int fd = seqpacket_client(f);
		int64_t deadline = rig_now_ms() + T_MS;

		assert_int_equal(send(fd, bad[i], strlen(bad[i]), 0), (ssize_t)strlen(bad[i]));
		assert_int_equal(rig_wait_fd(f->rig, fd, POLLIN, deadline), 0);
		assert_int_equal(recv(fd, in, sizeof(in), MSG_DONTWAIT), 0);
		close(fd);
	}
	assert_int_equal(rig_daemon_log_count(&f->d, "not one CONNECT line alone"), 2);
	assert_int_equal(f->rig->stats.rx_pkts, 0);
}

/* A daemon (with args, may be NULL) and a rig that leaves seqpacket
 * packets to the test, its options tuned by tune (may be NULL). */
static int setup_with(void **state, const char *const *args, void (*tune)(struct rig_opts *))
{
	struct fixture *f;

	if (fixture_setup_daemon_args(state, args))
		return -1;
	f = *state;
	f->opts.strays_unanswered = true;
	if (tune)
		tune(&f->opts);
	fixture_open_rig(f);
	return 0;
}

static int setup_quiet(void **state)
{
	return setup_with(state, NULL, NULL);
}

static void small_rx_buffers(struct rig_opts *o)
{
	o->rx_buf_size = 1024 + RIG_HDR_SIZE;
}

static void few_rx_buffers(struct rig_opts *o)
{
	o->rx_bufs = 40;
}

static void one_rx_buffer(struct rig_opts *o)
{
	o->rx_bufs = 1;
}

static void small_rx_buffers_big_ring(struct rig_opts *o)
{
	small_rx_buffers(o);
	o->queue_size = 256;
	o->rx_bufs = 256;
}

static void small_rx_ring(struct rig_opts *o)
{
	o->queue_size = 32;
	o->rx_bufs = 32;
}

#define SETUP_TUNED(name)                                 \
	static int setup_##name(void **state)             \
	{                                                 \
		return setup_with(state, NULL, name);     \
	}
SETUP_TUNED(small_rx_buffers)
SETUP_TUNED(few_rx_buffers)
SETUP_TUNED(one_rx_buffer)
SETUP_TUNED(small_rx_buffers_big_ring)
SETUP_TUNED(small_rx_ring)

static int setup_request_timeout(void **state, const char *ms)
{
	int err;

	setenv("VHOST_DEVICE_VSOCK_REQUEST_TIMEOUT_MS", ms, 1);
	err = setup_quiet(state);
	unsetenv("VHOST_DEVICE_VSOCK_REQUEST_TIMEOUT_MS");
	return err;
}

static int setup_short_request_timeout(void **state)
{
	return setup_request_timeout(state, "1000");
}

static int setup_long_request_timeout(void **state)
{
	return setup_request_timeout(state, "60000");
}

/* A daemon with the AF_VSOCK backend (no forward-listen port, so no host
 * AF_VSOCK needed). */
static int setup_vsock_backend(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	const char *daemon = getenv(RIG_DAEMON_ENV);

	if (!f || !daemon || rig_daemon_prepare(&f->d) < 0)
		return -1;
	{
		const char *const argv[] = {daemon, "--guest-cid", "3", "--socket",
					    f->d.socket_path, "--forward-cid", "1", NULL};
		const char *const sockets[] = {f->d.socket_path, NULL};

		if (rig_daemon_spawn(&f->d, argv, sockets) < 0) {
			rig_daemon_dump_log(&f->d);
			rig_daemon_stop(&f->d, T_MS);
			free(f);
			return -1;
		}
	}
	rig_opts_default(&f->opts);
	f->opts.socket_path = f->d.socket_path;
	f->opts.strays_unanswered = true;
	*state = f;
	fixture_open_rig(f);
	return 0;
}

static int setup_small_pool(void **state)
{
	static const char *const args[] = {"--tx-buffer-size", "65536", "--tx-buffer-total",
					   "131072", NULL};

	return setup_with(state, args, NULL);
}

static int setup_big_window(void **state)
{
	static const char *const args[] = {"--tx-buffer-size", "8388608", NULL};

	return setup_with(state, args, NULL);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup_quiet, fixture_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_g2h_boundaries),
		T(test_g2h_interleaved),
		T(test_g2h_waits_for_host),
		T(test_g2h_empty_message_and_shutdown),
		T(test_g2h_shutdown_mid_message),
		T(test_g2h_guest_rst),
		T(test_type_mismatch),
		T(test_packet_of_other_type),
		cmocka_unit_test_setup_teardown(test_g2h_largest_message, setup_big_window,
						fixture_teardown),
		cmocka_unit_test_setup_teardown(test_buffered_messages_count_against_the_budget,
						setup_small_pool, fixture_teardown),
		T(test_h2g_boundaries),
		T(test_h2g_waits_for_credit),
		T(test_h2g_too_large),
		T(test_h2g_buffer_shrinks_below_waiting_message),
		cmocka_unit_test_setup_teardown(test_h2g_rx_buffers_too_small,
						setup_small_rx_buffers, fixture_teardown),
		cmocka_unit_test_setup_teardown(test_h2g_rx_buffers_too_small,
						setup_small_rx_ring, fixture_teardown),
		cmocka_unit_test_setup_teardown(test_h2g_rx_buffers_too_small,
						setup_small_rx_buffers_big_ring, fixture_teardown),
		cmocka_unit_test_setup_teardown(test_h2g_waits_for_rx_buffers, setup_few_rx_buffers,
						fixture_teardown),
		cmocka_unit_test_setup_teardown(test_h2g_waiting_connection_dropped,
						setup_few_rx_buffers, fixture_teardown),
		cmocka_unit_test_setup_teardown(test_h2g_malformed_rx_chain, setup_one_rx_buffer,
						fixture_teardown),
		T(test_h2g_empty_message_and_eof),
		T(test_h2g_bad_connect),
		cmocka_unit_test_setup_teardown(test_h2g_client_half_closed_or_gone,
						setup_long_request_timeout, fixture_teardown),
		cmocka_unit_test_setup_teardown(test_h2g_request_timeout,
						setup_short_request_timeout, fixture_teardown),
		T(test_guest_and_vmm_reset),
		cmocka_unit_test_setup_teardown(test_vsock_backend_refuses, setup_vsock_backend,
						fixture_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
