/*
 * test_burn.c - burn rates, the multiwindow rules and the alert lifecycle
 * (collector/burn.h, alerts.h, evaluator.h) against a real PostgreSQL
 * started by tests/integration/test_burn.sh. sli_query on its own:
 * test_sli_query.c. Helpers: burn_env.h.
 *
 * Time is injected: rollup rows are written at known minutes around T0 and
 * evaluator_run_once() is called with now = T0 + k minutes, walking k one
 * minute at a time; nothing sleeps. Expected values are computed by hand in
 * the comments (and by independent loops over the same per-minute pattern).
 *
 * Every test has its own database. rollup_1h is always rebuilt from
 * rollup_1m (as the ingest statement keeps them), so the SLI's hour/minute
 * mix must give exactly the per-minute sums.
 */
#define _GNU_SOURCE
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <jansson.h>
#include <libpq-fe.h>

#include "alerts.h"
#include "burn.h"
#include "burn_env.h"
#include "db.h"
#include "maint.h"
#include "evaluator.h"
#include "proc.h"
#include "sli.h"
#include "slo_config.h"
#include "sql_migrations.h"
#include "twtime.h"

TestSuite(burn, .timeout = 300);

Test(burn, burn_rates_and_error_budget_by_hand)
{
	PGconn *c = new_db("burn_hand");
	/* one day before T0 at 10/min; failures: 5 in total at minutes -700,
	 * -30 (2) and -3 (2) */
	gen(c, "a.example", "eu", "shop", -1440, 0, "10",
	    "CASE WHEN m = -700 THEN 1 WHEN m IN (-30, -3) THEN 2 ELSE 0 END", NULL);
	rebuild_1h(c);
	struct slo_config *cfg = cfg_of(
		"slos:\n"
		"  - name: shop-avail\n"
		"    sli: availability\n"
		"    objective: 99.9\n"
		"    window: 1d\n"
		"    selector: {service: shop}\n");
	struct burn_eval *e;
	char err[512];
	cr_assert_eq(burn_evaluate(c, cfg, T0, 0, &e, err, sizeof err), 0, "%s", err);
	const struct burn_status *st = status_named(e, "shop-avail", NULL);
	double budget = 1 - 0.999;
	/* 1d: 14400 events, 5 bad; allowed 14.4; remaining 1 - 5 / 14.4 */
	const struct burn_count *d = &st->win[win_of(e, 86400000LL)];
	cr_assert_eq(d->events, 14400);
	cr_assert_eq(d->bad, 5);
	cr_assert_float_eq(st->budget_remaining, 1.0 - 5.0 / (budget * 14400.0), EPS);
	cr_assert_float_eq(st->budget_remaining, 0.65277777777777, 1e-9);
	cr_assert_float_eq(st->sli, 1.0 - 5.0 / 14400.0, EPS);
	/* 5m: minutes -5..-1: 50 events, 2 bad -> 0.04 / 0.001 = 40 */
	const struct burn_count *w5 = &st->win[win_of(e, 5 * MIN_MS)];
	cr_assert_eq(w5->events, 50);
	cr_assert_eq(w5->bad, 2);
	cr_assert_float_eq(burn_rate(w5->bad, w5->events, 0.999), 40.0, 1e-9);
	/* 1h: 600 events, 4 bad -> (4/600) / 0.001 = 6.666.. */
	const struct burn_rule_status *fast = &st->rules[0];
	cr_assert_str_eq(fast->rule->name, "slo_burn_fast");
	cr_assert_float_eq(fast->burn_long, (4.0 / 600.0) / budget, EPS);
	cr_assert_float_eq(fast->burn_short, 40.0, 1e-9);
	cr_assert_not(fast->active);    /* 6.67 < 14.4 */
	/* 30m: minutes -30..-1: 300 events, 4 bad -> 13.33; 6h: 3600 events, 4 bad */
	const struct burn_rule_status *slow = &st->rules[1];
	cr_assert_float_eq(slow->burn_short, (4.0 / 300.0) / budget, EPS);
	cr_assert_float_eq(slow->burn_long, (4.0 / 3600.0) / budget, EPS);
	cr_assert_not(slow->active);    /* 1.11 < 6 */
	/* 3d (only 1d of data): 14400 events, 5 bad -> 0.347 */
	const struct burn_rule_status *ticket = &st->rules[2];
	cr_assert_float_eq(ticket->burn_long, (5.0 / 14400.0) / budget, EPS);
	burn_eval_free(e);
	slo_config_free(cfg);
	PQfinish(c);
}

