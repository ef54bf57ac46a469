/* The transfer protocol both test programs speak over any stream socket (AF_UNIX on the host,
 * AF_VSOCK in the guest), so each direction is checked the same way:
 *
 *   sender:   header {le32 magic, le32 seed, le64 len, le64 reply_len}, then `len` pattern
 *             bytes of `seed`, then shutdown(SHUT_WR);
 *   receiver: checks every byte, requires EOF right after them, then sends `reply_len`
 *             pattern bytes of XFER_REPLY_SEED(seed) and closes;
 *   sender:   checks every reply byte and requires EOF after them.
 *
 * So each transfer also proves half-close: the receiver answers only after it saw EOF. */
#ifndef TESTS_GUEST_XFER_H
#define TESTS_GUEST_XFER_H

#include <stddef.h>
#include <stdint.h>

#define XFER_MAGIC 0x46585356u /* "VSXF" */
#define XFER_HEADER_SIZE 24
#define XFER_REPLY_SEED(seed) ((seed) ^ 0xffffffffu)

struct xfer_params {
	uint32_t seed;
	uint64_t len;
	uint64_t reply_len;
};

/* Every function returns 0 on success or -1 with a one-line reason in err. */

void xfer_encode_header(const struct xfer_params *p, uint8_t out[XFER_HEADER_SIZE]);

/* Sends pattern bytes [from, to) of `seed`, in writes of varying sizes. */
int xfer_send_pattern(int fd, uint32_t seed, uint64_t from, uint64_t to, char *err,
		      size_t errlen);

/* After the data: shutdown(SHUT_WR), then check the reply and the EOF after it. */
int xfer_finish_sender(int fd, const struct xfer_params *p, char *err, size_t errlen);

/* The whole sender side: header, data, finish. */
int xfer_run_sender(int fd, const struct xfer_params *p, char *err, size_t errlen);

/* The whole receiver side; `got` (may be NULL) receives the sender's header. */
int xfer_run_receiver(int fd, struct xfer_params *got, char *err, size_t errlen);

/* Seqpacket: each message is one send and one recv, its size and content
 * checked.  The largest message either side handles. */
#define XFER_SEQ_MAX (256 * 1024)
/* Answers each message with the same message until EOF. */
int xfer_seq_echo(int fd, char *err, size_t errlen);
/* For each size of the comma-separated list: sends a message of pattern
 * bytes of `seed` (the seed moves on per message), requires the same
 * message back; then shutdown(SHUT_WR) and EOF. */
int xfer_seq_check(int fd, const char *sizes, uint32_t seed, char *err, size_t errlen);

/* Low-level helpers, also used for the CONNECT line and the control channel. */
int xfer_write_all(int fd, const void *buf, size_t len, char *err, size_t errlen);
/* Reads one '\n'-terminated line byte by byte (so nothing after it is consumed);
 * the newline is stripped.  Returns the length, or -1 (EOF counts as an error). */
int xfer_read_line(int fd, char *line, size_t size, char *err, size_t errlen);

#endif
