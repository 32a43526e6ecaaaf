/*
 * rollup_hourly.h - the builder of rollup_1h (sql/016_rollup_1h_builder.sql):
 * closed UTC hours computed from rollup_1m, off the ingest path.
 *
 * Who runs it: rollup_daily_run() (the alert leader, after each evaluation),
 * before the days, on the same blocking session; rollup_hourly_steps() runs
 * the rollup_1m builder first (rollup_minutely.h). Per hour: a claim
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
 * transaction); does nothing when another session builds (the session-level
 * advisory lock below). *hours (may be NULL): how many hours were (re)built.
 * 0 or -1 with err. */
int rollup_hourly_run(PGconn *c, int64_t now_ms, unsigned max_steps, unsigned *hours, char *err,
		      size_t errlen);

/* The builder's session-level advisory lock, for rollup_daily_run(), which
 * holds it across the hours and the days: no hour is rebuilt while a day is
 * claimed or aggregated (013's trigger on rollup_1h then reads rollup_1d's
 * mark in the step's REPEATABLE READ snapshot, which no claim can have
 * moved). rollup_hourly_lock: 1 taken, 0 held by another session, -1 with
 * err. rollup_hourly_steps: rollup_hourly_run's steps, the lock held. */
int rollup_hourly_lock(PGconn *c, char *err, size_t errlen);
void rollup_hourly_unlock(PGconn *c);
int rollup_hourly_steps(PGconn *c, int64_t now_ms, unsigned max_steps, unsigned *hours, char *err,
			size_t errlen);

#endif
