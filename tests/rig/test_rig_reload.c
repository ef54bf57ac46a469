/* SIGHUP with --config: the daemon reads the file again and applies only
 * the difference.  VM A's entry stays the same and keeps its connection
 * (a byte-checked transfer goes on across the reload); B leaves the file
 * and stops; C's entry changes and C restarts (its connection reset); D
 * comes and reaches its siblings at once. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pattern.h"
#include "rig_test.h"

struct reload_fixture {
	struct rig_daemon d;
	char file[128];
	char sock[4][96], uds[4][96]; /* cids 3..6 */
	struct rig *rig[4];
};

static void write_file(struct reload_fixture *f, const char *const *lines)
{
	FILE *out = fopen(f->file, "w");

	assert_non_null(out);
	fputs("vms:\n", out);
	for (; *lines; lines++)
		fputs(*lines, out);
	assert_int_equal(fclose(out), 0);
}

/* The YAML entry of VM cid (3..6) with extra keys. */
static char *entry(struct reload_fixture *f, unsigned cid, const char *extra)
{
	char *text;

	assert_true(asprintf(&text, "  - {guest_cid: %u, socket: %s, uds_path: %s%s}\n", cid,
			     f->sock[cid - 3], f->uds[cid - 3], extra) > 0);
	return text;
}

