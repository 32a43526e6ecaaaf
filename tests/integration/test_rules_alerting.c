/*
 * test_rules_alerting.c - issue 10 "Alerting" against a real PostgreSQL
 * started by tests/integration/test_rules_alerting.sh: the region quorum
 * rule (collector/rules_quorum.h), inhibition of certificate tickets by a
 * page (collector/alerts.h), the regions an alert names, and certificate
 * change events (collector/rules_certs.h). Helpers and the shape of every
 * test: rules_env.h. The configuration is the loader's own defaults
 * (slo_config_new_default), amended where a test says so.
 */
#define _GNU_SOURCE
#include "rules_env.h"

TestSuite(rules_alerting, .timeout = 120);

/* One rollup_1m row: attempts of which failures ended in outcome `why`. */
static void roll(PGconn *c, const char *target, const char *region, double bucket, long attempts,
		 long failures, const char *why)
{
	exec_ok(c,
		"INSERT INTO rollup_1m (bucket, target, port, sni, region, profile, service, attempts, "
		"successes, failures, outcomes, handshakes, handshake_ms_hist, handshake_ms_sum, "
		"handshake_ms_count, mtls_attempts, mtls_failures, ocsp_stapled_count, "
		"cipher_fallback_count, sni_mismatch_count, expiring_soon_count) VALUES "
		"(%s, %s, 443, '', %s, 'modern', 'shop', %ld, %ld, %ld, "
		"jsonb_strip_nulls(jsonb_build_object('ok', nullif(%ld, 0), %s, nullif(%ld, 0))), "
		"0, '{}', 0, 0, 0, 0, 0, 0, 0, 0)",
		ts(bucket), lit(target), lit(region), attempts, attempts - failures, failures,
		attempts - failures, lit(why ? why : "connect_timeout"), failures);
}

static struct slo_config *cfg_loaded(void)
{
	struct slo_config *cfg = slo_config_new_default();
	cr_assert(cfg);
	return cfg;
}

/* ------------------------------------------------------------- quorum */

Test(rules_alerting, quorum_pages_for_two_regions_not_for_one_and_resolves)
{
	PGconn *c = new_db("ra_quorum");
	struct slo_config *cfg = cfg_loaded();
	for (int m = 1; m <= 5; m++) {
		double b = -m * MIN;
		/* q1: 100% failing in ap-south and eu-west, fine in us-east */
		roll(c, "q1.example", "ap-south", b, 2, 2, "connect_timeout");
		roll(c, "q1.example", "eu-west", b, 2, 2, "connect_timeout");
		roll(c, "q1.example", "us-east", b, 2, 0, NULL);
		/* q2: failing in ap-south only */
		roll(c, "q2.example", "ap-south", b, 2, 2, "cert_expired");
		roll(c, "q2.example", "eu-west", b, 2, 0, NULL);
		roll(c, "q2.example", "us-east", b, 2, 0, NULL);
		/* q3: 9/10 and 8/10 failing: one region at the 0.9 threshold, one below */
		roll(c, "q3.example", "ap-south", b, 2, m == 1 ? 1 : 2, "tls_alert");
		roll(c, "q3.example", "eu-west", b, 2, m <= 2 ? 1 : 2, "tls_alert");
		/* q4: 9/10 and 10/10: both at or above it */
		roll(c, "q4.example", "ap-south", b, 2, m == 1 ? 1 : 2, "tls_alert");
		roll(c, "q4.example", "eu-west", b, 2, 2, "tls_alert");
	}
	/* q5: failing in two regions but with 2 attempts each (min_samples 3) */
	roll(c, "q5.example", "ap-south", -MIN, 2, 2, NULL);
	roll(c, "q5.example", "eu-west", -MIN, 2, 2, NULL);
	/* older than the 5-minute window: does not count */
	roll(c, "q6.example", "ap-south", -6 * MIN, 50, 50, NULL);
	roll(c, "q6.example", "eu-west", -6 * MIN, 50, 50, NULL);

	eval_at(c, 0, cfg);
	expect_alerts(c, true,
		      "region_quorum region_quorum:q1.example:443:all page firing\n"
		      "region_quorum region_quorum:q4.example:443:all page firing");
	expect_field(c, "region_quorum:q1.example:443:all", "summary",
		     "q1.example:443 fails from 2 of 3 regions over the last 5m (ap-south 100%, "
		     "eu-west 100% of handshakes): mostly connect_timeout");
	expect_field(c, "region_quorum:q1.example:443:all",
		     "regions::text || ' ' || service || ' ' || (details->>'top_outcome') || ' ' || "
		     "(details->'per_region'->'eu-west'->>'failures')",
		     "{ap-south,eu-west} shop connect_timeout 10");
	expect_field(c, "region_quorum:q4.example:443:all", "regions::text", "{ap-south,eu-west}");
	/* what receivers get names the two regions, not "all" */
	char *pl = q_str(c, "SELECT (payload->>'region_group') || ' ' || (payload->'regions')::text "
			    "|| ' ' || (payload->'labels'->>'regions') FROM notification_outbox "
			    "WHERE dedup_key = 'region_quorum:q1.example:443:all'");
	cr_assert_str_eq(pl, "ap-south, eu-west [\"ap-south\", \"eu-west\"] ap-south, eu-west");
	free(pl);

	/* q1 recovers from minute 0 on: at +2m the window holds 6 failures of 10 */
	for (int m = 0; m < 5; m++) {
		roll(c, "q1.example", "ap-south", m * MIN, 2, 0, NULL);
		roll(c, "q1.example", "eu-west", m * MIN, 2, 0, NULL);
	}
	eval_at(c, 1 * MIN, cfg);      /* 8 of 10 failing: below 0.9 already */
	eval_at(c, 2 * MIN, cfg);
	expect_field(c, "region_quorum:q1.example:443:all", "state", "firing");
	eval_at(c, 3 * MIN, cfg);      /* the third clean evaluation */
	expect_field(c, "region_quorum:q1.example:443:all", "state", "resolved");
	cr_assert_eq(tw_pg_ll(c, "SELECT count(*) FROM notification_outbox WHERE action = 'resolve' "
				"AND dedup_key = 'region_quorum:q1.example:443:all' AND "
				"payload->>'region_group' = 'ap-south, eu-west'"), 1);
	slo_config_free(cfg);
	PQfinish(c);
}

