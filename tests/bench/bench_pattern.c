/* The benchmark's periodic view of the shared pattern (bench_pattern.h). */
#include "bench_pattern.h"

#include <string.h>

#include "pattern.h"

#define PATTERN_PERIOD 251u
#define PATTERN_SEED 251u

static uint8_t table[PATTERN_PERIOD + BENCH_IO_MAX];

void bench_pattern_init(void)
{
	pattern_fill(PATTERN_SEED, 0, table, PATTERN_PERIOD);
	for (size_t i = PATTERN_PERIOD; i < sizeof(table); i++)
		table[i] = table[i - PATTERN_PERIOD];
}

const uint8_t *bench_pattern_at(uint64_t offset)
{
	return table + offset % PATTERN_PERIOD;
}

bool bench_pattern_ok(uint64_t offset, const void *buf, size_t len)
{
	return len <= BENCH_IO_MAX && memcmp(buf, bench_pattern_at(offset), len) == 0;
}
