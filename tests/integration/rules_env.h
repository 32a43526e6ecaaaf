/*
 * rules_env.h - helpers of the alert-rule integration tests
 * (test_rules_other.c: the target rules; test_rules_probe.c: the probe
 * rules), run against a real PostgreSQL started by their fixture script.
 *
 * Every test creates its own database (db_migrate), inserts the results,
 * rollups and probes rows that describe one situation with timestamps
 * relative to an injected evaluation time T0, evaluates the rules inside
 * alerts_begin/alerts_commit at that time (the clock is never read) and
 * compares the alerts table with exactly the expected
 * (rule, dedup_key, severity, state) rows. Included by test files only;
 * every helper is static inline so each file takes what it uses.
 */
#ifndef TW_RULES_ENV_H
#define TW_RULES_ENV_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <libpq-fe.h>

#include "pg_env.h"
#include "alerts.h"
#include "db.h"
#include "proc.h"
#include "rules_other.h"
#include "rules_probe.h"
#include "slo_config.h"

/* 2026-11-24T12:00:00Z: every time below is relative to it (seconds). */
#define T0_S 1795521600LL
#define T0_MS (T0_S * 1000)
#define MIN 60.0
#define HOUR 3600.0
#define DAY 86400.0

static inline PGconn *new_db(const char *name)
{
	PGconn *c = tw_pg(NULL);
	cr_assert(c, "connect to the fixture's PostgreSQL (run through test_rules_other.sh)");
	cr_assert_eq(tw_pg_exec(c, "SET client_min_messages = warning"), 0);
	cr_assert_eq(tw_pg_exec(c, tw_fmt("DROP DATABASE IF EXISTS %s", name)), 0);
	cr_assert_eq(tw_pg_exec(c, tw_fmt("CREATE DATABASE %s", name)), 0);
	PQfinish(c);
	char err[512] = "";
	const char *ci = tw_fmt("%s dbname=%s", getenv("TW_PG_CONNINFO"), name);
	cr_assert_gt(db_migrate(ci, err, sizeof err), 0, "migrate: %s", err);
	c = tw_pg(name);
	cr_assert(c);
	cr_assert_eq(tw_pg_exec(c, "SET client_min_messages = warning"), 0);
	return c;
}

/* One value as a malloc'd string ("" for no row, "NULL" for NULL). */
static inline char *q_str(PGconn *c, const char *fmt, ...)
{
	char *sql = NULL;
	va_list ap;
	va_start(ap, fmt);
	cr_assert(vasprintf(&sql, fmt, ap) > 0);
	va_end(ap);
	PGresult *r = PQexec(c, sql);
	cr_assert(PQresultStatus(r) == PGRES_TUPLES_OK, "%s: %s", sql, PQresultErrorMessage(r));
	char *v = strdup(PQntuples(r) == 0 ? "" : PQgetisnull(r, 0, 0) ? "NULL" : PQgetvalue(r, 0, 0));
	PQclear(r);
	free(sql);
	return v;
}

/* The test's configuration: every threshold as the defaults of issue 4. */
static inline struct slo_config cfg_default(void)
{
	struct slo_config cfg;
	memset(&cfg, 0, sizeof cfg);
	struct slo_alerts *a = &cfg.alerts;
	cfg.resolve_after = 3;
	a->resolve_after = 3;
	a->cert_expiry.c.enabled = true;
	a->cert_expiry.ticket_days[0] = 30;
	a->cert_expiry.ticket_days[1] = 7;
	a->cert_expiry.nticket_days = 2;
	a->cert_expiry.page_hours = 24;
	a->mtls_mass.c.enabled = true;
	a->mtls_mass.min_targets = 3;
	a->mtls_mass.min_failure_ratio = 0.5;
	a->mtls_mass.window_ms = 10 * 60 * 1000;
	a->sni_mismatch.c.enabled = true;
	a->sni_mismatch.min_events = 3;
	a->sni_mismatch.window_ms = 3600 * 1000;
	a->probe_silent.c.enabled = true;
	a->probe_silent.intervals = 3;
	a->clock_skew.c.enabled = true;
	a->clock_skew.max_ms = 2000;
	a->probe_dropping.c.enabled = true;
	a->probe_dropping.window_ms = 3600 * 1000;
	a->drift.c.enabled = true;
	a->drift.fingerprint_for_ms = 30 * 60 * 1000;
	a->drift.baseline_window_ms = 7 * 24 * 3600 * 1000LL;
	return cfg;
}

/* One evaluation at T0 + at_s, committed; returns the changes made. */
static inline int eval_at(PGconn *c, double at_s, const struct slo_config *cfg)
{
	char err[512] = "";
	int64_t now = T0_MS + (int64_t)(at_s * 1000);
	struct alerts_run *run = alerts_begin(c, now, "http://tlswatch.test/", err, sizeof err);
	cr_assert(run, "alerts_begin: %s", err);
	/* as the evaluator does: the target rules, then the probe rules */
	if (rules_other_eval(c, now, cfg, run, err, sizeof err) != 0 ||
	    rules_probe_eval(c, now, cfg, run, err, sizeof err) != 0) {
		alerts_abort(run);
		cr_assert_fail("rules evaluation: %s", err);
	}
	int changes = 0;
	cr_assert_eq(alerts_commit(run, &changes, err, sizeof err), 0, "alerts_commit: %s", err);
	return changes;
}

