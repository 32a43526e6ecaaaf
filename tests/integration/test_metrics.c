/*
 * test_metrics.c - the per-target series of /metrics against a real
 * `tlswatch-collector run`, a real PostgreSQL and a real Prometheus
 * (tests/integration/test_metrics.sh starts all three; the collector
 * refreshes its snapshot every second, Prometheus scrapes every second).
 *
 * The test seeds results rows and the rollup_1m rows (and dirty hours) the
 * ingest statement would have written for them (seed() and rollup() below), waits for two
 * snapshot refreshes (so one started after the seed), then checks /metrics,
 * promtool, a PromQL query, and the shipped rules.
 *
 * Criterion runs tests in parallel: every test uses its own target names.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "ingest_env.h"
#include "metrics.h"

TestSuite(metrics, .timeout = 90);

/* ---- seeding ---- */

struct seed_row {
	const char *host, *region, *profile, *service, *outcome;
	const char *findings;     /* SQL array literal, "{}" for none */
	const char *tls_version;  /* NULL: the handshake did not complete */
	const char *cipher;
	const char *chain_not_after_unix; /* NULL: no certificate */
	const char *dns_ms, *total_ms;
	int seconds_ago;
};

static void seed(PGconn *db, const struct seed_row *r)
{
	static int seq;
	char seqs[32], ago[32];
	snprintf(seqs, sizeof seqs, "%d", __atomic_add_fetch(&seq, 1, __ATOMIC_SEQ_CST));
	snprintf(ago, sizeof ago, "%d", r->seconds_ago);
	const char *p[13] = { r->host, seqs, r->region, ago, r->profile, r->service, r->outcome,
			      r->findings, r->tls_version, r->cipher, r->chain_not_after_unix,
			      r->dns_ms, r->total_ms };
	PGresult *res = PQexecParams(db,
		"INSERT INTO results (probe_id, seq, region, started_at, received_at, target, port, "
		"sni, profile, service, outcome, findings, tls_version, cipher, chain_not_after_min, "
		"cert_not_after, dns_ms, total_ms) VALUES ('seed-' || $1, $2::bigint + "
		"(extract(epoch FROM clock_timestamp()) * 1000)::bigint, $3, "
		"now() - $4::int * interval '1 second', now(), $1, 443, $1, $5, $6, $7, $8::text[], "
		"$9, $10, to_timestamp($11::double precision), to_timestamp($11::double precision), "
		"$12::double precision, $13::double precision)",
		13, NULL, p, NULL, NULL, 0);
	cr_assert_eq(PQresultStatus(res), PGRES_COMMAND_OK, "seed: %s", PQerrorMessage(db));
	PQclear(res);
}

/* rollup_1m of one target recomputed from its results rows in one statement
 * (a refresh never sees it half done), as the ingest statement keeps it
 * (attempts, successes, failures and the outcomes map are what /metrics
 * reads; the rest is zero), and, as that statement does, the hours before
 * the rollup_1h builder's mark_before recorded dirty: /metrics reads the
 * hours through rollup_1h_live (sql/016_rollup_1h_builder.sql). */
static void rollup(PGconn *db, const char *host)
{
	const char *p[1] = { host };
	PGresult *res = PQexecParams(db,
		"WITH m AS (INSERT INTO rollup_1m (bucket, target, port, sni, region, profile, service, "
		"attempts, successes, failures, outcomes, handshakes, handshake_ms_hist, "
		"handshake_ms_sum, handshake_ms_count, mtls_attempts, mtls_failures, "
		"ocsp_stapled_count, cipher_fallback_count, sni_mismatch_count, expiring_soon_count) "
		"SELECT b, target, port, sni, region, profile, max(service), sum(n), "
		"coalesce(sum(n) FILTER (WHERE outcome = 'ok'), 0), "
		"coalesce(sum(n) FILTER (WHERE outcome <> 'ok'), 0), jsonb_object_agg(outcome, n), "
		"0, '{}', 0, 0, 0, 0, 0, 0, 0, 0 FROM (SELECT date_trunc('minute', started_at) AS b, "
		"target, port, coalesce(sni, '') AS sni, region, profile, service, outcome, "
		"count(*) AS n FROM results WHERE target = $1 GROUP BY 1, 2, 3, 4, 5, 6, 7, 8) x "
		"GROUP BY b, target, port, sni, region, profile "
		"ON CONFLICT (bucket, target, port, sni, region, profile) DO UPDATE SET "
		"attempts = EXCLUDED.attempts, successes = EXCLUDED.successes, "
		"failures = EXCLUDED.failures, outcomes = EXCLUDED.outcomes RETURNING bucket) "
		"INSERT INTO rollup_1h_dirty (hour) SELECT DISTINCT date_trunc('hour', bucket, 'UTC') "
		"FROM m WHERE bucket < (SELECT mark_before FROM rollup_1h_state)",
		1, NULL, p, NULL, NULL, 0);
	cr_assert_eq(PQresultStatus(res), PGRES_COMMAND_OK, "rollup: %s", PQerrorMessage(db));
	PQclear(res);
}

