/* What moving guest memory into a host AF_UNIX stream costs the sender, per
 * GiB, by the two ways a daemon can do it, against the copy floor:
 *   send_copy_*    sendmsg() from the guest pages: the kernel copies them
 *                  into the socket (what the daemon does);
 *   send_splice_*  vmsplice() of the pages into a pipe and splice() into
 *                  the socket, which attaches them without copying (Linux
 *                  >= 6.5), plus the SIOCOUTQ a daemon must read to learn
 *                  when the reader is done with them (before that, the TX
 *                  buffer must not go back to the guest).
 * At 4 KiB and 64 KiB pieces (a guest's small and largest TX packets), and
 * 1 MiB for splice (the best batching a daemon could do), from
 * a 256 MiB shared memfd mapping as guest RAM is, cache-cold; a forked child
 * drains the socket.  No daemon takes part: the figures bound what any
 * daemon could do on this machine. */
#include <errno.h>
#include <fcntl.h>
#include <linux/sockios.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"
#include "bench_report.h"

#define GUEST_RAM (256u << 20)

enum send_path { PATH_COPY, PATH_SPLICE };

/* A child that reads and drops everything from sv[1] until EOF. */
static pid_t start_reader(const int sv[2])
{
	pid_t pid = fork();
	static char buf[1u << 20];

	if (pid != 0)
		return pid;
	close(sv[0]);
	while (read(sv[1], buf, sizeof(buf)) > 0)
		;
	_exit(0);
}

static int send_copy(int sock, const char *p, size_t len)
{
	while (len) {
		ssize_t n = send(sock, p, len, MSG_NOSIGNAL);

		if (n < 0)
			return -errno;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int send_splice(int sock, const int pipe_fds[2], const char *p, size_t len)
{
	struct iovec iov = {(void *)p, len};
	int outq;

	while (iov.iov_len) {
		ssize_t in = vmsplice(pipe_fds[1], &iov, 1, 0), out;

		if (in <= 0)
			return in < 0 ? -errno : -EIO;
		iov.iov_base = (char *)iov.iov_base + in;
		iov.iov_len -= (size_t)in;
		for (; in > 0; in -= out) {
			out = splice(pipe_fds[0], NULL, sock, NULL, (size_t)in, 0);
			if (out <= 0)
				return out < 0 ? -errno : -EIO;
		}
	}
	return ioctl(sock, SIOCOUTQ, &outq) < 0 ? -errno : 0;
}

/* Sender CPU seconds per GiB of bytes sent in pieces from ram; < 0: -errno. */
static double measure(enum send_path path, const char *ram, size_t piece, uint64_t bytes)
{
	int sv[2], pipe_fds[2] = {-1, -1}, err = 0;
	pid_t reader;
	double t0;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	reader = start_reader(sv);
	close(sv[1]);
	if (reader < 0 || pipe2(pipe_fds, O_CLOEXEC) < 0 ||
	    fcntl(pipe_fds[1], F_SETPIPE_SZ, (int)piece) < 0)
		err = -errno;
	t0 = bench_cpu_s(CLOCK_THREAD_CPUTIME_ID);
	for (uint64_t done = 0; !err && done < bytes; done += piece) {
		const char *p = ram + done % GUEST_RAM;

		err = path == PATH_COPY ? send_copy(sv[0], p, piece)
					: send_splice(sv[0], pipe_fds, p, piece);
	}
	t0 = bench_cpu_s(CLOCK_THREAD_CPUTIME_ID) - t0;
	close(sv[0]);
	if (pipe_fds[0] >= 0)
		close(pipe_fds[0]);
	if (pipe_fds[1] >= 0)
		close(pipe_fds[1]);
	if (reader > 0)
		waitpid(reader, NULL, 0);
	return err ? err : t0 / ((double)bytes / (1u << 30));
}

int bench_send_paths(struct bench_ctx *ctx)
{
	static const struct {
		const char *name;
		enum send_path path;
		size_t piece;
	} cases[] = {
		{"send_copy_4k", PATH_COPY, 4096},
		{"send_copy_64k", PATH_COPY, 65536},
		{"send_splice_4k", PATH_SPLICE, 4096},
		{"send_splice_64k", PATH_SPLICE, 65536},
		/* Sixteen 64 KiB packets of one connection in one splice: the
		 * most a daemon could batch. */
		{"send_splice_1m", PATH_SPLICE, 1u << 20},
	};
	uint64_t bytes = ctx->cfg->quick ? 64u << 20 : 512u << 20;
	int fd = memfd_create("bench-guest-ram", MFD_CLOEXEC), first_err = 0;
	char *ram = MAP_FAILED;

	if (!bench_wanted(ctx, "send_"))
		return 0;
	if (fd >= 0 && ftruncate(fd, GUEST_RAM) == 0)
		ram = mmap(NULL, GUEST_RAM, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (fd >= 0)
		close(fd);
	if (ram == MAP_FAILED) {
		first_err = -errno;
		fprintf(stderr, "vsock-bench: guest RAM for send paths: %s\n",
			strerror(errno));
		for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
			report_fail(cases[i].name, "s/GiB");
		return first_err;
	}
	memset(ram, 0x5a, GUEST_RAM);
	for (unsigned r = 0; r < ctx->cfg->runs; r++) {
		double floor = bench_copy_floor(bytes);

		for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
			double s = measure(cases[i].path, ram, cases[i].piece, bytes);

			if (s < 0 || floor < 0) {
				fprintf(stderr, "vsock-bench: %s: %s\n", cases[i].name,
					s < 0 ? strerror((int)-s) : "no copy floor");
				report_fail(cases[i].name, "s/GiB");
				first_err = first_err ? first_err : -EIO;
				continue;
			}
			report_add(cases[i].name, "s/GiB", FIG_COST, SIDE_OURS, s);
			report_add(cases[i].name, "s/GiB", FIG_COST, SIDE_BASE, floor);
		}
	}
	munmap(ram, GUEST_RAM);
	return first_err;
}
