#include "rig_test.h"

#include <dirent.h>
#include <endian.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

int fixture_setup_daemon_args(void **state, const char *const *extra)
{
	struct fixture *f = calloc(1, sizeof(*f));
	int err;

	if (!f)
		return -1;
	signal(SIGPIPE, SIG_IGN);
	err = rig_daemon_start(&f->d, T_CID, extra);
	if (err) {
		fprintf(stderr, "cannot start the daemon ($%s): %s\n", RIG_DAEMON_ENV,
			strerror(-err));
		rig_daemon_dump_log(&f->d);
		rig_daemon_stop(&f->d, T_MS);
		free(f);
		return -1;
	}
	rig_opts_default(&f->opts);
	f->opts.socket_path = f->d.socket_path;
	*state = f;
	return 0;
}

int fixture_setup_daemon_only(void **state)
{
	return fixture_setup_daemon_args(state, NULL);
}

void fixture_open_rig(struct fixture *f)
{
	int err = rig_open(&f->rig, &f->opts);

	if (err)
		fprintf(stderr, "rig_open: %s\n", strerror(-err));
	assert_int_equal(err, 0);
	assert_int_equal(f->rig->cid, T_CID);
}

int fixture_setup(void **state)
{
	if (fixture_setup_daemon_only(state))
		return -1;
	fixture_open_rig(*state);
	return 0;
}

int fixture_teardown(void **state)
{
	struct fixture *f = *state;
	bool alive = rig_daemon_alive(&f->d);
	uint64_t violations = f->rig ? f->rig->stats.violations : 0;
	int status;

	if (violations)
		fprintf(stderr, "rig saw %llu violations, last: %s\n",
			(unsigned long long)violations, f->rig->last_violation);
	rig_destroy(f->rig);
	rig_daemon_dump_log(&f->d);
	status = rig_daemon_stop(&f->d, T_MS);
	free(f);
	if (!alive)
		fprintf(stderr, "the daemon died during the test\n");
	if (status != 0)
		fprintf(stderr, "daemon exit status %d after SIGTERM\n", status);
	return alive && status == 0 && !violations ? 0 : -1;
}

static uint64_t xorshift(uint64_t *s)
{
	uint64_t x = *s ? *s : 0x9E3779B97F4A7C15ULL;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	*s = x;
	return x;
}

uint32_t rnd_below(uint64_t *state, uint32_t bound)
{
	return (uint32_t)(xorshift(state) % bound);
}

int wait_fd_count(struct fixture *f, int want, int timeout_ms)
{
	int64_t deadline = rig_now_ms() + timeout_ms;
	int count;

	/* The daemon closes fds in its own time: re-check on every loop turn
	 * (10 ms steps) until the deadline. */
	while ((count = rig_daemon_fd_count(&f->d)) != want &&
	       rig_now_ms() < deadline) {
		if (f->rig && !f->rig->disconnected && f->rig->vu.fd >= 0)
			rig_poll(f->rig, NULL, 0, 10);
		else
			poll(NULL, 0, 10);
	}
	return count;
}

void assert_round_trip_on(struct rig *rig, const char *uds_path, uint32_t port)
{
	int lfd = rig_host_listen(uds_path, port);
	struct rig_conn *c;
	char buf[4];
	int hfd;

	assert_true(lfd >= 0);
	assert_int_equal(rig_connect(rig, RIG_HOST_CID, port, T_MS, &c), 0);
	hfd = rig_host_accept(rig, lfd, T_MS);
	assert_true(hfd >= 0);
	assert_int_equal(rig_send_all(rig, c, "ping", 4, T_MS), 0);
	assert_int_equal(rig_host_read_full(rig, hfd, buf, 4, T_MS), 4);
	assert_memory_equal(buf, "ping", 4);
	assert_int_equal(rig_host_write_all(rig, hfd, "pong", 4, T_MS), 0);
	assert_int_equal(rig_recv_wait(rig, c, buf, 4, T_MS), 4);
	assert_memory_equal(buf, "pong", 4);
	close(hfd);
	close(lfd);
	rig_close(rig, c);
}

void assert_round_trip(struct fixture *f, uint32_t port)
{
	assert_round_trip_on(f->rig, f->d.uds_path, port);
}

long process_cpu_ms(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long utime, stime;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	assert_non_null(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	p = strrchr(buf, ')'); /* the command name may hold spaces */
	assert_non_null(p);
	/* Fields 14 and 15; p is at the end of field 2. */
	assert_int_equal(sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
				&utime, &stime), 2);
	return (long)((utime + stime) * 1000 / (unsigned long)sysconf(_SC_CLK_TCK));
}

