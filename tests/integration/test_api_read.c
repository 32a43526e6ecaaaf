/*
 * test_api_read.c - the store side of the API's SLI, SLO, alert,
 * certificate, probe and maintenance endpoints (collector/store_*.c)
 * against seeded rows in a real PostgreSQL (fixture test_api_read.sh, the
 * test_burn one): each statement runs as the API runs it (parameters, no
 * literals) and its JSON carries the figures the seed implies. The same
 * reads over HTTP, with their 400s and auth: test_api_read_http.c.
 */
#define _GNU_SOURCE
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <jansson.h>
#include <libpq-fe.h>

#include "burn_env.h"
#include "store_alerts.h"
#include "store_certs.h"
#include "store_maint.h"
#include "store_probes.h"
#include "store_sli.h"
#include "store_slo.h"

TestSuite(api_read, .timeout = 300);

static PGresult *run(PGconn *c, struct store_stmt *st)
{
	cr_assert_not(store_stmt_failed(st));
	PGresult *r = PQexecParams(c, st->sql.p, st->p.n, NULL, (const char *const *)st->p.v, NULL,
				   NULL, 0);
	cr_assert(PQresultStatus(r) == PGRES_TUPLES_OK, "%s: %s", st->sql.p, PQresultErrorMessage(r));
	store_stmt_free(st);
	return r;
}

static json_t *item(json_t *list, size_t i)
{
	json_t *x = json_array_get(json_object_get(list, "items"), i);
	cr_assert_not_null(x, "no item %zu", i);
	return x;
}

static double num(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);
	cr_assert(json_is_number(v), "%s is not a number", k);
	return json_number_value(v);
}

static const char *str(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);
	cr_assert(json_is_string(v), "%s is not a string", k);
	return json_string_value(v);
}

static void is_null(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);
	cr_assert(v && json_is_null(v), "%s is not null", k);
}

/* ------------------------------------------------------------ SLIs */

/* The endpoint's figures are sli_query's (one definition), grouped and
 * filtered; ratios without a denominator are null, not 0. */
