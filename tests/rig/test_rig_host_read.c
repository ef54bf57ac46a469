/* The daemon watches host sockets edge-triggered and remembers that one
 * may hold unread data.  What a host writes while the guest's window is
 * full (more data, then its EOF) must still reach the guest, in order,
 * once the guest reads; meanwhile the daemon must sleep, not spin. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "rig_test.h"

#define PORT 1300
#define LATE_WRITES 16
#define LATE_WRITE_SIZE 1000

/* CPU milliseconds the daemon has used so far. */
static long daemon_cpu_ms(const struct fixture *f)
{
	struct timespec ts;
	clockid_t clk;

	assert_int_equal(clock_getcpuclockid(f->d.pid, &clk), 0);
	assert_int_equal(clock_gettime(clk, &ts), 0);
	return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static bool window_full(struct rig *rig, void *arg)
{
	const struct rig_conn *c = arg;

	(void)rig;
	return rig_conn_readable(c) == c->buf_alloc;
}

/* Writes all of buf from the host, running the rig while the socket is
 * full. */
static void host_write(struct fixture *f, int hfd, const uint8_t *buf, size_t len)
{
	size_t done = 0;
	int64_t deadline = rig_now_ms() + T_MS;

	while (done < len) {
		struct pollfd pfd = {.fd = hfd, .events = POLLOUT};
		ssize_t n = send(hfd, buf + done, len - done, MSG_DONTWAIT | MSG_NOSIGNAL);

		if (n > 0) {
			done += (size_t)n;
			continue;
		}
		assert_true(n < 0 && errno == EAGAIN);
		assert_true(rig_left_ms(deadline) > 0);
		assert_true(rig_poll(f->rig, &pfd, 1, rig_left_ms(deadline)) >= 0);
	}
}

/* The guest's window fills; the host then writes a little more in many
 * small writes (an edge each) and half-closes, all while the daemon may
 * not read.  The daemon stays idle; when the guest reads, every byte
 * arrives and then the end of stream. */
static void test_data_and_eof_while_window_full(void **state)
{
	struct fixture *f = *state;
	struct rig_conn *c;
	size_t first, total, off = 0;
	uint8_t *data, *got;
	long cpu_before;
	int hfd;

	assert_int_equal(rig_listen(f->rig, PORT), 0);
	hfd = rig_host_open(f->rig, f->d.uds_path, PORT, &c, T_MS);
	assert_true(hfd >= 0);
	first = c->buf_alloc;
	total = first + LATE_WRITES * LATE_WRITE_SIZE;
	data = malloc(total);
	got = malloc(total);
	assert_non_null(data);
	assert_non_null(got);
	pattern_fill(7, 0, data, total);

	host_write(f, hfd, data, first);
	assert_int_equal(rig_wait(f->rig, window_full, c, T_MS), 0);
	for (unsigned i = 0; i < LATE_WRITES; i++)
		host_write(f, hfd, data + first + i * LATE_WRITE_SIZE, LATE_WRITE_SIZE);
	assert_int_equal(shutdown(hfd, SHUT_WR), 0);

	cpu_before = daemon_cpu_ms(f);
	assert_true(rig_poll(f->rig, NULL, 0, 500) >= 0);
	assert_true(daemon_cpu_ms(f) - cpu_before < 200);
	assert_int_equal(rig_conn_readable(c), c->buf_alloc);

	while (off < total) {
		ssize_t n = rig_recv_wait(f->rig, c, got + off, total - off, T_MS);

		assert_true(n > 0);
		off += (size_t)n;
	}
	assert_memory_equal(got, data, total);
	assert_int_equal(rig_recv_wait(f->rig, c, got, 1, T_MS), 0);
	assert_int_equal(rig_close_wait(f->rig, c, T_MS), 0);
	close(hfd);
	free(data);
	free(got);
}

/* Data and EOF in one go, before the daemon looks: a single edge carries
 * both, and the short read that drains the data must not hide the EOF. */
static void test_data_and_eof_in_one_edge(void **state)
{
	struct fixture *f = *state;
	static const char msg[] = "last words";
	char buf[sizeof(msg)];
	struct rig_conn *c;
	int hfd;

	assert_int_equal(rig_listen(f->rig, PORT), 0);
	hfd = rig_host_open(f->rig, f->d.uds_path, PORT, &c, T_MS);
	assert_true(hfd >= 0);
	for (int round = 0; round < 20; round++) {
		assert_int_equal(send(hfd, msg, sizeof(msg), MSG_NOSIGNAL), (ssize_t)sizeof(msg));
		if (round == 19)
			assert_int_equal(shutdown(hfd, SHUT_WR), 0);
		assert_int_equal(rig_recv_wait(f->rig, c, buf, sizeof(buf), T_MS),
				 (ssize_t)sizeof(msg));
		assert_memory_equal(buf, msg, sizeof(msg));
	}
	assert_int_equal(rig_recv_wait(f->rig, c, buf, sizeof(buf), T_MS), 0);
	assert_int_equal(rig_close_wait(f->rig, c, T_MS), 0);
	close(hfd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_data_and_eof_while_window_full,
						fixture_setup, fixture_teardown),
		cmocka_unit_test_setup_teardown(test_data_and_eof_in_one_edge,
						fixture_setup, fixture_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
