/*
 * evaluator.c - the leader-elected alert evaluator (see evaluator.h).
 *
 * Why a blocking thread with its own connection, not a pgconn on the loop:
 * one evaluation is a multi-statement transaction (burn-rate queries, then
 * C logic deciding alert transitions, then the writes and outbox rows that
 * depend on it, then COMMIT) held together by the session's advisory lock.
 * Written as callbacks it would be a state machine per rule step; as a
 * thread it reads top to bottom, and the loop never waits on it. The
 * connection is still opened through the one conninfo expansion
 * (pgconn_connect_blocking).
 */
#define _GNU_SOURCE
#include "evaluator.h"
#include "alerts.h"
#include "burn.h"
#include "log.h"
#include "pgconn.h"
#include "rollup_daily.h"
#include "rules_other.h"
#include "rules_probe.h"
#include "twtime.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- one evaluation ---- */

static int exec_ok(PGconn *c, const char *sql, char *err, size_t errlen)
{
	PGresult *r = PQexec(c, sql);
	ExecStatusType st = PQresultStatus(r);
	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
		snprintf(err, errlen, "%s", PQresultErrorMessage(r));
		size_t l = strlen(err);
		if (l && err[l - 1] == '\n')
			err[l - 1] = '\0';
		PQclear(r);
		return -1;
	}
	PQclear(r);
	return 0;
}

int evaluator_prepare_conn(PGconn *c, char *err, size_t errlen)
{
	/* rollup_1h buckets and our window arithmetic are UTC hours; an
	 * evaluation must not hang forever on a lock or a sick server; JIT
	 * compiling the burn query costs more than it saves (1.2 s of 1.8 s at
	 * 2000 series, bench_eval); the one aggregate per evaluation hashes its
	 * series in memory instead of sorting them to disk */
	return exec_ok(c, "SET TimeZone = 'UTC'; SET statement_timeout = '300s'; "
			  "SET lock_timeout = '30s'; SET jit = off; SET work_mem = '128MB'; "
			  "SET application_name = 'tlswatch-evaluator'",
		       err, errlen);
}

int evaluator_try_lock(PGconn *c, char *err, size_t errlen)
{
	char sql[128];
	snprintf(sql, sizeof sql, "SELECT pg_try_advisory_lock(%d, %d)", EVALUATOR_LOCK_CLASS,
		 EVALUATOR_LOCK_KEY);
	PGresult *r = PQexec(c, sql);
	if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
		snprintf(err, errlen, "advisory lock: %s", PQresultErrorMessage(r));
		PQclear(r);
		return -1;
	}
	int held = PQgetvalue(r, 0, 0)[0] == 't';
	PQclear(r);
	return held;
}

static bool uses_labels(const struct slo_config *cfg)
{
	for (size_t i = 0; i < cfg->nslos; i++)
		if (cfg->slos[i].sel.nlabels)
			return true;
	return false;
}

/* targets (labels for selectors) from the results since the last sync
 * (sql/003 tw_sync_targets); a day back the first time. It scans recent
 * results, so at most every 5 minutes: when the newest target was seen less
 * than 5 minutes ago (always, once the ingest statement maintains targets)
 * it does nothing. */
static int sync_targets(PGconn *c, int64_t now_ms, char *err, size_t errlen)
{
	char now[48];
	twtime_rfc3339_ms(now_ms, now, sizeof now);
	const char *p[1] = { now };
	PGresult *r = PQexecParams(c,
		"SELECT CASE WHEN coalesce((SELECT max(last_seen) FROM targets), '-infinity') < "
		"$1::timestamptz - interval '5 minutes' THEN tw_sync_targets(coalesce((SELECT "
		"max(last_seen) FROM targets) - interval '10 minutes', $1::timestamptz - interval '1 day'), "
		"$1::timestamptz + interval '1 minute') END",
		1, NULL, p, NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		snprintf(err, errlen, "targets: %s", PQresultErrorMessage(r));
		PQclear(r);
		return -1;
	}
	PQclear(r);
	return 0;
}

/* Open SLO alerts (labels.slo) of a rule no SLO has any more (a custom
 * rule removed from slos.yaml) resolve like the others: their rule counts as
 * evaluated with nothing observed. */
