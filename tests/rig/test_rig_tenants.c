/* One tenant must never hurt another.  Each test serves two VMs from one
 * daemon: A, attacked or attacking through its guest, its host peers or its
 * VMM, and B, innocent.  While the attack goes on (or right after it) the
 * daemon must be alive, B must serve connections both ways within a
 * deadline, and the daemon's descriptors, memory and CPU must stay within
 * bounds.  Budgets are made small through the configuration and the
 * open-file limit is lowered, so that each attack takes seconds. */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <linux/virtio_vsock.h>

#include "rig_test.h"

#define CID_A 3u
#define CID_B 4u
/* B answers both ways within this, whatever A does. */
#define SERVE_MS 5000

struct tenants {
	struct rig_daemon d;
	struct rig *rig[2];     /* A, B; NULL while no front-end */
	char sock[2][96];       /* vhost-user sockets */
	char uds[2][96];        /* uds paths */
	bool a_misbehaves;      /* A's own rig may see violations */
};

static int setup(void **state)
{
	signal(SIGPIPE, SIG_IGN);
	*state = calloc(1, sizeof(struct tenants));
	return *state ? 0 : -1;
}

/* Starts the daemon serving A and B with extra --vm keys for each (may be
 * NULL) and, unless 0, the open-file limit nofile. */
static void start(struct tenants *t, const char *keys_a, const char *keys_b, unsigned nofile)
{
	const struct rig_vm vms[2] = {{CID_A, NULL, keys_a}, {CID_B, NULL, keys_b}};
	int err = rig_daemon_start_vms_nofile(&t->d, vms, 2, nofile);

	if (err) {
		fprintf(stderr, "cannot start the daemon: %s\n", strerror(-err));
		rig_daemon_dump_log(&t->d);
	}
	assert_int_equal(err, 0);
	for (unsigned i = 0; i < 2; i++) {
		rig_daemon_vm_path(&t->d, vms[i].cid, false, t->sock[i], sizeof(t->sock[i]));
		rig_daemon_vm_path(&t->d, vms[i].cid, true, t->uds[i], sizeof(t->uds[i]));
	}
}

/* Starts the daemon serving A and B with this park timeout (ms). */
static void start_park_timeout(struct tenants *t, const char *ms)
{
	setenv("VHOST_DEVICE_VSOCK_SIBLING_TIMEOUT_MS", ms, 1);
	start(t, NULL, NULL, 0);
	unsetenv("VHOST_DEVICE_VSOCK_SIBLING_TIMEOUT_MS");
}

static struct rig *open_vm_opts(struct tenants *t, unsigned i, const struct rig_opts *base)
{
	struct rig_opts o = *base;
	int err;

	o.socket_path = t->sock[i];
	err = rig_open(&t->rig[i], &o);
	if (err)
		fprintf(stderr, "rig_open for VM %c: %s\n", "AB"[i], strerror(-err));
	assert_int_equal(err, 0);
	return t->rig[i];
}

static struct rig *open_vm(struct tenants *t, unsigned i)
{
	struct rig_opts o;

	rig_opts_default(&o);
	return open_vm_opts(t, i, &o);
}

static void close_vm(struct tenants *t, unsigned i)
{
	rig_destroy(t->rig[i]);
	t->rig[i] = NULL;
}

static int teardown(void **state)
{
	struct tenants *t = *state;
	bool alive = !t->d.dir[0] || rig_daemon_alive(&t->d);
	bool clean = true;
	int status = 0;

	for (unsigned i = 0; i < 2; i++) {
		struct rig *r = t->rig[i];

		if (r && r->stats.violations && !(i == 0 && t->a_misbehaves)) {
			fprintf(stderr, "rig %c saw %llu violations, last: %s\n", "AB"[i],
				(unsigned long long)r->stats.violations, r->last_violation);
			clean = false;
		}
		rig_destroy(r);
	}
	if (t->d.dir[0]) {
		rig_daemon_dump_log(&t->d);
		status = rig_daemon_stop(&t->d, T_MS);
	}
	free(t);
	if (!alive)
		fprintf(stderr, "the daemon died during the test\n");
	if (status != 0)
		fprintf(stderr, "daemon exit status %d after SIGTERM\n", status);
	return alive && status == 0 && clean ? 0 : -1;
}

/* Four bytes from the guest side of c to its host socket hfd, four back. */
static void exchange(struct rig *r, struct rig_conn *c, int hfd)
{
	char buf[4];

	assert_int_equal(rig_send_all(r, c, "ping", 4, SERVE_MS), 0);
	assert_int_equal(rig_host_read_full(r, hfd, buf, 4, SERVE_MS), 4);
	assert_memory_equal(buf, "ping", 4);
	assert_int_equal(rig_host_write_all(r, hfd, "pong", 4, SERVE_MS), 0);
	assert_int_equal(rig_recv_wait(r, c, buf, 4, SERVE_MS), 4);
	assert_memory_equal(buf, "pong", 4);
}

/* VM i serves both ways within SERVE_MS: its guest connects to a host
 * listener on port, a host client connects to its guest on port + 1, and
 * each carries bytes both ways. */
static void assert_serves(struct tenants *t, unsigned i, uint32_t port)
{
	struct rig *r = t->rig[i];
	int64_t start = rig_now_ms();
	struct rig_conn *out, *in;
	int lfd, hout, hin;

	assert_true(rig_daemon_alive(&t->d));
	lfd = rig_host_listen(t->uds[i], port);
	assert_true(lfd >= 0);
	assert_int_equal(rig_connect(r, RIG_HOST_CID, port, SERVE_MS, &out), 0);
	hout = rig_host_accept(r, lfd, SERVE_MS);
	assert_true(hout >= 0);
	exchange(r, out, hout);

	assert_int_equal(rig_listen(r, port + 1), 0);
	hin = rig_host_open(r, t->uds[i], port + 1, &in, SERVE_MS);
	assert_true(hin >= 0);
	exchange(r, in, hin);

	assert_true(rig_now_ms() - start < SERVE_MS);
	rig_unlisten(r, port + 1);
	rig_close(r, out);
	rig_close(r, in);
	close(hout);
	close(hin);
	close(lfd);
}

/* A non-blocking connect to a Unix path: the fd, or -errno (-EAGAIN when
 * the listener's backlog is full). */
static int connect_nb(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int err;

	assert_true(fd >= 0);
	assert_true(strlen(path) < sizeof(sa.sun_path));
	strcpy(sa.sun_path, path);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
		return fd;
	err = -errno;
	close(fd);
	return err;
}

/* Waits (running rig, which may be NULL) until the daemon holds at most
 * max fds; returns the last count seen. */
static int wait_fds_at_most(struct tenants *t, struct rig *rig, int max, int timeout_ms)
{
	int64_t deadline = rig_now_ms() + timeout_ms;
	int n;

	while ((n = rig_daemon_fd_count(&t->d)) > max && rig_left_ms(deadline) > 0) {
		if (rig)
			rig_poll(rig, NULL, 0, 10);
		else
			poll(NULL, 0, 10);
	}
	return n;
}

/* ---- Host peers on A's uds path ------------------------------------------ */

/* Clients that dribble a CONNECT line one byte at a time, faster than the
 * line deadline closes them, so that expiries and their reads land in the
 * same event batches.  A handshake freed by the timer while a later event
 * of the batch still pointed at it crashed the daemon (use-after-free). */
