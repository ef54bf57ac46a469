/* Fuzzes the API's request handling (src/api*.c) end to end: each input is
 * the bytes a client sends on one connection to a live API server (its
 * libmicrohttpd thread, routes, JSON bodies, --vm validation).  The server
 * serves no VM and has no descriptors to spare (open-file limit 0), so a
 * PUT that passes every check is refused by its budget before any device
 * or socket is made.  Whatever comes, what the server sends back must be
 * HTTP, and the next client's well-formed request must be answered at
 * once. */
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "api.h"
#include "fuzz_input.h"
#include "unix_sock.h"
#include "vm_registry.h"

static struct vm_registry reg;
static struct daemon_config cfg;
static struct unix_listener listener = {.fd = -1};
static char dir[] = "/tmp/fuzz-api-XXXXXX";
static char path[64];

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const struct unix_perm perm = {.mode = 0600};

	(void)argc;
	(void)argv;
	FUZZ_CHECK(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/api.sock", dir);
	cfg.api_socket = path;
	FUZZ_CHECK(unix_listener_open(&listener, path, 16, &perm) == 0);
	vm_registry_init(&reg, NULL, &cfg, 0);
	FUZZ_CHECK(api_start(listener.fd, &reg));
	return 0;
}

static int client(void)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	FUZZ_CHECK(fd >= 0);
	strcpy(sa.sun_path, path);
	FUZZ_CHECK(connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	return fd;
}

/* Waits up to ms for fd. */
static bool ready(int fd, short events, int ms)
{
	struct pollfd p = {.fd = fd, .events = events};

	return poll(&p, 1, ms) == 1;
}

/* Sends what it can of data[0..size), then reads the answer until the
 * server closes or ms pass; returns the bytes received (the first few in
 * head). */
static size_t exchange(const uint8_t *data, size_t size, int ms, char *head, size_t head_len)
{
	size_t got = 0, sent = 0;
	int fd = client();

	while (sent < size && ready(fd, POLLOUT, ms)) {
		ssize_t n = send(fd, data + sent, size - sent, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0 && errno == EAGAIN)
			continue;
		if (n < 0)
			break; /* the server answered (or gave up) before reading it all */
		sent += (size_t)n;
	}
	shutdown(fd, SHUT_WR);
	while (ready(fd, POLLIN, ms)) {
		char buf[4096];
		ssize_t n = recv(fd, buf, sizeof(buf), 0);

		if (n <= 0)
			break;
		if (got < head_len)
			memcpy(head + got, buf,
			       (size_t)n < head_len - got ? (size_t)n : head_len - got);
		got += (size_t)n;
	}
	close(fd);
	return got;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char probe[] = "GET /vms HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
	char head[16];
	size_t got;

	/* A request whose body never comes in full waits for the idle
	 * timeout: not waited for here. */
	got = exchange(data, size, 50, head, sizeof(head));
	/* An answer is HTTP; silence is a connection closed or still open. */
	if (got)
		FUZZ_CHECK(got >= 9 && !memcmp(head, "HTTP/1.", 7));
	/* The server still answers a well-formed request at once. */
	got = exchange((const uint8_t *)probe, strlen(probe), 5000, head, sizeof(head));
	FUZZ_CHECK(got >= 12 && !memcmp(head, "HTTP/1.1 200", 12));
	/* No VM could have been added: nothing fits an open-file limit of 0. */
	FUZZ_CHECK(reg.n == 0);
	return 0;
}
