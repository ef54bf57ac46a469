/* What the cases share: clocks, /proc readers, the daemon and its rig. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"

bool bench_wanted(const struct bench_ctx *ctx, const char *name)
{
	const char *only = ctx->cfg->only;

	if (!only)
		return true;
	/* A comma-separated list of prefixes, either way round: "g2h"
	 * selects g2h_4k_1conn, "rtt_p50" selects the rtt group. */
	while (*only) {
		size_t len = strcspn(only, ",");
		size_t n = len < strlen(name) ? len : strlen(name);

		if (n && strncmp(name, only, n) == 0)
			return true;
		only += len + (only[len] == ',');
	}
	return false;
}

uint64_t bench_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

double bench_cpu_s(clockid_t clock)
{
	struct timespec ts;

	if (clock_gettime(clock, &ts) < 0)
		return 0;
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void bench_cpu_split(const struct bench_ctx *ctx, struct cpu_split *s)
{
	clockid_t peer;

	s->daemon = bench_cpu_s(ctx->daemon_cpu);
	s->guest = bench_cpu_s(CLOCK_PROCESS_CPUTIME_ID);
	s->host = clock_getcpuclockid(ctx->peer.pid, &peer) ? 0 : bench_cpu_s(peer);
}

long bench_anon_kib(pid_t pid)
{
	char path[64], line[256];
	long kib = -ENOENT;
	FILE *f;

	/* smaps_rollup walks the page tables: exact, where the Rss lines of
	 * /proc/PID/status come from per-CPU counters that lag by up to a
	 * batch of pages per CPU. */
	snprintf(path, sizeof(path), "/proc/%d/smaps_rollup", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Anonymous: %ld kB", &kib) == 1)
			break;
	fclose(f);
	return kib;
}

static int pin_parties(const struct bench_ctx *ctx)
{
	const struct bench_pin *pin = &ctx->cfg->pin;
	int err = bench_pin_process(ctx->daemon.pid, pin->daemon);

	if (!err)
		err = bench_pin_process(getpid(), pin->guest);
	if (!err)
		err = bench_pin_process(ctx->peer.pid, pin->peer);
	if (err)
		fprintf(stderr, "vsock-bench: --pin: %s\n", strerror(-err));
	return err;
}

int bench_daemon_up(struct bench_ctx *ctx)
{
	struct rig_opts o;
	int err = rig_daemon_start(&ctx->daemon, BENCH_CID, NULL);

	if (err) {
		fprintf(stderr, "vsock-bench: cannot start the daemon (set %s): %s\n",
			RIG_DAEMON_ENV, strerror(-err));
		return err;
	}
	if (ctx->cfg->pin.on)
		err = pin_parties(ctx);
	/* The daemon's CPU clock counts all its threads, in nanoseconds
	 * (/proc/PID/stat has 10 ms ticks, too coarse for short runs). */
	if (!err)
		err = -clock_getcpuclockid(ctx->daemon.pid, &ctx->daemon_cpu);
	rig_opts_default(&o);
	o.socket_path = ctx->daemon.socket_path;
	if (!err)
		err = rig_open(&ctx->rig, &o);
	if (err) {
		fprintf(stderr, "vsock-bench: cannot drive the daemon: %s\n",
			strerror(-err));
		rig_daemon_dump_log(&ctx->daemon);
		rig_daemon_stop(&ctx->daemon, BENCH_TIMEOUT_MS);
		ctx->rig = NULL;
	}
	return err;
}

int bench_daemon_down(struct bench_ctx *ctx)
{
	int err = 0;

	if (!ctx->rig)
		return 0;
	if (ctx->rig->stats.violations) {
		fprintf(stderr, "vsock-bench: the daemon broke the protocol %llu "
			"times (last: %s)\n",
			(unsigned long long)ctx->rig->stats.violations,
			ctx->rig->last_violation);
		err = -EPROTO;
	}
	rig_destroy(ctx->rig);
	ctx->rig = NULL;
	if (rig_daemon_stop(&ctx->daemon, BENCH_TIMEOUT_MS) != 0) {
		fprintf(stderr, "vsock-bench: the daemon did not exit cleanly\n");
		rig_daemon_dump_log(&ctx->daemon);
		err = err ? err : -ECHILD;
	}
	return err;
}

int bench_recover(struct bench_ctx *ctx)
{
	int err;

	bench_daemon_down(ctx);
	/* The peer may still be inside a command. */
	peer_stop(&ctx->peer);
	err = peer_start(&ctx->peer);
	return err ? err : bench_daemon_up(ctx);
}

int bench_wait_reply(struct bench_ctx *ctx, struct peer_reply *reply)
{
	int64_t deadline = rig_now_ms() + BENCH_TIMEOUT_MS;

	for (;;) {
		struct pollfd pfd = {.fd = ctx->peer.ctl, .events = POLLIN};
		int n = rig_poll(ctx->rig, &pfd, 1, rig_left_ms(deadline));

		if (n < 0)
			return n;
		if (n > 0)
			return peer_reply(&ctx->peer, reply);
		if (rig_left_ms(deadline) == 0)
			return -ETIMEDOUT;
	}
}

void bench_machine(struct bench_machine *m, const struct bench_pin *pin)
{
	char line[256];
	FILE *f = fopen("/proc/cpuinfo", "r");

	if (pin->on)
		snprintf(m->placement, sizeof(m->placement), "%d,%d,%d", pin->daemon,
			 pin->guest, pin->peer);
	else
		snprintf(m->placement, sizeof(m->placement), "free");
	snprintf(m->cpu_model, sizeof(m->cpu_model), "unknown");
	m->cpus = sysconf(_SC_NPROCESSORS_ONLN);
	while (f && fgets(line, sizeof(line), f)) {
		char *colon = strchr(line, ':');

		if (strncmp(line, "model name", 10) != 0 || !colon)
			continue;
		colon += 1 + strspn(colon + 1, " \t");
		colon[strcspn(colon, "\n")] = '\0';
		snprintf(m->cpu_model, sizeof(m->cpu_model), "%s", colon);
		break;
	}
	if (f)
		fclose(f);
}
