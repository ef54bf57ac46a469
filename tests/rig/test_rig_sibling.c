/* Sibling routing through the real daemon: several rig guests on one
 * daemon (--vm per guest) talking to each other.  Covers groups (allow and
 * deny), unknown CIDs (RST at once, never an RST for an RST), 64 KiB
 * packets split into small RX buffers, back-pressure when a guest stops
 * reading, both directions at full speed, front-ends that come and go at
 * different times, and SEQPACKET packets with their EOM/EOR flags. */
#include <endian.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <linux/virtio_vsock.h>

#include "rig_test.h"

#define CID_A 3u
#define CID_B 4u
#define CID_C 5u
#define PORT 7000u
#define MAX_RIGS 3

struct sib {
	struct rig_daemon d;
	unsigned n;
	struct rig_vm vm[MAX_RIGS];
	struct rig *rig[MAX_RIGS];
	char path[MAX_RIGS][96]; /* vhost-user sockets */
};

/* Everything the daemon delivered to one rig, for splitting checks. */
struct capture {
	uint32_t type;
	uint64_t packets;
	uint32_t max_len;
	uint8_t *bytes;  /* payloads of packets of `type`, concatenated */
	size_t len, cap;
	uint32_t last_flags;
	uint64_t flagged; /* packets with EOM or EOR set */
};

static void capture_packet(void *arg, const struct rig_hdr *h, const void *payload)
{
	struct capture *cap = arg;

	if (h->type != cap->type || h->op != VIRTIO_VSOCK_OP_RW)
		return;
	cap->packets++;
	if (h->len > cap->max_len)
		cap->max_len = h->len;
	if (cap->len + h->len <= cap->cap) {
		memcpy(cap->bytes + cap->len, payload, h->len);
		cap->len += h->len;
	}
	cap->last_flags = h->flags;
	if (h->flags & (VIRTIO_VSOCK_SEQ_EOM | VIRTIO_VSOCK_SEQ_EOR))
		cap->flagged++;
}

static void sib_open_rig(struct sib *s, unsigned i, const struct rig_opts *base)
{
	struct rig_opts o;
	int err;

	rig_opts_default(&o);
	if (base)
		o = *base;
	o.socket_path = s->path[i];
	err = rig_open(&s->rig[i], &o);
	if (err)
		fprintf(stderr, "rig_open for cid %u: %s\n", s->vm[i].cid, strerror(-err));
	assert_int_equal(err, 0);
	assert_int_equal(s->rig[i]->cid, s->vm[i].cid);
}

static int sib_setup(void **state)
{
	signal(SIGPIPE, SIG_IGN);
	*state = calloc(1, sizeof(struct sib));
	return *state ? 0 : -1;
}

/* Starts the daemon only; tests open the rigs they need. */
static void sib_start(struct sib *s, const struct rig_vm *vms, unsigned n)
{
	int err;

	s->n = n;
	memcpy(s->vm, vms, n * sizeof(*vms));
	err = rig_daemon_start_vms(&s->d, vms, n);
	if (err) {
		fprintf(stderr, "cannot start the daemon ($%s): %s\n", RIG_DAEMON_ENV,
			strerror(-err));
		rig_daemon_dump_log(&s->d);
	}
	assert_int_equal(err, 0);
	for (unsigned i = 0; i < n; i++)
		rig_daemon_vm_path(&s->d, vms[i].cid, false, s->path[i], sizeof(s->path[i]));
}

static void sib_start_open(struct sib *s, const struct rig_vm *vms, unsigned n)
{
	sib_start(s, vms, n);
	for (unsigned i = 0; i < n; i++)
		sib_open_rig(s, i, NULL);
}

/* Runs after every test, failed ones included.  Checks what
 * fixture_teardown checks: no protocol breach seen by any rig, the daemon
 * alive all along and exiting 0 on SIGTERM. */
static int sib_teardown(void **state)
{
	struct sib *s = *state;
	bool alive = !s->d.dir[0] || rig_daemon_alive(&s->d);
	uint64_t violations = 0;
	int status = 0;

	for (unsigned i = 0; i < s->n; i++) {
		if (!s->rig[i])
			continue;
		if (s->rig[i]->stats.violations)
			fprintf(stderr, "rig %u saw %llu violations, last: %s\n", s->vm[i].cid,
				(unsigned long long)s->rig[i]->stats.violations,
				s->rig[i]->last_violation);
		violations += s->rig[i]->stats.violations;
		rig_destroy(s->rig[i]);
	}
	if (s->d.dir[0]) {
		rig_daemon_dump_log(&s->d);
		status = rig_daemon_stop(&s->d, T_MS);
	}
	free(s);
	if (!alive)
		fprintf(stderr, "the daemon died during the test\n");
	if (status != 0)
		fprintf(stderr, "daemon exit status %d after SIGTERM\n", status);
	return alive && status == 0 && violations == 0 ? 0 : -1;
}

