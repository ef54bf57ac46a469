/* The credit the daemon gives a guest for guest-to-host data, field by
 * field (src/tx_credit.c): a window of exactly 64 KiB at first, doubled
 * each time the guest runs low, never past tx-buffer-size (262144 by
 * default); fwd_cnt exactly the bytes the host socket took; and the
 * CREDIT_UPDATE owed when a slow host finally drains what the daemon had
 * to buffer, so a guest that used all its credit never has to ask. */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/virtio_vsock.h>

#include "rig_test.h"

#define PORT 5600u
#define INITIAL_WINDOW 65536u

/* Every header the daemon sent on one connection. */
struct credit_log {
	uint32_t port;          /* the guest's port of the connection */
	unsigned n;
	uint32_t buf_alloc[4096];
	uint32_t fwd_cnt[4096];
	uint16_t op[4096];
};

static void record(void *arg, const struct rig_hdr *h, const void *payload)
{
	struct credit_log *l = arg;

	(void)payload;
	if (h->dst_port != l->port || l->n == 4096)
		return;
	l->buf_alloc[l->n] = h->buf_alloc;
	l->fwd_cnt[l->n] = h->fwd_cnt;
	l->op[l->n] = h->op;
	l->n++;
}

static int setup_window(void **state, const char *size)
{
	const char *const extra[] = {"--tx-buffer-size", size, NULL};

	if (fixture_setup_daemon_args(state, size ? extra : NULL))
		return -1;
	fixture_open_rig(*state);
	return 0;
}

static int setup_default(void **state) { return setup_window(state, NULL); }
static int setup_100000(void **state) { return setup_window(state, "100000"); }
static int setup_16384(void **state) { return setup_window(state, "16384"); }

/* A guest connection whose headers are logged from the RESPONSE on. */
static struct rig_conn *logged_conn(struct fixture *f, struct credit_log *l, int *lfd,
				    int *hfd)
{
	struct rig_conn *c;

	memset(l, 0, sizeof(*l));
	*lfd = rig_host_listen(f->d.uds_path, PORT);
	assert_true(*lfd >= 0);
	/* The rig numbers its ports from next_local_port: log that one. */
	l->port = f->rig->next_local_port;
	f->rig->on_packet = record;
	f->rig->on_packet_arg = l;
	assert_int_equal(rig_connect(f->rig, RIG_HOST_CID, PORT, T_MS, &c), 0);
	assert_int_equal(c->local_port, l->port);
	*hfd = rig_host_accept(f->rig, *lfd, T_MS);
	assert_true(*hfd >= 0);
	return c;
}

/* Sends total bytes while the host reads as it likes; returns them read. */
static void stream(struct fixture *f, struct rig_conn *c, int hfd, const uint8_t *data,
		   size_t total)
{
	uint8_t *got = malloc(total);
	size_t sent = 0, got_len = 0;
	int64_t deadline = rig_now_ms() + T_MS;

	assert_non_null(got);
	while (got_len < total) {
		if (rig_now_ms() > deadline)
			fail_msg("stuck after %zu bytes sent, %zu read", sent, got_len);
		struct pollfd pfd = {.fd = hfd, .events = POLLIN};
		ssize_t n = recv(hfd, got + got_len, total - got_len, MSG_DONTWAIT);

		if (n > 0) {
			got_len += (size_t)n;
			continue;
		}
		if (sent < total) {
			ssize_t s = rig_send(f->rig, c, data + sent, total - sent);

			assert_true(s >= 0);
			sent += (size_t)s;
		}
		assert_true(rig_poll(f->rig, &pfd, 1, T_MS) >= 0);
	}
	assert_memory_equal(got, data, total);
	free(got);
}

static bool got_update(struct rig *rig, void *arg)
{
	const uint64_t *want = arg;

	(void)rig;
	return want[0] < ((struct rig_conn *)(uintptr_t)want[1])->credit_updates_received;
}

/* Asks for credit and returns the answer's fields. */
static void ask(struct fixture *f, struct rig_conn *c, uint32_t *buf_alloc, uint32_t *fwd_cnt)
{
	uint64_t w[2] = {c->credit_updates_received, (uintptr_t)c};

	assert_int_equal(rig_credit_request(f->rig, c), 0);
	assert_int_equal(rig_wait(f->rig, got_update, w, T_MS), 0);
	*buf_alloc = c->peer_buf_alloc;
	*fwd_cnt = c->peer_fwd_cnt;
}

/* buf_alloc starts at 64 KiB and only ever doubles (capped at max); every
 * step is seen; fwd_cnt never goes back. */