static void seed_ok(PGconn *db, const char *host, const char *region, const char *profile,
		    int seconds_ago)
{
	struct seed_row r = { host, region, profile, "web", "ok", "{}", "TLSv1.3",
			      "TLS_AES_256_GCM_SHA384", "2000000000", "5", "42", seconds_ago };
	seed(db, &r);
}

static void seed_fail(PGconn *db, const char *host, const char *region, const char *profile,
		      const char *outcome, int seconds_ago)
{
	struct seed_row r = { host, region, profile, "web", outcome, "{}", NULL, NULL, NULL, "3",
			      "3", seconds_ago };
	seed(db, &r);
}

static long long q_ll(PGconn *db, const char *sql)
{
	PGresult *r = PQexec(db, sql);
	cr_assert_eq(PQresultStatus(r), PGRES_TUPLES_OK, "%s: %s", sql, PQerrorMessage(db));
	long long v = atoll(PQgetvalue(r, 0, 0));
	PQclear(r);
	return v;
}

/* ---- /metrics ---- */

static double metric(const char *series)
{
	return metric_port(env_port("TW_HTTP_PORT"), series);
}

/* Waits until two more snapshots were taken: the second started after the
 * caller's seed committed. */
static void wait_refresh(void)
{
	double start = metric("tlswatch_metrics_refreshes_total");
	for (int i = 0; i < 200; i++) {
		if (metric("tlswatch_metrics_refreshes_total") >= start + 2)
			return;
		sleep_ms(50);
	}
	cr_assert_fail("the metrics snapshot was not refreshed in 10 s");
}

static char *metrics_body(void)
{
	char *body;
	cr_assert_eq(http_get_port(env_port("TW_HTTP_PORT"), "GET", "/metrics", &body), 200);
	return body;
}

/* The series name{target="HOST:443",sni="HOST",service="web",region=..,profile=..EXTRA}. */
static const char *series(char *buf, size_t cap, const char *name, const char *host,
			  const char *region, const char *profile, const char *extra)
{
	snprintf(buf, cap,
		 "%s{target=\"%s:443\",sni=\"%s\",service=\"web\",region=\"%s\",profile=\"%s\"%s}",
		 name, host, host, region, profile, extra ? extra : "");
	return buf;
}

static int run(const char *cmd)
{
	int rc = system(cmd);
	return rc == -1 ? -1 : WEXITSTATUS(rc);
}

/* ---- the latest result of each series ---- */

