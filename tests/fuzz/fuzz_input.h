/* What the harnesses share: reading a libFuzzer input as a stream of
 * little-endian fields, and checking invariants of the code under test.
 * Reads past the end of the input yield zeros, so every input decodes to
 * something and the harnesses need no length checks of their own. */
#ifndef VSOCK_FUZZ_INPUT_H
#define VSOCK_FUZZ_INPUT_H

#include <endian.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A broken invariant is a finding: crash so libFuzzer keeps the input.
 * Unlike assert(), never compiled out. */
#define FUZZ_CHECK(cond)                                                       \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "%s:%d: invariant broken: %s\n",       \
				__FILE__, __LINE__, #cond);                    \
			abort();                                               \
		}                                                              \
	} while (0)

struct fuzz_input {
	const uint8_t *data;
	size_t left;
};

static inline struct fuzz_input fuzz_input_of(const uint8_t *data, size_t size)
{
	return (struct fuzz_input){.data = data, .left = size};
}

/* Copies n bytes to dst, zeros where the input has run out.  Returns how
 * many came from the input. */
static inline size_t fuzz_take(struct fuzz_input *in, void *dst, size_t n)
{
	size_t got = n < in->left ? n : in->left;

	memcpy(dst, in->data, got);
	memset((uint8_t *)dst + got, 0, n - got);
	in->data += got;
	in->left -= got;
	return got;
}

static inline uint8_t fuzz_u8(struct fuzz_input *in)
{
	uint8_t v;

	fuzz_take(in, &v, sizeof(v));
	return v;
}

static inline uint16_t fuzz_u16(struct fuzz_input *in)
{
	uint16_t v;

	fuzz_take(in, &v, sizeof(v));
	return le16toh(v);
}

static inline uint32_t fuzz_u32(struct fuzz_input *in)
{
	uint32_t v;

	fuzz_take(in, &v, sizeof(v));
	return le32toh(v);
}

static inline uint64_t fuzz_u64(struct fuzz_input *in)
{
	uint64_t v;

	fuzz_take(in, &v, sizeof(v));
	return le64toh(v);
}

#endif
