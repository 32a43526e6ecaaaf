/*
 * cron_tz.c - time zones for report schedules (cron.h) from the system's
 * zoneinfo, without touching the process' TZ: a TZif file (RFC 8536)
 * version 2 or later is read once - its 64-bit transition table, and its
 * footer, a POSIX TZ rule ("CET-1CEST,M3.5.0,M10.5.0/3") that says what
 * happens after the last transition (slim zoneinfo files list almost none).
 * Version 1 files (32-bit only) are refused: every zoneinfo of this century
 * is v2+.
 */
#include "cron.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TZ_MAX_FILE (1u << 20)

/* "Mm.w.d/time": month m, week w (5 = last), weekday d, local time (s). */
struct tz_rule {
	int m, w, d;
	int32_t time;
};

struct cron_tz {
	char name[128];
	size_t n;                /* transitions */
	int64_t *at;             /* UTC seconds, ascending */
	int32_t *off_after;      /* offset from at[i] on */
	int32_t off_first;       /* before the first transition */
	/* the footer */
	bool has_footer, has_dst;
	int32_t std_off, dst_off;
	struct tz_rule start, end;
};

/* ---- calendar (days since 1970-01-01; Howard Hinnant's algorithms) ---- */

static int64_t days_from_civil(int64_t y, int m, int d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static int64_t year_of(int64_t days)
{
	days += 719468;
	int64_t era = (days >= 0 ? days : days - 146096) / 146097;
	int64_t doe = days - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;
	int64_t m = mp < 10 ? mp + 3 : mp - 9;
	return yoe + era * 400 + (m <= 2);
}

static int64_t floor_div(int64_t a, int64_t b)
{
	return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

/* Local seconds (since the epoch, in local time) of rule r in year y. */
static int64_t rule_local(const struct tz_rule *r, int64_t y)
{
	int64_t first = days_from_civil(y, r->m, 1);
	int wd_first = (int)(((first % 7) + 11) % 7);    /* 1970-01-01 was a Thursday (4) */
	int64_t day = first + (r->d - wd_first + 7) % 7 + 7 * (r->w - 1);
	if (r->w == 5) {
		int mdays = r->m == 12 ? 31 : (int)(days_from_civil(y, r->m + 1, 1) - first);
		while (day >= first + mdays)
			day -= 7;
	}
	return day * 86400 + r->time;
}

/* ---- the POSIX TZ footer ---- */

static const char *tz_name(const char *p)
{
	if (*p == '<') {
		const char *e = strchr(p, '>');
		return e ? e + 1 : NULL;
	}
	const char *s = p;
	while ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z'))
		p++;
	return p - s >= 3 ? p : NULL;
}

/* [+-]hh[:mm[:ss]] -> seconds; NULL when malformed. */
static const char *tz_hms(const char *p, int32_t *out)
{
	int sign = 1;
	if (*p == '+' || *p == '-')
		sign = *p++ == '-' ? -1 : 1;
	int32_t v = 0, part = 0;
	int fields = 0;
	for (;;) {
		if (*p < '0' || *p > '9')
			return NULL;
		part = 0;
		while (*p >= '0' && *p <= '9' && part < 1000)
			part = part * 10 + (*p++ - '0');
		v = v * 60 + part;
		fields++;
		if (*p != ':' || fields == 3)
			break;
		p++;
	}
	for (; fields < 3; fields++)
		v *= 60;
	*out = sign * v;
	return p;
}

static const char *tz_rule(const char *p, struct tz_rule *r)
{
	char *e;
	if (*p++ != 'M')
		return NULL;         /* Jn and n forms: no zone of ours uses them */
	r->m = (int)strtol(p, &e, 10);
	if (e == p || *e != '.')
		return NULL;
	p = e + 1;
	r->w = (int)strtol(p, &e, 10);
	if (e == p || *e != '.')
		return NULL;
	p = e + 1;
	r->d = (int)strtol(p, &e, 10);
	if (e == p || r->m < 1 || r->m > 12 || r->w < 1 || r->w > 5 || r->d < 0 || r->d > 6)
		return NULL;
	p = e;
	r->time = 7200;
	if (*p == '/' && !(p = tz_hms(p + 1, &r->time)))
		return NULL;
	return p;
}

static int parse_footer(struct cron_tz *tz, const char *s)
{
	const char *p = tz_name(s);
	int32_t v;
	if (!p || !(p = tz_hms(p, &v)))
		return -1;
	tz->std_off = -v;             /* POSIX offsets are west of UTC */
	tz->has_footer = true;
	if (!*p)
		return 0;
	if (!(p = tz_name(p)))
		return -1;
	tz->has_dst = true;
	tz->dst_off = tz->std_off + 3600;
	if (*p && *p != ',') {
		if (!(p = tz_hms(p, &v)))
			return -1;
		tz->dst_off = -v;
	}
	if (*p++ != ',' || !(p = tz_rule(p, &tz->start)) || *p++ != ',' ||
	    !(p = tz_rule(p, &tz->end)) || *p)
		return -1;
	return 0;
}

/* Offset and next change by the footer at UTC second t. */
static int32_t footer_offset(const struct cron_tz *tz, int64_t t)
{
	if (!tz->has_dst)
		return tz->std_off;
	int64_t y = year_of(floor_div(t + tz->std_off, 86400));
	int64_t s = rule_local(&tz->start, y) - tz->std_off;   /* UTC of the switch to DST */
	int64_t e = rule_local(&tz->end, y) - tz->dst_off;     /* UTC of the switch back */
	bool dst = s < e ? (t >= s && t < e) : (t < e || t >= s);
	return dst ? tz->dst_off : tz->std_off;
}

static int64_t footer_next(const struct cron_tz *tz, int64_t t)
{
	if (!tz->has_dst)
		return INT64_MAX;
	int64_t y = year_of(floor_div(t + tz->std_off, 86400)), best = INT64_MAX;
	for (int64_t k = y - 1; k <= y + 1; k++) {
		int64_t s = rule_local(&tz->start, k) - tz->std_off;
		int64_t e = rule_local(&tz->end, k) - tz->dst_off;
		if (s > t && s < best)
			best = s;
		if (e > t && e < best)
			best = e;
	}
	return best;
}

/* ---- TZif ---- */

static uint32_t be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int64_t be64(const unsigned char *p)
{
	return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4));
}

