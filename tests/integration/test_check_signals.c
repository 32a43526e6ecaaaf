/*
 * test_check_signals.c - `tlswatch-probe check` against real servers on the
 * detection cases of issue 10: chains that reach a trusted root through a
 * CA that may not issue (chain_invalid), stapled OCSP responses that are
 * not valid answers (ocsp_status "invalid", ocsp_error, bad_ocsp_staple),
 * and certificates without subjectAltName.
 *
 * Run through tests/integration/test_check_signals.sh: the PKI of
 * tests/harness/mkpki-signals.sh and one s_server per case. Where OpenSSL
 * has a verdict of its own (`openssl verify`), the probe's raw verify error
 * is compared with it, not with a number written here.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "check_env.h"
#include "probe_run.h"

#define TESTSSL_DB_PATH "/etc/testssl/client-simulation.txt"

TestSuite(signals, .timeout = 30);

/* What `openssl verify` says of LEAF.pem served as LEAF-chain.pem against
 * root.pem: its first "error N at D depth lookup" line. 0 when it verifies. */
static int openssl_verify(const char *leaf, int *depth)
{
	char cmd[1024], line[512];
	int code = 0;

	snprintf(cmd, sizeof cmd,
		 "OPENSSL_CONF=/dev/null openssl verify -CAfile '%s/root.pem' -untrusted '%s/%s-chain.pem' "
		 "'%s/%s.pem' 2>&1", tw_env("TW_PKI"), tw_env("TW_PKI"), leaf, tw_env("TW_PKI"), leaf);
	FILE *p = popen(cmd, "r");
	cr_assert_not_null(p, "popen openssl verify");
	*depth = -1;
	while (fgets(line, sizeof line, p)) {
		int c, d;
		if (code == 0 && sscanf(line, "error %d at %d depth lookup", &c, &d) == 2) {
			code = c;
			*depth = d;
		}
	}
	int st = pclose(p);
	cr_assert(st != -1 && WIFEXITED(st), "openssl verify did not run");
	cr_assert_eq(code != 0, WEXITSTATUS(st) != 0, "openssl verify: status and output disagree");
	return code;
}

/* A chain to the trusted root where a CA may not issue: OpenSSL's own error
 * (same code, same depth) is kept in verify_errors; the outcome says the
 * chain is invalid, not that the root is untrusted. */
static void expect_chain_invalid(const char *leaf, const char *port_env, int want_code)
{
	struct probe_run run, *r = &run;
	int depth, code = openssl_verify(leaf, &depth);

	cr_assert_eq(code, want_code, "openssl verify %s: error %d at depth %d, fixture expects %d",
		     leaf, code, depth, want_code);
	probe_check(r, tw_target("localhost", port_env), NULL);
	json_t *o = one(r);
	expect_outcome(r, o, "chain_invalid");
	expect_exit(r, 1);
	expect_verify_error(r, o, depth, code);
	expect_int(r, o, "outcome_depth", depth);
	char pem[64];
	snprintf(pem, sizeof pem, "%s.pem", leaf);
	expect_fingerprint(r, o, pem);
	probe_run_free(r);
}

/* ------------------------------------------------------------ chain_invalid */

Test(signals, good_chain_verifies_like_openssl)
{
	struct probe_run run, *r = &run;
	int depth;

	cr_assert_eq(openssl_verify("good", &depth), 0, "openssl verify rejects good.pem");
	probe_check(r, tw_target("localhost", "TW_PORT_GOOD"), NULL);
	json_t *o = one(r);
	expect_outcome(r, o, "ok");
	expect_exit(r, 0);
	probe_run_free(r);
}

Test(signals, chain_invalid_issuer_not_a_ca)
{
	expect_chain_invalid("notca", "TW_PORT_NOTCA", 79);
}

Test(signals, chain_invalid_path_length_exceeded)
{
	expect_chain_invalid("pathlen", "TW_PORT_PATHLEN", 25);
}

Test(signals, chain_invalid_name_constraints)
{
	expect_chain_invalid("nc", "TW_PORT_NC", 47);
}

Test(signals, chain_invalid_unhandled_critical_extension)
{
	expect_chain_invalid("crit", "TW_PORT_CRIT", 34);
}

