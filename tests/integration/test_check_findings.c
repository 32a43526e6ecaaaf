/*
 * test_check_findings.c - `tlswatch-probe check` against real TLS servers,
 * the later tiers of DESIGN 4.3 and the gates of 4.4: policy (usage, weak
 * key and signature, legacy protocol, cipher fallback), names and SNI,
 * expiry and --fail-on, OCSP (stapled and responder), STARTTLS, and usage
 * errors (exit 2). Connection, protocol, mTLS, trust and validity
 * outcomes: test_check.c.
 *
 * Run through tests/integration/test_check_findings.sh, the same fixture as
 * test_check (tests/integration/test_check.sh): the PKI and one server per
 * case on a free loopback port, exported as TW_PORT_<NAME>.
 */
#define _GNU_SOURCE
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <criterion/criterion.h>

#include "check_env.h"
#include "probe_run.h"

TestSuite(check, .timeout = 30);

/* ------------------------------------------------------------------- policy */

Test(check, bad_usage_client_auth_only_leaf)
{
	struct probe_run run, *r = &run;
	probe_check(r, tw_target("localhost", "TW_PORT_BAD_USAGE"), NULL);
	json_t *o = one(r);

	expect_outcome(r, o, "bad_usage");
	expect_exit(r, 1);
	expect_verify_error(r, o, 0, 26); /* unsuitable certificate purpose */
	expect_fingerprint(r, o, "clientonly.pem");
	probe_run_free(r);
}

Test(check, weak_key_rsa1024_modern)
{
	struct probe_run run, *r = &run;
	probe_check(r, tw_target("localhost", "TW_PORT_RSA1024"), NULL);
	json_t *o = one(r);

	expect_outcome(r, o, "weak_key");
	expect_exit(r, 1);
	expect_str(r, o, "leaf_key", "RSA-1024");
	expect_verify_error(r, o, 0, 66); /* EE certificate key too weak (seclevel 2) */
	expect_fingerprint(r, o, "rsa1024.pem");
	probe_run_free(r);
}

Test(check, weak_key_rsa1024_legacy_is_a_finding)
{
	struct probe_run run, *r = &run;
	probe_check(r, "--profile", "legacy", tw_target("localhost", "TW_PORT_RSA1024"), NULL);
	json_t *o = one(r);

	expect_outcome(r, o, "ok");
	expect_exit(r, 0);
	expect_finding(r, o, "weak_key");
	expect_str(r, o, "leaf_key", "RSA-1024");
	probe_run_free(r);
}

Test(check, weak_signature_sha1_modern)
{
	struct probe_run run, *r = &run;
	probe_check(r, tw_target("localhost", "TW_PORT_SHA1"), NULL);
	json_t *o = one(r);

	expect_outcome(r, o, "weak_signature");
	expect_exit(r, 1);
	expect_contains(r, o, "leaf_sig_alg", "sha1");
	expect_verify_error(r, o, 0, 68); /* CA signature digest algorithm too weak */
	probe_run_free(r);
}

Test(check, weak_signature_sha1_legacy_is_a_finding)
{
	struct probe_run run, *r = &run;
	probe_check(r, "--profile", "legacy", tw_target("localhost", "TW_PORT_SHA1"), NULL);
	json_t *o = one(r);

	expect_outcome(r, o, "ok");
	expect_exit(r, 0);
	expect_finding(r, o, "weak_signature");
	expect_contains(r, o, "leaf_sig_alg", "sha1");
	probe_run_free(r);
}

Test(check, legacy_protocol_tls1)
{
	struct probe_run run, *r = &run;
	probe_check(r, "--profile", "legacy", tw_target("localhost", "TW_PORT_TLS1"), NULL);
	json_t *o = one(r);

	expect_outcome(r, o, "ok");
	expect_exit(r, 0);
	expect_str(r, o, "tls_version", "TLSv1");
	expect_finding(r, o, "legacy_protocol");
	probe_run_free(r);
}