Test(burn, latency_slo_counts_buckets_under_threshold)
{
	PGconn *c = new_db("burn_latency");
	/* per minute: 8 in [50,75) (bucket 8), 2 in [100,150) (bucket 10) */
	gen(c, "a.example", "eu", "shop", -120, 0, "10", "0",
	    "(array_fill(0::bigint, ARRAY[7]) || ARRAY[8::bigint, 0, 2] || "
	    "array_fill(0::bigint, ARRAY[10]))");
	rebuild_1h(c);
	struct slo_config *cfg = cfg_of(
		"slos:\n"
		"  - {name: lat100, sli: latency, threshold_ms: 100, objective: 99, window: 1d}\n"
		"  - {name: lat150, sli: latency, threshold_ms: 150, objective: 99, window: 1d}\n");
	struct burn_eval *e;
	char err[512];
	cr_assert_eq(burn_evaluate(c, cfg, T0, 0, &e, err, sizeof err), 0, "%s", err);
	const struct burn_status *a = status_named(e, "lat100", NULL);
	const struct burn_count *h = &a->win[win_of(e, 3600000LL)];
	/* under 100 ms: 8 of 10 per minute -> 600 events, 120 bad over 1h */
	cr_assert_eq(h->events, 600);
	cr_assert_eq(h->bad, 120);
	cr_assert_float_eq(a->rules[0].burn_long, 0.2 / (1 - 0.99), EPS);
	const struct burn_status *b = status_named(e, "lat150", NULL);
	cr_assert_eq(b->win[win_of(e, 3600000LL)].bad, 0);
	burn_eval_free(e);
	slo_config_free(cfg);
	PQfinish(c);
}

/* ------------------------------------------------------------ rules */

/* Traffic: 20 attempts a minute from 4 days before T0 to T0 + 7h; an
 * incident of 6 failures a minute in minutes [0, 20). At now = T0 + k min
 * (k in 1..20) a window ending at now holds min(k, len) failing minutes:
 *   fast   (14.4; 1h, 5m):  burn 1h = 6k / 1200 / 0.001 = 5k     -> first > 14.4 at k = 3
 *                           burn 5m = 6 min(k,5) / 100 / 0.001     (> 14.4 from k = 1)
 *   slow   (6; 6h, 30m):    burn 6h = 6k / 7200 / 0.001 = 0.833k -> first > 6 at k = 8
 *   ticket (1; 3d, 6h):     burn 3d = 6k / 86400 / 0.001 = 0.0694k -> first > 1 at k = 15
 * After the incident (failures stop at minute 20):
 *   fast clean once the 5m window holds no failing minute: k = 25 (k = 24 still
 *        holds minute 19); resolve_after 3 -> resolved at the 3rd clean: k = 27
 *   slow clean once 30m has none: k = 50 -> resolved at k = 52
 *   ticket clean once 6h holds <= 1 failing minute (6 bad -> 0.83): the window
 *        [k-360, k) drops minute 18 at k = 379 -> resolved at k = 381 */
static void incident(PGconn *c)
{
	gen(c, "a.example", "eu", "shop", -4 * 1440, 420, "20",
	    "CASE WHEN m >= 0 AND m < 20 THEN 6 ELSE 0 END", NULL);
	rebuild_1h(c);
}

static const char *SHOP_SLO =
	"slos:\n"
	"  - name: shop\n"
	"    sli: availability\n"
	"    objective: 99.9\n"
	"    window: 30d\n"
	"    selector: {service: shop}\n";

struct walk {
	int fired[3], resolved[3];
};

static void walk(PGconn *c, const struct slo_config *cfg, int k0, int k1, struct walk *w)
{
	static const char *const keys[3] = { "slo_burn_fast|shop|all", "slo_burn_slow|shop|all",
					     "slo_burn_ticket|shop|all" };
	for (int i = 0; i < 3; i++)
		w->fired[i] = w->resolved[i] = INT32_MIN;
	for (int k = k0; k <= k1; k++) {
		eval_at(c, cfg, T0 + k * MIN_MS);
		for (int i = 0; i < 3; i++) {
			char *s = state_of(c, keys[i]);
			if (!strcmp(s, "firing") && w->fired[i] == INT32_MIN)
				w->fired[i] = k;
			if (!strcmp(s, "resolved") && w->resolved[i] == INT32_MIN)
				w->resolved[i] = k;
			free(s);
		}
	}
}

