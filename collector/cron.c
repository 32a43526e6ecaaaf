/*
 * cron.c - cron expressions and their next time (cron.h). Time zones come
 * from cron_tz.c; this file only turns local wall times into instants.
 */
#include "cron.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define SEARCH_DAYS (8 * 366 + 2)   /* Feb 29 every 4 years, 2100 skipping one */

static const char *const MONTHS[] = { "JAN", "FEB", "MAR", "APR", "MAY", "JUN",
				      "JUL", "AUG", "SEP", "OCT", "NOV", "DEC" };
static const char *const WDAYS[] = { "SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT" };

struct field {
	const char *name;
	int lo, hi;
	const char *const *names;   /* names[i] = lo + i, or NULL */
	int nnames;
};

static const struct field FIELDS[5] = {
	{ "minute", 0, 59, NULL, 0 },
	{ "hour", 0, 23, NULL, 0 },
	{ "day of month", 1, 31, NULL, 0 },
	{ "month", 1, 12, MONTHS, 12 },
	{ "day of week", 0, 7, WDAYS, 7 },
};

/* A number or a name at *p (advanced); -1 when neither. */
static int value(const struct field *f, const char **p)
{
	const char *s = *p;
	if (*s >= '0' && *s <= '9') {
		int v = 0;
		while (*s >= '0' && *s <= '9' && v < 1000)
			v = v * 10 + (*s++ - '0');
		*p = s;
		return v;
	}
	for (int i = 0; i < f->nnames; i++) {
		if (!strncasecmp(s, f->names[i], 3)) {
			*p = s + 3;
			return f->names == MONTHS ? i + 1 : i;
		}
	}
	return -1;
}

/* One field's text (len bytes) into the bit set *bits. */
static int parse_field(const struct field *f, const char *s, size_t len, uint64_t *bits,
		       bool *any, char *err, size_t errlen)
{
	char buf[128];
	if (len >= sizeof buf) {
		snprintf(err, errlen, "%s: too long", f->name);
		return -1;
	}
	memcpy(buf, s, len);
	buf[len] = '\0';
	*bits = 0;
	*any = !strcmp(buf, "*");
	const char *p = buf;
	for (;;) {
		int a, b, step = 1;
		const char *item = p;
		if (*p == '*') {
			a = f->lo;
			b = f == &FIELDS[4] ? 6 : f->hi;
			p++;
		} else {
			if ((a = value(f, &p)) < 0)
				goto bad;
			b = a;
			if (*p == '-') {
				p++;
				if ((b = value(f, &p)) < 0)
					goto bad;
			}
		}
		if (*p == '/') {
			p++;
			const char *q = p;
			if ((step = value(&FIELDS[0], &p)) <= 0 || p == q)
				goto bad;
			if (item[0] != '*' && b == a)
				b = f == &FIELDS[4] ? 6 : f->hi;  /* "5/15" = "5-59/15" */
		}
		if (a < f->lo || a > f->hi || b < f->lo || b > f->hi) {
			snprintf(err, errlen, "%s: %d is out of range %d-%d", f->name,
				 a < f->lo || a > f->hi ? a : b, f->lo, f->hi);
			return -1;
		}
		if (b < a) {
			snprintf(err, errlen, "%s: range %d-%d goes backwards", f->name, a, b);
			return -1;
		}
		for (int v = a; v <= b; v += step)
			*bits |= 1ull << (f == &FIELDS[4] && v == 7 ? 0 : v);
		if (*p == '\0')
			return 0;
		if (*p++ != ',')
			goto bad;
		continue;
bad:
		snprintf(err, errlen, "%s: expected *, N, N-M or a list of them, each optionally "
			 "/STEP, got \"%s\"", f->name, buf);
		return -1;
	}
}

