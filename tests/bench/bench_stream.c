/* Throughput, guest->host and host->guest: application writes of 4 KiB,
 * 64 KiB and 1 MiB over 1 and 16 connections.
 *
 * Ours: the guest application (this process, through the rig's Linux-like
 * driver: 4 KiB RX buffers, 64 KiB TX packets in 4 KiB fragments) talks to
 * the host peer process through the daemon.  Baseline: this process and
 * the same host peer code over a socketpair, with the same write sizes.
 * Every byte is checked at the receiving end.  Runs alternate between ours
 * and the baseline so that drift on the machine hits both alike. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench.h"
#include "bench_pattern.h"
#include "bench_pump.h"
#include "bench_report.h"
#include "rig_host.h"

#define STREAM_PORT 5000u

struct stream_case {
	bool g2h;
	unsigned n_conns;
	uint32_t io_size;
	char name[40];
};

struct stream_result {
	double gbit_s;
	double gib;
	struct cpu_split cpu; /* used during the run */
};

/* Wall clock and CPU times when a timed transfer began. */
struct run_start {
	uint64_t t0;
	struct cpu_split cpu;
};

static void run_started(const struct bench_ctx *ctx, struct run_start *start)
{
	start->t0 = bench_now_ns();
	bench_cpu_split(ctx, &start->cpu);
}

/* Rate, CPU time and size of a transfer of total bytes that began at start. */
static void run_finished(const struct bench_ctx *ctx, const struct run_start *start,
			 uint64_t total, struct stream_result *res)
{
	res->gbit_s = (double)total * 8 / (double)(bench_now_ns() - start->t0);
	bench_cpu_split(ctx, &res->cpu);
	res->cpu.daemon -= start->cpu.daemon;
	res->cpu.guest -= start->cpu.guest;
	res->cpu.host -= start->cpu.host;
	res->gib = (double)total / (1u << 30);
}

/* The host peer's part in sc: sink what the guest sends, or source it. */
static struct peer_cmd peer_cmd_for(const struct stream_case *sc,
				    uint64_t bytes_per_conn)
{
	return (struct peer_cmd){
		.op = sc->g2h ? PEER_SINK : PEER_SOURCE,
		.n_fds = sc->n_conns,
		.bytes_per_conn = bytes_per_conn,
		.io_size = sc->io_size,
	};
}

/* Sets up n connections through the daemon; host[] gets the host ends. */
static int open_ours(struct bench_ctx *ctx, const struct stream_case *sc,
		     struct rig_conn **guest, int *host)
{
	const char *uds = ctx->daemon.uds_path;
	int listen_fd = -1, err = 0;

	if (sc->g2h) {
		listen_fd = rig_host_listen(uds, STREAM_PORT);
		if (listen_fd < 0)
			return listen_fd;
	} else {
		err = rig_listen(ctx->rig, STREAM_PORT);
	}
	for (unsigned i = 0; i < sc->n_conns && !err; i++) {
		if (sc->g2h) {
			err = rig_connect(ctx->rig, RIG_HOST_CID, STREAM_PORT,
					  BENCH_TIMEOUT_MS, &guest[i]);
			host[i] = err ? err : rig_host_accept(ctx->rig, listen_fd,
							      BENCH_TIMEOUT_MS);
		} else {
			host[i] = rig_host_open(ctx->rig, uds, STREAM_PORT, &guest[i],
						BENCH_TIMEOUT_MS);
		}
		err = host[i] < 0 ? host[i] : 0;
	}
	if (sc->g2h)
		close(listen_fd);
	else
		rig_unlisten(ctx->rig, STREAM_PORT);
	return err;
}

/* The guest application's side: rig_send or rig_recv of io_size per call,
 * round-robin over the connections, running the driver when all wait. */
