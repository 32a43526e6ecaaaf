/*
 * test_cmd.c - collector/cmd.c, what the collector's subcommands share
 * without a database: RFC 3339 times on the command line (evaluate --now,
 * maintenance create --start/--end) and `-c FILE` parsing with its exit
 * codes. (The subcommands themselves run as the real binary in
 * tests/integration/test_collector_cli.c.)
 */
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "twtime.h"

TestSuite(cmd);

#define T0 1772445600000LL           /* 2026-03-02T10:00:00Z */

static void time_is(const char *s, int64_t want)
{
	int64_t ms = 12345;
	cr_assert_eq(cmd_parse_time(s, &ms), 0, "\"%s\" refused", s);
	cr_assert_eq(ms, want, "\"%s\": %lld, expected %lld", s, (long long)ms, (long long)want);
}

static void time_refused(const char *s)
{
	int64_t ms = 12345;
	cr_assert_eq(cmd_parse_time(s, &ms), -1, "\"%s\" accepted as %lld", s, (long long)ms);
	cr_assert_eq(ms, 12345, "\"%s\": *ms written on error", s);
}

Test(cmd, rfc3339_utc_and_offsets)
{
	time_is("2026-03-02T10:00:00Z", T0);
	time_is("2026-03-02T10:00:00z", T0);
	time_is("2026-03-02T12:00:00+02:00", T0);
	time_is("2026-03-02T04:30:00-05:30", T0);
	time_is("2026-03-01T23:00:00-11:00", T0);
	time_is("1970-01-01T00:00:00Z", 0);
	time_is("1969-12-31T23:59:59Z", -1000);
}

Test(cmd, rfc3339_fractions)
{
	time_is("2026-03-02T10:00:00.250Z", T0 + 250);
	time_is("2026-03-02T10:00:00.5Z", T0 + 500);
	time_is("2026-03-02T10:00:00.05Z", T0 + 50);
	/* beyond milliseconds: cut, not rounded */
	time_is("2026-03-02T10:00:00.123999Z", T0 + 123);
	time_is("2026-03-02T12:00:00.250+02:00", T0 + 250);
	/* before the epoch the fraction still counts forward from its second */
	time_is("1969-12-31T23:59:59.750Z", -250);
	time_refused("2026-03-02T10:00:00.Z");
}

Test(cmd, now_is_the_wall_clock)
{
	int64_t before = twtime_wall_ms(), ms = 0;
	cr_assert_eq(cmd_parse_time("now", &ms), 0);
	int64_t after = twtime_wall_ms();
	cr_assert_geq(ms, before);
	cr_assert_leq(ms, after);
}

Test(cmd, malformed_times_refused)
{
	time_refused("");
	time_refused("yesterday");
	time_refused("2026-03-02");
	time_refused("2026-03-02T10:00:00");          /* no zone: ambiguous */
	time_refused("2026-03-02 10:00:00Z");
	time_refused("2026-03-02T10:00Z");
	time_refused("2026-03-02T10:00:00+0200");
	time_refused("2026-03-02T10:00:00+24:00");
	time_refused("2026-03-02T10:00:00Zjunk");
	time_refused("2026-13-02T10:00:00Z");
	time_refused("2026-00-02T10:00:00Z");
	time_refused("2026-03-00T10:00:00Z");
	time_refused("2026-03-02T24:00:00Z");
	time_refused("2026-03-02T10:60:00Z");
}

/* Every field is two (four) digits in its place: scanf's %d alone would
 * take a space or a sign there. */
Test(cmd, fields_are_digits)
{
	time_refused("2026-03- 2T10:00:00Z");
	time_refused("2026-03-+2T10:00:00Z");
	time_refused("2026-+3-02T10:00:00Z");
	time_refused(" 2026-03-02T10:00:00Z");
	time_refused("2026-03-02T1 :00:00Z");
	time_refused("-026-03-02T10:00:00Z");
}

/* A day the month does not have is an error, not silently the next
 * month's (a maintenance window on "February 31" would start on March 3). */
Test(cmd, impossible_dates_refused)
{
	time_refused("2026-02-31T10:00:00Z");
	time_refused("2026-02-29T10:00:00Z");          /* 2026 is not a leap year */
	time_refused("2026-04-31T10:00:00Z");
	time_is("2024-02-29T10:00:00Z", 1709200800000LL);
	time_is("2026-01-31T10:00:00Z", 1769853600000LL);
}

/* A leap second names the last second of its minute plus one. */
Test(cmd, leap_second)
{
	time_is("2016-12-31T23:59:60Z", 1483228800000LL);
}

/* ---- -c FILE ---- */

static int helped;
static void help(FILE *f)
{
	helped++;
}

static int parse(bool allow_check, const char **path, bool *check_only, int *rc, int argc,
		 char **argv)
{
	*path = "unset";
	*check_only = false;
	*rc = -7;
	return cmd_parse_config_args(argc, argv, "migrate", allow_check, help, path, check_only, rc);
}

Test(cmd, config_args, .init = cr_redirect_stderr)
{
	const char *path;
	bool check;
	int rc;
	char *a1[] = { "migrate", "-c", "/etc/c.yaml", NULL };
	cr_assert_eq(parse(false, &path, &check, &rc, 3, a1), 0);
	cr_assert_str_eq(path, "/etc/c.yaml");
	cr_assert_not(check);
	char *a2[] = { "run", "--check-config", "--config", "x.yaml", NULL };
	cr_assert_eq(parse(true, &path, &check, &rc, 4, a2), 0);
	cr_assert_str_eq(path, "x.yaml");
	cr_assert(check);

	/* --check-config where the command has none: a usage error */
	cr_assert_eq(parse(false, &path, &check, &rc, 4, a2), -1);
	cr_assert_eq(rc, CMD_EXIT_USAGE);
	/* -c without its file, no -c at all */
	char *a3[] = { "migrate", "-c", NULL };
	cr_assert_eq(parse(false, &path, &check, &rc, 2, a3), -1);
	cr_assert_eq(rc, CMD_EXIT_USAGE);
	char *a4[] = { "migrate", NULL };
	cr_assert_eq(parse(false, &path, &check, &rc, 1, a4), -1);
	cr_assert_eq(rc, CMD_EXIT_USAGE);
	/* help: exit 0, printed once */
	helped = 0;
	char *a5[] = { "migrate", "--help", "-c", "x", NULL };
	cr_assert_eq(parse(false, &path, &check, &rc, 4, a5), -1);
	cr_assert_eq(rc, CMD_EXIT_OK);
	cr_assert_eq(helped, 1);
}