Test(check, modern_and_legacy_against_tls1_exit_1)
{
	struct probe_run run, *r = &run;
	probe_check(r, "--profile", "modern,legacy", tw_target("localhost", "TW_PORT_TLS1"), NULL);

	cr_assert_eq(r->n_lines, 2, "want 2 JSON lines%s", D);
	for (size_t i = 0; i < 2; i++) {
		json_t *o = r->lines[i];
		const char *p = pj_str(o, "profile");
		cr_assert(p, "profile missing%s", D);
		expect_outcome(r, o, strcmp(p, "modern") == 0 ? "protocol_version" : "ok");
	}
	expect_exit(r, 1);
	probe_run_free(r);
}

Test(check, cipher_fallback_cbc_tls12)
{
	struct probe_run run, *r = &run;
	probe_check(r, "--profile", "legacy", tw_target("localhost", "TW_PORT_CBC"), NULL);
	json_t *o = one(r);
	const char *c = pj_str(o, "cipher");

	expect_outcome(r, o, "ok");
	expect_exit(r, 0);
	expect_str(r, o, "tls_version", "TLSv1.2");
	expect_finding(r, o, "cipher_fallback");
	/* the server only has CBC suites: ECDHE-RSA-AES{128,256}-SHA, AES{128,256}-SHA */
	cr_assert(c && (strcmp(c, "ECDHE-RSA-AES128-SHA") == 0 ||
			strcmp(c, "ECDHE-RSA-AES256-SHA") == 0 || strcmp(c, "AES128-SHA") == 0 ||
			strcmp(c, "AES256-SHA") == 0), "cipher: want one of the server's CBC suites%s",
		  D);
	probe_run_free(r);
}

/* --------------------------------------------------------------------- name */

Test(check, hostname_mismatch_localhost_vs_other)
{
	struct probe_run run, *r = &run;
	probe_check(r, tw_target("localhost", "TW_PORT_OTHER"), NULL);
	json_t *o = one(r);

	expect_outcome(r, o, "hostname_mismatch");
	expect_exit(r, 1);
	expect_san(r, o, "other.tw.test");
	expect_fingerprint(r, o, "other.pem");
	probe_run_free(r);
}

Test(check, hostname_mismatch_connect_to)
{
	struct probe_run run, *r = &run;
	probe_check(r, "--connect-to", tw_loopback("TW_PORT_OTHER"), "good.tw.test", NULL);
	json_t *o = one(r);

	expect_outcome(r, o, "hostname_mismatch");
	expect_exit(r, 1);
	expect_str(r, o, "host", "good.tw.test");
	probe_run_free(r);
}

Test(check, wildcard_does_not_cover_nested_name)
{
	struct probe_run run, *r = &run;
	probe_check(r, "--connect-to", tw_loopback("TW_PORT_WILDCARD"), "a.b.tw.test", NULL);
	json_t *o = one(r);

	expect_outcome(r, o, "hostname_mismatch");
	expect_exit(r, 1);
	expect_san(r, o, "*.tw.test");
	probe_run_free(r);
}

Test(check, wildcard_covers_one_label)
{
	struct probe_run run, *r = &run;
	probe_check(r, "--connect-to", tw_loopback("TW_PORT_WILDCARD"), "a.tw.test", NULL);
	json_t *o = one(r);

	expect_outcome(r, o, "ok");
	expect_exit(r, 0);
	probe_run_free(r);
}

/* ---------------------------------------------------------------------- SNI */

Test(check, sni_known_name_gets_its_cert)
{
	struct probe_run run, *r = &run;
	probe_check(r, "--connect-to", tw_loopback("TW_PORT_SNI"), "good.tw.test", NULL);
	json_t *o = one(r);

	expect_outcome(r, o, "ok");
	expect_exit(r, 0);
	expect_bool(r, o, "sni_match", true);
	expect_no_finding(r, o, "sni_mismatch");
	expect_fingerprint(r, o, "good.pem");
	probe_run_free(r);
}

Test(check, sni_mismatch_unknown_name_gets_default_cert)
{
	struct probe_run run, *r = &run;
	probe_check(r, "--sni", "unknown.tw.test", "--connect-to", tw_loopback("TW_PORT_SNI"),
		    "good.tw.test", NULL);
	json_t *o = one(r);

	/* default cert other.tw.test covers neither the host nor the SNI name */
	expect_outcome(r, o, "hostname_mismatch");
	expect_exit(r, 1);
	expect_str(r, o, "sni", "unknown.tw.test");
	expect_bool(r, o, "sni_match", false);
	expect_finding(r, o, "sni_mismatch");
	expect_fingerprint(r, o, "other.pem");
	probe_run_free(r);
}