Test(api_read, slis_match_sli_query_and_nulls_are_null)
{
	PGconn *c = new_db("api_sli");
	gen(c, "a.example", "eu", "shop", -300, 300, PAT_A, PAT_F, NULL);
	gen(c, "a.example", "us", "shop", -300, 300, PAT_A, "0", NULL);
	gen(c, "b.example", "eu", "blog", -300, 300, "5", "1", NULL);
	rebuild_1h(c);
	exec_ok(c, "INSERT INTO targets VALUES ('a.example', 443, '', 'shop', '{\"team\":\"pay\"}', now(), now()), "
		   "('b.example', 443, '', 'blog', '{\"team\":\"web\"}', now(), now())");

	struct store_sli_req rq = { .now_ms = T0 + 130 * MIN_MS, .window_ms = 200 * MIN_MS,
				    .window = "200m", .group = SLI_GROUP_REGION,
				    .sel = { .service = "shop" } };
	struct store_stmt st = { 0 };
	store_sli_stmt(&rq, &st);
	for (int i = 0; i < st.p.n; i++)
		cr_assert(!strstr(st.sql.p, "'shop'"), "a value became a literal");
	PGresult *r = run(c, &st);
	char err[256];
	json_t *j = store_sli_json(&rq, r, err, sizeof err);
	cr_assert_not_null(j, "%s", err);
	PQclear(r);

	struct sli_window w = { T0 - 70 * MIN_MS, T0 + 130 * MIN_MS };
	struct sli_values *v;
	size_t n;
	cr_assert_eq(sli_query(c, &rq.sel, &w, SLI_GROUP_REGION, &v, &n, err, sizeof err), 0, "%s", err);
	cr_assert_eq(n, 2);
	cr_assert_eq(json_array_size(json_object_get(j, "items")), 2);
	cr_assert_str_eq(str(j, "group_by"), "region");
	cr_assert_str_eq(str(j, "from"), "2026-03-01T22:50:00.000Z");
	cr_assert_str_eq(str(j, "to"), "2026-03-02T02:10:00.000Z");
	long want_a = 0, want_f = 0;
	for (long m = -70; m < 130; m++) {
		want_a += pat_a(m);
		want_f += pat_f(m);
	}
	for (size_t i = 0; i < n; i++) {
		json_t *x = item(j, i);
		cr_assert_str_eq(str(x, "group"), v[i].group);
		cr_assert_eq((long)num(x, "attempts"), want_a);
		cr_assert_eq((uint64_t)num(x, "failures"), v[i].failures);
		cr_assert_float_eq(num(x, "success_rate"), v[i].success_rate, EPS);
		cr_assert_float_eq(num(x, "p95_ms"), v[i].p95_ms, EPS);
		/* no mTLS target: no rate, not 0 */
		is_null(x, "mtls_failure_rate");
		is_null(x, "min_days_to_expiry");
		is_null(x, "min_chain_not_after");
		json_t *h = json_object_get(x, "latency_histogram");
		cr_assert_eq(json_array_size(h), SLI_LATENCY_BUCKETS);
		cr_assert_eq((long)num(json_array_get(h, 4), "count"), (long)v[i].hist[4]);
		is_null(json_array_get(h, SLI_LATENCY_BUCKETS - 1), "upper_ms");
	}
	cr_assert_eq((long)num(item(j, 0), "failures"), want_f, "eu fails PAT_F");
	cr_assert_eq((long)num(item(j, 1), "failures"), 0, "us never fails");
	sli_values_free(v, n);
	json_decref(j);

	/* a label filter and no group; a selector matching nothing: no items */
	char *keys[] = { "team" }, *vals[] = { "web" };
	struct store_sli_req r2 = { .now_ms = T0 + 130 * MIN_MS, .window_ms = 200 * MIN_MS, .window = "200m",
				    .sel = { .label_keys = keys, .label_values = vals, .nlabels = 1 } };
	store_sli_stmt(&r2, &st);
	r = run(c, &st);
	j = store_sli_json(&r2, r, err, sizeof err);
	PQclear(r);
	cr_assert_eq(json_array_size(json_object_get(j, "items")), 1);
	cr_assert_eq((long)num(item(j, 0), "attempts"), 5 * 200);
	cr_assert_eq((long)num(item(j, 0), "failures"), 200);
	is_null(item(j, 0), "group");
	is_null(j, "group_by");
	json_decref(j);
	r2.sel.service = "nosuch";
	store_sli_stmt(&r2, &st);
	r = run(c, &st);
	j = store_sli_json(&r2, r, err, sizeof err);
	PQclear(r);
	cr_assert_eq(json_array_size(json_object_get(j, "items")), 0);
	json_decref(j);
	PQfinish(c);
}

/* ------------------------------------------------------------ SLOs */

static json_t *slo_status(PGconn *c, const struct slo_config *cfg, int64_t now)
{
	struct store_slo_run *run_ = store_slo_new(cfg, now, 0);
	cr_assert_not_null(run_);
	struct store_stmt st = { 0 };
	int rc, steps = 0;
	char err[256];
	while ((rc = store_slo_next(run_, &st)) == 1) {
		PGresult *r = run(c, &st);
		cr_assert_eq(store_slo_feed(run_, r, err, sizeof err), 0, "%s", err);
		PQclear(r);
		steps++;
	}
	cr_assert_eq(rc, 0);
	json_t *j = store_slo_json(run_);
	store_slo_free(run_);
	cr_assert_not_null(j);
	return j;
}

/* Attainment, budget and burn rates agree with the evaluator's own
 * (burn_evaluate); an SLO with no data has null figures, never 0 or 100 %;
 * a firing alert of a rule shows. */