#define DRIBBLERS 300
static void test_dribbling_clients_cannot_crash_it(void **state)
{
	struct tenants *t = *state;
	int fd[DRIBBLERS];
	int64_t end;
	unsigned closed = 0;

	setenv("VHOST_DEVICE_VSOCK_CONNECT_TIMEOUT_MS", "100", 1);
	start(t, NULL, NULL, 0);
	unsetenv("VHOST_DEVICE_VSOCK_CONNECT_TIMEOUT_MS");
	open_vm(t, 1);
	for (unsigned i = 0; i < DRIBBLERS; i++)
		fd[i] = -1;
	end = rig_now_ms() + 1500;
	while (rig_now_ms() < end && rig_daemon_alive(&t->d)) {
		for (unsigned i = 0; i < DRIBBLERS; i++) {
			if (fd[i] < 0)
				fd[i] = connect_nb(t->uds[0]);
			if (fd[i] >= 0 && send(fd[i], "C", 1, MSG_NOSIGNAL) < 0 &&
			    errno != EAGAIN) {
				close(fd[i]);
				fd[i] = -1;
				closed++;
			}
		}
		poll(NULL, 0, 3);
	}
	assert_true(rig_daemon_alive(&t->d));
	/* The deadline did close clients, so expiries did happen. */
	assert_true(closed > DRIBBLERS);
	for (unsigned i = 0; i < DRIBBLERS; i++)
		if (fd[i] >= 0)
			close(fd[i]);
	assert_serves(t, 1, 5000);
}

/* Host clients that send a CONNECT line and leave, while A has no VMM:
 * each used to hold a descriptor for the whole request timeout (10 s),
 * until the process ran out and another VM's VMM was turned away. */
static void test_clients_that_leave_release_their_fds(void **state)
{
	struct tenants *t = *state;
	int idle, n;

	start(t, NULL, NULL, 400);
	idle = rig_daemon_fd_count(&t->d);
	for (unsigned i = 0; i < 3000; i++) {
		int fd = connect_nb(t->uds[0]);

		if (fd == -EAGAIN) { /* backlog full: let the daemon catch up */
			poll(NULL, 0, 1);
			continue;
		}
		assert_true(fd >= 0);
		/* The daemon may have closed it already (a budget was full). */
		send(fd, "CONNECT 1234\n", 13, MSG_NOSIGNAL);
		close(fd);
	}
	open_vm(t, 1);
	assert_serves(t, 1, 5010);
	/* B's session holds a few fds (its socket, ring eventfds); the
	 * clients' are all gone, long before the request timeout. */
	n = wait_fds_at_most(t, t->rig[1], idle + 10, 2000);
	if (n > idle + 10)
		fail_msg("the daemon holds %d fds, %d when idle", n, idle);
}

/* Clients that send a CONNECT line and stay, while A's guest never
 * answers: max-pending of them wait, the others are closed at once. */
static void test_waiting_clients_are_bounded(void **state)
{
	struct tenants *t = *state;
	int fd[60], idle;
	unsigned closed = 0;

	start(t, "max-pending=20", NULL, 0);
	idle = rig_daemon_fd_count(&t->d);
	for (unsigned i = 0; i < 60; i++) {
		fd[i] = connect_nb(t->uds[0]);
		assert_true(fd[i] >= 0);
		assert_int_equal(send(fd[i], "CONNECT 1234\n", 13, MSG_NOSIGNAL), 13);
	}
	/* 20 wait (no answer comes); each refused one sees EOF.  Which ones
	 * is the daemon's order, not necessarily the clients'. */
	for (int64_t deadline = rig_now_ms() + T_MS; closed < 40 && rig_left_ms(deadline);) {
		struct pollfd p[60];

		for (unsigned i = 0; i < 60; i++)
			p[i] = (struct pollfd){.fd = fd[i], .events = POLLIN};
		assert_true(poll(p, 60, 100) >= 0);
		for (unsigned i = 0; i < 60; i++) {
			char byte;

			if (fd[i] >= 0 && p[i].revents && read(fd[i], &byte, 1) == 0) {
				close(fd[i]);
				fd[i] = -1;
				closed++;
			}
		}
	}
	assert_int_equal(closed, 40);
	/* And the other 20 stay. */
	assert_int_equal(poll(NULL, 0, 200), 0);
	for (unsigned i = 0; i < 60; i++) {
		struct pollfd p = {.fd = fd[i], .events = POLLIN};

		assert_true(fd[i] < 0 || poll(&p, 1, 0) == 0);
	}
	assert_true(rig_daemon_fd_count(&t->d) <= idle + 20);
	assert_true(rig_daemon_log_count(&t->d, "max-pending (20) reached") > 0);
	open_vm(t, 1);
	assert_serves(t, 1, 5020);
	for (unsigned i = 0; i < 60; i++)
		if (fd[i] >= 0)
			close(fd[i]);
}

/* A's uds listener and B's are flooded while the process is out of fds
 * (its limit lowered under it).  The listeners must wait, not spin: a
 * spare fd shared by the device threads used to be lost to the race
 * between them, and then every listener with a pending client spun. */
#define FLOOD_ROUNDS 50
static void test_out_of_fds_never_spins(void **state)
{
	struct tenants *t = *state;
	struct rlimit saved, low;
	int fd[2][400];
	long cpu;

	start(t, NULL, NULL, 0);
	open_vm(t, 1);
	assert_int_equal(prlimit(t->d.pid, RLIMIT_NOFILE, NULL, &saved), 0);
	low = saved;
	low.rlim_cur = (rlim_t)rig_daemon_fd_count(&t->d) + 1;
	assert_int_equal(prlimit(t->d.pid, RLIMIT_NOFILE, &low, NULL), 0);
	/* Bursts of clients on both listeners at once, as the race needed;
	 * the last burst stays. */
	for (unsigned round = 0; round < FLOOD_ROUNDS; round++) {
		for (unsigned n = 0; n < 400; n++)
			for (unsigned i = 0; i < 2; i++)
				fd[i][n] = connect_nb(t->uds[i]);
		poll(NULL, 0, 20);
		for (unsigned n = 0; n < 400 && round < FLOOD_ROUNDS - 1; n++)
			for (unsigned i = 0; i < 2; i++)
				if (fd[i][n] >= 0)
					close(fd[i][n]);
	}
	cpu = process_cpu_ms(t->d.pid);
	poll(NULL, 0, 1000);
	cpu = process_cpu_ms(t->d.pid) - cpu;
	if (cpu >= 300)
		fail_msg("the daemon used %ld ms of CPU in 1 s while out of fds", cpu);
	assert_true(rig_daemon_alive(&t->d));
	assert_int_equal(prlimit(t->d.pid, RLIMIT_NOFILE, &saved, NULL), 0);
	for (unsigned n = 0; n < 400; n++)
		for (unsigned i = 0; i < 2; i++)
			if (fd[i][n] >= 0)
				close(fd[i][n]);
	assert_serves(t, 1, 5030);
}

/* Fills VM i's budgets from the outside: its guest opens connections to a
 * host listener (whose ends are kept in fds) until one is refused, and
 * clients that send nothing hold handshakes until one is closed at once.
 * Returns the number of descriptors kept in fds. */
static unsigned fill_budgets(struct tenants *t, unsigned i, uint32_t port, int *fds,
			     unsigned cap)
{
	struct rig *r = t->rig[i];
	int lfd = rig_host_listen(t->uds[i], port);
	unsigned n = 0;

	assert_true(lfd >= 0);
	for (;;) {
		struct rig_conn *c;
		int err = rig_connect(r, RIG_HOST_CID, port, T_MS, &c);

		if (err == -ECONNRESET)
			break;
		assert_int_equal(err, 0);
		assert_true(n < cap);
		fds[n] = rig_host_accept(r, lfd, T_MS);
		assert_true(fds[n++] >= 0);
	}
	close(lfd);
	for (;;) {
		struct pollfd p;
		int fd = connect_nb(t->uds[i]);

		assert_true(fd >= 0 && n < cap);
		fds[n++] = fd;
		/* A client over the budget is closed at once. */
		p = (struct pollfd){.fd = fd, .events = POLLIN};
		if (poll(&p, 1, 20) == 1)
			break;
	}
	return n;
}

