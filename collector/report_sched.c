/*
 * report_sched.c - runs the report schedules on the alert leader, exactly
 * once per scheduled time (report_sched.h has the steps, and
 * sql/007_reports.sql the tables and why a claim cannot happen twice).
 */
#include "report_sched.h"
#include "col_config.h"
#include "log.h"
#include "metrics_expo.h"
#include "report.h"
#include "twtime.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DUE_STEPS 1000000      /* "* * * * *" missed for ~2 years */

static struct report_sched_stats g_stats;   /* __atomic: the evaluator thread writes, HTTP reads */

void report_sched_count(const struct report_sched_result *res)
{
	__atomic_add_fetch(&g_stats.runs, (uint64_t)res->runs, __ATOMIC_RELAXED);
	__atomic_add_fetch(&g_stats.late, (uint64_t)res->late, __ATOMIC_RELAXED);
	__atomic_add_fetch(&g_stats.failed, (uint64_t)res->failed, __ATOMIC_RELAXED);
	__atomic_add_fetch(&g_stats.missed, (uint64_t)res->missed, __ATOMIC_RELAXED);
	__atomic_add_fetch(&g_stats.delivered, (uint64_t)res->delivered, __ATOMIC_RELAXED);
	__atomic_add_fetch(&g_stats.delivery_errors, (uint64_t)res->delivery_errors,
			   __ATOMIC_RELAXED);
	__atomic_add_fetch(&g_stats.delivery_given_up, (uint64_t)res->delivery_given_up,
			   __ATOMIC_RELAXED);
}

void report_sched_get_stats(struct report_sched_stats *st)
{
	st->runs = __atomic_load_n(&g_stats.runs, __ATOMIC_RELAXED);
	st->late = __atomic_load_n(&g_stats.late, __ATOMIC_RELAXED);
	st->failed = __atomic_load_n(&g_stats.failed, __ATOMIC_RELAXED);
	st->missed = __atomic_load_n(&g_stats.missed, __ATOMIC_RELAXED);
	st->delivered = __atomic_load_n(&g_stats.delivered, __ATOMIC_RELAXED);
	st->delivery_errors = __atomic_load_n(&g_stats.delivery_errors, __ATOMIC_RELAXED);
	st->delivery_given_up = __atomic_load_n(&g_stats.delivery_given_up, __ATOMIC_RELAXED);
}

void report_sched_metrics_render(struct evbuffer *b)
{
	struct report_sched_stats s;
	report_sched_get_stats(&s);
	metrics_expo_one(b, "tlswatch_report_runs_total", "counter",
	    "Scheduled report runs this collector made (as the leader).", s.runs);
	metrics_expo_one(b, "tlswatch_report_runs_late_total", "counter",
	    "Scheduled report runs that started late (no leader at the scheduled time).", s.late);
	metrics_expo_one(b, "tlswatch_report_runs_failed_total", "counter",
	    "Scheduled report runs that failed (not built or not written).", s.failed);
	metrics_expo_one(b, "tlswatch_report_runs_missed_total", "counter",
	    "Scheduled times skipped because a later missed time ran in their place.", s.missed);
	metrics_expo_one(b, "tlswatch_report_deliveries_total", "counter",
	    "Report deliveries (webhook, email) acknowledged.", s.delivered);
	metrics_expo_one(b, "tlswatch_report_delivery_errors_total", "counter",
	    "Report delivery attempts that failed (retried with backoff).", s.delivery_errors);
	metrics_expo_one(b, "tlswatch_report_deliveries_failed_total", "counter",
	    "Report deliveries given up after their last attempt.", s.delivery_given_up);
}

static PGresult *exec(PGconn *c, const char *sql, int n, const char *const *p, const char *what,
		      char *err, size_t errlen)
{
	PGresult *r = PQexecParams(c, sql, n, NULL, p, NULL, NULL, 0);
	ExecStatusType st = PQresultStatus(r);
	if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
		snprintf(err, errlen, "%s: %s", what, PQresultErrorMessage(r));
		PQclear(r);
		return NULL;
	}
	return r;
}

static int64_t col_ms(PGresult *r, int row, int col, int64_t dflt)
{
	return PQgetisnull(r, row, col) ? dflt : strtoll(PQgetvalue(r, row, col), NULL, 10);
}

/* Builds and writes the report of run `id` (period ending at due_ms), then
 * records the outcome. -1 only when recording it failed. */