Test(api_read, slos_agree_with_the_evaluator_and_no_data_is_null)
{
	PGconn *c = new_db("api_slo");
	gen(c, "a.example", "eu", "shop", -600, 0, PAT_A, PAT_F, NULL);
	rebuild_1h(c);
	struct slo_config *cfg = cfg_of("slos:\n"
					"  - name: shop-avail\n    sli: availability\n    objective: 99\n"
					"    window: 6h\n    selector: {service: shop}\n"
					"  - name: ghost\n    sli: availability\n    objective: 99.9\n"
					"    window: 1d\n    selector: {service: nosuch}\n");
	int64_t now = T0;
	struct burn_eval *be;
	char err[256];
	cr_assert_eq(burn_evaluate(c, cfg, now, 0, &be, err, sizeof err), 0, "%s", err);
	const struct burn_status *bs = status_named(be, "shop-avail", NULL);

	exec_ok(c, "INSERT INTO alerts (dedup_key, rule, severity, state, subject, summary, created_at, "
		   "pending_since, firing_since, last_eval_at) VALUES ('k1', 'slo_burn_slow', 'page', "
		   "'firing', 'shop-avail', 's', now(), now(), now(), now())");
	json_t *j = slo_status(c, cfg, now);
	cr_assert_eq(json_array_size(json_object_get(j, "items")), 2);
	json_t *x = item(j, 0);
	cr_assert_str_eq(str(x, "name"), "shop-avail");
	cr_assert_str_eq(str(x, "window"), "6h");
	cr_assert_float_eq(num(x, "objective"), 0.99, EPS);
	const struct burn_count *b6 = &bs->win[bs->wslo];
	cr_assert_eq((uint64_t)num(x, "events"), b6->events);
	cr_assert_eq((uint64_t)num(x, "good"), b6->events - b6->bad);
	cr_assert_float_eq(num(x, "attainment"), bs->sli, EPS);
	cr_assert_float_eq(num(x, "error_budget_remaining"), bs->budget_remaining, EPS);
	json_t *rules = json_object_get(x, "rules");
	cr_assert_eq(json_array_size(rules), bs->slo->nrules);
	for (size_t i = 0; i < bs->slo->nrules; i++) {
		json_t *ru = json_array_get(rules, i);
		cr_assert_str_eq(str(ru, "name"), bs->rules[i].rule->name);
		cr_assert_float_eq(num(ru, "long_burn_rate"), bs->rules[i].burn_long, 1e-6);
		cr_assert_float_eq(num(ru, "short_burn_rate"), bs->rules[i].burn_short, 1e-6);
		cr_assert_eq(json_is_true(json_object_get(ru, "firing")),
			     !strcmp(bs->rules[i].rule->name, "slo_burn_slow"));
	}
	/* burn_rates: distinct rule windows, shortest first, each with its events */
	json_t *rates = json_object_get(x, "burn_rates");
	cr_assert_geq(json_array_size(rates), 2);
	cr_assert_str_eq(str(json_array_get(rates, 0), "window"), "5m");
	cr_assert_eq((uint64_t)num(json_array_get(rates, 0), "events"), be->status[0].win[0].events);

	json_t *g = item(j, 1);
	cr_assert_str_eq(str(g, "name"), "ghost");
	cr_assert_eq((long)num(g, "events"), 0);
	is_null(g, "attainment");
	is_null(g, "error_budget_remaining");
	json_t *gr = json_object_get(g, "burn_rates");
	for (size_t i = 0; i < json_array_size(gr); i++)
		is_null(json_array_get(gr, i), "burn_rate");
	is_null(json_array_get(json_object_get(g, "rules"), 0), "long_burn_rate");
	json_decref(j);
	burn_eval_free(be);

	/* no SLO file: an empty list, no statement at all */
	j = slo_status(c, NULL, now);
	cr_assert_eq(json_array_size(json_object_get(j, "items")), 0);
	json_decref(j);
	slo_config_free(cfg);
	PQfinish(c);
}

/* ------------------------------------------------------------ alerts */

static json_t *alerts_page(PGconn *c, struct store_alerts_req *rq)
{
	struct store_stmt st = { 0 };
	char err[256];
	store_alerts_list_stmt(rq, &st);
	PGresult *r = run(c, &st);
	json_t *j = store_alerts_list_json(rq, r, err, sizeof err);
	PQclear(r);
	cr_assert_not_null(j, "%s", err);
	return j;
}