/* Under a root the client does not trust, the root is the first thing to
 * fix: untrusted_root still wins over what the CA below it may do. */
Test(signals, untrusted_root_wins_over_chain_invalid)
{
	struct probe_run run, *r = &run;
	probe_exec(r, "check", "--json", "--ca-file", tw_pki("root2.pem"),
		   tw_target("localhost", "TW_PORT_PATHLEN"), NULL);
	json_t *o = one(r);
	expect_outcome(r, o, "untrusted_root");
	expect_exit(r, 1);
	probe_run_free(r);
}

/* ------------------------------------------------------------ stapled OCSP */

/* What `openssl ocsp` says of a staple file for ocsp-a.pem: 1 when it
 * accepts the response and prints a status line, 0 when it refuses it. */
static int openssl_ocsp_accepts(const char *der)
{
	char cmd[1024], line[512];
	snprintf(cmd, sizeof cmd,
		 "cd '%s' && OPENSSL_CONF=/dev/null openssl ocsp -respin '%s' -issuer int.pem "
		 "-cert ocsp-a.pem -CAfile root.pem -verify_other int.pem 2>&1", tw_env("TW_PKI"), der);
	FILE *p = popen(cmd, "r");
	cr_assert_not_null(p, "popen openssl ocsp");
	bool verify_ok = false, status = false, times_bad = false;
	while (fgets(line, sizeof line, p)) {
		if (strstr(line, "Response verify OK"))
			verify_ok = true;
		if (strstr(line, "ocsp-a.pem: good") || strstr(line, "ocsp-a.pem: unknown"))
			status = true;
		if (strstr(line, "Status times invalid"))
			times_bad = true;
	}
	pclose(p);
	return verify_ok && status && !times_bad;
}

static void expect_bad_staple(const char *port_env, const char *der, const char *want_error)
{
	struct probe_run run, *r = &run;

	cr_assert_eq(openssl_ocsp_accepts(der), 0, "openssl ocsp accepts %s: bad fixture", der);
	probe_check(r, tw_target("localhost", port_env), NULL);
	json_t *o = one(r);
	/* a bad staple is a finding, never a failed check by itself */
	expect_outcome(r, o, "ok");
	expect_exit(r, 0);
	expect_bool(r, o, "ocsp_stapled", true);
	expect_str(r, o, "ocsp_source", "staple");
	expect_str(r, o, "ocsp_status", "invalid");
	expect_str(r, o, "ocsp_error", want_error);
	expect_finding(r, o, "bad_ocsp_staple");
	expect_no_finding(r, o, "no_ocsp_staple");
	probe_run_free(r);
}

Test(signals, staple_good_is_no_finding)
{
	struct probe_run run, *r = &run;

	cr_assert_eq(openssl_ocsp_accepts("staple-good.der"), 1, "openssl ocsp refuses the good staple");
	probe_check(r, tw_target("localhost", "TW_PORT_STAPLE_GOOD"), NULL);
	json_t *o = one(r);
	expect_outcome(r, o, "ok");
	expect_str(r, o, "ocsp_status", "good");
	expect_null(r, o, "ocsp_error");
	expect_bool(r, o, "ocsp_responder_named", true);
	expect_no_finding(r, o, "bad_ocsp_staple");
	expect_no_finding(r, o, "no_ocsp_staple");
	probe_run_free(r);
}

Test(signals, staple_stale)
{
	expect_bad_staple("TW_PORT_STAPLE_STALE", "staple-stale.der", "stale");
}

/* openssl ocsp finds no status for ocsp-a in it ("No Status found") */
Test(signals, staple_for_another_certificate)
{
	expect_bad_staple("TW_PORT_STAPLE_WRONGCERT", "staple-wrongcert.der", "wrong_certificate");
}

Test(signals, staple_responder_without_ocsp_signing)
{
	expect_bad_staple("TW_PORT_STAPLE_NOEKU", "staple-noeku.der", "unauthorized_responder");
}

Test(signals, staple_responder_of_another_ca)
{
	expect_bad_staple("TW_PORT_STAPLE_FOREIGN", "staple-foreign.der", "unauthorized_responder");
}

Test(signals, staple_signer_certificate_missing)
{
	expect_bad_staple("TW_PORT_STAPLE_NOCERTS", "staple-nocerts.der", "unverifiable");
}

