/*
 * test_rules_other.c - the alert rules about targets (collector/rules_other.h)
 * against a real PostgreSQL started by tests/integration/test_rules_other.sh.
 * Helpers and the shape of every test: rules_env.h.
 */
#define _GNU_SOURCE
#include "rules_env.h"

TestSuite(rules_other, .timeout = 120);

/* A certificate observation (leaf not_after leaf_na, chain as given). */
static void cert_obs(PGconn *c, const char *target, const char *region, double at, const char *fp,
		     double leaf_na, double chain_na, int depth)
{
	struct res r = { .region = region, .target = target, .at = at, .fp = fp,
			 .leaf_na = leaf_na, .chain_na = chain_na, .chain_depth = depth,
			 .tls_version = "TLSv1.3", .cipher = "TLS_AES_256_GCM_SHA384" };
	add_result(c, &r);
}

/* ---------------------------------------------------------- cert expiry */

Test(rules_other, cert_expiry_tiers_and_boundaries)
{
	PGconn *c = new_db("ro_cert_tiers");
	struct slo_config cfg = cfg_default();
	const char *regions[] = { "eu-west", "us-east" };
	for (int i = 0; i < 2; i++) {
		/* leaf 30d + 1h away: no ticket */
		cert_obs(c, "a.example", regions[i], -5 * MIN, "fa", 30 * DAY + HOUR, NONE, 0);
		/* 29d: 30d ticket */
		cert_obs(c, "b.example", regions[i], -5 * MIN, "fb", 29 * DAY, NONE, 0);
		/* 6d: 30d and 7d tickets */
		cert_obs(c, "c.example", regions[i], -5 * MIN, "fc", 6 * DAY, NONE, 0);
		/* 23h: every tier, the 24h one pages */
		cert_obs(c, "d.example", regions[i], -5 * MIN, "fd", 23 * HOUR, NONE, 0);
	}
	/* leaf fine for a year, the intermediate (depth 1) expires in 20 days */
	cert_obs(c, "e.example", "eu-west", -5 * MIN, "fe", 365 * DAY, 20 * DAY, 1);
	/* chain_not_after_min at depth 0 is the leaf itself: a leaf alert */
	cert_obs(c, "f.example", "eu-west", -5 * MIN, "ff", 10 * DAY, 10 * DAY, 0);
	/* an observation older than the current window (1 h) no longer counts */
	cert_obs(c, "g.example", "eu-west", -HOUR - MIN, "fg", 2 * DAY, NONE, 0);
	/* a measurement after the evaluation time is not seen yet */
	cert_obs(c, "h.example", "eu-west", 5 * MIN, "fh", 2 * DAY, NONE, 0);
	/* exactly 7 days: the boundary is inclusive (notAfter <= now + 7d) */
	cert_obs(c, "j.example", "eu-west", -MIN, "fj", 7 * DAY, NONE, 0);
	/* already expired: counts for every tier */
	cert_obs(c, "i.example", "us-east", -MIN, "fi", -2 * DAY, NONE, 0);

	eval_at(c, 0, &cfg);
	expect_alerts(c, true,
		      "cert_expiry_24h cert_expiry_24h:d.example:443:all page firing\n"
		      "cert_expiry_24h cert_expiry_24h:i.example:443:all page firing\n"
		      "cert_expiry_30d cert_expiry_30d:b.example:443:all ticket firing\n"
		      "cert_expiry_30d cert_expiry_30d:c.example:443:all ticket firing\n"
		      "cert_expiry_30d cert_expiry_30d:d.example:443:all ticket firing\n"
		      "cert_expiry_30d cert_expiry_30d:e.example:443:all ticket firing\n"
		      "cert_expiry_30d cert_expiry_30d:f.example:443:all ticket firing\n"
		      "cert_expiry_30d cert_expiry_30d:i.example:443:all ticket firing\n"
		      "cert_expiry_30d cert_expiry_30d:j.example:443:all ticket firing\n"
		      "cert_expiry_7d cert_expiry_7d:c.example:443:all ticket firing\n"
		      "cert_expiry_7d cert_expiry_7d:d.example:443:all ticket firing\n"
		      "cert_expiry_7d cert_expiry_7d:i.example:443:all ticket firing\n"
		      "cert_expiry_7d cert_expiry_7d:j.example:443:all ticket firing");

	expect_field(c, "cert_expiry_30d:b.example:443:all", "summary",
		     "b.example:443 leaf certificate expires in 29.0 days (2026-12-23T12:00:00Z), "
		     "served in eu-west, us-east");
	expect_field(c, "cert_expiry_24h:d.example:443:all", "summary",
		     "d.example:443 leaf certificate expires in 23.0 hours (2026-11-25T11:00:00Z), "
		     "served in eu-west, us-east");
	expect_field(c, "cert_expiry_30d:e.example:443:all", "summary",
		     "e.example:443 chain certificate (depth 1) expires in 20.0 days "
		     "(2026-12-14T12:00:00Z), served in eu-west");
	expect_field(c, "cert_expiry_30d:f.example:443:all", "summary",
		     "f.example:443 leaf certificate expires in 10.0 days (2026-12-04T12:00:00Z), "
		     "served in eu-west");
	expect_field(c, "cert_expiry_30d:i.example:443:all", "summary",
		     "i.example:443 leaf certificate expired 2.0 days ago (2026-11-22T12:00:00Z), "
		     "served in us-east");
	expect_field(c, "cert_expiry_30d:e.example:443:all",
		     "details->>'certificate' || ' ' || (details->>'depth') || ' ' || "
		     "(details->>'threshold') || ' ' || (details->>'leaf_not_after') || ' ' || "
		     "jsonb_array_length(details->'served')",
		     "chain 1 30d 2027-11-24T12:00:00Z 1");
	expect_field(c, "cert_expiry_7d:c.example:443:all",
		     "round(value::numeric, 3) || ' ' || target || ' ' || (labels->>'expiry_tier')",
		     "6.000 c.example:443 7d");
	PQfinish(c);
}

