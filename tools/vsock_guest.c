/* vsock-guest: pretends to be a VM's guest behind a vhost-user-vsock
 * back-end, so host applications can be tried without booting anything. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <linux/virtio_vsock.h>

#include "rig.h"

#define IO_CHUNK 65536
#define WAIT_MS 10000

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

static void usage(FILE *out)
{
	fputs("Usage: vsock-guest --socket PATH [options] COMMAND ARGS\n"
	      "\n"
	      "Connects to a vhost-user-vsock back-end as the VMM and plays the guest's\n"
	      "virtio-vsock driver, so host applications can be tested with no VM.\n"
	      "\n"
	      "Commands:\n"
	      "  echo PORT           listen on PORT, echo every connection's data back\n"
	      "  listen PORT         accept one connection on PORT, pipe it to stdin/stdout\n"
	      "  connect CID PORT    connect to CID:PORT (2 = host), pipe stdin/stdout\n"
	      "  sink PORT           listen on PORT, discard data, print bytes per connection\n"
	      "  source CID PORT N   connect to CID:PORT, send N bytes, print the rate\n"
	      "\n"
	      "Options:\n"
	      "  --socket PATH       the back-end's vhost-user socket (required)\n"
	      "  --cid N             fail unless the back-end's config space says CID N\n"
	      "  --queue-size N      ring size, a power of two (default 128)\n"
	      "  --rx-buf-size N     bytes per RX buffer, header included (default 4096)\n"
	      "  --rx-layout L       linear (one descriptor) or split (header apart)\n"
	      "  --tx-layout L       frags (default), linear or split\n"
	      "  --indirect          use indirect descriptor tables\n"
	      "  --no-event-idx      do not negotiate VIRTIO_RING_F_EVENT_IDX\n"
	      "  --buf-alloc N       receive buffer per connection (default 262144)\n"
	      "  -h, --help          show this text\n"
	      "\n"
	      "Example: vsock-guest --socket /tmp/vhost3.socket --cid 3 echo 1234\n"
	      "then, on the host: (echo 'CONNECT 1234'; cat) | socat - UNIX:/tmp/vm3.vsock\n",
	      out);
}

/* The rig's spare RX buffers are counted for its default buffer size: with
 * bigger buffers keep the pool's bytes instead, so it fits the guest RAM. */
static void scale_spare_rx_bufs(struct rig_opts *o)
{
	struct rig_opts dflt;

	rig_opts_default(&dflt);
	if (o->rx_buf_size > dflt.rx_buf_size)
		o->rx_spare_bufs = (unsigned)((uint64_t)dflt.rx_spare_bufs *
					      dflt.rx_buf_size / o->rx_buf_size);
}

static int parse_u64(const char *s, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || end == s || *end || v > max || s[0] == '-')
		return -1;
	*out = v;
	return 0;
}

/* ---- Commands ------------------------------------------------------------- */

/* Scripts (and the tool's own test) wait for this line before connecting:
 * a host client that comes earlier is refused by the guest. */
static void announce_listening(struct rig *rig, uint32_t port)
{
	fprintf(stderr, "vsock-guest: CID %" PRIu64 " listening on port %u\n",
		rig->cid, port);
}

#define MAX_CONNS 256

struct served {
	struct rig_conn *c;
	uint8_t *pending;       /* echo: received, not yet sent back */
	size_t pending_len;
	uint64_t bytes;
};

static void serve_accept(struct rig *rig, uint32_t port, struct served *conns,
			 unsigned *n)
{
	struct rig_conn *c;

	while (*n < MAX_CONNS && rig_accept(rig, port, 0, &c) == 0) {
		conns[*n] = (struct served){.c = c, .pending = malloc(IO_CHUNK)};
		if (!conns[*n].pending) {
			rig_abort(rig, c);
			continue;
		}
		fprintf(stderr, "vsock-guest: connection from %" PRIu64 ":%u\n",
			c->peer_cid, c->peer_port);
		(*n)++;
	}
}

/* Moves data for one connection; returns false when it is finished. */
static bool serve_one(struct rig *rig, struct served *s, bool echo)
{
	for (;;) {
		ssize_t n;

		if (echo && s->pending_len) {
			n = rig_send(rig, s->c, s->pending, s->pending_len);
			if (n < 0)
				return false;
			memmove(s->pending, s->pending + n, s->pending_len - (size_t)n);
			s->pending_len -= (size_t)n;
			if (s->pending_len)
				return true;
		}
		n = rig_recv(rig, s->c, s->pending, IO_CHUNK);
		if (n == -EAGAIN)
			return true;
		if (n <= 0)
			return false;
		s->bytes += (uint64_t)n;
		if (echo)
			s->pending_len = (size_t)n;
	}
}

