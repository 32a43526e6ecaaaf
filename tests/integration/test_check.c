/*
 * test_check.c - `tlswatch-probe check` against real TLS servers: the
 * ok baselines and the first tiers of DESIGN 4.3 (reachability, protocol,
 * mTLS, trust, validity). Policy, names, SNI, expiry, OCSP, STARTTLS and
 * usage errors: test_check_findings.c. Assertions: check_env.h.
 *
 * Run through tests/integration/test_check.sh (make test), which makes the
 * PKI (tests/harness/mkpki.sh) and starts one server per case on a free
 * loopback port, exported as TW_PORT_<NAME>. Every test runs the real binary
 * with --json and checks the outcome (DESIGN 4.3), the fields that case is
 * about and the exit status (4.4). Certificate facts (dates, fingerprints)
 * come from the openssl CLI, never from guesses.
 */
#define _GNU_SOURCE
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <criterion/criterion.h>

#include "check_env.h"
#include "probe_run.h"

TestSuite(check, .timeout = 30);

/* ------------------------------------------------------------- ok baselines */

Test(check, ok_good_rsa_modern)
{
	struct probe_run run, *r = &run;
	probe_check(r, tw_target("localhost", "TW_PORT_GOOD"), NULL);
	json_t *o = one(r);

	expect_all_keys(r, o);
	expect_outcome(r, o, "ok");
	expect_exit(r, 0);
	expect_str(r, o, "host", "localhost");
	expect_port(r, o, "TW_PORT_GOOD");
	expect_str(r, o, "sni", "localhost");
	expect_str(r, o, "address", "127.0.0.1");
	expect_str(r, o, "profile", "modern");
	expect_str(r, o, "tls_version", "TLSv1.3");
	expect_nonempty_str(r, o, "group");
	expect_nonempty_str(r, o, "cipher");
	expect_contains(r, o, "cipher_iana", "TLS_");
	expect_int(r, o, "chain_len", 2);
	expect_good_leaf(r, o, "good.pem");
	expect_contains(r, o, "leaf_subject", "good.tw.test");
	expect_str(r, o, "leaf_key", "RSA-2048");
	expect_contains(r, o, "leaf_sig_alg", "sha256");
	/* leaf (1 year) ends before int (5 years) and root (10 years) */
	expect_cert_date(r, o, "chain_not_after_min", "good.pem", "enddate");
	expect_days_to_expiry(r, o, "good.pem");
	expect_bool(r, o, "sni_match", true);
	cr_assert(json_is_array(json_object_get(o, "verify_errors")) &&
		  json_array_size(json_object_get(o, "verify_errors")) == 0,
		  "verify_errors: want []%s", D);
	expect_null(r, o, "alert");
	expect_null(r, o, "client_cert_not_after");
	expect_no_finding(r, o, "expiring_soon");
	expect_no_finding(r, o, "weak_key");
	expect_no_finding(r, o, "weak_signature");
	expect_no_finding(r, o, "legacy_protocol");
	expect_no_finding(r, o, "cipher_fallback"); /* TLS1.3 AEAD = modern's first tier */
	expect_no_finding(r, o, "sni_mismatch");
	double dns = expect_num(r, o, "dns_ms"), con = expect_num(r, o, "connect_ms");
	double hs = expect_num(r, o, "handshake_ms"), tot = expect_num(r, o, "total_ms");
	cr_assert(dns >= 0 && con >= 0 && hs > 0 && tot >= hs && tot >= con,
		  "timings inconsistent: dns %g connect %g handshake %g total %g%s", dns, con, hs,
		  tot, D);
	probe_run_free(r);
}

Test(check, ok_good_ecdsa_modern)
{
	struct probe_run run, *r = &run;
	probe_check(r, tw_target("localhost", "TW_PORT_GOOD_EC"), NULL);
	json_t *o = one(r);

	expect_outcome(r, o, "ok");
	expect_exit(r, 0);
	expect_str(r, o, "tls_version", "TLSv1.3");
	expect_nonempty_str(r, o, "group");
	expect_int(r, o, "chain_len", 2);
	expect_good_leaf(r, o, "good-ec.pem");
	expect_str(r, o, "leaf_key", "EC-P-256");
	probe_run_free(r);
}

Test(check, ok_ip_literal_target)
{
	/* the good leaf has IP:127.0.0.1; no SNI is sent for an IP literal (RFC 6066) */
	struct probe_run run, *r = &run;
	probe_check(r, tw_loopback("TW_PORT_GOOD"), NULL);
	json_t *o = one(r);

	expect_outcome(r, o, "ok");
	expect_exit(r, 0);
	expect_null(r, o, "sni");
	expect_fingerprint(r, o, "good.pem");
	probe_run_free(r);
}