int cron_parse(const char *s, struct cron_spec *out, char *err, size_t errlen)
{
	static const struct {
		const char *name, *fields;
	} macros[] = {
		{ "@hourly", "0 * * * *" },
		{ "@daily", "0 0 * * *" },
		{ "@midnight", "0 0 * * *" },
		{ "@weekly", "0 0 * * 0" },
		{ "@monthly", "0 0 1 * *" },
	};
	char expanded[256];
	memset(out, 0, sizeof *out);
	while (*s == ' ' || *s == '\t')
		s++;
	for (size_t i = 0; i < sizeof macros / sizeof macros[0]; i++) {
		size_t n = strlen(macros[i].name);
		if (!strncmp(s, macros[i].name, n) && (s[n] == '\0' || s[n] == ' ')) {
			snprintf(expanded, sizeof expanded, "%s%s", macros[i].fields, s + n);
			s = expanded;
			break;
		}
	}
	const char *tok[7];
	size_t len[7];
	size_t n = 0;
	for (const char *p = s; *p;) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (!*p)
			break;
		if (n == 7) {
			n++;
			break;
		}
		tok[n] = p;
		while (*p && *p != ' ' && *p != '\t')
			p++;
		len[n] = (size_t)(p - tok[n]);
		n++;
	}
	if (n < 5 || n > 6) {
		snprintf(err, errlen, "expected 5 fields and an optional time zone (\"MINUTE HOUR "
			 "DAY-OF-MONTH MONTH DAY-OF-WEEK [ZONE]\", e.g. \"0 8 * * MON "
			 "Europe/Berlin\"), got %zu field%s", n > 7 ? (size_t)7 : n, n == 1 ? "" : "s");
		return -1;
	}
	uint64_t bits[5];
	bool any[5];
	for (size_t i = 0; i < 5; i++)
		if (parse_field(&FIELDS[i], tok[i], len[i], &bits[i], &any[i], err, errlen) < 0)
			return -1;
	out->minutes = bits[0];
	out->hours = (uint32_t)bits[1];
	out->mdays = (uint32_t)bits[2];
	out->months = (uint16_t)bits[3];
	out->wdays = (uint8_t)bits[4];
	out->mday_any = any[2];
	out->wday_any = any[4];
	/* "31 2" never fires: say so now rather than never run */
	if (out->wday_any) {
		static const int mdays[13] = { 0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
		bool some = false;
		for (int m = 1; m <= 12 && !some; m++)
			for (int d = 1; d <= mdays[m] && (out->months >> m & 1); d++)
				if (out->mdays >> d & 1)
					some = true;
		if (!some) {
			snprintf(err, errlen, "day of month: no month selected has such a day, the "
				 "schedule would never fire");
			return -1;
		}
	}
	char zone[128] = "UTC";
	if (n == 6) {
		if (len[5] >= sizeof zone) {
			snprintf(err, errlen, "time zone: name too long");
			return -1;
		}
		memcpy(zone, tok[5], len[5]);
		zone[len[5]] = '\0';
	}
	if (!(out->tz = cron_tz_load(zone, err, errlen)))
		return -1;
	return 0;
}

void cron_spec_free(struct cron_spec *c)
{
	if (!c)
		return;
	cron_tz_free(c->tz);
	c->tz = NULL;
}

/* ---- next ---- */

static void civil_from_days(int64_t z, int *y, int *m, int *d)
{
	z += 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = (int)(yoe + era * 400 + (*m <= 2));
}

static int64_t floor_div(int64_t a, int64_t b)
{
	return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

/* The instant of local wall time L (seconds): its first occurrence when
 * clocks went back, the jump itself when it was skipped. */
static int64_t local_to_utc(const struct cron_tz *tz, int64_t L)
{
	/* every offset is within [-14h, +14h]: the instant is in [L-14h, L+14h] */
	int32_t oa = cron_tz_offset(tz, L - 14 * 3600), ob = cron_tz_offset(tz, L + 14 * 3600);
	int64_t ta = L - oa, tb = L - ob;
	bool va = cron_tz_offset(tz, ta) == oa, vb = cron_tz_offset(tz, tb) == ob;
	if (va && vb)
		return ta < tb ? ta : tb;
	if (va)
		return ta;
	if (vb)
		return tb;
	/* skipped: the change that skipped it */
	return cron_tz_next_change(tz, L - 14 * 3600);
}

int64_t cron_next(const struct cron_spec *c, int64_t after_ms)
{
	int64_t after = floor_div(after_ms, 1000);
	int64_t day0 = floor_div(after + cron_tz_offset(c->tz, after), 86400) - 1;
	for (int64_t day = day0; day < day0 + SEARCH_DAYS; day++) {
		int y, m, d;
		civil_from_days(day, &y, &m, &d);
		int wd = (int)(((day % 7) + 11) % 7);
		if (!(c->months >> m & 1))
			continue;
		bool dom = c->mdays >> d & 1, dow = c->wdays >> wd & 1;
		if (c->mday_any || c->wday_any ? !(dom && dow) : !(dom || dow))
			continue;
		for (int h = 0; h < 24; h++) {
			if (!(c->hours >> h & 1))
				continue;
			for (int mi = 0; mi < 60; mi++) {
				if (!(c->minutes >> mi & 1))
					continue;
				int64_t t = local_to_utc(c->tz, day * 86400 + h * 3600 + mi * 60);
				if (t > after)
					return t * 1000;
			}
		}
	}
	return -1;
}