static int guest_pump(struct rig *rig, struct rig_conn **conns,
		      const struct stream_case *sc, uint64_t bytes_per_conn,
		      uint64_t *moved)
{
	uint64_t off[BENCH_MAX_CONNS] = {0};
	uint8_t *buf = malloc(sc->io_size);
	int64_t deadline = rig_now_ms() + BENCH_TIMEOUT_MS;
	unsigned done = 0;
	int err = buf ? 0 : -ENOMEM;

	while (!err && done < sc->n_conns) {
		bool progress = false;

		for (unsigned i = 0; i < sc->n_conns && !err; i++) {
			uint64_t left = bytes_per_conn - off[i];
			size_t want = sc->io_size - (size_t)(off[i] % sc->io_size);
			ssize_t n;

			if (left == 0)
				continue;
			if (want > left)
				want = (size_t)left;
			if (sc->g2h) {
				n = rig_send(rig, conns[i], bench_pattern_at(off[i]), want);
			} else {
				n = rig_recv(rig, conns[i], buf, want);
				if (n == -EAGAIN)
					n = 0;
				else if (n == 0)
					n = -EPIPE;
				else if (n > 0 && !bench_pattern_ok(off[i], buf, (size_t)n))
					n = -EILSEQ;
			}
			if (n < 0) {
				err = (int)n;
				break;
			}
			off[i] += (uint64_t)n;
			progress |= n > 0;
			done += n > 0 && off[i] == bytes_per_conn;
		}
		if (progress)
			deadline = rig_now_ms() + BENCH_TIMEOUT_MS;
		else if (!err && done < sc->n_conns)
			err = rig_left_ms(deadline) ? rig_poll(rig, NULL, 0, 1000)
						    : -ETIMEDOUT;
		err = err > 0 ? 0 : err;
	}
	*moved = 0;
	for (unsigned i = 0; i < sc->n_conns; i++)
		*moved += off[i];
	free(buf);
	return err;
}

static int check_moved(const char *who, int err, uint64_t moved, uint64_t want)
{
	if (!err && moved != want)
		err = -EIO;
	if (err)
		fprintf(stderr, "vsock-bench: %s: %s after %llu of %llu bytes\n", who,
			strerror(-err), (unsigned long long)moved,
			(unsigned long long)want);
	return err;
}

static int run_ours(struct bench_ctx *ctx, const struct stream_case *sc,
		    uint64_t bytes_per_conn, struct stream_result *res)
{
	struct rig_conn *guest[BENCH_MAX_CONNS];
	int host[BENCH_MAX_CONNS];
	struct peer_cmd cmd = peer_cmd_for(sc, bytes_per_conn);
	uint64_t total = bytes_per_conn * sc->n_conns, moved = 0;
	struct peer_reply reply = {0};
	struct run_start start;
	int err = open_ours(ctx, sc, guest, host);

	if (err) {
		fprintf(stderr, "vsock-bench: %s: connecting: %s\n", sc->name,
			strerror(-err));
		return err;
	}
	run_started(ctx, &start);
	err = peer_send(&ctx->peer, &cmd, host);
	if (!err)
		err = guest_pump(ctx->rig, guest, sc, bytes_per_conn, &moved);
	err = check_moved(sc->name, err, moved, total);
	if (!err)
		err = bench_wait_reply(ctx, &reply);
	if (!err)
		err = check_moved("host peer", reply.err, reply.bytes, total);
	run_finished(ctx, &start, total, res);
	for (unsigned i = 0; i < sc->n_conns; i++)
		if (!err)
			err = rig_close_wait(ctx->rig, guest[i], BENCH_TIMEOUT_MS);
	return err;
}

static int run_base(struct bench_ctx *ctx, const struct stream_case *sc,
		    uint64_t bytes_per_conn, struct stream_result *res)
{
	int ours[BENCH_MAX_CONNS], theirs[BENCH_MAX_CONNS];
	struct peer_cmd cmd = peer_cmd_for(sc, bytes_per_conn);
	uint64_t total = bytes_per_conn * sc->n_conns, moved = 0;
	struct peer_reply reply = {0};
	struct run_start start;
	int err = 0;

	for (unsigned i = 0; i < sc->n_conns; i++) {
		int sv[2];

		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
			err = -errno;
			for (unsigned k = 0; k < i; k++) {
				close(ours[k]);
				close(theirs[k]);
			}
			return err;
		}
		ours[i] = sv[0];
		theirs[i] = sv[1];
	}
	run_started(ctx, &start);
	err = peer_send(&ctx->peer, &cmd, theirs);
	if (!err)
		err = pump_fds(ours, sc->n_conns, sc->g2h, bytes_per_conn,
			       sc->io_size, BENCH_TIMEOUT_MS, &moved);
	err = check_moved("baseline", err, moved, total);
	if (!err)
		err = peer_reply(&ctx->peer, &reply);
	if (!err)
		err = check_moved("baseline host peer", reply.err, reply.bytes, total);
	run_finished(ctx, &start, total, res);
	for (unsigned i = 0; i < sc->n_conns; i++)
		close(ours[i]);
	return err;
}

/* CPU per GiB of each party in the 64 KiB one-connection cases, per run:
 * the daemon's for each direction (against the copy floor), the guest's and
 * the host application's over both directions (against the baseline's two
 * ends). */
