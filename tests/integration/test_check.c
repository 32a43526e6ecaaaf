/*
 * test_check.c - `tlswatch-probe check` against real TLS servers.
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

#include "probe_run.h"

TestSuite(check, .timeout = 30);

/* ------------------------------------------------------------------ helpers */

#define D probe_describe(r)

/* Exactly one JSON line; returns it. */
static json_t *one(const struct probe_run *r)
{
	cr_assert(!r->timed_out, "probe did not finish%s", D);
	cr_assert_eq(r->n_lines, 1, "want 1 JSON line, got %zu%s", r->n_lines, D);
	cr_assert_eq(r->bad_lines, 0, "stdout has non-JSON lines%s", D);
	return r->lines[0];
}

static void expect_exit(const struct probe_run *r, int code)
{
	cr_assert(!r->timed_out, "probe did not finish%s", D);
	cr_assert_eq(r->exit_code, code, "want exit %d, got %d%s", code, r->exit_code, D);
}

static void expect_str(const struct probe_run *r, const json_t *o, const char *key,
		       const char *want)
{
	const char *got = pj_str(o, key);

	cr_assert(got && strcmp(got, want) == 0, "%s: want \"%s\", got %s%s%s%s", key, want,
		  got ? "\"" : "", got ? got : "(absent, null or not a string)", got ? "\"" : "", D);
}

static void expect_outcome(const struct probe_run *r, const json_t *o, const char *want)
{
	expect_str(r, o, "outcome", want);
}

static void expect_null(const struct probe_run *r, const json_t *o, const char *key)
{
	cr_assert(pj_is_null(o, key), "%s: want null%s", key, D);
}

static void expect_nonempty_str(const struct probe_run *r, const json_t *o, const char *key)
{
	const char *got = pj_str(o, key);

	cr_assert(got && *got, "%s: want a non-empty string%s", key, D);
}

static void expect_contains(const struct probe_run *r, const json_t *o, const char *key,
			    const char *needle)
{
	const char *got = pj_str(o, key);

	cr_assert(got && strcasestr(got, needle), "%s: want a string containing \"%s\"%s", key,
		  needle, D);
}

static void expect_bool(const struct probe_run *r, const json_t *o, const char *key, bool want)
{
	bool v;

	cr_assert(pj_bool(o, key, &v) && v == want, "%s: want %s%s", key, want ? "true" : "false",
		  D);
}

static double expect_num(const struct probe_run *r, const json_t *o, const char *key)
{
	double v;

	cr_assert(pj_num(o, key, &v), "%s: want a number%s", key, D);
	return v;
}

static void expect_int(const struct probe_run *r, const json_t *o, const char *key, long want)
{
	double v = expect_num(r, o, key);

	cr_assert(v == (double)want, "%s: want %ld, got %g%s", key, want, v, D);
}

static void expect_finding(const struct probe_run *r, const json_t *o, const char *f)
{
	cr_assert(pj_has_finding(o, f), "findings: want \"%s\"%s", f, D);
}

static void expect_no_finding(const struct probe_run *r, const json_t *o, const char *f)
{
	cr_assert(json_is_array(json_object_get(o, "findings")), "findings: want an array%s", D);
	cr_assert(!pj_has_finding(o, f), "findings: want no \"%s\"%s", f, D);
}

static void expect_san(const struct probe_run *r, const json_t *o, const char *name)
{
	cr_assert(pj_array_has_str(o, "leaf_sans", name), "leaf_sans: want \"%s\"%s", name, D);
}

static void expect_verify_error(const struct probe_run *r, const json_t *o, int depth, int code)
{
	cr_assert(pj_has_verify_error(o, depth, code),
		  "verify_errors: want {depth:%d, code:%d}%s", depth, code, D);
}

/* cert_not_before / cert_not_after / chain_not_after_min / client_cert_not_after
 * equal to the date in PKI file `pem` (which: startdate|enddate). */
