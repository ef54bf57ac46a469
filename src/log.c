#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static enum log_level current_level = LOG_LVL_WARN;
static bool to_journal;
static __thread uint64_t thread_cid;
static __thread bool thread_has_cid;

/* syslog priorities, for the journal: err, warning, info, debug. */
static const char level_priority[] = {
	[LOG_LVL_ERROR] = '3',
	[LOG_LVL_WARN] = '4',
	[LOG_LVL_INFO] = '6',
	[LOG_LVL_DEBUG] = '7',
};

static const char *const level_names[] = {
	[LOG_LVL_ERROR] = "ERROR",
	[LOG_LVL_WARN] = "WARN",
	[LOG_LVL_INFO] = "INFO",
	[LOG_LVL_DEBUG] = "DEBUG",
};

void log_set_level(enum log_level level) { current_level = level; }

enum log_level log_get_level(void) { return current_level; }

bool log_parse_level(const char *name, enum log_level *out)
{
	static const struct {
		const char *name;
		enum log_level level;
	} names[] = {
		{"error", LOG_LVL_ERROR}, {"warn", LOG_LVL_WARN},
		{"warning", LOG_LVL_WARN}, {"info", LOG_LVL_INFO},
		{"debug", LOG_LVL_DEBUG}, {"trace", LOG_LVL_DEBUG},
	};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strcasecmp(name, names[i].name) == 0) {
			*out = names[i].level;
			return true;
		}
	}
	return false;
}

bool log_init_from_env(void)
{
	const char *value = getenv(LOG_ENV_VAR);
	enum log_level level;

	if (!value || !*value)
		return true;
	if (!log_parse_level(value, &level))
		return false;
	log_set_level(level);
	return true;
}

void log_detect_journal(void)
{
	const char *env = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	to_journal = env && sscanf(env, "%llu:%llu", &dev, &ino) == 2 &&
		     fstat(STDERR_FILENO, &st) == 0 && st.st_dev == dev && st.st_ino == ino;
}

void log_set_thread_cid(uint64_t cid)
{
	thread_cid = cid;
	thread_has_cid = true;
}

static uint64_t monotonic_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	char line[1024];
	struct timespec ts;
	int off;
	va_list ap;

	if (level > current_level)
		return;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	if (to_journal)
		off = snprintf(line, sizeof(line), "<%c>%s ", level_priority[level],
			       level_names[level]);
	else
		off = snprintf(line, sizeof(line), "[%5lld.%06ld] %-5s ",
			       (long long)ts.tv_sec, ts.tv_nsec / 1000, level_names[level]);
	if (thread_has_cid)
		off += snprintf(line + off, sizeof(line) - (size_t)off, "cid=%llu: ",
				(unsigned long long)thread_cid);
	va_start(ap, fmt);
	vsnprintf(line + off, sizeof(line) - (size_t)off, fmt, ap);
	va_end(ap);
	/* One fputs per line so lines from several device threads never interleave. */
	size_t len = strlen(line);
	if (len + 1 < sizeof(line)) {
		line[len] = '\n';
		line[len + 1] = '\0';
	} else {
		line[sizeof(line) - 2] = '\n';
	}
	fputs(line, stderr);
}

bool log_ratelimit_allow(struct log_ratelimit *rl, enum log_level level)
{
	uint64_t now = monotonic_ms();

	if (now - rl->window_start_ms >= 1000) {
		if (rl->suppressed)
			log_msg(level, "(%u similar messages suppressed)", rl->suppressed);
		rl->window_start_ms = now;
		rl->printed = 0;
		rl->suppressed = 0;
	}
	if (rl->printed < LOG_RL_BURST) {
		rl->printed++;
		return true;
	}
	rl->suppressed++;
	return false;
}