Test(metrics, latest_result_per_series)
{
	PGconn *db = pg();
	char s[512];
	/* a series that worked and now fails: the newest row decides */
	seed_ok(db, "fail.example", "eu-west", "modern", 120);
	seed_fail(db, "fail.example", "eu-west", "modern", "connect_refused", 10);
	/* and a failure that is older than the newest success */
	seed_fail(db, "good.example", "us-east", "legacy", "protocol_version", 300);
	struct seed_row g = { "good.example", "us-east", "legacy", "web", "ok",
			      "{expiring_soon,not_a_finding}", "TLSv1.2", "ECDHE-RSA-AES128-GCM-SHA256",
			      "2000000000", "5", "42", 20 };
	seed(db, &g);
	rollup(db, "fail.example");
	rollup(db, "good.example");
	wait_refresh();

	cr_expect_eq(metric(series(s, sizeof s, "probe_success", "fail.example", "eu-west", "modern",
				   NULL)), 0);
	cr_expect_eq(metric(series(s, sizeof s, "tlswatch_result_outcome", "fail.example", "eu-west",
				   "modern", ",outcome=\"connect_refused\"")), 1);
	cr_expect_eq(metric(series(s, sizeof s, "probe_success", "good.example", "us-east", "legacy",
				   NULL)), 1);
	cr_expect_eq(metric(series(s, sizeof s, "probe_ssl_earliest_cert_expiry", "good.example",
				   "us-east", "legacy", NULL)), 2000000000.0);
	cr_expect_eq(metric(series(s, sizeof s, "probe_ssl_last_chain_expiry_timestamp_seconds",
				   "good.example", "us-east", "legacy", NULL)), 2000000000.0);
	cr_expect_eq(metric(series(s, sizeof s, "probe_tls_version_info", "good.example", "us-east",
				   "legacy", ",version=\"TLSv1.2\"")), 1);
	cr_expect_eq(metric(series(s, sizeof s, "probe_tls_cipher_info", "good.example", "us-east",
				   "legacy", ",cipher=\"ECDHE-RSA-AES128-GCM-SHA256\"")), 1);
	cr_expect_eq(metric(series(s, sizeof s, "tlswatch_result_findings", "good.example", "us-east",
				   "legacy", ",finding=\"expiring_soon\"")), 1);
	cr_expect_float_eq(metric(series(s, sizeof s, "probe_dns_lookup_time_seconds", "good.example",
					 "us-east", "legacy", NULL)), 0.005, 1e-9);
	cr_expect_float_eq(metric(series(s, sizeof s, "probe_duration_seconds", "good.example",
					 "us-east", "legacy", NULL)), 0.042, 1e-9);

	char *body = metrics_body();
	/* no handshake, no version, cipher or expiry for the failing series;
	 * a finding outside the vocabulary is not exported */
	cr_expect_null(strstr(body, "probe_tls_version_info{target=\"fail.example:443\""));
	cr_expect_null(strstr(body, "probe_ssl_earliest_cert_expiry{target=\"fail.example:443\""));
	cr_expect_null(strstr(body, "not_a_finding"));
	free(body);
	PQfinish(db);
}

/* tlswatch_results_total grows by the rows stored since the last refresh. */
Test(metrics, results_total_counts_stored_rows_by_outcome)
{
	PGconn *db = pg();
	char s[512];
	seed_ok(db, "count.example", "ap-south", "modern", 50);
	seed_ok(db, "count.example", "ap-south", "modern", 40);
	seed_fail(db, "count.example", "ap-south", "modern", "dns_error", 30);
	rollup(db, "count.example");
	wait_refresh();
	cr_expect_eq(metric(series(s, sizeof s, "tlswatch_results_total", "count.example", "ap-south",
				   "modern", ",outcome=\"ok\"")), 2);
	cr_expect_eq(metric(series(s, sizeof s, "tlswatch_results_total", "count.example", "ap-south",
				   "modern", ",outcome=\"dns_error\"")), 1);
	/* two more failures: counted once each, the earlier rows not again */
	seed_fail(db, "count.example", "ap-south", "modern", "dns_error", 20);
	seed_fail(db, "count.example", "ap-south", "modern", "dns_error", 10);
	rollup(db, "count.example");
	wait_refresh();
	wait_refresh();
	cr_expect_eq(metric(series(s, sizeof s, "tlswatch_results_total", "count.example", "ap-south",
				   "modern", ",outcome=\"dns_error\"")), 3);
	cr_expect_eq(metric(series(s, sizeof s, "tlswatch_results_total", "count.example", "ap-south",
				   "modern", ",outcome=\"ok\"")), 2);
	PQfinish(db);
}

/* Seeds one ok row of HOST at an hour before the current one, its rollup_1m
 * row, and, with build, rebuilds that hour into rollup_1h in the same
 * REPEATABLE READ transaction as the builder's step does (under its session
 * lock, rollup_hourly.c), so that no refresh sees the hour unbuilt. */
