/*
 * burn_env.h - helpers of the tests that run SLIs and the evaluator
 * against real rollup rows (test_burn.c, test_sli_query.c): the fixture's
 * environment, a fresh migrated database per test, rollup_1m rows from
 * per-minute SQL patterns (gen, PAT_A/PAT_F with their C twins) and
 * rollup_1h rebuilt from them, evaluations at an injected time, alert
 * states. Included by test files only; every helper is static inline.
 */
#ifndef TW_BURN_ENV_H
#define TW_BURN_ENV_H

#include <criterion/criterion.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg_env.h"
#include "alerts.h"
#include "burn.h"
#include "db.h"
#include "evaluator.h"
#include "sli.h"
#include "slo_config.h"
#include "sql_migrations.h"
#include "twtime.h"

#define MIN_MS 60000LL
#define T0 1772409600000LL          /* 2026-03-02T00:00:00Z */
#define EPS 1e-9

/* ------------------------------------------------------------ helpers */

static inline const char *env(const char *name)
{
	const char *v = getenv(name);
	cr_assert(v && *v, "%s is not set (run through tests/integration/test_burn.sh)", name);
	return v;
}

static inline char *q_str(PGconn *c, const char *fmt, ...)
{
	char *sql = NULL;
	va_list ap;
	va_start(ap, fmt);
	cr_assert(vasprintf(&sql, fmt, ap) > 0);
	va_end(ap);
	PGresult *r = PQexec(c, sql);
	cr_assert(PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1, "%s: %s", sql,
		  PQresultErrorMessage(r));
	char *v = PQgetisnull(r, 0, 0) ? NULL : strdup(PQgetvalue(r, 0, 0));
	PQclear(r);
	free(sql);
	return v;
}

/* A fresh migrated database, connected, UTC. */
static inline PGconn *new_db(const char *name)
{
	PGconn *c = PQconnectdb(env("TW_PG_CONNINFO"));
	cr_assert(PQstatus(c) == CONNECTION_OK, "connect: %s", PQerrorMessage(c));
	exec_ok(c, "SET client_min_messages = warning");
	exec_ok(c, "DROP DATABASE IF EXISTS %s", name);
	exec_ok(c, "CREATE DATABASE %s", name);
	PQfinish(c);
	char *ci = NULL;
	cr_assert(asprintf(&ci, "%s dbname=%s", env("TW_PG_CONNINFO"), name) > 0);
	char err[512] = "";
	int n = db_migrate(ci, err, sizeof err);
	cr_assert_eq(n, (int)sql_migrations_count, "migrate: %d (%s)", n, err);
	c = PQconnectdb(ci);
	free(ci);
	cr_assert(PQstatus(c) == CONNECTION_OK);
	cr_assert_eq(evaluator_prepare_conn(c, err, sizeof err), 0, "%s", err);
	return c;
}

static inline struct slo_config *cfg_of(const char *yaml)
{
	char err[512];
	struct slo_config *cfg = slo_config_load_string("test.yaml", yaml, strlen(yaml), err,
							 sizeof err);
	cr_assert(cfg, "config: %s", err);
	return cfg;
}

/* rollup_1m rows for minutes [m0, m1) after T0 of one series, attempts and
 * failures given as SQL expressions of the minute offset m; every timed
 * handshake lands in the histogram bucket `hb` (1-based) unless hist_sql is
 * given (an expression of m and a giving a bigint[20]). */