static int cmd_serve(struct rig *rig, uint32_t port, bool echo)
{
	struct served *conns = calloc(MAX_CONNS, sizeof(*conns));
	unsigned n = 0;
	int err = 0;

	if (!conns || rig_listen(rig, port)) {
		free(conns);
		return 1;
	}
	announce_listening(rig, port);
	while (!stop_requested) {
		err = rig_poll(rig, NULL, 0, 1000);
		if (err < 0)
			break;
		serve_accept(rig, port, conns, &n);
		for (unsigned i = 0; i < n;) {
			if (serve_one(rig, &conns[i], echo)) {
				i++;
				continue;
			}
			fprintf(stderr, "vsock-guest: connection from port %u done, "
				"%" PRIu64 " bytes\n", conns[i].c->peer_port,
				conns[i].bytes);
			if (echo)
				rig_shutdown(rig, conns[i].c, VIRTIO_VSOCK_SHUTDOWN_SEND);
			rig_close(rig, conns[i].c);
			free(conns[i].pending);
			conns[i] = conns[--n];
		}
	}
	for (unsigned i = 0; i < n; i++) {
		rig_close(rig, conns[i].c);
		free(conns[i].pending);
	}
	free(conns);
	if (err < 0)
		fprintf(stderr, "vsock-guest: back-end gone\n");
	return err < 0 ? 1 : 0;
}

/* Copies stdin to the connection and the connection to stdout until both
 * directions are finished. */
static int pipe_stdio(struct rig *rig, struct rig_conn *c)
{
	static uint8_t in[IO_CHUNK], out[IO_CHUNK];
	size_t in_len = 0, in_off = 0;
	bool stdin_open = true, peer_open = true;

	while (!stop_requested && (peer_open || in_len)) {
		struct pollfd pfd = {.fd = stdin_open && !in_len ? 0 : -1,
				     .events = POLLIN};
		ssize_t n;
		int ready = rig_poll(rig, &pfd, 1, 1000);

		if (ready < 0)
			return 1;
		if (pfd.revents) {
			n = read(0, in, sizeof(in));
			if (n <= 0) {
				stdin_open = false;
				rig_shutdown(rig, c, VIRTIO_VSOCK_SHUTDOWN_SEND);
			} else {
				in_len = (size_t)n;
				in_off = 0;
			}
		}
		if (in_len) {
			n = rig_send(rig, c, in + in_off, in_len);
			if (n < 0)
				return 1;
			in_off += (size_t)n;
			in_len -= (size_t)n;
		}
		while ((n = rig_recv(rig, c, out, sizeof(out))) > 0)
			if (fwrite(out, 1, (size_t)n, stdout) != (size_t)n)
				return 1;
		fflush(stdout);
		if (n == 0 || (n < 0 && n != -EAGAIN))
			peer_open = false;
		if (!peer_open && !stdin_open)
			break;
	}
	rig_close_wait(rig, c, WAIT_MS);
	return 0;
}

static int cmd_source(struct rig *rig, struct rig_conn *c, uint64_t total)
{
	static uint8_t buf[IO_CHUNK];
	struct timespec t0, t1;
	uint64_t sent = 0;
	double secs;

	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)i;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (sent < total && !stop_requested) {
		size_t chunk = total - sent < sizeof(buf) ? total - sent : sizeof(buf);

		if (rig_send_all(rig, c, buf, chunk, WAIT_MS))
			return 1;
		sent += chunk;
	}
	rig_shutdown(rig, c, VIRTIO_VSOCK_SHUTDOWN_SEND);
	rig_close_wait(rig, c, WAIT_MS);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	printf("%" PRIu64 " bytes in %.3f s: %.1f MiB/s\n", sent, secs,
	       secs > 0 ? (double)sent / secs / (1 << 20) : 0.0);
	return 0;
}

/* ---- Main ------------------------------------------------------------------ */

struct cli {
	struct rig_opts opts;
	uint64_t want_cid;
	bool check_cid;
};

static int parse_layouts(struct rig_opts *o, int opt, const char *arg)
{
	if (opt == 'r') {
		if (!strcmp(arg, "linear"))
			o->rx_layout = RIG_RX_LINEAR;
		else if (!strcmp(arg, "split"))
			o->rx_layout = RIG_RX_SPLIT;
		else
			return -1;
		return 0;
	}
	if (!strcmp(arg, "frags"))
		o->tx_layout = RIG_TX_FRAGS;
	else if (!strcmp(arg, "linear"))
		o->tx_layout = RIG_TX_LINEAR;
	else if (!strcmp(arg, "split"))
		o->tx_layout = RIG_TX_SPLIT;
	else
		return -1;
	return 0;
}

