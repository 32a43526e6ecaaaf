/*
 * dash_env.h - the seeded data set of the dashboard and Grafana tests
 * (test_dashboard.c, test_grafana.c): results with known outcomes per
 * region and profile, written through the real ingest statement (db_pool +
 * db_ingest, so results, rollups, certificates, sightings and probes agree
 * as they do in production), the targets table synced from them, and one
 * firing alert.
 *
 * Three regions (probe-eu/eu-west, probe-us/us-east, probe-ap/ap-south),
 * four profiles, one result per target x region x profile every 5 minutes
 * for the last DASH_STEPS x 5 minutes:
 *
 *   healthy.example   shop  every profile ok everywhere
 *   legacy.example    shop  profile "legacy" fails protocol_version in every
 *                           region (1 of 4 profiles locked out: 75 %), the
 *                           rest ok
 *   regional.example  api   everything ok but in ap-south, where every
 *                           profile fails connect_refused
 *   flappy.example    api   in eu-west the "modern" profile alternates ok and
 *                           handshake_timeout; everything else ok
 *   expiring.example  api   ok everywhere; its certificate expires in
 *                           DASH_EXPIRING_DAYS days (owner label team=payments),
 *                           and us-east is served another certificate (drift)
 *   DASH_HTML_TARGET  web   ok everywhere: a name with markup in it
 *
 * Plus a firing page alert cert_expiry_7d on expiring.example:443.
 * Fingerprints are DASH_FP_* below. Included by test files only.
 */
#ifndef TW_DASH_ENV_H
#define TW_DASH_ENV_H

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "pg_env.h"
#include "tlswatch.pb-c.h"
#include "twtime.h"

#define DASH_STEPS 10
#define DASH_EXPIRING_DAYS 5
#define DASH_HTML_TARGET "<script>alert(1)</script>.example"
#define DASH_FP_GOOD     "5e1f00d0c0ffee0000000000000000000000000000000000000000000000a001"
#define DASH_FP_EXPIRING "5e1f00d0c0ffee0000000000000000000000000000000000000000000000b002"
#define DASH_FP_DRIFT    "5e1f00d0c0ffee0000000000000000000000000000000000000000000000c003"

static const char *const dash_regions[3] = { "eu-west", "us-east", "ap-south" };
static const char *const dash_probes[3] = { "probe-eu", "probe-us", "probe-ap" };
static const char *const dash_profiles[4] = { "modern", "intermediate", "legacy", "Android 4.4.2" };

struct dash_target {
	const char *host, *service, *team;
};
static const struct dash_target dash_targets[] = {
	{ "healthy.example", "shop", "storefront" },
	{ "legacy.example", "shop", "storefront" },
	{ "regional.example", "api", "platform" },
	{ "flappy.example", "api", "platform" },
	{ "expiring.example", "api", "payments" },
	{ DASH_HTML_TARGET, "web", "<b>web</b>" },
};
#define DASH_NTARGETS (sizeof dash_targets / sizeof dash_targets[0])

/* The outcome the data set gives target t, region r, profile p at step s. */
static inline const char *dash_outcome(const char *host, int r, int p, int s)
{
	if (strcmp(host, "legacy.example") == 0 && strcmp(dash_profiles[p], "legacy") == 0)
		return "protocol_version";
	if (strcmp(host, "regional.example") == 0 && r == 2)
		return "connect_refused";
	if (strcmp(host, "flappy.example") == 0 && r == 0 && p == 0 && s % 2)
		return "handshake_timeout";
	return "ok";
}

static inline char *dash_dup(const char *s)
{
	char *d = strdup(s);
	cr_assert_not_null(d);
	return d;
}