static void check_windows(const struct credit_log *l, uint32_t max)
{
	uint32_t expect = INITIAL_WINDOW < max ? INITIAL_WINDOW : max;

	assert_true(l->n > 0);
	assert_int_equal(l->op[0], VIRTIO_VSOCK_OP_RESPONSE);
	assert_int_equal(l->fwd_cnt[0], 0);
	for (unsigned i = 0; i < l->n; i++) {
		if (l->buf_alloc[i] != expect) {
			uint32_t next = expect * 2 < max ? expect * 2 : max;

			if (l->buf_alloc[i] != next)
				fail_msg("header %u (op %u): buf_alloc %u, expected %u or %u", i,
					 l->op[i], l->buf_alloc[i], expect, next);
			expect = next;
		}
		if (i > 0)
			assert_true(l->fwd_cnt[i] >= l->fwd_cnt[i - 1]);
	}
	if (expect != max)
		fail_msg("the window grew to %u only, not %u", expect, max);
}

static void run_growth(void **state, uint32_t max)
{
	struct fixture *f = *state;
	size_t total = 4u << 20;
	uint8_t *data = malloc(total);
	struct credit_log *l = malloc(sizeof(*l));
	uint32_t buf_alloc, fwd_cnt;
	struct rig_conn *c;
	int lfd, hfd;

	assert_non_null(data);
	assert_non_null(l);
	pattern_fill(5, 0, data, total);
	c = logged_conn(f, l, &lfd, &hfd);
	assert_int_equal(c->peer_buf_alloc, max < INITIAL_WINDOW ? max : INITIAL_WINDOW);
	stream(f, c, hfd, data, total);
	/* Everything sent reached the host: fwd_cnt says exactly that. */
	ask(f, c, &buf_alloc, &fwd_cnt);
	assert_int_equal(fwd_cnt, (uint32_t)total);
	assert_int_equal(buf_alloc, max);
	check_windows(l, max);
	f->rig->on_packet = NULL;
	close(hfd);
	close(lfd);
	rig_close(f->rig, c);
	free(data);
	free(l);
}

static void test_window_grows_to_default_tx_buffer_size(void **state)
{
	run_growth(state, 262144);
}

static void test_window_grows_to_configured_size(void **state)
{
	run_growth(state, 100000);
}

/* A tx-buffer-size below the initial window caps it from the start. */
static void test_window_below_initial(void **state)
{
	run_growth(state, 16384);
}

static bool credit_gone(struct rig *rig, void *arg)
{
	(void)rig;
	return rig_conn_credit(arg) == 0;
}

struct fwd_wait {
	struct rig_conn *c;
	uint32_t fwd_cnt;
};

static bool fwd_reached(struct rig *rig, void *arg)
{
	const struct fwd_wait *w = arg;

	(void)rig;
	return w->c->peer_fwd_cnt == w->fwd_cnt;
}

/* The host does not read until the guest has used all its credit and the
 * daemon holds data the host socket refused; then the host reads it all.
 * Without asking, the guest gets a CREDIT_UPDATE whose fwd_cnt is every
 * byte it sent, and it can send again. */
static void test_update_owed_when_buffer_drains(void **state)
{
	struct fixture *f = *state;
	size_t cap = 8u << 20, sent = 0, got_len = 0;
	uint8_t *data = malloc(cap), *got = malloc(cap);
	struct credit_log *l = malloc(sizeof(*l));
	uint32_t buf_alloc, fwd_cnt;
	struct fwd_wait w;
	struct rig_conn *c;
	int64_t deadline = rig_now_ms() + T_MS;
	int lfd, hfd;

	assert_non_null(data);
	assert_non_null(got);
	assert_non_null(l);
	pattern_fill(9, 0, data, cap);
	c = logged_conn(f, l, &lfd, &hfd);
	/* Until the credit the daemon gives is used up: the host socket is
	 * full and the daemon buffers the rest. */
	for (;;) {
		ssize_t n = rig_send(f->rig, c, data + sent, cap - sent);

		assert_true(n >= 0);
		sent += (size_t)n;
		assert_true(sent < cap);
		assert_true(rig_now_ms() < deadline);
		if (n == 0 && rig_wait(f->rig, credit_gone, c, 200) == 0)
			break;
	}
	/* It stays used up while the host does not read (nothing arrives that
	 * would give more): the daemon buffers sent - fwd_cnt bytes. */
	assert_int_equal(rig_conn_credit(c), 0);
	assert_true(c->peer_fwd_cnt < sent);
	/* The host reads everything. */
	deadline = rig_now_ms() + T_MS;
	while (got_len < sent) {
		assert_true(rig_now_ms() < deadline);
		struct pollfd pfd = {.fd = hfd, .events = POLLIN};
		ssize_t n = recv(hfd, got + got_len, sent - got_len, MSG_DONTWAIT);

		if (n > 0)
			got_len += (size_t)n;
		else
			assert_true(rig_poll(f->rig, &pfd, 1, T_MS) >= 0);
	}
	assert_memory_equal(got, data, sent);
	/* An update with fwd_cnt == sent arrives by itself. */
	w = (struct fwd_wait){c, (uint32_t)sent};
	if (rig_wait(f->rig, fwd_reached, &w, T_MS))
		fail_msg("no CREDIT_UPDATE with fwd_cnt %zu came (last fwd_cnt %u)", sent,
			 c->peer_fwd_cnt);
	assert_true(rig_conn_credit(c) > 0);
	ask(f, c, &buf_alloc, &fwd_cnt);
	assert_int_equal(fwd_cnt, (uint32_t)sent);
	check_windows(l, buf_alloc);
	f->rig->on_packet = NULL;
	close(hfd);
	close(lfd);
	rig_close(f->rig, c);
	free(data);
	free(got);
	free(l);
}

