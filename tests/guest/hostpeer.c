/* The host side of the real-guest tests and of `make demo`: a host application that talks to
 * the guest through the daemon's Unix sockets (CONNECT <port> on --uds-path for host->guest,
 * a listener on <uds-path>_<port> for guest->host).  Its peer in the guest is guestapp.c; the
 * transfer protocol is in xfer.h.  Exit status 0 means the scenario behaved as required.
 * Every socket has a receive/send timeout (HOSTPEER_TIMEOUT seconds, default 60), so a
 * broken daemon makes a scenario fail, never hang. */
#include "pattern.h"
#include "xfer.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define AGENT_CTL_PORT 999
#define MAX_CONNS 256

static int io_timeout_s = 60;

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void die(const char *fmt, ...)
{
	va_list ap;

	fputs("hostpeer: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void set_timeouts(int fd)
{
	struct timeval tv = { .tv_sec = io_timeout_s };

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

static int unix_address(const char *path, struct sockaddr_un *addr)
{
	memset(addr, 0, sizeof(*addr));
	addr->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(addr->sun_path))
		return -1;
	strcpy(addr->sun_path, path);
	return 0;
}

/* Returns a connected socket of type or -1 with a reason in err. */
static int unix_connect_type(const char *path, int type, char *err, size_t errlen)
{
	struct sockaddr_un addr;
	int fd;

	if (unix_address(path, &addr) < 0) {
		snprintf(err, errlen, "path too long: %s", path);
		return -1;
	}
	fd = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		snprintf(err, errlen, "connect %s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	set_timeouts(fd);
	return fd;
}

/* Room for the largest seqpacket message in one send (the default buffer is smaller). */
static void seq_buffer(int fd)
{
	int size = 2 * XFER_SEQ_MAX;

	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
}

static int unix_connect(const char *path, char *err, size_t errlen)
{
	return unix_connect_type(path, SOCK_STREAM, err, errlen);
}

static int unix_listen(const char *path, int type)
{
	struct sockaddr_un addr;
	int fd = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);

	if (fd < 0 || unix_address(path, &addr) < 0)
		die("listen %s: bad path or no socket", path);
	unlink(path); /* a stale socket from an earlier run of the same test */
	if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 || listen(fd, MAX_CONNS) < 0)
		die("listen %s: %s", path, strerror(errno));
	return fd;
}

/* Sends "CONNECT <port>\n" plus `extra` bytes in one write, then requires "OK <port>". */
static int hybrid_connect_with(const char *uds, unsigned port, const void *extra,
			       size_t extra_len, char *err, size_t errlen)
{
	char line[64], want[32];
	uint8_t first[4096 + 64];
	int fd = unix_connect(uds, err, errlen);
	int n;

	if (fd < 0)
		return -1;
	if (extra_len > sizeof(first) - 64) {
		snprintf(err, errlen, "%zu bytes after the CONNECT line is too many", extra_len);
		goto fail;
	}
	n = snprintf((char *)first, 64, "CONNECT %u\n", port);
	if (extra_len > 0)
		memcpy(first + n, extra, extra_len);
	snprintf(want, sizeof(want), "OK %u", port);
	if (xfer_write_all(fd, first, (size_t)n + extra_len, err, errlen) < 0 ||
	    xfer_read_line(fd, line, sizeof(line), err, errlen) < 0)
		goto fail;
	if (strcmp(line, want) != 0) {
		snprintf(err, errlen, "CONNECT %u answered \"%s\", want \"%s\"", port, line, want);
		goto fail;
	}
	return fd;
fail:
	close(fd);
	return -1;
}

static int hybrid_connect(const char *uds, unsigned port, char *err, size_t errlen)
{
	return hybrid_connect_with(uds, port, NULL, 0, err, errlen);
}

static uint64_t parse_size(const char *s)
{
	char *end;
	unsigned long long v = strtoull(s, &end, 10);

	switch (*end) {
	case 'K': v <<= 10; end++; break;
	case 'M': v <<= 20; end++; break;
	case 'G': v <<= 30; end++; break;
	}
	if (*end || end == s)
		die("bad size '%s'", s);
	return v;
}

static unsigned parse_uint(const char *s, unsigned max)
{
	char *end;
	unsigned long v = strtoul(s, &end, 10);

	if (*end || end == s || v > max)
		die("bad number '%s'", s);
	return (unsigned)v;
}

/* One connection of a multi-connection scenario, run on its own thread. */
struct job {
	pthread_t thread;
	const char *uds;
	unsigned port;
	bool coalesce;
	int fd; /* g2h: the accepted connection */
	struct xfer_params params;
	struct xfer_params got; /* g2h: what the guest announced */
	int rc;
	char err[300];
};

static void *h2g_job(void *arg)
{
	struct job *j = arg;
	int fd;

	if (!j->coalesce) {
		fd = hybrid_connect(j->uds, j->port, j->err, sizeof(j->err));
		j->rc = fd < 0 ? -1 : xfer_run_sender(fd, &j->params, j->err, sizeof(j->err));
	} else {
		/* The CONNECT line, the header and the first data share one write. */
		uint8_t first[XFER_HEADER_SIZE + 4000];
		uint64_t head = j->params.len < 4000 ? j->params.len : 4000;

		xfer_encode_header(&j->params, first);
		pattern_fill(j->params.seed, 0, first + XFER_HEADER_SIZE, (size_t)head);
		fd = hybrid_connect_with(j->uds, j->port, first, XFER_HEADER_SIZE + (size_t)head,
					 j->err, sizeof(j->err));
		j->rc = fd < 0 ? -1 :
			xfer_send_pattern(fd, j->params.seed, head, j->params.len, j->err,
					  sizeof(j->err));
		if (j->rc == 0)
			j->rc = xfer_finish_sender(fd, &j->params, j->err, sizeof(j->err));
	}
	if (fd >= 0)
		close(fd);
	return NULL;
}

static void *g2h_job(void *arg)
{
	struct job *j = arg;

	j->rc = xfer_run_receiver(j->fd, &j->got, j->err, sizeof(j->err));
	j->params = j->got; /* for the byte count in report_jobs */
	close(j->fd);
	return NULL;
}

static int report_jobs(const char *name, struct job *jobs, unsigned n, double start)
{
	unsigned failed = 0;
	uint64_t bytes = 0;
	double secs = now_s() - start;

	for (unsigned i = 0; i < n; i++) {
		if (jobs[i].rc != 0) {
			fprintf(stderr, "%s: connection %u: %s\n", name, i, jobs[i].err);
			failed++;
		} else {
			bytes += jobs[i].params.len + jobs[i].params.reply_len;
		}
	}
	printf("%s: %u of %u connections ok, %" PRIu64 " bytes checked in %.2f s (%.1f MiB/s)\n",
	       name, n - failed, n, bytes, secs, (double)bytes / (1 << 20) / secs);
	return failed ? 1 : 0;
}

static int cmd_h2g(const char *uds, unsigned port, unsigned n, uint64_t len, uint64_t reply_len,
		   bool coalesce)
{
	struct job *jobs = calloc(n, sizeof(*jobs));
	double start = now_s();
	int rc;

	if (!jobs)
		die("out of memory");
	for (unsigned i = 0; i < n; i++) {
		jobs[i] = (struct job){ .uds = uds, .port = port, .coalesce = coalesce,
					.params = { .seed = 1000 + i, .len = len,
						    .reply_len = reply_len } };
		if (pthread_create(&jobs[i].thread, NULL, h2g_job, &jobs[i]) != 0)
			die("pthread_create failed");
	}
	for (unsigned i = 0; i < n; i++)
		pthread_join(jobs[i].thread, NULL);
	rc = report_jobs(coalesce ? "h2g (data in the CONNECT write)" : "h2g", jobs, n, start);
	free(jobs);
	return rc;
}

/* Sends one command to the guest agent; returns the connection, reply still unread. */
static int agent_command(const char *uds, const char *command)
{
	char err[300];
	int fd = hybrid_connect(uds, AGENT_CTL_PORT, err, sizeof(err));

	if (fd < 0)
		die("agent control channel: %s", err);
	if (xfer_write_all(fd, command, strlen(command), err, sizeof(err)) < 0 ||
	    xfer_write_all(fd, "\n", 1, err, sizeof(err)) < 0)
		die("agent control channel: %s", err);
	return fd;
}

static void agent_reply(int fd, char *line, size_t size)
{
	char err[300];

	if (xfer_read_line(fd, line, size, err, sizeof(err)) < 0)
		die("agent reply: %s", err);
	close(fd);
}

/* Accepts n connections from the guest, each checked on its own thread. */
static int accept_jobs(int lfd, struct job *jobs, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		struct pollfd p = { .fd = lfd, .events = POLLIN };
		int r = poll(&p, 1, io_timeout_s * 1000);

		if (r <= 0) {
			fprintf(stderr, "g2h: only %u of %u guest connections arrived\n", i, n);
			return (int)i;
		}
		jobs[i].fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (jobs[i].fd < 0)
			die("accept: %s", strerror(errno));
		set_timeouts(jobs[i].fd);
		if (pthread_create(&jobs[i].thread, NULL, g2h_job, &jobs[i]) != 0)
			die("pthread_create failed");
	}
	return (int)n;
}