/* The shipped probe example labels targets with `tier`; the expiry rule's own
 * label used to overwrite it (and `target`) in the alert and the webhook
 * payload. Rule-made labels never clobber the target's labels. */
Test(rules_other, cert_expiry_keeps_the_targets_own_labels)
{
	PGconn *c = new_db("ro_cert_labels");
	struct slo_config cfg = cfg_default();
	struct res r = { .target = "l.example", .at = -MIN, .fp = "fl", .leaf_na = 5 * DAY,
			 .chain_na = NONE, .tls_version = "TLSv1.3",
			 .labels = "{\"team\": \"web\", \"tier\": \"1\", \"target\": \"frontend\"}" };
	add_result(c, &r);
	eval_at(c, 0, &cfg);
	const char *want = "web 1 frontend 7d";
	expect_field(c, "cert_expiry_7d:l.example:443:all",
		     "concat_ws(' ', labels->>'team', labels->>'tier', labels->>'target', "
		     "labels->>'expiry_tier')", want);
	expect_field(c, "cert_expiry_30d:l.example:443:all",
		     "concat_ws(' ', labels->>'team', labels->>'tier', labels->>'target', "
		     "labels->>'expiry_tier')", "web 1 frontend 30d");
	/* what the receivers get: the webhook payload's labels */
	char *got = q_str(c, "SELECT concat_ws(' ', payload->'labels'->>'team', "
			     "payload->'labels'->>'tier', payload->'labels'->>'target', "
			     "payload->'labels'->>'expiry_tier') FROM notification_outbox "
			     "WHERE dedup_key = 'cert_expiry_7d:l.example:443:all'");
	cr_assert_str_eq(got, want);
	free(got);
	/* a target without labels still gets the rule's own */
	cert_obs(c, "m.example", "eu-west", -MIN, "fm", 5 * DAY, NONE, 0);
	eval_at(c, MIN, &cfg);
	expect_field(c, "cert_expiry_7d:m.example:443:all",
		     "concat_ws(' ', labels->>'target', labels->>'expiry_tier')", "m.example:443 7d");
	PQfinish(c);
}

