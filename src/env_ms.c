#include "env_ms.h"

#include <stdint.h>
#include <stdlib.h>

#include "log.h"
#include "parse_num.h"

bool env_ms_override(const char *name, unsigned *ms)
{
	const char *env = getenv(name);
	uint64_t v;

	if (!env)
		return true;
	if (parse_num_u64(env, ENV_MS_MAX, &v) == PARSE_NUM_OK && v > 0) {
		*ms = (unsigned)v;
		return true;
	}
	log_err("%s: '%s' is not a number of milliseconds from 1 to %u", name, env, ENV_MS_MAX);
	return false;
}