/* Opens /proc/PID/task/TID/file for the thread of pid named name, or
 * returns NULL. */
static FILE *open_thread_file(pid_t pid, const char *name, const char *file)
{
	char path[300], comm[64];
	FILE *found = NULL;
	struct dirent *e;
	DIR *dir;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	dir = opendir(path);
	assert_non_null(dir);
	while (!found && (e = readdir(dir))) {
		FILE *f;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%s/comm", (int)pid, e->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		if (!fgets(comm, sizeof(comm), f))
			comm[0] = '\0';
		fclose(f);
		comm[strcspn(comm, "\n")] = '\0';
		if (strcmp(comm, name) != 0)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%s/%s", (int)pid, e->d_name, file);
		found = fopen(path, "r");
	}
	closedir(dir);
	return found;
}

long thread_voluntary_switches(pid_t pid, const char *name)
{
	FILE *f = open_thread_file(pid, name, "status");
	long switches = -1;
	char line[256];

	assert_non_null(f);
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "voluntary_ctxt_switches: %ld", &switches) == 1)
			break;
	fclose(f);
	assert_true(switches >= 0);
	return switches;
}

/* Whether the thread is blocked in epoll_wait(..., -1).  Its syscall file
 * reads "running" unless it is asleep, woken threads included. */
static bool thread_sleeps_in_epoll(pid_t pid, const char *name)
{
	FILE *f = open_thread_file(pid, name, "syscall");
	unsigned long long timeout;
	long nr;
	int n;

	assert_non_null(f);
	n = fscanf(f, "%ld %*x %*x %*x %llx", &nr, &timeout);
	fclose(f);
	return n == 2 && (nr == SYS_epoll_wait || nr == SYS_epoll_pwait) &&
	       (int)timeout == -1;
}

void wait_device_idle(struct fixture *f)
{
	int64_t deadline = rig_now_ms() + T_MS;

	while (!thread_sleeps_in_epoll(f->d.pid, DEVICE_THREAD)) {
		assert_true(rig_now_ms() < deadline);
		poll(NULL, 0, 1);
	}
}

void fdinfo_lines(pid_t pid, void (*line)(const char *text, void *ctx), void *ctx)
{
	char path[64], text[256];
	struct dirent *e;
	DIR *dir;

	snprintf(path, sizeof(path), "/proc/%d/fdinfo", (int)pid);
	dir = opendir(path);
	assert_non_null(dir);
	while ((e = readdir(dir))) {
		FILE *f;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/fdinfo/%.16s", (int)pid, e->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		while (fgets(text, sizeof(text), f))
			line(text, ctx);
		fclose(f);
	}
	closedir(dir);
}

static void nearest_timer(const char *text, void *ctx)
{
	unsigned long long sec, nsec;
	long *next = ctx, ms;

	if (sscanf(text, "it_value: (%llu, %llu)", &sec, &nsec) != 2 || (!sec && !nsec))
		return;
	ms = (long)(sec * 1000 + nsec / 1000000);
	if (*next < 0 || ms < *next)
		*next = ms;
}

long next_timer_ms(pid_t pid)
{
	long next = -1;

	fdinfo_lines(pid, nearest_timer, &next);
	return next;
}

void wait_rx_used(struct rig *rig, uint16_t count)
{
	int64_t deadline = rig_now_ms() + T_MS;

	while ((uint16_t)(le16toh(__atomic_load_n(&rig->rxq.used->idx, __ATOMIC_ACQUIRE)) -
			  rig->rxq.last_used_idx) < count) {
		assert_true(rig_now_ms() < deadline);
		assert_true(rig_poll(rig, NULL, 0, 10) >= 0);
	}
}

static bool tx_all_used(struct rig *rig, void *arg)
{
	(void)arg;
	return rig->n_tx_free == rig->n_tx_slots;
}

void wait_tx_used(struct rig *rig)
{
	assert_int_equal(rig_wait(rig, tx_all_used, NULL, T_MS), 0);
}

void send_pkt_waiting(struct rig *rig, const struct rig_hdr *h, const void *payload,
		      size_t len)
{
	int64_t deadline = rig_now_ms() + T_MS;

	while (rig_send_pkt(rig, h, payload, len) == -EAGAIN) {
		assert_true(rig_left_ms(deadline) > 0);
		assert_true(rig_poll(rig, NULL, 0, 1) >= 0);
	}
}

long process_rss_anon_kib(pid_t pid)
{
	char path[64], line[256];
	long kib = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "RssAnon: %ld kB", &kib) == 1)
			break;
	fclose(f);
	assert_true(kib >= 0);
	return kib;
}