Test(check, sni_mismatch_no_sni_gets_default_cert)
{
	struct probe_run run, *r = &run;
	probe_check(r, "--no-sni", "--connect-to", tw_loopback("TW_PORT_SNI"), "good.tw.test",
		    NULL);
	json_t *o = one(r);

	expect_outcome(r, o, "hostname_mismatch");
	expect_exit(r, 1);
	expect_null(r, o, "sni");
	expect_bool(r, o, "sni_match", false);
	expect_finding(r, o, "sni_mismatch");
	expect_fingerprint(r, o, "other.pem");
	probe_run_free(r);
}

/* ----------------------------------------------------------- expiry, gating */

Test(check, expiring_soon_leaf)
{
	struct probe_run run, *r = &run;
	probe_check(r, "--expiry-warn", "30", tw_target("localhost", "TW_PORT_EXPIRING"), NULL);
	json_t *o = one(r);

	expect_outcome(r, o, "ok");
	expect_exit(r, 0);
	expect_finding(r, o, "expiring_soon");
	double d = expect_num(r, o, "days_to_expiry");
	cr_assert(d >= 9 && d <= 11, "days_to_expiry: want 9..11, got %g%s", d, D);
	expect_days_to_expiry(r, o, "expiring.pem");
	expect_cert_date(r, o, "cert_not_after", "expiring.pem", "enddate");
	probe_run_free(r);
}

Test(check, expiring_beyond_threshold_is_not_a_finding)
{
	struct probe_run run, *r = &run;
	probe_check(r, "--expiry-warn", "5", tw_target("localhost", "TW_PORT_EXPIRING"), NULL);
	json_t *o = one(r);

	expect_outcome(r, o, "ok");
	expect_no_finding(r, o, "expiring_soon");
	probe_run_free(r);
}

Test(check, expiring_soon_intermediate)
{
	struct probe_run run, *r = &run;
	probe_check(r, "--expiry-warn", "30", tw_target("localhost", "TW_PORT_CHAIN_SOON"), NULL);
	json_t *o = one(r);

	expect_outcome(r, o, "ok");
	expect_exit(r, 0);
	expect_finding(r, o, "expiring_soon");
	expect_cert_date(r, o, "chain_not_after_min", "int-soon.pem", "enddate");
	expect_days_to_expiry(r, o, "chain-soon.pem"); /* days_to_expiry is the leaf's */
	probe_run_free(r);
}

Test(check, fail_on_finding_exits_1)
{
	struct probe_run run, *r = &run;
	probe_check(r, "--expiry-warn", "30", "--fail-on", "expiring_soon",
		    tw_target("localhost", "TW_PORT_EXPIRING"), NULL);
	json_t *o = one(r);

	expect_outcome(r, o, "ok");
	expect_finding(r, o, "expiring_soon");
	expect_exit(r, 1);
	probe_run_free(r);
}

Test(check, fail_on_absent_finding_exits_0)
{
	struct probe_run run, *r = &run;
	probe_check(r, "--fail-on", "expiring_soon,weak_key",
		    tw_target("localhost", "TW_PORT_GOOD"), NULL);
	json_t *o = one(r);

	expect_outcome(r, o, "ok");
	expect_exit(r, 0);
	probe_run_free(r);
}

/* --------------------------------------------------------- OCSP (stapled) */

Test(check, staple_revoked)
{
	struct probe_run run, *r = &run;
	probe_check(r, "--revocation", "staple", tw_target("localhost", "TW_PORT_STAPLE_REVOKED"),
		    NULL);
	json_t *o = one(r);

	expect_outcome(r, o, "revoked");
	expect_exit(r, 1);
	expect_bool(r, o, "ocsp_stapled", true);
	expect_str(r, o, "ocsp_status", "revoked");
	expect_fingerprint(r, o, "ocsp-revoked.pem");
	probe_run_free(r);
}

