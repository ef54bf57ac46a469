/* The daemon's cost of idle connections: RSS (VmRSS) growth per connection
 * and CPU time while 1,000 and 10,000 host-initiated connections sit idle.
 * Each run starts a fresh daemon so that nothing earlier shows in its
 * memory; the connections are made one after the other by this process
 * (host end and guest end alike), then left alone for the idle window. */
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
	double rss_bytes_per_conn;
	double cpu_s_per_s;
};

static int open_idle(struct bench_ctx *ctx, int *fds, unsigned count,
		     unsigned *opened)
{
	int err = rig_listen(ctx->rig, IDLE_PORT);

	*opened = 0;
	while (!err && *opened < count) {
		struct rig_conn *c;
		int fd = rig_host_open(ctx->rig, ctx->daemon.uds_path, IDLE_PORT, &c,
				       BENCH_TIMEOUT_MS);

		if (fd < 0)
			err = fd;
		else
			fds[(*opened)++] = fd;
	}
	rig_unlisten(ctx->rig, IDLE_PORT);
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

static int run_idle(struct bench_ctx *ctx, unsigned count, struct idle_result *res)
{
	int *fds = malloc(count * sizeof(*fds));
	unsigned opened = 0;
	long rss0, rss1 = -1;
	double cpu0, cpu1 = 0;
	uint64_t t0, t1 = 0;
	int err = fds ? bench_daemon_up(ctx) : -ENOMEM;

	if (err) {
		free(fds);
		return err;
	}
	rss0 = bench_rss_kib(ctx->daemon.pid);
	err = open_idle(ctx, fds, count, &opened);
	if (!err)
		rss1 = bench_rss_kib(ctx->daemon.pid);
	t0 = bench_now_ns();
	cpu0 = bench_cpu_s(ctx->daemon_cpu);
	if (!err)
		err = idle_for(ctx->rig, ctx->cfg->idle_window_ms);
	if (!err) {
		cpu1 = bench_cpu_s(ctx->daemon_cpu);
		t1 = bench_now_ns();
	}
	if (!err && (rss0 < 0 || rss1 < 0))
		err = rss0 < 0 ? (int)rss0 : (int)rss1;
	if (!err && rig_daemon_fd_count(&ctx->daemon) < (int)count)
		err = -EBADF; /* the daemon cannot be holding them all */
	res->rss_bytes_per_conn = (double)(rss1 - rss0) * 1024 / count;
	res->cpu_s_per_s = (cpu1 - cpu0) / ((double)(t1 - t0) / 1e9);
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
			struct idle_result res;
			int err = run_idle(ctx, cases[k].count, &res);

			if (err) {
				fprintf(stderr, "vsock-bench: %u idle connections: %s\n",
					cases[k].count, strerror(-err));
				report_fail(cases[k].rss_name, "bytes");
				report_fail(cases[k].cpu_name, "s/s");
				return err;
			}
			report_add(cases[k].rss_name, "bytes", FIG_COST, SIDE_OURS,
				   res.rss_bytes_per_conn);
			report_add(cases[k].cpu_name, "s/s", FIG_COST, SIDE_OURS,
				   res.cpu_s_per_s);
		}
	}
	return 0;
}