Test(rules_alerting, quorum_share_and_single_region_settings)
{
	char err[512];
	static const char y[] =
		"alerts:\n"
		"  region_quorum:\n"
		"    min_regions: 1\n"
		"    min_region_share: 0.75\n"
		"    failure_ratio: 1\n"
		"    for: 3m\n"
		"    min_samples: 1\n";
	struct slo_config *cfg = slo_config_load_string("q.yaml", y, sizeof y - 1, err, sizeof err);
	cr_assert(cfg, "%s", err);
	cr_assert_eq(cfg->alerts.region_quorum.for_ms, 180000);
	PGconn *c = new_db("ra_quorum_share");
	for (int m = 1; m <= 3; m++) {
		/* 2 of 3 regions: under a 0.75 share */
		roll(c, "s1.example", "ap-south", -m * MIN, 1, 1, NULL);
		roll(c, "s1.example", "eu-west", -m * MIN, 1, 1, NULL);
		roll(c, "s1.example", "us-east", -m * MIN, 1, 0, NULL);
		/* the only region probing it: 1 of 1 */
		roll(c, "s2.example", "ap-south", -m * MIN, 1, 1, NULL);
	}
	eval_at(c, 0, cfg);
	expect_alerts(c, true, "region_quorum region_quorum:s2.example:443:all page firing");
	expect_field(c, "region_quorum:s2.example:443:all", "regions::text", "{ap-south}");

	/* disabled: evaluated with nothing observed, so the alert resolves after
	 * its resolve_after (3) clean evaluations */
	cfg->alerts.region_quorum.c.enabled = false;
	eval_at(c, MIN, cfg);
	eval_at(c, 2 * MIN, cfg);
	expect_field(c, "region_quorum:s2.example:443:all", "state", "firing");
	eval_at(c, 3 * MIN, cfg);
	expect_field(c, "region_quorum:s2.example:443:all", "state", "resolved");
	slo_config_free(cfg);

	/* bad values name the key */
	static const char bad[] = "alerts:\n  region_quorum:\n    min_region_share: 1.5\n";
	cr_assert_null(slo_config_load_string("b.yaml", bad, sizeof bad - 1, err, sizeof err));
	cr_assert(strstr(err, "b.yaml:3:23: alerts.region_quorum.min_region_share: expected a share "
			      "of the regions in [0, 1]"), "%s", err);
	static const char bad2[] = "alerts:\n  region_quorum:\n    regions: 2\n";
	cr_assert_null(slo_config_load_string("b.yaml", bad2, sizeof bad2 - 1, err, sizeof err));
	cr_assert(strstr(err, "regions"), "%s", err);
	PQfinish(c);
}

