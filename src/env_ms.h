/* Durations that tests shorten through the environment (the defaults are
 * far too long to wait for in a test run). */
#ifndef VSOCK_ENV_MS_H
#define VSOCK_ENV_MS_H

#include <stdbool.h>

/* Largest duration the environment may set: one day. */
#define ENV_MS_MAX 86400000u

/* Sets *ms from environment variable name when it holds a number of
 * milliseconds from 1 to ENV_MS_MAX, and leaves it alone when the variable
 * is unset.  Any other value is logged (naming the variable and the value)
 * and returns false. */
bool env_ms_override(const char *name, unsigned *ms);

#endif
