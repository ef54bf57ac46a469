#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "log.h"

static void test_parse_level(void **state)
{
	enum log_level lvl;

	(void)state;
	assert_true(log_parse_level("debug", &lvl));
	assert_int_equal(lvl, LOG_LVL_DEBUG);
	assert_true(log_parse_level("WARNING", &lvl));
	assert_int_equal(lvl, LOG_LVL_WARN);
	assert_true(log_parse_level("error", &lvl));
	assert_int_equal(lvl, LOG_LVL_ERROR);
	assert_false(log_parse_level("loud", &lvl));
	assert_false(log_parse_level("", &lvl));
}

static void test_ratelimit_burst_then_suppress(void **state)
{
	struct log_ratelimit rl = {0};
	unsigned allowed = 0;

	(void)state;
	log_set_level(LOG_LVL_ERROR); /* keep the "suppressed" line quiet */
	rl.window_start_ms = UINT64_MAX / 2; /* far future: one window only */
	for (int i = 0; i < 100; i++)
		allowed += log_ratelimit_allow(&rl, LOG_LVL_WARN);
	assert_int_equal(allowed, LOG_RL_BURST);
	assert_int_equal(rl.suppressed, 100 - LOG_RL_BURST);
}

static void test_ratelimit_new_window_resets(void **state)
{
	struct log_ratelimit rl = {0};

	(void)state;
	log_set_level(LOG_LVL_ERROR);
	rl.printed = LOG_RL_BURST;
	rl.suppressed = 5;
	rl.window_start_ms = 0; /* long ago */
	assert_true(log_ratelimit_allow(&rl, LOG_LVL_WARN));
	assert_int_equal(rl.suppressed, 0);
	assert_int_equal(rl.printed, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_level),
		cmocka_unit_test(test_ratelimit_burst_then_suppress),
		cmocka_unit_test(test_ratelimit_new_window_resets),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
