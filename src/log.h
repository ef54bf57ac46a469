/* Logging: one line per event on stderr, with a level, a timestamp and the
 * CID of the device whose thread logs it.  Warnings a guest or host peer can
 * trigger go through the *_rl variants so a hostile peer cannot flood the log. */
#ifndef VSOCK_LOG_H
#define VSOCK_LOG_H

#include <stdbool.h>
#include <stdint.h>

enum log_level {
	LOG_LVL_ERROR,
	LOG_LVL_WARN,
	LOG_LVL_INFO,
	LOG_LVL_DEBUG,
};

/* Name of the environment variable read by log_init_from_env(). */
#define LOG_ENV_VAR "VHOST_DEVICE_VSOCK_LOG"

void log_set_level(enum log_level level);
enum log_level log_get_level(void);
/* Parses "error", "warn", "info", "debug" (also "warning", "trace"=debug).
 * Returns false if the name is not a level. */
bool log_parse_level(const char *name, enum log_level *out);
/* Applies $VHOST_DEVICE_VSOCK_LOG when set; returns false if it is invalid. */
bool log_init_from_env(void);

/* When stderr is the journal stream systemd names in $JOURNAL_STREAM,
 * lines start with their syslog priority ("<3>" ... "<7>", which the
 * journal reads) instead of a timestamp (the journal keeps its own).  Call
 * once, before any thread logs. */
void log_detect_journal(void);

/* Every line logged by the calling thread is prefixed with "cid=N". */
void log_set_thread_cid(uint64_t cid);

void log_msg(enum log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define log_enabled(lvl) ((lvl) <= log_get_level())
#define log_err(...) log_msg(LOG_LVL_ERROR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_LVL_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LVL_INFO, __VA_ARGS__)
#define log_debug(...)                                                   \
	do {                                                             \
		if (log_enabled(LOG_LVL_DEBUG))                          \
			log_msg(LOG_LVL_DEBUG, __VA_ARGS__);             \
	} while (0)

/* Per call site and per thread (so per device): at most LOG_RL_BURST lines
 * per second; the count of suppressed lines is reported when logging resumes. */
#define LOG_RL_BURST 10
struct log_ratelimit {
	uint64_t window_start_ms;
	unsigned printed;
	unsigned suppressed;
};
/* Returns true if the caller may log now; may itself log a "suppressed" line. */
bool log_ratelimit_allow(struct log_ratelimit *rl, enum log_level level);

#define log_rl(lvl, ...)                                                 \
	do {                                                             \
		static __thread struct log_ratelimit rl_;                \
		if (log_enabled(lvl) && log_ratelimit_allow(&rl_, lvl))  \
			log_msg(lvl, __VA_ARGS__);                       \
	} while (0)
#define log_warn_rl(...) log_rl(LOG_LVL_WARN, __VA_ARGS__)
#define log_info_rl(...) log_rl(LOG_LVL_INFO, __VA_ARGS__)

#endif