Test(burn, default_rules_fire_and_resolve_at_the_expected_minute)
{
	PGconn *c = new_db("burn_walk");
	incident(c);
	struct slo_config *cfg = cfg_of(SHOP_SLO);
	struct walk w;
	walk(c, cfg, -3, 385, &w);
	cr_assert_eq(w.fired[0], 3, "fast fired at %d", w.fired[0]);
	cr_assert_eq(w.fired[1], 8, "slow fired at %d", w.fired[1]);
	cr_assert_eq(w.fired[2], 15, "ticket fired at %d", w.fired[2]);
	cr_assert_eq(w.resolved[0], 27, "fast resolved at %d", w.resolved[0]);
	cr_assert_eq(w.resolved[1], 52, "slow resolved at %d", w.resolved[1]);
	cr_assert_eq(w.resolved[2], 381, "ticket resolved at %d", w.resolved[2]);

	/* one occurrence each; one trigger and one resolve per occurrence */
	cr_assert_eq(q_int(c, "SELECT count(*) FROM alerts"), 3);
	cr_assert_eq(q_int(c, "SELECT count(*) FROM notification_outbox"), 6);
	cr_assert_eq(q_int(c, "SELECT count(DISTINCT (dedup_key, action)) FROM notification_outbox"), 6);
	cr_assert_eq(q_int(c, "SELECT count(*) FROM notification_outbox WHERE action = 'trigger' "
			      "AND severity = 'page'"), 2);
	/* the trigger was written at the firing evaluation */
	cr_assert_eq(q_int(c, "SELECT extract(epoch FROM created_at)::bigint FROM notification_outbox "
			      "WHERE dedup_key = 'slo_burn_fast|shop|all' AND action = 'trigger'"),
		     (T0 + 3 * MIN_MS) / 1000);
	char *p = q_str(c, "SELECT payload->>'starts_at' || ' ' || (payload->>'ends_at') || ' ' || "
			   "(payload->>'state') || ' ' || (payload->'labels'->>'slo') FROM notification_outbox "
			   "WHERE dedup_key = 'slo_burn_fast|shop|all' AND action = 'resolve'");
	cr_assert_str_eq(p, "2026-03-02T00:03:00.000Z 2026-03-02T00:27:00.000Z resolved shop");
	free(p);
	/* events: NULL->pending, pending->firing, firing->resolved per alert */
	cr_assert_eq(q_int(c, "SELECT count(*) FROM alert_events"), 9);
	cr_assert_eq(q_int(c, "SELECT count(*) FROM evaluation_runs"), 389);
	slo_config_free(cfg);
	PQfinish(c);
}

Test(burn, quiet_before_the_incident_and_rules_overridable)
{
	PGconn *c = new_db("burn_override");
	incident(c);
	/* fast overridden to 7x: burn 1h = 5k > 7 first at k = 2 (k = 1: 5);
	 * the slow rule disabled; a custom 2x over 2h/10m: burn 2h = 6k / 2400
	 * / 0.001 = 2.5k > 2 first at k = 1. (Thresholds are compared in double
	 * precision: the walk never lands on a boundary.) */
	struct slo_config *cfg = cfg_of(
		"defaults:\n"
		"  resolve_after: 2\n"
		"  rules:\n"
		"    - {name: slo_burn_slow, enabled: false}\n"
		"slos:\n"
		"  - name: shop\n"
		"    sli: availability\n"
		"    objective: 99.9\n"
		"    selector: {service: shop}\n"
		"    rules:\n"
		"      - {name: slo_burn_fast, burn_rate: 7}\n"
		"      - {name: custom, severity: ticket, burn_rate: 2, long_window: 2h, "
		"short_window: 10m, min_events: 1, min_failures: 1}\n");
	cr_assert_eq(cfg->slos[0].nrules, 3);
	for (int k = -5; k <= 0; k++) {
		struct evaluator_result r = eval_at(c, cfg, T0 + k * MIN_MS);
		cr_assert_eq(r.active, 0, "active at k = %d", k);
	}
	cr_assert_eq(q_int(c, "SELECT count(*) FROM alerts"), 0);
	eval_at(c, cfg, T0 + 1 * MIN_MS);
	char *s = state_of(c, "custom|shop|all");
	cr_assert_str_eq(s, "firing");
	free(s);
	s = state_of(c, "slo_burn_fast|shop|all");
	cr_assert_str_eq(s, "");        /* burn 1h = 5 */
	free(s);
	eval_at(c, cfg, T0 + 2 * MIN_MS);
	s = state_of(c, "slo_burn_fast|shop|all");
	cr_assert_str_eq(s, "firing");  /* burn 1h = 10 > 7 */
	free(s);
	/* fast clean from k = 25 (see incident): resolve_after 2 -> resolved at 26 */
	for (int k = 3; k <= 25; k++)
		eval_at(c, cfg, T0 + k * MIN_MS);
	s = state_of(c, "slo_burn_fast|shop|all");
	cr_assert_str_eq(s, "firing");
	free(s);
	eval_at(c, cfg, T0 + 26 * MIN_MS);
	s = state_of(c, "slo_burn_fast|shop|all");
	cr_assert_str_eq(s, "resolved");
	free(s);
	cr_assert_eq(q_int(c, "SELECT count(*) FROM alerts WHERE rule = 'slo_burn_slow'"), 0);
	slo_config_free(cfg);
	PQfinish(c);
}