static int parse_cli(int argc, char **argv, struct cli *cli)
{
	static const struct option longopts[] = {
		{"socket", required_argument, NULL, 's'},
		{"cid", required_argument, NULL, 'c'},
		{"queue-size", required_argument, NULL, 'q'},
		{"rx-buf-size", required_argument, NULL, 'b'},
		{"rx-layout", required_argument, NULL, 'r'},
		{"tx-layout", required_argument, NULL, 't'},
		{"indirect", no_argument, NULL, 'i'},
		{"no-event-idx", no_argument, NULL, 'e'},
		{"buf-alloc", required_argument, NULL, 'a'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	struct rig_opts *o = &cli->opts;
	uint64_t v;
	int opt;

	while ((opt = getopt_long(argc, argv, "+h", longopts, NULL)) != -1) {
		switch (opt) {
		case 's':
			o->socket_path = optarg;
			break;
		case 'c':
			if (parse_u64(optarg, UINT32_MAX, &cli->want_cid))
				goto bad;
			cli->check_cid = true;
			break;
		case 'q':
			if (parse_u64(optarg, 32768, &v))
				goto bad;
			o->queue_size = (uint16_t)v;
			o->rx_bufs = (unsigned)v;
			break;
		case 'b':
			if (parse_u64(optarg, 1u << 20, &v))
				goto bad;
			o->rx_buf_size = (uint32_t)v;
			break;
		case 'r':
		case 't':
			if (parse_layouts(o, opt, optarg))
				goto bad;
			break;
		case 'i':
			o->indirect = true;
			break;
		case 'e':
			o->event_idx = false;
			break;
		case 'a':
			if (parse_u64(optarg, UINT32_MAX, &v) || v == 0)
				goto bad;
			o->buf_alloc = (uint32_t)v;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return -1;
		}
	}
	if (!o->socket_path) {
		fputs("vsock-guest: --socket is required\n", stderr);
		return -1;
	}
	scale_spare_rx_bufs(o);
	return optind;
bad:
	fprintf(stderr, "vsock-guest: bad value '%s'\n", optarg);
	return -1;
}

enum command { CMD_ECHO, CMD_SINK, CMD_LISTEN, CMD_CONNECT, CMD_SOURCE };

struct command_args {
	enum command cmd;
	uint64_t cid, port, total;
};

/* Checks the command line's command and arguments before anything is
 * opened, so misuse is reported the same with or without a back-end. */
static int parse_command(int argc, char **argv, struct command_args *a)
{
	static const struct {
		const char *name;
		enum command cmd;
		int argc;
	} commands[] = {
		{"echo", CMD_ECHO, 2},       {"sink", CMD_SINK, 2},
		{"listen", CMD_LISTEN, 2},   {"connect", CMD_CONNECT, 3},
		{"source", CMD_SOURCE, 4},
	};

	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (strcmp(argv[0], commands[i].name))
			continue;
		if (argc != commands[i].argc)
			return -1;
		a->cmd = commands[i].cmd;
		if (argc == 2)
			return parse_u64(argv[1], UINT32_MAX, &a->port);
		if (parse_u64(argv[1], UINT32_MAX, &a->cid) ||
		    parse_u64(argv[2], UINT32_MAX, &a->port))
			return -1;
		return argc == 4 ? parse_u64(argv[3], UINT64_MAX, &a->total) : 0;
	}
	return -1;
}

static int cmd_listen(struct rig *rig, uint32_t port)
{
	struct rig_conn *c;
	int err;

	if (rig_listen(rig, port))
		return 1;
	announce_listening(rig, port);
	while ((err = rig_accept(rig, port, 1000, &c)) == -ETIMEDOUT && !stop_requested)
		;
	return err ? 1 : pipe_stdio(rig, c);
}

static int run(struct rig *rig, const struct command_args *a)
{
	struct rig_conn *c;
	int err;

	switch (a->cmd) {
	case CMD_ECHO:
	case CMD_SINK:
		return cmd_serve(rig, (uint32_t)a->port, a->cmd == CMD_ECHO);
	case CMD_LISTEN:
		return cmd_listen(rig, (uint32_t)a->port);
	case CMD_CONNECT:
	case CMD_SOURCE:
		break;
	}
	err = rig_connect(rig, a->cid, (uint32_t)a->port, WAIT_MS, &c);
	if (err) {
		fprintf(stderr, "vsock-guest: connect to %" PRIu64 ":%" PRIu64 ": %s\n",
			a->cid, a->port, strerror(-err));
		return 1;
	}
	return a->cmd == CMD_CONNECT ? pipe_stdio(rig, c) : cmd_source(rig, c, a->total);
}

int main(int argc, char **argv)
{
	struct sigaction sa = {.sa_handler = on_signal};
	struct cli cli = {0};
	struct command_args args = {0};
	struct rig *rig;
	int first, err, status;

	rig_opts_default(&cli.opts);
	first = parse_cli(argc, argv, &cli);
	if (first < 0)
		return 2;
	if (first >= argc || parse_command(argc - first, argv + first, &args)) {
		usage(stderr);
		return 2;
	}
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	err = rig_open(&rig, &cli.opts);
	if (err) {
		fprintf(stderr, "vsock-guest: cannot start a guest on %s: %s\n",
			cli.opts.socket_path, strerror(-err));
		return 1;
	}
	if (cli.check_cid && rig->cid != cli.want_cid) {
		fprintf(stderr, "vsock-guest: the back-end serves CID %" PRIu64
			", not %" PRIu64 "\n", rig->cid, cli.want_cid);
		rig_destroy(rig);
		return 1;
	}
	status = run(rig, &args);
	if (rig->stats.violations)
		fprintf(stderr, "vsock-guest: %" PRIu64 " protocol violations by the "
			"back-end, last: %s\n", rig->stats.violations,
			rig->last_violation);
	rig_destroy(rig);
	return status;
}
