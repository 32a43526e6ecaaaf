/*
 * evaluator.h - the alert evaluator: one leader among the collectors that
 * share a database evaluates every SLO burn-rate rule (burn.h) and every
 * other rule (rules_other.h) at each evaluation_interval.
 *
 * Leader election: a thread of its own with its own blocking PGconn (never
 * on the event loop). At every tick it makes sure it holds the session-level
 * advisory lock EVALUATOR_LOCK_CLASS/EVALUATOR_LOCK_KEY
 * (pg_try_advisory_lock); only the holder evaluates, and it keeps the lock
 * for as long as its session lives. A collector whose session breaks stops
 * evaluating, reconnects and competes again at its next tick; when the
 * leader dies its session ends, the server releases the lock and another
 * collector takes over at its next tick (so failover takes at most one
 * interval plus the server noticing the dead session: immediately for a
 * killed process, TCP keepalive time for a vanished host).
 *
 * Every evaluation is recorded in evaluation_runs (collector_id, eval_at,
 * duration, series, changes).
 *
 * Time: the thread uses the wall clock; evaluator_run_once() takes now_ms so
 * tests (and `tlswatch-collector evaluate --now`) inject it.
 */
#ifndef TW_EVALUATOR_H
#define TW_EVALUATOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <libpq-fe.h>

#include "slo_config.h"

/* pg_try_advisory_lock(int4, int4): 'twms' like tw_maintain_partitions'
 * lock (key 1); the evaluator is key 2, held for the leader's whole session,
 * so nothing else may take it (migrate has key 3; db_schema.h lists them). */
#define EVALUATOR_LOCK_CLASS 1953985907
#define EVALUATOR_LOCK_KEY   2

struct evaluator_run_opts {
	const char *collector_id;       /* evaluation_runs.collector_id; NULL: no row */
	const char *generator_url;      /* external_url or NULL */
	unsigned retention_days;        /* rollup_1m retention (0 = keep forever) */
	bool skip_other_rules;          /* only SLO burn rules (bench, tests) */
	bool dry_run;                   /* compute, print, change nothing */
	FILE *status_out;               /* print the SLO status here when not NULL */
	bool status_json;
};

struct evaluator_result {
	size_t slos;                    /* SLO statuses (SLO x region) */
	size_t series;                  /* rollup series read */
	int active;                     /* burn rules whose condition holds */
	int changes;                    /* alert state changes + notifications */
	double duration_ms, query_ms;
};

/* One evaluation at now_ms on c (blocking): targets sync, burn rates, other
 * rules, alert lifecycle, evaluation_runs - all but the targets sync in one
 * transaction. The caller must hold the lock when others may evaluate. */
int evaluator_run_once(PGconn *c, const struct slo_config *cfg, int64_t now_ms,
		       const struct evaluator_run_opts *o, struct evaluator_result *res,
		       char *err, size_t errlen) __attribute__((warn_unused_result));

/* Tries the evaluator lock on c's session: 1 held (now or already),
 * 0 another session holds it, -1 error. */
int evaluator_try_lock(PGconn *c, char *err, size_t errlen);

/* Session settings every evaluator connection needs (UTC, timeouts). */
int evaluator_prepare_conn(PGconn *c, char *err, size_t errlen);

struct evaluator_opts {
	const char *conninfo;
	/* borrowed: must outlive the evaluator. NULL (no alerting section):
	 * the thread only builds the rollups (rollup_daily_run), without the
	 * evaluator's lock (their own locks make builders take turns),
	 * evaluates nothing and calls no leader_hook */
	const struct slo_config *cfg;
	unsigned interval_ms;           /* default 30000 */
	const char *collector_id;       /* copied */
	const char *external_url;       /* copied; may be NULL */
	unsigned retention_days;
	/* Called on the evaluator thread after each evaluation it makes as the
	 * leader, with its session (report_sched_hook: scheduled reports). */
	void (*leader_hook)(PGconn *c, const struct slo_config *cfg, int64_t now_ms, void *arg);
	void *leader_hook_arg;
};

struct evaluator;

/* Starts the thread (returns at once; connecting happens on the thread). */
struct evaluator *evaluator_start(const struct evaluator_opts *o, char *err, size_t errlen);
/* Stops the thread and joins it: an evaluation in progress is cancelled
 * (PQcancel; its transaction rolls back, the next leader redoes it); the
 * session ends, releasing the lock. NULL is fine. */
void evaluator_stop(struct evaluator *e);

struct evaluator_stats {
	bool leader;
	uint64_t runs, failures, lock_attempts;
	double last_duration_ms;
	int64_t last_run_ms;            /* wall clock of the last evaluation, 0 = none */
};
void evaluator_get_stats(struct evaluator *e, struct evaluator_stats *st);

#endif
