/*
 * alerts.h - the alert lifecycle (sql/002_alerts.sql): every rule reports
 * what it saw at one evaluation, this module moves alerts between pending,
 * firing and resolved, records alert_events, honours maintenance windows and
 * writes notification_outbox rows - all inside the evaluation's transaction.
 *
 * Used by the evaluator (one leader at a time, its own blocking PGconn on a
 * thread of its own, never on the event loop). Time is always passed in
 * (now_ms), never read, so tests inject it.
 *
 *   alerts_begin(conn, now)                BEGIN
 *   alerts_observe(run, obs) ...           once per (rule, key) whose condition
 *                                          is TRUE at this evaluation
 *   alerts_rule_evaluated(run, rule)       the rule ran (so its open alerts
 *                                          that were not observed are clean)
 *   alerts_commit(run) / alerts_abort(run) COMMIT / ROLLBACK
 *
 * Transitions at commit (per open alert of an evaluated rule):
 *   observed, no open alert           -> new row 'pending' (active_evals = 1)
 *   observed, pending, active_evals >= for_evals -> 'firing' (+ outbox trigger)
 *     (for_evals 0 or 1: fires at the first evaluation it is observed)
 *   not observed, clean_evals >= resolve_after -> 'resolved'
 *     (+ outbox resolve when receivers were told it fired)
 *   a firing alert inside a maintenance window: event suppressed, no outbox;
 *   when the window ends and it still fires, the trigger is sent then.
 *
 * Inhibition (sql/010_alerting.sql): a ticket whose inhibit_group equals
 * that of a page observed at the same evaluation is held back like an alert
 * inside a maintenance window (suppressed, details.reason "inhibited",
 * alerts.inhibited_by = the page's dedup_key), and sent when the page is no
 * longer observed and the ticket still fires. Resolves are never inhibited.
 *
 * Regions: obs.regions names the regions that see the problem; the alert
 * keeps them (alerts.regions) and the notification payload carries them.
 *
 * Maintenance windows themselves (create, list, delete) are maint.h's; this
 * module only asks tw_in_maintenance() whether an alert is inside one.
 *
 * Ownership: obs strings and json are borrowed for the call (json is not
 * stolen). Every function returns 0, or -1 with err set (the caller then
 * calls alerts_abort).
 */
#ifndef TW_ALERTS_H
#define TW_ALERTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <jansson.h>
#include <libpq-fe.h>

struct alerts_run;

struct alert_obs {
	const char *rule;          /* "slo_burn_fast", "cert_expiry_24h", ... */
	const char *dedup_key;     /* stable: rule + subject + region group */
	const char *severity;      /* "page" or "ticket" */
	const char *subject;       /* SLO name, "host:port", probe id */
	const char *service;       /* may be NULL */
	const char *region_group;  /* "all" or a region; NULL = "all" */
	const char *target;        /* "host:port" for maintenance matching, or NULL */
	const json_t *labels;      /* object or NULL */
	const char *summary;       /* one line for humans */
	const json_t *details;     /* object or NULL: values, thresholds, counts */
	double value;
	unsigned for_evals;        /* evaluations observed before firing (0,1 = at once) */
	unsigned resolve_after;    /* clean evaluations before resolving (0 = 1) */
	const char *regions;       /* the regions that see it, ", "-separated and sorted
				    * ("ap-south, eu-west"); NULL: not known */
	const char *inhibit_group; /* pages inhibit tickets of the same group; NULL: none */
};

struct alerts_run *alerts_begin(PGconn *conn, int64_t now_ms, const char *generator_url,
				char *err, size_t errlen);
int alerts_observe(struct alerts_run *r, const struct alert_obs *o, char *err, size_t errlen);
int alerts_rule_evaluated(struct alerts_run *r, const char *rule, char *err, size_t errlen);
/* Applies the transitions and commits; *changes = state changes made. Frees r. */
int alerts_commit(struct alerts_run *r, int *changes, char *err, size_t errlen);
/* Rolls back and frees r. NULL is fine. */
void alerts_abort(struct alerts_run *r);

/* The newest alert_events id (0 when none), read before an evaluation. */
int alerts_last_event_id(PGconn *conn, int64_t *id, char *err, size_t errlen);
/* The alert changes recorded after since_id, in order: one line each on out,
 * or, when json_out (an array) is given, one object each appended to it. */
int alerts_print_changes(PGconn *conn, int64_t since_id, json_t *json_out, FILE *out, char *err,
			 size_t errlen);

#endif