Test(check, staple_good)
{
	struct probe_run run, *r = &run;
	probe_check(r, "--revocation", "staple", tw_target("localhost", "TW_PORT_STAPLE_GOOD"),
		    NULL);
	json_t *o = one(r);

	expect_outcome(r, o, "ok");
	expect_exit(r, 0);
	expect_bool(r, o, "ocsp_stapled", true);
	expect_str(r, o, "ocsp_status", "good");
	expect_no_finding(r, o, "no_ocsp_staple");
	probe_run_free(r);
}

/* ocsp-good names a responder, and this server staples nothing */
Test(check, staple_missing)
{
	struct probe_run run, *r = &run;
	probe_check(r, "--revocation", "staple", tw_target("localhost", "TW_PORT_OCSP_GOOD"), NULL);
	json_t *o = one(r);

	expect_outcome(r, o, "ok");
	expect_exit(r, 0);
	expect_bool(r, o, "ocsp_stapled", false);
	expect_str(r, o, "ocsp_status", "none");
	expect_finding(r, o, "no_ocsp_staple");
	probe_run_free(r);
}

/* ------------------------------------------------------ OCSP (responder) */

Test(check, ocsp_responder_good)
{
	struct probe_run run, *r = &run;
	probe_check(r, "--revocation", "ocsp", "--ocsp-slow-ms", "3000",
		    tw_target("localhost", "TW_PORT_OCSP_GOOD"), NULL);
	json_t *o = one(r);

	expect_outcome(r, o, "ok");
	expect_exit(r, 0);
	expect_str(r, o, "ocsp_status", "good");
	expect_bool(r, o, "ocsp_stapled", false);
	double ms = expect_num(r, o, "ocsp_responder_ms");
	cr_assert(ms >= 0, "ocsp_responder_ms: want >= 0%s", D);
	expect_no_finding(r, o, "ocsp_responder_unreachable");
	expect_no_finding(r, o, "ocsp_responder_slow");
	probe_run_free(r);
}

Test(check, ocsp_responder_revoked)
{
	struct probe_run run, *r = &run;
	probe_check(r, "--revocation", "ocsp", tw_target("localhost", "TW_PORT_OCSP_REVOKED"),
		    NULL);
	json_t *o = one(r);

	expect_outcome(r, o, "revoked");
	expect_exit(r, 1);
	expect_str(r, o, "ocsp_status", "revoked");
	expect_num(r, o, "ocsp_responder_ms");
	probe_run_free(r);
}

Test(check, ocsp_responder_unknown)
{
	struct probe_run run, *r = &run;
	probe_check(r, "--revocation", "ocsp", tw_target("localhost", "TW_PORT_OCSP_UNKNOWN"),
		    NULL);
	json_t *o = one(r);

	expect_str(r, o, "ocsp_status", "unknown");
	cr_assert(strcmp(pj_str(o, "outcome") ? pj_str(o, "outcome") : "", "revoked") != 0,
		  "unknown is not revoked%s", D);
	probe_run_free(r);
}

Test(check, ocsp_responder_slow)
{
	/* the responder answers for ocsp-slow.pem after 600 ms */
	struct probe_run run, *r = &run;
	probe_check(r, "--revocation", "ocsp", "--ocsp-slow-ms", "200",
		    tw_target("localhost", "TW_PORT_OCSP_SLOW"), NULL);
	json_t *o = one(r);

	expect_outcome(r, o, "ok");
	expect_exit(r, 0);
	expect_str(r, o, "ocsp_status", "good");
	expect_finding(r, o, "ocsp_responder_slow");
	double ms = expect_num(r, o, "ocsp_responder_ms");
	cr_assert(ms >= 550, "ocsp_responder_ms: want >= 550 (600 ms delay), got %g%s", ms, D);
	probe_run_free(r);
}

