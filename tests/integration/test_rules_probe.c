/*
 * test_rules_probe.c - the alert rules about probes (collector/rules_probe.h:
 * probe_silent, clock_skew, probe_dropping) against a real PostgreSQL
 * started by tests/integration/test_rules_probe.sh. Helpers and the shape
 * of every test: rules_env.h.
 */
#define _GNU_SOURCE
#include "rules_env.h"

TestSuite(rules_probe, .timeout = 120);

/* What probe id's last heartbeat said of its spool (sql/006_probe_spool.sql):
 * dropped_at relative to T0 (s), NONE: never dropped. */
static void set_spool(PGconn *c, const char *id, long long dropped_total, double dropped_at,
		      long long records, long long bytes)
{
	exec_ok(c,
		"UPDATE probes SET dropped_total = %lld, dropped_at = %s, spool_records = %lld, "
		"spool_bytes = %lld, overdue_total = 0, counters_at = last_seen WHERE probe_id = %s",
		dropped_total, dropped_at == NONE ? "NULL" : ts(dropped_at), records, bytes, lit(id));
}

/* --------------------------------------------------------- probe silent */

Test(rules_probe, probe_silent_interval_boundary)
{
	PGconn *c = new_db("rp_silent");
	struct slo_config cfg = cfg_default();
	/* p1: smallest interval 60 s among its results; last seen exactly 3 intervals ago */
	add_probe(c, "p1", "eu-west", -180, 3, 0);
	struct res a = { .probe = "p1", .target = "t.example", .at = -200, .interval_ms = 120000 };
	struct res b = { .probe = "p1", .target = "u.example", .at = -190, .interval_ms = 60000 };
	struct res d = { .probe = "p1", .target = "u.example", .at = -185, .interval_ms = 120000 };
	a.leaf_na = b.leaf_na = d.leaf_na = a.chain_na = b.chain_na = d.chain_na = NONE;
	next_seq = 1;
	add_result(c, &a);
	add_result(c, &b);
	add_result(c, &d);
	/* p2: the same, one second later */
	add_probe(c, "p2", "us-east", -181, 2, 0);
	struct res e = { .probe = "p2", .region = "us-east", .target = "t.example", .at = -200,
			 .interval_ms = 60000, .leaf_na = NONE, .chain_na = NONE };
	next_seq = 1;
	add_result(c, &e);
	next_seq = 2;
	e.at = -190;
	add_result(c, &e);
	/* p3: never sent a result: the default 60 s interval */
	add_probe(c, "p3", "ap-south", -200, -1, 0);
	/* p4: probes every 5 minutes, quiet for 10: fine */
	add_probe(c, "p4", "eu-west", -600, 1, 0);
	struct res f = { .probe = "p4", .target = "t.example", .at = -610, .interval_ms = 300000,
			 .leaf_na = NONE, .chain_na = NONE };
	next_seq = 1;
	add_result(c, &f);
	/* p6: its interval is taken from its last 1000 results (by seq): an old
	 * 10 s result no longer counts, the current 5 min interval does */
	add_probe(c, "p6", "eu-west", -600, 1500, 0);
	struct res g = { .probe = "p6", .target = "t.example", .at = -DAY, .interval_ms = 10000,
			 .leaf_na = NONE, .chain_na = NONE };
	next_seq = 1;
	add_result(c, &g);
	g.at = -610;
	g.interval_ms = 300000;
	next_seq = 1500;
	add_result(c, &g);
	/* p5: last seen after the evaluation time */
	add_probe(c, "p5", "eu-west", 30, -1, 0);
	eval_at(c, 0, &cfg);
	expect_alerts(c, true,
		      "probe_silent probe_silent:p2:us-east ticket firing\n"
		      "probe_silent probe_silent:p3:ap-south ticket firing");
	expect_field(c, "probe_silent:p2:us-east", "summary",
		     "probe p2 (us-east) silent for 3m1s (last seen 2026-11-24T11:56:59Z), "
		     "more than 3 x its 1m probing interval");
	expect_field(c, "probe_silent:p3:ap-south",
		     "(details->>'interval_known') || ' ' || (details->>'interval_ms')",
		     "false 60000");
	/* one second later p1 is silent too */
	eval_at(c, 1, &cfg);
	expect_alerts(c, false,
		      "probe_silent probe_silent:p1:eu-west ticket firing\n"
		      "probe_silent probe_silent:p2:us-east ticket firing\n"
		      "probe_silent probe_silent:p3:ap-south ticket firing");
	PQfinish(c);
}

/* ----------------------------------------------------------- clock skew */

