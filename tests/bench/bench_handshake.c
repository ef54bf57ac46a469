/* Host-initiated handshakes per second: the peer connects to the daemon's
 * Unix socket, sends "CONNECT <port>\n" and waits for "OK ...\n", 16 at a
 * time; the rig's guest listens, accepts and closes.  Baseline: the same
 * client against a plain AF_UNIX server in this process that accepts,
 * reads the line and answers OK.  With them, the CPU microseconds each
 * party spends per handshake: on a small machine the rate is what the CPUs
 * can do, and these say where they go. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "bench.h"
#include "bench_report.h"

#define HS_PORT 5002u
#define HS_IN_FLIGHT 16u
#define SERVER_MAX_CLIENTS 256u

static void close_accepted(struct rig *rig)
{
	struct rig_conn *c;

	while (rig_accept(rig, HS_PORT, 0, &c) == 0)
		rig_close(rig, c);
}

static bool no_conns(struct rig *rig, void *arg)
{
	(void)arg;
	close_accepted(rig);
	return rig->n_conns == 0;
}

/* A run's rate and its CPU per handshake, by party. */
struct hs_result {
	double per_s;
	struct cpu_split cpu_us;
};

static void hs_finished(const struct bench_ctx *ctx, const struct cpu_split *start,
			const struct peer_reply *reply, struct hs_result *res)
{
	struct cpu_split end;
	double count = reply->count ? (double)reply->count : 1;

	bench_cpu_split(ctx, &end);
	res->per_s = (double)reply->count * 1e9 /
		     (double)(reply->elapsed_ns ? reply->elapsed_ns : 1);
	res->cpu_us.daemon = (end.daemon - start->daemon) * 1e6 / count;
	res->cpu_us.guest = (end.guest - start->guest) * 1e6 / count;
	res->cpu_us.host = (end.host - start->host) * 1e6 / count;
}

static int run_ours(struct bench_ctx *ctx, struct hs_result *res)
{
	struct peer_cmd cmd = {
		.op = PEER_HANDSHAKE,
		.count = ctx->cfg->handshakes,
		.in_flight = HS_IN_FLIGHT,
		.port = HS_PORT,
	};
	struct peer_reply reply = {0};
	int64_t deadline = rig_now_ms() + BENCH_TIMEOUT_MS;
	int err = rig_listen(ctx->rig, HS_PORT);
	struct cpu_split start;

	snprintf(cmd.path, sizeof(cmd.path), "%s", ctx->daemon.uds_path);
	bench_cpu_split(ctx, &start);
	if (!err)
		err = peer_send(&ctx->peer, &cmd, NULL);
	while (!err) {
		struct pollfd pfd = {.fd = ctx->peer.ctl, .events = POLLIN};
		int n = rig_poll(ctx->rig, &pfd, 1, rig_left_ms(deadline));

		close_accepted(ctx->rig);
		if (n > 0)
			break;
		err = n < 0 ? n : rig_left_ms(deadline) ? 0 : -ETIMEDOUT;
	}
	if (!err)
		err = peer_reply(&ctx->peer, &reply);
	if (!err)
		err = reply.err;
	hs_finished(ctx, &start, &reply, res);
	/* Every connection gone before the next run. */
	if (!err)
		err = rig_wait(ctx->rig, no_conns, NULL, BENCH_TIMEOUT_MS);
	rig_unlisten(ctx->rig, HS_PORT);
	return err;
}

struct server_client {
	int fd;
	bool answered;
};

/* Serves a readable client: answers OK at the end of its line, then waits
 * for it to close.  Returns false once the client is done. */
static bool serve(struct server_client *cl)
{
	static const char ok[] = "OK 1073741824\n";
	char buf[64];
	ssize_t n = recv(cl->fd, buf, sizeof(buf), MSG_DONTWAIT);

	if (n < 0)
		return errno == EAGAIN || errno == EINTR;
	if (n == 0)
		return false;
	if (!cl->answered && memchr(buf, '\n', (size_t)n)) {
		cl->answered = true;
		return send(cl->fd, ok, sizeof(ok) - 1, MSG_NOSIGNAL) > 0;
	}
	return true;
}