/* Both VMs at every budget under a small open-file limit: what the
 * daemon keeps aside for each device (the front-end, its ring eventfds,
 * the fds a vhost-user message brings, a client to shed...) must still be
 * there, so that either VMM can connect again and be served. */
static void test_budgets_full_leave_each_vm_its_own_fds(void **state)
{
	struct tenants *t = *state;
	static int fds[2][1000];
	unsigned n[2];

	start(t, NULL, NULL, 400);
	open_vm(t, 0);
	open_vm(t, 1);
	for (unsigned i = 0; i < 2; i++)
		n[i] = fill_budgets(t, i, 6200, fds[i], 1000);
	assert_true(rig_daemon_log_count(&t->d, "max-connections") >= 2);
	assert_true(rig_daemon_log_count(&t->d, "max-handshakes") >= 2);
	/* New front-ends for both while every budget is full. */
	for (unsigned i = 0; i < 2; i++)
		assert_int_equal(rig_reconnect(t->rig[i]), 0);
	/* B serves once its own clients are gone, A still at its budgets
	 * (the new front-end dropped A's connections, not its handshakes). */
	while (n[1])
		close(fds[1][--n[1]]);
	assert_serves(t, 1, 5120);
	while (n[0])
		close(fds[0][--n[0]]);
	assert_serves(t, 0, 5130);
}

/* ---- A's guest ------------------------------------------------------------ */

/* A's guest opens connections to a host service as fast as it can and
 * never closes them (the service accepts and closes its ends).  Under a
 * small open-file limit A gets its share, the rest is refused with RST,
 * and B still gets its own share. */
static void test_guest_connect_flood_stays_in_its_share(void **state)
{
	struct tenants *t = *state;
	const unsigned nofile = 600, attempts = 1000;
	struct rig_conn *c[1000];
	struct rig *a;
	unsigned refused = 0, pending;
	int64_t deadline;
	int lfd;

	start(t, NULL, NULL, nofile);
	a = open_vm(t, 0);
	open_vm(t, 1);
	lfd = rig_host_listen(t->uds[0], 6000);
	assert_true(lfd >= 0);
	for (unsigned i = 0; i < attempts; i++)
		assert_int_equal(rig_connect_start(a, RIG_HOST_CID, 6000, &c[i]), 0);
	deadline = rig_now_ms() + T_MS;
	do {
		int hfd;

		assert_true(rig_left_ms(deadline) > 0);
		while ((hfd = accept(lfd, NULL, NULL)) >= 0)
			close(hfd);
		assert_true(rig_poll(a, NULL, 0, 10) >= 0);
		pending = 0;
		for (unsigned i = 0; i < attempts; i++)
			pending += c[i]->state == RIG_CONN_CONNECTING;
	} while (pending);
	for (unsigned i = 0; i < attempts; i++)
		refused += c[i]->state == RIG_CONN_CLOSED && c[i]->peer_shutdown == 0;
	assert_serves(t, 1, 5040);
	/* A got at most its half of the descriptors, and the rest was
	 * refused with a line naming the budget. */
	assert_true(attempts - refused <= nofile / 2);
	assert_true(refused > 0);
	assert_true(rig_daemon_log_count(&t->d, "max-connections") > 0);
	close(lfd);
}

/* A stops draining its receive queue and sends B stray packets, which B's
 * guest answers with RSTs until A's mailbox is full.  B's TX ring must
 * still be served: B's host connections work both ways, during the attack
 * and after A's VMM is gone, and what B sends A meanwhile gets an RST
 * (after the sibling timeout, then at once) instead of waiting forever. */
static void test_full_mailbox_delays_only_its_own_mail(void **state)
{
	struct tenants *t = *state;
	struct rig *a, *b;
	struct rig_conn *to_a;
	int64_t start_ms;

	start_park_timeout(t, "1000");
	a = open_vm(t, 0);
	b = open_vm(t, 1);
	rig_freeze_rx(a, true);
	/* Enough strays to fill A's RX ring and its mailbox (1024 packets)
	 * with B's answers several times over, 64 at a time, each batch
	 * answered before the next (faster, they would find B's own mailbox
	 * full and A, not reading, would let the RSTs for them pile up until
	 * its TX stopped). */
	for (unsigned i = 0; i < 4000; i++) {
		struct rig_hdr h = {
			.src_cid = CID_A, .dst_cid = CID_B, .src_port = 40000 + i,
			.dst_port = 41000, .type = VIRTIO_VSOCK_TYPE_STREAM,
			.op = VIRTIO_VSOCK_OP_RW, .buf_alloc = 65536,
		};
		int64_t deadline = rig_now_ms() + T_MS;

		while (rig_send_pkt(a, &h, NULL, 0) == -EAGAIN) {
			if (rig_left_ms(deadline) == 0)
				fail_msg("A's TX ring stopped after %u strays", i);
			assert_true(rig_poll(a, NULL, 0, 1) >= 0);
		}
		while (i % 64 == 63 && b->stats.rsts_sent <= i) {
			if (rig_left_ms(deadline) == 0)
				fail_msg("B answered %llu of %u strays",
					 (unsigned long long)b->stats.rsts_sent, i + 1);
			assert_true(rig_poll(a, NULL, 0, 0) >= 0);
			assert_true(rig_poll(b, NULL, 0, 1) >= 0);
		}
	}
	wait_tx_used(a);
	for (int64_t end = rig_now_ms() + 300; rig_now_ms() < end;)
		assert_true(rig_poll(b, NULL, 0, 10) >= 0);
	assert_true(b->stats.rsts_sent >= 2000);
	assert_serves(t, 1, 5050);
	/* The answers B could not deliver wait out the timeout, then go. */
	for (int64_t end = rig_now_ms() + 1500; rig_now_ms() < end;)
		assert_true(rig_poll(b, NULL, 0, 10) >= 0);

	/* B's answers waited out the timeout, or found no room to wait, and
	 * were dropped; now A counts as stalled and B's connect to A is
	 * refused at once. */
	assert_true(rig_daemon_log_count(&t->d, "RST for cid 3") > 0);
	start_ms = rig_now_ms();
	assert_int_equal(rig_connect(b, CID_A, 7000, T_MS, &to_a), -ECONNRESET);
	assert_true(rig_now_ms() - start_ms < 900);

	close_vm(t, 0);
	for (int64_t end = rig_now_ms() + 1500; rig_now_ms() < end;)
		assert_true(rig_poll(b, NULL, 0, 10) >= 0);
	assert_serves(t, 1, 5060);
}

/* A sibling's mailbox, in packets (ROUTER_DEFAULT_MAILBOX_PACKETS). */
#define MAILBOX_PACKETS 1024u

/* RSTs a rig got on each of 10000 of its ports from first_port on. */
struct rst_log {
	uint32_t first_port;
	unsigned got[10000];
};

static void log_rst(void *arg, const struct rig_hdr *h, const void *payload)
{
	struct rst_log *l = arg;

	(void)payload;
	if (h->op == VIRTIO_VSOCK_OP_RST && h->dst_port - l->first_port < 10000)
		l->got[h->dst_port - l->first_port]++;
}

