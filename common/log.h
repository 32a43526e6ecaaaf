/*
 * log.h - the one logging module: levels, key=value or JSON lines on stderr.
 *
 * Formatting is skipped below the active level (the macros test the level
 * before evaluating arguments). Never pass secrets: keys, tokens, passwords.
 */
#ifndef TW_LOG_H
#define TW_LOG_H

#include <stdbool.h>

#include "twtime.h"

enum log_level { TWLOG_ERROR = 0, TWLOG_WARN, TWLOG_INFO, TWLOG_DEBUG };

extern int log_active_level;

void log_init(const char *prog, enum log_level level, bool json);
/* Parses "error|warn|info|debug"; returns -1 when unknown. */
int log_level_parse(const char *s);
void log_write(enum log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define log_at(lvl, ...) do { if ((lvl) <= log_active_level) log_write((lvl), __VA_ARGS__); } while (0)
#define log_error(...) log_at(TWLOG_ERROR, __VA_ARGS__)
#define log_warn(...)  log_at(TWLOG_WARN, __VA_ARGS__)
#define log_info(...)  log_at(TWLOG_INFO, __VA_ARGS__)
#define log_debug(...) log_at(TWLOG_DEBUG, __VA_ARGS__)

/*
 * Rate limiting for a line that can repeat without bound (an accept that
 * fails at the descriptor limit, a refusal a flood of peers triggers): the
 * caller owns one struct log_ratelimit per such line, zeroed, and writes
 * through log_every(). The first line of each interval is written with
 * " suppressed=N" appended, N the lines held back since the last one
 * written; the rest only count. Lines below the active level neither count
 * nor print.
 */
struct log_ratelimit {
	double last_ms;                /* when the last line was written; 0 = never */
	unsigned long long suppressed; /* held back since then */
};

/* True when a line may be written at now_ms (monotonic); then *suppressed
 * is the count held back before it and the count restarts. */
bool log_ratelimit_allow(struct log_ratelimit *rl, double now_ms, unsigned interval_ms,
			 unsigned long long *suppressed);

#define log_every(rl, interval_ms, lvl, fmt, ...) do { \
	unsigned long long log_sup_; \
	if ((lvl) <= log_active_level && \
	    log_ratelimit_allow((rl), twtime_mono_ms(), (interval_ms), &log_sup_)) \
		log_write((lvl), fmt " suppressed=%llu", ##__VA_ARGS__, log_sup_); \
} while (0)

#endif
