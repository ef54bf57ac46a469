/* The shared test-data pattern (pattern.h); plain C with no dependency, so
 * the static guest programs compile it too. */
#include "pattern.h"

#include <string.h>

/* splitmix64 finaliser: cheap, and every input bit affects every output bit. */
static uint64_t pattern_word(uint64_t seed, uint64_t word_index)
{
	uint64_t z = word_index + seed * 0x9e3779b97f4a7c15ULL + 0x632be59bd9b4e019ULL;

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

void pattern_fill(uint64_t seed, uint64_t offset, void *buf, size_t len)
{
	uint8_t *out = buf;

	while (len > 0) {
		uint64_t word = pattern_word(seed, offset / 8);
		size_t skip = offset % 8;
		size_t take = 8 - skip < len ? 8 - skip : len;
		uint8_t bytes[8];

		for (size_t i = 0; i < 8; i++)
			bytes[i] = (uint8_t)(word >> (8 * i)); /* little-endian on every host */
		memcpy(out, bytes + skip, take);
		out += take;
		offset += take;
		len -= take;
	}
}

size_t pattern_check(uint64_t seed, uint64_t offset, const void *buf, size_t len)
{
	const uint8_t *in = buf;
	uint8_t want[512];

	/* Expected bytes a block at a time: no caller-sized scratch buffer. */
	for (size_t done = 0; done < len;) {
		size_t n = len - done < sizeof(want) ? len - done : sizeof(want);

		pattern_fill(seed, offset + done, want, n);
		if (memcmp(in + done, want, n) != 0)
			for (size_t i = 0; i < n; i++)
				if (in[done + i] != want[i])
					return done + i;
		done += n;
	}
	return len;
}