static int mark_removed_slo_rules(PGconn *c, struct alerts_run *run, char *err, size_t errlen)
{
	PGresult *r = PQexec(c, "SELECT DISTINCT rule FROM alerts WHERE state <> 'resolved' AND "
			       "labels ? 'slo'");
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		snprintf(err, errlen, "open SLO alerts: %s", PQresultErrorMessage(r));
		PQclear(r);
		return -1;
	}
	for (int i = 0; i < PQntuples(r); i++)
		if (alerts_rule_evaluated(run, PQgetvalue(r, i, 0), err, errlen) < 0) {
			PQclear(r);
			return -1;
		}
	PQclear(r);
	return 0;
}

int evaluator_run_once(PGconn *c, const struct slo_config *cfg, int64_t now_ms,
		       const struct evaluator_run_opts *o, struct evaluator_result *res,
		       char *err, size_t errlen)
{
	struct evaluator_run_opts dflt = { 0 };
	struct burn_eval *be = NULL;
	struct alerts_run *run = NULL;
	int rc = -1;
	double t0 = twtime_mono_ms();
	if (!o)
		o = &dflt;
	memset(res, 0, sizeof *res);

	if (uses_labels(cfg) && !o->dry_run && sync_targets(c, now_ms, err, errlen) < 0)
		goto out;
	if (burn_evaluate(c, cfg, now_ms, (int64_t)o->retention_days * 86400000LL, &be, err,
			  errlen) < 0)
		goto out;
	res->slos = be->nstatus;
	res->series = be->nseries;
	res->query_ms = be->query_ms;
	if (o->status_out)
		burn_print(be, o->status_json, o->status_out);
	if (o->dry_run) {
		for (size_t i = 0; i < be->nstatus; i++)
			for (size_t j = 0; j < be->status[i].slo->nrules; j++)
				res->active += be->status[i].rules[j].active;
		rc = 0;
		goto out;
	}
	if (!(run = alerts_begin(c, now_ms, o->generator_url, err, errlen)))
		goto out;
	if (burn_observe(be, run, &res->active, err, errlen) < 0 ||
	    mark_removed_slo_rules(c, run, err, errlen) < 0)
		goto out;
	if (!o->skip_other_rules && (rules_other_eval(c, now_ms, cfg, run, err, errlen) < 0 ||
				     rules_probe_eval(c, now_ms, cfg, run, err, errlen) < 0))
		goto out;
	int changes = 0;
	struct alerts_run *r = run;
	run = NULL;                      /* alerts_commit frees it, also on failure */
	if (alerts_commit(r, &changes, err, errlen) < 0)
		goto out;
	res->changes = changes;
	res->duration_ms = twtime_mono_ms() - t0;
	if (o->collector_id) {
		char now[48], dur[32], ser[32], ch[32];
		twtime_rfc3339_ms(now_ms, now, sizeof now);
		snprintf(dur, sizeof dur, "%.3f", res->duration_ms);
		snprintf(ser, sizeof ser, "%zu", res->slos);
		snprintf(ch, sizeof ch, "%d", changes);
		const char *p[5] = { o->collector_id, now, dur, ser, ch };
		PGresult *pr = PQexecParams(c, "INSERT INTO evaluation_runs (collector_id, eval_at, "
					       "duration_ms, series, changes) VALUES ($1, $2, $3, $4, $5)",
					    5, NULL, p, NULL, NULL, 0);
		if (PQresultStatus(pr) != PGRES_COMMAND_OK) {
			snprintf(err, errlen, "evaluation_runs: %s", PQresultErrorMessage(pr));
			PQclear(pr);
			goto out;
		}
		PQclear(pr);
	}
	rc = 0;
out:
	alerts_abort(run);
	burn_eval_free(be);
	if (!res->duration_ms)
		res->duration_ms = twtime_mono_ms() - t0;
	return rc;
}

/* ---- the thread ---- */

/* Days of rollup_1d the leader (re)computes at most per tick. */
#define EVALUATOR_ROLLUP_DAYS 4

struct evaluator {
	char *conninfo, *collector_id, *external_url;
	const struct slo_config *cfg;
	unsigned interval_ms, retention_days;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool stop;
	PGcancel *cancel;                /* under mu: the session's, while connected */
	struct evaluator_stats st;       /* under mu */
	void (*leader_hook)(PGconn *c, const struct slo_config *cfg, int64_t now_ms, void *arg);
	void *leader_hook_arg;
};