Test(check, ok_connect_to_names_the_host)
{
	struct probe_run run, *r = &run;
	probe_check(r, "--connect-to", tw_loopback("TW_PORT_GOOD"), "good.tw.test", NULL);
	json_t *o = one(r);

	expect_outcome(r, o, "ok");
	expect_exit(r, 0);
	expect_str(r, o, "host", "good.tw.test");
	expect_str(r, o, "sni", "good.tw.test");
	expect_str(r, o, "address", "127.0.0.1");
	expect_port(r, o, "TW_PORT_GOOD");
	probe_run_free(r);
}

Test(check, two_profiles_two_lines_exit_0)
{
	struct probe_run run, *r = &run;
	probe_check(r, "--profile", "modern,tls13", tw_target("localhost", "TW_PORT_GOOD"), NULL);

	cr_assert_eq(r->n_lines, 2, "want 2 JSON lines%s", D);
	bool seen_modern = false, seen_tls13 = false;
	for (size_t i = 0; i < 2; i++) {
		json_t *o = r->lines[i];
		const char *p = pj_str(o, "profile");
		expect_outcome(r, o, "ok");
		expect_str(r, o, "tls_version", "TLSv1.3");
		seen_modern |= p && strcmp(p, "modern") == 0;
		seen_tls13 |= p && strcmp(p, "tls13") == 0;
	}
	cr_assert(seen_modern && seen_tls13, "want profiles modern and tls13%s", D);
	expect_exit(r, 0);
	probe_run_free(r);
}

/* ------------------------------------------------------------- reachability */

Test(check, connect_refused)
{
	struct probe_run run, *r = &run;
	probe_check(r, tw_target("localhost", "TW_PORT_REFUSED"), NULL);
	json_t *o = one(r);

	expect_all_keys(r, o);
	expect_outcome(r, o, "connect_refused");
	expect_exit(r, 1);
	expect_null(r, o, "tls_version");
	expect_null(r, o, "fingerprint_sha256");
	expect_null(r, o, "handshake_ms");
	probe_run_free(r);
}

/* A loopback listener whose accept queue is full: Linux drops further SYNs,
 * so connect() hangs as it would towards a black-holed address. Built here
 * rather than in the fixture script because nothing may connect to it first. */
Test(check, connect_timeout_full_accept_queue)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t sl = sizeof sa;
	int lfd = socket(AF_INET, SOCK_STREAM, 0), fill[4];
	char target[64];

	cr_assert(lfd >= 0);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert(bind(lfd, (struct sockaddr *)&sa, sizeof sa) == 0);
	cr_assert(listen(lfd, 0) == 0);
	cr_assert(getsockname(lfd, (struct sockaddr *)&sa, &sl) == 0);
	for (int i = 0; i < 4; i++) {
		fill[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
		cr_assert(fill[i] >= 0);
		(void)connect(fill[i], (struct sockaddr *)&sa, sizeof sa);
	}
	usleep(300 * 1000);
	snprintf(target, sizeof target, "127.0.0.1:%u", ntohs(sa.sin_port));

	struct probe_run run, *r = &run;
	probe_check(r, "--timeout", "1", target, NULL);
	json_t *o = one(r);
	double ms = 0;
	expect_outcome(r, o, "connect_timeout");
	expect_exit(r, 1);
	cr_assert(pj_num(o, "connect_ms", &ms) && ms >= 900, "connect_ms %.0f%s", ms, D);
	expect_null(r, o, "handshake_ms");
	probe_run_free(r);
	for (int i = 0; i < 4; i++)
		close(fill[i]);
	close(lfd);
}

/* ----------------------------------------------------------------- protocol */

Test(check, handshake_timeout_silent_listener)
{
	struct probe_run run, *r = &run;
	probe_check(r, "--timeout", "1", tw_target("localhost", "TW_PORT_SILENT"), NULL);
	json_t *o = one(r);

	expect_outcome(r, o, "handshake_timeout");
	expect_exit(r, 1);
	expect_num(r, o, "connect_ms");
	expect_null(r, o, "tls_version");
	cr_assert(r->wall_ms < 4000, "--timeout 1 took %.0f ms%s", r->wall_ms, D);
	probe_run_free(r);
}