static int run_one(PGconn *c, const struct report_sched_opts *o, const struct col_report_schedule *s,
		   int64_t id, int64_t due_ms, int64_t now_ms, struct report_sched_result *res,
		   char *err, size_t errlen)
{
	char rerr[1024] = "", idb[24], nowb[48], fromb[48], tob[48];
	char paths[REPORT_MAX_FILES][4096];
	size_t npaths = 0;
	struct report *r = NULL;
	struct strbuf summary = { 0 }, files = { 0 };
	int rc = -1;
	struct report_opts ro = {
		.from_ms = due_ms - s->period_ms, .to_ms = due_ms, .period = s->period,
		.service = s->service, .retention_days = o->retention_days, .generated_ms = now_ms,
	};
	bool ok = report_build(c, o->slo, &ro, &r, rerr, sizeof rerr) == 0 &&
		  report_write(r, s->formats, s->out_dir, paths, &npaths, rerr, sizeof rerr) == 0;
	if (ok && report_render_json(r, true, &summary) < 0) {
		snprintf(rerr, sizeof rerr, "out of memory");
		ok = false;
	}
	/* files as a text[] literal: "{"a","b"}" with quotes and backslashes escaped */
	strbuf_puts(&files, "{");
	for (size_t i = 0; ok && i < npaths; i++) {
		strbuf_puts(&files, i ? ",\"" : "\"");
		for (const char *p = paths[i]; *p; p++) {
			if (*p == '"' || *p == '\\')
				strbuf_putc(&files, '\\');
			strbuf_putc(&files, *p);
		}
		strbuf_puts(&files, "\"");
	}
	strbuf_puts(&files, "}");
	snprintf(idb, sizeof idb, "%" PRId64, id);
	twtime_rfc3339_ms(now_ms, nowb, sizeof nowb);
	twtime_rfc3339_ms(r ? r->from_ms : ro.from_ms, fromb, sizeof fromb);
	twtime_rfc3339_ms(r ? r->to_ms : ro.to_ms, tob, sizeof tob);
	if (files.oom || summary.oom) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	const char *p[7] = { idb, ok ? "done" : "failed", nowb, fromb, tob, files.p,
			     ok ? summary.p : NULL };
	PGresult *q = exec(c, "UPDATE report_runs SET state = $2, finished_at = $3, "
			      "period_from = $4, period_to = $5, files = $6::text[], "
			      "summary = $7::jsonb WHERE id = $1", 7, p, "recording a report run", err,
			   errlen);
	if (!q)
		goto out;
	PQclear(q);
	if (!ok) {
		const char *pe[2] = { idb, rerr };
		if (!(q = exec(c, "UPDATE report_runs SET error = $2 WHERE id = $1", 2, pe,
			       "recording a report run", err, errlen)))
			goto out;
		PQclear(q);
		res->failed++;
		log_warn("report %s: the run scheduled at %s failed: %s", s->name,
			 twtime_rfc3339_ms(due_ms, nowb, sizeof nowb), rerr);
	} else {
		log_info("report %s: wrote %zu file%s into %s (period %s..%s)", s->name, npaths,
			 npaths == 1 ? "" : "s", s->out_dir, fromb, tob);
		if (report_deliver_queue(c, s, id, now_ms, err, errlen) < 0)
			goto out;
	}
	res->runs++;
	rc = 0;
out:
	report_free(r);
	strbuf_free(&summary);
	strbuf_free(&files);
	return rc;
}