static void set_cancel(struct evaluator *e, PGconn *c)
{
	pthread_mutex_lock(&e->mu);
	if (e->cancel)
		PQfreeCancel(e->cancel);
	e->cancel = c ? PQgetCancel(c) : NULL;
	pthread_mutex_unlock(&e->mu);
}

static void set_leader(struct evaluator *e, bool leader)
{
	pthread_mutex_lock(&e->mu);
	if (e->st.leader != leader)
		log_info("evaluator: %s (collector_id=%s)",
			 leader ? "acquired the evaluator lock: this collector evaluates the alert rules"
				: "not the leader any more: stopped evaluating",
			 e->collector_id);
	e->st.leader = leader;
	pthread_mutex_unlock(&e->mu);
}

/* Sleeps until deadline (CLOCK_MONOTONIC) or stop; true when stopping. */
static bool wait_until(struct evaluator *e, const struct timespec *deadline)
{
	pthread_mutex_lock(&e->mu);
	while (!e->stop) {
		int rc = pthread_cond_timedwait(&e->cv, &e->mu, deadline);
		if (rc == ETIMEDOUT)
			break;
	}
	bool stop = e->stop;
	pthread_mutex_unlock(&e->mu);
	return stop;
}

/* One evaluation (the leader, with an alerting section): counts it in the
 * status, logs its outcome. True when the collector is stopping. */
static bool evaluate(struct evaluator *e, PGconn *c, int64_t now)
{
	char err[1024];
	struct evaluator_run_opts ro = {
		.collector_id = e->collector_id, .generator_url = e->external_url,
		.retention_days = e->retention_days,
	};
	struct evaluator_result res;
	int rc = evaluator_run_once(c, e->cfg, now, &ro, &res, err, sizeof err);
	pthread_mutex_lock(&e->mu);
	if (rc < 0)
		e->st.failures++;
	else
		e->st.runs++;
	e->st.last_duration_ms = res.duration_ms;
	e->st.last_run_ms = now;
	bool stopping = e->stop;
	pthread_mutex_unlock(&e->mu);
	if (rc < 0 && stopping)
		log_info("evaluator: evaluation cancelled by the shutdown");
	else if (rc < 0)
		log_warn("evaluator: evaluation failed: %s", err);
	else
		log_debug("evaluator: evaluated %zu SLO statuses over %zu series in %.1f ms; "
			  "%d active, %d changes", res.slos, res.series, res.duration_ms,
			  res.active, res.changes);
	if (rc == 0 && res.duration_ms > e->interval_ms)
		log_warn("evaluator: an evaluation took %.0f ms, longer than the "
			 "evaluation interval (%u ms)", res.duration_ms, e->interval_ms);
	return stopping;
}

static bool stop_requested(struct evaluator *e)
{
	pthread_mutex_lock(&e->mu);
	bool stop = e->stop;
	pthread_mutex_unlock(&e->mu);
	return stop;
}