static int parse_tzif(struct cron_tz *tz, const unsigned char *b, size_t len)
{
	if (len < 44 || memcmp(b, "TZif", 4) || b[4] < '2')
		return -1;
	/* skip the v1 block */
	uint32_t isut = be32(b + 20), isstd = be32(b + 24), leap = be32(b + 28),
		 timecnt = be32(b + 32), typecnt = be32(b + 36), charcnt = be32(b + 40);
	size_t v1 = 44 + (size_t)timecnt * 5 + (size_t)typecnt * 6 + charcnt + (size_t)leap * 8 +
		    isstd + isut;
	if (v1 + 44 > len)
		return -1;
	const unsigned char *h = b + v1;
	if (memcmp(h, "TZif", 4))
		return -1;
	isut = be32(h + 20);
	isstd = be32(h + 24);
	leap = be32(h + 28);
	timecnt = be32(h + 32);
	typecnt = be32(h + 36);
	charcnt = be32(h + 40);
	if (typecnt == 0 || typecnt > 256 || timecnt > 100000)
		return -1;
	size_t need = 44 + (size_t)timecnt * 9 + (size_t)typecnt * 6 + charcnt + (size_t)leap * 12 +
		      isstd + isut;
	if (v1 + need > len)
		return -1;
	const unsigned char *times = h + 44, *idx = times + (size_t)timecnt * 8,
			    *types = idx + timecnt;
	tz->n = timecnt;
	tz->at = calloc(timecnt ? timecnt : 1, sizeof *tz->at);
	tz->off_after = calloc(timecnt ? timecnt : 1, sizeof *tz->off_after);
	if (!tz->at || !tz->off_after)
		return -1;
	for (uint32_t i = 0; i < timecnt; i++) {
		if (idx[i] >= typecnt)
			return -1;
		tz->at[i] = be64(times + (size_t)i * 8);
		tz->off_after[i] = (int32_t)be32(types + (size_t)idx[i] * 6);
		if (i && tz->at[i] <= tz->at[i - 1])
			return -1;
	}
	tz->off_first = (int32_t)be32(types);   /* RFC 8536: type 0 before the first transition */
	/* the footer: "\n<TZ string>\n" after the v2 data */
	const char *f = (const char *)h + need;
	size_t flen = len - v1 - need;
	if (flen >= 2 && f[0] == '\n') {
		const char *nl = memchr(f + 1, '\n', flen - 1);
		if (nl && nl > f + 1) {
			char rule[128];
			size_t rl = (size_t)(nl - f - 1);
			if (rl >= sizeof rule)
				return -1;
			memcpy(rule, f + 1, rl);
			rule[rl] = '\0';
			if (parse_footer(tz, rule) < 0)
				return -1;
		}
	}
	return 0;
}

