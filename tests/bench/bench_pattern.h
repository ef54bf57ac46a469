/* The bytes every benchmark stream carries: byte at stream offset o is
 * byte o % 251 of the shared test pattern (pattern.h), a prime period, so
 * a lost, repeated or reordered chunk of any page-ish size shows up as a
 * mismatch.  The period lets one table serve every offset: senders write
 * straight from it and receivers compare with memcmp, cheap next to a
 * socket copy (generating each byte would weigh on the figures). */
#ifndef BENCH_PATTERN_H
#define BENCH_PATTERN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The largest write or read the benchmark makes. */
#define BENCH_IO_MAX (1u << 20)

/* Fills the table; call once before the peer process is forked. */
void bench_pattern_init(void);
/* Stream bytes from offset on (BENCH_IO_MAX of them are valid). */
const uint8_t *bench_pattern_at(uint64_t offset);
/* Whether buf holds the stream bytes from offset on. */
bool bench_pattern_ok(uint64_t offset, const void *buf, size_t len);

#endif