/* Every alert as "rule dedup_key severity state" lines, sorted; resolved
 * ones only when all. */
static inline char *alerts_str(PGconn *c, bool all)
{
	return q_str(c, "SELECT coalesce(string_agg(rule || ' ' || dedup_key || ' ' || severity "
			"|| ' ' || state, E'\\n' ORDER BY rule, dedup_key, id), '') FROM alerts %s",
		     all ? "" : "WHERE state <> 'resolved'");
}

#define expect_alerts(c, all, want)                                                        \
	do {                                                                               \
		char *got_ = alerts_str((c), (all));                                       \
		cr_assert_str_eq(got_, (want), "alerts:\n%s\n--- expected:\n%s", got_,     \
				 (want));                                                   \
		free(got_);                                                        \
	} while (0)

static inline char *alert_field(PGconn *c, const char *key, const char *expr)
{
	return q_str(c, "SELECT %s FROM alerts WHERE dedup_key = '%s' ORDER BY id DESC LIMIT 1", expr,
		     key);
}

#define expect_field(c, key, expr, want)                                                   \
	do {                                                                               \
		char *got_ = alert_field((c), (key), (expr));                              \
		cr_assert_str_eq(got_, (want), "%s of %s", (expr), (key));                 \
		free(got_);                                                        \
	} while (0)

/* An SQL literal or NULL (static ring, for building statements). */
static inline const char *lit(const char *s)
{
	return s ? tw_fmt("'%s'", s) : "NULL";
}

static inline const char *ts(double rel_s)
{
	return tw_fmt("to_timestamp(%.3f)", (double)T0_S + rel_s);
}

#define NONE (-1e18)  /* "no such time" for struct res */

struct res {
	const char *probe, *region, *target;
	int port;
	const char *sni, *profile, *service;
	double at;                 /* started_at, relative to T0 (s) */
	long long interval_ms;     /* 0: NULL */
	const char *outcome;       /* NULL: ok */
	const char *fp;
	double leaf_na;            /* relative to T0 (s); NONE: NULL */
	double chain_na;           /* NONE: NULL */
	int chain_depth;
	const char *tls_version, *cipher;
	const char *labels;        /* JSON object text; NULL: '{}' */
};

static long long next_seq = 1;

static inline void add_result(PGconn *c, const struct res *r)
{
	exec_ok(c,
		"INSERT INTO results (probe_id, seq, region, started_at, received_at, target, port, "
		"sni, profile, service, interval_ms, outcome, tls_version, cipher, cert_not_after, "
		"chain_not_after_min, chain_not_after_min_depth, fingerprint_sha256, labels) VALUES "
		"(%s, %lld, %s, %s, %s, %s, %d, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
		lit(r->probe ? r->probe : "p-eu"), next_seq++, lit(r->region ? r->region : "eu-west"),
		ts(r->at), ts(r->at + 0.5), lit(r->target), r->port ? r->port : 443, lit(r->sni),
		lit(r->profile ? r->profile : "modern"), lit(r->service),
		r->interval_ms ? tw_fmt("%lld", r->interval_ms) : "NULL",
		lit(r->outcome ? r->outcome : "ok"), lit(r->tls_version), lit(r->cipher),
		r->leaf_na == NONE ? "NULL" : ts(r->leaf_na),
		r->chain_na == NONE ? "NULL" : ts(r->chain_na),
		r->chain_na == NONE ? "NULL" : tw_fmt("%d", r->chain_depth), lit(r->fp),
		lit(r->labels ? r->labels : "{}"));
}

struct roll {
	double bucket;             /* relative to T0 (s) */
	const char *target;
	int port;
	const char *sni, *region, *profile, *service;
	long attempts, mtls_attempts, mtls_failures, sni_mismatch;
};

static inline void add_rollup(PGconn *c, const struct roll *r)
{
	exec_ok(c,
		"INSERT INTO rollup_1m (bucket, target, port, sni, region, profile, service, attempts, "
		"successes, failures, outcomes, handshakes, handshake_ms_hist, handshake_ms_sum, "
		"handshake_ms_count, mtls_attempts, mtls_failures, ocsp_stapled_count, "
		"cipher_fallback_count, sni_mismatch_count, expiring_soon_count) VALUES "
		"(%s, %s, %d, %s, %s, %s, %s, %ld, %ld, %ld, '{}', %ld, '{}', 0, 0, %ld, %ld, 0, 0, "
		"%ld, 0)",
		ts(r->bucket), lit(r->target), r->port ? r->port : 443, lit(r->sni ? r->sni : ""),
		lit(r->region ? r->region : "eu-west"), lit(r->profile ? r->profile : "modern"),
		lit(r->service), r->attempts, r->attempts - r->mtls_failures, r->mtls_failures,
		r->attempts, r->mtls_attempts, r->mtls_failures, r->sni_mismatch);
}

static inline void add_probe(PGconn *c, const char *id, const char *region, double last_seen,
		      long long last_seq, double offset_ms)
{
	exec_ok(c,
		"INSERT INTO probes (probe_id, region, version, first_seen, last_seen, last_seq, "
		"clock_offset_ms) VALUES (%s, %s, 'test', %s, %s, %s, %.3f)",
		lit(id), lit(region), ts(last_seen - DAY), ts(last_seen),
		last_seq >= 0 ? tw_fmt("%lld", last_seq) : "NULL", offset_ms);
}

#endif
