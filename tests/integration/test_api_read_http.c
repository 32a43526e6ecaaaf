/*
 * test_api_read_http.c - GET /api/v1/slis, /slos, /alerts, /alerts/{id},
 * /certificates and /probes of a live `tlswatch-collector run`
 * (fixture test_api_read_http.sh) on rows seeded here: the figures the seed
 * implies, every filter, the 400s naming the parameter, 404 and 405, keyset
 * pages. Every answer is recorded and checked against openapi.json by the
 * fixture. Criterion runs tests in parallel: each uses its own service,
 * target and probe names. Maintenance windows: test_api_maint.c.
 */
#define _GNU_SOURCE
#include "api_http_env.h"

#include <math.h>

TestSuite(api_http, .timeout = 120);

/* rollup_1m rows of one series for the minutes now-29m .. now-10m: a
 * attempts and f failures each minute, every success timed in the
 * 10-20 ms bucket (5), stapled when staple. */
static void seed_minutes(PGconn *c, const char *target, const char *region, const char *profile,
			 const char *service, int a, int f, bool staple)
{
	sql(c, "INSERT INTO rollup_1m (bucket, target, port, sni, region, profile, service, attempts, "
	       "successes, failures, outcomes, handshakes, handshake_ms_hist, handshake_ms_sum, "
	       "handshake_ms_count, mtls_attempts, mtls_failures, ocsp_stapled_count, "
	       "cipher_fallback_count, sni_mismatch_count, expiring_soon_count, min_days_to_expiry) "
	       "SELECT date_trunc('minute', now()) - k * interval '1 minute', '%s', 443, '', '%s', '%s', "
	       "'%s', %d, %d, %d, '{}', %d, array_fill(0::bigint, ARRAY[4]) || ARRAY[%d::bigint] || "
	       "array_fill(0::bigint, ARRAY[15]), %d * 15.0, %d, 0, 0, %d, 0, 0, 0, 40 + k "
	       "FROM generate_series(10, 29) k",
	    target, region, profile, service, a, a - f, f, a - f, a - f, a - f, a - f, staple ? a - f : 0);
}