/* A valid answer that knows nothing is still a useless staple. */
Test(signals, staple_unknown_is_a_finding)
{
	struct probe_run run, *r = &run;

	cr_assert_eq(openssl_ocsp_accepts("staple-unknown.der"), 1, "openssl ocsp refuses the staple");
	probe_check(r, tw_target("localhost", "TW_PORT_STAPLE_UNKNOWN"), NULL);
	json_t *o = one(r);
	expect_outcome(r, o, "ok");
	expect_str(r, o, "ocsp_status", "unknown");
	expect_null(r, o, "ocsp_error");
	expect_finding(r, o, "bad_ocsp_staple");
	probe_run_free(r);
}

/* no_ocsp_staple only where there is something to staple. */
Test(signals, no_staple_with_responder_is_a_finding)
{
	struct probe_run run, *r = &run;
	probe_check(r, tw_target("localhost", "TW_PORT_OCSP_NONE"), NULL);
	json_t *o = one(r);
	expect_outcome(r, o, "ok");
	expect_bool(r, o, "ocsp_stapled", false);
	expect_bool(r, o, "ocsp_responder_named", true);
	expect_finding(r, o, "no_ocsp_staple");
	expect_no_finding(r, o, "bad_ocsp_staple");
	probe_run_free(r);
}

Test(signals, no_staple_without_responder_is_no_finding)
{
	struct probe_run run, *r = &run;
	probe_check(r, tw_target("localhost", "TW_PORT_GOOD"), NULL);
	json_t *o = one(r);
	expect_outcome(r, o, "ok");
	expect_bool(r, o, "ocsp_stapled", false);
	expect_bool(r, o, "ocsp_responder_named", false);
	expect_no_finding(r, o, "no_ocsp_staple");
	probe_run_free(r);
}

/* ------------------------------------------------------------------- names */

/* nosan.pem: CN=localhost, no subjectAltName. OpenSSL's own check (which
 * reads the CN, as Java and curl do) accepts it for localhost. */
Test(signals, no_san_per_client)
{
	struct probe_run run, *r = &run;
	char cmd[512];

	snprintf(cmd, sizeof cmd, "OPENSSL_CONF=/dev/null openssl verify -CAfile '%s' "
		 "-untrusted '%s' -verify_hostname localhost '%s' >/dev/null 2>&1",
		 tw_pki("root.pem"), tw_pki("int.pem"), tw_pki("nosan.pem"));
	cr_assert_eq(system(cmd), 0, "openssl verify -verify_hostname localhost refuses nosan.pem");

	probe_check(r, "--profile", "modern,tls13,legacy,intermediate,Chrome 101 (Win 10),"
		    "Firefox 100 (Win 10),Safari 15.4 (macOS 12.3.1),Java 17.0.3 (OpenJDK),"
		    "OpenSSL 3.0.3 (git)", tw_target("localhost", "TW_PORT_NOSAN"), NULL);
	cr_assert_eq(r->n_lines, 9, "want 9 JSON lines%s", D);
	const char *strict[] = { "modern", "tls13", "Chrome 101 (Win 10)", "Firefox 100 (Win 10)",
				 "Safari 15.4 (macOS 12.3.1)" };
	for (size_t i = 0; i < r->n_lines; i++) {
		json_t *o = r->lines[i];
		const char *p = pj_str(o, "profile");
		bool no_cn = false;
		cr_assert(p, "profile missing%s", D);
		for (size_t k = 0; k < sizeof strict / sizeof strict[0]; k++)
			no_cn |= strcmp(p, strict[k]) == 0;
		if (no_cn) {
			expect_outcome(r, o, "hostname_mismatch");
			expect_contains(r, o, "alert", "no subjectAltName");
			expect_verify_error(r, o, 0, 62);
			expect_bool(r, o, "sni_match", false);
		} else {
			expect_outcome(r, o, "ok");
			expect_bool(r, o, "sni_match", true);
		}
	}
	expect_exit(r, 1);
	probe_run_free(r);
}

