/*
 * test_result.c - probe/result.c's result_to_json(): the JSON object
 * `tlswatch-probe check --json` prints for one Result (DESIGN 4.4).
 *
 * Results are built field by field here (no handshake): what is checked is
 * the mapping - every contract key present, absent values as null (never
 * 0, "" or another sentinel), present zeros and falses kept, times as RFC
 * 3339 UTC, durations rounded to the microsecond, and certificate text
 * that is not valid UTF-8 still shown. result_fill() from a real handshake
 * is covered by tests/integration/test_check.c.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <math.h>
#include <string.h>

#include "result.h"

TestSuite(result);

/* DESIGN 4.4: "at least" these keys, on every line. */
static const char *const contract_keys[] = {
	"target", "host", "port", "sni", "address", "profile", "outcome", "findings", "tls_version",
	"cipher", "cipher_iana", "group", "alpn", "ocsp_stapled", "ocsp_status", "sni_match",
	"cert_not_before", "cert_not_after", "days_to_expiry", "chain_not_after_min", "chain_len",
	"leaf_subject", "leaf_sans", "leaf_issuer", "leaf_key", "leaf_sig_alg", "fingerprint_sha256",
	"verify_errors", "alert", "dns_ms", "connect_ms", "handshake_ms", "total_ms",
};
/* The keys a failed connection has no value for. */
static const char *const nullable_keys[] = {
	"time", "sni", "address", "starttls", "outcome_depth", "tls_version", "cipher", "cipher_iana",
	"group", "alpn", "ocsp_stapled", "ocsp_status", "ocsp_source", "ocsp_responder_ms",
	"sni_match", "cert_not_before", "cert_not_after", "days_to_expiry", "chain_not_after_min",
	"chain_not_after_min_depth", "chain_len", "leaf_subject", "leaf_issuer", "leaf_key",
	"leaf_sig_alg", "fingerprint_sha256", "client_cert_not_after", "alert", "dns_ms",
	"connect_ms", "handshake_ms", "total_ms",
};

static void minimal(Tlswatch__Result *r, char *target, char *outcome)
{
	tlswatch__result__init(r);
	r->target = target;
	r->port = 443;
	r->profile = "modern";
	r->outcome = outcome;
}

static const char *str_of(const json_t *o, const char *k)
{
	const json_t *v = json_object_get(o, k);
	cr_assert(json_is_string(v), "%s is not a string", k);
	return json_string_value(v);
}

static double num_of(const json_t *o, const char *k)
{
	const json_t *v = json_object_get(o, k);
	cr_assert(json_is_number(v), "%s is not a number", k);
	return json_number_value(v);
}

Test(result, failed_connection_is_nulls_not_sentinels)
{
	Tlswatch__Result r;
	minimal(&r, "a.example", "connect_refused");
	json_t *o = result_to_json(&r);
	cr_assert_not_null(o);
	for (size_t i = 0; i < sizeof contract_keys / sizeof *contract_keys; i++)
		cr_assert_not_null(json_object_get(o, contract_keys[i]), "no key %s", contract_keys[i]);
	for (size_t i = 0; i < sizeof nullable_keys / sizeof *nullable_keys; i++)
		cr_assert(json_is_null(json_object_get(o, nullable_keys[i])), "%s is not null",
			  nullable_keys[i]);
	cr_assert_str_eq(str_of(o, "target"), "a.example");
	cr_assert_str_eq(str_of(o, "host"), "a.example");
	cr_assert_eq(json_integer_value(json_object_get(o, "port")), 443);
	cr_assert_str_eq(str_of(o, "outcome"), "connect_refused");
	cr_assert_str_eq(str_of(o, "profile"), "modern");
	/* lists are empty lists, not null */
	cr_assert(json_is_array(json_object_get(o, "findings")));
	cr_assert_eq(json_array_size(json_object_get(o, "findings")), 0);
	cr_assert_eq(json_array_size(json_object_get(o, "leaf_sans")), 0);
	cr_assert_eq(json_array_size(json_object_get(o, "verify_errors")), 0);
	/* check has no probe identity: the keys are left out, not null */
	cr_assert_null(json_object_get(o, "probe_id"));
	cr_assert_null(json_object_get(o, "region"));
	json_decref(o);
}

