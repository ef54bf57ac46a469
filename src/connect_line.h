/* Incremental parser for the hybrid-vsock handshake line a host client
 * sends on uds_path: "CONNECT <port>\n".  Bytes may arrive one at a time;
 * the parser never consumes past the newline, so whatever the client sent
 * after it stays available as connection data.
 *
 * Accepted, like the reference daemon: the verb in any case, blanks
 * (space, tab) around the words, an optional '+' before the decimal port,
 * a CR before the LF, and extra words after the port (ignored).  Refused: a
 * line longer than CONNECT_LINE_MAX bytes, a missing or non-numeric port,
 * a port above 2^32 - 1, any other byte where a word is expected. */
#ifndef VSOCK_CONNECT_LINE_H
#define VSOCK_CONNECT_LINE_H

#include <stddef.h>
#include <stdint.h>

#define CONNECT_LINE_MAX 64 /* including the newline */

struct connect_line {
	size_t len;
	char buf[CONNECT_LINE_MAX];
};

enum connect_line_status {
	CONNECT_LINE_MORE, /* no newline yet: feed more */
	CONNECT_LINE_DONE, /* *port is set */
	CONNECT_LINE_BAD,  /* malformed or too long: close the client */
};

void connect_line_init(struct connect_line *cl);
/* Takes bytes up to and including the first newline of data[0..n);
 * *consumed says how many were taken. */
enum connect_line_status connect_line_feed(struct connect_line *cl,
					   const void *data, size_t n,
					   size_t *consumed, uint32_t *port);

#endif