static void seed_old_hour(PGconn *db, const char *host, time_t at, bool build)
{
	char want[96];
	snprintf(want, sizeof want, "date_trunc('hour', to_timestamp(%lld), 'UTC')", (long long)at);
	PGresult *r = PQexec(db, "SELECT pg_advisory_lock(1953985907, 17)");
	cr_assert_eq(PQresultStatus(r), PGRES_TUPLES_OK, "builder lock: %s", PQerrorMessage(db));
	PQclear(r);
	r = PQexec(db, "BEGIN ISOLATION LEVEL REPEATABLE READ");
	cr_assert_eq(PQresultStatus(r), PGRES_COMMAND_OK, "%s", PQerrorMessage(db));
	PQclear(r);
	seed_ok(db, host, "eu-west", "modern", (int)(time(NULL) - at));
	rollup(db, host);
	if (build) { /* steps until that hour is rebuilt (others may be dirty too) */
		char sql[512];
		snprintf(sql, sizeof sql, "DO $$ DECLARE h timestamptz; want timestamptz := %s; "
			 "BEGIN LOOP h := tw_rollup_1h_step(); EXIT WHEN h IS NULL OR h = want; END LOOP; "
			 "IF NOT EXISTS (SELECT 1 FROM tw_rollup_1h_built() WHERE bucket = want) "
			 "THEN RAISE EXCEPTION 'hour %% not built', want; END IF; END $$", want);
		r = PQexec(db, sql);
		cr_assert_eq(PQresultStatus(r), PGRES_COMMAND_OK, "build: %s", PQerrorMessage(db));
		PQclear(r);
	}
	r = PQexec(db, "COMMIT");
	cr_assert_eq(PQresultStatus(r), PGRES_COMMAND_OK, "%s", PQerrorMessage(db));
	PQclear(r);
	r = PQexec(db, "SELECT pg_advisory_unlock(1953985907, 17)");
	PQclear(r);
}

/* An hour the rollup_1h builder has built is read from rollup_1h, a dirty
 * one from its minutes: the series and its counts are there either way,
 * counted once. */
Test(metrics, built_and_dirty_hours_count_once)
{
	PGconn *db = pg();
	char s[512];
	/* the middle of the hour before the previous one, the same hour for the
	 * whole test: below ready_before even when the database was migrated
	 * in the previous hour */
	time_t at = time(NULL) / 3600 * 3600 - 5400;
	seed_old_hour(db, "built.example", at, true);
	wait_refresh();
	cr_expect_eq(metric(series(s, sizeof s, "probe_success", "built.example", "eu-west", "modern",
				   NULL)), 1);
	cr_expect_eq(metric(series(s, sizeof s, "tlswatch_results_total", "built.example", "eu-west",
				   "modern", ",outcome=\"ok\"")), 1);
	/* a late row into the built hour: dirty, summed from its minutes */
	seed_old_hour(db, "built.example", at, false);
	wait_refresh();
	cr_expect_eq(metric(series(s, sizeof s, "tlswatch_results_total", "built.example", "eu-west",
				   "modern", ",outcome=\"ok\"")), 2);
	/* rebuilt (the late row once more, so the step has something new) */
	seed_old_hour(db, "built.example", at, true);
	wait_refresh();
	cr_expect_eq(metric(series(s, sizeof s, "tlswatch_results_total", "built.example", "eu-west",
				   "modern", ",outcome=\"ok\"")), 3);
	PQfinish(db);
}

/* Rows an ingest transaction numbered (sql/020_rollup_1m_builder.sql) and
 * the rollup_1m builder has not added yet are read from results (the tail),
 * and once it has, from rollup_1m: counted once either way. The builder
 * (the collector's leader) is held off by its session lock while the first
 * refresh reads them. */
