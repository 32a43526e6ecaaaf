/* twtime.c - see twtime.h. */
#include "twtime.h"

#include <stdio.h>

double twtime_mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

int64_t twtime_wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

char *twtime_rfc3339(time_t t, char *buf, size_t cap)
{
	struct tm tm;
	if (cap == 0)
		return buf;
	if (gmtime_r(&t, &tm) == NULL || strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		buf[0] = '\0';
	return buf;
}

char *twtime_rfc3339_ms(int64_t ms, char *buf, size_t cap)
{
	struct tm tm;
	/* floor, not C's truncation toward zero: -1 ms is 23:59:59.999 of the
	 * second before the epoch */
	int64_t frac = ms % 1000;
	if (frac < 0)
		frac += 1000;
	time_t t = (time_t)((ms - frac) / 1000);
	char base[32];
	int n;
	if (cap == 0)
		return buf;
	if (gmtime_r(&t, &tm) == NULL || strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm) == 0) {
		buf[0] = '\0';
		return buf;
	}
	/* a cut-off timestamp would read as another time: "" instead */
	n = snprintf(buf, cap, "%s.%03dZ", base, (int)frac);
	if (n < 0 || (size_t)n >= cap)
		buf[0] = '\0';
	return buf;
}
