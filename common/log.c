/* log.c - see log.h. */
#include "log.h"
#include "twtime.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <event2/event.h>

int log_active_level = TWLOG_WARN;
static const char *log_prog = "tlswatch";
static bool log_json;

static const char *const level_names[] = { "error", "warn", "info", "debug" };

/*
 * libevent's own messages ("[warn] Epoll MOD(4) on fd 15 failed ...") would
 * go to stderr in its format; they come through here as our lines instead.
 * One class is expected and harmless: libpq closes its socket itself when it
 * sees the server gone, before the connection object can delete the events
 * on it, so the epoll removal that follows fails with EBADF (the kernel
 * already forgot a closed descriptor). Those are debug, everything else keeps
 * libevent's severity.
 */
static void libevent_log(int severity, const char *msg)
{
	enum log_level lvl = severity >= EVENT_LOG_ERR ? TWLOG_ERROR
			     : severity == EVENT_LOG_WARN ? TWLOG_WARN : TWLOG_DEBUG;
	if (lvl == TWLOG_WARN && strstr(msg, "Epoll") && strstr(msg, "Bad file descriptor"))
		lvl = TWLOG_DEBUG;
	log_at((int)lvl, "libevent: %s", msg);
}

void log_init(const char *prog, enum log_level level, bool json)
{
	log_prog = prog;
	log_active_level = (int)level;
	log_json = json;
	event_set_log_callback(libevent_log);
}

int log_level_parse(const char *s)
{
	for (int i = 0; i < 4; i++)
		if (strcasecmp(s, level_names[i]) == 0)
			return i;
	return -1;
}

/* Escapes a message for a JSON string; truncates rather than overflow. */
static void json_escape(char *dst, size_t cap, const char *src)
{
	size_t o = 0;
	for (; *src && o + 7 < cap; src++) {
		unsigned char c = (unsigned char)*src;
		if (c == '"' || c == '\\') {
			dst[o++] = '\\';
			dst[o++] = (char)c;
		} else if (c < 0x20) {
			o += (size_t)snprintf(dst + o, cap - o, "\\u%04x", c);
		} else {
			dst[o++] = (char)c;
		}
	}
	dst[o] = '\0';
}

/*
 * One entry is one line in the key=value format too: a message may carry
 * text from outside (a PostgreSQL error with its DETAIL line, a name a
 * peer chose), and a raw newline in it would forge a second entry. Control
 * characters are written as \n \r \t or \xNN; truncates rather than
 * overflow.
 */
static void line_escape(char *dst, size_t cap, const char *src)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;
	for (; *src && o + 5 < cap; src++) {
		unsigned char c = (unsigned char)*src;
		if (c >= 0x20 && c != 0x7f) {
			dst[o++] = (char)c;
			continue;
		}
		dst[o++] = '\\';
		if (c == '\n') {
			dst[o++] = 'n';
		} else if (c == '\r') {
			dst[o++] = 'r';
		} else if (c == '\t') {
			dst[o++] = 't';
		} else {
			dst[o++] = 'x';
			dst[o++] = hex[c >> 4];
			dst[o++] = hex[c & 15];
		}
	}
	dst[o] = '\0';
}

void log_write(enum log_level level, const char *fmt, ...)
{
	char msg[2048];
	char esc[4096];
	char ts[40];
	va_list ap;
	size_t len;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	/* libpq ends its messages with a newline; the entry ends the line */
	len = strlen(msg);
	while (len > 0 && msg[len - 1] == '\n')
		msg[--len] = '\0';
	twtime_rfc3339_ms(twtime_wall_ms(), ts, sizeof ts);

	if (log_json) {
		json_escape(esc, sizeof esc, msg);
		fprintf(stderr, "{\"ts\":\"%s\",\"level\":\"%s\",\"prog\":\"%s\",\"msg\":\"%s\"}\n",
			ts, level_names[level], log_prog, esc);
	} else {
		line_escape(esc, sizeof esc, msg);
		fprintf(stderr, "ts=%s level=%s prog=%s %s\n", ts, level_names[level], log_prog, esc);
	}
}

bool log_ratelimit_allow(struct log_ratelimit *rl, double now_ms, unsigned interval_ms,
			 unsigned long long *suppressed)
{
	if (rl->last_ms > 0 && now_ms - rl->last_ms < (double)interval_ms) {
		rl->suppressed++;
		return false;
	}
	*suppressed = rl->suppressed;
	rl->suppressed = 0;
	/* a clock at exactly 0 would read as "never written" */
	rl->last_ms = now_ms > 0 ? now_ms : 1e-3;
	return true;
}