Test(check, not_tls_plain_http)
{
	struct probe_run run, *r = &run;
	probe_check(r, tw_target("localhost", "TW_PORT_HTTP"), NULL);
	json_t *o = one(r);

	expect_outcome(r, o, "not_tls");
	expect_exit(r, 1);
	expect_null(r, o, "tls_version");
	probe_run_free(r);
}

Test(check, protocol_version_modern_vs_tls1_server)
{
	struct probe_run run, *r = &run;
	probe_check(r, tw_target("localhost", "TW_PORT_TLS1"), NULL);
	json_t *o = one(r);

	expect_outcome(r, o, "protocol_version");
	expect_exit(r, 1);
	expect_null(r, o, "tls_version");
	probe_run_free(r);
}

Test(check, protocol_version_legacy_vs_tls13_server)
{
	struct probe_run run, *r = &run;
	probe_check(r, "--profile", "legacy", tw_target("localhost", "TW_PORT_TLS13"), NULL);
	json_t *o = one(r);

	expect_outcome(r, o, "protocol_version");
	expect_exit(r, 1);
	probe_run_free(r);
}

Test(check, no_shared_cipher_modern_vs_aes128_sha)
{
	struct probe_run run, *r = &run;
	probe_check(r, tw_target("localhost", "TW_PORT_AES128SHA"), NULL);
	json_t *o = one(r);

	expect_outcome(r, o, "no_shared_cipher");
	expect_exit(r, 1);
	expect_null(r, o, "cipher");
	probe_run_free(r);
}

/* --------------------------------------------------------------------- mTLS */

Test(check, client_cert_required_tls13)
{
	struct probe_run run, *r = &run;
	probe_check(r, tw_target("localhost", "TW_PORT_MTLS13"), NULL);
	json_t *o = one(r);

	expect_outcome(r, o, "client_cert_required");
	expect_exit(r, 1);
	probe_run_free(r);
}

Test(check, client_cert_required_tls12)
{
	struct probe_run run, *r = &run;
	probe_check(r, tw_target("localhost", "TW_PORT_MTLS12"), NULL);
	json_t *o = one(r);

	expect_outcome(r, o, "client_cert_required");
	expect_exit(r, 1);
	probe_run_free(r);
}

static void mtls(struct probe_run *r, const char *port_env, const char *cert)
{
	probe_check(r, "--client-cert", tw_pki(cert), "--client-key", tw_pki("client.key"),
		    tw_target("localhost", port_env), NULL);
}

Test(check, client_cert_rejected_untrusted_tls13)
{
	struct probe_run run, *r = &run;
	mtls(r, "TW_PORT_MTLS13", "client-untrusted.pem");
	json_t *o = one(r);

	expect_outcome(r, o, "client_cert_rejected");
	expect_exit(r, 1);
	probe_run_free(r);
}

Test(check, client_cert_rejected_untrusted_tls12)
{
	struct probe_run run, *r = &run;
	mtls(r, "TW_PORT_MTLS12", "client-untrusted.pem");
	json_t *o = one(r);

	expect_outcome(r, o, "client_cert_rejected");
	expect_exit(r, 1);
	probe_run_free(r);
}

Test(check, client_cert_rejected_expired_tls13)
{
	struct probe_run run, *r = &run;
	mtls(r, "TW_PORT_MTLS13", "client-expired.pem");
	json_t *o = one(r);

	expect_outcome(r, o, "client_cert_rejected");
	expect_exit(r, 1);
	expect_cert_date(r, o, "client_cert_not_after", "client-expired.pem", "enddate");
	probe_run_free(r);
}

Test(check, mtls_ok_tls13)
{
	struct probe_run run, *r = &run;
	mtls(r, "TW_PORT_MTLS13", "client-good.pem");
	json_t *o = one(r);

	expect_outcome(r, o, "ok");
	expect_exit(r, 0);
	expect_str(r, o, "tls_version", "TLSv1.3");
	expect_cert_date(r, o, "client_cert_not_after", "client-good.pem", "enddate");
	expect_no_finding(r, o, "client_cert_expiring");
	probe_run_free(r);
}

Test(check, mtls_ok_tls12)
{
	struct probe_run run, *r = &run;
	mtls(r, "TW_PORT_MTLS12", "client-good.pem");
	json_t *o = one(r);

	expect_outcome(r, o, "ok");
	expect_exit(r, 0);
	expect_str(r, o, "tls_version", "TLSv1.2");
	expect_cert_date(r, o, "client_cert_not_after", "client-good.pem", "enddate");
	probe_run_free(r);
}

