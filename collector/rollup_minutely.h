/*
 * rollup_minutely.h - the builder of rollup_1m (sql/020_rollup_1m_builder.sql):
 * the results rows of ended ingest transactions added to rollup_1m, off the
 * ingest path.
 *
 * Who runs it: rollup_hourly_steps() (the alert leader, after each
 * evaluation), before the hours, under the builder's session lock. Per run a
 * claim (tw_rollup_1m_claim: waits for the ingest transactions in flight,
 * and new ones wait behind it for that long) and steps of at most
 * ROLLUP_MINUTELY_CHUNK transactions each, every step its own transaction,
 * so a collector killed anywhere leaves every row counted once. Readers
 * never depend on its progress for correctness: rows not added yet are read
 * from results (the tail, tw_rollup_1m_live); lag only costs them speed.
 */
#ifndef TW_ROLLUP_MINUTELY_H
#define TW_ROLLUP_MINUTELY_H

#include <stddef.h>
#include <stdint.h>
#include <libpq-fe.h>

/* Ingest transactions per step (each up to 20,000 rows, db_ingest.c). */
#define ROLLUP_MINUTELY_CHUNK 50
/* Steps per run: 50,000 transactions; the next run goes on. */
#define ROLLUP_MINUTELY_MAX_STEPS 1000

/* Claims and adds what was claimed, up to max_steps steps (c must not be
 * inside a transaction). *rows (may be NULL): how many results rows were
 * added. 0 or -1 with err. */
int rollup_minutely_run(PGconn *c, unsigned max_steps, long long *rows, char *err,
			size_t errlen);

#endif