/* Runs rig a's loop, waking up for rig b's events too, then b's. */
static int poll_both(struct rig *a, struct rig *b, int timeout_ms)
{
	struct pollfd pfd[3] = {
		{.fd = b->device_started ? b->rxq.call_fd : -1, .events = POLLIN},
		{.fd = b->device_started ? b->txq.call_fd : -1, .events = POLLIN},
		{.fd = b->vu.fd, .events = POLLIN},
	};
	int rc = rig_poll(a, pfd, 3, timeout_ms);

	if (rc < 0)
		return rc;
	return rig_poll(b, NULL, 0, 0);
}

/* a connects to b's port; b accepts.  Both loops run meanwhile. */
static void connect_pair(struct rig *a, struct rig *b, uint32_t port, struct rig_conn **ca,
			 struct rig_conn **cb)
{
	int64_t deadline = rig_now_ms() + T_MS;

	assert_int_equal(rig_listen(b, port), 0);
	assert_int_equal(rig_connect_start(a, b->cid, port, ca), 0);
	while ((*ca)->state == RIG_CONN_CONNECTING ||
	       rig_accept(b, port, 0, cb) != 0) {
		assert_true(rig_left_ms(deadline) > 0);
		assert_true(poll_both(a, b, rig_left_ms(deadline)) >= 0);
	}
	assert_int_equal((*ca)->state, RIG_CONN_CONNECTED);
}

static uint8_t *pattern(size_t len, uint64_t seed)
{
	uint8_t *p = malloc(len);

	assert_non_null(p);
	pattern_fill(seed, 0, p, len);
	return p;
}

/* One direction of a transfer between two rigs. */
struct flow {
	struct rig *from, *to;
	struct rig_conn *tx, *rx;
	uint8_t *data, *got;
	size_t len, sent, recvd;
};

static void flow_init(struct flow *fl, struct rig *from, struct rig_conn *tx, struct rig *to,
		      struct rig_conn *rx, size_t len, uint64_t seed)
{
	*fl = (struct flow){.from = from, .to = to, .tx = tx, .rx = rx, .len = len,
			    .data = pattern(len, seed), .got = calloc(1, len)};
	assert_non_null(fl->got);
}

static bool flow_send(struct flow *fl)
{
	ssize_t n;

	if (fl->sent == fl->len)
		return false;
	n = rig_send(fl->from, fl->tx, fl->data + fl->sent, fl->len - fl->sent);
	assert_true(n >= 0);
	fl->sent += (size_t)n;
	return n > 0;
}

static bool flow_recv(struct flow *fl)
{
	ssize_t n;

	if (fl->recvd == fl->len)
		return false;
	n = rig_recv(fl->to, fl->rx, fl->got + fl->recvd, fl->len - fl->recvd);
	if (n == -EAGAIN)
		return false;
	assert_true(n > 0);
	fl->recvd += (size_t)n;
	return true;
}

static void flow_check_free(struct flow *fl)
{
	assert_int_equal(fl->recvd, fl->len);
	assert_memory_equal(fl->got, fl->data, fl->len);
	free(fl->data);
	free(fl->got);
}

/* Moves every flow to the end, running both rigs' loops. */
static void run_flows(struct rig *a, struct rig *b, struct flow *fl, unsigned n, int timeout_ms)
{
	int64_t deadline = rig_now_ms() + timeout_ms;

	for (;;) {
		bool progress = false, done = true;

		for (unsigned i = 0; i < n; i++) {
			progress |= flow_send(&fl[i]);
			progress |= flow_recv(&fl[i]);
			done &= fl[i].recvd == fl[i].len;
		}
		if (done)
			return;
		if (rig_left_ms(deadline) == 0)
			fail_msg("transfer stalled: flow 0 at %zu/%zu bytes", fl[0].recvd, fl[0].len);
		if (!progress)
			assert_true(poll_both(a, b, rig_left_ms(deadline)) >= 0);
	}
}

/* ---- Tests ---------------------------------------------------------------- */

static void test_feature_seqpacket_offered(void **state)
{
	const struct rig_vm vms[] = {{CID_A, NULL}};
	struct sib *s = *state;

	sib_start_open(s, vms, 1);
	assert_true(s->rig[0]->device_features & (1ull << VIRTIO_VSOCK_F_SEQPACKET));
}