struct cron_tz *cron_tz_load(const char *name, char *err, size_t errlen)
{
	struct cron_tz *tz = calloc(1, sizeof *tz);
	unsigned char *buf = NULL;
	FILE *f = NULL;
	if (!tz) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (strlen(name) >= sizeof tz->name) {
		snprintf(err, errlen, "time zone \"%.40s...\": name too long", name);
		goto fail;
	}
	snprintf(tz->name, sizeof tz->name, "%s", name);
	if (!strcmp(name, "UTC") || !strcmp(name, "Etc/UTC")) {
		tz->has_footer = true;
		return tz;
	}
	/* a zone name, never a path: no "..", no leading '/' */
	for (const char *p = name; *p; p++) {
		if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
		      (*p >= '0' && *p <= '9') || strchr("/_+-", *p)) ||
		    (*p == '/' && (p == name || p[1] == '/' || p[1] == '\0'))) {
			snprintf(err, errlen, "time zone \"%s\": expected an IANA name like "
				 "Europe/Berlin", name);
			goto fail;
		}
	}
	const char *dir = getenv("TZDIR");
	char path[512];
	snprintf(path, sizeof path, "%s/%s", dir && *dir ? dir : "/usr/share/zoneinfo", name);
	if (!(f = fopen(path, "rb"))) {
		snprintf(err, errlen, "time zone \"%s\": cannot read %s: %s", name, path,
			 strerror(errno));
		goto fail;
	}
	if (!(buf = malloc(TZ_MAX_FILE))) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	size_t len = fread(buf, 1, TZ_MAX_FILE, f);
	if (ferror(f) || len == TZ_MAX_FILE || parse_tzif(tz, buf, len) < 0) {
		snprintf(err, errlen, "time zone \"%s\": %s is not a TZif (version 2+) file", name,
			 path);
		goto fail;
	}
	fclose(f);
	free(buf);
	return tz;
fail:
	if (f)
		fclose(f);
	free(buf);
	cron_tz_free(tz);
	return NULL;
}

void cron_tz_free(struct cron_tz *tz)
{
	if (!tz)
		return;
	free(tz->at);
	free(tz->off_after);
	free(tz);
}

const char *cron_tz_name(const struct cron_tz *tz)
{
	return tz->name;
}

int32_t cron_tz_offset(const struct cron_tz *tz, int64_t t)
{
	if (tz->n == 0)
		return tz->has_footer ? footer_offset(tz, t) : tz->off_first;
	if (t < tz->at[0])
		return tz->off_first;
	if (t >= tz->at[tz->n - 1] && tz->has_footer)
		return footer_offset(tz, t);
	/* the last transition <= t */
	size_t lo = 0, hi = tz->n;
	while (hi - lo > 1) {
		size_t mid = (lo + hi) / 2;
		if (tz->at[mid] <= t)
			lo = mid;
		else
			hi = mid;
	}
	return tz->off_after[lo];
}

int64_t cron_tz_next_change(const struct cron_tz *tz, int64_t t)
{
	/* the first transition > t whose offset differs from the one before it */
	size_t lo = 0, hi = tz->n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (tz->at[mid] <= t)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (size_t i = lo; i < tz->n; i++) {
		int32_t before = i ? tz->off_after[i - 1] : tz->off_first;
		if (tz->off_after[i] != before)
			return tz->at[i];
	}
	if (!tz->has_footer)
		return INT64_MAX;
	int64_t from = tz->n && tz->at[tz->n - 1] > t ? tz->at[tz->n - 1] : t;
	return footer_next(tz, from);
}
