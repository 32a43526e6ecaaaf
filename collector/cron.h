/*
 * cron.h - report schedules: five-field cron expressions with a time zone
 * ("0 8 * * MON Europe/Berlin") and the next time one fires.
 *
 * Syntax: MINUTE HOUR DAY-OF-MONTH MONTH DAY-OF-WEEK [ZONE], each field a
 * comma-separated list of `*`, `N`, `N-M`, optionally `/STEP`; months may be
 * JAN..DEC, weekdays SUN..SAT (0 and 7 are Sunday). As in Vixie cron, when
 * both DAY-OF-MONTH and DAY-OF-WEEK are restricted a day matching either
 * fires. @hourly, @daily, @weekly (Sunday 00:00) and @monthly stand for
 * their five fields. ZONE is an IANA name read from the system's zoneinfo
 * (TZif files under $TZDIR or /usr/share/zoneinfo, cron_tz.c); none means
 * UTC. The process' TZ is never touched (a threaded daemon must not
 * setenv TZ).
 *
 * Daylight saving: a schedule fires once per matching local time.
 *   - a local time skipped by a spring-forward jump (02:30 on the last
 *     Sunday of March in Europe/Berlin) fires at the jump itself (03:00
 *     CEST), as cron does;
 *   - a local time that occurs twice when clocks go back fires at its first
 *     occurrence only.
 *
 * Ownership: cron_parse() fills a caller-owned struct cron_spec that owns
 * its zone; cron_spec_free() releases it.
 */
#ifndef TW_CRON_H
#define TW_CRON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A time zone: UTC offsets by instant (cron_tz.c). */
struct cron_tz;

/* "Europe/Berlin" from $TZDIR or /usr/share/zoneinfo; "UTC" is built in.
 * NULL with err naming the zone and the problem. */
struct cron_tz *cron_tz_load(const char *name, char *err, size_t errlen);
void cron_tz_free(struct cron_tz *tz);
/* Seconds east of UTC in effect at UTC second t. */
int32_t cron_tz_offset(const struct cron_tz *tz, int64_t t);
/* The first UTC second > t at which the offset changes; INT64_MAX: none. */
int64_t cron_tz_next_change(const struct cron_tz *tz, int64_t t);
/* The zone's name as loaded. */
const char *cron_tz_name(const struct cron_tz *tz);

struct cron_spec {
	uint64_t minutes;       /* bit m: minute m (0-59) */
	uint32_t hours;         /* bit h (0-23) */
	uint32_t mdays;         /* bit d (1-31) */
	uint16_t months;        /* bit m (1-12) */
	uint8_t wdays;          /* bit w (0-6, Sunday 0) */
	bool mday_any, wday_any;   /* the field was `*` (the OR rule above) */
	struct cron_tz *tz;     /* owned */
};

/* Parses s into *out. 0, or -1 with err saying which field and what was
 * wrong, e.g. `minute: 61 is out of range 0-59`. */
int cron_parse(const char *s, struct cron_spec *out, char *err, size_t errlen);
void cron_spec_free(struct cron_spec *c);

/* The first time (Unix ms, whole minutes) strictly after after_ms at which
 * c fires; -1 when it never does within 8 years. */
int64_t cron_next(const struct cron_spec *c, int64_t after_ms);

#endif
