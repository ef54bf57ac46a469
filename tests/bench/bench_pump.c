#include "bench_pump.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>

#include "bench.h"
#include "bench_pattern.h"

/* One read or write call on fd.  Returns 1 on progress, 0 if it would
 * block, or -errno. */
static int pump_once(int fd, bool send_side, uint64_t *off, uint64_t total,
		     uint32_t io_size, uint8_t *buf)
{
	uint64_t left = total - *off;
	/* An application write of io_size bytes, resumed where it stopped. */
	size_t want = io_size - (size_t)(*off % io_size);
	ssize_t n;

	if (want > left)
		want = (size_t)left;
	if (send_side)
		n = send(fd, bench_pattern_at(*off), want, MSG_NOSIGNAL | MSG_DONTWAIT);
	else
		n = recv(fd, buf, want, MSG_DONTWAIT);
	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : -errno;
	if (n == 0)
		return -EPIPE;
	if (!send_side && !bench_pattern_ok(*off, buf, (size_t)n))
		return -EILSEQ;
	*off += (uint64_t)n;
	return 1;
}

static int wait_fds(const int *fds, const uint64_t *off, unsigned n,
		    bool send_side, uint64_t total, int timeout_ms)
{
	struct pollfd pfds[BENCH_MAX_CONNS];
	unsigned k = 0;
	int ready;

	for (unsigned i = 0; i < n; i++)
		if (off[i] < total)
			pfds[k++] = (struct pollfd){
				.fd = fds[i], .events = send_side ? POLLOUT : POLLIN};
	ready = poll(pfds, k, timeout_ms);
	if (ready < 0)
		return errno == EINTR ? 0 : -errno;
	return ready == 0 ? -ETIMEDOUT : 0;
}

int pump_fds(const int *fds, unsigned n, bool send_side, uint64_t bytes_per_conn,
	     uint32_t io_size, int timeout_ms, uint64_t *moved)
{
	uint64_t off[BENCH_MAX_CONNS] = {0};
	uint8_t *buf = NULL;
	unsigned done = 0;
	int err = 0;

	*moved = 0;
	if (n > BENCH_MAX_CONNS || io_size == 0 || io_size > BENCH_IO_MAX)
		return -EINVAL;
	if (!send_side && !(buf = malloc(io_size)))
		return -ENOMEM;
	for (unsigned i = 0; i < n; i++)
		done += bytes_per_conn == 0;
	while (done < n && !err) {
		bool progress = false;

		for (unsigned i = 0; i < n && !err; i++) {
			int rc;

			if (off[i] == bytes_per_conn)
				continue;
			rc = pump_once(fds[i], send_side, &off[i], bytes_per_conn,
				       io_size, buf);
			if (rc < 0)
				err = rc;
			else if (rc > 0)
				progress = true;
			if (rc > 0 && off[i] == bytes_per_conn)
				done++;
		}
		if (!progress && !err && done < n)
			err = wait_fds(fds, off, n, send_side, bytes_per_conn, timeout_ms);
	}
	for (unsigned i = 0; i < n; i++)
		*moved += off[i];
	free(buf);
	return err;
}