Test(rules_other, cert_expiry_rotation_resolves_after_clean_evaluations)
{
	PGconn *c = new_db("ro_cert_rotation");
	struct slo_config cfg = cfg_default();
	cert_obs(c, "r.example", "eu-west", -MIN, "old", 5 * DAY, NONE, 0);
	cert_obs(c, "r.example", "us-east", -MIN, "old", 5 * DAY, NONE, 0);
	eval_at(c, 0, &cfg);
	expect_alerts(c, true,
		      "cert_expiry_30d cert_expiry_30d:r.example:443:all ticket firing\n"
		      "cert_expiry_7d cert_expiry_7d:r.example:443:all ticket firing");

	/* partial rotation: eu-west serves the new certificate, us-east the old */
	cert_obs(c, "r.example", "eu-west", 1 * MIN, "new", 365 * DAY, NONE, 0);
	eval_at(c, 2 * MIN, &cfg);
	expect_field(c, "cert_expiry_7d:r.example:443:all", "state || ' ' || summary",
		     "firing r.example:443 leaf certificate expires in 5.0 days "
		     "(2026-11-29T12:00:00Z), served in us-east");

	/* rotated everywhere: clean from now on; resolves at the 3rd clean evaluation */
	cert_obs(c, "r.example", "us-east", 3 * MIN, "new", 365 * DAY, NONE, 0);
	eval_at(c, 4 * MIN, &cfg);
	eval_at(c, 5 * MIN, &cfg);
	expect_alerts(c, false,
		      "cert_expiry_30d cert_expiry_30d:r.example:443:all ticket firing\n"
		      "cert_expiry_7d cert_expiry_7d:r.example:443:all ticket firing");
	eval_at(c, 6 * MIN, &cfg);
	expect_alerts(c, true,
		      "cert_expiry_30d cert_expiry_30d:r.example:443:all ticket resolved\n"
		      "cert_expiry_7d cert_expiry_7d:r.example:443:all ticket resolved");
	PQfinish(c);
}

Test(rules_other, cert_expiry_sni_subject_and_custom_tiers)
{
	PGconn *c = new_db("ro_cert_sni");
	struct slo_config cfg = cfg_default();
	cfg.alerts.cert_expiry.ticket_days[0] = 14;
	cfg.alerts.cert_expiry.nticket_days = 1;
	cfg.alerts.cert_expiry.page_hours = 48;
	/* the same host:port probed with another SNI name is another subject */
	struct res r = { .target = "lb.example", .port = 8443, .sni = "api.example", .at = -MIN,
			 .fp = "s1", .leaf_na = 10 * DAY, .chain_na = NONE };
	add_result(c, &r);
	struct res r2 = { .target = "lb.example", .port = 8443, .sni = "lb.example", .at = -MIN,
			  .fp = "s2", .leaf_na = 40 * HOUR, .chain_na = NONE };
	add_result(c, &r2);
	eval_at(c, 0, &cfg);
	expect_alerts(c, true,
		      "cert_expiry_14d cert_expiry_14d:lb.example:8443/api.example:all ticket firing\n"
		      "cert_expiry_14d cert_expiry_14d:lb.example:8443:all ticket firing\n"
		      "cert_expiry_48h cert_expiry_48h:lb.example:8443:all page firing");
	expect_field(c, "cert_expiry_14d:lb.example:8443/api.example:all", "target",
		     "lb.example:8443");
	PQfinish(c);
}

/* ------------------------------------------------------------ mTLS mass */

static void mtls_target(PGconn *c, const char *target, const char *region, double bucket,
			long attempts, long failures)
{
	struct roll r = { .bucket = bucket, .target = target, .region = region, .service = "pay",
			  .attempts = attempts, .mtls_attempts = attempts,
			  .mtls_failures = failures };
	add_rollup(c, &r);
}

Test(rules_other, mtls_mass_failure_at_threshold_pages)
{
	PGconn *c = new_db("ro_mtls_at");
	struct slo_config cfg = cfg_default();
	/* three targets at exactly the ratio (0.5), pooled over the window's buckets */
	mtls_target(c, "m1.example", "eu-west", -10 * MIN, 2, 1);
	mtls_target(c, "m1.example", "eu-west", -1 * MIN, 2, 1);
	mtls_target(c, "m2.example", "us-east", -5 * MIN, 4, 2);
	/* m3 fails in one region only (a regional client-certificate problem counts) */
	mtls_target(c, "m3.example", "us-east", -5 * MIN, 4, 4);
	mtls_target(c, "m3.example", "eu-west", -5 * MIN, 4, 0);
	/* a healthy mTLS target */
	mtls_target(c, "m4.example", "eu-west", -5 * MIN, 4, 0);
	eval_at(c, 0, &cfg);
	expect_alerts(c, true, "mtls_mass_failure mtls_mass_failure:mtls:all page firing");
	expect_field(c, "mtls_mass_failure:mtls:all", "summary",
		     "mTLS failing on 3 of 4 targets probed with a client certificate "
		     "(failure ratio >= 0.5 over 10m) in eu-west, us-east");
	expect_field(c, "mtls_mass_failure:mtls:all",
		     "service || ' ' || (details->>'failing_targets') || ' ' || "
		     "(details->'failing_per_region')::text",
		     "pay 3 {\"eu-west\": 1, \"us-east\": 2}");
	PQfinish(c);
}

