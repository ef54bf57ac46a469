/* Duration overrides from the environment: accepted values, and refused
 * ones that leave the default alone. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "env_ms.h"
#include "log.h"

#define VAR "TEST_ENV_MS_DURATION"

static void test_unset_keeps_default(void **state)
{
	unsigned ms = 1234;

	(void)state;
	unsetenv(VAR);
	assert_true(env_ms_override(VAR, &ms));
	assert_int_equal(ms, 1234);
}

static void test_valid_values(void **state)
{
	unsigned ms = 1234;

	(void)state;
	setenv(VAR, "1", 1);
	assert_true(env_ms_override(VAR, &ms));
	assert_int_equal(ms, 1);
	setenv(VAR, "86400000", 1);
	assert_true(env_ms_override(VAR, &ms));
	assert_int_equal(ms, ENV_MS_MAX);
	unsetenv(VAR);
}

static void test_invalid_values_refused(void **state)
{
	static const char *const bad[] = {"", "0", "-5", "10ms", " 10", "86400001",
					  "99999999999999999999"};

	(void)state;
	log_set_level(LOG_LVL_ERROR);
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		unsigned ms = 1234;

		setenv(VAR, bad[i], 1);
		assert_false(env_ms_override(VAR, &ms));
		assert_int_equal(ms, 1234);
	}
	unsetenv(VAR);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_unset_keeps_default),
		cmocka_unit_test(test_valid_values),
		cmocka_unit_test(test_invalid_values_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