static int setup(void **state)
{
	struct reload_fixture *f = calloc(1, sizeof(*f));
	char *e[3];
	const char *argv[6];
	int err;

	signal(SIGPIPE, SIG_IGN);
	assert_non_null(f);
	assert_int_equal(rig_daemon_prepare(&f->d), 0);
	for (unsigned i = 0; i < 4; i++) {
		snprintf(f->sock[i], sizeof(f->sock[i]), "%s/vm%u.sock", f->d.dir, 3 + i);
		snprintf(f->uds[i], sizeof(f->uds[i]), "%s/vm%u.vsock", f->d.dir, 3 + i);
	}
	snprintf(f->file, sizeof(f->file), "%s/vms.yaml", f->d.dir);
	e[0] = entry(f, 3, "");
	e[1] = entry(f, 4, "");
	e[2] = entry(f, 5, "");
	write_file(f, (const char *const[]){e[0], e[1], e[2], NULL});
	for (unsigned i = 0; i < 3; i++)
		free(e[i]);
	argv[0] = getenv(RIG_DAEMON_ENV);
	argv[1] = "--config";
	argv[2] = f->file;
	argv[3] = "--log-level";
	argv[4] = "info";
	argv[5] = NULL;
	err = rig_daemon_spawn(&f->d, argv,
			       (const char *const[]){f->sock[0], f->sock[1], f->sock[2], NULL});
	if (err)
		rig_daemon_dump_log(&f->d);
	assert_int_equal(err, 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct reload_fixture *f = *state;
	int status;

	for (unsigned i = 0; i < 4; i++)
		rig_destroy(f->rig[i]);
	status = rig_daemon_stop(&f->d, T_MS);
	if (status != 0) {
		fprintf(stderr, "daemon exit status %d\n", status);
		rig_daemon_dump_log(&f->d);
	}
	free(f);
	return status == 0 ? 0 : -1;
}

static struct rig *open_vm(struct reload_fixture *f, unsigned cid)
{
	struct rig_opts o;

	rig_opts_default(&o);
	o.socket_path = f->sock[cid - 3];
	assert_int_equal(rig_open(&f->rig[cid - 3], &o), 0);
	return f->rig[cid - 3];
}

/* The guest of r sends len bytes of the pattern from offset to host
 * socket hfd, which checks them. */
static void transfer(struct rig *r, struct rig_conn *c, int hfd, uint64_t offset, size_t len)
{
	static uint8_t buf[64 * 1024];

	for (size_t done = 0; done < len; done += sizeof(buf)) {
		pattern_fill(11, offset + done, buf, sizeof(buf));
		assert_int_equal(rig_send_all(r, c, buf, sizeof(buf), T_MS), 0);
		assert_int_equal(rig_host_read_full(r, hfd, buf, sizeof(buf), T_MS), sizeof(buf));
		assert_int_equal(pattern_check(11, offset + done, buf, sizeof(buf)), sizeof(buf));
	}
}

static void test_reload_applies_only_the_difference(void **state)
{
	struct reload_fixture *f = *state;
	struct rig *a = open_vm(f, 3), *c = open_vm(f, 5), *d;
	struct rig_conn *ac, *cc, *to_b, *da, *acc;
	int lfd_a, ha, lfd_c, hc;
	int64_t deadline;
	char *e[3];

	lfd_a = rig_host_listen(f->uds[0], 8000);
	assert_true(lfd_a >= 0);
	assert_int_equal(rig_connect(a, RIG_HOST_CID, 8000, T_MS, &ac), 0);
	ha = rig_host_accept(a, lfd_a, T_MS);
	assert_true(ha >= 0);
	transfer(a, ac, ha, 0, 1 << 20);
	lfd_c = rig_host_listen(f->uds[2], 8000);
	assert_true(lfd_c >= 0);
	assert_int_equal(rig_connect(c, RIG_HOST_CID, 8000, T_MS, &cc), 0);
	hc = rig_host_accept(c, lfd_c, T_MS);
	assert_true(hc >= 0);

	e[0] = entry(f, 3, "");
	/* A group name, looked up under the system-call filter. */
	e[1] = entry(f, 5, ", tx_buffer_size: 65536, socket_group: root");
	e[2] = entry(f, 6, "");
	write_file(f, (const char *const[]){e[0], e[1], e[2], NULL});
	for (unsigned i = 0; i < 3; i++)
		free(e[i]);
	assert_int_equal(kill(f->d.pid, SIGHUP), 0);
	deadline = rig_now_ms() + T_MS;
	while (rig_daemon_log_count(&f->d, "configuration read again") == 0) {
		assert_true(rig_left_ms(deadline) > 0);
		assert_true(rig_poll(a, NULL, 0, 10) >= 0);
	}
	assert_int_equal(rig_daemon_log_count(&f->d, "configuration read again: 1 VM(s) kept, "
					      "1 restarted (changed), 1 stopped, 1 started, 0 failed"),
			 1);

	/* A: same entry, same connection, not a byte lost. */
	transfer(a, ac, ha, 1 << 20, 1 << 20);
	assert_int_equal(ac->state, RIG_CONN_CONNECTED);
	/* B: gone, and what A sends it bounces. */
	assert_int_equal(access(f->sock[1], F_OK), -1);
	assert_int_equal(access(f->uds[1], F_OK), -1);
	assert_int_equal(rig_connect(a, 4, 9000, T_MS, &to_b), -ECONNRESET);
	/* C: restarted, its connection reset and its host socket closed; its
	 * VMM comes back to the new device. */
	assert_int_equal(rig_host_wait_eof(a, hc, T_MS), 0);
	{
		struct stat st;

		assert_int_equal(stat(f->sock[2], &st), 0);
		assert_int_equal(st.st_gid, 0);
		assert_int_equal(st.st_mode & 0777, 0660);
	}
	rig_destroy(c);
	f->rig[2] = NULL;
	c = open_vm(f, 5);
	assert_round_trip_on(c, f->uds[2], 8100);
	/* D: new, and a sibling of A at once. */
	d = open_vm(f, 6);
	assert_int_equal(rig_listen(a, 9100), 0);
	assert_int_equal(rig_connect_start(d, 3, 9100, &da), 0);
	deadline = rig_now_ms() + T_MS;
	while (da->state != RIG_CONN_CONNECTED) {
		assert_true(rig_left_ms(deadline) > 0);
		assert_true(rig_poll(d, NULL, 0, 1) >= 0);
		assert_true(rig_poll(a, NULL, 0, 1) >= 0);
	}
	assert_int_equal(rig_accept(a, 9100, T_MS, &acc), 0);

	close(ha);
	close(hc);
	close(lfd_a);
	close(lfd_c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_reload_applies_only_the_difference, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