Test(rules_other, mtls_mass_failure_below_threshold_is_quiet)
{
	PGconn *c = new_db("ro_mtls_below");
	struct slo_config cfg = cfg_default();
	mtls_target(c, "m1.example", "eu-west", -5 * MIN, 10, 10);
	mtls_target(c, "m2.example", "eu-west", -5 * MIN, 10, 9);
	/* just below the ratio */
	mtls_target(c, "m3.example", "eu-west", -5 * MIN, 100, 49);
	/* failing, but in a bucket before the window (buckets in [now - 10m, now)) */
	mtls_target(c, "m4.example", "eu-west", -11 * MIN, 10, 10);
	/* failing, but in the bucket starting at now (not yet complete / after now) */
	mtls_target(c, "m5.example", "eu-west", 0, 10, 10);
	/* failures without mTLS attempts are not mTLS failures */
	struct roll r = { .bucket = -5 * MIN, .target = "m6.example", .attempts = 10 };
	add_rollup(c, &r);
	eval_at(c, 0, &cfg);
	expect_alerts(c, true, "");

	/* one more failing target in the window makes it three */
	mtls_target(c, "m6.example", "ap-south", -2 * MIN, 3, 2);
	eval_at(c, 0, &cfg);
	expect_alerts(c, true, "mtls_mass_failure mtls_mass_failure:mtls:all page firing");
	PQfinish(c);
}

/* --------------------------------------------------------- SNI mismatch */

Test(rules_other, sni_mismatch_min_events)
{
	PGconn *c = new_db("ro_sni");
	struct slo_config cfg = cfg_default();
	/* x: 2 mismatches, below min_events 3 */
	struct roll x = { .bucket = -10 * MIN, .target = "x.example", .sni = "x.example",
			  .attempts = 10, .sni_mismatch = 2 };
	add_rollup(c, &x);
	/* y: 2 + 1 over two regions and two profiles = 3 */
	struct roll y1 = { .bucket = -30 * MIN, .target = "y.example", .sni = "www.y.example",
			   .region = "eu-west", .service = "web", .attempts = 10,
			   .sni_mismatch = 2 };
	struct roll y2 = { .bucket = -59 * MIN, .target = "y.example", .sni = "www.y.example",
			   .region = "us-east", .profile = "legacy", .attempts = 10,
			   .sni_mismatch = 1 };
	add_rollup(c, &y1);
	add_rollup(c, &y2);
	/* z: plenty, but 61 minutes ago */
	struct roll z = { .bucket = -61 * MIN, .target = "z.example", .attempts = 10,
			  .sni_mismatch = 10 };
	add_rollup(c, &z);
	eval_at(c, 0, &cfg);
	expect_alerts(c, true, "sni_mismatch sni_mismatch:y.example:443/www.y.example:all ticket firing");
	expect_field(c, "sni_mismatch:y.example:443/www.y.example:all",
		     "summary || ' / ' || service || ' / ' || (labels->>'sni')",
		     "y.example:443/www.y.example certificate does not match the name sent: 3 of 20 "
		     "handshakes in the last 1h (eu-west, us-east) / web / www.y.example");

	/* a minute later the us-east bucket left the window: 2 < 3, clean */
	eval_at(c, 1.5 * MIN, &cfg);
	expect_field(c, "sni_mismatch:y.example:443/www.y.example:all", "state || ' ' || clean_evals",
		     "firing 1");
	PQfinish(c);
}

/* ---------------------------------------------------- fingerprint drift */