static int cmd_g2h(const char *uds, unsigned port, unsigned n, uint64_t len, uint64_t reply_len)
{
	const uint32_t seed = 5000;
	struct job *jobs = calloc(n, sizeof(*jobs));
	char path[sizeof(((struct sockaddr_un *)0)->sun_path) + 16], command[128], line[512];
	bool seen[MAX_CONNS] = { false };
	double start = now_s();
	int lfd, ctl, accepted, rc;

	if (!jobs)
		die("out of memory");
	snprintf(path, sizeof(path), "%s_%u", uds, port);
	lfd = unix_listen(path, SOCK_STREAM);
	snprintf(command, sizeof(command), "send %u %u %" PRIu64 " %" PRIu64 " %u", port, n, len,
		 reply_len, seed);
	ctl = agent_command(uds, command);
	accepted = accept_jobs(lfd, jobs, n);
	for (int i = 0; i < accepted; i++)
		pthread_join(jobs[i].thread, NULL);
	agent_reply(ctl, line, sizeof(line));
	close(lfd);
	unlink(path);

	rc = report_jobs("g2h", jobs, (unsigned)accepted, start);
	for (int i = 0; i < accepted; i++) {
		struct xfer_params *g = &jobs[i].got;

		if (jobs[i].rc != 0)
			continue;
		if (g->len != len || g->reply_len != reply_len || g->seed < seed ||
		    g->seed >= seed + n || seen[g->seed - seed]) {
			fprintf(stderr, "g2h: connection %d announced seed %u, %" PRIu64
				" bytes, reply %" PRIu64 "\n", i, g->seed, g->len, g->reply_len);
			rc = 1;
		} else {
			seen[g->seed - seed] = true;
		}
	}
	printf("g2h: guest agent says \"%s\"\n", line);
	if (strncmp(line, "ok", 2) != 0 || accepted != (int)n)
		rc = 1;
	free(jobs);
	return rc;
}

