#include "xfer.h"

#include "pattern.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define XFER_RECV_CHUNK (256 * 1024)

/* Write sizes cycle through this list, so streams are cut at odd places too. */
static const size_t write_sizes[] = { 65536, 1, 4096, 200000, 7, 1048576, 12345, 32768 };
#define XFER_MAX_WRITE 1048576

static int fail(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

static const char *io_error(void)
{
	return errno == EAGAIN || errno == EWOULDBLOCK ? "timed out" : strerror(errno);
}

static void put_le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put_le64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_le(const uint8_t *p, int bytes)
{
	uint64_t v = 0;

	for (int i = bytes - 1; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

void xfer_encode_header(const struct xfer_params *p, uint8_t out[XFER_HEADER_SIZE])
{
	put_le32(out, XFER_MAGIC);
	put_le32(out + 4, p->seed);
	put_le64(out + 8, p->len);
	put_le64(out + 16, p->reply_len);
}

int xfer_write_all(int fd, const void *buf, size_t len, char *err, size_t errlen)
{
	const uint8_t *p = buf;

	while (len > 0) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return fail(err, errlen, "send: %s", io_error());
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Reads up to len bytes; 0 means EOF. */
static ssize_t read_some(int fd, void *buf, size_t len)
{
	ssize_t n;

	do
		n = recv(fd, buf, len, 0);
	while (n < 0 && errno == EINTR);
	return n;
}

static int read_exact(int fd, void *buf, size_t len, const char *what, char *err, size_t errlen)
{
	uint8_t *p = buf;
	size_t got = 0;

	while (got < len) {
		ssize_t n = read_some(fd, p + got, len - got);

		if (n < 0)
			return fail(err, errlen, "reading %s: %s", what, io_error());
		if (n == 0)
			return fail(err, errlen, "EOF after %zu of %zu bytes of %s", got, len, what);
		got += (size_t)n;
	}
	return 0;
}

int xfer_read_line(int fd, char *line, size_t size, char *err, size_t errlen)
{
	size_t used = 0;

	for (;;) {
		char c;
		ssize_t n = read_some(fd, &c, 1);

		if (n < 0)
			return fail(err, errlen, "reading a line: %s", io_error());
		if (n == 0)
			return fail(err, errlen, "EOF after %zu bytes of a line", used);
		if (c == '\n')
			break;
		if (used + 1 >= size)
			return fail(err, errlen, "line longer than %zu bytes", size - 1);
		line[used++] = c;
	}
	line[used] = '\0';
	return (int)used;
}

int xfer_send_pattern(int fd, uint32_t seed, uint64_t from, uint64_t to, char *err,
		      size_t errlen)
{
	uint8_t *buf = malloc(XFER_MAX_WRITE);
	size_t turn = 0;
	int rc = 0;

	if (!buf)
		return fail(err, errlen, "out of memory");
	while (from < to && rc == 0) {
		size_t want = write_sizes[turn++ % (sizeof(write_sizes) / sizeof(write_sizes[0]))];
		size_t n = to - from < want ? (size_t)(to - from) : want;

		pattern_fill(seed, from, buf, n);
		rc = xfer_write_all(fd, buf, n, err, errlen);
		from += n;
	}
	free(buf);
	return rc;
}

/* Reads exactly len pattern bytes of seed, checking each, then requires EOF. */
static int receive_pattern(int fd, uint32_t seed, uint64_t len, const char *what, char *err,
			   size_t errlen)
{
	uint8_t *buf = malloc(XFER_RECV_CHUNK);
	uint64_t offset = 0;
	int rc = 0;

	if (!buf)
		return fail(err, errlen, "out of memory");
	while (rc == 0) {
		ssize_t n = read_some(fd, buf, XFER_RECV_CHUNK);
		size_t good;

		if (n < 0) {
			rc = fail(err, errlen, "%s: read after %llu of %llu bytes: %s", what,
				  (unsigned long long)offset, (unsigned long long)len, io_error());
		} else if (n == 0) {
			if (offset != len)
				rc = fail(err, errlen, "%s: EOF after %llu of %llu bytes", what,
					  (unsigned long long)offset, (unsigned long long)len);
			break;
		} else if ((uint64_t)n > len - offset) {
			rc = fail(err, errlen, "%s: %llu bytes beyond the announced %llu", what,
				  (unsigned long long)(offset + (uint64_t)n - len),
				  (unsigned long long)len);
		} else {
			good = pattern_check(seed, offset, buf, (size_t)n);
			if (good != (size_t)n) {
				uint8_t want;

				pattern_fill(seed, offset + good, &want, 1);
				rc = fail(err, errlen, "%s: wrong byte at offset %llu (0x%02x, want 0x%02x)",
					  what, (unsigned long long)(offset + good), buf[good], want);
			}
			offset += (uint64_t)n;
		}
	}
	free(buf);
	return rc;
}

int xfer_finish_sender(int fd, const struct xfer_params *p, char *err, size_t errlen)
{
	if (shutdown(fd, SHUT_WR) < 0)
		return fail(err, errlen, "shutdown(SHUT_WR): %s", strerror(errno));
	return receive_pattern(fd, XFER_REPLY_SEED(p->seed), p->reply_len, "reply", err, errlen);
}

int xfer_run_sender(int fd, const struct xfer_params *p, char *err, size_t errlen)
{
	uint8_t header[XFER_HEADER_SIZE];

	xfer_encode_header(p, header);
	if (xfer_write_all(fd, header, sizeof(header), err, errlen) < 0 ||
	    xfer_send_pattern(fd, p->seed, 0, p->len, err, errlen) < 0)
		return -1;
	return xfer_finish_sender(fd, p, err, errlen);
}

int xfer_run_receiver(int fd, struct xfer_params *got, char *err, size_t errlen)
{
	uint8_t header[XFER_HEADER_SIZE];
	struct xfer_params p;

	if (read_exact(fd, header, sizeof(header), "header", err, errlen) < 0)
		return -1;
	if (get_le(header, 4) != XFER_MAGIC)
		return fail(err, errlen, "bad magic 0x%08llx", (unsigned long long)get_le(header, 4));
	p.seed = (uint32_t)get_le(header + 4, 4);
	p.len = get_le(header + 8, 8);
	p.reply_len = get_le(header + 16, 8);
	if (got)
		*got = p;
	if (receive_pattern(fd, p.seed, p.len, "data", err, errlen) < 0)
		return -1;
	return xfer_send_pattern(fd, XFER_REPLY_SEED(p.seed), 0, p.reply_len, err, errlen);
}

int xfer_seq_echo(int fd, char *err, size_t errlen)
{
	uint8_t *buf = malloc(XFER_SEQ_MAX + 1);
	int rc = 0;

	if (!buf)
		return fail(err, errlen, "out of memory");
	for (;;) {
		ssize_t n = recv(fd, buf, XFER_SEQ_MAX + 1, MSG_TRUNC);

		if (n == 0)
			break;
		if (n < 0 || n > XFER_SEQ_MAX) {
			rc = n < 0 ? fail(err, errlen, "seqpacket recv: %s", io_error())
				   : fail(err, errlen, "seqpacket message of %zd bytes", n);
			break;
		}
		if (send(fd, buf, (size_t)n, 0) != n) {
			rc = fail(err, errlen, "seqpacket echo of %zd bytes: %s", n, io_error());
			break;
		}
	}
	free(buf);
	return rc;
}

int xfer_seq_check(int fd, const char *sizes, uint32_t seed, char *err, size_t errlen)
{
	uint8_t *out = malloc(XFER_SEQ_MAX), *in = malloc(XFER_SEQ_MAX + 1);
	const char *p = sizes;
	int rc = 0;

	if (!out || !in)
		rc = fail(err, errlen, "out of memory");
	for (unsigned i = 0; rc == 0 && *p; i++) {
		char *end;
		unsigned long len = strtoul(p, &end, 10);
		ssize_t n;

		if (end == p || len == 0 || len > XFER_SEQ_MAX || (*end && *end != ',')) {
			rc = fail(err, errlen, "bad size list '%s'", sizes);
			break;
		}
		p = *end ? end + 1 : end;
		pattern_fill(seed + i, 0, out, len);
		if (send(fd, out, len, 0) != (ssize_t)len) {
			rc = fail(err, errlen, "message %u (%lu bytes): send: %s", i, len, io_error());
			break;
		}
		n = recv(fd, in, XFER_SEQ_MAX + 1, MSG_TRUNC);
		if (n != (ssize_t)len)
			rc = fail(err, errlen, "message %u: %lu bytes sent, %zd came back%s%s", i, len,
				  n, n < 0 ? ": " : "", n < 0 ? io_error() : "");
		else if (memcmp(in, out, len) != 0)
			rc = fail(err, errlen, "message %u (%lu bytes): content differs", i, len);
	}
	if (rc == 0 && shutdown(fd, SHUT_WR) < 0)
		rc = fail(err, errlen, "shutdown: %s", strerror(errno));
	if (rc == 0 && recv(fd, in, 1, 0) != 0)
		rc = fail(err, errlen, "no EOF after the last message");
	free(out);
	free(in);
	return rc;
}