Test(burn, minimum_events_and_failures_keep_low_volume_quiet)
{
	PGconn *c = new_db("burn_minimum");
	/* one probe a minute; a single failed handshake at minute 0: at k = 1..5
	 * burn 5m = (1/k') / 0.001 >= 200 and burn 1h = (1/60) / 0.001 = 16.7 >
	 * 14.4 - but 1 failure < min_failures 3 */
	gen(c, "a.example", "eu", "shop", -4 * 1440, 60, "1", "CASE WHEN m = 0 THEN 1 ELSE 0 END",
	    NULL);
	rebuild_1h(c);
	struct slo_config *cfg = cfg_of(SHOP_SLO);
	for (int k = 0; k <= 10; k++) {
		struct evaluator_result r = eval_at(c, cfg, T0 + k * MIN_MS);
		cr_assert_eq(r.active, 0, "active at k = %d", k);
	}
	cr_assert_eq(q_int(c, "SELECT count(*) FROM alerts"), 0);
	cr_assert_eq(q_int(c, "SELECT count(*) FROM notification_outbox"), 0);

	/* the same with min_failures 1: pages at k = 1 (burn 1h 16.7, 5m 1000:
	 * 1 failure of 1 event at minute 0) */
	struct slo_burn_rule *fast = &cfg->slos[0].rules[0];
	fast->min_failures = 1;
	struct burn_eval *e;
	char err[512];
	cr_assert_eq(burn_evaluate(c, cfg, T0 + MIN_MS, 0, &e, err, sizeof err), 0, "%s", err);
	const struct burn_status *st = status_named(e, "shop", NULL);
	cr_assert(st->rules[0].active);
	cr_assert_float_eq(st->rules[0].burn_long, (1.0 / 60.0) / (1 - 0.999), EPS);
	cr_assert_float_eq(st->rules[0].burn_short, (1.0 / 5.0) / (1 - 0.999), EPS);
	burn_eval_free(e);
	/* and min_events 61 > 60 events in the hour: quiet again */
	fast->min_events = 61;
	cr_assert_eq(burn_evaluate(c, cfg, T0 + MIN_MS, 0, &e, err, sizeof err), 0, "%s", err);
	cr_assert_not(status_named(e, "shop", NULL)->rules[0].active);
	cr_assert_not(status_named(e, "shop", NULL)->rules[0].enough);
	burn_eval_free(e);
	slo_config_free(cfg);
	PQfinish(c);
}

Test(burn, maintenance_window_suppresses_then_notifies)
{
	PGconn *c = new_db("burn_maint");
	incident(c);
	struct slo_config *cfg = cfg_of(SHOP_SLO);
	/* window [T0, T0 + 30m) for service shop */
	struct maint_window mw = { .starts_ms = T0, .ends_ms = T0 + 30 * MIN_MS, .service = "shop",
				   .reason = "test" };
	int64_t id;
	char err[512];
	cr_assert_eq(maint_create(c, &mw, &id, err, sizeof err), 0, "%s", err);
	struct walk w;
	walk(c, cfg, 0, 60, &w);
	/* recorded as usual */
	cr_assert_eq(w.fired[0], 3);
	cr_assert_eq(w.fired[1], 8);
	cr_assert_eq(w.resolved[0], 27);
	cr_assert_eq(w.resolved[1], 52);
	/* fast fired and resolved inside the window: suppressed, never notified */
	cr_assert_eq(q_int(c, "SELECT count(*) FROM notification_outbox WHERE dedup_key = "
			      "'slo_burn_fast|shop|all'"), 0);
	cr_assert_eq(q_int(c, "SELECT count(*) FROM alert_events e JOIN alerts a ON a.id = e.alert_id "
			      "WHERE a.dedup_key = 'slo_burn_fast|shop|all' AND e.to_state = 'firing' "
			      "AND e.suppressed"), 1);
	/* slow fired at 8 inside the window and still fired when it ended at
	 * 30: triggered then, resolved at 52 */
	cr_assert_eq(q_int(c, "SELECT count(*) FROM notification_outbox WHERE dedup_key = "
			      "'slo_burn_slow|shop|all'"), 2);
	cr_assert_eq(q_int(c, "SELECT extract(epoch FROM created_at)::bigint FROM notification_outbox "
			      "WHERE dedup_key = 'slo_burn_slow|shop|all' AND action = 'trigger'"),
		     (T0 + 30 * MIN_MS) / 1000);
	cr_assert_eq(q_int(c, "SELECT extract(epoch FROM created_at)::bigint FROM notification_outbox "
			      "WHERE dedup_key = 'slo_burn_slow|shop|all' AND action = 'resolve'"),
		     (T0 + 52 * MIN_MS) / 1000);
	/* the ticket (fired at 15 inside the window, firing still at 60) too */
	cr_assert_eq(q_int(c, "SELECT count(*) FROM notification_outbox WHERE dedup_key = "
			      "'slo_burn_ticket|shop|all' AND action = 'trigger'"), 1);

	/* list and delete */
	FILE *f = tmpfile();
	cr_assert_eq(maint_list(c, T0, false, true, f, err, sizeof err), 0, "%s", err);
	rewind(f);
	char line[1024] = "";
	cr_assert(fgets(line, sizeof line, f));
	cr_assert(strstr(line, "\"service\":\"shop\""), "%s", line);
	cr_assert(strstr(line, "\"active\":true"), "%s", line);
	fclose(f);
	cr_assert_eq(maint_delete(c, id, err, sizeof err), 0);
	cr_assert_eq(maint_delete(c, id, err, sizeof err), 1);
	slo_config_free(cfg);
	PQfinish(c);
}

