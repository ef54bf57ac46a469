#include "parse_num.h"

#include <stdbool.h>

enum parse_num_result parse_num_u64(const char *s, uint64_t max, uint64_t *out)
{
	uint64_t value = 0;
	bool too_large = false;

	if (*s == '\0')
		return PARSE_NUM_EMPTY;
	if (*s == '-' && s[1] >= '0' && s[1] <= '9')
		return PARSE_NUM_NEGATIVE;
	for (const char *p = s; *p; p++) {
		if (*p < '0' || *p > '9')
			return PARSE_NUM_NOT_A_NUMBER;
		unsigned digit = (unsigned)(*p - '0');
		/* Keep scanning after an overflow: "99999999999999999999x" is
		 * better reported as not a number than as too large. */
		if (value > (UINT64_MAX - digit) / 10)
			too_large = true;
		else
			value = value * 10 + digit;
	}
	if (too_large || value > max)
		return PARSE_NUM_TOO_LARGE;
	*out = value;
	return PARSE_NUM_OK;
}

const char *parse_num_problem(enum parse_num_result r)
{
	switch (r) {
	case PARSE_NUM_OK:
		return "is valid";
	case PARSE_NUM_EMPTY:
		return "is empty";
	case PARSE_NUM_NEGATIVE:
		return "is negative";
	case PARSE_NUM_NOT_A_NUMBER:
		return "is not a decimal number";
	case PARSE_NUM_TOO_LARGE:
		return "is too large";
	}
	return "is invalid";
}
