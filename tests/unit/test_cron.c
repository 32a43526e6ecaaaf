/*
 * test_cron.c - report schedules (collector/cron.c, cron_tz.c): parsing,
 * the next time, time zones from the system's zoneinfo, and the daylight
 * saving transitions (a skipped local time fires at the jump, a repeated
 * one fires once), also past the last transition a TZif file lists (its
 * POSIX footer rule).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmd.h"
#include "cron.h"
#include "twtime.h"

TestSuite(cron);

/* The next firing of expr after `after` (RFC 3339), as RFC 3339 seconds. */
static const char *next(const char *expr, const char *after)
{
	static char out[8][48];
	static int k;
	struct cron_spec c;
	char err[256];
	int64_t ms;
	cr_assert_eq(cron_parse(expr, &c, err, sizeof err), 0, "%s: %s", expr, err);
	cr_assert_eq(cmd_parse_time(after, &ms), 0, "%s", after);
	int64_t t = cron_next(&c, ms);
	cron_spec_free(&c);
	char *o = out[k++ % 8];
	if (t < 0)
		snprintf(o, 48, "never");
	else
		twtime_rfc3339(t / 1000, o, 48);
	return o;
}

static void parse_fails(const char *expr, const char *want)
{
	struct cron_spec c;
	char err[256] = "";
	cr_assert_eq(cron_parse(expr, &c, err, sizeof err), -1, "%s parsed", expr);
	cr_assert(strstr(err, want), "%s: \"%s\" does not say \"%s\"", expr, err, want);
}

Test(cron, fields_lists_ranges_steps_and_names)
{
	cr_assert_str_eq(next("*/15 * * * *", "2026-03-02T10:07:00Z"), "2026-03-02T10:15:00Z");
	cr_assert_str_eq(next("5/20 * * * *", "2026-03-02T10:26:00Z"), "2026-03-02T10:45:00Z");
	cr_assert_str_eq(next("0 9-17/4 * * *", "2026-03-02T13:00:00Z"), "2026-03-02T17:00:00Z");
	cr_assert_str_eq(next("0 8 * * MON-FRI", "2026-03-06T08:00:00Z"), "2026-03-09T08:00:00Z");
	cr_assert_str_eq(next("0 0 1 jan,jul *", "2026-03-02T00:00:00Z"), "2026-07-01T00:00:00Z");
	cr_assert_str_eq(next("0 0 * * 7", "2026-03-02T00:00:00Z"), "2026-03-08T00:00:00Z");
	cr_assert_str_eq(next("@weekly", "2026-03-02T00:00:00Z"), "2026-03-08T00:00:00Z");
	cr_assert_str_eq(next("@monthly", "2026-03-02T00:00:00Z"), "2026-04-01T00:00:00Z");
	cr_assert_str_eq(next("@daily Europe/Berlin", "2026-03-02T00:00:00Z"),
			 "2026-03-02T23:00:00Z");
	/* strictly after: a time that is itself a firing gives the next one */
	cr_assert_str_eq(next("0 * * * *", "2026-03-02T10:00:00Z"), "2026-03-02T11:00:00Z");
	cr_assert_str_eq(next("0 * * * *", "2026-03-02T09:59:59.999Z"), "2026-03-02T10:00:00Z");
}

Test(cron, day_of_month_and_weekday_either_matches)
{
	/* both restricted: the 13th or any Friday (Vixie cron) */
	cr_assert_str_eq(next("0 0 13 * FRI", "2026-03-02T00:00:00Z"), "2026-03-06T00:00:00Z");
	cr_assert_str_eq(next("0 0 13 * FRI", "2026-03-10T00:00:00Z"), "2026-03-13T00:00:00Z");
	/* only one restricted: that one */
	cr_assert_str_eq(next("0 0 13 * *", "2026-03-02T00:00:00Z"), "2026-03-13T00:00:00Z");
	/* February 29th: the next leap year */
	cr_assert_str_eq(next("0 0 29 2 *", "2026-03-01T00:00:00Z"), "2028-02-29T00:00:00Z");
}

Test(cron, monday_morning_in_berlin_across_the_switch_to_summer_time)
{
	/* CET (+1) until 2026-03-29 01:00Z, CEST (+2) after */
	cr_assert_str_eq(next("0 8 * * MON Europe/Berlin", "2026-03-02T06:59:59Z"),
			 "2026-03-02T07:00:00Z");
	cr_assert_str_eq(next("0 8 * * MON Europe/Berlin", "2026-03-02T07:00:00Z"),
			 "2026-03-09T07:00:00Z");
	cr_assert_str_eq(next("0 8 * * MON Europe/Berlin", "2026-03-23T07:00:00Z"),
			 "2026-03-30T06:00:00Z");
	cr_assert_str_eq(next("0 8 * * MON America/New_York", "2026-03-02T00:00:00Z"),
			 "2026-03-02T13:00:00Z");
	cr_assert_str_eq(next("0 8 * * MON America/New_York", "2026-03-09T00:00:00Z"),
			 "2026-03-09T12:00:00Z");
}