Test(api_http, slis_group_filter_and_figures)
{
	PGconn *c = db();
	seed_minutes(c, "sli-a.example", "eu", "modern", "svc-sli", 10, 2, true);
	seed_minutes(c, "sli-a.example", "us", "modern", "svc-sli", 10, 0, false);
	seed_minutes(c, "sli-b.example", "eu", "legacy", "svc-sli", 5, 5, false);
	sql(c, "INSERT INTO targets VALUES ('sli-a.example', 443, '', 'svc-sli', '{\"team\":\"pay\"}', now(), now()), "
	       "('sli-b.example', 443, '', 'svc-sli', '{\"team\":\"web\"}', now(), now())");

	struct answer a = GET("/api/v1/slis", "/api/v1/slis?window=1h&group_by=region&service=svc-sli");
	cr_assert_eq(a.status, 200);
	cr_assert_str_eq(jstr(a.body, "window"), "1h");
	cr_assert_str_eq(jstr(a.body, "group_by"), "region");
	json_t *it = items(&a);
	cr_assert_eq(json_array_size(it), 2);
	json_t *eu = json_array_get(it, 0), *us = json_array_get(it, 1);
	cr_assert_str_eq(jstr(eu, "group"), "eu");
	cr_assert_eq((int)jnum(eu, "attempts"), 20 * 15);
	cr_assert_eq((int)jnum(eu, "failures"), 20 * 7);
	cr_assert_float_eq(jnum(eu, "success_rate"), 160.0 / 300, 1e-9);
	/* every timed handshake in [10, 20): p95 inside it */
	cr_assert(jnum(eu, "p95_ms") >= 10 && jnum(eu, "p95_ms") <= 20);
	cr_assert_float_eq(jnum(eu, "ocsp_stapling_rate"), 160.0 / 160, 1e-9);
	cr_assert(jnull(eu, "mtls_failure_rate"), "no mTLS attempts: null, not 0");
	cr_assert_float_eq(jnum(eu, "min_days_to_expiry"), 50, 1e-9);
	cr_assert_eq((int)jnum(us, "failures"), 0);
	cr_assert_float_eq(jnum(us, "success_rate"), 1, 1e-9);
	cr_assert_float_eq(jnum(us, "ocsp_stapling_rate"), 0, 1e-9);
	json_decref(a.body);

	/* filters: target with port, profile, label; no group */
	a = GET("/api/v1/slis", "/api/v1/slis?target=sli-a.example:443&region=eu");
	cr_assert_eq(a.status, 200);
	cr_assert(jnull(a.body, "group_by"));
	cr_assert_eq(json_array_size(items(&a)), 1);
	cr_assert_eq((int)jnum(json_array_get(items(&a), 0), "attempts"), 200);
	json_decref(a.body);
	a = GET("/api/v1/slis", "/api/v1/slis?service=svc-sli&profile=legacy&group_by=target");
	cr_assert_eq(json_array_size(items(&a)), 1);
	cr_assert_str_eq(jstr(json_array_get(items(&a), 0), "group"), "sli-b.example:443");
	cr_assert_float_eq(jnum(json_array_get(items(&a), 0), "success_rate"), 0, 1e-9);
	cr_assert(jnull(json_array_get(items(&a), 0), "p95_ms"), "nothing timed: no percentile");
	json_decref(a.body);
	a = GET("/api/v1/slis", "/api/v1/slis?service=svc-sli&label=team:web&group_by=service");
	cr_assert_eq(json_array_size(items(&a)), 1);
	cr_assert_eq((int)jnum(json_array_get(items(&a), 0), "attempts"), 100);
	json_decref(a.body);
	/* a window that ends before the seed: no items (no data is not 0 %) */
	a = GET("/api/v1/slis", "/api/v1/slis?service=svc-sli&window=5m");
	cr_assert_eq(a.status, 200);
	cr_assert_eq(json_array_size(items(&a)), 0);
	json_decref(a.body);

	/* every 400 names its parameter */
	bad(GET("/api/v1/slis", "/api/v1/slis?window=1y"), 400, "window");
	bad(GET("/api/v1/slis", "/api/v1/slis?window=1m"), 400, "window");
	bad(GET("/api/v1/slis", "/api/v1/slis?group_by=planet"), 400, "group_by");
	bad(GET("/api/v1/slis", "/api/v1/slis?label=nocolon"), 400, "label");
	bad(GET("/api/v1/slis", "/api/v1/slis?region="), 400, "region");
	bad(GET("/api/v1/slis", "/api/v1/slis?target=a%%20b:99999"), 400, "target");
	bad(GET("/api/v1/slis", "/api/v1/slis?servce=x"), 400, "servce");
	bad(GET("/api/v1/slis", "/api/v1/slis?window=1h&window=2h"), 400, "window");
	/* 405 (not recorded: the contract declares no POST here) */
	bad(call("POST", NULL, NULL, "{}", "/api/v1/slis"), 405, NULL);
	PQfinish(c);
}

/* The SLOs of the fixture's file: api-shop has 20 minutes of 5 attempts
 * with 1 failure in [now-30m, now-10m); api-ghost selects nothing. */
