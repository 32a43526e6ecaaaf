/*
 * check_env.h - assertions of the `tlswatch-probe check` integration tests
 * (test_check.c, test_check_findings.c) over the JSON lines probe_run.h
 * parses: exit codes, one line, outcome, fields, findings, certificate
 * facts compared with what the openssl CLI says of the PKI files. Included
 * by test files only; every helper is static inline. Every assertion
 * message ends with the run's description (D).
 */
#ifndef TW_CHECK_ENV_H
#define TW_CHECK_ENV_H

#include <criterion/criterion.h>
#include <jansson.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "probe_run.h"

#define D probe_describe(r)

/* Exactly one JSON line; returns it. */
static inline json_t *one(const struct probe_run *r)
{
	cr_assert(!r->timed_out, "probe did not finish%s", D);
	cr_assert_eq(r->n_lines, 1, "want 1 JSON line, got %zu%s", r->n_lines, D);
	cr_assert_eq(r->bad_lines, 0, "stdout has non-JSON lines%s", D);
	return r->lines[0];
}

static inline void expect_exit(const struct probe_run *r, int code)
{
	cr_assert(!r->timed_out, "probe did not finish%s", D);
	cr_assert_eq(r->exit_code, code, "want exit %d, got %d%s", code, r->exit_code, D);
}

static inline void expect_str(const struct probe_run *r, const json_t *o, const char *key,
		       const char *want)
{
	const char *got = pj_str(o, key);

	cr_assert(got && strcmp(got, want) == 0, "%s: want \"%s\", got %s%s%s%s", key, want,
		  got ? "\"" : "", got ? got : "(absent, null or not a string)", got ? "\"" : "", D);
}

static inline void expect_outcome(const struct probe_run *r, const json_t *o, const char *want)
{
	expect_str(r, o, "outcome", want);
}

static inline void expect_null(const struct probe_run *r, const json_t *o, const char *key)
{
	cr_assert(pj_is_null(o, key), "%s: want null%s", key, D);
}

static inline void expect_nonempty_str(const struct probe_run *r, const json_t *o, const char *key)
{
	const char *got = pj_str(o, key);

	cr_assert(got && *got, "%s: want a non-empty string%s", key, D);
}

static inline void expect_contains(const struct probe_run *r, const json_t *o, const char *key,
			    const char *needle)
{
	const char *got = pj_str(o, key);

	cr_assert(got && strcasestr(got, needle), "%s: want a string containing \"%s\"%s", key,
		  needle, D);
}

static inline void expect_bool(const struct probe_run *r, const json_t *o, const char *key, bool want)
{
	bool v;

	cr_assert(pj_bool(o, key, &v) && v == want, "%s: want %s%s", key, want ? "true" : "false",
		  D);
}

static inline double expect_num(const struct probe_run *r, const json_t *o, const char *key)
{
	double v;

	cr_assert(pj_num(o, key, &v), "%s: want a number%s", key, D);
	return v;
}

static inline void expect_int(const struct probe_run *r, const json_t *o, const char *key, long want)
{
	double v = expect_num(r, o, key);

	cr_assert(v == (double)want, "%s: want %ld, got %g%s", key, want, v, D);
}

static inline void expect_finding(const struct probe_run *r, const json_t *o, const char *f)
{
	cr_assert(pj_has_finding(o, f), "findings: want \"%s\"%s", f, D);
}

static inline void expect_no_finding(const struct probe_run *r, const json_t *o, const char *f)
{
	cr_assert(json_is_array(json_object_get(o, "findings")), "findings: want an array%s", D);
	cr_assert(!pj_has_finding(o, f), "findings: want no \"%s\"%s", f, D);
}

static inline void expect_san(const struct probe_run *r, const json_t *o, const char *name)
{
	cr_assert(pj_array_has_str(o, "leaf_sans", name), "leaf_sans: want \"%s\"%s", name, D);
}

static inline void expect_verify_error(const struct probe_run *r, const json_t *o, int depth, int code)
{
	cr_assert(pj_has_verify_error(o, depth, code),
		  "verify_errors: want {depth:%d, code:%d}%s", depth, code, D);
}

/* cert_not_before / cert_not_after / chain_not_after_min / client_cert_not_after
 * equal to the date in PKI file `pem` (which: startdate|enddate). */
static inline void expect_cert_date(const struct probe_run *r, const json_t *o, const char *key,
			     const char *pem, const char *which)
{
	char want[64];

	cr_assert_eq(tw_cert_date(tw_pki(pem), which, want, sizeof(want)), 0,
		     "openssl x509 -%s %s failed", which, pem);
	expect_str(r, o, key, want);
}

static inline void expect_fingerprint(const struct probe_run *r, const json_t *o, const char *pem)
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
static inline void expect_days_to_expiry(const struct probe_run *r, const json_t *o, const char *pem)
{
	char end[64];
	double days = expect_num(r, o, "days_to_expiry");

	cr_assert_eq(tw_cert_date(tw_pki(pem), "enddate", end, sizeof(end)), 0);
	double want = (double)(tw_rfc3339_epoch(end) - (long long)time(NULL)) / 86400.0;
	cr_assert(fabs(days - want) <= 1.0, "days_to_expiry: want about %.2f, got %g%s", want,
		  days, D);
}

static inline void expect_port(const struct probe_run *r, const json_t *o, const char *port_env)
{
	json_t *p = json_object_get(o, "port");
	long want = strtol(tw_port(port_env), NULL, 10);

	cr_assert((json_is_integer(p) && json_integer_value(p) == want) ||
		  (json_is_string(p) && strtol(json_string_value(p), NULL, 10) == want),
		  "port: want %ld%s", want, D);
}

static inline void expect_stderr_mentions(const struct probe_run *r, const char *const words[])
{
	cr_assert(r->err && *r->err, "want a message on stderr%s", D);
	for (size_t i = 0; words[i]; i++)
		if (strcasestr(r->err, words[i]))
			return;
	cr_assert_fail("stderr does not name the problem (want one of \"%s\"...)%s", words[0], D);
}

/* The common fields of a completed, verified handshake to the good RSA leaf. */
static inline void expect_good_leaf(const struct probe_run *r, const json_t *o, const char *pem)
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

static inline void expect_all_keys(const struct probe_run *r, const json_t *o)
{
	for (size_t i = 0; CONTRACT_KEYS[i]; i++)
		cr_assert(pj_has(o, CONTRACT_KEYS[i]), "key \"%s\" missing (absent = null)%s",
			  CONTRACT_KEYS[i], D);
}


#endif