static inline Tlswatch__Result *dash_result(uint64_t seq, int64_t started_ms,
					    const struct dash_target *t, int r, int p, int s)
{
	Tlswatch__Result *x = calloc(1, sizeof *x);
	cr_assert_not_null(x);
	tlswatch__result__init(x);
	x->has_seq = 1;
	x->seq = seq;
	x->has_started_unix_ms = 1;
	x->started_unix_ms = started_ms;
	x->target = dash_dup(t->host);
	x->port = 443;
	x->sni = dash_dup(t->host);
	x->address = dash_dup("192.0.2.10");
	x->profile = dash_dup(dash_profiles[p]);
	x->service = dash_dup(t->service);
	x->labels = calloc(2, sizeof *x->labels);
	cr_assert_not_null(x->labels);
	static const char *const keys[2] = { "team", "env" };
	const char *vals[2] = { t->team, "prod" };
	for (int i = 0; i < 2; i++) {
		x->labels[i] = calloc(1, sizeof *x->labels[i]);
		cr_assert_not_null(x->labels[i]);
		tlswatch__label__init(x->labels[i]);
		x->labels[i]->key = dash_dup(keys[i]);
		x->labels[i]->value = dash_dup(vals[i]);
	}
	x->n_labels = 2;
	x->has_interval_ms = 1;
	x->interval_ms = 300000;
	const char *o = dash_outcome(t->host, r, p, s);
	x->outcome = dash_dup(o);
	x->has_dns_ms = 1;
	x->dns_ms = 1.5;
	if (strcmp(o, "connect_refused") == 0) {
		x->alert = dash_dup("connect: Connection refused");
		x->has_total_ms = 1;
		x->total_ms = 2.0;
		return x;
	}
	x->has_connect_ms = 1;
	x->connect_ms = 10.0 + r * 20;
	if (strcmp(o, "handshake_timeout") == 0) {
		x->alert = dash_dup("no ServerHello within 5000 ms");
		x->has_handshake_ms = 1;
		x->handshake_ms = 5000;
		x->has_total_ms = 1;
		x->total_ms = 5012;
		return x;
	}
	/* every latency a known value: 20 ms + 10 per region + 5 per profile */
	x->has_handshake_ms = 1;
	x->handshake_ms = 20.0 + r * 10 + p * 5;
	x->has_total_ms = 1;
	x->total_ms = x->handshake_ms + x->connect_ms + x->dns_ms;
	if (strcmp(o, "protocol_version") == 0) {
		x->alert = dash_dup("tlsv1 alert protocol version (alert 70)");
		return x;
	}
	bool legacy = strcmp(dash_profiles[p], "legacy") == 0 || p == 3;
	x->tls_version = dash_dup(legacy ? "TLSv1.2" : "TLSv1.3");
	x->cipher = dash_dup(legacy ? "ECDHE-RSA-AES128-SHA" : "TLS_AES_256_GCM_SHA384");
	x->cipher_iana = dash_dup(legacy ? "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA"
				     : "TLS_AES_256_GCM_SHA384");
	x->group = dash_dup("x25519");
	x->has_ocsp_stapled = 1;
	x->ocsp_stapled = r != 1;
	x->has_sni_match = 1;
	x->sni_match = 1;
	int64_t now_s = twtime_wall_ms() / 1000;
	bool expiring = strcmp(t->host, "expiring.example") == 0;
	bool drift = expiring && r == 1;
	int64_t not_after = expiring && !drift ? now_s + DASH_EXPIRING_DAYS * 86400 + 3600
				    : now_s + 200 * 86400;
	x->fingerprint_sha256 = dash_dup(drift ? DASH_FP_DRIFT : expiring ? DASH_FP_EXPIRING
				     : DASH_FP_GOOD);
	char subj[300];
	snprintf(subj, sizeof subj, "CN=%s", expiring ? "expiring.example" : "*.example");
	x->leaf_subject = dash_dup(subj);
	x->leaf_issuer = dash_dup(drift ? "CN=Other CA" : "CN=Seed CA");
	x->leaf_key = dash_dup("EC-P-256");
	x->leaf_sig_alg = dash_dup("ecdsa-with-SHA256");
	x->has_cert_not_before = 1;
	x->cert_not_before = now_s - 60 * 86400;
	x->has_cert_not_after = 1;
	x->cert_not_after = not_after;
	x->has_days_to_expiry = 1;
	x->days_to_expiry = (double)(not_after - now_s) / 86400.0;
	x->has_chain_not_after_min = 1;
	x->chain_not_after_min = not_after;
	x->has_chain_len = 1;
	x->chain_len = 2;
	if (expiring && !drift) {
		x->findings = calloc(1, sizeof *x->findings);
		cr_assert_not_null(x->findings);
		x->findings[0] = dash_dup("expiring_soon");
		x->n_findings = 1;
	}
	return x;
}

