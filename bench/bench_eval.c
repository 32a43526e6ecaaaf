/*
 * bench_eval - alert evaluation time (issue 4, "Benchmark"): every default
 * burn-rate rule of SERIES SLOs over DAYS days of rollups.
 *
 *   bench_eval CONNINFO [SERIES [DAYS [INTERVAL_S]]]
 *
 * CONNINFO names a PostgreSQL server; the database bench_eval is dropped and
 * created there, migrated, and filled with generate_series():
 *   - SERIES rollup series = SERIES/4 targets x 4 regions x 1 profile, in
 *     50 services; each series one SLO (availability 99.9%, window DAYS d,
 *     selector {target, region}, the default rules: 14.4x 1h/5m, 6x 6h/30m,
 *     1x 3d/6h) - the most SLOs per series, i.e. the worst case for the C
 *     side; the query side reads every series anyway;
 *   - rollup_1h: every hour of DAYS days for every series (60 attempts);
 *   - rollup_1m: only the minutes a window reads (sli.h: the partial hours at
 *     a window's edges; now is hh:30, the middle case: 30 trailing minutes +
 *     30 leading minutes for each of the 1h, 6h, 3d and 30d windows);
 *   - 1% of the series fail 1/3 of their handshakes in the last 2 hours (so
 *     alerts are created, then kept firing).
 * Then evaluator_run_once() (SLO rules only; the other rules are measured
 * by their own code) is timed 5 times at the same now: the first run creates
 * the alerts, the next ones are the steady state. A second pass does the
 * same with the SLO window 3d (burn-rate rules only, no 30-day budget).
 * Both passes run again after rollup_daily_run() has built rollup_1d
 * (labels *_1d), which serves the windows' whole UTC days.
 *
 * Prints key=value lines and a summary with the evaluation interval
 * (INTERVAL_S, default 30 = alerting.evaluation_interval's default) the
 * evaluation must fit in. Exit 0, 1 on a database error, 2 on usage.
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "db.h"
#include "evaluator.h"
#include "rollup_daily.h"
#include "slo_config.h"
#include "twtime.h"

#define HOUR_MS 3600000LL

static int exec(PGconn *c, const char *sql)
{
	PGresult *r = PQexec(c, sql);
	int ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;
	if (!ok)
		fprintf(stderr, "bench_eval: %.200s: %s", sql, PQresultErrorMessage(r));
	PQclear(r);
	return ok ? 0 : -1;
}

static char *slo_yaml(long series, int days)
{
	size_t cap = (size_t)series * 160 + 256, off = 0;
	char *y = malloc(cap);
	if (!y)
		return NULL;
	off += (size_t)snprintf(y + off, cap - off, "slos:\n");
	for (long i = 0; i < series; i++)
		off += (size_t)snprintf(y + off, cap - off,
					"  - {name: s%ld, sli: availability, objective: 99.9, window: %dd, "
					"selector: {target: \"t%ld.example:443\", region: r%ld}}\n",
					i, days, i / 4, i % 4);
	return y;
}

static int measure(PGconn *c, long series, int days, int slo_days, int64_t now,
		   double interval_s, const char *label)
{
	char err[1024];
	char *y = slo_yaml(series, slo_days);
	if (!y)
		return -1;
	double t0 = twtime_mono_ms();
	struct slo_config *cfg = slo_config_load_string("bench.yaml", y, strlen(y), err, sizeof err);
	double load_ms = twtime_mono_ms() - t0;
	free(y);
	if (!cfg) {
		fprintf(stderr, "bench_eval: %s\n", err);
		return -1;
	}
	struct evaluator_run_opts o = { .collector_id = "bench", .skip_other_rules = true,
					.retention_days = (unsigned)days + 1 };
	double best = 1e18, worst = 0, sum = 0, first = 0, qms = 0;
	int runs = 5, changes0 = 0, active = 0;
	size_t nseries = 0, nslos = 0;
	for (int i = 0; i < runs; i++) {
		struct evaluator_result r;
		if (evaluator_run_once(c, cfg, now, &o, &r, err, sizeof err) < 0) {
			fprintf(stderr, "bench_eval: evaluation: %s\n", err);
			slo_config_free(cfg);
			return -1;
		}
		if (i == 0) {
			first = r.duration_ms;
			changes0 = r.changes;
		} else {
			sum += r.duration_ms;
			if (r.duration_ms < best)
				best = r.duration_ms;
			if (r.duration_ms > worst)
				worst = r.duration_ms;
			qms += r.query_ms;
		}
		active = r.active;
		nseries = r.series;
		nslos = r.slos;
	}
	double steady = sum / (runs - 1);
	printf("%s: slos=%zu series=%zu slo_window=%dd config_load_ms=%.0f first_eval_ms=%.0f "
	       "(alerts created %d) steady_eval_ms_avg=%.0f min=%.0f max=%.0f query_ms_avg=%.0f "
	       "active_rules=%d interval_s=%.0f fraction_of_interval=%.3f\n",
	       label, nslos, nseries, slo_days, load_ms, first, changes0, steady, best, worst,
	       qms / (runs - 1), active, interval_s, steady / (interval_s * 1000));
	slo_config_free(cfg);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: bench_eval CONNINFO [SERIES [DAYS [INTERVAL_S]]]\n");
		return 2;
	}
	long series = argc > 2 ? strtol(argv[2], NULL, 10) : 10000;
	int days = argc > 3 ? (int)strtol(argv[3], NULL, 10) : 30;
	double interval_s = argc > 4 ? strtod(argv[4], NULL) : 30;
	if (series < 4 || series % 4 || days < 4 || interval_s <= 0) {
		fprintf(stderr, "bench_eval: SERIES must be a multiple of 4, DAYS >= 4\n");
		return 2;
	}
	char err[1024], ci[2048], sql[4096];
	PGconn *admin = PQconnectdb(argv[1]);
	if (PQstatus(admin) != CONNECTION_OK) {
		fprintf(stderr, "bench_eval: %s", PQerrorMessage(admin));
		return 1;
	}
	exec(admin, "SET client_min_messages = warning");
	if (exec(admin, "DROP DATABASE IF EXISTS bench_eval") < 0 ||
	    exec(admin, "CREATE DATABASE bench_eval") < 0)
		return 1;
	PQfinish(admin);
	snprintf(ci, sizeof ci, "%s dbname=bench_eval", argv[1]);
	if (db_migrate(ci, err, sizeof err) < 0) {
		fprintf(stderr, "bench_eval: migrate: %s\n", err);
		return 1;
	}
	PGconn *c = PQconnectdb(ci);
	if (PQstatus(c) != CONNECTION_OK || evaluator_prepare_conn(c, err, sizeof err) < 0) {
		fprintf(stderr, "bench_eval: %s %s", PQerrorMessage(c), err);
		return 1;
	}
	exec(c, "SET statement_timeout = 0");

	/* now = hh:30 of the current hour */
	int64_t now = twtime_wall_ms() / HOUR_MS * HOUR_MS + 30 * 60000LL;
	char nows[48];
	twtime_rfc3339_ms(now, nows, sizeof nows);
	long targets = series / 4;
	double t0 = twtime_mono_ms();
	static const char COLS[] =
		"(bucket, target, port, sni, region, profile, service, attempts, successes, failures, "
		"outcomes, handshakes, handshake_ms_hist, handshake_ms_sum, handshake_ms_count, "
		"mtls_attempts, mtls_failures, ocsp_stapled_count, cipher_fallback_count, "
		"sni_mismatch_count, expiring_soon_count)";
	/* 1% of the series (t % 25 = 0, region r0) fail a third from now - 2h */
	snprintf(sql, sizeof sql,
		 "INSERT INTO rollup_1h %s SELECT h, 't' || t || '.example', 443, '', 'r' || r, "
		 "'default', 's' || (t %% 50), 60, 60 - f, f, '{}', 60, "
		 "'{0,0,0,0,60,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0}'::bigint[], 900, 60, 0, 0, 60, 0, 0, 0 "
		 "FROM generate_series(0, %ld) t, generate_series(0, 3) r, "
		 "generate_series(date_trunc('hour', '%s'::timestamptz) - interval '%d days', "
		 "date_trunc('hour', '%s'::timestamptz) - interval '1 hour', interval '1 hour') h, "
		 "LATERAL (SELECT CASE WHEN t %% 25 = 0 AND r = 0 AND h >= '%s'::timestamptz - "
		 "interval '3 hours' THEN 20 ELSE 0 END AS f) x",
		 COLS, targets - 1, nows, days + 1, nows, nows);
	if (exec(c, sql) < 0)
		return 1;
	double t1 = twtime_mono_ms();
	/* minutes: the edges the windows read (see the top comment) */
	const long ranges[][2] = {         /* [from, to) in minutes from now */
		{ -30, 0 }, { -60, -30 }, { -360, -330 }, { -4320, -4290 },
		{ -(long)days * 1440, -(long)days * 1440 + 30 },
	};
	for (size_t k = 0; k < sizeof ranges / sizeof ranges[0]; k++) {
		snprintf(sql, sizeof sql,
			 "INSERT INTO rollup_1m %s SELECT '%s'::timestamptz + mi * interval '1 minute', "
			 "'t' || t || '.example', 443, '', 'r' || r, "
			 "'default', 's' || (t %% 50), 1, 1 - f, f, '{}', 1, "
			 "'{0,0,0,0,1,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0}'::bigint[], 15, 1, 0, 0, 1, 0, 0, 0 "
			 "FROM generate_series(0, %ld) t, generate_series(0, 3) r, "
			 "generate_series(%ld, %ld) mi, "
			 "LATERAL (SELECT CASE WHEN t %% 25 = 0 AND r = 0 AND mi >= -120 AND mi %% 3 = 0 "
			 "THEN 1 ELSE 0 END AS f) x",
			 COLS, nows, targets - 1, ranges[k][0], ranges[k][1] - 1);
		if (exec(c, sql) < 0)
			return 1;
	}
	exec(c, "VACUUM ANALYZE rollup_1h");
	exec(c, "VACUUM ANALYZE rollup_1m");
	double t2 = twtime_mono_ms();
	PGresult *r = PQexec(c, "SELECT (SELECT count(*) FROM rollup_1h), (SELECT count(*) FROM rollup_1m), "
			       "pg_size_pretty(pg_total_relation_size('rollup_1h') + "
			       "pg_total_relation_size('rollup_1m'))");
	printf("data: series=%ld days=%d rollup_1h_rows=%s rollup_1m_rows=%s size=%s "
	       "load_1h_s=%.1f load_1m_s=%.1f now=%s\n", series, days, PQgetvalue(r, 0, 0),
	       PQgetvalue(r, 0, 1), PQgetvalue(r, 0, 2), (t1 - t0) / 1000, (t2 - t1) / 1000, nows);
	PQclear(r);
	fflush(stdout);

	int rc = 0;
	if (measure(c, series, days, days, now, interval_s, "eval_with_budget") < 0 ||
	    measure(c, series, days, 3, now, interval_s, "eval_rules_only") < 0)
		rc = 1;
	/* the same once the leader's aggregator has built rollup_1d (sql/013):
	 * whole UTC days of the windows then come from there */
	unsigned nd = 0;
	double a0 = twtime_mono_ms();
	if (rc == 0 && rollup_daily_run(c, now, 10000, &nd, err, sizeof err) < 0) {
		fprintf(stderr, "bench_eval: %s\n", err);
		rc = 1;
	}
	double a1 = twtime_mono_ms();
	if (rc == 0) {
		exec(c, "VACUUM ANALYZE rollup_1d");
		printf("rollup_1d: days=%u aggregate_s=%.1f per_day_ms=%.0f\n", nd, (a1 - a0) / 1000,
		       nd ? (a1 - a0) / nd : 0);
		fflush(stdout);
		if (measure(c, series, days, days, now, interval_s, "eval_with_budget_1d") < 0 ||
		    measure(c, series, days, 3, now, interval_s, "eval_rules_only_1d") < 0)
			rc = 1;
	}
	PQfinish(c);
	return rc;
}
