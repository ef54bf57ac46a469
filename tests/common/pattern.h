/* The test data every transfer check uses (rig tests, vsock backend tests,
 * benchmark, real-guest guestapp and hostpeer): byte i of stream `seed` is
 * a function of (seed, i) only, so a receiver can check every byte at any
 * offset without keeping a copy, and the two ends of a transfer agree
 * whichever program, build or machine they run in. */
#ifndef TESTS_COMMON_PATTERN_H
#define TESTS_COMMON_PATTERN_H

#include <stddef.h>
#include <stdint.h>

/* Writes bytes [offset, offset + len) of stream `seed` into buf. */
void pattern_fill(uint64_t seed, uint64_t offset, void *buf, size_t len);

/* Compares buf with bytes [offset, offset + len) of stream `seed`.  Returns
 * the index in buf of the first wrong byte, or len if all match. */
size_t pattern_check(uint64_t seed, uint64_t offset, const void *buf, size_t len);

#endif