Test(api_http, slos_attainment_budget_burn_rates)
{
	PGconn *c = db();
	seed_minutes(c, "slo-a.example", "eu", "modern", "svc-slo", 5, 1, false);
	struct answer a = GET("/api/v1/slos", "/api/v1/slos");
	cr_assert_eq(a.status, 200);
	json_t *it = items(&a);
	cr_assert_eq(json_array_size(it), 2);
	json_t *s = json_array_get(it, 0);
	cr_assert_str_eq(jstr(s, "name"), "api-shop");
	cr_assert_str_eq(jstr(s, "sli"), "availability");
	cr_assert_str_eq(jstr(s, "window"), "1h");
	cr_assert_float_eq(jnum(s, "objective"), 0.99, 1e-12);
	cr_assert_str_eq(jstr(json_object_get(s, "selector"), "service"), "svc-slo");
	cr_assert_eq((int)jnum(s, "events"), 100);
	cr_assert_eq((int)jnum(s, "good"), 80);
	cr_assert_float_eq(jnum(s, "attainment"), 0.8, 1e-9);
	/* 1 - 20 / (0.01 x 100) */
	cr_assert_float_eq(jnum(s, "error_budget_remaining"), -19, 1e-9);
	json_t *br = json_object_get(s, "burn_rates");
	cr_assert_str_eq(jstr(json_array_get(br, 0), "window"), "5m");
	cr_assert(jnull(json_array_get(br, 0), "burn_rate"), "no data in the last 5m: null");
	cr_assert_eq((int)jnum(json_array_get(br, 0), "events"), 0);
	bool saw30 = false;
	for (size_t i = 0; i < json_array_size(br); i++) {
		json_t *x = json_array_get(br, i);
		if (!strcmp(jstr(x, "window"), "30m")) {
			saw30 = true;
			cr_assert_float_eq(jnum(x, "burn_rate"), 20, 1e-9);
		}
	}
	cr_assert(saw30);
	json_t *ru = json_array_get(json_object_get(s, "rules"), 0);
	cr_assert_str_eq(jstr(ru, "long_window"), "1h");
	cr_assert_float_eq(jnum(ru, "long_burn_rate"), 20, 1e-9);
	cr_assert(jnull(ru, "short_burn_rate"));
	json_t *g = json_array_get(it, 1);
	cr_assert_str_eq(jstr(g, "name"), "api-ghost");
	cr_assert_str_eq(jstr(g, "sli"), "latency");
	cr_assert_float_eq(jnum(g, "threshold_ms"), 300, 1e-9);
	cr_assert(jnull(g, "attainment"));
	cr_assert(jnull(g, "error_budget_remaining"));
	json_decref(a.body);
	bad(GET("/api/v1/slos", "/api/v1/slos?window=1h"), 400, "window");
	PQfinish(c);
}

/* Six alerts of service svc-alerts: ids a..a+5, last change 6..1 minutes
 * ago; the fourth resolved, the others firing; the second in region eu. */