/* Seven alerts: ids 1-7, last change at T0 + id minutes (id 6 and 7 share
 * one, to test the tie on id), states and services alternating. */
static void seed_alerts(PGconn *c)
{
	exec_ok(c, "INSERT INTO alerts (id, dedup_key, rule, severity, state, subject, service, "
		   "region_group, summary, created_at, pending_since, firing_since, resolved_at, last_eval_at) "
		   "SELECT i, 'k' || i, 'cert_expiry', CASE WHEN i %% 2 = 0 THEN 'page' ELSE 'ticket' END, "
		   "s, 'a.example:443', CASE WHEN i <= 4 THEN 'shop' ELSE 'blog' END, "
		   "CASE WHEN i %% 3 = 0 THEN 'eu' ELSE 'all' END, 'summary ' || i, t, t - interval '1 minute', "
		   "CASE WHEN s <> 'pending' THEN t - interval '30 seconds' END, "
		   "CASE WHEN s = 'resolved' THEN t END, t "
		   "FROM (SELECT i, to_timestamp(%lld / 1000.0) + least(i, 6) * interval '1 minute' AS t, "
		   "(ARRAY['firing','firing','resolved','pending','firing','firing','firing'])[i] AS s "
		   "FROM generate_series(1, 7) i) x", T0);
	exec_ok(c, "SELECT setval('alerts_id_seq', 7)");
}

Test(api_read, alerts_filter_and_page_newest_change_first)
{
	PGconn *c = new_db("api_alerts");
	seed_alerts(c);
	/* firing: 1, 2, 5, 6, 7; pages of 2: (7, 6) (5, 2) (1) */
	struct store_alerts_req rq = { .state = "firing", .limit = 2 };
	int64_t want[] = { 7, 6, 5, 2, 1 };
	size_t seen = 0;
	for (int page = 0; page < 4; page++) {
		json_t *j = alerts_page(c, &rq);
		json_t *items = json_object_get(j, "items");
		for (size_t i = 0; i < json_array_size(items); i++, seen++) {
			cr_assert_lt(seen, 5);
			cr_assert_eq((int64_t)num(json_array_get(items, i), "id"), want[seen]);
			cr_assert_str_eq(str(json_array_get(items, i), "state"), "firing");
		}
		json_t *nc = json_object_get(j, "next_cursor");
		if (json_is_null(nc)) {
			json_decref(j);
			break;
		}
		cr_assert(store_alerts_cursor_parse(json_string_value(nc), &rq.cursor_us, &rq.cursor_id) == 0);
		rq.have_cursor = true;
		json_decref(j);
	}
	cr_assert_eq(seen, 5, "every firing alert once");

	/* all states, since T0 + 3m (inclusive): 7, 6 (5.5m), 5 (4.5m), then 4
	 * (pending since 3m) and 3 (resolved at 3m), the tie by id; not 2 (1.5m) */
	struct store_alerts_req r2 = { .limit = 100, .have_since = true, .since_ms = T0 + 3 * MIN_MS };
	json_t *j = alerts_page(c, &r2);
	cr_assert_eq(json_array_size(json_object_get(j, "items")), 5);
	is_null(j, "next_cursor");
	cr_assert_eq((int)num(item(j, 4), "id"), 3);
	json_t *a4 = item(j, 3);
	cr_assert_eq((int)num(a4, "id"), 4);
	cr_assert_str_eq(str(a4, "state"), "pending");
	is_null(a4, "firing_since");
	is_null(a4, "resolved_at");
	cr_assert_str_eq(str(a4, "pending_since"), "2026-03-02T00:03:00.000Z");
	cr_assert(json_is_object(json_object_get(a4, "labels")));
	json_decref(j);

	/* service and region */
	struct store_alerts_req r3 = { .limit = 100, .service = "shop", .region = "eu" };
	j = alerts_page(c, &r3);
	cr_assert_eq(json_array_size(json_object_get(j, "items")), 1);
	cr_assert_eq((int)num(item(j, 0), "id"), 3);
	json_decref(j);

	int64_t us, id;
	cr_assert_eq(store_alerts_cursor_parse("12x", &us, &id), -1);
	cr_assert_eq(store_alerts_cursor_parse("12.", &us, &id), -1);
	cr_assert_eq(store_alerts_cursor_parse("12.0", &us, &id), -1);
	cr_assert_eq(store_alerts_cursor_parse("99999999999999999999.1", &us, &id), -1);
	PQfinish(c);
}