Test(rules_probe, clock_skew_threshold)
{
	PGconn *c = new_db("rp_skew");
	struct slo_config cfg = cfg_default();
	add_probe(c, "ok", "eu-west", -1, -1, 1999);
	add_probe(c, "edge", "eu-west", -1, -1, -2000);
	add_probe(c, "fast", "us-east", -1, -1, 2001);
	add_probe(c, "slow", "ap-south", -1, -1, -2500);
	eval_at(c, 0, &cfg);
	expect_alerts(c, true,
		      "clock_skew clock_skew:fast:us-east ticket firing\n"
		      "clock_skew clock_skew:slow:ap-south ticket firing");
	expect_field(c, "clock_skew:slow:ap-south", "summary",
		     "probe slow (ap-south) clock is 2.5s behind the collector's (max 2s): its "
		     "certificate expiry and validity results are suspect");
	expect_field(c, "clock_skew:fast:us-east", "summary || ' ' || value",
		     "probe fast (us-east) clock is 2s ahead of the collector's (max 2s): its "
		     "certificate expiry and validity results are suspect 2001");
	PQfinish(c);
}

Test(rules_probe, disabled_rule_resolves_its_alerts)
{
	PGconn *c = new_db("rp_disabled");
	struct slo_config cfg = cfg_default();
	cfg.alerts.clock_skew.c.resolve_after = 2;
	add_probe(c, "fast", "us-east", -1, -1, 5000);
	eval_at(c, 0, &cfg);
	expect_alerts(c, true, "clock_skew clock_skew:fast:us-east ticket firing");
	cfg.alerts.clock_skew.c.enabled = false;
	eval_at(c, 60, &cfg);
	expect_alerts(c, true, "clock_skew clock_skew:fast:us-east ticket firing");
	eval_at(c, 120, &cfg);
	expect_alerts(c, true, "clock_skew clock_skew:fast:us-east ticket resolved");
	PQfinish(c);
}

/* ------------------------------------------------------- probe dropping */

Test(rules_probe, probe_dropping_recent_only_resolves_after_the_window)
{
	PGconn *c = new_db("rp_dropping");
	struct slo_config cfg = cfg_default();
	/* only this rule: the probes below stop reporting after T0 */
	cfg.alerts.probe_silent.c.enabled = false;
	cfg.alerts.clock_skew.c.enabled = false;
	add_probe(c, "recent", "eu-west", -30, -1, 0);
	set_spool(c, "recent", 42, -10 * MIN, 812, 10485760);
	add_probe(c, "old", "us-east", -30, -1, 0);
	set_spool(c, "old", 7, -61 * MIN, 3, 4096);
	/* exactly one window ago: the window is (now - 1h, now] */
	add_probe(c, "edge", "us-east", -30, -1, 0);
	set_spool(c, "edge", 9, -HOUR, 3, 4096);
	add_probe(c, "never", "ap-south", -30, -1, 0);
	set_spool(c, "never", 0, NONE, 0, 0);
	/* a heartbeat stored after the evaluation time is not seen by it */
	add_probe(c, "later", "ap-south", 30, -1, 0);
	set_spool(c, "later", 5, 30, 100, 65536);

	eval_at(c, 0, &cfg);
	expect_alerts(c, true, "probe_dropping probe_dropping:recent:eu-west ticket firing");
	expect_field(c, "probe_dropping:recent:eu-west", "summary",
		     "probe recent (eu-west) is dropping results: 42 dropped since the probe "
		     "started, new drops last seen 2026-11-24T11:50:00Z (10m ago); spool holds 812 "
		     "unacked results (10 MB); dropped results are lost for good");
	expect_field(c, "probe_dropping:recent:eu-west",
		     "labels::text || ' ' || subject || ' ' || region_group || ' ' || value",
		     "{\"probe\": \"recent\", \"region\": \"eu-west\"} recent eu-west 42");
	expect_field(c, "probe_dropping:recent:eu-west",
		     "concat_ws(' ', details->>'dropped_total', details->>'spool_records', "
		     "details->>'spool_bytes', details->>'dropped_at', details->>'window_ms')",
		     "42 812 10485760 2026-11-24T11:50:00Z 3600000");

	/* the later heartbeat counts once the evaluation time reaches it */
	eval_at(c, MIN, &cfg);
	expect_alerts(c, true,
		      "probe_dropping probe_dropping:later:ap-south ticket firing\n"
		      "probe_dropping probe_dropping:recent:eu-west ticket firing");
	/* recent's last drops leave the window at +50m: three clean evaluations
	 * (resolve_after 3) resolve it */
	eval_at(c, 50 * MIN - 1, &cfg);
	expect_alerts(c, false,
		      "probe_dropping probe_dropping:later:ap-south ticket firing\n"
		      "probe_dropping probe_dropping:recent:eu-west ticket firing");
	eval_at(c, 50 * MIN, &cfg);
	eval_at(c, 51 * MIN, &cfg);
	expect_field(c, "probe_dropping:recent:eu-west", "state || ' ' || clean_evals", "firing 2");
	eval_at(c, 52 * MIN, &cfg);
	expect_alerts(c, true,
		      "probe_dropping probe_dropping:later:ap-south ticket firing\n"
		      "probe_dropping probe_dropping:recent:eu-west ticket resolved");
	/* new drops open a new alert */
	set_spool(c, "recent", 50, 53 * MIN, 900, 11534336);
	eval_at(c, 53 * MIN, &cfg);
	expect_alerts(c, true,
		      "probe_dropping probe_dropping:later:ap-south ticket firing\n"
		      "probe_dropping probe_dropping:recent:eu-west ticket resolved\n"
		      "probe_dropping probe_dropping:recent:eu-west ticket firing");
	expect_field(c, "probe_dropping:recent:eu-west", "value", "50");
	PQfinish(c);
}