/* One result per minute per region in (T0 + from, T0 + to]; fp_of(t) picks the fingerprint. */
static void fp_series(PGconn *c, const char *target, const char *region, const char *profile,
		      double from, double to, double switch_at, const char *before,
		      const char *after)
{
	for (double t = from + MIN; t <= to; t += MIN) {
		struct res r = { .region = region, .target = target, .profile = profile, .at = t - 7,
				 .fp = t - 7 >= switch_at ? after : before, .leaf_na = 300 * DAY,
				 .chain_na = NONE };
		add_result(c, &r);
	}
}

#define FPA "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa1"
#define FPB "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb2"
#define FPC "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc3"

Test(rules_other, fingerprint_drift_shorter_vs_longer)
{
	PGconn *c = new_db("ro_fp_drift");
	struct slo_config cfg = cfg_default();
	/* short: us-east serves B since 20 minutes ago, eu-west A */
	fp_series(c, "short.example", "eu-west", "modern", -100 * MIN, 0, 1e9, FPA, FPA);
	fp_series(c, "short.example", "us-east", "modern", -100 * MIN, 0, -20 * MIN, FPA, FPB);
	/* long: since 40 minutes ago */
	fp_series(c, "long.example", "eu-west", "modern", -100 * MIN, 0, 1e9, FPA, FPA);
	fp_series(c, "long.example", "us-east", "modern", -100 * MIN, 0, -40 * MIN, FPA, FPB);
	/* dual certificates by profile, the same everywhere: no drift */
	fp_series(c, "dual.example", "eu-west", "modern", -100 * MIN, 0, 1e9, FPA, FPA);
	fp_series(c, "dual.example", "us-east", "modern", -100 * MIN, 0, 1e9, FPA, FPA);
	fp_series(c, "dual.example", "eu-west", "legacy", -100 * MIN, 0, 1e9, FPC, FPC);
	fp_series(c, "dual.example", "us-east", "legacy", -100 * MIN, 0, 1e9, FPC, FPC);
	/* rotated in both regions 5 minutes apart, 45 minutes ago: agreed since */
	fp_series(c, "rot.example", "eu-west", "modern", -100 * MIN, 0, -50 * MIN, FPA, FPB);
	fp_series(c, "rot.example", "us-east", "modern", -100 * MIN, 0, -45 * MIN, FPA, FPB);
	/* differed for 55 minutes, agreed for 10, differs again for 25: the
	 * divergence counts from its latest start */
	fp_series(c, "flap.example", "eu-west", "modern", -100 * MIN, 0, 1e9, FPA, FPA);
	fp_series(c, "flap.example", "us-east", "modern", -90 * MIN, -35 * MIN, 1e9, FPB, FPB);
	fp_series(c, "flap.example", "us-east", "modern", -35 * MIN, 0, -25 * MIN, FPA, FPB);
	/* a region that stopped probing 70 minutes ago no longer counts */
	fp_series(c, "gone.example", "eu-west", "modern", -100 * MIN, 0, 1e9, FPA, FPA);
	fp_series(c, "gone.example", "ap-south", "modern", -100 * MIN, -70 * MIN, 1e9, FPB, FPB);

	eval_at(c, 0, &cfg);
	expect_alerts(c, true,
		      "cert_fingerprint_drift cert_fingerprint_drift:long.example:443:all ticket firing");
	expect_field(c, "cert_fingerprint_drift:long.example:443:all", "summary",
		     "long.example:443 serves different certificates in different regions for "
		     "39m7s (profile modern): eu-west aaaaaaaaaaaaaaaa, us-east bbbbbbbbbbbbbbbb");
	expect_field(c, "cert_fingerprint_drift:long.example:443:all",
		     "(details->'regions'->>'us-east') || ' ' || (details->>'diverging_since')",
		     FPB " 2026-11-24T11:20:53Z");

	/* 15 minutes later the short one has diverged for 35 minutes */
	fp_series(c, "short.example", "eu-west", "modern", 0, 15 * MIN, 1e9, FPA, FPA);
	fp_series(c, "short.example", "us-east", "modern", 0, 15 * MIN, 0, FPB, FPB);
	fp_series(c, "long.example", "eu-west", "modern", 0, 15 * MIN, 1e9, FPA, FPA);
	fp_series(c, "long.example", "us-east", "modern", 0, 15 * MIN, 0, FPB, FPB);
	eval_at(c, 15 * MIN, &cfg);
	/* flap's second divergence (since -24m7s) is now 39m7s old as well */
	expect_alerts(c, true,
		      "cert_fingerprint_drift cert_fingerprint_drift:flap.example:443:all ticket firing\n"
		      "cert_fingerprint_drift cert_fingerprint_drift:long.example:443:all ticket firing\n"
		      "cert_fingerprint_drift cert_fingerprint_drift:short.example:443:all ticket firing");
	PQfinish(c);
}