/* A value that is present but zero or false is that value: a 0 ms DNS
 * lookup (an IP literal), an unstapled handshake, a name that did not
 * match, an already expired certificate. */
Test(result, present_zeros_and_falses_are_kept)
{
	Tlswatch__Result r;
	minimal(&r, "192.0.2.1", "cert_expired");
	r.has_dns_ms = 1;
	r.dns_ms = 0.0;
	r.has_ocsp_stapled = 1;
	r.ocsp_stapled = 0;
	r.has_sni_match = 1;
	r.sni_match = 0;
	r.has_days_to_expiry = 1;
	r.days_to_expiry = -3.25;
	r.has_outcome_depth = 1;
	r.outcome_depth = 0;
	r.has_chain_len = 1;
	r.chain_len = 1;
	json_t *o = result_to_json(&r);
	cr_assert_not_null(o);
	cr_assert(json_is_real(json_object_get(o, "dns_ms")));
	cr_assert_float_eq(num_of(o, "dns_ms"), 0.0, 1e-12);
	cr_assert(json_is_false(json_object_get(o, "ocsp_stapled")));
	cr_assert(json_is_false(json_object_get(o, "sni_match")));
	cr_assert_float_eq(num_of(o, "days_to_expiry"), -3.25, 1e-12);
	cr_assert_eq(json_integer_value(json_object_get(o, "outcome_depth")), 0);
	cr_assert(json_is_integer(json_object_get(o, "outcome_depth")));
	cr_assert_eq(json_integer_value(json_object_get(o, "chain_len")), 1);
	/* still absent: */
	cr_assert(json_is_null(json_object_get(o, "connect_ms")));
	json_decref(o);
}

Test(result, times_are_rfc3339_utc)
{
	Tlswatch__Result r;
	minimal(&r, "a.example", "ok");
	r.has_started_unix_ms = 1;
	r.started_unix_ms = 1772409600123LL;
	r.has_cert_not_before = 1;
	r.cert_not_before = -86400;                 /* a certificate from 1969 */
	r.has_cert_not_after = 1;
	r.cert_not_after = 1772409600;
	r.has_chain_not_after_min = 1;
	r.chain_not_after_min = 1709208000;
	r.has_chain_not_after_min_depth = 1;
	r.chain_not_after_min_depth = 2;
	r.has_client_cert_not_after = 1;
	r.client_cert_not_after = 0;
	json_t *o = result_to_json(&r);
	cr_assert_not_null(o);
	cr_assert_str_eq(str_of(o, "time"), "2026-03-02T00:00:00.123Z");
	cr_assert_str_eq(str_of(o, "cert_not_before"), "1969-12-31T00:00:00Z");
	cr_assert_str_eq(str_of(o, "cert_not_after"), "2026-03-02T00:00:00Z");
	cr_assert_str_eq(str_of(o, "chain_not_after_min"), "2024-02-29T12:00:00Z");
	cr_assert_eq(json_integer_value(json_object_get(o, "chain_not_after_min_depth")), 2);
	/* the epoch itself is a time, not "absent" */
	cr_assert_str_eq(str_of(o, "client_cert_not_after"), "1970-01-01T00:00:00Z");
	json_decref(o);
}

/* Durations: milliseconds with fractions, rounded to three decimals. */
Test(result, durations_rounded_to_microseconds)
{
	Tlswatch__Result r;
	minimal(&r, "a.example", "ok");
	r.has_dns_ms = 1;
	r.dns_ms = 1.23449;
	r.has_connect_ms = 1;
	r.connect_ms = 0.0006;
	r.has_handshake_ms = 1;
	r.handshake_ms = 12.3456;
	r.has_total_ms = 1;
	r.total_ms = 1500.9999;
	r.has_ocsp_responder_ms = 1;
	r.ocsp_responder_ms = 250.25;
	json_t *o = result_to_json(&r);
	cr_assert_not_null(o);
	cr_assert_float_eq(num_of(o, "dns_ms"), 1.234, 1e-9);
	cr_assert_float_eq(num_of(o, "connect_ms"), 0.001, 1e-9);
	cr_assert_float_eq(num_of(o, "handshake_ms"), 12.346, 1e-9);
	cr_assert_float_eq(num_of(o, "total_ms"), 1501.0, 1e-9);
	cr_assert_float_eq(num_of(o, "ocsp_responder_ms"), 250.25, 1e-9);
	json_decref(o);
}