/* Logs the RSTs r gets from here on (r->on_packet); the caller frees it. */
static struct rst_log *log_rsts(struct rig *r, uint32_t first_port)
{
	struct rst_log *l = calloc(1, sizeof(*l));

	assert_non_null(l);
	l->first_port = first_port;
	r->on_packet = log_rst;
	r->on_packet_arg = l;
	return l;
}

/* Whether A's packet from one port reached B. */
struct delivery {
	uint32_t port;
	bool seen;
};

static void log_delivery(void *arg, const struct rig_hdr *h, const void *payload)
{
	struct delivery *dl = arg;

	(void)payload;
	if (h->src_cid == CID_A && h->src_port == dl->port)
		dl->seen = true;
}

/* A sends a header op (an RW or RST for no connection) from port to
 * (cid, 41000), waiting while its TX ring is full. */
static void send_op(struct rig *a, uint16_t op, uint32_t cid, uint32_t port)
{
	struct rig_hdr h = {
		.src_cid = CID_A, .dst_cid = cid, .src_port = port, .dst_port = 41000,
		.type = VIRTIO_VSOCK_TYPE_STREAM, .op = op, .buf_alloc = 65536,
	};

	send_pkt_waiting(a, &h, NULL, 0);
}

static void send_stray(struct rig *a, uint32_t cid, uint32_t port)
{
	send_op(a, VIRTIO_VSOCK_OP_RW, cid, port);
}

static unsigned rsts_in(const struct rst_log *l, uint32_t port, unsigned count)
{
	unsigned n = 0;

	for (unsigned i = 0; i < count; i++)
		n += l->got[port - l->first_port + i];
	return n;
}

/* Sends the host a packet for no connection from port and waits for the
 * RST that answers it at once: every packet A sent before is handled. */
static void host_probe(struct tenants *t, struct rst_log *l, uint32_t port)
{
	int64_t deadline = rig_now_ms() + T_MS;

	send_stray(t->rig[0], RIG_HOST_CID, port);
	while (rsts_in(l, port, 1) == 0) {
		assert_true(rig_left_ms(deadline) > 0);
		assert_true(rig_poll(t->rig[0], NULL, 0, 1) >= 0);
	}
}


/* A sibling marked stalled (its parked mail expired) is answered at once
 * only until mail reaches it again: once B drained and took a packet, a
 * full mailbox makes A's next packets for B wait in the park again (no RST
 * before the timeout), not bounce. */
static void test_delivery_clears_the_stalled_mark(void **state)
{
	struct tenants *t = *state;
	struct delivery dl = {0};
	struct rst_log *l;
	const uint32_t fill1 = 40000, probe = 45000, fill2 = 46000, probe_port = 49000;
	unsigned room, over = 100;
	struct rig *a, *b;
	int64_t deadline;

	start_park_timeout(t, "4000");
	a = open_vm(t, 0);
	b = open_vm(t, 1);
	l = log_rsts(a, fill1);
	b->on_packet = log_delivery;
	b->on_packet_arg = &dl;

	/* B stops draining: its posted RX buffers and its mailbox fill, a few
	 * packets park, expire, and B is marked stalled. */
	rig_freeze_rx(b, true);
	room = b->n_rx_posted + MAILBOX_PACKETS;
	for (unsigned i = 0; i < room + 10; i++)
		send_stray(a, CID_B, fill1 + i);
	deadline = rig_now_ms() + 4000 + T_MS;
	while (rig_daemon_log_count(&t->d, "its mailbox stayed full") == 0) {
		assert_true(rig_left_ms(deadline) > 0);
		assert_true(rig_poll(a, NULL, 0, 10) >= 0);
	}

	/* B drains; a packet reaches it (A tries until one does). */
	rig_freeze_rx(b, false);
	deadline = rig_now_ms() + T_MS;
	for (uint32_t port = probe; !dl.seen; port++) {
		assert_true(rig_left_ms(deadline) > 0 && port < fill2);
		dl.port = port;
		send_stray(a, CID_B, port);
		for (int64_t end = rig_now_ms() + 50; !dl.seen && rig_now_ms() < end;) {
			assert_true(rig_poll(a, NULL, 0, 1) >= 0);
			assert_true(rig_poll(b, NULL, 0, 1) >= 0);
		}
	}

	/* B stops again; A overfills its mailbox by `over` packets, then
	 * sends the host a packet for no connection, which is answered at
	 * once: by then every packet for B was handled, and each found room
	 * or waits in the park. */
	rig_freeze_rx(b, true);
	room = b->n_rx_posted + MAILBOX_PACKETS;
	for (unsigned i = 0; i < room + over; i++)
		send_stray(a, CID_B, fill2 + i);
	host_probe(t, l, probe_port);
	assert_int_equal(rsts_in(l, fill2, room + over), 0);
	a->on_packet = NULL;
	b->on_packet = NULL;
	rig_freeze_rx(b, false);
	free(l);
}

/* Headers alone for B's full mailbox (RWs for no connection here) are
 * copied into the park and their chains go back to A at once; one VM's
 * headers take at most a quarter of the park (DEVICE_PARK_MAX_PER_VM =
 * 256), and past that they are answered at once with an RST, except an
 * RST, which is dropped.  The park timeout is a minute, so nothing here
 * expires. */
static void test_parked_headers_return_their_chains_and_share_the_park(void **state)
{
	struct tenants *t = *state;
	struct rst_log *l;
	const uint32_t fill = 40000, rst_port = 48000, probe_port = 49000;
	const unsigned per_vm = 256, over = 10;
	unsigned room, answered;
	struct rig *a, *b;

	start_park_timeout(t, "60000");
	a = open_vm(t, 0);
	b = open_vm(t, 1);
	l = log_rsts(a, fill);
	rig_freeze_rx(b, true);
	room = b->n_rx_posted + MAILBOX_PACKETS;
	/* More headers than A's TX ring holds wait in the park: had they
	 * kept their chains, send_stray would find the ring full for good. */
	for (unsigned i = 0; i < room + per_vm + over; i++)
		send_stray(a, CID_B, fill + i);
	host_probe(t, l, probe_port);
	wait_tx_used(a);
	/* Those past the mailbox and B's share of the park bounced, the last
	 * ones sent; the first ones past the mailbox wait.  How many B's RX
	 * buffers took before its mailbox filled depends on when its thread
	 * ran: up to all of them. */
	answered = rsts_in(l, fill, room + per_vm + over);
	if (answered < 1 || answered > over + room - MAILBOX_PACKETS)
		fail_msg("%u of the headers past B's mailbox (%u) bounced", answered, room);
	assert_int_equal(rsts_in(l, fill + room, 1), 0);
	assert_int_equal(rsts_in(l, fill + room + per_vm + over - 1, 1), 1);
	/* An RST past B's share is dropped: an RST is never answered. */
	send_op(a, VIRTIO_VSOCK_OP_RST, CID_B, rst_port);
	host_probe(t, l, probe_port + 1);
	assert_int_equal(rsts_in(l, rst_port, 1), 0);
	assert_serves(t, 0, 5055);
	a->on_packet = NULL;
	free(l);
}

/* A's guest stops taking RX buffers and sends the host packets for no
 * connection until its TX ring stops (the RSTs fill the RX ring, then the
 * control queue, and TX waits for room); once it takes RX buffers again,
 * TX resumes by itself, with no new kick: every packet is answered and
 * every TX chain comes back. */
