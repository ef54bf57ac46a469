/* The peer's handshake client: hybrid-vsock CONNECTs, in_flight at a time,
 * each one done when its "OK ...\n" line arrives (then it is closed and the
 * next one starts).  The same client measures the baseline server. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "bench.h"
#include "bench_peer.h"

#define MAX_IN_FLIGHT 64u
#define LINE_CAP 64u

struct hs_slot {
	int fd;
	unsigned len;
	char line[LINE_CAP];
};

static int hs_open(const struct peer_cmd *cmd, const struct sockaddr_un *sa,
		   struct hs_slot *s)
{
	char req[32];
	int len = snprintf(req, sizeof(req), "CONNECT %u\n", cmd->port);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	/* Blocking connect and write, as a simple client does: the listener
	 * accepts on its own and the line fits any socket buffer. */
	if (connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) < 0 ||
	    send(fd, req, (size_t)len, MSG_NOSIGNAL) != len) {
		int err = -errno;

		close(fd);
		return err ? err : -EIO;
	}
	s->fd = fd;
	s->len = 0;
	return 0;
}

/* Reads what arrived.  Returns 1 when the OK line is complete, 0 if more
 * is needed, or -errno (-ECONNREFUSED: closed or answered without OK). */
static int hs_read(struct hs_slot *s)
{
	ssize_t n = recv(s->fd, s->line + s->len, LINE_CAP - 1 - s->len, MSG_DONTWAIT);

	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : -errno;
	if (n == 0)
		return -ECONNREFUSED;
	s->len += (unsigned)n;
	s->line[s->len] = '\0';
	if (!strchr(s->line, '\n'))
		return s->len == LINE_CAP - 1 ? -EPROTO : 0;
	return strncmp(s->line, "OK ", 3) == 0 ? 1 : -ECONNREFUSED;
}

int peer_handshake(const struct peer_cmd *cmd, int timeout_ms,
		   struct peer_reply *r)
{
	struct hs_slot slots[MAX_IN_FLIGHT];
	struct pollfd pfds[MAX_IN_FLIGHT];
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	unsigned active = 0, started = 0;
	uint64_t t0 = bench_now_ns();
	int err = 0;

	if (cmd->in_flight == 0 || cmd->in_flight > MAX_IN_FLIGHT ||
	    strnlen(cmd->path, sizeof(cmd->path)) >= sizeof(sa.sun_path))
		return -EINVAL;
	memcpy(sa.sun_path, cmd->path, strlen(cmd->path) + 1);
	while (!err && active < cmd->in_flight && started < cmd->count) {
		err = hs_open(cmd, &sa, &slots[active]);
		active += !err;
		started += !err;
	}
	while (!err && active) {
		int ready;

		for (unsigned i = 0; i < active; i++)
			pfds[i] = (struct pollfd){.fd = slots[i].fd, .events = POLLIN};
		ready = poll(pfds, active, timeout_ms);
		if (ready <= 0) {
			err = ready == 0 ? -ETIMEDOUT : errno == EINTR ? 0 : -errno;
			continue;
		}
		/* Backwards, so a finished slot can take the last one's place. */
		for (unsigned i = active; i-- > 0 && !err;) {
			int rc = pfds[i].revents ? hs_read(&slots[i]) : 0;

			if (rc <= 0) {
				err = rc;
				continue;
			}
			close(slots[i].fd);
			r->count++;
			if (started < cmd->count && !(err = hs_open(cmd, &sa, &slots[i]))) {
				started++;
				continue;
			}
			slots[i] = slots[--active];
		}
	}
	r->elapsed_ns = bench_now_ns() - t0;
	for (unsigned i = 0; i < active; i++)
		close(slots[i].fd);
	return err;
}