/* A certificate with a subjectAltName is matched the same way by all. */
Test(signals, san_matches_for_every_client)
{
	struct probe_run run, *r = &run;
	probe_check(r, "--profile", "modern,legacy,Chrome 101 (Win 10),Java 17.0.3 (OpenJDK)",
		    tw_target("localhost", "TW_PORT_GOOD"), NULL);
	cr_assert_eq(r->n_lines, 4, "want 4 JSON lines%s", D);
	for (size_t i = 0; i < r->n_lines; i++)
		expect_outcome(r, r->lines[i], "ok");
	expect_exit(r, 0);
	probe_run_free(r);
}

/* ------------------------------------------------------------- resumption */

/* What openssl s_client says: a first connection that keeps its session
 * (waiting a moment for a TLS1.3 ticket), then a second one offering it.
 * 1 when the second says "Reused". */
static int openssl_resumes(const char *port_env)
{
	char sess[512], cmd[2048];

	snprintf(sess, sizeof sess, "%s/sess-%s.pem", tw_env("TW_WORK"), port_env);
	snprintf(cmd, sizeof cmd,
		 "export OPENSSL_CONF=/dev/null; sleep 0.3 | openssl s_client -connect '%s' "
		 "-CAfile '%s' -sess_out '%s' >/dev/null 2>&1; openssl s_client -connect '%s' "
		 "-CAfile '%s' -sess_in '%s' </dev/null 2>/dev/null | grep -q '^Reused,'",
		 tw_loopback(port_env), tw_pki("root.pem"), sess, tw_loopback(port_env),
		 tw_pki("root.pem"), sess);
	int st = system(cmd);
	cr_assert(st != -1 && WIFEXITED(st), "openssl s_client did not run");
	return WEXITSTATUS(st) == 0;
}

static void expect_resumption(const char *port_env, const char *version, bool want)
{
	struct probe_run run, *r = &run;

	cr_assert_eq(openssl_resumes(port_env), want, "openssl s_client %s resume on %s",
		     want ? "does not" : "does", port_env);
	probe_check(r, "--resume", tw_target("localhost", port_env), NULL);
	json_t *o = one(r);
	/* resumption is a fact about the server, never a failed check */
	expect_outcome(r, o, "ok");
	expect_exit(r, 0);
	expect_str(r, o, "tls_version", version);
	expect_bool(r, o, "resumed", want);
	if (want) {
		double ms = expect_num(r, o, "resume_ms");
		cr_assert(ms >= 0, "resume_ms %g%s", ms, D);
		expect_null(r, o, "resume_detail");
	} else {
		expect_nonempty_str(r, o, "resume_detail");
	}
	probe_run_free(r);
}

Test(signals, resume_tls13_ticket)
{
	expect_resumption("TW_PORT_RESUME13", "TLSv1.3", true);
}

Test(signals, resume_tls12_ticket)
{
	expect_resumption("TW_PORT_RESUME12_TICKET", "TLSv1.2", true);
}

Test(signals, resume_tls12_session_id)
{
	expect_resumption("TW_PORT_RESUME12_ID", "TLSv1.2", true);
}

Test(signals, resume_tls12_neither_ticket_nor_cache)
{
	expect_resumption("TW_PORT_RESUME12_NONE", "TLSv1.2", false);
}

Test(signals, resume_tls13_without_tickets)
{
	expect_resumption("TW_PORT_RESUME13_NOTICKET", "TLSv1.3", false);
}

/* Without --resume nothing is tried: the fields stay null. */
Test(signals, resume_not_asked)
{
	struct probe_run run, *r = &run;
	probe_check(r, tw_target("localhost", "TW_PORT_RESUME13"), NULL);
	json_t *o = one(r);
	expect_outcome(r, o, "ok");
	expect_null(r, o, "resumed");
	expect_null(r, o, "resume_ms");
	probe_run_free(r);
}

/* ------------------------------------------------------------------ expiry */

/* A 47-day certificate: by default the warning comes a third of its
 * lifetime ahead (15.7 days), not 30 days ahead for most of its life. */