static void test_tx_resumes_once_replies_drain(void **state)
{
	struct tenants *t = *state;
	struct rst_log *l;
	const uint32_t first = 30000;
	unsigned sent = 0;
	int64_t deadline;
	struct rig *a;

	start(t, NULL, NULL, 0);
	a = open_vm(t, 0);
	l = log_rsts(a, first);
	rig_freeze_rx(a, true);
	for (;; sent++) {
		struct rig_hdr h = {
			.src_cid = CID_A, .dst_cid = RIG_HOST_CID, .src_port = first + sent,
			.dst_port = 31000, .type = VIRTIO_VSOCK_TYPE_STREAM,
			.op = VIRTIO_VSOCK_OP_RW, .buf_alloc = 65536,
		};
		int64_t stuck_after = rig_now_ms() + 300;
		int rc;

		while ((rc = rig_send_pkt(a, &h, NULL, 0)) == -EAGAIN &&
		       rig_now_ms() < stuck_after)
			assert_true(rig_poll(a, NULL, 0, 10) >= 0);
		if (rc == -EAGAIN)
			break;
		assert_true(sent < 5000); /* the replies did back up */
	}
	rig_freeze_rx(a, false);
	deadline = rig_now_ms() + T_MS;
	while (rsts_in(l, first, sent) < sent) {
		if (rig_left_ms(deadline) == 0)
			fail_msg("%u of %u packets answered once RX buffers came back",
				 rsts_in(l, first, sent), sent);
		assert_true(rig_poll(a, NULL, 0, 10) >= 0);
	}
	wait_tx_used(a);
	a->on_packet = NULL;
	free(l);
}

/* Data for B's full mailbox keeps its TX chain in the park, but one VM's
 * packets hold at most half the park's chains ((room + 1) / 2, room being
 * half A's TX ring: 32 of 128): past that A's ring waits, everything
 * behind the packet too (the host probes here), with 32 chains kept, the
 * waiting one and the probe behind it in flight.  The park timeout is a
 * minute, so nothing expires. */
static void test_parked_data_holds_at_most_half_the_chains(void **state)
{
	struct tenants *t = *state;
	struct rst_log *l;
	const uint32_t fill = 40000, probe = 46000;
	static uint8_t data[4000];
	struct rig_opts o;
	struct rig *a, *b;
	unsigned k;

	start_park_timeout(t, "60000");
	rig_opts_default(&o);
	o.queue_size = 128;
	o.tx_layout = RIG_TX_LINEAR;
	o.tx_slots = 100;
	a = open_vm_opts(t, 0, &o);
	b = open_vm(t, 1);
	l = log_rsts(a, fill);
	rig_freeze_rx(b, true);
	/* Each data packet for B, then a probe the host answers at once
	 * unless the ring waits before it. */
	for (k = 0;; k++) {
		struct rig_hdr h = {
			.src_cid = CID_A, .dst_cid = CID_B, .src_port = fill + k,
			.dst_port = 41000, .type = VIRTIO_VSOCK_TYPE_STREAM,
			.op = VIRTIO_VSOCK_OP_RW, .len = sizeof(data), .buf_alloc = 65536,
		};
		int64_t deadline;

		assert_true(k < 2000);
		send_pkt_waiting(a, &h, data, sizeof(data));
		send_stray(a, RIG_HOST_CID, probe + k);
		deadline = rig_now_ms() + T_MS;
		while (rsts_in(l, probe + k, 1) == 0 && rig_left_ms(deadline) > 0)
			assert_true(rig_poll(a, NULL, 0, 1) >= 0);
		if (rsts_in(l, probe + k, 1) == 0)
			break;
	}
	if (a->n_tx_slots - a->n_tx_free != 34)
		fail_msg("%u of A's TX chains in flight when its ring waited (after %u packets for "
			 "B), not 32 parked + 2", a->n_tx_slots - a->n_tx_free, k + 1);
	/* B drains: the park empties, A's ring goes on, and A serves again. */
	rig_freeze_rx(b, false);
	{
		int64_t deadline = rig_now_ms() + T_MS;

		while (a->n_tx_free != a->n_tx_slots || rsts_in(l, probe + k, 1) == 0) {
			assert_true(rig_left_ms(deadline) > 0);
			assert_true(rig_poll(a, NULL, 0, 1) >= 0);
			assert_true(rig_poll(b, NULL, 0, 1) >= 0);
		}
	}
	assert_serves(t, 0, 5065);
	a->on_packet = NULL;
	free(l);
}

/* What B's guest received, in order: runs of host data and of A's mail. */
struct rx_order {
	size_t mail_between;   /* mail bytes between the first two host runs */
	size_t host, mail;     /* bytes of each received */
	unsigned host_runs;
	bool in_host_run;
};

static void log_order(void *arg, const struct rig_hdr *h, const void *payload)
{
	struct rx_order *o = arg;

	(void)payload;
	if (h->op != VIRTIO_VSOCK_OP_RW || h->len == 0)
		return;
	if (h->src_cid == RIG_HOST_CID) {
		o->host += h->len;
		if (!o->in_host_run)
			o->host_runs++;
		o->in_host_run = true;
	} else if (h->src_cid == CID_A) {
		o->mail += h->len;
		o->in_host_run = false;
		if (o->host_runs == 1)
			o->mail_between += h->len;
	}
}

/* Host connections and sibling mail take turns on B's RX ring: with a
 * mailbox full of A's data and two host connections with data waiting,
 * once B takes buffers again the mail between the two connections' turns
 * is at most RX_MAIL_BUDGET (256 KiB), not all of it. */
static void test_mail_and_host_data_take_turns(void **state)
{
	struct tenants *t = *state;
	static uint8_t data[4000], host_data[100 * 1024];
	const size_t mail = 600 * 1024, budget = 256 * 1024;
	struct rx_order order = {0};
	struct rig_conn *conn[2];
	struct rig_opts o;
	struct rig *a, *b;
	int64_t deadline;
	int hfd[2];

	start(t, NULL, NULL, 0);
	a = open_vm(t, 0);
	rig_opts_default(&o);
	o.queue_size = 256;
	o.rx_bufs = 256;
	o.buf_alloc = 4u << 20;
	b = open_vm_opts(t, 1, &o);
	for (unsigned i = 0; i < 2; i++) {
		assert_int_equal(rig_listen(b, 7100 + i), 0);
		hfd[i] = rig_host_open(b, t->uds[1], 7100 + i, &conn[i], T_MS);
		assert_true(hfd[i] >= 0);
	}
	/* B stops taking buffers; A's headers use up those it had posted. */
	rig_freeze_rx(b, true);
	for (unsigned i = 0; i < o.rx_bufs; i++)
		send_stray(a, CID_B, 40000 + i);
	wait_tx_used(a);
	/* Mail and host data wait for B. */
	for (size_t sent = 0; sent < mail; sent += sizeof(data)) {
		struct rig_hdr h = {
			.src_cid = CID_A, .dst_cid = CID_B, .src_port = 42000,
			.dst_port = 41000, .type = VIRTIO_VSOCK_TYPE_STREAM,
			.op = VIRTIO_VSOCK_OP_RW, .len = sizeof(data), .buf_alloc = 65536,
		};

		send_pkt_waiting(a, &h, data, sizeof(data));
	}
	wait_tx_used(a);
	for (unsigned i = 0; i < 2; i++)
		assert_int_equal(rig_host_write_all(b, hfd[i], host_data, sizeof(host_data), T_MS),
				 0);
	/* B's device has seen the host data once it took a packet B sent
	 * after it (one for no connection, whose RST waits for buffers). */
	{
		struct rig_hdr h = {
			.src_cid = CID_B, .dst_cid = RIG_HOST_CID, .src_port = 43000,
			.dst_port = 41000, .type = VIRTIO_VSOCK_TYPE_STREAM,
			.op = VIRTIO_VSOCK_OP_RW, .buf_alloc = 65536,
		};

		assert_int_equal(rig_send_pkt(b, &h, NULL, 0), 0);
		wait_tx_used(b);
	}
	b->on_packet = log_order;
	b->on_packet_arg = &order;
	/* All of B's buffers at once, so that one pass meets them together
	 * (a pass that ran out of buffers starts the next with a host turn). */
	rig_ring_hold(&b->rxq, true);
	rig_freeze_rx(b, false);
	assert_true(rig_poll(b, NULL, 0, 0) >= 0);
	rig_ring_hold(&b->rxq, false);
	deadline = rig_now_ms() + T_MS;
	while (order.host_runs < 2) {
		if (rig_left_ms(deadline) == 0)
			fail_msg("B got %zu bytes of host data in %u run(s) and %zu of mail", order.host,
				 order.host_runs, order.mail);
		assert_true(rig_poll(b, NULL, 0, 1) >= 0);
		assert_true(rig_poll(a, NULL, 0, 0) >= 0);
	}
	if (order.mail_between == 0 || order.mail_between > budget + sizeof(data))
		fail_msg("%zu bytes of mail between B's first two runs of host data",
			 order.mail_between);
	b->on_packet = NULL;
	for (unsigned i = 0; i < 2; i++)
		close(hfd[i]);
}

