/*
 * test_rules_addr.c - addr_cert_mismatch (collector/rules_addr.h) against a
 * real PostgreSQL (test_rules_addr.sh): results with an address, as a probe
 * with `addresses: all` stores them, evaluated at an injected time.
 */
#define _GNU_SOURCE
#include "rules_env.h"

#define FPA "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa1"
#define FPB "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb2"
#define FPC "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc3"

static long long seq = 1;

/* One result a minute in (from, to] (relative to T0, s) of target at
 * address, serving before until switch_at and after from then on. */
static void addr_series(PGconn *c, const char *target, const char *region, const char *profile,
			const char *address, double from, double to, double switch_at,
			const char *before, const char *after)
{
	for (double t = from + MIN; t <= to; t += MIN) {
		double at = t - 7;
		exec_ok(c, "INSERT INTO results (probe_id, seq, region, started_at, received_at, "
			"target, port, address, profile, outcome, cert_not_after, fingerprint_sha256, "
			"labels) VALUES (%s, %lld, %s, %s, %s, %s, 443, %s, %s, 'ok', %s, %s, '{}')",
			lit(tw_fmt("p-%s", region)), seq++, lit(region), ts(at), ts(at + 0.5),
			lit(target), lit(address), lit(profile), ts(300 * DAY),
			lit(at >= switch_at ? after : before));
	}
}

#define NEVER 1e9

Test(rules_addr, stale_node_opens_a_ticket_naming_addresses_and_fingerprints)
{
	PGconn *c = new_db("ra_stale");
	struct slo_config cfg = cfg_default();
	/* lb: node .2 never got the new certificate */
	addr_series(c, "lb.example", "eu-west", "modern", "10.0.0.1", -100 * MIN, 0, NEVER, FPA, FPA);
	addr_series(c, "lb.example", "eu-west", "modern", "10.0.0.2", -100 * MIN, 0, NEVER, FPB, FPB);
	addr_series(c, "lb.example", "eu-west", "modern", "2001:db8::1", -100 * MIN, 0, NEVER, FPA,
		    FPA);
	/* same: every node serves one certificate */
	addr_series(c, "same.example", "eu-west", "modern", "10.0.1.1", -100 * MIN, 0, NEVER, FPA, FPA);
	addr_series(c, "same.example", "eu-west", "modern", "10.0.1.2", -100 * MIN, 0, NEVER, FPA, FPA);
	/* dual: each node serves an RSA certificate to one client and an ECDSA
	 * one to another - the same at every address, so no mismatch */
	addr_series(c, "dual.example", "eu-west", "modern", "10.0.2.1", -100 * MIN, 0, NEVER, FPA, FPA);
	addr_series(c, "dual.example", "eu-west", "legacy", "10.0.2.1", -100 * MIN, 0, NEVER, FPC, FPC);
	addr_series(c, "dual.example", "eu-west", "modern", "10.0.2.2", -100 * MIN, 0, NEVER, FPA, FPA);
	addr_series(c, "dual.example", "eu-west", "legacy", "10.0.2.2", -100 * MIN, 0, NEVER, FPC, FPC);
	/* rolling: node .2 got the new certificate 10 minutes ago, node .1 not
	 * yet - a deploy in progress, younger than fingerprint_for (30m) */
	addr_series(c, "rolling.example", "eu-west", "modern", "10.0.3.1", -100 * MIN, 0, NEVER, FPA,
		    FPA);
	addr_series(c, "rolling.example", "eu-west", "modern", "10.0.3.2", -100 * MIN, 0, -10 * MIN,
		    FPA, FPB);

	eval_at(c, 0, &cfg);
	expect_alerts(c, true, "addr_cert_mismatch addr_cert_mismatch:lb.example:443:all ticket firing");
	const char *k = "addr_cert_mismatch:lb.example:443:all";
	expect_field(c, k, "summary",
		     "lb.example:443 serves different certificates at different addresses (region "
		     "eu-west, profile modern, for 59m7s): 10.0.0.1 aaaaaaaaaaaaaaaa, 10.0.0.2 "
		     "bbbbbbbbbbbbbbbb, 2001:db8::1 aaaaaaaaaaaaaaaa");
	expect_field(c, k, "(details->'addresses'->1->>'address') || ' ' || "
		     "(details->'addresses'->1->>'fingerprint')", "10.0.0.2 " FPB);
	expect_field(c, k, "(details->>'fingerprints') || ' ' || (details->>'address_count')", "2 3");
	expect_field(c, k, "array_to_string(regions, ',') || ' ' || inhibit_group",
		     "eu-west certificate:lb.example:443");

	/* 25 minutes on the rolling deploy is stuck (35m > 30m) and lb's node
	 * .2 is fixed: rolling opens, lb resolves after resolve_after (3) */
	addr_series(c, "rolling.example", "eu-west", "modern", "10.0.3.1", 0, 25 * MIN, NEVER, FPA, FPA);
	addr_series(c, "rolling.example", "eu-west", "modern", "10.0.3.2", 0, 25 * MIN, NEVER, FPB, FPB);
	for (const char *a = "10.0.0.1"; a; a = strcmp(a, "10.0.0.1") == 0 ? "10.0.0.2" : NULL)
		addr_series(c, "lb.example", "eu-west", "modern", a, 0, 25 * MIN, NEVER, FPA, FPA);
	addr_series(c, "lb.example", "eu-west", "modern", "2001:db8::1", 0, 25 * MIN, NEVER, FPA, FPA);
	for (int i = 0; i < 3; i++)
		eval_at(c, 25 * MIN + i * MIN, &cfg);
	expect_alerts(c, true,
		      "addr_cert_mismatch addr_cert_mismatch:lb.example:443:all ticket resolved\n"
		      "addr_cert_mismatch addr_cert_mismatch:rolling.example:443:all ticket firing");
	expect_field(c, "addr_cert_mismatch:rolling.example:443:all", "details->>'diverging_since'",
		     "2026-11-24T11:50:53Z");
	PQfinish(c);
}

/* Per region: geo-DNS hands each region its own address (and here its own
 * certificate); that is cert_fingerprint_drift's business, not this rule's.
 * Disabled with alerts.drift, the rule still resolves what it opened. */
Test(rules_addr, per_region_and_disabled)
{
	PGconn *c = new_db("ra_region");
	struct slo_config cfg = cfg_default();
	addr_series(c, "geo.example", "eu-west", "modern", "10.1.0.1", -100 * MIN, 0, NEVER, FPA, FPA);
	addr_series(c, "geo.example", "us-east", "modern", "10.2.0.1", -100 * MIN, 0, NEVER, FPB, FPB);
	addr_series(c, "lb.example", "us-east", "modern", "10.0.0.1", -100 * MIN, 0, NEVER, FPA, FPA);
	addr_series(c, "lb.example", "us-east", "modern", "10.0.0.2", -100 * MIN, 0, NEVER, FPB, FPB);
	eval_at(c, 0, &cfg);
	expect_alerts(c, true,
		      "addr_cert_mismatch addr_cert_mismatch:lb.example:443:all ticket firing\n"
		      "cert_fingerprint_drift cert_fingerprint_drift:geo.example:443:all ticket firing");
	expect_field(c, "addr_cert_mismatch:lb.example:443:all", "array_to_string(regions, ',')",
		     "us-east");
	cfg.alerts.drift.c.enabled = false;
	for (int i = 1; i <= 3; i++)
		eval_at(c, i * MIN, &cfg);
	expect_alerts(c, false, "");
	PQfinish(c);
}
