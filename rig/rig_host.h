/* The host side of hybrid vsock (Firecracker's protocol over Unix sockets),
 * for tests and benchmarks that drive both ends from one thread: every wait
 * here keeps the rig's event loop running, so the guest side makes progress
 * while the host side blocks.  rig may be NULL where no guest runs (after
 * the front-end went away, say). */
#ifndef RIG_HOST_H
#define RIG_HOST_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "rig.h"

/* Connects to the daemon's --uds-path; returns a non-blocking fd or -errno. */
int rig_host_connect(const char *uds_path);
/* The same with a socket of type (SOCK_STREAM, SOCK_SEQPACKET) to path. */
int rig_host_connect_type(const char *path, int type);
/* Writes all of buf to a non-blocking fd, running the rig meanwhile.
 * Returns 0 or -errno. */
int rig_host_write_all(struct rig *rig, int fd, const void *buf, size_t len,
		       int timeout_ms);
/* Reads exactly len bytes (running the rig).  Returns len, fewer at EOF,
 * or -errno. */
ssize_t rig_host_read_full(struct rig *rig, int fd, void *buf, size_t len,
			   int timeout_ms);
/* Reads one line, byte by byte so nothing after the newline is consumed.
 * Returns its length (newline included), 0 at EOF, or -errno. */
ssize_t rig_host_read_line(struct rig *rig, int fd, char *buf, size_t cap,
			   int timeout_ms);
/* Waits until fd reports EOF (read returns 0 or ECONNRESET), discarding
 * data.  Returns 0 or -ETIMEDOUT. */
int rig_host_wait_eof(struct rig *rig, int fd, int timeout_ms);
/* Full host-initiated handshake to a port the rig listens on: connect,
 * "CONNECT port\n", accept on the guest side, read the "OK ..." line.
 * Returns the host fd and *guest, or -errno. */
int rig_host_open(struct rig *rig, const char *uds_path, uint32_t port,
		  struct rig_conn **guest, int timeout_ms);
/* Listens on "<uds_path>_<port>" for guest-initiated connections.
 * Returns the non-blocking listening fd or -errno. */
int rig_host_listen(const char *uds_path, uint32_t port);
/* The same with a socket of type (SOCK_STREAM, SOCK_SEQPACKET). */
int rig_host_listen_type(const char *uds_path, uint32_t port, int type);
/* Accepts on a listener made by rig_host_listen (running the rig).
 * Returns a non-blocking fd or -errno. */
int rig_host_accept(struct rig *rig, int listen_fd, int timeout_ms);

#endif