/* A packet kept in the park is checked again before it leaves: A's guest
 * rewrites the source CID in the header of a parked data packet (its
 * chain is still the guest's memory), and when B's mailbox has room the
 * packet is dropped, its chain returned empty, not sent. */
static void test_rewritten_parked_packet_dropped(void **state)
{
	struct tenants *t = *state;
	struct rig_hdr h = {
		.src_cid = CID_A, .dst_cid = CID_B, .src_port = 44000, .dst_port = 41000,
		.type = VIRTIO_VSOCK_TYPE_STREAM, .op = VIRTIO_VSOCK_OP_RW, .len = 100,
		.buf_alloc = 65536,
	};
	struct rx_order order = {0};
	struct rig_opts o;
	struct rig *a, *b;
	struct vring_desc d;
	uint32_t len = 1;
	uint64_t buf;
	uint8_t *wire;
	unsigned room;
	int head;

	start_park_timeout(t, "60000");
	a = open_vm(t, 0);
	/* B's guest does not answer A's strays: no RSTs back to A. */
	rig_opts_default(&o);
	o.strays_unanswered = true;
	b = open_vm_opts(t, 1, &o);
	rig_freeze_rx(b, true);
	room = b->n_rx_posted + MAILBOX_PACKETS;
	for (unsigned i = 0; i < room; i++)
		send_stray(a, CID_B, 40000 + i);
	wait_tx_used(a);
	/* One data packet in a chain of our own: B's mailbox is full, so it
	 * waits in the park with its chain. */
	buf = rig_mem_alloc(&a->mem, RIG_HDR_SIZE + h.len, 64);
	wire = rig_mem_ptr(&a->mem, buf, RIG_HDR_SIZE + h.len);
	rig_hdr_encode(&h, wire);
	memset(wire + RIG_HDR_SIZE, 'p', h.len);
	d = (struct vring_desc){.addr = htole64(buf), .len = htole32(RIG_HDR_SIZE + h.len)};
	head = rig_post_raw(a, 1, &d, 1);
	assert_true(head >= 0);
	/* Parked: the chain stays out while everything sent after it is
	 * handled (the host's answer to a probe). */
	{
		struct rst_log *l = log_rsts(a, 49000);

		host_probe(t, l, 49000);
		a->on_packet = NULL;
		free(l);
	}
	assert_int_equal(rig_wait_raw(a, 1, head, &len, 0), -ETIMEDOUT);
	h.src_cid = 5;
	rig_hdr_encode(&h, wire);
	b->on_packet = log_order;
	b->on_packet_arg = &order;
	rig_freeze_rx(b, false);
	{
		int64_t deadline = rig_now_ms() + T_MS;

		while (rig_wait_raw(a, 1, head, &len, 0) != 0) {
			assert_true(rig_left_ms(deadline) > 0);
			assert_true(rig_poll(a, NULL, 0, 0) >= 0);
			assert_true(rig_poll(b, NULL, 0, 1) >= 0);
		}
	}
	assert_int_equal(len, 0);
	assert_true(rig_daemon_log_count(&t->d, "rewrote a packet kept for cid 4") >= 1);
	wait_tx_used(a);
	for (int64_t end = rig_now_ms() + 200; rig_now_ms() < end;)
		assert_true(rig_poll(b, NULL, 0, 10) >= 0);
	assert_int_equal(order.mail, 0);
	b->on_packet = NULL;
}

/* A's data packets for B, in raw chains of A's TX ring, so that the test
 * sees which chains the daemon keeps (parked) and which it gave back. */
struct park_probe {
	struct tenants *t;
	struct rst_log *l;      /* RSTs A gets: the host's answers to probes */
	uint32_t next_probe;
};

/* The order in which B gets A's data packets, by source port (one per
 * port). */
struct send_order {
	uint32_t last;
	unsigned count;
	bool reordered;
};

static void log_send_order(void *arg, const struct rig_hdr *h, const void *payload)
{
	struct send_order *o = arg;

	(void)payload;
	if (h->src_cid != CID_A || h->op != VIRTIO_VSOCK_OP_RW || h->len == 0)
		return;
	if (o->count && h->src_port == o->last)
		return; /* the next part of a packet split across RX buffers */
	if (o->count && h->src_port < o->last)
		o->reordered = true;
	o->last = h->src_port;
	o->count++;
}

/* A sends B len bytes from port in a raw chain at buf; then everything A
 * sent before is handled (a host probe is answered).  Returns the head. */
static int post_data(struct park_probe *pp, uint64_t buf, uint32_t port, uint32_t len)
{
	struct rig *a = pp->t->rig[0];
	struct rig_hdr h = {
		.src_cid = CID_A, .dst_cid = CID_B, .src_port = port, .dst_port = 41000,
		.type = VIRTIO_VSOCK_TYPE_STREAM, .op = VIRTIO_VSOCK_OP_RW, .len = len,
		.buf_alloc = 65536,
	};
	uint8_t *wire = rig_mem_ptr(&a->mem, buf, RIG_HDR_SIZE + len);
	struct vring_desc d = {.addr = htole64(buf), .len = htole32(RIG_HDR_SIZE + len)};
	int head;

	rig_hdr_encode(&h, wire);
	memset(wire + RIG_HDR_SIZE, 'm', len);
	head = rig_post_raw(a, 1, &d, 1);
	assert_true(head >= 0);
	host_probe(pp->t, pp->l, pp->next_probe++);
	return head;
}

static bool chain_back(struct rig *a, int head, int timeout_ms)
{
	return rig_wait_raw(a, 1, head, NULL, timeout_ms) == 0;
}

/* Starts A and B (B posting only 4 RX buffers, neither answering strays)
 * with a park timeout of a minute, stops B's RX, and fills its posted
 * buffers and mailbox with A's 4000-byte packets from port 40000 on, each
 * in the chain at buf, until one stays in the park.  Returns its head;
 * *sent counts the packets sent. */