/* alerts.probe_dropping from slos.yaml: its window and resolve_after are
 * the ones used; enabled: false resolves what is open. */
Test(rules_probe, probe_dropping_config_window_and_disable)
{
	PGconn *c = new_db("rp_dropping_cfg");
	static const char yaml[] = "alerts:\n"
				   "  probe_silent: {enabled: false}\n"
				   "  probe_dropping: {window: 10m, resolve_after: 1}\n";
	char err[512] = "";
	struct slo_config *cfg = slo_config_load_string("s.yaml", yaml, strlen(yaml), err, sizeof err);
	cr_assert(cfg, "%s", err);
	add_probe(c, "a", "eu-west", -30, -1, 0);
	set_spool(c, "a", 3, -9 * MIN, 10, 2048);
	add_probe(c, "b", "eu-west", -30, -1, 0);
	set_spool(c, "b", 3, -11 * MIN, 10, 2048);
	eval_at(c, 0, cfg);
	expect_alerts(c, true, "probe_dropping probe_dropping:a:eu-west ticket firing");
	expect_field(c, "probe_dropping:a:eu-west", "resolve_after", "1");
	cfg->alerts.probe_dropping.c.enabled = false;
	eval_at(c, 1, cfg);
	expect_alerts(c, true, "probe_dropping probe_dropping:a:eu-west ticket resolved");
	slo_config_free(cfg);
	PQfinish(c);
}

/* The loader's defaults (no slo_file): enabled, a 1h window. */
Test(rules_probe, probe_dropping_loader_defaults)
{
	PGconn *c = new_db("rp_dropping_def");
	struct slo_config *cfg = slo_config_new_default();
	cr_assert(cfg);
	cr_assert(cfg->alerts.probe_dropping.c.enabled);
	cr_assert_eq(cfg->alerts.probe_dropping.window_ms, 3600000);
	add_probe(c, "in", "eu-west", -1, -1, 0);
	set_spool(c, "in", 1, -59 * MIN, 1, 512);
	add_probe(c, "out", "eu-west", -1, -1, 0);
	set_spool(c, "out", 1, -61 * MIN, 1, 512);
	eval_at(c, 0, cfg);
	expect_alerts(c, true, "probe_dropping probe_dropping:in:eu-west ticket firing");
	expect_field(c, "probe_dropping:in:eu-west", "resolve_after", "3");
	slo_config_free(cfg);
	PQfinish(c);
}

/* ---------------------------------------------------------------- misc */

Test(rules_probe, errors)
{
	PGconn *c = new_db("rp_misc");
	char err[256] = "";
	struct slo_config cfg = cfg_default();
	cr_assert_eq(rules_probe_eval(c, T0_MS, &cfg, NULL, err, sizeof err), -1);
	cr_assert(strstr(err, "missing"), "%s", err);
	/* an SQL error aborts the evaluation with the rule's name and the message */
	exec_ok(c, "ALTER TABLE probes RENAME COLUMN clock_offset_ms TO x");
	struct alerts_run *run = alerts_begin(c, T0_MS, "http://t/", err, sizeof err);
	cr_assert(run, "%s", err);
	cr_assert_eq(rules_probe_eval(c, T0_MS, &cfg, run, err, sizeof err), -1);
	cr_assert(strstr(err, "rule clock_skew: ") && strstr(err, "clock_offset_ms"), "%s", err);
	alerts_abort(run);
	PQfinish(c);
}