Test(burn, resolve_held_back_by_a_window_is_sent_after_it)
{
	PGconn *c = new_db("burn_maint_resolve");
	incident(c);
	struct slo_config *cfg = cfg_of(SHOP_SLO);
	/* fast fires at 3 (notified); a window [20m, 40m) covers its resolve at
	 * 27: suppressed, sent at 40 */
	struct maint_window mw = { .starts_ms = T0 + 20 * MIN_MS, .ends_ms = T0 + 40 * MIN_MS,
				   .service = "shop", .reason = "test" };
	char err[512];
	cr_assert_eq(maint_create(c, &mw, NULL, err, sizeof err), 0, "%s", err);
	for (int k = 0; k <= 45; k++)
		eval_at(c, cfg, T0 + k * MIN_MS);
	cr_assert_eq(q_int(c, "SELECT count(*) FROM notification_outbox WHERE dedup_key = "
			      "'slo_burn_fast|shop|all' AND action = 'trigger'"), 1);
	cr_assert_eq(q_int(c, "SELECT count(*) FROM notification_outbox WHERE dedup_key = "
			      "'slo_burn_fast|shop|all' AND action = 'resolve'"), 1);
	cr_assert_eq(q_int(c, "SELECT extract(epoch FROM created_at)::bigint FROM notification_outbox "
			      "WHERE dedup_key = 'slo_burn_fast|shop|all' AND action = 'resolve'"),
		     (T0 + 40 * MIN_MS) / 1000);
	cr_assert_eq(q_int(c, "SELECT count(*) FROM alert_events e JOIN alerts a ON a.id = e.alert_id "
			      "WHERE a.dedup_key = 'slo_burn_fast|shop|all' AND e.to_state = 'resolved' "
			      "AND e.suppressed"), 1);
	slo_config_free(cfg);
	PQfinish(c);
}

Test(burn, split_by_region_pools_each_region)
{
	PGconn *c = new_db("burn_split");
	/* eu fails 6 of 20 a minute from minute 0, us never */
	gen(c, "a.example", "eu", "shop", -1440, 10, "20", "CASE WHEN m >= 0 THEN 6 ELSE 0 END", NULL);
	gen(c, "a.example", "us", "shop", -1440, 10, "20", "0", NULL);
	gen(c, "b.example", "us", "shop", -1440, 10, "20", "0", NULL);
	rebuild_1h(c);
	struct slo_config *cfg = cfg_of(
		"slos:\n"
		"  - {name: shop, sli: availability, objective: 99.9, selector: {service: shop}, "
		"split_by_region: true}\n"
		"  - {name: pooled, sli: availability, objective: 99.9, selector: {service: shop}}\n");
	for (int k = 0; k <= 5; k++)
		eval_at(c, cfg, T0 + k * MIN_MS);
	/* eu: 1h burn at k = 3 = 18 / 1200 / 0.001 = 15 -> fired at 3 */
	char *s = state_of(c, "slo_burn_fast|shop|eu");
	cr_assert_str_eq(s, "firing");
	free(s);
	s = q_str(c, "SELECT region_group FROM alerts WHERE dedup_key = 'slo_burn_fast|shop|eu'");
	cr_assert_str_eq(s, "eu");
	free(s);
	cr_assert_eq(q_int(c, "SELECT count(*) FROM alerts WHERE dedup_key LIKE '%%|us'"), 0);
	/* pooled over 3 series: at k = 5 the 1h burn is 30 / 3600 / 0.001 = 8.3 */
	s = state_of(c, "slo_burn_fast|pooled|all");
	cr_assert_str_eq(s, "");
	free(s);
	slo_config_free(cfg);
	PQfinish(c);
}