/* One alert: its events oldest first and its deliveries (outbox x sink)
 * with attempts, last status and error; an unknown id is not found. */
Test(api_read, alert_detail_has_events_and_deliveries)
{
	PGconn *c = new_db("api_alert1");
	seed_alerts(c);
	exec_ok(c, "INSERT INTO alert_events (id, alert_id, at, from_state, to_state, suppressed) VALUES "
		   "(11, 3, to_timestamp(%lld / 1000.0) + interval '2 minutes', 'pending', 'firing', false), "
		   "(10, 3, to_timestamp(%lld / 1000.0) + interval '1 minute', NULL, 'pending', false), "
		   "(12, 3, to_timestamp(%lld / 1000.0) + interval '3 minutes', 'firing', 'resolved', true)",
		T0, T0, T0);
	exec_ok(c, "INSERT INTO notification_outbox (id, alert_id, event_id, action, severity, dedup_key, payload) "
		   "VALUES (20, 3, 11, 'trigger', 'ticket', 'k3', '{}')");
	exec_ok(c, "INSERT INTO notification_deliveries (id, outbox_id, sink, idempotency_key, state, attempts, "
		   "last_status, last_error) VALUES (30, 20, 'slack', 'i1', 'failed', 3, 404, 'not found'), "
		   "(31, 20, 'pagerduty', 'i2', 'delivered', 1, 202, NULL)");
	struct store_stmt st = { 0 };
	char err[256];
	bool found;
	store_alerts_get_stmt(3, &st);
	PGresult *r = run(c, &st);
	json_t *j = store_alerts_get_json(r, &found, err, sizeof err);
	PQclear(r);
	cr_assert(found);
	cr_assert_not_null(j, "%s", err);
	cr_assert_eq((int)num(j, "id"), 3);
	json_t *ev = json_object_get(j, "events");
	cr_assert_eq(json_array_size(ev), 3);
	cr_assert_eq((int)num(json_array_get(ev, 0), "id"), 10);
	is_null(json_array_get(ev, 0), "from_state");
	cr_assert(json_is_true(json_object_get(json_array_get(ev, 2), "suppressed")));
	json_t *dl = json_object_get(j, "deliveries");
	cr_assert_eq(json_array_size(dl), 2);
	json_t *d0 = json_array_get(dl, 0);
	cr_assert_str_eq(str(d0, "sink"), "slack");
	cr_assert_str_eq(str(d0, "state"), "failed");
	cr_assert_eq((int)num(d0, "attempts"), 3);
	cr_assert_eq((int)num(d0, "last_status"), 404);
	cr_assert_str_eq(str(d0, "last_error"), "not found");
	cr_assert_str_eq(str(d0, "action"), "trigger");
	cr_assert_eq((int)num(d0, "event_id"), 11);
	is_null(d0, "delivered_at");
	is_null(json_array_get(dl, 1), "last_error");
	json_decref(j);

	store_alerts_get_stmt(999, &st);
	r = run(c, &st);
	j = store_alerts_get_json(r, &found, err, sizeof err);
	PQclear(r);
	cr_assert_not(found);
	cr_assert_null(j);
	/* an alert without history: empty arrays, not null */
	store_alerts_get_stmt(1, &st);
	r = run(c, &st);
	j = store_alerts_get_json(r, &found, err, sizeof err);
	PQclear(r);
	cr_assert_eq(json_array_size(json_object_get(j, "events")), 0);
	cr_assert(json_is_array(json_object_get(j, "deliveries")));
	json_decref(j);
	PQfinish(c);
}