/* Two VMs in the default group: handshake and 1 MiB each way, byte checked. */
static void test_default_group_data_both_ways(void **state)
{
	const struct rig_vm vms[] = {{CID_A, NULL}, {CID_B, NULL}};
	struct sib *s = *state;
	struct rig_conn *ca, *cb;
	struct flow fl[2];

	sib_start_open(s, vms, 2);
	connect_pair(s->rig[0], s->rig[1], PORT, &ca, &cb);
	flow_init(&fl[0], s->rig[0], ca, s->rig[1], cb, 1u << 20, 1);
	flow_init(&fl[1], s->rig[1], cb, s->rig[0], ca, 1u << 20, 2);
	run_flows(s->rig[0], s->rig[1], fl, 2, T_MS);
	flow_check_free(&fl[0]);
	flow_check_free(&fl[1]);
}

static bool conn_done(struct rig *rig, void *arg)
{
	(void)rig;
	return ((struct rig_conn *)arg)->state != RIG_CONN_CONNECTING;
}

/* Connects and reports how it ended: 0 when accepted, -ECONNRESET when
 * refused.  Fails the test if no answer comes within a second. */
static int try_connect(struct rig *from, struct rig *to, uint32_t cid, uint32_t port)
{
	int64_t deadline = rig_now_ms() + 1000;
	struct rig_conn *c, *acc;
	int result;

	if (to)
		assert_int_equal(rig_listen(to, port), 0);
	assert_int_equal(rig_connect_start(from, cid, port, &c), 0);
	while (!conn_done(from, c)) {
		assert_true(rig_left_ms(deadline) > 0);
		if (to)
			assert_true(poll_both(from, to, rig_left_ms(deadline)) >= 0);
		else
			assert_true(rig_poll(from, NULL, 0, rig_left_ms(deadline)) >= 0);
	}
	result = c->state == RIG_CONN_CONNECTED ? 0 : c->error;
	if (result != 0) {
		rig_close(from, c);
		return result;
	}
	deadline = rig_now_ms() + T_MS;
	while (rig_accept(to, port, 0, &acc) != 0) {
		assert_true(rig_left_ms(deadline) > 0);
		assert_true(poll_both(from, to, rig_left_ms(deadline)) >= 0);
	}
	/* Abort from one side; the other side sees the RST. */
	rig_abort(from, c);
	while (acc->state != RIG_CONN_CLOSED) {
		assert_true(rig_left_ms(deadline) > 0);
		assert_true(poll_both(from, to, rig_left_ms(deadline)) >= 0);
	}
	assert_int_equal(acc->error, -ECONNRESET);
	rig_close(to, acc);
	return 0;
}

/* A in group a, B in b, C in both: A and B cannot reach each other (RST at
 * once, both ways), both reach C. */
static void test_groups_allow_and_deny(void **state)
{
	const struct rig_vm vms[] = {{CID_A, "a"}, {CID_B, "b"}, {CID_C, "b+a"}};
	struct sib *s = *state;
	struct rig_conn *none;
	struct rig *a, *b, *c;

	sib_start_open(s, vms, 3);
	a = s->rig[0];
	b = s->rig[1];
	c = s->rig[2];
	assert_int_equal(try_connect(a, b, CID_B, PORT), -ECONNRESET);
	assert_int_equal(try_connect(b, a, CID_A, PORT), -ECONNRESET);
	assert_int_equal(try_connect(a, c, CID_C, PORT), 0);
	assert_int_equal(try_connect(b, c, CID_C, PORT + 1), 0);
	assert_int_equal(try_connect(c, a, CID_A, PORT + 2), 0);
	assert_int_equal(try_connect(c, b, CID_B, PORT + 3), 0);
	/* The refused REQUESTs never reached the other group's guest. */
	assert_int_equal(rig_accept(b, PORT, 0, &none), -ETIMEDOUT);
	assert_int_equal(rig_accept(a, PORT, 0, &none), -ETIMEDOUT);
}

static struct rig_hdr raw_hdr(const struct rig *rig, uint64_t dst_cid, uint32_t src_port,
			      uint32_t dst_port, uint16_t type, uint16_t op)
{
	return (struct rig_hdr){.src_cid = rig->cid, .dst_cid = dst_cid, .src_port = src_port,
				.dst_port = dst_port, .type = type, .op = op,
				.buf_alloc = 256 * 1024};
}

/* Unknown CID: REQUEST and other ops get an RST at once, from that CID and
 * port; an RST gets nothing. */