Test(check, ocsp_responder_unreachable)
{
	/* ocsp-dead.pem's AIA points at the silent listener */
	struct probe_run run, *r = &run;
	probe_check(r, "--revocation", "ocsp", "--timeout", "2",
		    tw_target("localhost", "TW_PORT_OCSP_DEAD"), NULL);
	json_t *o = one(r);

	expect_outcome(r, o, "ok");
	expect_exit(r, 0);
	expect_finding(r, o, "ocsp_responder_unreachable");
	cr_assert(strcmp(pj_str(o, "ocsp_status") ? pj_str(o, "ocsp_status") : "", "good") != 0,
		  "ocsp_status: no answer cannot be good%s", D);
	cr_assert(r->wall_ms < 8000, "took %.0f ms with --timeout 2%s", r->wall_ms, D);
	probe_run_free(r);
}

/* ----------------------------------------------------------------- STARTTLS */

Test(check, starttls_smtp)
{
	struct probe_run run, *r = &run;
	probe_check(r, "--starttls", "smtp", tw_target("localhost", "TW_PORT_SMTP"), NULL);
	json_t *o = one(r);

	expect_outcome(r, o, "ok");
	expect_exit(r, 0);
	expect_str(r, o, "tls_version", "TLSv1.3");
	expect_int(r, o, "chain_len", 2);
	expect_fingerprint(r, o, "good.pem");
	probe_run_free(r);
}

Test(check, starttls_postgres)
{
	struct probe_run run, *r = &run;
	cr_assert(getenv("TW_PORT_PG") && *getenv("TW_PORT_PG"),
		  "PostgreSQL was not started by the fixture (see its log)");
	probe_check(r, "--starttls", "postgres", tw_target("localhost", "TW_PORT_PG"), NULL);
	json_t *o = one(r);

	expect_outcome(r, o, "ok");
	expect_exit(r, 0);
	expect_str(r, o, "tls_version", "TLSv1.3");
	expect_int(r, o, "chain_len", 2);
	expect_fingerprint(r, o, "good.pem");
	probe_run_free(r);
}

/* ----------------------------------------------------- usage errors: exit 2 */

static void expect_usage_error(const struct probe_run *r, const char *const words[])
{
	expect_exit(r, 2);
	cr_assert_eq(r->n_lines, 0, "a usage error prints no result lines%s", D);
	expect_stderr_mentions(r, words);
}

Test(check, usage_unknown_profile)
{
	struct probe_run run, *r = &run;
	probe_check(r, "--profile", "no-such-profile", tw_target("localhost", "TW_PORT_GOOD"),
		    NULL);
	expect_usage_error(r, (const char *const[]){"no-such-profile", NULL});
	probe_run_free(r);
}

Test(check, usage_bad_port)
{
	struct probe_run run, *r = &run;
	probe_check(r, "localhost:99999", NULL);
	expect_usage_error(r, (const char *const[]){"99999", "port", NULL});
	probe_run_free(r);
}

Test(check, usage_missing_target)
{
	struct probe_run run, *r = &run;
	probe_check(r, NULL);
	expect_exit(r, 2);
	cr_assert(r->err && *r->err, "want a message on stderr%s", D);
	probe_run_free(r);
}

Test(check, usage_unreadable_ca_file)
{
	struct probe_run run, *r = &run;
	const char *missing = tw_pki("no-such-ca.pem");
	probe_exec(r, "check", "--json", "--ca-file", missing,
		   tw_target("localhost", "TW_PORT_GOOD"), NULL);
	expect_usage_error(r, (const char *const[]){missing, "no-such-ca.pem", NULL});
	probe_run_free(r);
}

Test(check, usage_client_key_readable_by_others)
{
	struct probe_run run, *r = &run;
	const char *key = tw_copy_file(tw_pki("client.key"), "client-0644.key", 0644);
	probe_check(r, "--client-cert", tw_pki("client-good.pem"), "--client-key", key,
		    tw_target("localhost", "TW_PORT_MTLS13"), NULL);
	expect_usage_error(r, (const char *const[]){key, "client-0644.key", "permission", "mode",
						   "readable", "0644", NULL});
	probe_run_free(r);
}

Test(check, usage_client_key_does_not_match_cert)
{
	struct probe_run run, *r = &run;
	probe_check(r, "--client-cert", tw_pki("client-good.pem"), "--client-key",
		    tw_pki("client-wrong.key"), tw_target("localhost", "TW_PORT_MTLS13"), NULL);
	expect_usage_error(r, (const char *const[]){"match", "key", NULL});
	probe_run_free(r);
}
