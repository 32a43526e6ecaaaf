/*
 * rollup_hourly.h - the builder of rollup_1h (sql/016_rollup_1h_builder.sql):
 * closed UTC hours computed from rollup_1m, off the ingest path.
 *
 * Who runs it: rollup_daily_run() (the alert leader, after each evaluation),
 * before the days, on the same blocking session. Per hour: a claim
 * (tw_rollup_1h_claim: the only moment ingest may wait, for one UPDATE) and a
 * step in its own REPEATABLE READ transaction (tw_rollup_1h_step: the oldest
 * hour a late row made dirty, else the oldest claimed hour), so a collector
 * killed anywhere leaves a consistent state and the next leader goes on
 * from it. Readers never depend on its progress for correctness: an hour not
 * built (or dirty) is summed from rollup_1m (view rollup_1h_live,
 * collector/sli.c); lag only costs the readers speed.
 */
#ifndef TW_ROLLUP_HOURLY_H
#define TW_ROLLUP_HOURLY_H

#include <stddef.h>
#include <stdint.h>
#include <libpq-fe.h>

/* An hour is built once it ended this long ago (the probes' batches and
 * spools deliver the last minutes a little later; later rows make it dirty,
 * which costs a rebuild). */
#define ROLLUP_HOURLY_GRACE_MS (5 * 60 * 1000LL)

/* Builds up to max_steps hours as of now_ms (c must not be inside a
 * transaction); does nothing when another session builds (a session-level
 * advisory lock). *hours (may be NULL): how many hours were (re)built. 0 or
 * -1 with err. */
int rollup_hourly_run(PGconn *c, int64_t now_ms, unsigned max_steps, unsigned *hours, char *err,
		      size_t errlen);

#endif