/* The certificate rules take the latest result per key (target, port, sni
 * with NULL and '' alike, region, profile) and only then group keys by
 * subject, where a NULL SNI and an SNI equal to the host are one subject
 * (collector/rules_other.c). These cases pin that down: newest wins within
 * a key and across the spellings of one subject. */
Test(rules_other, latest_result_per_key_and_sni_spellings)
{
	PGconn *c = new_db("ro_latest_key");
	struct slo_config cfg = cfg_default();
	/* one key (sni NULL, then ''): an expiring certificate 10 minutes ago,
	 * a fine one 2 minutes ago - no alert */
	struct res a1 = { .target = "k.example", .at = -10 * MIN, .fp = "k1", .leaf_na = 2 * HOUR,
			  .chain_na = NONE };
	struct res a2 = { .target = "k.example", .sni = "", .at = -2 * MIN, .fp = "k2",
			  .leaf_na = 300 * DAY, .chain_na = NONE };
	add_result(c, &a1);
	add_result(c, &a2);
	/* the other way round under sni = host: the newest expires in 20 hours */
	struct res b1 = { .target = "n.example", .sni = "n.example", .at = -20 * MIN, .fp = "n1",
			  .leaf_na = 300 * DAY, .chain_na = NONE };
	struct res b2 = { .target = "n.example", .sni = "n.example", .at = -3 * MIN, .fp = "n2",
			  .leaf_na = 20 * HOUR, .chain_na = NONE };
	add_result(c, &b1);
	add_result(c, &b2);
	/* a result without a leaf date but with a chain date still counts */
	struct res d1 = { .target = "ch.example", .at = -4 * MIN, .fp = "c1", .leaf_na = NONE,
			  .chain_na = 3 * DAY, .chain_depth = 1 };
	add_result(c, &d1);
	/* drift under one subject spelt two ways: eu-west without SNI serves A,
	 * us-east with sni = host serves B since 40 minutes ago */
	fp_series(c, "m.example", "eu-west", "modern", -100 * MIN, 0, 1e9, FPA, FPA);
	for (double t = -100 * MIN + MIN; t <= 0; t += MIN) {
		struct res r = { .region = "us-east", .target = "m.example", .sni = "m.example",
				 .at = t - 7, .fp = t - 7 >= -40 * MIN ? FPB : FPA,
				 .leaf_na = 300 * DAY, .chain_na = NONE };
		add_result(c, &r);
	}
	/* and in one region, the newest of the two spellings is what is served:
	 * eu-west of q.example switched spelling and certificate 30 minutes ago,
	 * us-east serves the new one: they agree, no drift */
	fp_series(c, "q.example", "eu-west", "modern", -100 * MIN, -30 * MIN, 1e9, FPA, FPA);
	for (double t = -30 * MIN + MIN; t <= 0; t += MIN) {
		struct res r = { .region = "eu-west", .target = "q.example", .sni = "q.example",
				 .at = t - 7, .fp = FPB, .leaf_na = 300 * DAY, .chain_na = NONE };
		add_result(c, &r);
	}
	fp_series(c, "q.example", "us-east", "modern", -100 * MIN, 0, -31 * MIN, FPA, FPB);

	eval_at(c, 0, &cfg);
	expect_alerts(c, true,
		      "cert_expiry_24h cert_expiry_24h:n.example:443:all page firing\n"
		      "cert_expiry_30d cert_expiry_30d:ch.example:443:all ticket firing\n"
		      "cert_expiry_30d cert_expiry_30d:n.example:443:all ticket firing\n"
		      "cert_expiry_7d cert_expiry_7d:ch.example:443:all ticket firing\n"
		      "cert_expiry_7d cert_expiry_7d:n.example:443:all ticket firing\n"
		      "cert_fingerprint_drift cert_fingerprint_drift:m.example:443:all ticket firing");
	expect_field(c, "cert_expiry_24h:n.example:443:all", "details->>'fingerprint'", "n2");
	expect_field(c, "cert_expiry_30d:ch.example:443:all",
		     "(details->>'certificate') || ' ' || (details->>'depth')", "chain 1");
	expect_field(c, "cert_fingerprint_drift:m.example:443:all",
		     "(details->'regions'->>'us-east') || ' ' || (details->>'diverging_since')",
		     FPB " 2026-11-24T11:20:53Z");
	PQfinish(c);
}