/* ------------------------------------------------------------ certificates */

static json_t *certs_page(PGconn *c, struct store_certs_req *rq)
{
	struct store_stmt st = { 0 };
	char err[256];
	store_certs_stmt(rq, &st);
	PGresult *r = run(c, &st);
	json_t *j = store_certs_json(rq, r, err, sizeof err);
	PQclear(r);
	cr_assert_not_null(j, "%s", err);
	return j;
}

/* Certificates aa.. expiring in 5, 20, 40 days and one already expired;
 * sightings in two regions; targets with services. */
static void seed_certs(PGconn *c)
{
	exec_ok(c, "INSERT INTO certificates (fingerprint_sha256, subject, sans, issuer, not_before, not_after, "
		   "key, sig_alg, first_seen) SELECT fp, 'CN=' || fp, ARRAY[fp || '.example'], iss, "
		   "to_timestamp(%lld / 1000.0) - interval '60 days', to_timestamp(%lld / 1000.0) + d * interval '1 day', "
		   "'EC-P-256', 'ecdsa-with-SHA256', to_timestamp(%lld / 1000.0) - interval '1 day' "
		   "FROM (VALUES ('aa', 5, 'CN=Example CA'), ('bb', 20, 'CN=Other Issuer'), "
		   "('cc', 40, 'CN=EXAMPLE ca 2'), ('dd', -3, 'CN=Example CA')) v(fp, d, iss)", T0, T0, T0);
	exec_ok(c, "INSERT INTO targets VALUES ('a.example', 443, 'a.example', 'shop', '{\"team\":\"pay\"}', now(), now()), "
		   "('b.example', 8443, '', 'blog', '{}', now(), now())");
	exec_ok(c, "INSERT INTO certificate_sightings VALUES "
		   "('aa', 'a.example', 443, 'eu', to_timestamp(%lld / 1000.0) - interval '1 day', to_timestamp(%lld / 1000.0)), "
		   "('aa', 'a.example', 443, 'us', to_timestamp(%lld / 1000.0) - interval '1 day', to_timestamp(%lld / 1000.0)), "
		   "('bb', 'b.example', 8443, 'eu', to_timestamp(%lld / 1000.0) - interval '1 day', to_timestamp(%lld / 1000.0)), "
		   "('dd', 'a.example', 443, 'eu', to_timestamp(%lld / 1000.0) - interval '9 day', to_timestamp(%lld / 1000.0) - interval '3 day')",
		T0, T0, T0, T0, T0, T0, T0, T0);
}