/* SEQPACKET host to guest: "CONNECT port\n" on <uds>_seqpacket as one message, "OK
 * port\n" back as one, then each message of the size list echoed by the guest agent. */
static int cmd_seq_h2g(const char *uds, unsigned port, const char *sizes)
{
	char path[sizeof(((struct sockaddr_un *)0)->sun_path) + 16], err[300], line[64], want[64];
	int fd, n;
	ssize_t got;

	snprintf(path, sizeof(path), "%s_seqpacket", uds);
	fd = unix_connect_type(path, SOCK_SEQPACKET, err, sizeof(err));
	if (fd < 0)
		die("%s", err);
	seq_buffer(fd);
	n = snprintf(line, sizeof(line), "CONNECT %u\n", port);
	if (send(fd, line, (size_t)n, 0) != n)
		die("CONNECT: %s", strerror(errno));
	n = snprintf(want, sizeof(want), "OK %u\n", port);
	got = recv(fd, line, sizeof(line), MSG_TRUNC);
	if (got != n || memcmp(line, want, (size_t)n) != 0)
		die("the answer to CONNECT is not one \"OK %u\" message (%zd bytes)", port, got);
	if (xfer_seq_check(fd, sizes, 7000, err, sizeof(err)) < 0)
		die("seq-h2g: %s", err);
	printf("seq-h2g: every message came back whole\n");
	close(fd);
	return 0;
}

/* SEQPACKET guest to host: the guest agent connects to <uds>_port and sends the messages
 * of the size list, which this side echoes; the agent checks them. */