static int tick_one(PGconn *c, const struct report_sched_opts *o, const struct col_report_schedule *s,
		    int64_t now_ms, struct report_sched_result *res, char *err, size_t errlen)
{
	char nowb[48], leaseb[24], dueb[48], lateb[8], missedb[24];
	twtime_rfc3339_ms(now_ms, nowb, sizeof nowb);
	snprintf(leaseb, sizeof leaseb, "%" PRId64, o->lease_ms);
	const char *p1[3] = { s->name, s->schedule, nowb };
	PGresult *q = exec(c,
		"INSERT INTO report_schedules AS r (name, cron, since) VALUES ($1, $2, $3) "
		"ON CONFLICT (name) DO UPDATE SET cron = EXCLUDED.cron, since = CASE WHEN "
		"r.cron = EXCLUDED.cron THEN r.since ELSE EXCLUDED.since END "
		"RETURNING (extract(epoch FROM since) * 1000)::bigint, "
		"(SELECT (extract(epoch FROM max(scheduled_at)) * 1000)::bigint FROM report_runs "
		" WHERE schedule = $1)", 3, p1, "report schedule", err, errlen);
	if (!q)
		return -1;
	int64_t since = col_ms(q, 0, 0, now_ms), last = col_ms(q, 0, 1, INT64_MIN);
	PQclear(q);

	/* a run whose leader died mid-way: take it over once its lease ran out */
	const char *p2[4] = { s->name, o->collector_id, nowb, leaseb };
	if (!(q = exec(c, "UPDATE report_runs SET collector_id = $2, started_at = $3, "
			  "attempts = attempts + 1 WHERE schedule = $1 AND state = 'running' "
			  "AND started_at < $3::timestamptz - $4::bigint * interval '1 ms' "
			  "RETURNING id, (extract(epoch FROM scheduled_at) * 1000)::bigint",
		       4, p2, "report run takeover", err, errlen)))
		return -1;
	for (int i = 0; i < PQntuples(q); i++) {
		log_warn("report %s: taking over a run its collector left unfinished", s->name);
		if (run_one(c, o, s, col_ms(q, i, 0, 0), col_ms(q, i, 1, 0), now_ms, res, err,
			    errlen) < 0) {
			PQclear(q);
			return -1;
		}
	}
	PQclear(q);

	/* the newest scheduled time not yet run; older ones in between were missed */
	int64_t base = since > last ? since : last, due = -1;
	int missed = 0;
	for (int64_t t = cron_next(&s->cron, base), n = 0; t >= 0 && t <= now_ms && n < MAX_DUE_STEPS;
	     t = cron_next(&s->cron, t), n++) {
		if (due >= 0)
			missed++;
		due = t;
	}
	if (due < 0)
		return 0;
	bool late = now_ms - due > o->late_after_ms;
	twtime_rfc3339_ms(due, dueb, sizeof dueb);
	snprintf(lateb, sizeof lateb, "%s", late ? "true" : "false");
	snprintf(missedb, sizeof missedb, "%d", missed);
	const char *p3[6] = { s->name, dueb, lateb, missedb, o->collector_id, nowb };
	if (!(q = exec(c, "INSERT INTO report_runs (schedule, scheduled_at, state, late, missed, "
			  "collector_id, started_at) VALUES ($1, $2, 'running', $3, $4, $5, $6) "
			  "ON CONFLICT (schedule, scheduled_at) DO NOTHING RETURNING id",
		       6, p3, "report run claim", err, errlen)))
		return -1;
	int64_t id = PQntuples(q) == 1 ? col_ms(q, 0, 0, 0) : 0;
	PQclear(q);
	if (!id)
		return 0;             /* another collector has it */
	if (late)
		log_warn("report %s: running the report scheduled at %s late%s", s->name, dueb,
			 missed ? " (older missed times are not run again)" : "");
	res->late += late;
	res->missed += missed;
	return run_one(c, o, s, id, due, now_ms, res, err, errlen);
}

int report_sched_tick(PGconn *c, const struct report_sched_opts *o, int64_t now_ms,
		      struct report_sched_result *res, char *err, size_t errlen)
{
	memset(res, 0, sizeof *res);
	for (size_t i = 0; o->reports && i < o->reports->n; i++)
		if (tick_one(c, o, &o->reports->s[i], now_ms, res, err, errlen) < 0)
			goto out;
	if (report_deliver_due(c, o, now_ms, res, err, errlen) < 0)
		goto out;
	report_sched_count(res);
	return 0;
out:
	/* what did happen before the failure still counts */
	report_sched_count(res);
	return -1;
}

void report_sched_hook(PGconn *c, const struct slo_config *slo, int64_t now_ms, void *arg)
{
	const struct col_config *cfg = arg;
	struct report_sched_opts o = {
		.reports = cfg->reports, .slo = slo, .collector_id = cfg->collector_id,
		.retention_days = cfg->retention.rollup_1m,
		.late_after_ms = (int64_t)cfg->evaluation_interval_ms + 60000,
		.lease_ms = 30 * 60000,
	};
	struct report_sched_result res;
	char err[1024];
	if (!cfg->reports)
		return;
	if (report_sched_tick(c, &o, now_ms, &res, err, sizeof err) < 0)
		log_warn("reports: %s", err);
}