static inline void gen(PGconn *c, const char *target, const char *region, const char *service, int m0,
		int m1, const char *attempts, const char *failures, const char *hist_sql)
{
	exec_ok(c,
		"INSERT INTO rollup_1m (bucket, target, port, sni, region, profile, service, attempts, "
		"successes, failures, outcomes, handshakes, handshake_ms_hist, handshake_ms_sum, "
		"handshake_ms_count, mtls_attempts, mtls_failures, ocsp_stapled_count, "
		"cipher_fallback_count, sni_mismatch_count, expiring_soon_count) "
		"SELECT to_timestamp(%lld / 1000.0) + m * interval '1 minute', '%s', 443, '', '%s', "
		"'default', %s%s%s, a, a - f, f, '{}', a, %s, 15.0 * a, a, 0, 0, 0, 0, 0, 0 "
		"FROM (SELECT m, (%s)::bigint AS a, (%s)::bigint AS f FROM generate_series(%d, %d) m) s",
		T0, target, region, service ? "'" : "", service ? service : "NULL",
		service ? "'" : "",
		hist_sql ? hist_sql
			 : "(array_fill(0::bigint, ARRAY[4]) || ARRAY[a] || array_fill(0::bigint, ARRAY[15]))",
		attempts, failures, m0, m1 - 1);
}

/* rollup_1h := rollup_1m summed per UTC hour (what the ingest keeps). */
static inline void rebuild_1h(PGconn *c)
{
	char hist[2048] = "ARRAY[";
	size_t off = strlen(hist);
	for (int k = 1; k <= SLI_LATENCY_BUCKETS; k++)
		off += (size_t)snprintf(hist + off, sizeof hist - off, "%ssum(handshake_ms_hist[%d])",
					k > 1 ? ", " : "", k);
	snprintf(hist + off, sizeof hist - off, "]::bigint[]");
	exec_ok(c, "DELETE FROM rollup_1h");
	exec_ok(c,
		"INSERT INTO rollup_1h SELECT date_trunc('hour', bucket), target, port, sni, region, "
		"profile, max(service), sum(attempts), sum(successes), sum(failures), '{}', "
		"sum(handshakes), %s, sum(handshake_ms_sum), sum(handshake_ms_count), "
		"sum(mtls_attempts), sum(mtls_failures), sum(ocsp_stapled_count), "
		"sum(cipher_fallback_count), sum(sni_mismatch_count), sum(expiring_soon_count), "
		"min(min_days_to_expiry), min(min_chain_not_after) "
		"FROM rollup_1m GROUP BY 1, 2, 3, 4, 5, 6",
		hist);
}

static inline struct evaluator_result eval_at(PGconn *c, const struct slo_config *cfg, int64_t now)
{
	struct evaluator_run_opts o = { .collector_id = "test", .skip_other_rules = true };
	struct evaluator_result r;
	char err[1024];
	int rc = evaluator_run_once(c, cfg, now, &o, &r, err, sizeof err);
	cr_assert_eq(rc, 0, "evaluation at %lld: %s", (long long)now, err);
	return r;
}

/* The state of the newest alert with this dedup key ("" when none). */
static inline char *state_of(PGconn *c, const char *key)
{
	char *s = q_str(c, "SELECT coalesce((SELECT state FROM alerts WHERE dedup_key = '%s' "
			   "ORDER BY id DESC LIMIT 1), '')", key);
	return s;
}

static inline const struct burn_status *status_named(const struct burn_eval *e, const char *slo,
					      const char *region)
{
	for (size_t i = 0; i < e->nstatus; i++)
		if (!strcmp(e->status[i].slo->name, slo) &&
		    ((!region && !e->status[i].region) ||
		     (region && e->status[i].region && !strcmp(region, e->status[i].region))))
			return &e->status[i];
	cr_assert_fail("no status for %s/%s", slo, region ? region : "all");
	return NULL;
}

static inline size_t win_of(const struct burn_eval *e, int64_t ms)
{
	for (size_t i = 0; i < e->nwin; i++)
		if (e->window_ms[i] == ms)
			return i;
	cr_assert_fail("no window of %lld ms", (long long)ms);
	return 0;
}


/* Per-minute pattern used by several tests: attempts 10 + m % 3, failures
 * 2 when m % 7 == 0 else 0 (SQL and C agree). */
#define PAT_A "10 + m % 3"
#define PAT_F "CASE WHEN m % 7 = 0 THEN 2 ELSE 0 END"
static inline long pat_a(long m) { return 10 + m % 3; }   /* C and SQL both truncate */
static inline long pat_f(long m) { return (m % 7 == 0) ? 2 : 0; }

#endif