struct dash_ingest_rec {
	int calls;
	bool ok;
	char err[512];
};

static inline void dash_on_ingest(void *arg, bool ok, uint64_t max_seq, size_t inserted,
				  const char *err)
{
	struct dash_ingest_rec *c = arg;
	c->calls++;
	c->ok = ok;
	snprintf(c->err, sizeof c->err, "%s", err ? err : "");
}

static inline bool dash_ingest_done(void *arg)
{
	return ((struct dash_ingest_rec *)arg)->calls > 0;
}

/* Seeds the data set above into the (migrated) database at conninfo. */
static inline void dash_seed(const char *conninfo)
{
	struct event_base *base = event_base_new();
	cr_assert_not_null(base);
	char err[256] = "";
	struct db_opts o = { .conninfo = conninfo, .connections = 1 };
	struct db_pool *pool = db_pool_new(base, &o, err, sizeof err);
	cr_assert(pool, "db_pool_new: %s", err);
	cr_assert(run_until(base, (bool (*)(void *))db_is_ready, pool, 30), "pool not ready in 30 s");
	int64_t now_ms = twtime_wall_ms();
	for (int r = 0; r < 3; r++) {
		size_t n = DASH_NTARGETS * 4 * DASH_STEPS, k = 0;
		Tlswatch__Result **v = calloc(n, sizeof *v);
		cr_assert_not_null(v);
		for (size_t t = 0; t < DASH_NTARGETS; t++)
			for (int p = 0; p < 4; p++)
				for (int s = 0; s < DASH_STEPS; s++) {
					/* step 0 is the newest; a few seconds apart per profile */
					int64_t at = now_ms - (int64_t)s * 300000 - 60000 - p * 3000 -
						     (int64_t)t * 500;
					v[k] = dash_result(k + 1, at, &dash_targets[t], r, p, s);
					k++;
				}
		struct dash_ingest_rec rec = { 0 };
		struct db_job *j = db_ingest(pool, dash_probes[r], dash_regions[r], "1.0.0-seed", v, n,
					     now_ms, dash_on_ingest, &rec);
		cr_assert_not_null(j, "db_ingest refused");
		cr_assert(run_until(base, dash_ingest_done, &rec, 60), "ingest did not finish in 60 s");
		cr_assert(rec.ok, "ingest failed: %s", rec.err);
		for (size_t i = 0; i < n; i++)
			tlswatch__result__free_unpacked(v[i], NULL);
		free(v);
	}
	db_pool_free(pool);
	event_base_free(base);

	PGconn *c = PQconnectdb(conninfo);
	cr_assert_eq(PQstatus(c), CONNECTION_OK, "%s", PQerrorMessage(c));
	exec_ok(c, "SELECT tw_sync_targets(now() - interval '1 day', now() + interval '1 hour')");
	exec_ok(c, "INSERT INTO alerts (dedup_key, rule, severity, state, subject, service, "
		"region_group, labels, summary, created_at, pending_since, firing_since, "
		"last_eval_at, target) VALUES ('cert_expiry_7d|expiring.example:443', "
		"'cert_expiry_7d', 'page', 'firing', 'expiring.example:443', 'api', 'all', "
		"'{\"team\": \"payments\"}', 'the certificate of expiring.example:443 expires in "
		"%d days', now() - interval '20 minutes', now() - interval '20 minutes', "
		"now() - interval '15 minutes', now(), 'expiring.example:443')",
		DASH_EXPIRING_DAYS);
	PQfinish(c);
}

#endif