static int cmd_seq_g2h(const char *uds, unsigned port, const char *sizes)
{
	char path[sizeof(((struct sockaddr_un *)0)->sun_path) + 16], command[300], line[512];
	char err[300];
	struct pollfd p;
	int lfd, ctl, fd;

	snprintf(path, sizeof(path), "%s_%u", uds, port);
	lfd = unix_listen(path, SOCK_SEQPACKET);
	snprintf(command, sizeof(command), "seqsend %u 8000 %s", port, sizes);
	ctl = agent_command(uds, command);
	p = (struct pollfd){ .fd = lfd, .events = POLLIN };
	if (poll(&p, 1, io_timeout_s * 1000) <= 0)
		die("seq-g2h: the guest did not connect");
	fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0)
		die("accept: %s", strerror(errno));
	set_timeouts(fd);
	seq_buffer(fd);
	if (xfer_seq_echo(fd, err, sizeof(err)) < 0)
		die("seq-g2h: %s", err);
	close(fd);
	agent_reply(ctl, line, sizeof(line));
	close(lfd);
	unlink(path);
	printf("seq-g2h: guest agent says \"%s\"\n", line);
	return strcmp(line, "ok") == 0 ? 0 : 1;
}

/* Host side of a refused connect: the daemon must close without writing anything. */
static int cmd_refused_host(const char *uds, unsigned port)
{
	char err[300], line[64], c;
	double start = now_s();
	ssize_t n;
	int fd = unix_connect(uds, err, sizeof(err));

	if (fd < 0)
		die("%s", err);
	snprintf(line, sizeof(line), "CONNECT %u\n", port);
	if (xfer_write_all(fd, line, strlen(line), err, sizeof(err)) < 0)
		die("%s", err);
	n = recv(fd, &c, 1, 0);
	printf("refused-host: CONNECT %u -> %s after %.3f s\n", port,
	       n == 0 ? "EOF" : n > 0 ? "data" : strerror(errno), now_s() - start);
	close(fd);
	return n == 0 || (n < 0 && errno == ECONNRESET) ? 0 : 1;
}

/* Guest side of a refused connect: ECONNRESET, quickly (not the 2 s connect timeout). */
static int cmd_refused_guest(const char *uds, unsigned port)
{
	char command[64], line[128], errname[32];
	long ms;
	int fd;

	snprintf(command, sizeof(command), "refused %u", port);
	fd = agent_command(uds, command);
	agent_reply(fd, line, sizeof(line));
	printf("refused-guest: guest connect to port %u: %s\n", port, line);
	if (sscanf(line, "errno=%31s ms=%ld", errname, &ms) != 2)
		return 1;
	return strcmp(errname, "ECONNRESET") == 0 && ms < 1000 ? 0 : 1;
}

static int cmd_ctl(const char *uds, const char *command)
{
	char line[512];

	agent_reply(agent_command(uds, command), line, sizeof(line));
	printf("%s\n", line);
	return strncmp(line, "ok", 2) == 0 ? 0 : 1;
}

/* Opens a connection, says "connected" on stdout, then requires the daemon to close it
 * (for the front-end disconnect test): EOF or ECONNRESET within the timeout. */
static int cmd_hold(const char *uds, unsigned port)
{
	char err[300], c;
	ssize_t n;
	int fd = hybrid_connect(uds, port, err, sizeof(err));

	if (fd < 0)
		die("%s", err);
	printf("connected\n");
	fflush(stdout);
	n = recv(fd, &c, 1, 0);
	fprintf(stderr, "hold: %s\n", n == 0 ? "EOF" : n > 0 ? "unexpected data" : strerror(errno));
	return n == 0 || (n < 0 && errno == ECONNRESET) ? 0 : 1;
}

static void demo_say(int fd, const char *message)
{
	char line[512], err[300];

	printf("[host] sending to the guest: \"%s\"\n", message);
	fflush(stdout);
	if (xfer_write_all(fd, message, strlen(message), err, sizeof(err)) < 0 ||
	    xfer_write_all(fd, "\n", 1, err, sizeof(err)) < 0 ||
	    xfer_read_line(fd, line, sizeof(line), err, sizeof(err)) < 0)
		die("%s", err);
	printf("[host] the guest answered: \"%s\"\n", line);
	fflush(stdout);
}