static int fill_until_parked(struct park_probe *pp, uint64_t buf, unsigned *sent)
{
	struct rig *a = pp->t->rig[0];

	rig_freeze_rx(pp->t->rig[1], true);
	for (unsigned k = 0;; k++) {
		int head = post_data(pp, buf, 40000 + k, 4000);

		assert_true(k < 2000);
		/* Put in the mailbox, it came back at once. */
		if (!chain_back(a, head, 1000)) {
			*sent = k + 1;
			return head;
		}
	}
}

static void park_setup(struct park_probe *pp, struct send_order *order)
{
	struct tenants *t = pp->t;
	struct rig_opts o;
	struct rig *a, *b;

	start_park_timeout(t, "60000");
	rig_opts_default(&o);
	o.strays_unanswered = true;
	a = open_vm_opts(t, 0, &o);
	o.rx_bufs = 4;
	b = open_vm_opts(t, 1, &o);
	pp->l = log_rsts(a, 49000);
	pp->next_probe = 49000;
	b->on_packet = log_send_order;
	b->on_packet_arg = order;
}

static void park_teardown(struct park_probe *pp)
{
	pp->t->rig[0]->on_packet = NULL;
	pp->t->rig[1]->on_packet = NULL;
	free(pp->l);
}

static uint64_t alloc_pkt(struct rig *a, uint32_t len)
{
	uint64_t buf = rig_mem_alloc(&a->mem, RIG_HDR_SIZE + len, 64);

	assert_true(buf != 0);
	return buf;
}

/* B takes 4 packets out of its mailbox: less than half of it, so the
 * router does not wake A's park. */
static void b_takes_four(struct rig *b)
{
	wait_rx_used(b, 4);
	/* The 4 new buffers are published together after one pass of the
	 * rig; else the device could fill them within the pass and B would
	 * take more. */
	rig_ring_hold(&b->rxq, true);
	rig_freeze_rx(b, false);
	assert_true(rig_poll(b, NULL, 0, 0) >= 0);
	rig_freeze_rx(b, true);
	rig_ring_hold(&b->rxq, false);
	wait_rx_used(b, 4);
}

/* B drains until A's chains at heads came back and B got count of A's
 * packets. */
static void drain_all(struct tenants *t, const int *heads, unsigned n,
		      const struct send_order *order, unsigned count)
{
	int64_t deadline = rig_now_ms() + T_MS;
	unsigned back = 0;

	rig_freeze_rx(t->rig[1], false);
	while (back < n || order->count < count) {
		if (rig_left_ms(deadline) == 0)
			fail_msg("%u of %u parked chains back, B got %u of %u packets", back, n,
				 order->count, count);
		assert_true(rig_poll(t->rig[0], NULL, 0, 0) >= 0);
		assert_true(rig_poll(t->rig[1], NULL, 0, 1) >= 0);
		for (back = 0; back < n && chain_back(t->rig[0], heads[back], 0);)
			back++;
	}
}

/* Packets for one VM keep their order: a packet for B while others for B
 * wait in the park waits behind them, even when B's mailbox has a little
 * room again (B took a few packets, not enough for the router to wake the
 * park). */
static void test_new_packet_waits_behind_parked_ones(void **state)
{
	struct tenants *t = *state;
	struct send_order order = {0};
	struct park_probe pp = {.t = t};
	unsigned sent;
	int heads[3];
	struct rig *a;

	park_setup(&pp, &order);
	a = t->rig[0];
	heads[0] = fill_until_parked(&pp, alloc_pkt(a, 4000), &sent);
	heads[1] = post_data(&pp, alloc_pkt(a, 4000), 45001, 4000);
	assert_false(chain_back(a, heads[1], 0));
	b_takes_four(t->rig[1]);
	heads[2] = post_data(&pp, alloc_pkt(a, 4000), 45002, 4000);
	assert_false(chain_back(a, heads[2], 0));
	drain_all(t, heads, 3, &order, sent + 2);
	assert_false(order.reordered);
	assert_int_equal(order.last, 45002);
	park_teardown(&pp);
}

/* When the park retries, a packet for a VM whose mailbox refused an
 * earlier parked packet in the same pass waits, even if it would fit:
 * B's mailbox has room for 4000 bytes and 100, not for 30000; the retry
 * (mail for A) delivers the first parked packet, and the 100 bytes behind
 * the 30000 stay behind it. */
static void test_retry_keeps_order_behind_a_refused_packet(void **state)
{
	struct tenants *t = *state;
	struct send_order order = {0};
	struct park_probe pp = {.t = t};
	unsigned sent;
	int heads[3];
	struct rig *a, *b;

	park_setup(&pp, &order);
	a = t->rig[0];
	b = t->rig[1];
	heads[0] = fill_until_parked(&pp, alloc_pkt(a, 4000), &sent);
	heads[1] = post_data(&pp, alloc_pkt(a, 30000), 45001, 30000);
	heads[2] = post_data(&pp, alloc_pkt(a, 100), 45002, 100);
	b_takes_four(b);
	assert_false(chain_back(a, heads[0], 0));
	/* Mail for A wakes its park: the first parked packet goes. */
	{
		struct rig_hdr mail = {
			.src_cid = CID_B, .dst_cid = CID_A, .src_port = 41000, .dst_port = 40000,
			.type = VIRTIO_VSOCK_TYPE_STREAM, .op = VIRTIO_VSOCK_OP_RW,
			.buf_alloc = 65536,
		};

		send_pkt_waiting(b, &mail, NULL, 0);
	}
	assert_true(chain_back(a, heads[0], T_MS));
	assert_false(chain_back(a, heads[2], 0));
	drain_all(t, heads, 3, &order, sent + 2);
	assert_false(order.reordered);
	assert_int_equal(order.last, 45002);
	park_teardown(&pp);
}

/* ---- A's VMM --------------------------------------------------------------- */

/* A's VMM shrinks the file behind guest memory after SET_MEM_TABLE: the
 * daemon's next access there faulted (SIGBUS) and every VM died.  Now only
 * A's front-end is dropped; B goes on and A's VMM may come back. */
static void test_shrunk_guest_memory_drops_only_that_vmm(void **state)
{
	struct tenants *t = *state;
	struct rig *a;
	uint64_t one = 1;
	char byte;

	start(t, NULL, NULL, 0);
	a = open_vm(t, 0);
	open_vm(t, 1);
	assert_serves(t, 0, 5070);
	/* From here on A's memory is not touched by this process either. */
	assert_int_equal(ftruncate(a->mem.fd, 0), 0);
	assert_int_equal(write(a->txq.kick_fd, &one, sizeof(one)), sizeof(one));
	assert_int_equal(write(a->rxq.kick_fd, &one, sizeof(one)), sizeof(one));
	{
		struct pollfd p = {.fd = a->vu.fd, .events = POLLIN};

		assert_int_equal(poll(&p, 1, T_MS), 1);
		assert_int_equal(recv(a->vu.fd, &byte, 1, 0), 0);
	}
	assert_true(rig_daemon_alive(&t->d));
	assert_true(rig_daemon_log_count(&t->d, "guest memory became inaccessible") > 0);
	assert_serves(t, 1, 5080);
	a->device_started = false; /* its rings live in the shrunk file */
	close_vm(t, 0);
	open_vm(t, 0);
	assert_serves(t, 0, 5090);
}

/* A's guest backs up the control replies (stray packets, no RX buffers),
 * then its VMM disables the TX ring and the guest posts RX buffers: once
 * the replies drained, the device went back for TX packets it could no
 * longer take, and did so forever, never returning to its event loop. */