Test(result, lists_and_strings_in_order)
{
	Tlswatch__Result r;
	minimal(&r, "a.example", "untrusted_root");
	char *findings[] = { "expiring_soon", "weak_signature" };
	char *sans[] = { "a.example", "*.a.example", "192.0.2.1" };
	Tlswatch__VerifyError v0 = TLSWATCH__VERIFY_ERROR__INIT, v1 = TLSWATCH__VERIFY_ERROR__INIT;
	v0.depth = 1;
	v0.code = 19;
	v0.reason = "self-signed certificate in certificate chain";
	v1.depth = 0;
	v1.code = 10;
	v1.reason = "certificate has expired";
	Tlswatch__VerifyError *verrs[] = { &v0, &v1 };
	r.findings = findings;
	r.n_findings = 2;
	r.leaf_sans = sans;
	r.n_leaf_sans = 3;
	r.verify_errors = verrs;
	r.n_verify_errors = 2;
	r.sni = "a.example";
	r.tls_version = "TLSv1.3";
	r.cipher = "TLS_AES_128_GCM_SHA256";
	r.cipher_iana = "TLS_AES_128_GCM_SHA256";
	r.probe_id = "p1";
	r.region = "eu";
	json_t *o = result_to_json(&r);
	cr_assert_not_null(o);
	json_t *f = json_object_get(o, "findings");
	cr_assert_eq(json_array_size(f), 2);
	cr_assert_str_eq(json_string_value(json_array_get(f, 0)), "expiring_soon");
	cr_assert_str_eq(json_string_value(json_array_get(f, 1)), "weak_signature");
	json_t *s = json_object_get(o, "leaf_sans");
	cr_assert_eq(json_array_size(s), 3);
	cr_assert_str_eq(json_string_value(json_array_get(s, 1)), "*.a.example");
	json_t *ve = json_object_get(o, "verify_errors");
	cr_assert_eq(json_array_size(ve), 2);
	cr_assert_eq(json_integer_value(json_object_get(json_array_get(ve, 0), "depth")), 1);
	cr_assert_eq(json_integer_value(json_object_get(json_array_get(ve, 0), "code")), 19);
	cr_assert_str_eq(json_string_value(json_object_get(json_array_get(ve, 1), "reason")),
			 "certificate has expired");
	cr_assert_str_eq(str_of(o, "tls_version"), "TLSv1.3");
	cr_assert_str_eq(str_of(o, "sni"), "a.example");
	cr_assert_str_eq(str_of(o, "probe_id"), "p1");
	cr_assert_str_eq(str_of(o, "region"), "eu");
	json_decref(o);
}

/* Certificate text comes from the server: a DNS name or subject that is
 * not valid UTF-8 (a Latin-1 byte, a multibyte character cut short) is
 * still shown - with the offending bytes replaced - instead of the key or
 * the list entry silently disappearing. */
Test(result, certificate_text_not_utf8_still_shown)
{
	Tlswatch__Result r;
	minimal(&r, "a.example", "hostname_mismatch");
	char *sans[] = { "caf\xe9.example", "ok.example" };
	r.leaf_sans = sans;
	r.n_leaf_sans = 2;
	r.leaf_subject = "CN=caf\xc3";              /* cut inside "é" */
	r.leaf_issuer = "CN=Caf\xc3\xa9 CA";        /* valid: kept as is */
	json_t *o = result_to_json(&r);
	cr_assert_not_null(o);
	json_t *s = json_object_get(o, "leaf_sans");
	cr_assert_eq(json_array_size(s), 2, "a SAN went missing");
	cr_assert_str_eq(json_string_value(json_array_get(s, 0)), "caf?.example");
	cr_assert_str_eq(json_string_value(json_array_get(s, 1)), "ok.example");
	cr_assert(json_is_string(json_object_get(o, "leaf_subject")), "leaf_subject missing or null");
	cr_assert_str_eq(str_of(o, "leaf_subject"), "CN=caf?");
	cr_assert_str_eq(str_of(o, "leaf_issuer"), "CN=Caf\xc3\xa9 CA");
	/* and the whole line can be printed */
	char *line = json_dumps(o, JSON_COMPACT);
	cr_assert_not_null(line);
	free(line);
	json_decref(o);
}
