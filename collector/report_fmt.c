/*
 * report_fmt.c - what every report format shares: the period argument
 * ("7d", "FROM..TO"), the stable file name of a report, and how numbers,
 * durations and dates are written ("no data" for a missing figure).
 */
#define _GNU_SOURCE      /* timegm */
#include "report.h"
#include "twtime.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* "2026-03-02T10:00:00Z" or "2026-03-02" (midnight UTC) -> ms. */
static int parse_instant(const char *s, size_t len, int64_t *ms)
{
	char buf[64];
	if (len == 0 || len >= sizeof buf)
		return -1;
	memcpy(buf, s, len);
	buf[len] = '\0';
	if (len == 10) {
		struct tm tm;
		memset(&tm, 0, sizeof tm);
		int n = 0;
		if (sscanf(buf, "%4d-%2d-%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &n) != 3 ||
		    n != 10 || buf[4] != '-' || buf[7] != '-' || tm.tm_mon < 1 || tm.tm_mon > 12 ||
		    tm.tm_mday < 1 || tm.tm_mday > 31)
			return -1;
		tm.tm_year -= 1900;
		tm.tm_mon -= 1;
		struct tm want = tm;
		time_t t = timegm(&tm);
		if (tm.tm_mday != want.tm_mday || tm.tm_mon != want.tm_mon)
			return -1;
		*ms = (int64_t)t * 1000;
		return 0;
	}
	/* the command line's one RFC 3339 parser lives in cmd.c; the period
	 * also comes from collector.yaml, so it is parsed here without it */
	struct tm tm;
	memset(&tm, 0, sizeof tm);
	int n = 0;
	if (sscanf(buf, "%4d-%2d-%2dT%2d:%2d:%2dZ%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
		   &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &n) != 6 || n != 20 || (size_t)n != len ||
	    tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 || tm.tm_mday > 31 ||
	    tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 59)
		return -1;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	struct tm want = tm;
	time_t t = timegm(&tm);
	if (tm.tm_mday != want.tm_mday || tm.tm_mon != want.tm_mon)
		return -1;
	*ms = (int64_t)t * 1000;
	return 0;
}

int report_parse_period(const char *s, int64_t now_ms, int64_t *from_ms, int64_t *to_ms,
			char *err, size_t errlen)
{
	static const struct {
		const char *name;
		int days;
	} fixed[] = { { "1d", 1 }, { "7d", 7 }, { "30d", 30 }, { "90d", 90 } };
	for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) {
		if (!strcmp(s, fixed[i].name)) {
			*to_ms = now_ms;
			*from_ms = now_ms - fixed[i].days * REPORT_DAY_MS;
			return 0;
		}
	}
	const char *dots = strstr(s, "..");
	if (!dots) {
		snprintf(err, errlen, "expected 7d, 30d, 90d or FROM..TO (e.g. "
			 "2026-03-01..2026-03-08 or 2026-03-01T00:00:00Z..2026-03-08T00:00:00Z), "
			 "got \"%.80s\"", s);
		return -1;
	}
	if (parse_instant(s, (size_t)(dots - s), from_ms) < 0 ||
	    parse_instant(dots + 2, strlen(dots + 2), to_ms) < 0) {
		snprintf(err, errlen, "FROM..TO: expected two dates (2026-03-01) or UTC times "
			 "(2026-03-01T00:00:00Z), got \"%.80s\"", s);
		return -1;
	}
	if (*to_ms <= *from_ms) {
		snprintf(err, errlen, "FROM..TO: the end must be after the start, got \"%.80s\"", s);
		return -1;
	}
	if (*to_ms - *from_ms > 400 * REPORT_DAY_MS) {
		snprintf(err, errlen, "FROM..TO: at most 400 days, got \"%.80s\"", s);
		return -1;
	}
	return 0;
}

const char *report_fmt_date(int64_t ms, char *buf, size_t cap)
{
	char t[48];
	twtime_rfc3339_ms(ms, t, sizeof t);
	/* "2026-03-02T10:00:00.000Z" -> "2026-03-02" or "2026-03-02 10:00" */
	if (ms % REPORT_DAY_MS == 0)
		snprintf(buf, cap, "%.10s", t);
	else
		snprintf(buf, cap, "%.10s %.5s", t, t + 11);
	return buf;
}

void report_file_stem(const struct report *r, char *buf, size_t cap)
{
	char a[48], b[48];
	twtime_rfc3339_ms(r->from_ms, a, sizeof a);
	twtime_rfc3339_ms(r->to_ms, b, sizeof b);
	size_t n;
	if (strstr(r->period, ".."))
		n = (size_t)snprintf(buf, cap, "tlswatch-report-%.10s--%.10s", a, b);
	else
		n = (size_t)snprintf(buf, cap, "tlswatch-report-%s-%.10s", r->period, b);
	if (r->service_filter && n < cap) {
		snprintf(buf + n, cap - n, "-%s", r->service_filter);
		/* a service name becomes part of a file name: nothing but [A-Za-z0-9._-] */
		for (char *p = buf + n + 1; *p; p++)
			if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
			      (*p >= '0' && *p <= '9') || *p == '.' || *p == '_' || *p == '-'))
				*p = '_';
	}
}

const char *report_fmt_pct(double ratio, char *buf, size_t cap)
{
	if (isnan(ratio))
		snprintf(buf, cap, "no data");
	else
		snprintf(buf, cap, "%.3f%%", ratio * 100);
	return buf;
}

const char *report_fmt_ms(double ms, char *buf, size_t cap)
{
	if (isnan(ms))
		snprintf(buf, cap, "no data");
	else
		snprintf(buf, cap, "%.0f ms", ms);
	return buf;
}

const char *report_fmt_duration(int64_t ms, char *buf, size_t cap)
{
	int64_t s = ms / 1000, d = s / 86400, h = s % 86400 / 3600, m = s % 3600 / 60;
	if (d)
		snprintf(buf, cap, "%" PRId64 "d %" PRId64 "h", d, h);
	else if (h)
		snprintf(buf, cap, "%" PRId64 "h %" PRId64 "m", h, m);
	else if (m)
		snprintf(buf, cap, "%" PRId64 "m", m);
	else
		snprintf(buf, cap, "%" PRId64 "s", s);
	return buf;
}

const char *report_status_name(enum report_status s)
{
	switch (s) {
	case REPORT_MET:
		return "met";
	case REPORT_MISSED:
		return "missed";
	case REPORT_NO_DATA:
		break;
	}
	return "no data";
}
