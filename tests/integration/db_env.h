/*
 * db_env.h - helpers of the storage tests (test_db.c for the pool and the
 * ingest statement, test_db_schema.c for migrations and partitions): the
 * fixture's environment, plain libpq queries, a fresh database per test, an
 * event loop run until a callback fired, synthetic Results that exercise
 * every rollup counter, and the rollups-equal-raw-rows check. Included by
 * test files only; every helper is static inline so each file takes what it
 * uses.
 */
#ifndef TW_DB_ENV_H
#define TW_DB_ENV_H

#include <criterion/criterion.h>
#include <errno.h>
#include <event2/event.h>
#include <libpq-fe.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg_env.h"
#include "db.h"
#include "sql_migrations.h"
#include "tlswatch.pb-c.h"
#include "twtime.h"

/* ------------------------------------------------------------ helpers */

static inline const char *env(const char *name)
{
	const char *v = getenv(name);
	cr_assert(v && *v, "%s is not set (run through tests/integration/test_db.sh)", name);
	return v;
}

static inline PGconn *pg(const char *conninfo)
{
	PGconn *c = PQconnectdb(conninfo);
	cr_assert(PQstatus(c) == CONNECTION_OK, "connect: %s", PQerrorMessage(c));
	return c;
}

/* First value as a malloc'd string (NULL when SQL NULL). */
static inline char *q_str(PGconn *c, const char *fmt, ...)
{
	char sql[8192];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(sql, sizeof sql, fmt, ap);
	va_end(ap);
	PGresult *r = PQexec(c, sql);
	cr_assert(PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1, "%s: %s", sql,
		  PQresultErrorMessage(r));
	char *v = PQgetisnull(r, 0, 0) ? NULL : strdup(PQgetvalue(r, 0, 0));
	PQclear(r);
	return v;
}

/* A fresh database; returns its conninfo (malloc'd). */
static inline char *new_db(const char *name)
{
	PGconn *c = pg(env("TW_PG_CONNINFO"));
	exec_ok(c, "SET client_min_messages = warning");
	exec_ok(c, "DROP DATABASE IF EXISTS %s", name);
	exec_ok(c, "CREATE DATABASE %s", name);
	PQfinish(c);
	char *ci = NULL;
	cr_assert(asprintf(&ci, "%s dbname=%s", env("TW_PG_CONNINFO"), name) > 0);
	return ci;
}

static inline char *new_migrated_db(const char *name)
{
	char *ci = new_db(name);
	char err[512] = "";
	int n = db_migrate(ci, err, sizeof err);
	cr_assert_eq(n, (int)sql_migrations_count, "migrate: %d (%s)", n, err);
	return ci;
}

static inline struct db_pool *pool_up(struct event_base *b, const char *ci, struct db_opts *o)
{
	char err[256] = "";
	o->conninfo = ci;
	struct db_pool *p = db_pool_new(b, o, err, sizeof err);
	cr_assert(p, "db_pool_new: %s", err);
	cr_assert(run_until(b, (bool (*)(void *))db_is_ready, p, 20), "pool not ready in 20 s");
	return p;
}

/* ------------------------------------------------------------ results */


static inline char **strv(size_t *n, int count, ...)
{
	va_list ap;
	char **v = calloc((size_t)count + 1, sizeof *v);
	va_start(ap, count);
	for (int i = 0; i < count; i++)
		v[i] = strdup(va_arg(ap, const char *));
	va_end(ap);
	*n = (size_t)count;
	return v;
}

static const char *const outcomes_cycle[] = {
	"ok", "ok", "ok", "ok", "ok", "cert_expired", "dns_error", "connect_refused", "ok",
	"hostname_mismatch", "client_cert_rejected", "ok", "handshake_timeout", "untrusted_root",
	"ok", "tls_alert", "client_cert_required",
};
#define N_OUTCOMES (sizeof outcomes_cycle / sizeof outcomes_cycle[0])
static const char *const profiles_cycle[] = { "modern", "intermediate", "legacy", "Java 8u161" };
static const char *const regions_cycle[] = { "eu-west", "us-east", "ap-south" };