/* Every header offers the window again, data headers too.  The guest's
 * first 1000 bytes grow its window (one CREDIT_UPDATE, waited for); the
 * next 1000 leave it as it is, so nothing is sent; the host's reply then
 * comes in an RW whose edge moved on with fwd_cnt (the full window at fwd_cnt
 * 2000), not the edge of the last offer. */
static void test_data_headers_carry_the_window(void **state)
{
	struct fixture *f = *state;
	struct credit_log *l = malloc(sizeof(*l));
	uint8_t data[1000], got[1000];
	struct rig_conn *c;
	uint64_t w[2];
	unsigned last;
	int lfd, hfd;

	assert_non_null(l);
	pattern_fill(11, 0, data, sizeof(data));
	c = logged_conn(f, l, &lfd, &hfd);
	for (int round = 0; round < 2; round++) {
		w[0] = c->credit_updates_received;
		w[1] = (uintptr_t)c;
		assert_int_equal(rig_send_all(f->rig, c, data, sizeof(data), T_MS), 0);
		assert_int_equal(rig_host_read_full(f->rig, hfd, got, sizeof(got), T_MS),
				 (ssize_t)sizeof(got));
		assert_memory_equal(got, data, sizeof(data));
		if (round == 0)
			assert_int_equal(rig_wait(f->rig, got_update, w, T_MS), 0);
	}
	assert_int_equal(send(hfd, "r", 1, 0), 1);
	assert_int_equal(rig_recv_wait(f->rig, c, got, 1, T_MS), 1);
	last = l->n - 1;
	assert_int_equal(l->op[last], VIRTIO_VSOCK_OP_RW);
	assert_int_equal(l->op[last - 1], VIRTIO_VSOCK_OP_CREDIT_UPDATE);
	assert_int_equal(l->fwd_cnt[last], 2 * sizeof(data));
	assert_int_equal(l->buf_alloc[last - 1], 2 * INITIAL_WINDOW);
	assert_int_equal(l->buf_alloc[last], 2 * INITIAL_WINDOW);
	f->rig->on_packet = NULL;
	close(hfd);
	close(lfd);
	rig_close(f->rig, c);
	free(l);
}

/* tx-buffer-total 128 KiB holds two 64 KiB windows: connections that
 * come and go one after another give their share back, so the fifth is
 * offered the full window as the first was. */
static int setup_small_total(void **state)
{
	const char *const extra[] = {"--tx-buffer-size", "65536", "--tx-buffer-total", "131072",
				     NULL};

	if (fixture_setup_daemon_args(state, extra))
		return -1;
	fixture_open_rig(*state);
	return 0;
}

static void test_closed_connections_give_credit_back(void **state)
{
	struct fixture *f = *state;
	int lfd = rig_host_listen(f->d.uds_path, 5900);
	int base = rig_daemon_fd_count(&f->d);

	assert_true(lfd >= 0);
	for (int i = 0; i < 5; i++) {
		struct rig_conn *c;
		int hfd;

		assert_int_equal(rig_connect(f->rig, RIG_HOST_CID, 5900, T_MS, &c), 0);
		hfd = rig_host_accept(f->rig, lfd, T_MS);
		assert_true(hfd >= 0);
		assert_int_equal(c->peer_buf_alloc, 65536);
		close(hfd);
		rig_close(f->rig, c);
		/* The daemon let go of the host socket, and with it the charge. */
		assert_int_equal(wait_fd_count(f, base, T_MS), base);
	}
	close(lfd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_window_grows_to_default_tx_buffer_size,
						setup_default, fixture_teardown),
		cmocka_unit_test_setup_teardown(test_window_grows_to_configured_size,
						setup_100000, fixture_teardown),
		cmocka_unit_test_setup_teardown(test_window_below_initial,
						setup_16384, fixture_teardown),
		cmocka_unit_test_setup_teardown(test_update_owed_when_buffer_drains,
						setup_default, fixture_teardown),
		cmocka_unit_test_setup_teardown(test_data_headers_carry_the_window,
						setup_default, fixture_teardown),
		cmocka_unit_test_setup_teardown(test_closed_connections_give_credit_back,
						setup_small_total, fixture_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