static void test_unknown_cid_rst(void **state)
{
	const struct rig_vm vms[] = {{CID_A, NULL}, {CID_B, NULL}};
	struct sib *s = *state;
	struct rig_hdr h, got;
	int64_t start;
	struct rig *a;

	sib_start_open(s, vms, 2);
	a = s->rig[0];
	start = rig_now_ms();
	assert_int_equal(try_connect(a, NULL, 99, PORT), -ECONNRESET);
	assert_true(rig_now_ms() - start < 1000);

	h = raw_hdr(a, 99, 2000, PORT, VIRTIO_VSOCK_TYPE_STREAM, VIRTIO_VSOCK_OP_RST);
	assert_int_equal(rig_send_pkt(a, &h, NULL, 0), 0);
	h = raw_hdr(a, 98, 2001, PORT + 1, VIRTIO_VSOCK_TYPE_STREAM, VIRTIO_VSOCK_OP_RW);
	h.len = 5;
	assert_int_equal(rig_send_pkt(a, &h, "hello", 5), 0);
	/* Replies leave in order: an RST for the RST would come first. */
	assert_int_equal(rig_wait_stray(a, &got, T_MS), 0);
	assert_int_equal(got.op, VIRTIO_VSOCK_OP_RST);
	assert_int_equal(got.src_cid, 98);
	assert_int_equal(got.src_port, PORT + 1);
	assert_int_equal(got.dst_port, 2001);
	assert_false(rig_pop_stray(a, &got));
}

/* A packet of a type vsock does not define is answered by the daemon
 * itself, never relayed: A gets the RST (from B's address, with the type it
 * sent) while B's driver is not even running, and B never sees it. */
static void test_unknown_type_not_relayed(void **state)
{
	const struct rig_vm vms[] = {{CID_A, NULL}, {CID_B, NULL}};
	struct sib *s = *state;
	struct rig_hdr h, got;

	sib_start_open(s, vms, 2);
	h = raw_hdr(s->rig[0], CID_B, 2100, PORT, 9, VIRTIO_VSOCK_OP_REQUEST);
	assert_int_equal(rig_send_pkt(s->rig[0], &h, NULL, 0), 0);
	assert_int_equal(rig_wait_stray(s->rig[0], &got, T_MS), 0);
	assert_int_equal(got.op, VIRTIO_VSOCK_OP_RST);
	assert_int_equal(got.type, 9);
	assert_int_equal(got.src_cid, CID_B);
	assert_int_equal(got.dst_port, 2100);
	assert_true(rig_poll(s->rig[1], NULL, 0, 0) >= 0);
	assert_false(rig_pop_stray(s->rig[1], &got));
}

/* 64 KiB packets into 4 KiB RX buffers (linear and header-split layouts):
 * every piece fits its buffer, nothing is truncated, bytes intact. */
static void split_case(struct sib *s, enum rig_rx_layout layout)
{
	const struct rig_vm vms[] = {{CID_A, NULL}, {CID_B, NULL}};
	struct capture cap = {.type = VIRTIO_VSOCK_TYPE_STREAM, .cap = 1u << 20};
	struct rig_opts o;
	struct rig_conn *ca, *cb;
	struct flow fl;

	sib_start(s, vms, 2);
	rig_opts_default(&o);
	assert_int_equal(o.max_pkt_payload, 65536);
	sib_open_rig(s, 0, &o);
	o.rx_layout = layout;
	o.rx_buf_size = 4096;
	sib_open_rig(s, 1, &o);
	cap.bytes = malloc(cap.cap);
	assert_non_null(cap.bytes);
	s->rig[1]->on_packet = capture_packet;
	s->rig[1]->on_packet_arg = &cap;
	connect_pair(s->rig[0], s->rig[1], PORT, &ca, &cb);
	flow_init(&fl, s->rig[0], ca, s->rig[1], cb, 1u << 20, 3);
	run_flows(s->rig[0], s->rig[1], &fl, 1, T_MS);
	assert_int_equal(cap.len, fl.len);
	assert_memory_equal(cap.bytes, fl.data, fl.len);
	assert_true(cap.max_len <= 4096 - RIG_HDR_SIZE);
	assert_true(cap.packets >= fl.len / (4096 - RIG_HDR_SIZE));
	flow_check_free(&fl);
	free(cap.bytes);
}

static void test_split_linear_rx(void **state)
{
	split_case(*state, RIG_RX_LINEAR);
}

static void test_split_header_descriptor_rx(void **state)
{
	split_case(*state, RIG_RX_SPLIT);
}