/* The baseline server runs until the peer replies. */
static int serve_until_reply(struct bench_ctx *ctx, int listen_fd)
{
	struct server_client *cl = calloc(SERVER_MAX_CLIENTS, sizeof(*cl));
	struct pollfd pfds[2 + SERVER_MAX_CLIENTS];
	unsigned n = 0;
	int err = cl ? 0 : -ENOMEM;

	while (!err) {
		int ready;

		pfds[0] = (struct pollfd){.fd = ctx->peer.ctl, .events = POLLIN};
		pfds[1] = (struct pollfd){.fd = listen_fd, .events = POLLIN};
		for (unsigned i = 0; i < n; i++)
			pfds[2 + i] = (struct pollfd){.fd = cl[i].fd, .events = POLLIN};
		ready = poll(pfds, 2 + n, BENCH_TIMEOUT_MS);
		if (ready <= 0) {
			err = ready == 0 ? -ETIMEDOUT : errno == EINTR ? 0 : -errno;
			continue;
		}
		if (pfds[0].revents)
			break;
		for (unsigned i = n; i-- > 0;) {
			if (pfds[2 + i].revents && !serve(&cl[i])) {
				close(cl[i].fd);
				cl[i] = cl[--n];
			}
		}
		while (pfds[1].revents && n < SERVER_MAX_CLIENTS) {
			int fd = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

			if (fd < 0)
				break;
			cl[n++] = (struct server_client){.fd = fd};
		}
	}
	for (unsigned i = 0; i < n; i++)
		close(cl[i].fd);
	free(cl);
	return err;
}

static int run_base(struct bench_ctx *ctx, const char *path, struct hs_result *res)
{
	struct peer_cmd cmd = {
		.op = PEER_HANDSHAKE,
		.count = ctx->cfg->handshakes,
		.in_flight = HS_IN_FLIGHT,
		.port = HS_PORT,
	};
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct peer_reply reply = {0};
	struct cpu_split start;
	int fd, err;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	snprintf(cmd.path, sizeof(cmd.path), "%s", path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	unlink(path);
	err = (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(fd, 128)) ? -errno : 0;
	bench_cpu_split(ctx, &start);
	if (!err)
		err = peer_send(&ctx->peer, &cmd, NULL);
	if (!err)
		err = serve_until_reply(ctx, fd);
	if (!err)
		err = peer_reply(&ctx->peer, &reply);
	hs_finished(ctx, &start, &reply, res);
	close(fd);
	unlink(path);
	return err ? err : reply.err;
}

static void hs_report(const struct hs_result *ours, const struct hs_result *base)
{
	report_add("handshakes_per_s", "1/s", FIG_RATE, SIDE_OURS, ours->per_s);
	report_add("handshakes_per_s", "1/s", FIG_RATE, SIDE_BASE, base->per_s);
	/* The baseline has no daemon; its server is this process. */
	report_add("hs_cpu_us_daemon", "us", FIG_COST, SIDE_OURS, ours->cpu_us.daemon);
	report_add("hs_cpu_us_guest", "us", FIG_COST, SIDE_OURS, ours->cpu_us.guest);
	report_add("hs_cpu_us_guest", "us", FIG_COST, SIDE_BASE, base->cpu_us.guest);
	report_add("hs_cpu_us_host", "us", FIG_COST, SIDE_OURS, ours->cpu_us.host);
	report_add("hs_cpu_us_host", "us", FIG_COST, SIDE_BASE, base->cpu_us.host);
	report_add("hs_cpu_us_total", "us", FIG_COST, SIDE_OURS,
		   ours->cpu_us.daemon + ours->cpu_us.guest + ours->cpu_us.host);
	report_add("hs_cpu_us_total", "us", FIG_COST, SIDE_BASE,
		   base->cpu_us.guest + base->cpu_us.host);
}

int bench_handshakes(struct bench_ctx *ctx)
{
	char path[sizeof(ctx->daemon.dir) + 16];
	int err = 0;

	if (!bench_wanted(ctx, "handshakes") || ctx->cfg->handshakes == 0)
		return 0;
	/* The baseline's socket lives next to the daemon's, in its private
	 * directory. */
	snprintf(path, sizeof(path), "%s/base.sock", ctx->daemon.dir);
	for (unsigned r = 0; r < ctx->cfg->runs && !err; r++) {
		struct hs_result ours = {0}, base = {0};

		err = run_ours(ctx, &ours);
		if (!err)
			err = run_base(ctx, path, &base);
		if (!err)
			hs_report(&ours, &base);
	}
	if (err) {
		fprintf(stderr, "vsock-bench: handshakes: %s\n", strerror(-err));
		report_fail("handshakes_per_s", "1/s");
	}
	return err;
}