/* --------------------------------------------------------- inhibition */

static void cert(PGconn *c, const char *target, const char *region, double at, const char *fp,
		 double leaf_na)
{
	struct res r = { .region = region, .target = target, .at = at, .fp = fp,
			 .leaf_na = leaf_na, .chain_na = NONE, .tls_version = "TLSv1.3",
			 .probe = tw_fmt("p-%s", region) };
	add_result(c, &r);
}

/* The defect: one expired certificate sent the 24-hour page and the 30-day
 * and 7-day tickets. The tickets are held back (visible as inhibited), the
 * page alone is notified; a certificate with only a ticket is not touched. */
Test(rules_alerting, page_on_a_certificate_inhibits_its_tickets)
{
	PGconn *c = new_db("ra_inhibit");
	struct slo_config *cfg = cfg_loaded();
	cert(c, "x.example", "ap-south", -MIN, "fx", -2 * DAY);     /* expired */
	cert(c, "y.example", "eu-west", -MIN, "fy", 20 * DAY);      /* 30d ticket only */
	cert(c, "z.example", "eu-west", -MIN, "fz", 20 * HOUR);     /* page now, not at 12h */
	eval_at(c, 0, cfg);
	expect_alerts(c, true,
		      "cert_expiry_24h cert_expiry_24h:x.example:443:all page firing\n"
		      "cert_expiry_24h cert_expiry_24h:z.example:443:all page firing\n"
		      "cert_expiry_30d cert_expiry_30d:x.example:443:all ticket firing\n"
		      "cert_expiry_30d cert_expiry_30d:y.example:443:all ticket firing\n"
		      "cert_expiry_30d cert_expiry_30d:z.example:443:all ticket firing\n"
		      "cert_expiry_7d cert_expiry_7d:x.example:443:all ticket firing\n"
		      "cert_expiry_7d cert_expiry_7d:z.example:443:all ticket firing");
	expect_field(c, "cert_expiry_7d:x.example:443:all", "inhibited_by",
		     "cert_expiry_24h:x.example:443:all");
	expect_field(c, "cert_expiry_30d:y.example:443:all", "inhibited_by", "NULL");
	char *got = q_str(c, "SELECT string_agg(dedup_key, ' ' ORDER BY dedup_key) FROM "
			     "notification_outbox");
	cr_assert_str_eq(got, "cert_expiry_24h:x.example:443:all cert_expiry_24h:z.example:443:all "
			      "cert_expiry_30d:y.example:443:all");
	free(got);
	/* the held-back firing is recorded, with its reason */
	got = q_str(c, "SELECT string_agg(a.dedup_key || ' ' || (e.details->>'reason') || ' ' || "
		       "(e.details->>'inhibited_by'), E'\\n' ORDER BY a.dedup_key) FROM alert_events e "
		       "JOIN alerts a ON a.id = e.alert_id WHERE e.suppressed");
	cr_assert_str_eq(got,
			 "cert_expiry_30d:x.example:443:all inhibited cert_expiry_24h:x.example:443:all\n"
			 "cert_expiry_30d:z.example:443:all inhibited cert_expiry_24h:z.example:443:all\n"
			 "cert_expiry_7d:x.example:443:all inhibited cert_expiry_24h:x.example:443:all\n"
			 "cert_expiry_7d:z.example:443:all inhibited cert_expiry_24h:z.example:443:all");
	free(got);
	/* the page names the one region that sees it */
	got = q_str(c, "SELECT (payload->>'region_group') || ' ' || (payload->'regions')::text FROM "
		       "notification_outbox WHERE dedup_key = 'cert_expiry_24h:x.example:443:all'");
	cr_assert_str_eq(got, "ap-south [\"ap-south\"]");
	free(got);

	/* z is replaced by a certificate with 5 days left: its page is no
	 * longer observed, its tickets still fire and are sent now; x keeps its
	 * page and its tickets stay held back */
	cert(c, "z.example", "eu-west", MIN, "fz2", 5 * DAY);
	eval_at(c, 2 * MIN, cfg);
	got = q_str(c, "SELECT string_agg(dedup_key, ' ' ORDER BY dedup_key) FROM "
		       "notification_outbox WHERE action = 'trigger' AND dedup_key LIKE '%%z.example%%'");
	cr_assert_str_eq(got, "cert_expiry_24h:z.example:443:all cert_expiry_30d:z.example:443:all "
			      "cert_expiry_7d:z.example:443:all");
	free(got);
	cr_assert_eq(tw_pg_ll(c, "SELECT count(*) FROM alert_events WHERE "
				"details->>'reason' = 'inhibition_ended'"), 2);
	expect_field(c, "cert_expiry_7d:z.example:443:all", "inhibited_by", "NULL");
	expect_field(c, "cert_expiry_7d:x.example:443:all", "inhibited_by",
		     "cert_expiry_24h:x.example:443:all");
	cr_assert_eq(tw_pg_ll(c, "SELECT count(*) FROM notification_outbox WHERE "
				"dedup_key LIKE '%%x.example%%'"), 1);
	slo_config_free(cfg);
	PQfinish(c);
}