static void *thread_main(void *arg)
{
	struct evaluator *e = arg;
	PGconn *c = NULL;
	bool held = false;
	char err[1024];
	struct timespec next;
	clock_gettime(CLOCK_MONOTONIC, &next);

	for (;;) {
		if (c && PQstatus(c) != CONNECTION_OK) {
			log_warn("evaluator: database session lost; reconnecting");
			set_cancel(e, NULL);
			PQfinish(c);
			c = NULL;
		}
		if (!c) {
			held = false;
			set_leader(e, false);
			/* pgconn's conninfo expansion: bounded connect and keepalives
			 * (the conninfo's own settings win), so that neither a dead
			 * server nor evaluator_stop() waits for the TCP timeouts */
			c = pgconn_connect_blocking(e->conninfo, "tlswatch-evaluator", err,
						    sizeof err);
			if (c && evaluator_prepare_conn(c, err, sizeof err) < 0) {
				PQfinish(c);
				c = NULL;
			}
			if (!c) {
				log_warn("evaluator: cannot connect to the database: %s", err);
			} else {
				set_cancel(e, c);
			}
		}
		if (c && !held && !e->cfg) {
			/* builders only: not the evaluator's lock (a collector without
			 * alerting must never keep one with it from evaluating); the
			 * builders take turns on their own locks (rollup_daily_run) */
			held = true;
		} else if (c && !held) {
			pthread_mutex_lock(&e->mu);
			e->st.lock_attempts++;
			pthread_mutex_unlock(&e->mu);
			int l = evaluator_try_lock(c, err, sizeof err);
			if (l < 0)
				log_warn("evaluator: %s", err);
			held = l == 1;
			set_leader(e, held);
		}
		if (c && held) {
			int64_t now = twtime_wall_ms();
			bool stopping = e->cfg ? evaluate(e, c, now) : stop_requested(e);
			/* rollup_1d: a few days per tick, so a first backfill of a long
			 * history never delays the next evaluation much */
			unsigned days = 0;
			if (!stopping && PQstatus(c) == CONNECTION_OK &&
			    rollup_daily_run(c, now, EVALUATOR_ROLLUP_DAYS, &days, err, sizeof err) < 0)
				log_warn("evaluator: %s", err);
			else if (days)
				log_debug("evaluator: rollup_1d: aggregated %u days", days);
			if (e->cfg && e->leader_hook && !stopping && PQstatus(c) == CONNECTION_OK)
				e->leader_hook(c, e->cfg, now, e->leader_hook_arg);
		}
		/* fixed rate; an overrun skips the ticks it missed */
		struct timespec now;
		clock_gettime(CLOCK_MONOTONIC, &now);
		do {
			next.tv_sec += e->interval_ms / 1000;
			next.tv_nsec += (long)(e->interval_ms % 1000) * 1000000L;
			if (next.tv_nsec >= 1000000000L) {
				next.tv_sec++;
				next.tv_nsec -= 1000000000L;
			}
		} while (next.tv_sec < now.tv_sec ||
			 (next.tv_sec == now.tv_sec && next.tv_nsec <= now.tv_nsec));
		if (wait_until(e, &next))
			break;
	}
	set_leader(e, false);
	set_cancel(e, NULL);
	PQfinish(c);                     /* ends the session: the lock is released */
	return NULL;
}

struct evaluator *evaluator_start(const struct evaluator_opts *o, char *err, size_t errlen)
{
	struct evaluator *e = calloc(1, sizeof *e);
	pthread_condattr_t ca;
	if (!e) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	e->cfg = o->cfg;
	e->interval_ms = o->interval_ms ? o->interval_ms : 30000;
	e->retention_days = o->retention_days;
	e->leader_hook = o->leader_hook;
	e->leader_hook_arg = o->leader_hook_arg;
	e->conninfo = strdup(o->conninfo ? o->conninfo : "");
	e->collector_id = strdup(o->collector_id ? o->collector_id : "collector");
	e->external_url = o->external_url ? strdup(o->external_url) : NULL;
	if (!e->conninfo || !e->collector_id || (o->external_url && !e->external_url)) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	pthread_mutex_init(&e->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&e->cv, &ca);
	pthread_condattr_destroy(&ca);
	int rc = pthread_create(&e->thread, NULL, thread_main, e);
	if (rc != 0) {
		snprintf(err, errlen, "cannot start the evaluator thread: %s", strerror(rc));
		pthread_cond_destroy(&e->cv);
		pthread_mutex_destroy(&e->mu);
		goto fail;
	}
	return e;
fail:
	free(e->conninfo);
	free(e->collector_id);
	free(e->external_url);
	free(e);
	return NULL;
}

void evaluator_stop(struct evaluator *e)
{
	if (!e)
		return;
	pthread_mutex_lock(&e->mu);
	e->stop = true;
	pthread_cond_signal(&e->cv);
	if (e->cancel) {
		/* an evaluation in progress is cancelled (rolled back) rather than
		 * holding up the shutdown; the next leader redoes it */
		char buf[256];
		(void)PQcancel(e->cancel, buf, sizeof buf);
	}
	pthread_mutex_unlock(&e->mu);
	pthread_join(e->thread, NULL);
	pthread_cond_destroy(&e->cv);
	pthread_mutex_destroy(&e->mu);
	/* the conninfo may hold a password */
	explicit_bzero(e->conninfo, strlen(e->conninfo));
	free(e->conninfo);
	free(e->collector_id);
	free(e->external_url);
	free(e);
}

void evaluator_get_stats(struct evaluator *e, struct evaluator_stats *st)
{
	pthread_mutex_lock(&e->mu);
	*st = e->st;
	pthread_mutex_unlock(&e->mu);
}
