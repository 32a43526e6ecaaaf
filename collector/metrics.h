/*
 * metrics.h - the per target x region x profile series of /metrics, from the
 * LATEST result of each series, for teams that already run Prometheus.
 *
 * A metrics object owns one pgconn (pgconn.h) and a timer on the event loop.
 * Every refresh interval it sends one request (two statements) and, when both
 * succeed, swaps in a new in-memory snapshot; /metrics renders the snapshot
 * and never waits for the database. The snapshot's age is exported
 * (tlswatch_metrics_snapshot_age_seconds) so a stale one is visible.
 *
 *   statement 1: the newest rollup_1h hour of each series seen in the last
 *                METRICS_LOOKBACK_HOURS, then the newest results row of that
 *                series in that hour (results_target_idx: target, port,
 *                started_at) - the latest result without scanning results.
 *   statement 2: rollup_1h's per-outcome counts of the last
 *                METRICS_COUNT_HOURS hours. tlswatch_results_total grows by
 *                how much each (series, hour, outcome) cell grew since the
 *                previous refresh, so it is a true counter of the results
 *                stored while this collector runs (plus, at start, those of
 *                the window); results stored for an hour that has already left
 *                the window are not counted (they are in the database).
 *
 * Names reuse blackbox_exporter's and ssl_exporter's where they mean the same
 * thing; docs/metrics.md lists every family, its labels and the cardinality.
 * Labels are fixed vocabularies (outcome, finding: the lists below, which
 * must equal the SQL `outcomes` table and probe/classify.c - tests check
 * both) or come from the configuration (target, sni, service, region,
 * profile). At most max_series series are exported (the first in key order);
 * tlswatch_metrics_series_limited says when more exist.
 *
 * Ownership: metrics_new() copies conninfo; base is borrowed and must outlive
 * the object. metrics_free() releases the connection, the timer and the
 * snapshot; call it outside pgconn callbacks of this object (it never is).
 */
#ifndef TW_COL_METRICS_H
#define TW_COL_METRICS_H

#include <stddef.h>
#include <stdint.h>
#include <event2/buffer.h>
#include <event2/event.h>

#define METRICS_LOOKBACK_HOURS 6 /* a series with no result for this long disappears */
#define METRICS_COUNT_HOURS 3    /* late results up to this old still count */
#define METRICS_NOUTCOMES 23
#define METRICS_NFINDINGS 15

struct metrics;

struct metrics_opts {
	const char *conninfo;  /* required */
	unsigned refresh_ms;   /* 0 = 15000 */
	unsigned max_series;   /* 0 = 10000 */
};

struct metrics *metrics_new(struct event_base *base, const struct metrics_opts *o, char *err,
			    size_t errlen) __attribute__((warn_unused_result));
void metrics_free(struct metrics *m);

/* Appends the snapshot's families (and the snapshot's own health). */
void metrics_render(const struct metrics *m, struct evbuffer *b);

/* Refreshes completed since start (tests wait on this). */
uint64_t metrics_refreshes(const struct metrics *m);

/* The fixed vocabularies, in taxonomy order. */
extern const char *const metrics_outcome_names[METRICS_NOUTCOMES];
extern const char *const metrics_finding_names[METRICS_NFINDINGS];

#endif
