/* Copies between flat buffers and scatter-gather lists, and slicing of
 * iovec arrays: how packets are read out of and written into guest chains
 * whose descriptors may split the data anywhere. */
#ifndef VSOCK_IOV_UTIL_H
#define VSOCK_IOV_UTIL_H

#include <stddef.h>
#include <sys/uio.h>

/* Copies up to len bytes starting offset bytes into iov[0..n) to buf.
 * Returns the number of bytes copied (less than len if iov is shorter). */
size_t iov_to_buf(const struct iovec *iov, unsigned n, size_t offset,
		  void *buf, size_t len);
/* Copies up to len bytes of buf into iov[0..n) starting at offset.
 * Returns the number of bytes copied. */
size_t buf_to_iov(const struct iovec *iov, unsigned n, size_t offset,
		  const void *buf, size_t len);
/* Fills dst[0..max) with the part of iov[0..n) that starts offset bytes in
 * and is at most len bytes long.  Returns the number of entries used, or
 * max + 1 if dst is too small (dst is then only partly filled). */
unsigned iov_slice(const struct iovec *iov, unsigned n, size_t offset,
		   size_t len, struct iovec *dst, unsigned max);
size_t iov_total(const struct iovec *iov, unsigned n);

#endif