/* B stops running its driver: A's transfer stalls once the daemon's
 * mailbox and B's RX ring are full, with chains held in A's TX ring.  When
 * B runs again everything arrives, nothing lost.  While stalled the daemon
 * waits for a wakeup: it does not spin.  With tx_slots chains in flight
 * the device keeps at most half of A's ring waiting (device_park.c); past
 * that A's ring waits too. */
static void back_pressure(struct sib *s, unsigned tx_slots, bool indirect)
{
	const struct rig_vm vms[] = {{CID_A, NULL}, {CID_B, NULL}};
	struct rig_opts o;
	struct rig_conn *ca, *cb;
	struct flow fl;
	struct rig *a;
	unsigned free_before;
	int64_t last_progress;
	long cpu_before;

	sib_start(s, vms, 2);
	rig_opts_default(&o);
	o.buf_alloc = 16u << 20; /* credit is not what stops A */
	o.tx_slots = tx_slots;
	o.indirect = indirect;
	sib_open_rig(s, 0, &o);
	sib_open_rig(s, 1, &o);
	a = s->rig[0];
	connect_pair(a, s->rig[1], PORT, &ca, &cb);
	/* More than the mailbox (1 MiB), B's RX ring (512 KiB) and A's TX
	 * slots can hold together. */
	flow_init(&fl, a, ca, s->rig[1], cb, (tx_slots + 64) << 16, 4);
	/* Send until half a second passes with no TX chain given back. */
	last_progress = rig_now_ms();
	while (rig_now_ms() - last_progress < 500) {
		bool sent = false;

		while (flow_send(&fl))
			sent = true;
		free_before = a->n_tx_free;
		assert_true(rig_poll(a, NULL, 0, 100) >= 0);
		if (sent || a->n_tx_free != free_before)
			last_progress = rig_now_ms();
	}
	assert_true(fl.sent < fl.len);
	cpu_before = process_cpu_ms(s->d.pid);
	assert_true(rig_poll(a, NULL, 0, 1000) >= 0);
	assert_int_equal(flow_send(&fl), false);
	assert_true(process_cpu_ms(s->d.pid) - cpu_before < 300);
	assert_true(fl.sent >= (1u << 20));
	assert_true(a->n_tx_free < a->n_tx_slots); /* held by the daemon */
	if (indirect) /* a chain a descriptor: every slot is in the ring */
		assert_int_equal(a->n_tx_free, 0);
	assert_int_equal(fl.recvd, 0);
	run_flows(a, s->rig[1], &fl, 1, 3 * T_MS);
	flow_check_free(&fl);
}

static void test_back_pressure(void **state)
{
	back_pressure(*state, 32, false);
}

/* A's whole ring in flight (one descriptor per chain): more chains than
 * the device keeps, so the ring itself waits. */
static void test_back_pressure_whole_ring(void **state)
{
	back_pressure(*state, 128, true);
}

/* Both directions at once, several connections, credit large enough that
 * the mailboxes fill up: no deadlock, nothing lost. */
static void test_bidirectional_full_speed(void **state)
{
	const struct rig_vm vms[] = {{CID_A, NULL}, {CID_B, NULL}};
	struct sib *s = *state;
	struct rig_opts o;
	struct rig_conn *ca[2], *cb[2];
	struct flow fl[4];

	sib_start(s, vms, 2);
	rig_opts_default(&o);
	o.buf_alloc = 4u << 20;
	sib_open_rig(s, 0, &o);
	sib_open_rig(s, 1, &o);
	for (unsigned i = 0; i < 2; i++) {
		connect_pair(s->rig[0], s->rig[1], PORT + i, &ca[i], &cb[i]);
		flow_init(&fl[2 * i], s->rig[0], ca[i], s->rig[1], cb[i], 4u << 20, 10 + i);
		flow_init(&fl[2 * i + 1], s->rig[1], cb[i], s->rig[0], ca[i], 4u << 20, 20 + i);
	}
	run_flows(s->rig[0], s->rig[1], fl, 4, 6 * T_MS);
	for (unsigned i = 0; i < 4; i++)
		flow_check_free(&fl[i]);
}

/* Opens rig i the slow way, listening on port before its rings start, so
 * a REQUEST queued for it meanwhile finds a listener. */
static void open_rig_listening(struct sib *s, unsigned i, uint32_t port)
{
	struct rig_opts o;

	rig_opts_default(&o);
	o.socket_path = s->path[i];
	assert_int_equal(rig_create(&s->rig[i], &o), 0);
	assert_int_equal(rig_listen(s->rig[i], port), 0);
	assert_int_equal(rig_handshake(s->rig[i]), 0);
	assert_int_equal(rig_start(s->rig[i]), 0);
}