/* The demo's host application: host->guest over CONNECT, then guest->host over uds_PORT. */
static int cmd_demo(const char *uds, unsigned port, unsigned callback)
{
	char path[sizeof(((struct sockaddr_un *)0)->sun_path) + 16], err[300], line[512];
	char message[128];
	int lfd, fd, gfd;

	snprintf(path, sizeof(path), "%s_%u", uds, callback);
	lfd = unix_listen(path, SOCK_STREAM);
	printf("[host] listening on %s for connections the guest makes to port %u\n", path,
	       callback);
	printf("[host] connecting to %s and sending \"CONNECT %u\"\n", uds, port);
	fflush(stdout);
	fd = hybrid_connect(uds, port, err, sizeof(err));
	if (fd < 0)
		die("%s", err);
	printf("[host] the daemon answered \"OK %u\": connected to the guest's port %u\n", port,
	       port);
	demo_say(fd, "hello guest, this is the host");
	snprintf(message, sizeof(message), "call me back on port %u", callback);
	demo_say(fd, message);

	struct pollfd p = { .fd = lfd, .events = POLLIN };
	if (poll(&p, 1, io_timeout_s * 1000) <= 0)
		die("the guest did not connect to %s", path);
	gfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	if (gfd < 0)
		die("accept: %s", strerror(errno));
	set_timeouts(gfd);
	printf("[host] the guest connected to %s\n", path);
	if (xfer_read_line(gfd, line, sizeof(line), err, sizeof(err)) < 0)
		die("%s", err);
	printf("[host] received from the guest: \"%s\"\n", line);
	snprintf(message, sizeof(message), "hello guest, the host got your call\n");
	if (xfer_write_all(gfd, message, strlen(message), err, sizeof(err)) < 0)
		die("%s", err);
	printf("[host] answered the guest\n");
	close(gfd);
	close(fd);
	close(lfd);
	unlink(path);
	return 0;
}

static void usage(void)
{
	fputs("usage: hostpeer h2g UDS PORT NCONN LEN REPLY_LEN [coalesce]\n"
	      "       hostpeer g2h UDS PORT NCONN LEN REPLY_LEN\n"
	      "       hostpeer seq-h2g UDS PORT SIZES | seq-g2h UDS PORT SIZES\n"
	      "       hostpeer refused-host UDS PORT | refused-guest UDS PORT\n"
	      "       hostpeer hold UDS PORT | ctl UDS COMMAND\n"
	      "       hostpeer demo UDS PORT CALLBACK_PORT\n"
	      "sizes take K, M or G suffixes\n", stderr);
	exit(2);
}

int main(int argc, char **argv)
{
	const char *timeout = getenv("HOSTPEER_TIMEOUT");

	signal(SIGPIPE, SIG_IGN);
	if (timeout)
		io_timeout_s = (int)parse_uint(timeout, 3600);
	if (argc < 4)
		usage();
	const char *cmd = argv[1], *uds = argv[2];

	if (strcmp(cmd, "h2g") == 0 && (argc == 7 || (argc == 8 && !strcmp(argv[7], "coalesce"))))
		return cmd_h2g(uds, parse_uint(argv[3], UINT32_MAX), parse_uint(argv[4], MAX_CONNS),
			       parse_size(argv[5]), parse_size(argv[6]), argc == 8);
	if (strcmp(cmd, "g2h") == 0 && argc == 7)
		return cmd_g2h(uds, parse_uint(argv[3], UINT32_MAX), parse_uint(argv[4], MAX_CONNS),
			       parse_size(argv[5]), parse_size(argv[6]));
	if (strcmp(cmd, "seq-h2g") == 0 && argc == 5)
		return cmd_seq_h2g(uds, parse_uint(argv[3], UINT32_MAX), argv[4]);
	if (strcmp(cmd, "seq-g2h") == 0 && argc == 5)
		return cmd_seq_g2h(uds, parse_uint(argv[3], UINT32_MAX), argv[4]);
	if (strcmp(cmd, "refused-host") == 0 && argc == 4)
		return cmd_refused_host(uds, parse_uint(argv[3], UINT32_MAX));
	if (strcmp(cmd, "refused-guest") == 0 && argc == 4)
		return cmd_refused_guest(uds, parse_uint(argv[3], UINT32_MAX));
	if (strcmp(cmd, "hold") == 0 && argc == 4)
		return cmd_hold(uds, parse_uint(argv[3], UINT32_MAX));
	if (strcmp(cmd, "ctl") == 0 && argc == 4)
		return cmd_ctl(uds, argv[3]);
	if (strcmp(cmd, "demo") == 0 && argc == 5)
		return cmd_demo(uds, parse_uint(argv[3], UINT32_MAX),
				parse_uint(argv[4], UINT32_MAX));
	usage();
}
