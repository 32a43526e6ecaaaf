/*
 * test_twtime.c - common/twtime.c: RFC 3339 UTC timestamps (whole seconds
 * and milliseconds) at the epoch, before it, at calendar edges, and into
 * buffers too small to hold them; the two clocks' units.
 *
 * Expected strings are written out by hand (date -u -d @SECONDS agrees).
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "twtime.h"

TestSuite(twtime);

static void sec_is(time_t t, const char *want)
{
	char b[40];
	memset(b, 'x', sizeof b);
	cr_assert_str_eq(twtime_rfc3339(t, b, sizeof b), want, "t = %lld", (long long)t);
}

static void ms_is(int64_t ms, const char *want)
{
	char b[40];
	memset(b, 'x', sizeof b);
	cr_assert_str_eq(twtime_rfc3339_ms(ms, b, sizeof b), want, "ms = %lld", (long long)ms);
}

Test(twtime, epoch)
{
	sec_is(0, "1970-01-01T00:00:00Z");
	ms_is(0, "1970-01-01T00:00:00.000Z");
}

Test(twtime, known_instants)
{
	sec_is(1772409600, "2026-03-02T00:00:00Z");
	sec_is(1709208000, "2024-02-29T12:00:00Z");          /* leap day */
	sec_is(253402300799LL, "9999-12-31T23:59:59Z");
	ms_is(1772409600123LL, "2026-03-02T00:00:00.123Z");
	ms_is(1709251199999LL, "2024-02-29T23:59:59.999Z");
}

/* Milliseconds are zero-padded to three digits, never rounded into the
 * next second. */
Test(twtime, milliseconds_padded_not_rounded)
{
	ms_is(1772409600001LL, "2026-03-02T00:00:00.001Z");
	ms_is(1772409600010LL, "2026-03-02T00:00:00.010Z");
	ms_is(1772409600999LL, "2026-03-02T00:00:00.999Z");
	ms_is(1772409601000LL, "2026-03-02T00:00:01.000Z");
}

/* Before the epoch a millisecond count belongs to the second BELOW it
 * (floor, not truncation toward zero): -1 ms is 23:59:59.999 of the last
 * day of 1969, not "00:00:00.-01". Certificates can carry such dates. */
Test(twtime, before_the_epoch)
{
	sec_is(-1, "1969-12-31T23:59:59Z");
	ms_is(-1, "1969-12-31T23:59:59.999Z");
	ms_is(-999, "1969-12-31T23:59:59.001Z");
	ms_is(-1000, "1969-12-31T23:59:59.000Z");
	ms_is(-1001, "1969-12-31T23:59:58.999Z");
	ms_is(-86400000LL, "1969-12-31T00:00:00.000Z");
	ms_is(-2208988800000LL + 500, "1900-01-01T00:00:00.500Z");
}

/* A buffer too small gives "" (the documented "cannot be shown"), never a
 * cut-off timestamp that still parses as a different, earlier time. */
Test(twtime, small_buffer_gives_empty_string)
{
	char b[24];
	memset(b, 'x', sizeof b);
	cr_assert_str_eq(twtime_rfc3339(1772409600, b, 20), "");
	memset(b, 'x', sizeof b);
	cr_assert_str_eq(twtime_rfc3339(1772409600, b, 21), "2026-03-02T00:00:00Z");
	memset(b, 'x', sizeof b);
	cr_assert_str_eq(twtime_rfc3339_ms(1772409600123LL, b, 24), "");
	char c[25];
	cr_assert_str_eq(twtime_rfc3339_ms(1772409600123LL, c, sizeof c), "2026-03-02T00:00:00.123Z");
}

Test(twtime, zero_capacity_writes_nothing)
{
	char b[4] = "abc";
	cr_assert_eq(twtime_rfc3339(0, b, 0), b);
	cr_assert_eq(twtime_rfc3339_ms(0, b, 0), b);
	cr_assert_str_eq(b, "abc");
}

/* The wall clock is in milliseconds since the epoch (not seconds, not
 * microseconds): it agrees with time() to within a second. */
Test(twtime, wall_clock_is_epoch_milliseconds)
{
	time_t before = time(NULL);
	int64_t ms = twtime_wall_ms();
	time_t after = time(NULL);
	cr_assert_geq(ms / 1000, (int64_t)before - 1);
	cr_assert_leq(ms / 1000, (int64_t)after + 1);
}

/* The monotonic clock is in milliseconds: a 20 ms nanosleep (which sleeps
 * at least that long) advances it by at least 20 and, on any machine
 * that is not stopped, by less than 20 s. */
Test(twtime, monotonic_clock_is_milliseconds)
{
	double a = twtime_mono_ms();
	struct timespec ts = { 0, 20 * 1000000L };
	while (nanosleep(&ts, &ts) != 0)
		;
	double b = twtime_mono_ms();
	cr_assert_geq(b - a, 20.0, "advanced %f ms", b - a);
	cr_assert_lt(b - a, 20000.0, "advanced %f ms", b - a);
}