static inline bool reached_tls(const char *o)
{
	return strcmp(o, "dns_error") && strcmp(o, "connect_refused") && strcmp(o, "handshake_timeout");
}

/* A synthetic result, varied by seq: every rollup counter gets exercised.
 * Freed with tlswatch__result__free_unpacked(r, NULL). */
static inline Tlswatch__Result *gen(uint64_t seq, int64_t base_ms, int ntargets)
{
	Tlswatch__Result *r = calloc(1, sizeof *r);
	tlswatch__result__init(r);
	char buf[128];
	r->has_seq = 1;
	r->seq = seq;
	r->probe_id = strdup("claimed-by-result");
	r->region = strdup("claimed-region");
	r->has_started_unix_ms = 1;
	r->started_unix_ms = base_ms + (int64_t)(seq % 7200) * 1000 + 7;
	snprintf(buf, sizeof buf, "t%d.example", (int)(seq % (uint64_t)ntargets));
	r->target = strdup(buf);
	r->port = seq % 11 == 0 ? 8443 : 443;
	if (seq % 7)
		r->sni = strdup(buf);
	r->address = strdup("127.0.0.1");
	r->profile = strdup(profiles_cycle[(seq / 3) % 4]);
	r->service = strdup(seq % 2 ? "web" : "api");
	const char *o = outcomes_cycle[seq % N_OUTCOMES];
	r->outcome = strdup(o);
	r->has_mtls = 1;
	r->mtls = seq % 5 == 0;
	size_t nf = 0;
	r->findings = calloc(3, sizeof *r->findings);
	if (seq % 3 == 0)
		r->findings[nf++] = strdup("cipher_fallback");
	if (seq % 4 == 0)
		r->findings[nf++] = strdup("expiring_soon");
	r->n_findings = nf;
	if (reached_tls(o)) {
		r->has_handshake_ms = 1;
		r->handshake_ms = (double)((seq * 37) % 12000) / 3.0;
	}
	if (reached_tls(o) && strncmp(o, "client_cert", 11) && strcmp(o, "tls_alert")) {
		r->tls_version = strdup(seq % 2 ? "TLSv1.3" : "TLSv1.2");
		r->cipher = strdup("TLS_AES_128_GCM_SHA256");
		r->has_ocsp_stapled = 1;
		r->ocsp_stapled = seq % 4 == 1;
		/* absent (an older probe), named, or not */
		r->has_ocsp_responder_named = seq % 3 != 2;
		r->ocsp_responder_named = seq % 5 != 0;
		r->has_sni_match = 1;
		r->sni_match = seq % 6 != 0;
		snprintf(buf, sizeof buf, "fp%02d", (int)(seq % 9));
		r->fingerprint_sha256 = strdup(buf);
		r->leaf_subject = strdup("CN=leaf");
		r->leaf_issuer = strdup("CN=int");
		r->has_cert_not_before = 1;
		r->cert_not_before = 1700000000;
		r->has_cert_not_after = 1;
		r->cert_not_after = 1800000000 + (int64_t)(seq % 9) * 86400;
		r->has_days_to_expiry = 1;
		r->days_to_expiry = 10.5 + (double)(seq % 50);
		r->has_chain_not_after_min = 1;
		r->chain_not_after_min = 1790000000 + (int64_t)(seq % 13) * 3600;
	}
	r->has_total_ms = 1;
	r->total_ms = 1.25 * (double)(seq % 100);
	return r;
}

static inline Tlswatch__Result **gen_batch(uint64_t first_seq, size_t n, int64_t base_ms, int ntargets)
{
	Tlswatch__Result **v = calloc(n, sizeof *v);
	for (size_t i = 0; i < n; i++)
		v[i] = gen(first_seq + i, base_ms, ntargets);
	return v;
}

static inline void free_batch(Tlswatch__Result **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		tlswatch__result__free_unpacked(v[i], NULL);
	free(v);
}

/* base time: the start of the current UTC hour minus one hour, so the
 * generated 2 hours of results stay inside today .. tomorrow. */
static inline int64_t base_ms_now(void)
{
	int64_t now = twtime_wall_ms();
	return now - now % 3600000 - 3600000;
}

/* ------------------------------------------------------------ ingest */

