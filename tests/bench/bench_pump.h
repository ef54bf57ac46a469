/* Streams over plain sockets, the way a host application (or the baseline's
 * other end) moves bulk data: non-blocking fds, one read or write call of
 * io_size per turn on each, poll(2) only when every fd would block. */
#ifndef BENCH_PUMP_H
#define BENCH_PUMP_H

#include <stdbool.h>
#include <stdint.h>

/* Sends (or receives and checks) bytes_per_conn pattern bytes on each of
 * n fds.  *moved counts the bytes moved (and verified).  Returns 0, -EILSEQ
 * (bytes differ), -EPIPE (early end of stream), -ETIMEDOUT (no progress for
 * timeout_ms) or another -errno. */
int pump_fds(const int *fds, unsigned n, bool send, uint64_t bytes_per_conn,
	     uint32_t io_size, int timeout_ms, uint64_t *moved);

#endif
