#include "bench_pattern.h"

#include <string.h>

#define PATTERN_PERIOD 251u

static uint8_t table[PATTERN_PERIOD + BENCH_IO_MAX];

void pattern_init(void)
{
	for (size_t i = 0; i < sizeof(table); i++)
		table[i] = (uint8_t)(i % PATTERN_PERIOD);
}

const uint8_t *pattern_at(uint64_t offset)
{
	return table + offset % PATTERN_PERIOD;
}

bool pattern_ok(uint64_t offset, const void *buf, size_t len)
{
	return len <= BENCH_IO_MAX && memcmp(buf, pattern_at(offset), len) == 0;
}