Test(burn, label_selector_uses_targets)
{
	PGconn *c = new_db("burn_labels");
	gen(c, "a.example", "eu", "shop", -60, 0, "10", "1", NULL);
	gen(c, "b.example", "eu", "shop", -60, 0, "10", "0", NULL);
	exec_ok(c, "INSERT INTO targets VALUES ('a.example', 443, '', 'shop', '{\"tier\": \"gold\"}', "
		   "now(), now()), ('b.example', 443, '', 'shop', '{\"tier\": \"silver\"}', now(), now())");
	rebuild_1h(c);
	struct slo_config *cfg = cfg_of(
		"slos:\n"
		"  - {name: gold, sli: availability, objective: 99, window: 1h, "
		"selector: {labels: {tier: gold}}}\n"
		"  - {name: a443, sli: availability, objective: 99, window: 1h, "
		"selector: {target: \"a.example:443\"}}\n"
		"  - {name: b, sli: availability, objective: 99, window: 1h, "
		"selector: {target: b.example, region: eu, profile: default}}\n");
	struct burn_eval *e;
	char err[512];
	cr_assert_eq(burn_evaluate(c, cfg, T0, 0, &e, err, sizeof err), 0, "%s", err);
	const struct burn_status *g = status_named(e, "gold", NULL);
	cr_assert_eq(g->nseries, 1);
	cr_assert_eq(g->win[g->wslo].events, 600);
	cr_assert_eq(g->win[g->wslo].bad, 60);
	cr_assert_float_eq(g->budget_remaining, 1 - 60.0 / (0.01 * 600), EPS);
	cr_assert_eq(status_named(e, "a443", NULL)->win[g->wslo].bad, 60);
	cr_assert_eq(status_named(e, "b", NULL)->win[g->wslo].bad, 0);
	cr_assert_eq(status_named(e, "b", NULL)->nseries, 1);
	burn_eval_free(e);

	/* the same selection through sli_query */
	struct slo_selector sel = { .nlabels = 1, .label_keys = (char *[]){ "tier" },
				    .label_values = (char *[]){ "gold" } };
	struct sli_window w = { T0 - 60 * MIN_MS, T0 };
	struct sli_values *v;
	size_t n;
	cr_assert_eq(sli_query(c, &sel, &w, SLI_GROUP_NONE, &v, &n, err, sizeof err), 0, "%s", err);
	cr_assert_eq(n, 1);
	cr_assert_eq(v[0].attempts, 600);
	cr_assert_float_eq(v[0].success_rate, 0.9, EPS);
	sli_values_free(v, n);
	slo_config_free(cfg);
	PQfinish(c);
}

Test(burn, with_other_rules_and_status_output)
{
	PGconn *c = new_db("burn_other");
	incident(c);
	struct slo_config *cfg = cfg_of(SHOP_SLO);
	struct evaluator_run_opts o = { .collector_id = "c1", .generator_url = "https://tw.example/" };
	struct evaluator_result r;
	char err[1024];
	FILE *f = tmpfile();
	o.status_out = f;
	o.status_json = true;
	cr_assert_eq(evaluator_run_once(c, cfg, T0 + 3 * MIN_MS, &o, &r, err, sizeof err), 0, "%s",
		     err);
	cr_assert_eq(r.active, 1);
	cr_assert_eq(r.changes, 2);    /* new (pending) + firing */
	rewind(f);
	char line[8192] = "";
	cr_assert(fgets(line, sizeof line, f));
	json_t *j = json_loads(line, 0, NULL);
	cr_assert(j, "%s", line);
	cr_assert_str_eq(json_string_value(json_object_get(j, "slo")), "shop");
	json_t *rules = json_object_get(j, "rules");
	cr_assert(json_is_true(json_object_get(json_array_get(rules, 0), "active")));
	cr_assert_float_eq(json_real_value(json_object_get(json_array_get(rules, 0),
							   "burn_rate_long")),
			   (18.0 / 1200.0) / (1 - 0.999), EPS);
	json_decref(j);
	fclose(f);
	char *u = q_str(c, "SELECT payload->>'generator_url' FROM notification_outbox");
	cr_assert(u && !strncmp(u, "https://tw.example/alerts/", 26), "%s", u ? u : "(null)");
	free(u);
	cr_assert_eq(q_int(c, "SELECT count(*) FROM evaluation_runs WHERE collector_id = 'c1' "
			      "AND changes = 2"), 1);
	/* dry run changes nothing */
	o.dry_run = true;
	o.status_out = NULL;
	cr_assert_eq(evaluator_run_once(c, cfg, T0 + 40 * MIN_MS, &o, &r, err, sizeof err), 0, "%s",
		     err);
	cr_assert_eq(q_int(c, "SELECT count(*) FROM evaluation_runs"), 1);
	slo_config_free(cfg);
	PQfinish(c);
}