Test(signals, expiry_47_day_certificate_default_window)
{
	struct probe_run run, *r = &run;
	probe_check(r, tw_target("localhost", "TW_PORT_LIFE47_20"), NULL);
	json_t *o = one(r);
	expect_outcome(r, o, "ok");
	expect_days_to_expiry(r, o, "life47-20.pem");
	expect_no_finding(r, o, "expiring_soon");
	probe_run_free(r);

	probe_check(r, tw_target("localhost", "TW_PORT_LIFE47_10"), NULL);
	o = one(r);
	expect_finding(r, o, "expiring_soon");
	expect_exit(r, 0);
	probe_run_free(r);
}

Test(signals, expiry_fraction_zero_is_the_fixed_days)
{
	struct probe_run run, *r = &run;
	probe_check(r, "--expiry-warn-fraction", "0", tw_target("localhost", "TW_PORT_LIFE47_20"), NULL);
	json_t *o = one(r);
	expect_finding(r, o, "expiring_soon");
	probe_run_free(r);

	probe_check(r, "--expiry-warn-fraction", "1.5", tw_target("localhost", "TW_PORT_LIFE47_20"), NULL);
	expect_exit(r, 2);
	expect_stderr_mentions(r, (const char *const[]){ "expiry-warn-fraction", NULL });
	probe_run_free(r);
}

/* -------------------------------------------------------------------- CRLs */

/* `openssl verify -crl_check` with the CRL file served for leaf: its
 * error code, 0 when it verifies. */
static int openssl_crl_verify(const char *leaf, const char *crl)
{
	char cmd[2048], line[512];
	int code = 0;

	snprintf(cmd, sizeof cmd,
		 "cd '%s' && OPENSSL_CONF=/dev/null openssl crl -inform DER -in 'crl/%s' -out '%s/v-%s.pem' "
		 "&& OPENSSL_CONF=/dev/null openssl verify -crl_check -CAfile root.pem -untrusted int.pem "
		 "-CRLfile '%s/v-%s.pem' '%s.pem' 2>&1", tw_env("TW_PKI"), crl, tw_env("TW_WORK"), crl,
		 tw_env("TW_WORK"), crl, leaf);
	FILE *p = popen(cmd, "r");
	cr_assert_not_null(p);
	while (fgets(line, sizeof line, p)) {
		int c, d;
		if (code == 0 && sscanf(line, "error %d at %d depth lookup", &c, &d) == 2)
			code = c;
	}
	pclose(p);
	return code;
}

static json_t *crl_run(struct probe_run *r, const char *port_env)
{
	probe_check(r, "--revocation", "crl", tw_target("localhost", port_env), NULL);
	return one(r);
}

Test(signals, crl_good)
{
	struct probe_run run, *r = &run;
	cr_assert_eq(openssl_crl_verify("crl-good", "int-good.crl"), 0, "openssl refuses");
	json_t *o = crl_run(r, "TW_PORT_CRL_GOOD");
	expect_outcome(r, o, "ok");
	expect_exit(r, 0);
	expect_str(r, o, "crl_status", "good");
	expect_no_finding(r, o, "crl_unreachable");
	expect_no_finding(r, o, "crl_stale");
	expect_no_finding(r, o, "crl_invalid");
	probe_run_free(r);
}

Test(signals, crl_revoked)
{
	struct probe_run run, *r = &run;
	cr_assert_eq(openssl_crl_verify("crl-revoked", "int-revoked.crl"), 23, "openssl: not revoked");
	json_t *o = crl_run(r, "TW_PORT_CRL_REVOKED");
	expect_outcome(r, o, "revoked");
	expect_exit(r, 1);
	expect_str(r, o, "crl_status", "revoked");
	expect_int(r, o, "outcome_depth", 0);
	expect_contains(r, o, "alert", "CRL");
	probe_run_free(r);
}

Test(signals, crl_stale)
{
	struct probe_run run, *r = &run;
	/* 12: CRL has expired */
	cr_assert_eq(openssl_crl_verify("crl-stale", "int-stale.crl"), 12, "openssl: CRL not stale");
	json_t *o = crl_run(r, "TW_PORT_CRL_STALE");
	expect_outcome(r, o, "ok");
	expect_str(r, o, "crl_status", "unavailable");
	expect_finding(r, o, "crl_stale");
	expect_contains(r, o, "crl_detail", "stale");
	probe_run_free(r);
}

