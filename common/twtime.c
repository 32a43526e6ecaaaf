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
	time_t t = (time_t)(ms / 1000);
	char base[32];
	if (cap == 0)
		return buf;
	if (gmtime_r(&t, &tm) == NULL || strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm) == 0) {
		buf[0] = '\0';
		return buf;
	}
	snprintf(buf, cap, "%s.%03dZ", base, (int)(ms % 1000));
	return buf;
}
