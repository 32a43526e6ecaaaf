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
