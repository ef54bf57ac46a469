/* The guest side of the real-guest tests and of `make demo`.  Built static, it runs from a
 * busybox initramfs (see tests/guest/init).
 *
 *   guestapp agent   test agent: a receiver on port AGENT_RECV_PORT (host->guest transfers,
 *                    see xfer.h), a seqpacket echo on AGENT_SEQ_PORT, and a command channel
 *                    on AGENT_CTL_PORT that makes the guest open connections to the host,
 *                    one command line and one reply line per connection:
 *                      send PORT NCONN LEN REPLY_LEN SEED  NCONN concurrent transfers to
 *                                                          CID 2 PORT -> "ok N" / "fail ..."
 *                      seqsend PORT SEED SIZES  a seqpacket connection to CID 2 PORT: one
 *                                          message per size (comma-separated), each echoed
 *                                          back -> "ok" / "fail ..."
 *                      refused PORT        connect to CID 2 PORT, report "errno=NAME ms=N"
 *                      reboot              answer "ok", then reboot the guest
 *   guestapp demo PORT
 *                    answers each line a host sends to PORT; "call me back on port N" makes
 *                    it also connect to the host's port N and talk there. */
#include "xfer.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/vm_sockets.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/reboot.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define AGENT_CTL_PORT 999
#define AGENT_RECV_PORT 1000
#define AGENT_SEQ_PORT 1001
#define IO_TIMEOUT_S 120
#define MAX_SEND_CONNS 256

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Console lines carry a prefix the host-side scripts can grep for. */
static void say(const char *fmt, ...)
{
	va_list ap;

	fputs("guestapp: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static void set_timeouts(int fd)
{
	struct timeval tv = { .tv_sec = IO_TIMEOUT_S };

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	/* The default 2 s connect timeout is too short for a loaded TCG guest. */
	setsockopt(fd, AF_VSOCK, SO_VM_SOCKETS_CONNECT_TIMEOUT, &tv, sizeof(tv));
}

static int vsock_listen(unsigned port, int type)
{
	struct sockaddr_vm addr = { .svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_ANY,
				    .svm_port = port };
	int fd = socket(AF_VSOCK, type | SOCK_CLOEXEC, 0);

	if (fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 || listen(fd, 64) < 0) {
		say("listen on port %u: %s", port, strerror(errno));
		exit(1);
	}
	return fd;
}

/* Returns a connected socket, or -1 with errno set. */
static int vsock_connect_type(unsigned cid, unsigned port, int type)
{
	struct sockaddr_vm addr = { .svm_family = AF_VSOCK, .svm_cid = cid, .svm_port = port };
	int fd = socket(AF_VSOCK, type | SOCK_CLOEXEC, 0);
	int saved;

	if (fd < 0)
		return -1;
	set_timeouts(fd);
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0)
		return fd;
	saved = errno;
	close(fd);
	errno = saved;
	return -1;
}

static int vsock_connect(unsigned cid, unsigned port)
{
	return vsock_connect_type(cid, port, SOCK_STREAM);
}

static unsigned local_cid(void)
{
	unsigned cid = VMADDR_CID_ANY;
	int fd = open("/dev/vsock", O_RDONLY | O_CLOEXEC);

	if (fd >= 0) {
		ioctl(fd, IOCTL_VM_SOCKETS_GET_LOCAL_CID, &cid);
		close(fd);
	}
	return cid;
}

static long elapsed_ms(const struct timespec *start)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - start->tv_sec) * 1000 + (now.tv_nsec - start->tv_nsec) / 1000000;
}

