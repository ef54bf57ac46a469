/* vsock-bench: see bench.h for the method and README.md (Benchmarks). */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "bench.h"
#include "bench_pattern.h"
#include "bench_report.h"

/* 10,000 idle connections: their host ends here, plus a margin. */
#define FDS_NEEDED 10100

static const char usage[] =
	"Usage: vsock-bench [--quick] [--runs N] [--json FILE] [--plot-data FILE]\n"
	"                   [--only PREFIX,...] [--pin D,G,P]\n"
	"Measures the daemon named by $" RIG_DAEMON_ENV " through the guest rig,\n"
	"against raw AF_UNIX sockets in the same run, and prints a table.\n"
	"  --quick           seconds, not minutes: a smoke test (sanity only)\n"
	"  --runs N          samples per figure, median reported (default 9)\n"
	"  --json FILE       the results as a JSON list\n"
	"  --plot-data FILE  throughput against write size, for gnuplot\n"
	"  --only P1,P2...   only figures whose names start so (g2h, h2g_64k,\n"
	"                    rtt, handshakes, idle, ...)\n"
	"  --pin D,G,P       run the daemon, the guest (this process) and the host\n"
	"                    peer on CPUs D, G and P (default: where the\n"
	"                    scheduler puts them)\n";

struct args {
	struct bench_cfg cfg;
	const char *json_path, *plot_path;
};

static int parse_args(int argc, char **argv, struct args *a)
{
	static const struct option longopts[] = {
		{"quick", no_argument, NULL, 'q'},
		{"runs", required_argument, NULL, 'r'},
		{"json", required_argument, NULL, 'j'},
		{"plot-data", required_argument, NULL, 'p'},
		{"only", required_argument, NULL, 'o'},
		{"pin", required_argument, NULL, 'P'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	long runs = 0;
	char *end;
	int opt;

	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'q':
			a->cfg.quick = true;
			break;
		case 'r':
			runs = strtol(optarg, &end, 10);
			if (*end || runs < 1 || runs > BENCH_MAX_RUNS) {
				fprintf(stderr, "vsock-bench: --runs: 1..%u\n", BENCH_MAX_RUNS);
				return 2;
			}
			break;
		case 'j':
			a->json_path = optarg;
			break;
		case 'p':
			a->plot_path = optarg;
			break;
		case 'o':
			a->cfg.only = optarg;
			break;
		case 'P':
			if (bench_pin_parse(optarg, &a->cfg.pin)) {
				fprintf(stderr, "vsock-bench: --pin: '%s' is not three CPUs "
					"D,G,P that this process may run on\n", optarg);
				return 2;
			}
			break;
		case 'h':
			fputs(usage, stdout);
			return 1;
		default:
			fputs(usage, stderr);
			return 2;
		}
	}
	if (optind != argc) {
		fputs(usage, stderr);
		return 2;
	}
	if (a->cfg.quick) {
		a->cfg.runs = 2;
		a->cfg.stream_bytes = 4u << 20;
		a->cfg.rtt_pings = 200;
		a->cfg.handshakes = 200;
		a->cfg.idle_window_ms = 100;
	} else {
		a->cfg.runs = 9;
		a->cfg.stream_bytes = 512u << 20;
		a->cfg.rtt_pings = 20000;
		a->cfg.handshakes = 10000;
		a->cfg.idle_window_ms = 1000;
	}
	if (runs)
		a->cfg.runs = (unsigned)runs;
	return 0;
}

static int raise_fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return -errno;
	if (rl.rlim_cur >= FDS_NEEDED)
		return 0;
	rl.rlim_cur = rl.rlim_max < FDS_NEEDED ? rl.rlim_max : FDS_NEEDED;
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
		return -errno;
	if (rl.rlim_cur < FDS_NEEDED) {
		fprintf(stderr, "vsock-bench: RLIMIT_NOFILE hard limit %llu is below "
			"the %u that 10,000 idle connections need (ulimit -Hn)\n",
			(unsigned long long)rl.rlim_max, FDS_NEEDED);
		return -EMFILE;
	}
	return 0;
}

/* Runs every group; a failed one is reported and the next one runs on a
 * fresh daemon.  Returns the first error. */
static int run_all(struct bench_ctx *ctx)
{
	int (*const groups[])(struct bench_ctx *) = {bench_streams, bench_rtt,
						     bench_handshakes};
	int first_err = bench_daemon_up(ctx), err;

	for (unsigned g = 0; g < sizeof(groups) / sizeof(groups[0]) && ctx->rig; g++) {
		err = groups[g](ctx);
		if (!err)
			continue;
		first_err = first_err ? first_err : err;
		if (bench_recover(ctx))
			return first_err;
	}
	err = bench_daemon_down(ctx);
	first_err = first_err ? first_err : err;
	/* Idle runs start a daemon each; the send paths need none. */
	err = bench_idle(ctx);
	first_err = first_err ? first_err : err;
	err = bench_send_paths(ctx);
	return first_err ? first_err : err;
}

int main(int argc, char **argv)
{
	struct args a = {0};
	struct bench_ctx ctx = {.cfg = &a.cfg};
	struct bench_machine machine;
	int rc = parse_args(argc, argv, &a), err;

	if (rc)
		return rc == 1 ? 0 : rc;
	/* The daemon inherits the limit (it holds the other ends). */
	err = raise_fd_limit();
	bench_pattern_init();
	if (!err)
		err = peer_start(&ctx.peer);
	if (err) {
		fprintf(stderr, "vsock-bench: %s\n", strerror(-err));
		return 1;
	}
	err = run_all(&ctx);
	peer_stop(&ctx.peer);
	bench_machine(&machine, &a.cfg.pin);
	printf("vsock-bench%s on %s, %ld CPUs, placement %s: median of %u runs; spread = "
	       "(max - min) / median; ratio = ours / baseline\n",
	       a.cfg.quick ? " --quick" : "", machine.cpu_model, machine.cpus,
	       machine.placement, a.cfg.runs);
	report_print(stdout);
	if (a.json_path && report_write_json(a.json_path, &machine) < 0) {
		fprintf(stderr, "vsock-bench: %s: %s\n", a.json_path, strerror(errno));
		err = err ? err : -EIO;
	}
	if (a.plot_path && report_write_plot_data(a.plot_path) < 0) {
		fprintf(stderr, "vsock-bench: %s: %s\n", a.plot_path, strerror(errno));
		err = err ? err : -EIO;
	}
	if (!err && !report_sane(stderr, a.cfg.runs))
		err = -EPROTO;
	return err ? 1 : 0;
}