struct cbrec {
	int calls;
	bool ok;
	uint64_t max_seq;
	size_t inserted;
	char err[512];
};

static inline void on_ingest(void *arg, bool ok, uint64_t max_seq, size_t inserted, const char *err)
{
	struct cbrec *c = arg;
	c->calls++;
	c->ok = ok;
	c->max_seq = max_seq;
	c->inserted = inserted;
	snprintf(c->err, sizeof c->err, "%s", err ? err : "");
}

static inline bool cb_done(void *arg) { return ((struct cbrec *)arg)->calls > 0; }

static inline struct cbrec ingest_sync(struct event_base *b, struct db_pool *p, const char *probe,
				const char *region, Tlswatch__Result **v, size_t n)
{
	struct cbrec rec = { 0 };
	struct db_job *j = db_ingest(p, probe, region, "1.2.3", v, n, twtime_wall_ms(), on_ingest, &rec);
	cr_assert(j, "db_ingest refused: %s", strerror(errno));
	cr_assert(run_until(b, cb_done, &rec, 60), "ingest callback did not fire in 60 s");
	cr_assert_eq(rec.calls, 1);
	return rec;
}

/* Every rollup row equals what the raw rows say, per key, for one table.
 * Returns the number of mismatching keys (0 expected). */
static inline long long rollup_mismatches(PGconn *c, const char *table, const char *unit)
{
	long long bad = q_int(c,
		"WITH raw AS (SELECT date_trunc('%s', started_at) AS bucket, target, port, "
		"coalesce(sni, '') AS sni, region, profile, count(*) AS n, "
		"count(*) FILTER (WHERE outcome = 'ok') AS ok, count(tls_version) AS hs, "
		"count(handshake_ms) AS hc, coalesce(sum(handshake_ms), 0) AS hsum, "
		"count(*) FILTER (WHERE mtls) AS ma, "
		"count(*) FILTER (WHERE mtls AND outcome IN ('client_cert_required', 'client_cert_rejected')) AS mf, "
		"count(*) FILTER (WHERE tls_version IS NOT NULL AND ocsp_stapled) AS os, "
		"count(*) FILTER (WHERE 'cipher_fallback' = ANY (findings)) AS cf, "
		"count(*) FILTER (WHERE sni_match = false) AS sm, "
		"count(*) FILTER (WHERE 'expiring_soon' = ANY (findings)) AS es, "
		"count(*) FILTER (WHERE tls_version IS NOT NULL AND ocsp_responder_named = false) AS onr, "
		"min(days_to_expiry) AS md, min(chain_not_after_min) AS mc "
		"FROM results GROUP BY 1, 2, 3, 4, 5, 6) "
		"SELECT count(*) FROM raw FULL JOIN %s r USING (bucket, target, port, sni, region, profile) "
		"WHERE raw.n IS DISTINCT FROM r.attempts OR raw.ok IS DISTINCT FROM r.successes "
		"OR r.failures <> r.attempts - r.successes OR raw.hs IS DISTINCT FROM r.handshakes "
		"OR raw.hc IS DISTINCT FROM r.handshake_ms_count "
		"OR (SELECT sum(x) FROM unnest(r.handshake_ms_hist) x) IS DISTINCT FROM raw.hc "
		"OR array_length(r.handshake_ms_hist, 1) <> (SELECT count(*) FROM latency_buckets) "
		"OR abs(raw.hsum - r.handshake_ms_sum) > 1e-6 * greatest(1, raw.hsum) "
		"OR raw.ma IS DISTINCT FROM r.mtls_attempts OR raw.mf IS DISTINCT FROM r.mtls_failures "
		"OR raw.os IS DISTINCT FROM r.ocsp_stapled_count "
		"OR raw.cf IS DISTINCT FROM r.cipher_fallback_count "
		"OR raw.sm IS DISTINCT FROM r.sni_mismatch_count "
		"OR raw.es IS DISTINCT FROM r.expiring_soon_count "
		"OR raw.onr IS DISTINCT FROM r.ocsp_no_responder_count "
		"OR raw.md IS DISTINCT FROM r.min_days_to_expiry "
		"OR raw.mc IS DISTINCT FROM r.min_chain_not_after "
		"OR (SELECT sum(value::bigint) FROM jsonb_each_text(r.outcomes)) IS DISTINCT FROM r.attempts",
		unit, table);
	/* failures by outcome, one by one */
	bad += q_int(c,
		"WITH raw AS (SELECT date_trunc('%s', started_at) AS bucket, target, port, "
		"coalesce(sni, '') AS sni, region, profile, outcome, count(*) AS n FROM results "
		"GROUP BY 1, 2, 3, 4, 5, 6, 7), "
		"roll AS (SELECT bucket, target, port, sni, region, profile, e.key AS outcome, "
		"e.value::bigint AS n FROM %s, jsonb_each_text(outcomes) e) "
		"SELECT count(*) FROM raw FULL JOIN roll USING (bucket, target, port, sni, region, profile, outcome) "
		"WHERE raw.n IS DISTINCT FROM roll.n",
		unit, table);
	/* histogram bucket by bucket, against latency_buckets (not the function) */
	bad += q_int(c,
		"WITH raw AS (SELECT lb.idx, count(*) AS n FROM results r JOIN latency_buckets lb "
		"ON greatest(r.handshake_ms, 0) >= lb.lower_ms "
		"AND (lb.upper_ms IS NULL OR greatest(r.handshake_ms, 0) < lb.upper_ms) "
		"WHERE r.handshake_ms IS NOT NULL GROUP BY 1), "
		"roll AS (SELECT u.i AS idx, sum(u.x) AS n FROM %s, "
		"unnest(handshake_ms_hist) WITH ORDINALITY AS u(x, i) GROUP BY 1) "
		"SELECT count(*) FROM raw FULL JOIN roll USING (idx) "
		"WHERE coalesce(raw.n, 0) <> coalesce(roll.n, 0)",
		table);
	return bad;
}