static void reply(int fd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void reply(int fd, const char *fmt, ...)
{
	char line[512], err[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n > sizeof(line) - 2)
		n = (int)sizeof(line) - 2;
	line[n++] = '\n';
	if (xfer_write_all(fd, line, (size_t)n, err, sizeof(err)) < 0)
		say("control reply: %s", err);
}

/* One sender child per connection; failures come back as lines on a pipe (each line is
 * shorter than PIPE_BUF, so lines from different children never interleave). */
static void cmd_send(int ctl, unsigned port, unsigned nconn, const struct xfer_params *base)
{
	char err[256], first[300] = "";
	int pipefd[2], failed = 0;

	if (nconn == 0 || nconn > MAX_SEND_CONNS || pipe(pipefd) < 0) {
		reply(ctl, "fail bad connection count %u", nconn);
		return;
	}
	for (unsigned i = 0; i < nconn; i++) {
		pid_t pid = fork();

		if (pid == 0) {
			struct xfer_params p = *base;
			int fd;

			p.seed += i;
			fd = vsock_connect(VMADDR_CID_HOST, port);
			if (fd < 0)
				snprintf(err, sizeof(err), "connect: %s", strerror(errno));
			if (fd < 0 || xfer_run_sender(fd, &p, err, sizeof(err)) < 0) {
				dprintf(pipefd[1], "connection %u: %.200s\n", i, err);
				_exit(1);
			}
			_exit(0);
		}
		if (pid < 0)
			dprintf(pipefd[1], "fork: %s\n", strerror(errno));
	}
	close(pipefd[1]);
	while (wait(NULL) > 0 || errno == EINTR)
		;
	for (;;) {
		char line[300];
		int n = xfer_read_line(pipefd[0], line, sizeof(line), err, sizeof(err));

		if (n < 0)
			break;
		say("send: %s", line);
		if (failed++ == 0)
			snprintf(first, sizeof(first), "%s", line);
	}
	close(pipefd[0]);
	if (failed)
		reply(ctl, "fail %d of %u connections failed, first: %s", failed, nconn, first);
	else
		reply(ctl, "ok %u", nconn);
}

static void cmd_seqsend(int ctl, unsigned port, unsigned seed, const char *sizes)
{
	char err[256];
	int fd = vsock_connect_type(VMADDR_CID_HOST, port, SOCK_SEQPACKET);

	if (fd < 0) {
		reply(ctl, "fail connect: %s", strerror(errno));
		return;
	}
	if (xfer_seq_check(fd, sizes, seed, err, sizeof(err)) < 0)
		reply(ctl, "fail %s", err);
	else
		reply(ctl, "ok");
	close(fd);
}

static void cmd_refused(int ctl, unsigned port)
{
	struct timespec start;
	int fd, err;

	clock_gettime(CLOCK_MONOTONIC, &start);
	fd = vsock_connect(VMADDR_CID_HOST, port);
	err = errno;
	if (fd >= 0) {
		close(fd);
		reply(ctl, "connected ms=%ld", elapsed_ms(&start));
		return;
	}
	reply(ctl, "errno=%s ms=%ld", strerrorname_np(err) ? strerrorname_np(err) : "?",
	      elapsed_ms(&start));
}

static void handle_control(int ctl)
{
	char line[256], err[256];
	unsigned port, nconn;
	unsigned long long len, reply_len;
	unsigned seed;
	char sizes[200];

	if (xfer_read_line(ctl, line, sizeof(line), err, sizeof(err)) < 0) {
		say("control: %s", err);
		return;
	}
	say("command: %s", line);
	if (sscanf(line, "send %u %u %llu %llu %u", &port, &nconn, &len, &reply_len, &seed) == 5) {
		struct xfer_params p = { .seed = seed, .len = len, .reply_len = reply_len };

		cmd_send(ctl, port, nconn, &p);
	} else if (sscanf(line, "seqsend %u %u %199s", &port, &seed, sizes) == 3) {
		cmd_seqsend(ctl, port, seed, sizes);
	} else if (sscanf(line, "refused %u", &port) == 1) {
		cmd_refused(ctl, port);
	} else if (strcmp(line, "reboot") == 0) {
		char c;

		reply(ctl, "ok");
		/* The host closes once it has the reply: rebooting before that
		 * could reset the device with the reply still in its ring. */
		while (read(ctl, &c, 1) > 0)
			;
		close(ctl);
		sync();
		reboot(RB_AUTOBOOT);
		say("reboot: %s", strerror(errno));
	} else {
		reply(ctl, "fail unknown command");
	}
}

static void handle_seq_echo(int fd)
{
	char err[256];

	if (xfer_seq_echo(fd, err, sizeof(err)) < 0)
		say("seqpacket echo: %s", err);
}

static void handle_receive(int fd)
{
	struct xfer_params p = { 0 };
	char err[256];

	if (xfer_run_receiver(fd, &p, err, sizeof(err)) < 0)
		say("receive (seed %u, %llu bytes): %s", p.seed, (unsigned long long)p.len, err);
}

/* Each connection gets its own child, so slow transfers never block the command channel. */
static int run_agent(void)
{
	struct pollfd fds[3] = {
		{ .fd = vsock_listen(AGENT_CTL_PORT, SOCK_STREAM), .events = POLLIN },
		{ .fd = vsock_listen(AGENT_RECV_PORT, SOCK_STREAM), .events = POLLIN },
		{ .fd = vsock_listen(AGENT_SEQ_PORT, SOCK_SEQPACKET), .events = POLLIN },
	};

	signal(SIGCHLD, SIG_IGN); /* children are reaped automatically */
	say("READY cid=%u", local_cid());
	for (;;) {
		if (poll(fds, 3, -1) < 0) {
			if (errno == EINTR)
				continue;
			say("poll: %s", strerror(errno));
			return 1;
		}
		for (int i = 0; i < 3; i++) {
			int conn;

			if (!(fds[i].revents & POLLIN))
				continue;
			conn = accept4(fds[i].fd, NULL, NULL, SOCK_CLOEXEC);
			if (conn < 0) {
				say("accept: %s", strerror(errno));
				continue;
			}
			if (fork() == 0) {
				signal(SIGCHLD, SIG_DFL); /* cmd_send waits for its own children */
				for (int j = 0; j < 3; j++)
					close(fds[j].fd);
				set_timeouts(conn);
				if (i == 0)
					handle_control(conn);
				else if (i == 1)
					handle_receive(conn);
				else
					handle_seq_echo(conn);
				_exit(0);
			}
			close(conn);
		}
	}
}

static void demo_call_host(unsigned port)
{
	char line[256], err[256];
	int fd = vsock_connect(VMADDR_CID_HOST, port);

	if (fd < 0) {
		say("[guest] cannot connect to the host's port %u: %s", port, strerror(errno));
		return;
	}
	say("[guest] connected to the host (CID 2) port %u", port);
	snprintf(line, sizeof(line), "hello host, this is the guest (CID %u) calling port %u\n",
		 local_cid(), port);
	if (xfer_write_all(fd, line, strlen(line), err, sizeof(err)) < 0 ||
	    xfer_read_line(fd, line, sizeof(line), err, sizeof(err)) < 0)
		say("[guest] talking to the host: %s", err);
	else
		say("[guest] the host answered: \"%s\"", line);
	close(fd);
}

static __attribute__((noreturn)) void run_demo(unsigned port)
{
	int lfd = vsock_listen(port, SOCK_STREAM);

	say("[guest] listening on vsock port %u (my CID is %u)", port, local_cid());
	say("READY cid=%u", local_cid());
	for (;;) {
		char line[256], answer[300], err[256];
		unsigned callback;
		int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);

		if (fd < 0)
			continue;
		set_timeouts(fd);
		while (xfer_read_line(fd, line, sizeof(line), err, sizeof(err)) >= 0) {
			say("[guest] received from the host: \"%s\"", line);
			snprintf(answer, sizeof(answer), "the guest got your message: %s\n", line);
			if (xfer_write_all(fd, answer, strlen(answer), err, sizeof(err)) < 0)
				break;
			if (sscanf(line, "call me back on port %u", &callback) == 1)
				demo_call_host(callback);
		}
		close(fd);
	}
}

int main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	setvbuf(stderr, NULL, _IOLBF, 0);
	if (argc == 2 && strcmp(argv[1], "agent") == 0)
		return run_agent();
	if (argc == 3 && strcmp(argv[1], "demo") == 0)
		run_demo((unsigned)strtoul(argv[2], NULL, 10));
	fprintf(stderr, "usage: guestapp agent | guestapp demo PORT\n");
	return 2;
}
