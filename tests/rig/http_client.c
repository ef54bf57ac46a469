#include "http_client.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

static int connect_to(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

/* Waits until fd is ready for events or the deadline passes. */
static int wait_fd(int fd, short events, long long deadline)
{
	struct pollfd p = {.fd = fd, .events = events};
	long long left = deadline - now_ms();
	int rc;

	if (left <= 0)
		return -ETIMEDOUT;
	rc = poll(&p, 1, (int)left);
	return rc > 0 ? 0 : rc == 0 ? -ETIMEDOUT : -errno;
}

static int send_all(int fd, const char *buf, size_t len, long long deadline)
{
	while (len) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0 && errno == EAGAIN) {
			int rc = wait_fd(fd, POLLOUT, deadline);

			if (rc < 0)
				return rc;
			continue;
		}
		if (n < 0)
			return -errno;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Reads until EOF into a malloc'd, NUL-terminated buffer. */
static int read_all(int fd, char **out, size_t *out_len, long long deadline)
{
	size_t len = 0, cap = 4096;
	char *buf = malloc(cap + 1);

	if (!buf)
		return -ENOMEM;
	for (;;) {
		ssize_t n;
		int rc = wait_fd(fd, POLLIN, deadline);

		if (rc < 0) {
			free(buf);
			return rc;
		}
		if (len == cap) {
			char *bigger = realloc(buf, 2 * cap + 1);

			if (!bigger) {
				free(buf);
				return -ENOMEM;
			}
			buf = bigger;
			cap *= 2;
		}
		n = recv(fd, buf + len, cap - len, MSG_DONTWAIT);
		if (n == 0)
			break;
		if (n < 0 && errno == EAGAIN)
			continue;
		if (n < 0) {
			/* A server that refused the body may reset us after
			 * its answer: keep what came. */
			if (errno == ECONNRESET && len)
				break;
			free(buf);
			return -errno;
		}
		len += (size_t)n;
	}
	buf[len] = '\0';
	*out = buf;
	*out_len = len;
	return 0;
}

struct http_reply http_raw(const char *path, const char *raw, size_t raw_len, int timeout_ms)
{
	struct http_reply r = {.status = -EIO};
	long long deadline = now_ms() + timeout_ms;
	char *text = NULL, *split;
	size_t len = 0;
	int fd = connect_to(path), rc;

	if (fd < 0) {
		r.status = fd;
		return r;
	}
	rc = send_all(fd, raw, raw_len, deadline);
	/* The server may answer before it read everything (413). */
	if (rc < 0 && rc != -EPIPE && rc != -ECONNRESET) {
		close(fd);
		r.status = rc;
		return r;
	}
	rc = read_all(fd, &text, &len, deadline);
	close(fd);
	if (rc < 0) {
		r.status = rc;
		return r;
	}
	split = strstr(text, "\r\n\r\n");
	if (!split || sscanf(text, "HTTP/1.%*d %d", &r.status) != 1) {
		free(text);
		r.status = -EPROTO;
		return r;
	}
	*split = '\0';
	r.head = text;
	r.body_len = len - (size_t)(split + 4 - text);
	r.body = malloc(r.body_len + 1);
	if (r.body) {
		memcpy(r.body, split + 4, r.body_len);
		r.body[r.body_len] = '\0';
	}
	return r;
}

struct http_reply http_request(const char *path, const char *method, const char *url,
			       const char *body, int timeout_ms)
{
	size_t body_len = body ? strlen(body) : 0;
	char *raw = NULL;
	int n = asprintf(&raw, "%s %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
			 "Content-Length: %zu\r\n\r\n%s", method, url, body_len, body ? body : "");
	struct http_reply r;

	if (n < 0)
		return (struct http_reply){.status = -ENOMEM};
	r = http_raw(path, raw, (size_t)n, timeout_ms);
	free(raw);
	return r;
}

const char *http_header(const struct http_reply *r, const char *name, char *buf, size_t size)
{
	size_t name_len = strlen(name);

	for (const char *line = r->head ? strstr(r->head, "\r\n") : NULL; line;
	     line = strstr(line, "\r\n")) {
		line += 2;
		if (strncasecmp(line, name, name_len) == 0 && line[name_len] == ':') {
			const char *v = line + name_len + 1;
			size_t n = strcspn(v += strspn(v, " "), "\r\n");

			snprintf(buf, size, "%.*s", (int)n, v);
			return buf;
		}
	}
	return NULL;
}

void http_reply_free(struct http_reply *r)
{
	free(r->head);
	free(r->body);
	r->head = r->body = NULL;
}