Test(cron, a_skipped_local_time_fires_at_the_jump)
{
	/* 2026-03-29 02:30 does not exist in Berlin: 02:00 CET became 03:00 CEST at 01:00Z */
	cr_assert_str_eq(next("30 2 * * * Europe/Berlin", "2026-03-28T23:00:00Z"),
			 "2026-03-29T01:00:00Z");
	/* ... once: the next is the following night's 02:30 CEST */
	cr_assert_str_eq(next("30 2 * * * Europe/Berlin", "2026-03-29T01:00:00Z"),
			 "2026-03-30T00:30:00Z");
	/* every quarter hour: 02:00-02:45 all collapse into the jump, then 03:15 */
	cr_assert_str_eq(next("*/15 * * * * Europe/Berlin", "2026-03-29T00:50:00Z"),
			 "2026-03-29T01:00:00Z");
	cr_assert_str_eq(next("*/15 * * * * Europe/Berlin", "2026-03-29T01:00:00Z"),
			 "2026-03-29T01:15:00Z");
}

Test(cron, a_repeated_local_time_fires_once)
{
	/* 2026-10-25: 03:00 CEST became 02:00 CET at 01:00Z; 02:30 happens at 00:30Z and 01:30Z */
	cr_assert_str_eq(next("30 2 * * * Europe/Berlin", "2026-10-24T23:00:00Z"),
			 "2026-10-25T00:30:00Z");
	cr_assert_str_eq(next("30 2 * * * Europe/Berlin", "2026-10-25T00:30:00Z"),
			 "2026-10-26T01:30:00Z");
}

Test(cron, past_the_transition_table_the_footer_rule_applies)
{
	/* fat zoneinfo files list transitions until 2037; 2040 comes from
	 * "CET-1CEST,M3.5.0,M10.5.0/3": last Sunday of March 2040 is the 25th */
	cr_assert_str_eq(next("30 2 * * * Europe/Berlin", "2040-03-24T23:00:00Z"),
			 "2040-03-25T01:00:00Z");
	cr_assert_str_eq(next("0 8 * * * Europe/Berlin", "2040-03-25T02:00:00Z"),
			 "2040-03-25T06:00:00Z");
	cr_assert_str_eq(next("0 8 * * * Europe/Berlin", "2040-12-01T00:00:00Z"),
			 "2040-12-01T07:00:00Z");
	/* southern hemisphere: Sydney is on summer time (+11) in January */
	cr_assert_str_eq(next("0 8 * * * Australia/Sydney", "2045-01-10T00:00:00Z"),
			 "2045-01-10T21:00:00Z");
	cr_assert_str_eq(next("0 8 * * * Australia/Sydney", "2045-07-10T00:00:00Z"),
			 "2045-07-10T22:00:00Z");
}

Test(cron, bad_expressions_are_named)
{
	parse_fails("61 * * * *", "minute: 61 is out of range 0-59");
	parse_fails("0 24 * * *", "hour: 24 is out of range 0-23");
	parse_fails("0 0 0 * *", "day of month: 0 is out of range 1-31");
	parse_fails("0 0 * 13 *", "month: 13 is out of range 1-12");
	parse_fails("0 0 * * 8", "day of week: 8 is out of range 0-7");
	parse_fails("0 0 * * FUNDAY", "day of week: expected");
	parse_fails("0 0 5-1 * *", "range 5-1 goes backwards");
	parse_fails("*/0 * * * *", "minute: expected");
	parse_fails("0 0 * *", "expected 5 fields");
	parse_fails("0 0 * * * Europe/Berlin extra", "expected 5 fields");
	parse_fails("0 0 31 2 *", "never fire");
	parse_fails("0 8 * * MON Mars/Olympus", "time zone \"Mars/Olympus\": cannot read");
	parse_fails("0 8 * * MON ../../etc/passwd", "expected an IANA name");
	parse_fails("0 8 * * MON /etc/passwd", "expected an IANA name");
}

Test(cron, a_file_that_is_not_tzif_is_refused)
{
	char dir[] = "/tmp/tlswatch-cron-......";
	memset(dir + strlen(dir) - 6, 'X', 6);      /* mkdtemp's template */
	cr_assert(mkdtemp(dir));
	char path[128];
	snprintf(path, sizeof path, "%s/Bad", dir);
	FILE *f = fopen(path, "w");
	cr_assert(f);
	fputs("this is not a zone", f);
	fclose(f);
	char err[256] = "";
	setenv("TZDIR", dir, 1);
	struct cron_tz *tz = cron_tz_load("Bad", err, sizeof err);
	unsetenv("TZDIR");
	remove(path);
	rmdir(dir);
	cr_assert_null(tz);
	cr_assert(strstr(err, "is not a TZif"), "%s", err);
}

Test(cron, utc_offsets_from_the_zone_file)
{
	char err[256];
	struct cron_tz *tz = cron_tz_load("Europe/Berlin", err, sizeof err);
	cr_assert(tz, "%s", err);
	int64_t ms;
	cr_assert_eq(cmd_parse_time("2026-01-15T12:00:00Z", &ms), 0);
	cr_assert_eq(cron_tz_offset(tz, ms / 1000), 3600);
	cr_assert_eq(cmd_parse_time("2026-07-15T12:00:00Z", &ms), 0);
	cr_assert_eq(cron_tz_offset(tz, ms / 1000), 7200);
	cr_assert_eq(cmd_parse_time("2026-03-29T00:59:59Z", &ms), 0);
	cr_assert_eq(cron_tz_offset(tz, ms / 1000), 3600);
	cr_assert_eq(cron_tz_offset(tz, ms / 1000 + 1), 7200);
	cr_assert_eq(cron_tz_next_change(tz, ms / 1000), ms / 1000 + 1);
	cron_tz_free(tz);
}
