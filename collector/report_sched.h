/*
 * report_sched.h - scheduled reports: the alert leader runs the schedules
 * of collector.yaml (col_config_reports.h) once per scheduled time, across
 * collectors and restarts, and delivers the results (report_deliver.c).
 *
 * The evaluator thread calls report_sched_hook() after each evaluation it
 * makes as the leader (evaluator_opts.leader_hook), on its own blocking
 * session: a report is built and written between two evaluations. Tests
 * and the bench call report_sched_tick() with an injected time.
 *
 * Per schedule and tick (sql/007_reports.sql says why each step is safe):
 *   1. report_schedules: since = when first seen (or the cron text changed)
 *   2. due = the newest scheduled time in (max(since, last run), now]; none:
 *      nothing to do. Older times in that range were missed: counted, not run.
 *   3. claim: INSERT report_runs (schedule, due) ... ON CONFLICT DO NOTHING;
 *      no row: another collector (or an earlier tick) has it. A 'running'
 *      row older than the lease is taken over instead (its leader died).
 *   4. build the report for the period ending at `due` (a late run reports
 *      the period it was scheduled for), write the files, mark it done (or
 *      failed with the error) and queue its deliveries.
 *   5. deliver what is due (report_deliver.c).
 *
 * Ownership: the opts are borrowed for the call.
 */
#ifndef TW_REPORT_SCHED_H
#define TW_REPORT_SCHED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <libpq-fe.h>
#include <event2/buffer.h>

#include "col_config_reports.h"
#include "slo_config.h"

struct report_sched_opts {
	const struct col_reports *reports;
	const struct slo_config *slo;
	const char *collector_id;
	unsigned retention_days;        /* rollup_1m (sli_window) */
	int64_t late_after_ms;          /* started later than this after its time: late */
	int64_t lease_ms;               /* a 'running' run older than this is taken over */
	unsigned max_attempts;          /* delivery attempts before giving up (default 8) */
};

struct report_sched_result {
	int runs, late, failed, missed;
	int delivered, delivery_errors, delivery_given_up;
};

/* One pass at now_ms on c (blocking). 0, or -1 with err when the database
 * failed (a report that fails is recorded as failed, not an error here). */
int report_sched_tick(PGconn *c, const struct report_sched_opts *o, int64_t now_ms,
		      struct report_sched_result *res, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* The evaluator's leader hook: arg is the collector's struct col_config. */
void report_sched_hook(PGconn *c, const struct slo_config *slo, int64_t now_ms, void *arg);

/* ---- delivery (report_deliver.c) ---- */

/* Queues the deliveries of a done run (one per configured way). */
int report_deliver_queue(PGconn *c, const struct col_report_schedule *s, int64_t run_id,
			 int64_t now_ms, char *err, size_t errlen);
/* Attempts every pending delivery that is due; counts into res. */
int report_deliver_due(PGconn *c, const struct report_sched_opts *o, int64_t now_ms,
		       struct report_sched_result *res, char *err, size_t errlen);

/* Process-wide counters for /metrics (metrics_self.c). */
struct report_sched_stats {
	uint64_t runs, late, failed, missed;
	uint64_t delivered, delivery_errors, delivery_given_up;
};
void report_sched_get_stats(struct report_sched_stats *st);
void report_sched_count(const struct report_sched_result *res);
void report_sched_metrics_render(struct evbuffer *b);

#endif