static void expect_cert_date(const struct probe_run *r, const json_t *o, const char *key,
			     const char *pem, const char *which)
{
	char want[64];

	cr_assert_eq(tw_cert_date(tw_pki(pem), which, want, sizeof(want)), 0,
		     "openssl x509 -%s %s failed", which, pem);
	expect_str(r, o, key, want);
}

static void expect_fingerprint(const struct probe_run *r, const json_t *o, const char *pem)
{
	char want[128], got[128];
	const char *fp = pj_str(o, "fingerprint_sha256");

	cr_assert_eq(tw_cert_fingerprint(tw_pki(pem), want, sizeof(want)), 0,
		     "openssl x509 -fingerprint %s failed", pem);
	cr_assert(fp, "fingerprint_sha256: want a string%s", D);
	tw_normalise_hex(fp, got, sizeof(got));
	cr_assert_str_eq(got, want, "fingerprint_sha256 is not the SHA-256 of %s%s", pem, D);
}

/* days_to_expiry within one day of (notAfter(pem) - now) / 86400 */
static void expect_days_to_expiry(const struct probe_run *r, const json_t *o, const char *pem)
{
	char end[64];
	double days = expect_num(r, o, "days_to_expiry");

	cr_assert_eq(tw_cert_date(tw_pki(pem), "enddate", end, sizeof(end)), 0);
	double want = (double)(tw_rfc3339_epoch(end) - (long long)time(NULL)) / 86400.0;
	cr_assert(fabs(days - want) <= 1.0, "days_to_expiry: want about %.2f, got %g%s", want,
		  days, D);
}

static void expect_port(const struct probe_run *r, const json_t *o, const char *port_env)
{
	json_t *p = json_object_get(o, "port");
	long want = strtol(tw_port(port_env), NULL, 10);

	cr_assert((json_is_integer(p) && json_integer_value(p) == want) ||
		  (json_is_string(p) && strtol(json_string_value(p), NULL, 10) == want),
		  "port: want %ld%s", want, D);
}

static void expect_stderr_mentions(const struct probe_run *r, const char *const words[])
{
	cr_assert(r->err && *r->err, "want a message on stderr%s", D);
	for (size_t i = 0; words[i]; i++)
		if (strcasestr(r->err, words[i]))
			return;
	cr_assert_fail("stderr does not name the problem (want one of \"%s\"...)%s", words[0], D);
}

/* The common fields of a completed, verified handshake to the good RSA leaf. */
static void expect_good_leaf(const struct probe_run *r, const json_t *o, const char *pem)
{
	expect_fingerprint(r, o, pem);
	expect_cert_date(r, o, "cert_not_before", pem, "startdate");
	expect_cert_date(r, o, "cert_not_after", pem, "enddate");
	expect_san(r, o, "localhost");
	expect_san(r, o, "good.tw.test");
	expect_contains(r, o, "leaf_issuer", "tlswatch Test Intermediate CA");
}

static const char *const CONTRACT_KEYS[] = {
	"target", "host", "port", "sni", "address", "profile", "outcome", "findings",
	"tls_version", "cipher", "cipher_iana", "group", "alpn", "ocsp_stapled", "ocsp_status",
	"sni_match", "cert_not_before", "cert_not_after", "days_to_expiry",
	"chain_not_after_min", "chain_len", "leaf_subject", "leaf_sans", "leaf_issuer",
	"leaf_key", "leaf_sig_alg", "fingerprint_sha256", "verify_errors", "alert", "dns_ms",
	"connect_ms", "handshake_ms", "total_ms", "outcome_depth", "client_cert_not_after",
	"ocsp_responder_ms", NULL,
};

static void expect_all_keys(const struct probe_run *r, const json_t *o)
{
	for (size_t i = 0; CONTRACT_KEYS[i]; i++)
		cr_assert(pj_has(o, CONTRACT_KEYS[i]), "key \"%s\" missing (absent = null)%s",
			  CONTRACT_KEYS[i], D);
}

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

Test(check, staple_missing)
{
	struct probe_run run, *r = &run;
	probe_check(r, "--revocation", "staple", tw_target("localhost", "TW_PORT_GOOD"), NULL);
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
