/* Fuzzes the CONNECT line parser (src/connect_line.c) as a host client
 * drives it: bytes arriving in arbitrary pieces.  Each feed must keep the
 * parser's promises (never more than it was given, never past the newline,
 * MORE only when it took everything), DONE must name a port the line
 * contains, and the verdict and port must not depend on the chunking: the
 * same bytes fed whole give the same result.
 *
 * Input: byte 0 holds k (its low 4 bits), then come k chunk sizes (one byte
 * each, modulo CONNECT_LINE_MAX + 8, used in turn; 0 is an empty feed and
 * then a one-byte one), then the client's bytes.  With k = 0 the bytes arrive one at a time.  Each
 * chunk is passed in a heap buffer of its exact size, so AddressSanitizer
 * sees any read beyond it. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "connect_line.h"
#include "fuzz_input.h"

#define MAX_CHUNK_SIZES 15
#define CHUNK_SIZE_MOD (CONNECT_LINE_MAX + 8)

struct outcome {
	enum connect_line_status status;
	uint32_t port;      /* when DONE */
	size_t consumed;    /* bytes of the stream taken, over all feeds */
};

/* One connect_line_feed() of bytes[0..n), checking what the call promises. */
static enum connect_line_status feed(struct connect_line *cl, const uint8_t *bytes,
				     size_t n, size_t *consumed, uint32_t *port)
{
	uint8_t *exact = malloc(n ? n : 1);
	enum connect_line_status status;
	const uint8_t *nl;

	FUZZ_CHECK(exact);
	memcpy(exact, bytes, n);
	status = connect_line_feed(cl, exact, n, consumed, port);
	free(exact);
	FUZZ_CHECK(*consumed <= n);
	nl = memchr(bytes, '\n', *consumed);
	FUZZ_CHECK(!nl || nl == bytes + *consumed - 1);
	if (status == CONNECT_LINE_MORE)
		FUZZ_CHECK(*consumed == n && !nl);
	if (status == CONNECT_LINE_DONE)
		FUZZ_CHECK(nl);
	return status;
}

static struct outcome feed_whole(const uint8_t *stream, size_t len)
{
	struct outcome o = {0};
	struct connect_line cl;

	connect_line_init(&cl);
	o.status = feed(&cl, stream, len, &o.consumed, &o.port);
	return o;
}

static struct outcome feed_chunked(const uint8_t *stream, size_t len,
				   const uint8_t *sizes, size_t n_sizes)
{
	struct outcome o = {.status = CONNECT_LINE_MORE};
	struct connect_line cl;

	connect_line_init(&cl);
	for (size_t i = 0; o.status == CONNECT_LINE_MORE && o.consumed < len; i++) {
		size_t chunk = n_sizes ? sizes[i % n_sizes] % CHUNK_SIZE_MOD : 1;
		size_t taken;

		if (chunk == 0) {
			FUZZ_CHECK(feed(&cl, stream + o.consumed, 0, &taken, &o.port) ==
				   CONNECT_LINE_MORE);
			chunk = 1;
		}
		if (chunk > len - o.consumed)
			chunk = len - o.consumed;
		o.status = feed(&cl, stream + o.consumed, chunk, &taken, &o.port);
		o.consumed += taken;
	}
	return o;
}

/* A port that DONE reports appears in the line in decimal. */
static bool line_names_port(const uint8_t *line, size_t len, uint32_t port)
{
	char digits[16];
	int n = snprintf(digits, sizeof(digits), "%u", port);

	return memmem(line, len, digits, (size_t)n) != NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_input in = fuzz_input_of(data, size);
	uint8_t sizes[MAX_CHUNK_SIZES];
	size_t n_sizes = fuzz_u8(&in) & MAX_CHUNK_SIZES;
	struct outcome whole, chunked;

	fuzz_take(&in, sizes, n_sizes);
	whole = feed_whole(in.data, in.left);
	chunked = feed_chunked(in.data, in.left, sizes, n_sizes);

	FUZZ_CHECK(whole.status == chunked.status);
	if (whole.status == CONNECT_LINE_DONE) {
		FUZZ_CHECK(whole.port == chunked.port);
		FUZZ_CHECK(whole.consumed == chunked.consumed);
		FUZZ_CHECK(whole.consumed <= CONNECT_LINE_MAX);
		FUZZ_CHECK(line_names_port(in.data, whole.consumed, whole.port));
	}
	return 0;
}