Test(burn, advisory_lock_is_exclusive)
{
	PGconn *a = new_db("burn_lock");
	char *ci = NULL;
	cr_assert(asprintf(&ci, "%s dbname=burn_lock", env("TW_PG_CONNINFO")) > 0);
	PGconn *b = PQconnectdb(ci);
	cr_assert(PQstatus(b) == CONNECTION_OK);
	char err[256];
	cr_assert_eq(evaluator_try_lock(a, err, sizeof err), 1);
	cr_assert_eq(evaluator_try_lock(b, err, sizeof err), 0);
	cr_assert_eq(evaluator_try_lock(a, err, sizeof err), 1);  /* re-entrant for its holder */
	PQfinish(a);
	/* the session ended: the lock is free (once the backend has exited) */
	int held = 0;
	for (int i = 0; i < 200 && held != 1; i++) {
		held = evaluator_try_lock(b, err, sizeof err);
		if (held != 1)
			tw_sleep_ms(10);
	}
	cr_assert_eq(held, 1);
	PQfinish(b);
	free(ci);
}

Test(burn, evaluator_syncs_target_labels_from_results)
{
	PGconn *c = new_db("burn_sync");
	exec_ok(c, "INSERT INTO results (probe_id, seq, region, started_at, received_at, target, port, "
		   "sni, profile, service, labels, outcome) VALUES "
		   "('p', 1, 'eu', to_timestamp(%lld / 1000.0) - interval '2 minutes', now(), 'a.example', "
		   "443, NULL, 'default', 'shop', '{\"tier\": \"bronze\"}', 'ok'), "
		   "('p', 2, 'eu', to_timestamp(%lld / 1000.0) - interval '1 minute', now(), 'a.example', "
		   "443, NULL, 'default', 'shop', '{\"tier\": \"gold\"}', 'ok')", T0, T0);
	gen(c, "a.example", "eu", "shop", -60, 0, "10", "1", NULL);
	rebuild_1h(c);
	struct slo_config *cfg = cfg_of(
		"slos:\n"
		"  - {name: gold, sli: availability, objective: 99, window: 1h, "
		"selector: {labels: {tier: gold}}}\n");
	eval_at(c, cfg, T0);
	/* the latest labels win; sni NULL is stored as '' like the rollups */
	char *l = q_str(c, "SELECT labels->>'tier' FROM targets WHERE target = 'a.example' AND "
			   "port = 443 AND sni = ''");
	cr_assert_str_eq(l, "gold");
	free(l);
	struct burn_eval *e;
	char err[512];
	cr_assert_eq(burn_evaluate(c, cfg, T0, 0, &e, err, sizeof err), 0, "%s", err);
	cr_assert_eq(status_named(e, "gold", NULL)->nseries, 1);
	burn_eval_free(e);
	slo_config_free(cfg);
	PQfinish(c);
}

/* burn.c's one-pass query (hourly rows tagged by window) and sli_query
 * (per-window row selection) must count the same events for every window
 * at every minute of the hour. */