/* ------------------------------------------------------------ TLS drift */

static void tls_series(PGconn *c, const char *target, const char *region, double from, double to,
		       double step, const char *ver, const char *cipher)
{
	for (double t = from; t < to; t += step) {
		struct res r = { .region = region, .target = target, .at = t, .leaf_na = NONE,
				 .chain_na = NONE, .tls_version = ver, .cipher = cipher };
		add_result(c, &r);
	}
}

#define V13 "TLSv1.3", "TLS_AES_256_GCM_SHA384"
#define V12 "TLSv1.2", "ECDHE-RSA-AES128-GCM-SHA256"

Test(rules_other, tls_negotiation_drift_from_weekly_baseline)
{
	PGconn *c = new_db("ro_tls_drift");
	struct slo_config cfg = cfg_default();
	const char *regions[] = { "eu-west", "us-east" };
	for (int i = 0; i < 2; i++) {
		/* a week of TLSv1.3, one result an hour, up to 1 h ago */
		tls_series(c, "v.example", regions[i], -7 * DAY + HOUR, -HOUR, HOUR, V13);
		tls_series(c, "w.example", regions[i], -7 * DAY + HOUR, -HOUR, HOUR, V13);
		tls_series(c, "tie.example", regions[i], -7 * DAY + HOUR, -HOUR, HOUR, V12);
		/* a few TLSv1.2 in the baseline do not change its mode */
		tls_series(c, "w.example", regions[i], -3 * DAY, -3 * DAY + 5 * HOUR, HOUR, V12);
	}
	/* last hour: v in eu-west falls back to TLSv1.2 (misrouted), us-east unchanged */
	tls_series(c, "v.example", "eu-west", -50 * MIN, 0, 10 * MIN, V12);
	tls_series(c, "v.example", "eu-west", -55 * MIN, -50 * MIN, 10 * MIN, V13);
	tls_series(c, "v.example", "us-east", -50 * MIN, 0, 10 * MIN, V13);
	/* w unchanged */
	tls_series(c, "w.example", "eu-west", -50 * MIN, 0, 10 * MIN, V13);
	/* a tie (3 and 3) is no change, whichever pair sorts first */
	tls_series(c, "tie.example", "eu-west", -60 * MIN + 1, 0, 20 * MIN, V13);
	tls_series(c, "tie.example", "eu-west", -50 * MIN, 0, 20 * MIN, V12);
	/* no baseline: a new target is never drift */
	tls_series(c, "new.example", "eu-west", -50 * MIN, 0, 10 * MIN, V12);
	/* too little in the last hour (2 < RULES_DRIFT_MIN_CURRENT) */
	tls_series(c, "few.example", "eu-west", -7 * DAY + HOUR, -HOUR, HOUR, V13);
	tls_series(c, "few.example", "eu-west", -20 * MIN, 0, 10 * MIN, V12);

	eval_at(c, 0, &cfg);
	expect_alerts(c, true,
		      "tls_negotiation_drift tls_negotiation_drift:v.example:443:modern:all ticket firing");
	expect_field(c, "tls_negotiation_drift:v.example:443:modern:all", "summary",
		     "v.example:443 (profile modern) negotiates TLSv1.2 ECDHE-RSA-AES128-GCM-SHA256 "
		     "in eu-west in the last 1h; baseline TLSv1.3 TLS_AES_256_GCM_SHA384");
	expect_field(c, "tls_negotiation_drift:v.example:443:modern:all",
		     "(details->'regions'->'eu-west'->'baseline'->>'handshakes') || ' ' || "
		     "(details->'regions'->'eu-west'->'current'->>'handshakes') || ' ' || "
		     "(details->'regions'->'eu-west'->'current'->>'baseline_pair_handshakes')",
		     "166 5 1");
	/* the baseline summary covers the complete hours up to hour(now - 1h) */
	char *done = q_str(c, "SELECT tw_rule_iso(done_until) FROM rules_other_state "
			      "WHERE name = 'tls_params_1h'");
	cr_assert_str_eq(done, "2026-11-24T11:00:00Z");
	free(done);
	char *n = q_str(c, "SELECT sum(handshakes) FROM tls_params_1h WHERE target = 'v.example'");
	cr_assert_str_eq(n, "332");  /* 2 x 166 hourly results, none of the last hour */
	free(n);

	/* back to TLSv1.3 for the next hour: clean */
	tls_series(c, "v.example", "eu-west", 0, HOUR, 10 * MIN, V13);
	tls_series(c, "v.example", "us-east", 0, HOUR, 10 * MIN, V13);
	eval_at(c, HOUR, &cfg);
	expect_field(c, "tls_negotiation_drift:v.example:443:modern:all", "state || ' ' || clean_evals",
		     "firing 1");
	/* each hour is summarised once */
	n = q_str(c, "SELECT sum(handshakes) FROM tls_params_1h WHERE target = 'v.example' "
		     "AND bucket = to_timestamp(%lld)", T0_S - 3600);
	cr_assert_str_eq(n, "11");  /* eu-west 1 + 5, us-east 5: the hour before T0 */
	free(n);
	PQfinish(c);
}

