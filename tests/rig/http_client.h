/* A small HTTP/1.1 client over a Unix socket, for the API's tests: one
 * request per connection (Connection: close), the whole answer read. */
#ifndef HTTP_CLIENT_H
#define HTTP_CLIENT_H

#include <stddef.h>

struct http_reply {
	int status;        /* -errno when no answer came */
	char *head;        /* status line and headers, NUL-terminated */
	char *body;        /* NUL-terminated (it may hold NULs before) */
	size_t body_len;
};

/* Sends raw (a whole request, as is) to the socket at path and reads until
 * the server closes.  Waits at most timeout_ms. */
struct http_reply http_raw(const char *path, const char *raw, size_t raw_len, int timeout_ms);
/* method url with body (may be NULL), Content-Length set. */
struct http_reply http_request(const char *path, const char *method, const char *url,
			       const char *body, int timeout_ms);
/* The value of header name (case-insensitive) in r's head, copied into
 * buf; NULL when absent. */
const char *http_header(const struct http_reply *r, const char *name, char *buf, size_t size);
void http_reply_free(struct http_reply *r);

#endif
