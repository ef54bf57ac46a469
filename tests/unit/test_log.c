#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

/* What the log_msg calls of fn wrote to stderr (NUL-terminated, in buf). */
static void capture_stderr(void (*fn)(void), char *buf, size_t cap)
{
	int saved = dup(2), fd = memfd_create("stderr", MFD_CLOEXEC);
	ssize_t n;

	assert_true(saved >= 0 && fd >= 0);
	fflush(stderr);
	assert_int_equal(dup2(fd, 2), 2);
	fn();
	fflush(stderr);
	assert_int_equal(dup2(saved, 2), 2);
	close(saved);
	n = pread(fd, buf, cap - 1, 0);
	assert_true(n >= 0);
	buf[n] = '\0';
	close(fd);
}

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

static void log_each_level(void)
{
	log_msg(LOG_LVL_DEBUG, "debug line");
	log_msg(LOG_LVL_INFO, "info line");
	log_msg(LOG_LVL_WARN, "warn line %d", 2);
	log_msg(LOG_LVL_ERROR, "error line");
}

/* Lines below the level are not written; the others are, one per call. */
static void test_level_filters(void **state)
{
	char out[4096];

	(void)state;
	log_set_level(LOG_LVL_WARN);
	capture_stderr(log_each_level, out, sizeof(out));
	assert_null(strstr(out, "debug line"));
	assert_null(strstr(out, "info line"));
	assert_non_null(strstr(out, "WARN  warn line 2\n"));
	assert_non_null(strstr(out, "ERROR error line\n"));
	log_set_level(LOG_LVL_DEBUG);
	capture_stderr(log_each_level, out, sizeof(out));
	assert_non_null(strstr(out, "debug line\n"));
	assert_non_null(strstr(out, "info line\n"));
}

/* Logs each level with JOURNAL_STREAM naming stderr itself, or (other)
 * another stream, then forgets the journal again. */
static void log_to_journal_stream(bool other)
{
	struct stat st;
	char env[64];

	assert_int_equal(fstat(2, &st), 0);
	snprintf(env, sizeof(env), "%llu:%llu", (unsigned long long)st.st_dev,
		 (unsigned long long)st.st_ino + other);
	setenv("JOURNAL_STREAM", env, 1);
	log_detect_journal();
	log_each_level();
	unsetenv("JOURNAL_STREAM");
	log_detect_journal();
}

static void log_to_journal(void) { log_to_journal_stream(false); }
static void log_to_other_stream(void) { log_to_journal_stream(true); }

/* On the journal's stream a line starts with its syslog priority, and
 * carries no timestamp; on any other stream it is the usual line. */
static void test_journal_priorities(void **state)
{
	char out[4096];

	(void)state;
	log_set_level(LOG_LVL_DEBUG);
	capture_stderr(log_to_journal, out, sizeof(out));
	assert_string_equal(out, "<7>DEBUG debug line\n<6>INFO info line\n"
				 "<4>WARN warn line 2\n<3>ERROR error line\n");
	capture_stderr(log_to_other_stream, out, sizeof(out));
	assert_true(out[0] == '[');
	assert_non_null(strstr(out, "] ERROR error line\n"));
	capture_stderr(log_each_level, out, sizeof(out));
	assert_true(out[0] == '[');
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_level),
		cmocka_unit_test(test_level_filters),
		cmocka_unit_test(test_journal_priorities),
		cmocka_unit_test(test_ratelimit_burst_then_suppress),
		cmocka_unit_test(test_ratelimit_new_window_resets),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