/* The rollup_1m builder (sql/020_rollup_1m_builder.sql) run to the end, as
 * the leader runs it: a claim, then steps until nothing is claimed. */
static inline void build_minutes(PGconn *c)
{
	PGresult *r = PQexec(c, "SELECT tw_rollup_1m_claim()");
	cr_assert_eq(PQresultStatus(r), PGRES_TUPLES_OK, "claim: %s", PQresultErrorMessage(r));
	PQclear(r);
	for (;;) {
		r = PQexec(c, "SELECT tw_rollup_1m_step(7)");
		cr_assert_eq(PQresultStatus(r), PGRES_TUPLES_OK, "step: %s", PQresultErrorMessage(r));
		bool done = PQgetisnull(r, 0, 0);
		PQclear(r);
		if (done)
			break;
	}
}

/* Exact as readers see them before the builder ran (rollup_1m and the
 * tail), then row by row once it has: rollup_1m holds every row. */
static inline void expect_rollups_exact(PGconn *c)
{
	long long rows = q_int(c, "SELECT count(*) FROM results");
	cr_assert_eq(q_int(c, "SELECT coalesce(sum(attempts), 0) FROM "
			      "tw_rollup_1m_live('-infinity', 'infinity')"), rows,
		     "rollup_1m and the tail: attempts != rows");
	cr_assert_eq(q_int(c, "SELECT coalesce(sum(attempts), 0) FROM rollup_1h_live"), rows,
		     "rollup_1h_live and the tail: attempts != rows");
	build_minutes(c);
	cr_assert_eq(q_int(c, "SELECT count(*) FROM results WHERE ingest_batch > "
			      "(SELECT ready_batch FROM rollup_1m_state)"), 0, "rows left in the tail");
	cr_assert_eq(q_int(c, "SELECT coalesce(sum(attempts), 0) FROM rollup_1m"), rows,
		     "rollup_1m attempts != rows");
	cr_assert_eq(q_int(c, "SELECT coalesce(sum(attempts), 0) FROM rollup_1h_live"), rows,
		     "rollup_1h attempts != rows");
	cr_assert_eq(rollup_mismatches(c, "rollup_1m", "minute"), 0, "rollup_1m differs from results");
	cr_assert_eq(rollup_mismatches(c, "rollup_1h_live", "hour"), 0, "rollup_1h_live differs from results");
}


#endif
