/* A host client's socket passes from the uds backend to the device while
 * the guest has not accepted it yet: the bytes the backend read behind the
 * CONNECT line, data and EOF that arrive before the guest accepts, and all
 * of them under a credit smaller than what is waiting. */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "rig_test.h"

#define PORT 1234

/* Reads everything the guest side gets until EOF. */
static size_t guest_read_to_eof(struct fixture *f, struct rig_conn *c, char *buf, size_t cap)
{
	size_t got = 0;

	for (;;) {
		ssize_t n = rig_recv_wait(f->rig, c, buf + got, cap - got, T_MS);

		assert_true(n >= 0);
		if (n == 0)
			return got;
		got += (size_t)n;
		assert_true(got < cap);
	}
}

/* Sends the line with early data, then more data and EOF before the guest
 * accepts; the guest gets all of it in order, then EOF, and the host the OK. */
static void early_late_eof(struct fixture *f)
{
	static const char first[] = "CONNECT 1234\nearly bytes, ";
	static const char late[] = "then late ones";
	static const char want[] = "early bytes, then late ones";
	struct rig_conn *c;
	char buf[128], line[32];
	int hfd;

	assert_int_equal(rig_listen(f->rig, PORT), 0);
	hfd = rig_host_connect(f->d.uds_path);
	assert_true(hfd >= 0);
	assert_int_equal(write(hfd, first, sizeof(first) - 1), (ssize_t)sizeof(first) - 1);
	wait_device_idle(f); /* the rig, not polled, leaves the REQUEST unanswered */
	assert_int_equal(write(hfd, late, sizeof(late) - 1), (ssize_t)sizeof(late) - 1);
	assert_int_equal(shutdown(hfd, SHUT_WR), 0);
	wait_device_idle(f);

	assert_int_equal(rig_accept(f->rig, PORT, T_MS, &c), 0);
	assert_true(rig_host_read_line(f->rig, hfd, line, sizeof(line), T_MS) > 0);
	assert_string_equal(line, "OK 1234\n");
	assert_int_equal(guest_read_to_eof(f, c, buf, sizeof(buf)), sizeof(want) - 1);
	assert_memory_equal(buf, want, sizeof(want) - 1);
	rig_close(f->rig, c);
	assert_int_equal(rig_host_wait_eof(f->rig, hfd, T_MS), 0);
	close(hfd);
}

static void test_early_and_late_data_then_eof(void **state)
{
	early_late_eof(*state);
}

/* The guest's buffer is smaller than the bytes behind the line: they reach
 * it in pieces, as its credit allows, still before the later data. */
static void test_early_data_under_small_credit(void **state)
{
	struct fixture *f = *state;

	f->opts.buf_alloc = 5;
	fixture_open_rig(f);
	early_late_eof(f);
}

/* The client leaves before the guest accepts: its hang-up, seen while the
 * connection waits for the guest, does not disturb the daemon; the OK line
 * then finds nobody and the guest's connection is reset. */
static void test_client_gone_before_accept(void **state)
{
	struct fixture *f = *state;
	static const char msg[] = "CONNECT 1234\nbye";
	struct rig_conn *c;
	char buf[16];
	int hfd;

	assert_int_equal(rig_listen(f->rig, PORT), 0);
	hfd = rig_host_connect(f->d.uds_path);
	assert_true(hfd >= 0);
	assert_int_equal(write(hfd, msg, sizeof(msg) - 1), (ssize_t)sizeof(msg) - 1);
	wait_device_idle(f);
	close(hfd);
	wait_device_idle(f);

	assert_int_equal(rig_accept(f->rig, PORT, T_MS, &c), 0);
	assert_int_equal(rig_recv_wait(f->rig, c, buf, sizeof(buf), T_MS), -ECONNRESET);
	rig_close(f->rig, c);
	assert_round_trip(f, 4321);
}

/* The client stops reading before the guest accepts: the OK line cannot
 * be written, so the connection is reset, and what the client writes
 * afterwards never reaches the guest. */
static void test_client_refuses_the_ok(void **state)
{
	struct fixture *f = *state;
	static const char line[] = "CONNECT 1234\n";
	struct rig_conn *c;
	char buf[16];
	int hfd;

	assert_int_equal(rig_listen(f->rig, PORT), 0);
	hfd = rig_host_connect(f->d.uds_path);
	assert_true(hfd >= 0);
	assert_int_equal(write(hfd, line, sizeof(line) - 1), (ssize_t)sizeof(line) - 1);
	assert_int_equal(shutdown(hfd, SHUT_RD), 0);
	wait_device_idle(f);

	assert_int_equal(rig_accept(f->rig, PORT, T_MS, &c), 0);
	assert_int_equal(rig_recv_wait(f->rig, c, buf, sizeof(buf), T_MS), -ECONNRESET);
	/* The daemon has closed its end: the write fails, or lands nowhere. */
	(void)!write(hfd, "late", 4);
	wait_device_idle(f);
	assert_int_equal(c->bytes_in, 0);
	rig_close(f->rig, c);
	close(hfd);
	assert_round_trip(f, 4321);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_early_and_late_data_then_eof,
						fixture_setup, fixture_teardown),
		cmocka_unit_test_setup_teardown(test_early_data_under_small_credit,
						fixture_setup_daemon_only, fixture_teardown),
		cmocka_unit_test_setup_teardown(test_client_gone_before_accept,
						fixture_setup, fixture_teardown),
		cmocka_unit_test_setup_teardown(test_client_refuses_the_ok,
						fixture_setup, fixture_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