Test(check, mtls_client_cert_expiring)
{
	struct probe_run run, *r = &run;
	mtls(r, "TW_PORT_MTLS13", "client-expiring.pem");
	json_t *o = one(r);

	expect_outcome(r, o, "ok");
	expect_exit(r, 0);
	expect_finding(r, o, "client_cert_expiring");
	expect_cert_date(r, o, "client_cert_not_after", "client-expiring.pem", "enddate");
	probe_run_free(r);
}

/* -------------------------------------------------------------------- trust */

Test(check, untrusted_root)
{
	struct probe_run run, *r = &run;
	probe_check(r, tw_target("localhost", "TW_PORT_UNTRUSTED"), NULL);
	json_t *o = one(r);

	expect_outcome(r, o, "untrusted_root");
	expect_exit(r, 1);
	/* leaf + root2 served: "self-signed certificate in certificate chain" */
	expect_verify_error(r, o, 1, 19);
	expect_int(r, o, "chain_len", 2);
	/* verification never aborts the handshake: the leaf is still described */
	expect_fingerprint(r, o, "untrusted.pem");
	expect_cert_date(r, o, "cert_not_after", "untrusted.pem", "enddate");
	expect_contains(r, o, "leaf_issuer", "tlswatch Untrusted Root CA");
	probe_run_free(r);
}

Test(check, self_signed)
{
	struct probe_run run, *r = &run;
	probe_check(r, tw_target("localhost", "TW_PORT_SELFSIGNED"), NULL);
	json_t *o = one(r);

	expect_outcome(r, o, "self_signed");
	expect_exit(r, 1);
	expect_verify_error(r, o, 0, 18);
	expect_int(r, o, "chain_len", 1);
	expect_fingerprint(r, o, "selfsigned.pem");
	probe_run_free(r);
}

Test(check, chain_incomplete)
{
	struct probe_run run, *r = &run;
	probe_check(r, tw_target("localhost", "TW_PORT_INCOMPLETE"), NULL);
	json_t *o = one(r);

	expect_outcome(r, o, "chain_incomplete");
	expect_exit(r, 1);
	expect_verify_error(r, o, 0, 20); /* unable to get local issuer certificate */
	expect_int(r, o, "chain_len", 1);
	expect_fingerprint(r, o, "good.pem");
	probe_run_free(r);
}

/* ----------------------------------------------------------------- validity */

Test(check, cert_expired_leaf)
{
	struct probe_run run, *r = &run;
	probe_check(r, tw_target("localhost", "TW_PORT_EXPIRED"), NULL);
	json_t *o = one(r);

	expect_outcome(r, o, "cert_expired");
	expect_exit(r, 1);
	expect_int(r, o, "outcome_depth", 0);
	expect_verify_error(r, o, 0, 10);
	expect_cert_date(r, o, "cert_not_after", "expired.pem", "enddate");
	expect_cert_date(r, o, "cert_not_before", "expired.pem", "startdate");
	expect_days_to_expiry(r, o, "expired.pem");
	cr_assert(expect_num(r, o, "days_to_expiry") < 0, "days_to_expiry: want < 0%s", D);
	expect_fingerprint(r, o, "expired.pem");
	expect_int(r, o, "chain_len", 2);
	probe_run_free(r);
}

Test(check, cert_expired_intermediate)
{
	struct probe_run run, *r = &run;
	probe_check(r, tw_target("localhost", "TW_PORT_EXPIRED_INT"), NULL);
	json_t *o = one(r);

	expect_outcome(r, o, "cert_expired");
	expect_exit(r, 1);
	expect_int(r, o, "outcome_depth", 1);
	expect_verify_error(r, o, 1, 10);
	/* the leaf itself is valid for a year; the chain minimum is the intermediate */
	expect_cert_date(r, o, "cert_not_after", "under-expired-int.pem", "enddate");
	expect_cert_date(r, o, "chain_not_after_min", "int-expired.pem", "enddate");
	expect_fingerprint(r, o, "under-expired-int.pem");
	probe_run_free(r);
}

Test(check, cert_not_yet_valid)
{
	struct probe_run run, *r = &run;
	probe_check(r, tw_target("localhost", "TW_PORT_NOTYET"), NULL);
	json_t *o = one(r);

	expect_outcome(r, o, "cert_not_yet_valid");
	expect_exit(r, 1);
	expect_int(r, o, "outcome_depth", 0);
	expect_verify_error(r, o, 0, 9);
	expect_cert_date(r, o, "cert_not_before", "notyet.pem", "startdate");
	probe_run_free(r);
}
