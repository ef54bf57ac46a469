#include "iov_util.h"

#include <string.h>

/* Index of the segment holding byte `*offset`, with *offset turned into an
 * offset inside that segment; n if the iov is shorter. */
static unsigned iov_seek(const struct iovec *iov, unsigned n, size_t *offset)
{
	unsigned i = 0;

	while (i < n && *offset >= iov[i].iov_len) {
		*offset -= iov[i].iov_len;
		i++;
	}
	return i;
}

size_t iov_to_buf(const struct iovec *iov, unsigned n, size_t offset,
		  void *buf, size_t len)
{
	size_t done = 0;

	for (unsigned i = iov_seek(iov, n, &offset); i < n && done < len; i++) {
		size_t chunk = iov[i].iov_len - offset;

		if (chunk > len - done)
			chunk = len - done;
		memcpy((char *)buf + done, (const char *)iov[i].iov_base + offset, chunk);
		done += chunk;
		offset = 0;
	}
	return done;
}

size_t buf_to_iov(const struct iovec *iov, unsigned n, size_t offset,
		  const void *buf, size_t len)
{
	size_t done = 0;

	for (unsigned i = iov_seek(iov, n, &offset); i < n && done < len; i++) {
		size_t chunk = iov[i].iov_len - offset;

		if (chunk > len - done)
			chunk = len - done;
		memcpy((char *)iov[i].iov_base + offset, (const char *)buf + done, chunk);
		done += chunk;
		offset = 0;
	}
	return done;
}

unsigned iov_slice(const struct iovec *iov, unsigned n, size_t offset,
		   size_t len, struct iovec *dst, unsigned max)
{
	unsigned used = 0;

	for (unsigned i = iov_seek(iov, n, &offset); i < n && len > 0; i++) {
		size_t chunk = iov[i].iov_len - offset;

		if (chunk == 0)
			continue;
		if (used == max)
			return max + 1;
		if (chunk > len)
			chunk = len;
		dst[used].iov_base = (char *)iov[i].iov_base + offset;
		dst[used].iov_len = chunk;
		used++;
		len -= chunk;
		offset = 0;
	}
	return used;
}

size_t iov_total(const struct iovec *iov, unsigned n)
{
	size_t total = 0;

	for (unsigned i = 0; i < n; i++)
		total += iov[i].iov_len;
	return total;
}