Test(api_read, certificates_filter_soonest_first_with_sightings)
{
	PGconn *c = new_db("api_certs");
	seed_certs(c);
	struct store_certs_req rq = { .now_ms = T0, .limit = 100, .have_expiring = true,
				      .expiring_within_ms = 30 * 24 * 3600000LL };
	json_t *j = certs_page(c, &rq);
	json_t *items = json_object_get(j, "items");
	cr_assert_eq(json_array_size(items), 3, "expired, 5 and 20 days; not 40");
	cr_assert_str_eq(str(item(j, 0), "fingerprint_sha256"), "dd");
	cr_assert_float_eq(num(item(j, 0), "days_left"), -3, 1e-9);
	json_t *aa = item(j, 1);
	cr_assert_float_eq(num(aa, "days_left"), 5, 1e-9);
	cr_assert_str_eq(str(aa, "not_after"), "2026-03-07T00:00:00.000Z");
	json_t *si = json_object_get(aa, "sightings");
	cr_assert_eq(json_array_size(si), 2);
	cr_assert_str_eq(str(json_array_get(si, 0), "target"), "a.example:443");
	cr_assert_str_eq(str(json_array_get(si, 0), "region"), "eu");
	cr_assert_str_eq(str(json_array_get(si, 1), "region"), "us");
	cr_assert_str_eq(str(json_array_get(si, 0), "service"), "shop");
	cr_assert_str_eq(str(json_object_get(json_array_get(si, 0), "labels"), "team"), "pay");
	cr_assert_str_eq(json_string_value(json_array_get(json_object_get(aa, "sans"), 0)), "aa.example");
	json_decref(j);

	/* issuer: case-insensitive substring */
	struct store_certs_req r2 = { .now_ms = T0, .limit = 100, .issuer = "example ca" };
	j = certs_page(c, &r2);
	cr_assert_eq(json_array_size(json_object_get(j, "items")), 3, "aa, cc, dd");
	json_decref(j);
	/* service: served by one of its targets */
	struct store_certs_req r3 = { .now_ms = T0, .limit = 100, .service = "blog" };
	j = certs_page(c, &r3);
	cr_assert_eq(json_array_size(json_object_get(j, "items")), 1);
	cr_assert_str_eq(str(item(j, 0), "fingerprint_sha256"), "bb");
	cr_assert_str_eq(str(json_array_get(json_object_get(item(j, 0), "sightings"), 0), "target"),
			 "b.example:8443");
	json_decref(j);

	/* pages of 1 walk all four in order */
	const char *want[] = { "dd", "aa", "bb", "cc" };
	struct store_certs_req r4 = { .now_ms = T0, .limit = 1 };
	char cur[256];
	for (int i = 0; i < 4; i++) {
		j = certs_page(c, &r4);
		cr_assert_eq(json_array_size(json_object_get(j, "items")), 1);
		cr_assert_str_eq(str(item(j, 0), "fingerprint_sha256"), want[i]);
		json_t *nc = json_object_get(j, "next_cursor");
		cr_assert_eq(json_is_null(nc), i == 3);
		if (!json_is_null(nc)) {
			snprintf(cur, sizeof cur, "%s", json_string_value(nc));
			cr_assert(store_certs_cursor_ok(cur));
			r4.cursor = cur;
		}
		json_decref(j);
	}
	cr_assert_not(store_certs_cursor_ok("abc"));
	cr_assert_not(store_certs_cursor_ok("12."));
	cr_assert_not(store_certs_cursor_ok("12.x'y"));
	PQfinish(c);
}

/* ------------------------------------------------------------ probes */

Test(api_read, probes_with_spool_and_silence)
{
	PGconn *c = new_db("api_probes");
	/* p1 seen 1 min ago, p2 10 min ago (silent: 3 x its 60 s default
	 * interval); p3 30 s ago but it probes every 5 s (silent: > 15 s) */
	exec_ok(c, "INSERT INTO probes (probe_id, region, version, first_seen, last_seen, last_seq, "
		   "clock_offset_ms, spool_records, spool_bytes, dropped_total, overdue_total, counters_at, dropped_at) "
		   "SELECT id, 'eu', '1.2', t - interval '1 day', t - ago * interval '1 second', 5, 12.5, 7, 4096, "
		   "dr, 3, t, CASE WHEN dr > 0 THEN t END FROM (VALUES ('p1', 60, 0), ('p2', 600, 9), ('p3', 30, 0)) "
		   "v(id, ago, dr), (SELECT to_timestamp(%lld / 1000.0) AS t) tt", T0);
	exec_ok(c, "INSERT INTO results (probe_id, seq, region, started_at, received_at, target, port, profile, "
		   "outcome, interval_ms) SELECT 'p3', s, 'eu', t, t, 'x', 443, 'modern', 'ok', 5000 "
		   "FROM generate_series(1, 5) s, (SELECT to_timestamp(%lld / 1000.0) AS t) tt", T0);
	struct store_stmt st = { 0 };
	char err[256];
	store_probes_stmt(T0, 3, &st);
	PGresult *r = run(c, &st);
	json_t *j = store_probes_json(r, err, sizeof err);
	PQclear(r);
	cr_assert_not_null(j, "%s", err);
	cr_assert_eq(json_array_size(json_object_get(j, "items")), 3);
	json_t *p1 = item(j, 0), *p2 = item(j, 1), *p3 = item(j, 2);
	cr_assert_str_eq(str(p1, "probe_id"), "p1");
	cr_assert(json_is_false(json_object_get(p1, "silent")));
	cr_assert(json_is_true(json_object_get(p2, "silent")));
	cr_assert(json_is_true(json_object_get(p3, "silent")));
	cr_assert_float_eq(num(p1, "clock_offset_ms"), 12.5, 1e-9);
	cr_assert_eq((int)num(p1, "spool_records"), 7);
	cr_assert_eq((int)num(p1, "spool_bytes"), 4096);
	cr_assert_eq((int)num(p2, "dropped"), 9);
	cr_assert_eq((int)num(p2, "overdue"), 3);
	cr_assert_str_eq(str(p2, "dropped_at"), "2026-03-02T00:00:00.000Z");
	is_null(p1, "dropped_at");
	cr_assert_str_eq(str(p1, "last_seen"), "2026-03-01T23:59:00.000Z");
	json_decref(j);
	PQfinish(c);
}