Test(metrics, tail_rows_count_once)
{
	PGconn *db = pg();
	char s[512];
	PGresult *r = PQexec(db, "SELECT pg_advisory_lock(1953985907, 17)");
	cr_assert_eq(PQresultStatus(r), PGRES_TUPLES_OK, "builder lock: %s", PQerrorMessage(db));
	PQclear(r);
	r = PQexec(db, "BEGIN");
	PQclear(r);
	r = PQexec(db, "SELECT tw_ingest_batch()");
	cr_assert_eq(PQresultStatus(r), PGRES_TUPLES_OK, "%s", PQerrorMessage(db));
	PQclear(r);
	seed_ok(db, "tail.example", "eu-west", "modern", 40);
	seed_ok(db, "tail.example", "eu-west", "modern", 20);
	seed_fail(db, "tail.example", "eu-west", "modern", "connect_refused", 10);
	r = PQexec(db, "COMMIT");
	cr_assert_eq(PQresultStatus(r), PGRES_COMMAND_OK, "%s", PQerrorMessage(db));
	PQclear(r);
	cr_assert_eq(q_ll(db, "SELECT count(*) FROM results WHERE target = 'tail.example' AND "
			      "ingest_batch > (SELECT ready_batch FROM rollup_1m_state)"), 3,
		     "the rows are not in the tail");
	wait_refresh();
	cr_expect_eq(metric(series(s, sizeof s, "tlswatch_results_total", "tail.example", "eu-west",
				   "modern", ",outcome=\"ok\"")), 2);
	cr_expect_eq(metric(series(s, sizeof s, "tlswatch_results_total", "tail.example", "eu-west",
				   "modern", ",outcome=\"connect_refused\"")), 1);
	cr_expect_eq(metric(series(s, sizeof s, "probe_success", "tail.example", "eu-west", "modern",
				   NULL)), 0);
	r = PQexec(db, "SELECT pg_advisory_unlock(1953985907, 17)");
	PQclear(r);
	/* the leader adds them: this collector has no alerting section, so its
	 * leader thread runs the builders only, every 30 s (the default
	 * evaluation interval) */
	for (int i = 0; i < 1200 && q_ll(db, "SELECT count(*) FROM results WHERE ingest_batch > "
					   "(SELECT ready_batch FROM rollup_1m_state)") > 0; i++)
		sleep_ms(50);
	cr_assert_eq(q_ll(db, "SELECT coalesce(sum(attempts), 0) FROM rollup_1m WHERE target = "
			      "'tail.example'"), 3, "the builder did not add the rows in 60 s");
	wait_refresh();
	cr_expect_eq(metric(series(s, sizeof s, "tlswatch_results_total", "tail.example", "eu-west",
				   "modern", ",outcome=\"ok\"")), 2);
	cr_expect_eq(metric(series(s, sizeof s, "tlswatch_results_total", "tail.example", "eu-west",
				   "modern", ",outcome=\"connect_refused\"")), 1);
	PQfinish(db);
}

/* The outcome label's vocabulary is the SQL taxonomy, in its order. */
Test(metrics, outcome_vocabulary_matches_sql)
{
	PGconn *db = pg();
	PGresult *r = PQexec(db, "SELECT name FROM outcomes ORDER BY rank");
	cr_assert_eq(PQresultStatus(r), PGRES_TUPLES_OK, "%s", PQerrorMessage(db));
	cr_assert_eq(PQntuples(r), METRICS_NOUTCOMES, "outcomes has %d rows, metrics.c knows %d",
		     PQntuples(r), METRICS_NOUTCOMES);
	for (int i = 0; i < METRICS_NOUTCOMES; i++)
		cr_expect_str_eq(PQgetvalue(r, i, 0), metrics_outcome_names[i]);
	PQclear(r);
	PQfinish(db);
}

Test(metrics, build_process_and_snapshot_age)
{
	char *body = metrics_body();
	cr_expect_not_null(strstr(body, "tlswatch_build_info{version=\"0.1.0\",component=\"collector\""),
			   "no tlswatch_build_info");
	free(body);
	cr_expect_gt(metric("process_open_fds"), 3);
	cr_expect_gt(metric("process_max_fds"), metric("process_open_fds"));
	cr_expect_gt(metric("process_resident_memory_bytes"), 1 << 20);
	cr_expect_geq(metric("process_cpu_seconds_total"), 0);
	double start = metric("process_start_time_seconds"), now = (double)time(NULL);
	cr_expect(start > now - 600 && start <= now + 1, "process_start_time_seconds %f, now %f",
		  start, now);
	wait_refresh();
	cr_expect_lt(metric("tlswatch_metrics_snapshot_age_seconds"), 5);
	cr_expect_eq(metric("tlswatch_metrics_refresh_failures_total"), 0);
}