Test(api_http, alerts_list_pages_filters_and_detail)
{
	PGconn *c = db();
	sql(c, "INSERT INTO alerts (dedup_key, rule, severity, state, subject, service, region_group, summary, "
	       "created_at, pending_since, firing_since, resolved_at, last_eval_at) "
	       "SELECT 'api-http-' || i, 'api_test_rule', 'ticket', CASE WHEN i = 4 THEN 'resolved' ELSE 'firing' END, "
	       "'sub' || i, 'svc-alerts', CASE WHEN i = 2 THEN 'eu' ELSE 'all' END, 'alert ' || i, t, t, t, "
	       "CASE WHEN i = 4 THEN t END, t FROM (SELECT i, now() - (7 - i) * interval '1 minute' AS t "
	       "FROM generate_series(1, 6) i) x");
	PGresult *r = PQexec(c, "SELECT min(id) FROM alerts WHERE service = 'svc-alerts'");
	long long first = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	PQclear(r);
	sql(c, "INSERT INTO alert_events (alert_id, at, from_state, to_state) VALUES (%lld, now(), NULL, 'firing')",
	    first);
	sql(c, "INSERT INTO notification_outbox (alert_id, event_id, action, severity, dedup_key, payload) "
	       "SELECT %lld, max(id), 'trigger', 'ticket', 'api-http-1', '{}' FROM alert_events WHERE alert_id = %lld",
	    first, first);
	sql(c, "INSERT INTO notification_deliveries (outbox_id, sink, idempotency_key, state, attempts, last_status, "
	       "last_error) SELECT max(id), 'hook', 'api-http-idem', 'pending', 2, 503, 'Service Unavailable' "
	       "FROM notification_outbox WHERE alert_id = %lld", first);

	/* firing (the default), pages of 2 newest first: 6, 5 | 3, 2 | 1 */
	long long want[] = { first + 5, first + 4, first + 2, first + 1, first };
	char cursor[512] = "";
	size_t seen = 0;
	for (int page = 0; page < 5; page++) {
		struct answer a = GET("/api/v1/alerts", "/api/v1/alerts?service=svc-alerts&limit=2%s%s",
				      cursor[0] ? "&cursor=" : "", cursor);
		cr_assert_eq(a.status, 200);
		json_t *it = items(&a);
		for (size_t i = 0; i < json_array_size(it); i++, seen++) {
			cr_assert_lt(seen, 5);
			cr_assert_eq((long long)jnum(json_array_get(it, i), "id"), want[seen]);
		}
		json_t *nc = json_object_get(a.body, "next_cursor");
		bool last = json_is_null(nc);
		if (!last)
			snprintf(cursor, sizeof cursor, "%s", json_string_value(nc));
		json_decref(a.body);
		if (last)
			break;
	}
	cr_assert_eq(seen, 5);

	struct answer a = GET("/api/v1/alerts", "/api/v1/alerts?service=svc-alerts&state=all");
	cr_assert_eq(json_array_size(items(&a)), 6);
	json_decref(a.body);
	a = GET("/api/v1/alerts", "/api/v1/alerts?service=svc-alerts&state=resolved");
	cr_assert_eq(json_array_size(items(&a)), 1);
	cr_assert_eq((long long)jnum(json_array_get(items(&a), 0), "id"), first + 3);
	json_decref(a.body);
	a = GET("/api/v1/alerts", "/api/v1/alerts?service=svc-alerts&region=eu");
	cr_assert_eq(json_array_size(items(&a)), 1);
	cr_assert_eq((long long)jnum(json_array_get(items(&a), 0), "id"), first + 1);
	json_decref(a.body);
	/* since: the last 2.5 minutes hold the changes of 5 and 6 */
	char since[64];
	r = PQexec(c, "SELECT (extract(epoch FROM now() - interval '150 seconds') * 1000)::bigint");
	snprintf(since, sizeof since, "%s", PQgetvalue(r, 0, 0));
	PQclear(r);
	a = GET("/api/v1/alerts", "/api/v1/alerts?service=svc-alerts&since=%s", since);
	cr_assert_eq(json_array_size(items(&a)), 2);
	json_decref(a.body);

	a = GET("/api/v1/alerts/{id}", "/api/v1/alerts/%lld", first);
	cr_assert_eq(a.status, 200);
	cr_assert_str_eq(jstr(a.body, "summary"), "alert 1");
	cr_assert_eq(json_array_size(json_object_get(a.body, "events")), 1);
	json_t *d = json_array_get(json_object_get(a.body, "deliveries"), 0);
	cr_assert_str_eq(jstr(d, "sink"), "hook");
	cr_assert_eq((int)jnum(d, "attempts"), 2);
	cr_assert_eq((int)jnum(d, "last_status"), 503);
	cr_assert_str_eq(jstr(d, "last_error"), "Service Unavailable");
	json_decref(a.body);

	bad(GET("/api/v1/alerts/{id}", "/api/v1/alerts/999999999"), 404, NULL);
	bad(GET("/api/v1/alerts/{id}", "/api/v1/alerts/abc"), 400, "id");
	bad(GET("/api/v1/alerts", "/api/v1/alerts?state=burning"), 400, "state");
	bad(GET("/api/v1/alerts", "/api/v1/alerts?since=yesterday"), 400, "since");
	bad(GET("/api/v1/alerts", "/api/v1/alerts?limit=0"), 400, "limit");
	bad(GET("/api/v1/alerts", "/api/v1/alerts?limit=1001"), 400, "limit");
	bad(GET("/api/v1/alerts", "/api/v1/alerts?cursor=zzz"), 400, "cursor");
	bad(call("DELETE", NULL, NULL, NULL, "/api/v1/alerts/%lld", first), 405, NULL);
	PQfinish(c);
}