static void accept_pending(struct rig *a, struct rig *b, struct rig_conn *ca, uint32_t port,
			   struct rig_conn **cb)
{
	int64_t deadline = rig_now_ms() + T_MS;

	while (ca->state == RIG_CONN_CONNECTING || rig_accept(b, port, 0, cb) != 0) {
		assert_true(rig_left_ms(deadline) > 0);
		assert_true(poll_both(a, b, rig_left_ms(deadline)) >= 0);
	}
	assert_int_equal(ca->state, RIG_CONN_CONNECTED);
}

/* A connects to B before B's front-end exists: the REQUEST waits in B's
 * mailbox and B accepts it when it comes up.  Then B's front-end goes away
 * and a new one comes: A's old connection is reset by the new guest (it
 * knows nothing of it), and new connections work. */
static void test_frontends_at_different_times(void **state)
{
	const struct rig_vm vms[] = {{CID_A, NULL}, {CID_B, NULL}};
	struct sib *s = *state;
	struct rig_conn *ca, *ca2, *cb;
	struct flow fl;
	int64_t deadline;
	int fds_without_b;

	sib_start(s, vms, 2);
	sib_open_rig(s, 0, NULL);
	fds_without_b = rig_daemon_fd_count(&s->d);
	assert_true(fds_without_b > 0);
	assert_int_equal(rig_connect_start(s->rig[0], CID_B, PORT, &ca), 0);
	assert_true(rig_poll(s->rig[0], NULL, 0, 100) >= 0);
	assert_int_equal(ca->state, RIG_CONN_CONNECTING);
	open_rig_listening(s, 1, PORT);
	accept_pending(s->rig[0], s->rig[1], ca, PORT, &cb);
	flow_init(&fl, s->rig[0], ca, s->rig[1], cb, 256u << 10, 5);
	run_flows(s->rig[0], s->rig[1], &fl, 1, T_MS);
	flow_check_free(&fl);

	/* B's VMM goes away and a new one (a rebooted guest) comes. */
	rig_destroy(s->rig[1]);
	s->rig[1] = NULL;
	deadline = rig_now_ms() + T_MS;
	while (rig_daemon_fd_count(&s->d) != fds_without_b) {
		assert_true(rig_left_ms(deadline) > 0);
		assert_true(rig_poll(s->rig[0], NULL, 0, 10) >= 0);
	}
	/* With B's front-end gone, a REQUEST for B waits for the next one. */
	assert_int_equal(rig_connect_start(s->rig[0], CID_B, PORT + 1, &ca2), 0);
	assert_true(rig_poll(s->rig[0], NULL, 0, 100) >= 0);
	assert_int_equal(ca2->state, RIG_CONN_CONNECTING);
	open_rig_listening(s, 1, PORT + 1);
	accept_pending(s->rig[0], s->rig[1], ca2, PORT + 1, &cb);
	/* The new guest knows nothing of the old connection: any packet on it
	 * is reset.  A CREDIT_REQUEST needs no credit (the old guest may have
	 * gone before telling A it had read everything). */
	const struct rig_hdr stale = {
		.src_cid = CID_A, .dst_cid = CID_B,
		.src_port = ca->local_port, .dst_port = ca->peer_port,
		.type = VIRTIO_VSOCK_TYPE_STREAM, .op = VIRTIO_VSOCK_OP_CREDIT_REQUEST,
		.buf_alloc = ca->buf_alloc, .fwd_cnt = ca->fwd_cnt,
	};
	assert_int_equal(rig_send_pkt(s->rig[0], &stale, NULL, 0), 0);
	while (ca->state == RIG_CONN_CONNECTED) {
		assert_true(rig_left_ms(deadline) > 0);
		assert_true(poll_both(s->rig[0], s->rig[1], rig_left_ms(deadline)) >= 0);
	}
	assert_int_equal(ca->error, -ECONNRESET);
	rig_close(s->rig[0], ca);
	flow_init(&fl, s->rig[1], cb, s->rig[0], ca2, 256u << 10, 7);
	run_flows(s->rig[0], s->rig[1], &fl, 1, T_MS);
	flow_check_free(&fl);
	assert_int_equal(try_connect(s->rig[1], s->rig[0], CID_A, PORT + 2), 0);
}