/* A quorum page whose failures are about the certificate (here the name)
 * holds back that certificate's tickets; evaluate prints why. */
Test(rules_alerting, quorum_page_on_a_certificate_failure_inhibits_its_tickets)
{
	PGconn *c = new_db("ra_quorum_inhibit");
	struct slo_config *cfg = cfg_loaded();
	for (int m = 1; m <= 5; m++) {
		roll(c, "n.example", "ap-south", -m * MIN, 3, 3, "hostname_mismatch");
		roll(c, "n.example", "eu-west", -m * MIN, 3, 3, "hostname_mismatch");
		/* a reachability failure is not the certificate's */
		roll(c, "r.example", "ap-south", -m * MIN, 3, 3, "connect_refused");
		roll(c, "r.example", "eu-west", -m * MIN, 3, 3, "connect_refused");
	}
	cert(c, "n.example", "eu-west", -MIN, "fn", 20 * DAY);
	cert(c, "r.example", "eu-west", -MIN, "fr", 20 * DAY);
	int64_t last = 0;
	char err[256];
	cr_assert_eq(alerts_last_event_id(c, &last, err, sizeof err), 0, "%s", err);
	eval_at(c, 0, cfg);
	expect_alerts(c, true,
		      "cert_expiry_30d cert_expiry_30d:n.example:443:all ticket firing\n"
		      "cert_expiry_30d cert_expiry_30d:r.example:443:all ticket firing\n"
		      "region_quorum region_quorum:n.example:443:all page firing\n"
		      "region_quorum region_quorum:r.example:443:all page firing");
	expect_field(c, "cert_expiry_30d:n.example:443:all", "inhibited_by",
		     "region_quorum:n.example:443:all");
	expect_field(c, "cert_expiry_30d:r.example:443:all", "inhibited_by", "NULL");
	expect_field(c, "region_quorum:n.example:443:all", "inhibit_group",
		     "certificate:n.example:443");

	char *buf = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&buf, &len);
	cr_assert(out);
	cr_assert_eq(alerts_print_changes(c, last, NULL, out, err, sizeof err), 0, "%s", err);
	fclose(out);
	cr_assert(strstr(buf, "alert cert_expiry_30d:n.example:443:all (ticket): pending -> firing "
			      "(suppressed: inhibited by region_quorum:n.example:443:all): "), "%s", buf);
	cr_assert(strstr(buf, "alert cert_expiry_30d:r.example:443:all (ticket): pending -> firing: "),
		  "%s", buf);
	free(buf);
	slo_config_free(cfg);
	PQfinish(c);
}

/* ------------------------------------------------ certificate changes */