Test(signals, crl_wrong_signer)
{
	struct probe_run run, *r = &run;
	/* 3: unable to get certificate CRL (none from the issuer) */
	cr_assert_eq(openssl_crl_verify("crl-wrongsigner", "root2.crl"), 3, "openssl accepts it");
	json_t *o = crl_run(r, "TW_PORT_CRL_WRONGSIGNER");
	expect_outcome(r, o, "ok");
	expect_str(r, o, "crl_status", "unavailable");
	expect_finding(r, o, "crl_invalid");
	expect_no_finding(r, o, "crl_unreachable");
	probe_run_free(r);
}

Test(signals, crl_unreachable)
{
	struct probe_run run, *r = &run;
	json_t *o = crl_run(r, "TW_PORT_CRL_UNREACHABLE");
	expect_outcome(r, o, "ok");
	expect_str(r, o, "crl_status", "unavailable");
	expect_finding(r, o, "crl_unreachable");
	probe_run_free(r);
}

/* ocsp,crl: both phases run; a leaf that names no OCSP responder still
 * gets its CRL checked. */
Test(signals, crl_with_ocsp)
{
	struct probe_run run, *r = &run;
	probe_check(r, "--revocation", "ocsp,crl", tw_target("localhost", "TW_PORT_CRL_REVOKED"), NULL);
	json_t *o = one(r);
	expect_outcome(r, o, "revoked");
	expect_str(r, o, "crl_status", "revoked");
	probe_run_free(r);

	probe_check(r, "--revocation", "crls", tw_target("localhost", "TW_PORT_CRL_GOOD"), NULL);
	expect_exit(r, 2);
	probe_run_free(r);
}

/* --------------------------------------------------------- every address */

/* lb.tw.test has three addresses (loopback DNS server): each profile runs once
 * per address, each result names its address, and the two nodes' different
 * certificates show. */
Test(signals, all_addresses_one_result_per_address)
{
	struct probe_run run, *r = &run;
	char ns[64], target[64];

	snprintf(ns, sizeof ns, "127.0.0.1:%s", tw_port("TW_PORT_DNS"));
	snprintf(target, sizeof target, "lb.tw.test:%s", tw_port("TW_PORT_LB"));
	probe_check(r, "--nameserver", ns, "--all-addresses", "--profile", "modern,legacy", target,
		    NULL);
	cr_assert_eq(r->n_lines, 6, "want 2 profiles x 3 addresses%s", D);
	const char *fp_a = NULL, *fp_b = NULL;
	int seen[3] = { 0 };
	for (size_t i = 0; i < r->n_lines; i++) {
		json_t *o = r->lines[i];
		const char *a = pj_str(o, "address");
		cr_assert(a, "address missing%s", D);
		if (strcmp(a, "127.0.0.1") == 0) {
			seen[0]++;
			expect_outcome(r, o, "ok");
			expect_fingerprint(r, o, "lb-a.pem");
			fp_a = pj_str(o, "fingerprint_sha256");
		} else if (strcmp(a, "127.0.0.2") == 0) {
			seen[1]++;
			expect_outcome(r, o, "ok");
			expect_fingerprint(r, o, "lb-b.pem");
			fp_b = pj_str(o, "fingerprint_sha256");
		} else {
			cr_assert_str_eq(a, "::1", "unexpected address %s%s", a, D);
			seen[2]++;
			expect_outcome(r, o, "connect_refused");
		}
	}
	cr_assert(seen[0] == 2 && seen[1] == 2 && seen[2] == 2, "each address twice%s", D);
	cr_assert(fp_a && fp_b && strcmp(fp_a, fp_b) != 0, "the nodes' certificates differ%s", D);
	expect_exit(r, 1);
	probe_run_free(r);
}

/* Without --all-addresses the name is probed once, at its first address. */
Test(signals, one_address_by_default)
{
	struct probe_run run, *r = &run;
	char ns[64], target[64];

	snprintf(ns, sizeof ns, "127.0.0.1:%s", tw_port("TW_PORT_DNS"));
	snprintf(target, sizeof target, "lb.tw.test:%s", tw_port("TW_PORT_LB"));
	probe_check(r, "--nameserver", ns, target, NULL);
	json_t *o = one(r);
	expect_nonempty_str(r, o, "address");
	probe_run_free(r);
}

/* ------------------------------------------------------- client fidelity */