/* SEQPACKET packets cross with their type and flags; a 10000-byte message
 * split into 4 KiB buffers has EOM/EOR on its last piece only.  The rig's
 * driver speaks STREAM only and resets what it does not know, which also
 * shows the RST travelling back with type SEQPACKET. */
static void test_seqpacket_flags(void **state)
{
	const struct rig_vm vms[] = {{CID_A, NULL}, {CID_B, NULL}};
	struct sib *s = *state;
	struct capture cap = {.type = VIRTIO_VSOCK_TYPE_SEQPACKET, .cap = 64u << 10};
	struct rig *a, *b;
	const uint32_t eom_eor = VIRTIO_VSOCK_SEQ_EOM | VIRTIO_VSOCK_SEQ_EOR;
	uint8_t *msg = pattern(10000, 6);
	struct rig_hdr h, got;
	int64_t deadline;

	sib_start_open(s, vms, 2);
	a = s->rig[0];
	b = s->rig[1];
	cap.bytes = malloc(cap.cap);
	assert_non_null(cap.bytes);
	b->on_packet = capture_packet;
	b->on_packet_arg = &cap;

	h = raw_hdr(a, CID_B, 3000, PORT, VIRTIO_VSOCK_TYPE_SEQPACKET, VIRTIO_VSOCK_OP_REQUEST);
	assert_int_equal(rig_send_pkt(a, &h, NULL, 0), 0);
	deadline = rig_now_ms() + T_MS;
	while (!rig_pop_stray(b, &got)) {
		assert_true(rig_left_ms(deadline) > 0);
		assert_true(poll_both(a, b, rig_left_ms(deadline)) >= 0);
	}
	assert_int_equal(got.type, VIRTIO_VSOCK_TYPE_SEQPACKET);
	assert_int_equal(got.op, VIRTIO_VSOCK_OP_REQUEST);
	assert_int_equal(got.src_cid, CID_A);
	/* B's RST comes back to A as a SEQPACKET RST from B. */
	assert_int_equal(rig_wait_stray(a, &got, T_MS), 0);
	assert_int_equal(got.type, VIRTIO_VSOCK_TYPE_SEQPACKET);
	assert_int_equal(got.op, VIRTIO_VSOCK_OP_RST);
	assert_int_equal(got.src_cid, CID_B);

	/* A small message keeps its flags; a large one has them at its end. */
	h = raw_hdr(a, CID_B, 3000, PORT, VIRTIO_VSOCK_TYPE_SEQPACKET, VIRTIO_VSOCK_OP_RW);
	h.flags = eom_eor;
	h.len = 100;
	assert_int_equal(rig_send_pkt(a, &h, msg, 100), 0);
	deadline = rig_now_ms() + T_MS;
	while (cap.packets < 1) {
		assert_true(rig_left_ms(deadline) > 0);
		assert_true(poll_both(a, b, rig_left_ms(deadline)) >= 0);
	}
	assert_int_equal(cap.last_flags, eom_eor);
	assert_int_equal(cap.len, 100);

	cap = (struct capture){.type = cap.type, .bytes = cap.bytes, .cap = cap.cap};
	h.len = 10000;
	assert_int_equal(rig_send_pkt(a, &h, msg, 10000), 0);
	while (cap.len < 10000) {
		assert_true(rig_left_ms(deadline) > 0);
		assert_true(poll_both(a, b, rig_left_ms(deadline)) >= 0);
	}
	assert_int_equal(cap.flagged, 1); /* the last piece only */
	assert_int_equal(cap.last_flags, eom_eor);
	assert_true(cap.packets >= 3);
	assert_memory_equal(cap.bytes, msg, 10000);

	/* The host backend does not speak SEQPACKET: RST. */
	h = raw_hdr(a, RIG_HOST_CID, 3001, PORT, VIRTIO_VSOCK_TYPE_SEQPACKET,
		    VIRTIO_VSOCK_OP_REQUEST);
	assert_int_equal(rig_send_pkt(a, &h, NULL, 0), 0);
	do
		assert_int_equal(rig_wait_stray(a, &got, T_MS), 0);
	while (got.src_cid != RIG_HOST_CID);
	assert_int_equal(got.op, VIRTIO_VSOCK_OP_RST);
	assert_int_equal(got.type, VIRTIO_VSOCK_TYPE_SEQPACKET);
	free(msg);
	free(cap.bytes);
}

/* RSTs the daemon sent a rig, on two of its ports. */
struct two_rsts {
	uint32_t port[2];
	unsigned got[2];
};

