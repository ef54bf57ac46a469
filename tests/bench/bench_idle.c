/* The daemon's cost of idle connections: memory growth per connection and
 * CPU time while 1,000 and 10,000 host-initiated connections sit idle.
 *
 * Each run starts a fresh daemon and warms it up with one connection of
 * its own, so that one-time costs (first allocations, the rings and RX
 * buffers of the guest it touches) are in the baseline, not spread over the
 * connections.  The connections are then made one after the other by this
 * process (host end and guest end alike), each proven end to end by a byte
 * each way, and left alone for the idle window.  Memory is the daemon's
 * anonymous resident memory: the guest RAM it maps is the VM's, and kernel
 * socket and epoll memory is not in its address space at all. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"
#include "bench_report.h"
#include "rig_host.h"

#define IDLE_PORT 5003u

struct idle_result {
	double bytes_per_conn;
	double cpu_s_per_s;
};

/* A byte from the host to the guest and one back. */
static int exchange(struct rig *rig, int fd, struct rig_conn *c)
{
	char b = 'h';
	ssize_t n;
	int err = rig_host_write_all(rig, fd, &b, 1, BENCH_TIMEOUT_MS);

	if (err)
		return err;
	n = rig_recv_wait(rig, c, &b, 1, BENCH_TIMEOUT_MS);
	if (n != 1 || b != 'h')
		return n < 0 ? (int)n : -EPROTO;
	b = 'g';
	err = rig_send_all(rig, c, &b, 1, BENCH_TIMEOUT_MS);
	if (err)
		return err;
	n = rig_host_read_full(rig, fd, &b, 1, BENCH_TIMEOUT_MS);
	if (n != 1 || b != 'g')
		return n < 0 ? (int)n : -EPROTO;
	return 0;
}

/* Opens count proven connections into fds[]; *opened says how many fds
 * there are to close, whatever happened. */
static int open_idle(struct bench_ctx *ctx, int *fds, unsigned count,
		     unsigned *opened)
{
	int err = 0;

	*opened = 0;
	while (!err && *opened < count) {
		struct rig_conn *c;
		int fd = rig_host_open(ctx->rig, ctx->daemon.uds_path, IDLE_PORT, &c,
				       BENCH_TIMEOUT_MS);

		if (fd < 0)
			return fd;
		fds[(*opened)++] = fd;
		err = exchange(ctx->rig, fd, c);
	}
	return err;
}

static int idle_for(struct rig *rig, unsigned window_ms)
{
	int64_t deadline = rig_now_ms() + window_ms;

	while (rig_left_ms(deadline) > 0) {
		int err = rig_poll(rig, NULL, 0, rig_left_ms(deadline));

		if (err < 0)
			return err;
	}
	return 0;
}

/* fds[0] is the warm-up connection, fds[1..count] the measured ones. */
static int measure(struct bench_ctx *ctx, int *fds, unsigned count,
		   unsigned *opened, struct idle_result *res)
{
	unsigned more = 0;
	long kib0, kib1;
	int fds0;
	double cpu0, cpu1;
	uint64_t t0, t1;
	int err = open_idle(ctx, fds, 1, opened);

	if (err)
		return err;
	kib0 = bench_anon_kib(ctx->daemon.pid);
	fds0 = rig_daemon_fd_count(&ctx->daemon);
	err = open_idle(ctx, fds + 1, count, &more);
	*opened += more;
	if (err)
		return err;
	kib1 = bench_anon_kib(ctx->daemon.pid);
	if (kib0 < 0 || kib1 < 0)
		return kib0 < 0 ? (int)kib0 : (int)kib1;
	/* Proof that the daemon holds every connection's host socket. */
	if (fds0 < 0 || rig_daemon_fd_count(&ctx->daemon) < fds0 + (int)count)
		return -EBADF;
	cpu0 = bench_cpu_s(ctx->daemon_cpu);
	t0 = bench_now_ns();
	err = idle_for(ctx->rig, ctx->cfg->idle_window_ms);
	cpu1 = bench_cpu_s(ctx->daemon_cpu);
	t1 = bench_now_ns();
	if (err)
		return err;
	/* The daemon has served handshakes: a clock reading 0 is unreadable. */
	if (cpu0 <= 0)
		return -EIO;
	res->bytes_per_conn = (double)(kib1 - kib0) * 1024 / count;
	res->cpu_s_per_s = (cpu1 - cpu0) / ((double)(t1 - t0) / 1e9);
	return 0;
}

static int run_idle(struct bench_ctx *ctx, unsigned count, struct idle_result *res)
{
	int *fds = malloc((count + 1) * sizeof(*fds));
	unsigned opened = 0;
	int err = fds ? bench_daemon_up(ctx) : -ENOMEM;

	if (err) {
		free(fds);
		return err;
	}
	err = rig_listen(ctx->rig, IDLE_PORT);
	if (!err)
		err = measure(ctx, fds, count, &opened, res);
	if (bench_daemon_down(ctx) && !err)
		err = -EPROTO;
	for (unsigned i = 0; i < opened; i++)
		close(fds[i]);
	free(fds);
	return err;
}

int bench_idle(struct bench_ctx *ctx)
{
	static const struct {
		unsigned count;
		const char *rss_name, *cpu_name;
	} cases[] = {
		{1000, "rss_per_idle_conn_1k", "cpu_s_idle_1k"},
		{10000, "rss_per_idle_conn", "cpu_s_idle_10k"},
	};

	if (!bench_wanted(ctx, "idle"))
		return 0;
	for (unsigned k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		for (unsigned r = 0; r < ctx->cfg->runs; r++) {
			struct idle_result res = {0};
			int err = run_idle(ctx, cases[k].count, &res);

			if (err) {
				fprintf(stderr, "vsock-bench: %u idle connections: %s\n",
					cases[k].count, strerror(-err));
				report_fail(cases[k].rss_name, "bytes");
				report_fail(cases[k].cpu_name, "s/s");
				return err;
			}
			report_add(cases[k].rss_name, "bytes", FIG_COST, SIDE_OURS,
				   res.bytes_per_conn);
			report_add(cases[k].cpu_name, "s/s", FIG_COST, SIDE_OURS,
				   res.cpu_s_per_s);
		}
	}
	return 0;
}