/* promtool lints the live exposition, with label values that need escaping. */
Test(metrics, exposition_passes_promtool)
{
	PGconn *db = pg();
	struct seed_row r = { "lint.example", "eu-west", "odd\"profile\\", "web", "tls_alert",
			      "{sni_mismatch}", NULL, NULL, NULL, "1", "1", 5 };
	seed(db, &r);
	rollup(db, "lint.example");
	wait_refresh();
	char *body = metrics_body();
	cr_assert_not_null(strstr(body, "profile=\"odd\\\"profile\\\\\""), "label not escaped");
	char path[512], cmd[1200];
	snprintf(path, sizeof path, "%s/metrics-lint.txt", env("TW_WORK"));
	FILE *f = fopen(path, "w");
	cr_assert_not_null(f);
	fputs(body, f);
	fclose(f);
	free(body);
	snprintf(cmd, sizeof cmd, "promtool check metrics < %s > %s.out 2>&1", path, path);
	cr_expect_eq(run(cmd), 0, "promtool check metrics failed (see %s.out)", path);
	PQfinish(db);
}

/* ---- a real Prometheus ---- */

/* The first value of an instant PromQL query, NAN when the result is empty. */
static double promql(const char *query)
{
	char path[1024] = "/api/v1/query?query=";
	size_t n = strlen(path);
	for (const unsigned char *q = (const unsigned char *)query; *q && n + 4 < sizeof path; q++) {
		if ((*q >= 'a' && *q <= 'z') || (*q >= 'A' && *q <= 'Z') || (*q >= '0' && *q <= '9') ||
		    *q == '_' || *q == '.' || *q == '-')
			path[n++] = (char)*q;
		else
			n += (size_t)snprintf(path + n, sizeof path - n, "%%%02X", *q);
	}
	path[n] = '\0';
	char *body;
	cr_assert_eq(http_get_port(env_port("TW_PROM_PORT"), "GET", path, &body), 200, "%s", path);
	json_error_t je;
	json_t *j = json_loads(body, 0, &je);
	cr_assert_not_null(j, "bad JSON from Prometheus: %s", body);
	free(body);
	json_t *res = json_object_get(json_object_get(j, "data"), "result");
	double v = NAN;
	if (json_array_size(res) > 0) {
		const char *s = json_string_value(json_array_get(json_object_get(json_array_get(res, 0),
										  "value"), 1));
		cr_assert_not_null(s);
		v = strtod(s, NULL);
	}
	json_decref(j);
	return v;
}

static double promql_wait(const char *query)
{
	double v = NAN;
	for (int i = 0; i < 300 && isnan(v = promql(query)); i++)
		sleep_ms(100);
	cr_assert(!isnan(v), "no result for %s in 30 s", query);
	return v;
}

Test(metrics, prometheus_scrapes_and_rules_evaluate)
{
	PGconn *db = pg();
	seed_fail(db, "prom.example", "eu-west", "legacy", "protocol_version", 15);
	seed_ok(db, "prom.example", "us-east", "modern", 15);
	rollup(db, "prom.example");
	wait_refresh();
	cr_expect_eq(promql_wait("probe_success{target=\"prom.example:443\",region=\"eu-west\"}"), 0);
	cr_expect_eq(promql_wait("probe_success{target=\"prom.example:443\",region=\"us-east\"}"), 1);
	cr_expect_eq(promql_wait("tlswatch_results_total{target=\"prom.example:443\","
				 "outcome=\"protocol_version\"}"), 1);
	/* the shipped recording rule, evaluated by Prometheus every second */
	cr_expect_eq(promql_wait("tlswatch:probe_success:ratio{target=\"prom.example:443\"}"), 0.5);
	PQfinish(db);
}

Test(metrics, shipped_rules_pass_promtool)
{
	char cmd[1200];
	snprintf(cmd, sizeof cmd, "promtool check rules %s/tlswatch.rules.yml >/dev/null 2>&1",
		 env("TW_RULES_DIR"));
	cr_expect_eq(run(cmd), 0, "promtool check rules failed");
	snprintf(cmd, sizeof cmd,
		 "cd %s/tests && promtool test rules tlswatch.rules.test.yml > %s/rules-test.out 2>&1",
		 env("TW_RULES_DIR"), env("TW_WORK"));
	int rc = run(cmd);
	char out[4096] = "";
	snprintf(cmd, sizeof cmd, "%s/rules-test.out", env("TW_WORK"));
	FILE *f = fopen(cmd, "r");
	if (f) {
		out[fread(out, 1, sizeof out - 1, f)] = '\0';
		fclose(f);
	}
	cr_expect_eq(rc, 0, "promtool test rules failed (%d):\n%s", rc, out);
}

