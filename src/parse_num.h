/* Strict decimal parsing for configuration values: digits only, no sign,
 * no whitespace, no trailing characters, no silent wrap-around. */
#ifndef VSOCK_PARSE_NUM_H
#define VSOCK_PARSE_NUM_H

#include <stdint.h>

enum parse_num_result {
	PARSE_NUM_OK,
	PARSE_NUM_EMPTY,
	PARSE_NUM_NEGATIVE,
	PARSE_NUM_NOT_A_NUMBER,
	PARSE_NUM_TOO_LARGE, /* greater than max */
};

/* Parses s as an unsigned decimal number no greater than max. */
enum parse_num_result parse_num_u64(const char *s, uint64_t max, uint64_t *out);

/* A short phrase for the result, e.g. "is not a number", to follow the
 * quoted value in an error message. */
const char *parse_num_problem(enum parse_num_result r);

#endif