/* ---------------------------------------------------------------- misc */

Test(rules_other, helpers_and_errors)
{
	PGconn *c = new_db("ro_misc");
	char *s = q_str(c, "SELECT tw_rule_dur(750) || ' ' || tw_rule_dur(12500) || ' ' || "
			   "tw_rule_dur(270000) || ' ' || tw_rule_dur(7500000) || ' ' || "
			   "tw_rule_dur(277200000) || ' ' || tw_rule_dur(-60000) || ' ' || "
			   "tw_rule_subject('::1', 443, NULL) || ' ' || "
			   "tw_rule_subject('h', 1, 'h') || ' ' || tw_rule_subject('h', 1, 'x')");
	cr_assert_str_eq(s, "750ms 12.5s 4m30s 2h5m 3d5h -1m [::1]:443 h:1 h:1/x");
	free(s);
	char err[256] = "";
	struct slo_config cfg = cfg_default();
	cr_assert_eq(rules_other_eval(c, T0_MS, &cfg, NULL, err, sizeof err), -1);
	cr_assert(strstr(err, "missing"), "%s", err);
	/* an SQL error aborts the evaluation with the rule's name and the message */
	exec_ok(c, "ALTER TABLE rollup_1m RENAME COLUMN sni_mismatch_count TO x");
	struct alerts_run *run = alerts_begin(c, T0_MS, "http://t/", err, sizeof err);
	cr_assert(run, "%s", err);
	cr_assert_eq(rules_other_eval(c, T0_MS, &cfg, run, err, sizeof err), -1);
	cr_assert(strstr(err, "rule sni_mismatch: ") && strstr(err, "sni_mismatch_count"), "%s", err);
	alerts_abort(run);
	PQfinish(c);
}

/* The loader's defaults (slo_config_new_default, what runs without a
 * slo_file) evaluate the same as the thresholds above. */
Test(rules_other, loader_defaults)
{
	PGconn *c = new_db("ro_defaults");
	struct slo_config *cfg = slo_config_new_default();
	cr_assert(cfg);
	add_probe(c, "fast", "us-east", -1, -1, 2001);
	add_probe(c, "ok", "us-east", -1, -1, 2000);
	cert_obs(c, "c.example", "eu-west", -MIN, "fc", 6 * DAY, NONE, 0);
	cert_obs(c, "n.example", "eu-west", -MIN, "fn", 31 * DAY, NONE, 0);
	eval_at(c, 0, cfg);
	expect_alerts(c, true,
		      "cert_expiry_30d cert_expiry_30d:c.example:443:all ticket firing\n"
		      "cert_expiry_7d cert_expiry_7d:c.example:443:all ticket firing\n"
		      "clock_skew clock_skew:fast:us-east ticket firing");
	expect_field(c, "clock_skew:fast:us-east", "resolve_after", "3");
	slo_config_free(cfg);
	PQfinish(c);
}
