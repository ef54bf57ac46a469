#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "connect_line.h"

/* Feeds a whole string at once. */
static enum connect_line_status feed_all(const char *s, size_t *consumed, uint32_t *port)
{
	struct connect_line cl;

	connect_line_init(&cl);
	return connect_line_feed(&cl, s, strlen(s), consumed, port);
}

static void test_accepts_reference_forms(void **state)
{
	static const struct { const char *line; uint32_t port; } ok[] = {
		{"CONNECT 1234\n", 1234},
		{"connect 1234\n", 1234},
		{"Connect 5\r\n", 5},
		{"  CONNECT\t+42 \n", 42},
		{"CONNECT 4294967295\n", 4294967295u},
		{"CONNECT 0\n", 0},
		{"connect 1234 junk\n", 1234},
	};
	size_t consumed;
	uint32_t port;

	(void)state;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		port = 7;
		assert_int_equal(feed_all(ok[i].line, &consumed, &port), CONNECT_LINE_DONE);
		assert_int_equal(port, ok[i].port);
		assert_int_equal(consumed, strlen(ok[i].line));
	}
}

static void test_rejects_malformed(void **state)
{
	static const char *bad[] = {
		"CONNECT\n", "CONNECT \n", "CONNECTX 1\n", "CONNECT1\n",
		"CONNECT 4294967296\n", "CONNECT 99999999999999999999\n",
		"CONNECT -1\n", "CONNECT 12a\n", "LISTEN 1\n", "\n",
		"CONNECT ++1\n",
	};
	size_t consumed;
	uint32_t port;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(feed_all(bad[i], &consumed, &port), CONNECT_LINE_BAD);
	{
		struct connect_line cl;

		connect_line_init(&cl);
		assert_int_equal(connect_line_feed(&cl, "CONNECT 1\0\n", 11, &consumed, &port),
				 CONNECT_LINE_BAD);
	}
}

/* Byte by byte; bytes after the newline are left to the caller. */
static void test_byte_by_byte_and_trailing_data(void **state)
{
	const char *s = "CONNECT 77\nhello";
	struct connect_line cl;
	size_t consumed, i;
	uint32_t port = 0;

	(void)state;
	connect_line_init(&cl);
	for (i = 0; s[i] != '\n'; i++) {
		assert_int_equal(connect_line_feed(&cl, s + i, 1, &consumed, &port),
				 CONNECT_LINE_MORE);
		assert_int_equal(consumed, 1);
	}
	assert_int_equal(connect_line_feed(&cl, s + i, strlen(s + i), &consumed, &port),
			 CONNECT_LINE_DONE);
	assert_int_equal(consumed, 1);
	assert_int_equal(port, 77);
}

static void test_length_cap(void **state)
{
	char line[CONNECT_LINE_MAX + 8];
	struct connect_line cl;
	size_t consumed;
	uint32_t port;

	(void)state;
	/* exactly CONNECT_LINE_MAX bytes including the newline is fine */
	memset(line, ' ', sizeof(line));
	memcpy(line + CONNECT_LINE_MAX - 11, "CONNECT 9\r\n", 11);
	connect_line_init(&cl);
	assert_int_equal(connect_line_feed(&cl, line, CONNECT_LINE_MAX, &consumed, &port),
			 CONNECT_LINE_DONE);
	assert_int_equal(port, 9);
	/* one more byte is refused, whether it arrives at once or in pieces */
	memcpy(line + CONNECT_LINE_MAX - 10, "CONNECT 9\r\n", 11);
	connect_line_init(&cl);
	assert_int_equal(connect_line_feed(&cl, line, CONNECT_LINE_MAX + 1, &consumed, &port),
			 CONNECT_LINE_BAD);
	assert_int_equal(cl.len, 0); /* a refused piece is not kept */
	connect_line_init(&cl);
	assert_int_equal(connect_line_feed(&cl, line, 40, &consumed, &port), CONNECT_LINE_MORE);
	assert_int_equal(connect_line_feed(&cl, line + 40, 24, &consumed, &port),
			 CONNECT_LINE_BAD);
	/* A piece whose newline lies past the cap is refused whole. */
	connect_line_init(&cl);
	assert_int_equal(connect_line_feed(&cl, line, 40, &consumed, &port), CONNECT_LINE_MORE);
	assert_int_equal(connect_line_feed(&cl, line + 40, 25, &consumed, &port),
			 CONNECT_LINE_BAD);
	assert_int_equal(cl.len, 40);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_accepts_reference_forms),
		cmocka_unit_test(test_rejects_malformed),
		cmocka_unit_test(test_byte_by_byte_and_trailing_data),
		cmocka_unit_test(test_length_cap),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
