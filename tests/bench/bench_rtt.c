/* Round-trip latency: one byte from the guest application to a host echo
 * server (the peer) and back, through the daemon; baseline: the same echo
 * server over a socketpair.  p50 and p99 of each run's round trips, after
 * a warm-up that is not recorded. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench.h"
#include "bench_report.h"
#include "rig_host.h"

#define RTT_PORT 5001u
#define WARMUP_PINGS 100u

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

static void record(const uint64_t *samples_ns, unsigned n, enum fig_side side)
{
	uint64_t *s = malloc(n * sizeof(*s));

	if (!s)
		return;
	memcpy(s, samples_ns, n * sizeof(*s));
	qsort(s, n, sizeof(*s), cmp_u64);
	/* Nearest-rank percentiles. */
	report_add("rtt_p50", "us", FIG_RATE, side, (double)s[(n - 1) / 2] / 1000);
	report_add("rtt_p99", "us", FIG_RATE, side, (double)s[(n * 99 - 1) / 100] / 1000);
	free(s);
}

static int ping_ours(struct rig *rig, struct rig_conn *c, uint64_t *rtt_ns)
{
	uint64_t t0 = bench_now_ns();
	char b = 'p';
	ssize_t n = rig_send(rig, c, &b, 1);

	/* One byte in flight at a time: credit and TX slots never run out. */
	if (n != 1)
		return n < 0 ? (int)n : -ENOBUFS;
	n = rig_recv_wait(rig, c, &b, 1, BENCH_TIMEOUT_MS);
	*rtt_ns = bench_now_ns() - t0;
	return n == 1 && b == 'p' ? 0 : n < 0 ? (int)n : -EPROTO;
}

static int run_ours(struct bench_ctx *ctx, uint64_t *samples)
{
	struct peer_cmd cmd = {.op = PEER_ECHO, .n_fds = 1};
	struct peer_reply reply;
	struct rig_conn *c;
	uint64_t ignored;
	int fd, err = rig_listen(ctx->rig, RTT_PORT);

	fd = err ? err : rig_host_open(ctx->rig, ctx->daemon.uds_path, RTT_PORT, &c,
				       BENCH_TIMEOUT_MS);
	rig_unlisten(ctx->rig, RTT_PORT);
	if (fd < 0)
		return fd;
	err = peer_send(&ctx->peer, &cmd, &fd);
	for (unsigned i = 0; i < WARMUP_PINGS && !err; i++)
		err = ping_ours(ctx->rig, c, &ignored);
	for (unsigned i = 0; i < ctx->cfg->rtt_pings && !err; i++)
		err = ping_ours(ctx->rig, c, &samples[i]);
	/* Closing ends the echo server's stream, which ends its command. */
	rig_close(ctx->rig, c);
	if (!err)
		err = bench_wait_reply(ctx, &reply);
	return err ? err : reply.err;
}

static int ping_base(int fd, uint64_t *rtt_ns)
{
	uint64_t t0 = bench_now_ns();
	char b = 'p';
	ssize_t n;

	if (send(fd, &b, 1, MSG_NOSIGNAL) != 1)
		return -errno;
	n = recv(fd, &b, 1, 0);
	if (n != 1)
		return n < 0 ? -errno : -EPIPE;
	*rtt_ns = bench_now_ns() - t0;
	return b == 'p' ? 0 : -EPROTO;
}

static int run_base(struct bench_ctx *ctx, uint64_t *samples)
{
	struct peer_cmd cmd = {.op = PEER_ECHO, .n_fds = 1};
	struct peer_reply reply;
	uint64_t ignored;
	int sv[2], err;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	err = peer_send(&ctx->peer, &cmd, &sv[1]);
	for (unsigned i = 0; i < WARMUP_PINGS && !err; i++)
		err = ping_base(sv[0], &ignored);
	for (unsigned i = 0; i < ctx->cfg->rtt_pings && !err; i++)
		err = ping_base(sv[0], &samples[i]);
	close(sv[0]);
	if (!err)
		err = peer_reply(&ctx->peer, &reply);
	return err ? err : reply.err;
}

int bench_rtt(struct bench_ctx *ctx)
{
	unsigned n = ctx->cfg->rtt_pings;
	uint64_t *samples;
	int err = 0;

	if (!bench_wanted(ctx, "rtt") || n == 0)
		return 0;
	samples = malloc(n * sizeof(*samples));
	if (!samples)
		return -ENOMEM;
	for (unsigned r = 0; r < ctx->cfg->runs && !err; r++) {
		err = run_ours(ctx, samples);
		if (!err)
			record(samples, n, SIDE_OURS);
		if (!err)
			err = run_base(ctx, samples);
		if (!err)
			record(samples, n, SIDE_BASE);
	}
	if (err) {
		fprintf(stderr, "vsock-bench: rtt: %s\n", strerror(-err));
		report_fail("rtt_p50", "us");
		report_fail("rtt_p99", "us");
	}
	free(samples);
	return err;
}