Test(burn, burn_query_agrees_with_sli_query)
{
	PGconn *c = new_db("burn_agree");
	gen(c, "a.example", "eu", "shop", -4 * 1440 - 90, 120, PAT_A, PAT_F, NULL);
	rebuild_1h(c);
	struct slo_config *cfg = cfg_of(
		"slos:\n"
		"  - {name: s, sli: availability, objective: 99.9, window: 4d, "
		"selector: {service: shop}}\n");
	char err[512];
	static const int offs[] = { 0, 1, 17, 59, 60, 61, 119 };
	for (size_t o = 0; o < sizeof offs / sizeof offs[0]; o++) {
		int64_t now = T0 + offs[o] * MIN_MS;
		struct burn_eval *e;
		cr_assert_eq(burn_evaluate(c, cfg, now, 0, &e, err, sizeof err), 0, "%s", err);
		const struct burn_status *st = status_named(e, "s", NULL);
		for (size_t i = 0; i < e->nwin; i++) {
			struct sli_window w;
			sli_window(now, e->window_ms[i], 0, &w);
			struct sli_values *v;
			size_t n;
			struct slo_selector sel = { .service = "shop" };
			cr_assert_eq(sli_query(c, &sel, &w, SLI_GROUP_NONE, &v, &n, err, sizeof err), 0,
				     "%s", err);
			cr_assert_eq(n, 1);
			long a = 0, f = 0;
			for (long m = (w.from_ms - T0) / MIN_MS; m < (w.to_ms - T0) / MIN_MS; m++)
				if (m >= -4 * 1440 - 90 && m < 120) {
					a += pat_a(m);
					f += pat_f(m);
				}
			cr_assert_eq(v[0].attempts, (uint64_t)a, "window %lld at +%d", (long long)e->window_ms[i], offs[o]);
			cr_assert_eq(st->win[i].events, (uint64_t)a, "window %lld at +%d: %llu != %ld",
				     (long long)e->window_ms[i], offs[o],
				     (unsigned long long)st->win[i].events, a);
			cr_assert_eq(st->win[i].bad, (uint64_t)f, "window %lld at +%d", (long long)e->window_ms[i], offs[o]);
			sli_values_free(v, n);
		}
		burn_eval_free(e);
	}
	slo_config_free(cfg);
	PQfinish(c);
}

Test(burn, alerts_of_a_removed_rule_or_slo_resolve)
{
	PGconn *c = new_db("burn_removed");
	incident(c);
	struct slo_config *cfg = cfg_of(
		"slos:\n"
		"  - name: shop\n"
		"    sli: availability\n"
		"    objective: 99.9\n"
		"    selector: {service: shop}\n"
		"    rules:\n"
		"      - {name: custom, severity: ticket, burn_rate: 2, long_window: 2h, "
		"short_window: 10m, resolve_after: 2}\n");
	eval_at(c, cfg, T0 + 5 * MIN_MS);
	char *s = state_of(c, "custom|shop|all");
	cr_assert_str_eq(s, "firing");
	free(s);
	slo_config_free(cfg);
	/* the SLO is gone from the file: no SLO at all any more */
	cfg = cfg_of("");
	eval_at(c, cfg, T0 + 6 * MIN_MS);
	s = state_of(c, "custom|shop|all");
	cr_assert_str_eq(s, "firing");     /* 1 clean evaluation of 2 */
	free(s);
	eval_at(c, cfg, T0 + 7 * MIN_MS);
	s = state_of(c, "custom|shop|all");
	cr_assert_str_eq(s, "resolved");
	free(s);
	/* the default fast page (fired at 5) resolves at its 3rd clean evaluation */
	s = state_of(c, "slo_burn_fast|shop|all");
	cr_assert_str_eq(s, "firing");
	free(s);
	eval_at(c, cfg, T0 + 8 * MIN_MS);
	s = state_of(c, "slo_burn_fast|shop|all");
	cr_assert_str_eq(s, "resolved");
	free(s);
	cr_assert_eq(q_int(c, "SELECT count(*) FROM notification_outbox WHERE action = 'resolve'"),
		     q_int(c, "SELECT count(*) FROM notification_outbox WHERE action = 'trigger'"));
	slo_config_free(cfg);
	PQfinish(c);
}

/* An SLO pooled over regions (region_group "all") names the regions that
 * fail in the short window; its notification says "eu", not "all". */
Test(burn, pooled_alert_names_the_failing_regions)
{
	PGconn *c = new_db("burn_regions");
	gen(c, "a.example", "eu", "shop", -1440, 10, "20", "CASE WHEN m >= 0 THEN 20 ELSE 0 END", NULL);
	gen(c, "a.example", "us", "shop", -1440, 10, "20", "0", NULL);
	gen(c, "a.example", "ap", "shop", -1440, 10, "20", "CASE WHEN m = -30 THEN 1 ELSE 0 END", NULL);
	rebuild_1h(c);
	struct slo_config *cfg = cfg_of(
		"slos:\n"
		"  - {name: pooled, sli: availability, objective: 99.9, selector: {service: shop}}\n");
	for (int k = 0; k <= 3; k++)
		eval_at(c, cfg, T0 + k * MIN_MS);
	char *s = q_str(c, "SELECT state || ' ' || region_group || ' ' || regions::text FROM alerts "
			   "WHERE dedup_key = 'slo_burn_fast|pooled|all'");
	cr_assert_str_eq(s, "firing all {eu}");
	free(s);
	s = q_str(c, "SELECT payload->>'region_group' FROM notification_outbox WHERE "
		     "dedup_key = 'slo_burn_fast|pooled|all'");
	cr_assert_str_eq(s, "eu");
	free(s);
	slo_config_free(cfg);
	PQfinish(c);
}
