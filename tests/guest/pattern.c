#include "pattern.h"

#include <string.h>

/* splitmix64 finaliser: cheap, and every input bit affects every output bit. */
static uint64_t pattern_word(uint32_t seed, uint64_t word_index)
{
	uint64_t z = word_index + (uint64_t)seed * 0x9e3779b97f4a7c15ULL + 0x632be59bd9b4e019ULL;

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

void pattern_fill(uint32_t seed, uint64_t offset, uint8_t *buf, size_t len)
{
	while (len > 0) {
		uint64_t word = pattern_word(seed, offset / 8);
		size_t skip = offset % 8;
		size_t take = 8 - skip < len ? 8 - skip : len;
		uint8_t bytes[8];

		for (size_t i = 0; i < 8; i++)
			bytes[i] = (uint8_t)(word >> (8 * i)); /* little-endian on every host */
		memcpy(buf, bytes + skip, take);
		buf += take;
		offset += take;
		len -= take;
	}
}

size_t pattern_check(uint32_t seed, uint64_t offset, const uint8_t *buf, size_t len,
		     uint8_t *scratch)
{
	pattern_fill(seed, offset, scratch, len);
	if (memcmp(buf, scratch, len) == 0)
		return len;
	for (size_t i = 0; i < len; i++)
		if (buf[i] != scratch[i])
			return i;
	return len;
}
