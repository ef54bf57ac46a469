/* Position-dependent test data: byte i of stream `seed` is a function of (seed, i) only,
 * so a receiver can check every byte at any offset without keeping a copy. */
#ifndef TESTS_GUEST_PATTERN_H
#define TESTS_GUEST_PATTERN_H

#include <stddef.h>
#include <stdint.h>

/* Writes bytes [offset, offset + len) of stream `seed` into buf. */
void pattern_fill(uint32_t seed, uint64_t offset, uint8_t *buf, size_t len);

/* Compares buf with bytes [offset, offset + len) of stream `seed`, using scratch (len bytes)
 * as workspace.  Returns the index in buf of the first wrong byte, or len if all match. */
size_t pattern_check(uint32_t seed, uint64_t offset, const uint8_t *buf, size_t len,
		     uint8_t *scratch);

#endif
