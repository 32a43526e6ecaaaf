/*
 * log.h - the one logging module: levels, key=value or JSON lines on stderr.
 *
 * Formatting is skipped below the active level (the macros test the level
 * before evaluating arguments). Never pass secrets: keys, tokens, passwords.
 */
#ifndef TW_LOG_H
#define TW_LOG_H

#include <stdbool.h>

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

#endif