/* ---- the cap, with an object of our own on our own loop ---- */

struct cap_ctx {
	struct event_base *base;
	struct metrics *m;
};

static void stop_when_refreshed(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct cap_ctx *c = arg;
	if (metrics_refreshes(c->m) >= 1)
		event_base_loopbreak(c->base);
}

Test(metrics, max_series_caps_the_snapshot)
{
	PGconn *db = pg();
	seed_ok(db, "cap-a.example", "eu-west", "modern", 5);
	seed_ok(db, "cap-b.example", "eu-west", "modern", 5);
	rollup(db, "cap-a.example");
	rollup(db, "cap-b.example");
	PQfinish(db);

	struct event_base *base = event_base_new();
	cr_assert_not_null(base);
	char err[256];
	struct metrics_opts o = { .conninfo = env("TW_PG_CONNINFO"), .refresh_ms = 1000,
				  .max_series = 1 };
	struct metrics *m = metrics_new(base, &o, err, sizeof err);
	cr_assert_not_null(m, "%s", err);
	struct cap_ctx ctx = { base, m };
	struct event *poll = event_new(base, -1, EV_PERSIST, stop_when_refreshed, &ctx);
	cr_assert_not_null(poll);
	struct timeval tick = { 0, 20000 }, limit = { 15, 0 };
	cr_assert_eq(event_add(poll, &tick), 0);
	cr_assert_eq(event_base_loopexit(base, &limit), 0);
	cr_assert_geq(event_base_dispatch(base), 0);
	cr_assert_geq(metrics_refreshes(m), 1, "no refresh in 15 s");

	struct evbuffer *b = evbuffer_new();
	metrics_render(m, b);
	size_t len = evbuffer_get_length(b);
	char *text = malloc(len + 1);
	evbuffer_remove(b, text, len);
	text[len] = '\0';
	cr_expect_not_null(strstr(text, "\ntlswatch_metrics_series 1\n"), "%s", text);
	cr_expect_not_null(strstr(text, "\ntlswatch_metrics_series_limited 1\n"));
	free(text);
	evbuffer_free(b);
	event_free(poll);
	metrics_free(m);
	event_base_free(base);
}

/* With the database unreachable, /metrics still renders at once: no
 * per-target series, and an age that says how long nothing was read. */
Test(metrics, unreachable_database_renders_without_waiting)
{
	struct event_base *base = event_base_new();
	cr_assert_not_null(base);
	char err[256];
	/* port 1 on loopback: refused at once */
	struct metrics_opts o = { .conninfo = "host=127.0.0.1 port=1 dbname=x connect_timeout=2",
				  .refresh_ms = 1000 };
	struct metrics *m = metrics_new(base, &o, err, sizeof err);
	cr_assert_not_null(m, "%s", err);
	struct timeval limit = { 1, 500000 };
	cr_assert_eq(event_base_loopexit(base, &limit), 0);
	cr_assert_geq(event_base_dispatch(base), 0);
	struct evbuffer *b = evbuffer_new();
	cr_assert_not_null(b);
	metrics_render(m, b);
	size_t len = evbuffer_get_length(b);
	char *text = malloc(len + 1);
	cr_assert_not_null(text);
	evbuffer_remove(b, text, len);
	text[len] = '\0';
	char *age = strstr(text, "\ntlswatch_metrics_snapshot_age_seconds ");
	cr_assert_not_null(age, "%s", text);
	cr_expect_geq(strtod(age + 39, NULL), 1.4, "%s", text);
	cr_expect_not_null(strstr(text, "\ntlswatch_metrics_series 0\n"));
	cr_expect_null(strstr(text, "probe_success"));
	cr_expect_eq(metrics_refreshes(m), 0);
	free(text);
	evbuffer_free(b);
	metrics_free(m);
	event_base_free(base);
}
