/*
 * rollup_daily.h - the aggregator of rollup_1d (sql/013_rollup_1d.sql):
 * whole UTC days computed from rollup_1h, off the ingest path.
 *
 * Who runs it: the alert leader (evaluator.c), after each evaluation, on its
 * own blocking session; `tlswatch-collector evaluate` does not. Per day: a
 * claim (tw_rollup_1d_claim: the only moment ingest may wait, for one
 * UPDATE) and a step in its own REPEATABLE READ transaction
 * (tw_rollup_1d_step: the oldest day a late row made dirty, else the day
 * claimed), so a collector killed anywhere leaves a consistent state and the
 * next leader goes on from it. Readers never depend on the
 * aggregator's progress for correctness: a day it has not done (or that is
 * dirty) is read from rollup_1h (collector/sli.c sli_rows_sql); lag only
 * costs speed.
 */
#ifndef TW_ROLLUP_DAILY_H
#define TW_ROLLUP_DAILY_H

#include <stddef.h>
#include <stdint.h>
#include <libpq-fe.h>

/* A day is aggregated once it ended this long ago (results of the last
 * minutes before midnight arrive a little later; later ones make it dirty). */
#define ROLLUP_DAILY_GRACE_MS (15 * 60 * 1000LL)

/* Builds the closed hours of rollup_1h first (rollup_hourly_run, up to 24 x
 * max_steps), then runs up to max_steps days as of now_ms (c must not be inside a
 * transaction), then the rollup_1d retention (tw_maintain_rollup_1d); does
 * nothing when another session is aggregating (a session-level advisory
 * lock). *days (may be NULL): how many days were (re)computed. 0 or -1 with
 * err. */
int rollup_daily_run(PGconn *c, int64_t now_ms, unsigned max_steps, unsigned *days, char *err,
		     size_t errlen);

#endif