/* ------------------------------------------------------------ maintenance */

Test(api_read, maintenance_create_list_delete)
{
	PGconn *c = new_db("api_maint");
	struct store_stmt st = { 0 };
	char err[256];
	json_t *labels = json_pack("{s:s}", "team", "o'ps");
	struct maint_window w = { .starts_ms = T0 - 60 * MIN_MS, .ends_ms = T0 + 60 * MIN_MS,
				  .service = "shop", .target = "a.example:443", .labels = labels,
				  .reason = "rotation", .created_by = "alice" };
	store_maint_create_stmt(T0, &w, &st);
	PGresult *r = run(c, &st);
	json_t *m = store_maint_created_json(r, err, sizeof err);
	PQclear(r);
	cr_assert_not_null(m, "%s", err);
	cr_assert(json_is_true(json_object_get(m, "active")));
	cr_assert_str_eq(str(m, "reason"), "rotation");
	cr_assert_str_eq(str(json_object_get(m, "labels"), "team"), "o'ps");
	is_null(m, "region");
	int64_t id = (int64_t)num(m, "id");
	json_decref(m);
	json_decref(labels);
	/* an ended window */
	struct maint_window old = { .starts_ms = T0 - 600 * MIN_MS, .ends_ms = T0 - 300 * MIN_MS,
				    .reason = "old" };
	store_maint_create_stmt(T0, &old, &st);
	PQclear(run(c, &st));

	/* the window is what tw_in_maintenance matches */
	char *in = q_str(c, "SELECT tw_in_maintenance('shop', 'a.example:443', 'x', 'all', "
			    "'{\"team\":\"o''ps\"}', to_timestamp(%lld / 1000.0))", T0);
	cr_assert_str_eq(in, "t");
	free(in);

	store_maint_list_stmt(T0, false, &st);
	r = run(c, &st);
	json_t *j = store_maint_list_json(r, err, sizeof err);
	PQclear(r);
	cr_assert_eq(json_array_size(json_object_get(j, "items")), 1, "the ended one is not listed");
	json_decref(j);
	store_maint_list_stmt(T0, true, &st);
	r = run(c, &st);
	j = store_maint_list_json(r, err, sizeof err);
	PQclear(r);
	cr_assert_eq(json_array_size(json_object_get(j, "items")), 2);
	cr_assert_str_eq(str(item(j, 0), "reason"), "old", "soonest start first");
	cr_assert(json_is_false(json_object_get(item(j, 0), "active")));
	json_decref(j);

	store_maint_delete_stmt(id, &st);
	r = run(c, &st);
	cr_assert_eq(PQntuples(r), 1);
	PQclear(r);
	store_maint_delete_stmt(id, &st);
	r = run(c, &st);
	cr_assert_eq(PQntuples(r), 0, "deleted twice: not found");
	PQclear(r);
	PQfinish(c);
}