struct cost {
	double gib[2], daemon[2]; /* [0] guest to host, [1] host to guest */
	double both_gib;
	struct cpu_split ours, base;
};

static void cost_add(struct cost *c, const struct stream_case *sc,
		     const struct stream_result *ours, const struct stream_result *base)
{
	c->gib[!sc->g2h] += ours->gib;
	c->daemon[!sc->g2h] += ours->cpu.daemon;
	c->both_gib += ours->gib;
	c->ours.guest += ours->cpu.guest;
	c->ours.host += ours->cpu.host;
	c->base.guest += base->cpu.guest;
	c->base.host += base->cpu.host;
}

/* floor: the copy floor measured for this run, < 0 if it failed. */
static void cost_report(const struct cost *c, double floor)
{
	static const char *const daemon_names[] = {"cpu_s_per_gib_g2h",
						   "cpu_s_per_gib_h2g"};

	for (int d = 0; d < 2; d++) {
		if (c->gib[d] == 0)
			continue;
		report_add(daemon_names[d], "s/GiB", FIG_COST, SIDE_OURS,
			   c->daemon[d] / c->gib[d]);
		if (floor < 0)
			report_fail(daemon_names[d], "s/GiB");
		else
			report_add(daemon_names[d], "s/GiB", FIG_COST, SIDE_BASE, floor);
	}
	report_add("guest_cpu_s_per_gib", "s/GiB", FIG_COST, SIDE_OURS,
		   c->ours.guest / c->both_gib);
	report_add("guest_cpu_s_per_gib", "s/GiB", FIG_COST, SIDE_BASE,
		   c->base.guest / c->both_gib);
	report_add("host_cpu_s_per_gib", "s/GiB", FIG_COST, SIDE_OURS,
		   c->ours.host / c->both_gib);
	report_add("host_cpu_s_per_gib", "s/GiB", FIG_COST, SIDE_BASE,
		   c->base.host / c->both_gib);
}

/* All runs of one case; costs (if wanted) gathers CPU time per run. */
static int run_case(struct bench_ctx *ctx, const struct stream_case *sc,
		    struct cost *costs)
{
	uint64_t per_conn = ctx->cfg->stream_bytes / sc->n_conns;

	for (unsigned r = 0; r < ctx->cfg->runs; r++) {
		struct stream_result ours = {0}, base = {0};
		int err = run_ours(ctx, sc, per_conn, &ours);

		if (!err)
			err = run_base(ctx, sc, per_conn, &base);
		if (err)
			return err;
		report_add(sc->name, "Gbit/s", FIG_RATE, SIDE_OURS, ours.gbit_s);
		report_add(sc->name, "Gbit/s", FIG_RATE, SIDE_BASE, base.gbit_s);
		if (costs)
			cost_add(&costs[r], sc, &ours, &base);
	}
	return 0;
}

int bench_streams(struct bench_ctx *ctx)
{
	static const struct {
		const char *tag;
		uint32_t size;
	} sizes[] = {{"4k", 4096}, {"64k", 65536}, {"1m", 1u << 20}};
	static const unsigned conn_counts[] = {1, 16};
	struct cost costs[BENCH_MAX_RUNS] = {0};
	unsigned cost_cases = 0;
	int first_err = 0;

	for (int dir = 0; dir < 2; dir++) {
		for (unsigned s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
			for (unsigned c = 0; c < 2; c++) {
				struct stream_case sc = {
					.g2h = dir == 0,
					.n_conns = conn_counts[c],
					.io_size = sizes[s].size,
				};
				bool cost = s == 1 && c == 0;
				int err;

				snprintf(sc.name, sizeof(sc.name), "%s_%s_%uconn",
					 sc.g2h ? "g2h" : "h2g", sizes[s].tag, sc.n_conns);
				if (!bench_wanted(ctx, sc.name))
					continue;
				err = run_case(ctx, &sc, cost ? costs : NULL);
				cost_cases += cost && !err;
				if (!err)
					continue;
				/* The other cases still tell something. */
				report_fail(sc.name, "Gbit/s");
				first_err = first_err ? first_err : err;
				err = bench_recover(ctx);
				if (err)
					return err;
			}
		}
	}
	/* A GiB copied per run (a quarter in a quick run), after the
	 * transfers so that it competes with none of them. */
	for (unsigned r = 0; cost_cases && r < ctx->cfg->runs; r++)
		cost_report(&costs[r], bench_copy_floor(ctx->cfg->quick ? 1u << 28
									: 1u << 30));
	return first_err;
}