/* Clients that shipped draft TLS 1.3 negotiate TLS 1.2 with a final-TLS 1.3
 * server; clients that disabled TLS 1.0 refuse a TLS 1.0-only server (their
 * recorded ClientHellos in testssl.sh's database say so). */
Test(signals, draft_tls13_clients_negotiate_tls12)
{
	struct probe_run run, *r = &run;
	probe_check(r, "--profile", "Chrome 65 Win 7,Firefox 62 Win 7,Chrome 70 Win 10",
		    tw_target("localhost", "TW_PORT_GOOD"), NULL);
	cr_assert_eq(r->n_lines, 3, "want 3 JSON lines%s", D);
	for (size_t i = 0; i < 3; i++) {
		json_t *o = r->lines[i];
		const char *p = pj_str(o, "profile");
		expect_outcome(r, o, "ok");
		expect_str(r, o, "tls_version", strcmp(p, "Chrome 70 Win 10") == 0 ? "TLSv1.3" : "TLSv1.2");
	}
	probe_run_free(r);
}

Test(signals, clients_without_tls10_refuse_a_tls10_server)
{
	struct probe_run run, *r = &run;
	probe_check(r, "--profile", "Java 17.0.3 (OpenJDK),OpenSSL 1.1.1d (Debian),legacy",
		    tw_target("localhost", "TW_PORT_TLS10"), NULL);
	cr_assert_eq(r->n_lines, 3, "want 3 JSON lines%s", D);
	for (size_t i = 0; i < 3; i++) {
		json_t *o = r->lines[i];
		const char *p = pj_str(o, "profile");
		if (strcmp(p, "legacy") == 0) {
			expect_outcome(r, o, "ok");
			expect_str(r, o, "tls_version", "TLSv1");
		} else {
			expect_outcome(r, o, "protocol_version");
		}
	}
	probe_run_free(r);
}

/* -------------------------------------------------- each client's own store */

/* Stores next to a copy of testssl.sh's database: the test root is in
 * Mozilla's and Java's, another root in Microsoft's and Linux's. Without
 * --ca-file each real client verifies against its platform's store. */
Test(signals, each_client_verifies_against_its_platform_store)
{
	struct probe_run run, *r = &run;
	char dir[256], cmd[4096], db[300];

	snprintf(dir, sizeof dir, "%s/stores", tw_env("TW_WORK"));
	snprintf(cmd, sizeof cmd,
		 "mkdir -p '%s' && cp " TESTSSL_DB_PATH " '%s/client-simulation.txt' && "
		 "cp '%s' '%s/Mozilla.pem' && cp '%s' '%s/Java.pem' && cp '%s' '%s/Microsoft.pem' && "
		 "cp '%s' '%s/Linux.pem'", dir, dir, tw_pki("root.pem"), dir, tw_pki("root.pem"), dir,
		 tw_pki("root2.pem"), dir, tw_pki("root2.pem"), dir);
	cr_assert_eq(system(cmd), 0, "cannot make the stores: %s", cmd);
	snprintf(db, sizeof db, "%s/client-simulation.txt", dir);
	probe_exec(r, "check", "--json", "--testssl-db", db, "--profile",
		   "Firefox 100 (Win 10),Chrome 101 (Win 10),Java 17.0.3 (OpenJDK),Android 12 (native)",
		   tw_target("localhost", "TW_PORT_GOOD"), NULL);
	cr_assert_eq(r->n_lines, 4, "want 4 JSON lines%s", D);
	for (size_t i = 0; i < 4; i++) {
		json_t *o = r->lines[i];
		const char *p = pj_str(o, "profile");
		bool trusted = strncmp(p, "Firefox", 7) == 0 || strncmp(p, "Java", 4) == 0;
		expect_outcome(r, o, trusted ? "ok" : "untrusted_root");
	}
	probe_run_free(r);

	/* --ca-file overrides every store */
	probe_exec(r, "check", "--json", "--testssl-db", db, "--ca-file", tw_pki("root.pem"),
		   "--profile", "Chrome 101 (Win 10)", tw_target("localhost", "TW_PORT_GOOD"), NULL);
	expect_outcome(r, one(r), "ok");
	probe_run_free(r);
}