static void seen(PGconn *c, const char *target, const char *region, const char *profile,
		 double at, const char *fp)
{
	struct res r = { .region = region, .target = target, .profile = profile, .at = at,
			 .fp = fp, .leaf_na = 300 * DAY, .chain_na = NONE, .tls_version = "TLSv1.3",
			 .probe = tw_fmt("p-%s", region) };
	add_result(c, &r);
}

static char *changes_str(PGconn *c)
{
	return q_str(c, "SELECT coalesce(string_agg(target || ' ' || region || ' ' || profile || ' ' || "
			"old_fingerprint || '->' || new_fingerprint || ' ' || "
			"extract(epoch FROM changed_at - to_timestamp(%lld))::int || ' ' || "
			"extract(epoch FROM old_seen_at - to_timestamp(%lld))::int, E'\\n' ORDER BY id), '') "
			"FROM certificate_changes", T0_S, T0_S);
}

Test(rules_alerting, certificate_changes_are_events_and_drift_opens_a_ticket)
{
	PGconn *c = new_db("ra_certs");
	struct slo_config *cfg = cfg_loaded();
	/* eu-west rotates A -> B at -30m; us-east keeps A */
	seen(c, "w.example", "eu-west", "modern", -50 * MIN, "A");
	seen(c, "w.example", "eu-west", "modern", -40 * MIN, "A");
	seen(c, "w.example", "eu-west", "modern", -30 * MIN, "B");
	seen(c, "w.example", "eu-west", "modern", -20 * MIN, "B");
	seen(c, "w.example", "us-east", "modern", -50 * MIN, "A");
	seen(c, "w.example", "us-east", "modern", -1 * MIN, "A");
	/* a server picking an RSA certificate for another profile: no change */
	seen(c, "w.example", "eu-west", "legacy", -50 * MIN, "R");
	seen(c, "w.example", "eu-west", "legacy", -20 * MIN, "R");
	eval_at(c, 0, cfg);
	char *got = changes_str(c);
	cr_assert_str_eq(got, "w.example eu-west modern A->B -1800 -2400");
	free(got);
	/* the regions have disagreed for 30 minutes (fingerprint_for): a ticket
	 * naming both regions */
	expect_alerts(c, false,
		      "cert_fingerprint_drift cert_fingerprint_drift:w.example:443:all ticket firing");
	expect_field(c, "cert_fingerprint_drift:w.example:443:all", "regions::text",
		     "{eu-west,us-east}");

	/* eu-west rolls back at +1m; a replayed old result (before what was
	 * recorded) changes nothing; evaluating again records nothing twice */
	seen(c, "w.example", "eu-west", "modern", 1 * MIN, "A");
	seen(c, "w.example", "eu-west", "modern", -45 * MIN, "C");
	eval_at(c, 2 * MIN, cfg);
	eval_at(c, 3 * MIN, cfg);
	got = changes_str(c);
	cr_assert_str_eq(got, "w.example eu-west modern A->B -1800 -2400\n"
			      "w.example eu-west modern B->A 60 -1200");
	free(got);
	cr_assert_eq(tw_pg_ll(c, "SELECT count(*) FROM certificate_current"), 3);

	/* retention: certificate_sightings' days (400) for events and keys */
	exec_ok(c, "INSERT INTO certificate_changes (target, port, sni, region, profile, "
		   "old_fingerprint, new_fingerprint, old_seen_at, changed_at, probe_id, recorded_at) "
		   "VALUES ('old.example', 443, '', 'eu-west', 'modern', 'A', 'B', %s, %s, 'p', %s)",
		ts(-401 * DAY), ts(-401 * DAY), ts(-401 * DAY));
	exec_ok(c, "INSERT INTO certificate_current VALUES ('old.example', 443, '', 'eu-west', "
		   "'modern', 'B', %s)", ts(-401 * DAY));
	eval_at(c, 4 * MIN, cfg);
	cr_assert_eq(tw_pg_ll(c, "SELECT count(*) FROM certificate_changes WHERE target = 'old.example'"), 0);
	cr_assert_eq(tw_pg_ll(c, "SELECT count(*) FROM certificate_current WHERE target = 'old.example'"), 0);
	cr_assert_eq(tw_pg_ll(c, "SELECT count(*) FROM certificate_changes"), 2);
	slo_config_free(cfg);
	PQfinish(c);
}