static void test_tx_disabled_with_replies_backed_up_does_not_spin(void **state)
{
	struct tenants *t = *state;
	struct rig *a;
	long cpu;

	start(t, NULL, NULL, 0);
	a = open_vm(t, 0);
	open_vm(t, 1);
	rig_freeze_rx(a, true);
	/* The device answers each with an RST: into the 128 RX buffers, then
	 * into its 64-entry control queue; then its TX waits for room, and A's
	 * TX slots stop coming back. */
	for (unsigned i = 0; i < 1000; i++) {
		struct rig_hdr h = {
			.src_cid = CID_A, .dst_cid = RIG_HOST_CID, .src_port = 30000 + i,
			.dst_port = 31000, .type = VIRTIO_VSOCK_TYPE_STREAM,
			.op = VIRTIO_VSOCK_OP_RW, .buf_alloc = 65536,
		};
		int64_t stuck_after = rig_now_ms() + 300;

		while (rig_send_pkt(a, &h, NULL, 0) == -EAGAIN && rig_now_ms() < stuck_after)
			assert_true(rig_poll(a, NULL, 0, 10) >= 0);
		if (rig_now_ms() >= stuck_after)
			break;
		assert_true(i < 999); /* the replies did back up */
	}
	assert_int_equal(rig_vu_set_vring_state(&a->vu, VU_SET_VRING_ENABLE, 1, 0), 0);
	rig_freeze_rx(a, false);
	for (int64_t end = rig_now_ms() + 300; rig_now_ms() < end;)
		assert_true(rig_poll(a, NULL, 0, 10) >= 0);
	cpu = process_cpu_ms(t->d.pid);
	poll(NULL, 0, 1000);
	cpu = process_cpu_ms(t->d.pid) - cpu;
	if (cpu >= 300)
		fail_msg("the daemon used %ld ms of CPU in 1 s with A's TX ring disabled", cpu);
	assert_serves(t, 1, 5110);
	close_vm(t, 0); /* its TX ring is off: the rig can no longer run it */
}

/* ---- Memory --------------------------------------------------------------- */

#define HOGS 32
#define HOG_BYTES (512u * 1024)
#define HOG_PORT 6100

/* Moves the rest of what a hog has to send through hfd, whose first
 * HEAD bytes the host has read already, and checks every byte. */
#define HEAD 8
static void drain_hog(struct rig *a, struct rig_conn *c, int hfd, const uint8_t *pattern,
		      uint64_t sent, const uint8_t *head)
{
	static uint8_t got[HOG_BYTES];
	int64_t deadline = rig_now_ms() + 3 * T_MS;
	uint64_t read_so_far = HEAD;

	memcpy(got, head, HEAD);
	while (read_so_far < HOG_BYTES) {
		ssize_t n = sent < HOG_BYTES ? rig_send(a, c, pattern + sent, HOG_BYTES - sent) : 0;

		assert_true(n >= 0);
		sent += (uint64_t)n;
		n = recv(hfd, got + read_so_far, HOG_BYTES - read_so_far, MSG_DONTWAIT);
		if (n > 0)
			read_so_far += (uint64_t)n;
		else
			assert_true(n < 0 && errno == EAGAIN);
		assert_true(rig_left_ms(deadline) > 0);
		assert_true(rig_poll(a, NULL, 0, n > 0 ? 0 : 1) >= 0);
	}
	assert_memory_equal(got, pattern, HOG_BYTES);
}

/* A's guest writes to connections whose host peer never accepts them, so
 * the daemon has to hold what the host sockets do not take.  With
 * tx-buffer-total at 1 MiB the daemon holds at most that (plus 4 KiB per
 * connection): A's guest is offered less credit instead.  Once the host
 * reads, everything A sent arrives, in order. */
static void test_memory_budget_holds(void **state)
{
	struct tenants *t = *state;
	static uint8_t pattern[HOGS][HOG_BYTES];
	struct rig_conn *c[HOGS];
	uint64_t sent[HOGS] = {0};
	bool drained[HOGS] = {false};
	long rss_before, rss_peak;
	int64_t last_progress;
	struct rig *a;
	int lfd;

	start(t, "tx-buffer-total=1048576", NULL, 0);
	a = open_vm(t, 0);
	open_vm(t, 1);
	lfd = rig_host_listen(t->uds[0], HOG_PORT);
	assert_true(lfd >= 0);
	for (unsigned i = 0; i < HOGS; i++) {
		pattern_fill(100 + i, 0, pattern[i], HOG_BYTES);
		assert_int_equal(rig_connect(a, RIG_HOST_CID, HOG_PORT, T_MS, &c[i]), 0);
	}
	rss_before = process_rss_anon_kib(t->d.pid);
	/* Send until nothing moves for 300 ms. */
	last_progress = rig_now_ms();
	while (rig_now_ms() - last_progress < 300) {
		for (unsigned i = 0; i < HOGS; i++) {
			ssize_t n = rig_send(a, c[i], pattern[i] + sent[i], HOG_BYTES - sent[i]);

			assert_true(n >= 0);
			if (n > 0)
				last_progress = rig_now_ms();
			sent[i] += (uint64_t)n;
		}
		assert_true(rig_poll(a, NULL, 0, 1) >= 0);
	}
	rss_peak = process_rss_anon_kib(t->d.pid);
	/* 1 MiB, 4 KiB per connection, and slack for buffers freed as they
	 * grew (ASan keeps those in quarantine); the unbounded daemon grew by
	 * 8 MiB or more here. */
	if (rss_peak - rss_before > 4 * 1024)
		fail_msg("the daemon grew by %ld KiB holding guest data (budget 1024 KiB)",
			 rss_peak - rss_before);
	assert_serves(t, 1, 5100);
	/* The host accepts and reads now: every byte arrives. */
	for (unsigned n = 0; n < HOGS; n++) {
		uint8_t head[HEAD];
		int hfd = rig_host_accept(a, lfd, T_MS);
		unsigned k;

		assert_true(hfd >= 0);
		assert_int_equal(rig_host_read_full(a, hfd, head, sizeof(head), T_MS),
				 sizeof(head));
		for (k = 0; k < HOGS; k++)
			if (!drained[k] && !memcmp(head, pattern[k], sizeof(head)))
				break;
		assert_true(k < HOGS);
		drained[k] = true;
		drain_hog(a, c[k], hfd, pattern[k], sent[k], head);
		close(hfd);
	}
	close(lfd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T(test_dribbling_clients_cannot_crash_it),
		T(test_clients_that_leave_release_their_fds),
		T(test_waiting_clients_are_bounded),
		T(test_out_of_fds_never_spins),
		T(test_budgets_full_leave_each_vm_its_own_fds),
		T(test_guest_connect_flood_stays_in_its_share),
		T(test_full_mailbox_delays_only_its_own_mail),
		T(test_delivery_clears_the_stalled_mark),
		T(test_parked_headers_return_their_chains_and_share_the_park),
		T(test_tx_resumes_once_replies_drain),
		T(test_parked_data_holds_at_most_half_the_chains),
		T(test_mail_and_host_data_take_turns),
		T(test_rewritten_parked_packet_dropped),
		T(test_new_packet_waits_behind_parked_ones),
		T(test_retry_keeps_order_behind_a_refused_packet),
		T(test_shrunk_guest_memory_drops_only_that_vmm),
		T(test_tx_disabled_with_replies_backed_up_does_not_spin),
		T(test_memory_budget_holds),
#undef T
	};

	/* RIG_TEST_FILTER=test_memory_budget_holds runs one test (a glob). */
	if (getenv("RIG_TEST_FILTER"))
		cmocka_set_test_filter(getenv("RIG_TEST_FILTER"));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
