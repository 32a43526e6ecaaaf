/* twtime.h - clocks and time formatting. Durations come from the monotonic
 * clock; wall time only for timestamps. */
#ifndef TW_TIME_H
#define TW_TIME_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

double twtime_mono_ms(void);          /* CLOCK_MONOTONIC in ms, fractional */
int64_t twtime_wall_ms(void);         /* CLOCK_REALTIME, ms since the epoch */
/* "2026-11-24T13:00:00Z"; returns buf, or "" when the time cannot be shown. */
char *twtime_rfc3339(time_t t, char *buf, size_t cap);
char *twtime_rfc3339_ms(int64_t ms, char *buf, size_t cap);

#endif