static void count_two_rsts(void *arg, const struct rig_hdr *h, const void *payload)
{
	struct two_rsts *r = arg;

	(void)payload;
	for (unsigned i = 0; i < 2; i++)
		r->got[i] += h->op == VIRTIO_VSOCK_OP_RST && h->dst_port == r->port[i];
}

/* A sends to (cid, 41000) from port a header for no connection. */
static void stray_to(struct rig *a, uint32_t cid, uint32_t port)
{
	struct rig_hdr h = {
		.src_cid = a->cid, .dst_cid = cid, .src_port = port, .dst_port = 41000,
		.type = VIRTIO_VSOCK_TYPE_STREAM, .op = VIRTIO_VSOCK_OP_RW, .buf_alloc = 65536,
	};

	send_pkt_waiting(a, &h, NULL, 0);
}

/* Fills the mailbox of `to` (frozen, one RX buffer) exactly: the first
 * stray lands in its buffer (waited for), 1024 more fill the mailbox
 * (ROUTER_DEFAULT_MAILBOX_PACKETS); none waits in A's park. */
static void fill_mailbox(struct rig *a, struct rig *to, uint32_t first_port)
{
	int64_t deadline = rig_now_ms() + T_MS;

	rig_freeze_rx(to, true);
	stray_to(a, to->cid, first_port);
	while (le16toh(__atomic_load_n(&to->rxq.used->idx, __ATOMIC_ACQUIRE)) !=
	       to->rxq.last_used_idx + 1) {
		assert_true(rig_left_ms(deadline) > 0);
		assert_true(rig_poll(a, NULL, 0, 1) >= 0);
	}
	for (uint32_t i = 1; i <= 1024; i++)
		stray_to(a, to->cid, first_port + i);
	wait_tx_used(a);
}

/* The park's timer is set again for what is left after an expiry.  B's
 * and C's mailboxes are full; a header for B waits in A's park, then, a
 * while later, one for C.  When B's expires (B is then marked stalled),
 * C's is not due yet and waits on; nothing else happens, so only the
 * re-armed timer ends its wait, a timeout after it came. */
static void test_park_timer_rearmed_after_an_expiry(void **state)
{
	struct sib *s = *state;
	const struct rig_vm vms[] = {{CID_A, NULL, NULL}, {CID_B, NULL, NULL},
				     {CID_C, NULL, NULL}};
	struct two_rsts r = {.port = {48000, 48001}};
	struct rig_opts o;
	struct rig *a;

	setenv("VHOST_DEVICE_VSOCK_SIBLING_TIMEOUT_MS", "1000", 1);
	sib_start(s, vms, 3);
	unsetenv("VHOST_DEVICE_VSOCK_SIBLING_TIMEOUT_MS");
	rig_opts_default(&o);
	o.rx_bufs = 1;
	o.strays_unanswered = true;
	sib_open_rig(s, 0, NULL);
	sib_open_rig(s, 1, &o);
	sib_open_rig(s, 2, &o);
	a = s->rig[0];
	a->on_packet = count_two_rsts;
	a->on_packet_arg = &r;
	fill_mailbox(a, s->rig[1], 40000);
	fill_mailbox(a, s->rig[2], 42000);
	stray_to(a, CID_B, r.port[0]);
	for (int64_t end = rig_now_ms() + 400; rig_now_ms() < end;)
		assert_true(rig_poll(a, NULL, 0, 10) >= 0);
	stray_to(a, CID_C, r.port[1]);
	{
		int64_t deadline = rig_now_ms() + T_MS;

		while (r.got[0] == 0 || r.got[1] == 0) {
			if (rig_left_ms(deadline) == 0)
				fail_msg("RSTs: %u for B's parked header, %u for C's", r.got[0],
					 r.got[1]);
			assert_true(rig_poll(a, NULL, 0, 10) >= 0);
		}
	}
	a->on_packet = NULL;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, sib_setup, sib_teardown)
		T(test_feature_seqpacket_offered),
		T(test_default_group_data_both_ways),
		T(test_groups_allow_and_deny),
		T(test_unknown_cid_rst),
		T(test_unknown_type_not_relayed),
		T(test_split_linear_rx),
		T(test_split_header_descriptor_rx),
		T(test_back_pressure),
		T(test_back_pressure_whole_ring),
		T(test_bidirectional_full_speed),
		T(test_frontends_at_different_times),
		T(test_seqpacket_flags),
		T(test_park_timer_rearmed_after_an_expiry),
#undef T
	};

	/* RIG_TEST_FILTER=test_back_pressure runs one test (a glob). */
	if (getenv("RIG_TEST_FILTER"))
		cmocka_set_test_filter(getenv("RIG_TEST_FILTER"));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