Test(api_http, certificates_filters_sightings_pages)
{
	PGconn *c = db();
	sql(c, "INSERT INTO certificates (fingerprint_sha256, subject, sans, issuer, not_before, not_after, key, "
	       "sig_alg, first_seen) SELECT fp, 'CN=' || fp, ARRAY['x.example'], 'CN=Api2 Test CA', now() - interval '90 days', "
	       "now() + d * interval '1 day', 'RSA-2048', 'sha256WithRSAEncryption', now() - interval '2 days' "
	       "FROM (VALUES ('c0ffee01', 3), ('c0ffee02', 12), ('c0ffee03', 60)) v(fp, d)");
	sql(c, "INSERT INTO targets VALUES ('cert-a.example', 443, '', 'svc-certs', '{\"team\":\"tls\"}', now(), now())");
	sql(c, "INSERT INTO certificate_sightings VALUES ('c0ffee01', 'cert-a.example', 443, 'eu', now() - interval '1 day', now()), "
	       "('c0ffee01', 'cert-a.example', 443, 'us', now() - interval '1 day', now()), "
	       "('c0ffee03', 'cert-a.example', 443, 'eu', now() - interval '1 day', now())");
	struct answer a = GET("/api/v1/certificates",
			      "/api/v1/certificates?issuer=API2%%20test&expiring_within=30d");
	cr_assert_eq(a.status, 200);
	json_t *it = items(&a);
	cr_assert_eq(json_array_size(it), 2);
	json_t *c1 = json_array_get(it, 0);
	cr_assert_str_eq(jstr(c1, "fingerprint_sha256"), "c0ffee01");
	cr_assert(fabs(jnum(c1, "days_left") - 3) < 0.01);
	json_t *si = json_object_get(c1, "sightings");
	cr_assert_eq(json_array_size(si), 2);
	cr_assert_str_eq(jstr(json_array_get(si, 0), "target"), "cert-a.example:443");
	cr_assert_str_eq(jstr(json_array_get(si, 0), "service"), "svc-certs");
	cr_assert_str_eq(jstr(json_array_get(it, 1), "fingerprint_sha256"), "c0ffee02");
	cr_assert_eq(json_array_size(json_object_get(json_array_get(it, 1), "sightings")), 0);
	json_decref(a.body);
	/* service: only what its targets served */
	a = GET("/api/v1/certificates", "/api/v1/certificates?service=svc-certs");
	cr_assert_eq(json_array_size(items(&a)), 2);
	json_decref(a.body);
	/* pages of 1 */
	a = GET("/api/v1/certificates", "/api/v1/certificates?issuer=api2%%20test%%20ca&limit=1");
	cr_assert_eq(json_array_size(items(&a)), 1);
	char cur[256];
	snprintf(cur, sizeof cur, "%s", jstr(a.body, "next_cursor"));
	json_decref(a.body);
	a = GET("/api/v1/certificates", "/api/v1/certificates?issuer=api2%%20test%%20ca&limit=1&cursor=%s", cur);
	cr_assert_str_eq(jstr(json_array_get(items(&a), 0), "fingerprint_sha256"), "c0ffee02");
	json_decref(a.body);
	bad(GET("/api/v1/certificates", "/api/v1/certificates?expiring_within=soon"), 400, "expiring_within");
	bad(GET("/api/v1/certificates", "/api/v1/certificates?cursor=x"), 400, "cursor");
	PQfinish(c);
}

Test(api_http, probes_figures_and_silence)
{
	PGconn *c = db();
	sql(c, "INSERT INTO probes (probe_id, region, version, first_seen, last_seen, last_seq, clock_offset_ms, "
	       "spool_records, spool_bytes, dropped_total, overdue_total, counters_at, dropped_at) VALUES "
	       "('api-p-fresh', 'eu', '0.9', now() - interval '1 day', now(), 10, -3.5, 2, 512, 0, 1, now(), NULL), "
	       "('api-p-silent', 'us', '0.9', now() - interval '1 day', now() - interval '1 hour', 10, 0, 0, 0, 4, 0, "
	       "now() - interval '1 hour', now() - interval '1 hour')");
	struct answer a = GET("/api/v1/probes", "/api/v1/probes");
	cr_assert_eq(a.status, 200);
	json_t *fresh = NULL, *silent = NULL;
	for (size_t i = 0; i < json_array_size(items(&a)); i++) {
		json_t *p = json_array_get(items(&a), i);
		if (!strcmp(jstr(p, "probe_id"), "api-p-fresh"))
			fresh = p;
		if (!strcmp(jstr(p, "probe_id"), "api-p-silent"))
			silent = p;
	}
	cr_assert(fresh && silent);
	cr_assert(json_is_false(json_object_get(fresh, "silent")));
	cr_assert(json_is_true(json_object_get(silent, "silent")));
	cr_assert_float_eq(jnum(fresh, "clock_offset_ms"), -3.5, 1e-9);
	cr_assert_eq((int)jnum(fresh, "spool_bytes"), 512);
	cr_assert_eq((int)jnum(silent, "dropped"), 4);
	cr_assert(jnull(fresh, "dropped_at"));
	json_decref(a.body);
	bad(GET("/api/v1/probes", "/api/v1/probes?region=eu"), 400, "region");
	PQfinish(c);
}
