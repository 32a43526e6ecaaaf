/*
 * test_classify.c - classify_result(): outcome precedence and findings (DESIGN 4.3).
 *
 * classify_result() is pure, so every case builds struct hs_facts by hand. Where
 * the verdict depends on a certificate (error 20, findings) the chain is
 * generated in memory with OpenSSL.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <math.h>
#include <string.h>
#include <time.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "classify.h"

/* ---- fixture ---- */

static struct profile prof;
static struct tlsctx tc;
static struct hs_request req;
static struct hs_facts f;
static struct classify_opts opts;
static struct classification out;
static SSL_CTX *scratch;   /* source of real SSL_CIPHERs */

static void setup(void)
{
	memset(&prof, 0, sizeof prof);
	prof.name = "testprof";
	prof.request_ocsp = false;
	prof.min_rsa_bits = -1;
	prof.min_ecdsa_bits = -1;
	prof.requires_sha2 = false;

	memset(&tc, 0, sizeof tc);
	tc.profile = &prof;
	tc.best_tier = 2;
	tc.max_version = TLS1_3_VERSION;

	memset(&req, 0, sizeof req);
	req.host = "a.example";
	req.port = 443;
	req.tc = &tc;

	memset(&f, 0, sizeof f);
	f.alert_received = -1;
	f.alert_sent = -1;
	f.ocsp_responder_ms = -1;

	memset(&opts, 0, sizeof opts);
	opts.expiry_warn_days = 30;
	opts.ocsp_slow_ms = 1000;
	opts.now = time(NULL);

	memset(&out, 0, sizeof out);
	scratch = NULL;
}

static void teardown(void)
{
	if (f.peer_chain)
		sk_X509_pop_free(f.peer_chain, X509_free);
	f.peer_chain = NULL;
	if (f.verified_chain)
		sk_X509_pop_free(f.verified_chain, X509_free);
	f.verified_chain = NULL;
	SSL_CTX_free(scratch);
	scratch = NULL;
}

static void run(void)
{
	classify_result(&f, &req, "a.example", &opts, &out);
}

static void verr(int depth, int code)
{
	cr_assert_lt(f.n_verify_errors, HS_MAX_VERIFY_ERRORS);
	f.verify_errors[f.n_verify_errors].depth = depth;
	f.verify_errors[f.n_verify_errors].code = code;
	f.n_verify_errors++;
}

#define ASSERT_OUTCOME(want) \
	cr_assert_eq(out.outcome, (want), "outcome %s, expected %s (reason \"%s\")", \
		     classify_outcome_name(out.outcome), classify_outcome_name(want), out.reason)

/* ---- in-memory certificates ---- */

static EVP_PKEY *ec_key(void)
{
	EVP_PKEY *k = EVP_EC_gen("P-256");
	cr_assert_not_null(k, "EVP_EC_gen failed");
	return k;
}

static void add_ext(X509 *x, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509V3_set_ctx_nodb(&ctx);
	X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
	X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	cr_assert_not_null(ext, "extension %d=%s", nid, value);
	cr_assert_eq(X509_add_ext(x, ext, -1), 1);
	X509_EXTENSION_free(ext);
}

/* A certificate for key, signed by signer (key itself when NULL). Validity
 * is [now + nb_days, now + na_days]. san may be NULL. */
static X509 *make_cert(EVP_PKEY *key, EVP_PKEY *signer, const char *subject_cn,
		       const char *issuer_cn, bool ca, double nb_days, double na_days,
		       const char *san)
{
	X509 *x = X509_new();
	cr_assert_not_null(x);
	cr_assert_eq(X509_set_version(x, X509_VERSION_3), 1);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 4711);
	cr_assert_not_null(X509_gmtime_adj(X509_getm_notBefore(x), (long)(nb_days * 86400)));
	cr_assert_not_null(X509_gmtime_adj(X509_getm_notAfter(x), (long)(na_days * 86400)));
	X509_NAME *sn = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(sn, "CN", MBSTRING_ASC, (const unsigned char *)subject_cn, -1, -1, 0);
	X509_NAME *in = X509_get_issuer_name(x);
	X509_NAME_add_entry_by_txt(in, "CN", MBSTRING_ASC, (const unsigned char *)issuer_cn, -1, -1, 0);
	cr_assert_eq(X509_set_pubkey(x, key), 1);
	add_ext(x, NID_basic_constraints, ca ? "critical,CA:TRUE" : "critical,CA:FALSE");
	if (san)
		add_ext(x, NID_subject_alt_name, san);
	cr_assert_gt(X509_sign(x, signer ? signer : key, EVP_sha256()), 0);
	return x;
}

static void push(X509 *x)
{
	if (!f.peer_chain)
		f.peer_chain = sk_X509_new_null();
	cr_assert_not_null(f.peer_chain);
	cr_assert_gt(sk_X509_push(f.peer_chain, x), 0);
}

/* Leaf for a.example signed by a (not included) intermediate. */
static void push_leaf(EVP_PKEY *key, double na_days)
{
	EVP_PKEY *ca = ec_key();
	push(make_cert(key, ca, "a.example", "Test Intermediate", false, -1, na_days, "DNS:a.example"));
	EVP_PKEY_free(ca);
}

/* A leaf that names an OCSP responder (AIA), re-signed after the addition. */
static void push_ocsp_leaf(void)
{
	EVP_PKEY *k = ec_key(), *ca = ec_key();
	X509 *x = make_cert(k, ca, "a.example", "Test Intermediate", false, -1, 200, "DNS:a.example");
	add_ext(x, NID_info_access, "OCSP;URI:http://ocsp.example/");
	cr_assert_gt(X509_sign(x, ca, EVP_sha256()), 0);
	push(x);
	EVP_PKEY_free(k);
	EVP_PKEY_free(ca);
}

static void push_ec_leaf(double na_days)
{
	EVP_PKEY *k = ec_key();
	push_leaf(k, na_days);
	EVP_PKEY_free(k);
}

static const SSL_CIPHER *find_cipher(const char *name)
{
	if (!scratch) {
		scratch = SSL_CTX_new(TLS_client_method());
		cr_assert_not_null(scratch);
		SSL_CTX_set_security_level(scratch, 0);
		cr_assert_eq(SSL_CTX_set_cipher_list(scratch, "ALL:@SECLEVEL=0"), 1);
	}
	STACK_OF(SSL_CIPHER) *sk = SSL_CTX_get_ciphers(scratch);
	for (int i = 0; i < sk_SSL_CIPHER_num(sk); i++) {
		const SSL_CIPHER *c = sk_SSL_CIPHER_value(sk, i);
		if (strcmp(SSL_CIPHER_get_name(c), name) == 0)
			return c;
	}
	cr_assert_fail("cipher %s not available in this OpenSSL build", name);
	return NULL;
}

/* A completed handshake with a sane default: TLS1.3, AES-128-GCM, EC leaf. */
static void done_tls13(void)
{
	f.handshake_done = true;
	f.failed_phase = PH_NONE;
	f.version = TLS1_3_VERSION;
	f.cipher = find_cipher("TLS_AES_128_GCM_SHA256");
	f.server_hello_seen = true;
}

/* ================= reachability / protocol ================= */

TestSuite(classify_fail, .init = setup, .fini = teardown);

Test(classify_fail, dns_phase_is_dns_error)
{
	f.failed_phase = PH_DNS;
	f.sys_errno = ECONNREFUSED;   /* later-phase facts must not leak through */
	f.alert_received = 70;
	run();
	ASSERT_OUTCOME(OUT_DNS_ERROR);
}

Test(classify_fail, connect_refused)
{
	f.failed_phase = PH_CONNECT;
	f.sys_errno = ECONNREFUSED;
	run();
	ASSERT_OUTCOME(OUT_CONNECT_REFUSED);
}

Test(classify_fail, connect_timeout)
{
	f.failed_phase = PH_CONNECT;
	f.timed_out = true;
	run();
	ASSERT_OUTCOME(OUT_CONNECT_TIMEOUT);
}

Test(classify_fail, connect_timeout_beats_errno)
{
	f.failed_phase = PH_CONNECT;
	f.timed_out = true;
	f.sys_errno = ECONNREFUSED;
	run();
	ASSERT_OUTCOME(OUT_CONNECT_TIMEOUT);
}

Test(classify_fail, connect_other_errno_is_io_error)
{
	f.failed_phase = PH_CONNECT;
	f.sys_errno = ENETUNREACH;
	run();
	ASSERT_OUTCOME(OUT_IO_ERROR);
}

Test(classify_fail, handshake_timeout)
{
	f.failed_phase = PH_HANDSHAKE;
	f.timed_out = true;
	f.alert_received = 70;    /* timeout wins */
	run();
	ASSERT_OUTCOME(OUT_HANDSHAKE_TIMEOUT);
}

Test(classify_fail, http_reply_is_not_tls)
{
	f.failed_phase = PH_HANDSHAKE;
	memcpy(f.first_bytes, "HTTP/1.1", 8);
	f.first_len = 8;
	f.ssl_error = ERR_PACK(ERR_LIB_SSL, 0, SSL_R_WRONG_VERSION_NUMBER);
	run();
	ASSERT_OUTCOME(OUT_NOT_TLS);
}

Test(classify_fail, tls_record_bytes_are_not_not_tls)
{
	static const unsigned char alert_rec[] = { 0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x46 };
	f.failed_phase = PH_HANDSHAKE;
	memcpy(f.first_bytes, alert_rec, sizeof alert_rec);
	f.first_len = sizeof alert_rec;
	f.alert_received = 70;
	run();
	ASSERT_OUTCOME(OUT_PROTOCOL_VERSION);
}

Test(classify_fail, alert_70_protocol_version)
{
	f.failed_phase = PH_HANDSHAKE;
	f.alert_received = SSL_AD_PROTOCOL_VERSION;
	run();
	ASSERT_OUTCOME(OUT_PROTOCOL_VERSION);
}

Test(classify_fail, alert_40_before_server_hello_no_shared_cipher)
{
	f.failed_phase = PH_HANDSHAKE;
	f.alert_received = SSL_AD_HANDSHAKE_FAILURE;
	f.server_hello_seen = false;
	run();
	ASSERT_OUTCOME(OUT_NO_SHARED_CIPHER);
}

Test(classify_fail, alert_40_after_server_hello_is_tls_alert)
{
	f.failed_phase = PH_HANDSHAKE;
	f.alert_received = SSL_AD_HANDSHAKE_FAILURE;
	f.server_hello_seen = true;
	run();
	ASSERT_OUTCOME(OUT_TLS_ALERT);
}

Test(classify_fail, alert_40_after_cert_request_without_cert)
{
	f.failed_phase = PH_HANDSHAKE;
	f.alert_received = SSL_AD_HANDSHAKE_FAILURE;
	f.server_hello_seen = true;
	f.cert_requested = true;
	f.cert_sent = false;
	run();
	ASSERT_OUTCOME(OUT_CLIENT_CERT_REQUIRED);
}

Test(classify_fail, alert_48_with_cert_sent_is_rejected)
{
	f.failed_phase = PH_HANDSHAKE;
	f.alert_received = SSL_AD_UNKNOWN_CA;
	f.server_hello_seen = true;
	f.cert_requested = true;
	f.cert_sent = true;
	run();
	ASSERT_OUTCOME(OUT_CLIENT_CERT_REJECTED);
}

Test(classify_fail, alert_116_certificate_required)
{
	f.failed_phase = PH_POSTREAD;
	f.alert_received = SSL_AD_CERTIFICATE_REQUIRED;
	f.server_hello_seen = true;
	run();
	ASSERT_OUTCOME(OUT_CLIENT_CERT_REQUIRED);
}

Test(classify_fail, other_alert_is_tls_alert)
{
	f.failed_phase = PH_HANDSHAKE;
	f.alert_received = SSL_AD_INTERNAL_ERROR;
	f.server_hello_seen = true;
	run();
	ASSERT_OUTCOME(OUT_TLS_ALERT);
}

Test(classify_fail, unsupported_protocol_error_is_protocol_version)
{
	f.failed_phase = PH_HANDSHAKE;
	f.ssl_error = ERR_PACK(ERR_LIB_SSL, 0, SSL_R_UNSUPPORTED_PROTOCOL);
	run();
	ASSERT_OUTCOME(OUT_PROTOCOL_VERSION);
}

Test(classify_fail, no_error_no_alert_is_io_error)
{
	f.failed_phase = PH_HANDSHAKE;
	run();
	ASSERT_OUTCOME(OUT_IO_ERROR);
}

Test(classify_fail, failure_reason_is_kept_raw)
{
	f.failed_phase = PH_CONNECT;
	f.sys_errno = ECONNREFUSED;
	snprintf(f.detail, sizeof f.detail, "connect 192.0.2.1:443: Connection refused");
	run();
	cr_assert_str_eq(out.reason, "connect 192.0.2.1:443: Connection refused");
}

/* ================= verification precedence ================= */

TestSuite(classify_verify, .init = setup, .fini = teardown);

static void verify_case(int depth, int code, enum outcome want, int want_depth)
{
	done_tls13();
	verr(depth, code);
	run();
	ASSERT_OUTCOME(want);
	cr_assert_eq(out.depth, want_depth, "depth %d, expected %d", out.depth, want_depth);
}

Test(classify_verify, err18_self_signed)
{
	verify_case(0, X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT, OUT_SELF_SIGNED, 0);
	cr_assert(strstr(out.reason, "depth 0") != NULL, "reason \"%s\"", out.reason);
}

Test(classify_verify, err19_untrusted_root)
{
	verify_case(1, X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN, OUT_UNTRUSTED_ROOT, 1);
}

Test(classify_verify, err21_chain_incomplete)
{
	verify_case(0, X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE, OUT_CHAIN_INCOMPLETE, 0);
}

Test(classify_verify, expired_intermediate_beats_hostname)
{
	done_tls13();
	verr(1, X509_V_ERR_CERT_HAS_EXPIRED);
	verr(0, X509_V_ERR_HOSTNAME_MISMATCH);
	run();
	ASSERT_OUTCOME(OUT_CERT_EXPIRED);
	cr_assert_eq(out.depth, 1);
	cr_assert(strstr(out.reason, "depth 1") != NULL, "reason \"%s\"", out.reason);
}

Test(classify_verify, err9_not_yet_valid)
{
	verify_case(0, X509_V_ERR_CERT_NOT_YET_VALID, OUT_CERT_NOT_YET_VALID, 0);
}

Test(classify_verify, err26_bad_usage)
{
	verify_case(0, X509_V_ERR_INVALID_PURPOSE, OUT_BAD_USAGE, 0);
}

Test(classify_verify, err66_weak_key)
{
	verify_case(0, X509_V_ERR_EE_KEY_TOO_SMALL, OUT_WEAK_KEY, 0);
}

Test(classify_verify, err68_weak_signature)
{
	verify_case(1, X509_V_ERR_CA_MD_TOO_WEAK, OUT_WEAK_SIGNATURE, 1);
}

Test(classify_verify, err62_hostname_mismatch)
{
	verify_case(0, X509_V_ERR_HOSTNAME_MISMATCH, OUT_HOSTNAME_MISMATCH, 0);
}

Test(classify_verify, ocsp_revoked)
{
	done_tls13();
	f.ocsp_status = OCSP_ST_REVOKED;
	snprintf(f.ocsp_source, sizeof f.ocsp_source, "staple");
	snprintf(f.ocsp_detail, sizeof f.ocsp_detail, "keyCompromise");
	run();
	ASSERT_OUTCOME(OUT_REVOKED);
	cr_assert(strstr(out.reason, "keyCompromise") != NULL, "reason \"%s\"", out.reason);
}

Test(classify_verify, ocsp_good_is_ok)
{
	done_tls13();
	f.ocsp_status = OCSP_ST_GOOD;
	run();
	ASSERT_OUTCOME(OUT_OK);
}

Test(classify_verify, hostname_beats_revoked)
{
	done_tls13();
	f.ocsp_status = OCSP_ST_REVOKED;
	verr(0, X509_V_ERR_HOSTNAME_MISMATCH);
	run();
	ASSERT_OUTCOME(OUT_HOSTNAME_MISMATCH);
}

Test(classify_verify, trust_beats_validity)
{
	done_tls13();
	verr(0, X509_V_ERR_CERT_HAS_EXPIRED);
	verr(1, X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN);
	run();
	ASSERT_OUTCOME(OUT_UNTRUSTED_ROOT);
	cr_assert_eq(out.depth, 1);
}

Test(classify_verify, validity_beats_policy)
{
	done_tls13();
	verr(0, X509_V_ERR_EE_KEY_TOO_SMALL);
	verr(0, X509_V_ERR_CERT_NOT_YET_VALID);
	run();
	ASSERT_OUTCOME(OUT_CERT_NOT_YET_VALID);
}

Test(classify_verify, nothing_is_ok)
{
	done_tls13();
	push_ec_leaf(200);
	run();
	ASSERT_OUTCOME(OUT_OK);
	cr_assert_eq(out.depth, -1);
	cr_assert_str_eq(out.reason, "");
	for (int i = 0; i < FIND__COUNT; i++)
		cr_assert(!out.findings[i], "unexpected finding %s", classify_finding_name(i));
}

Test(classify_verify, err20_on_end_entity_is_chain_incomplete)
{
	done_tls13();
	push_ec_leaf(200);
	verr(0, X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY);
	run();
	ASSERT_OUTCOME(OUT_CHAIN_INCOMPLETE);
	cr_assert_eq(out.depth, 0);
}

Test(classify_verify, err20_on_ca_is_untrusted_root)
{
	EVP_PKEY *leafk = ec_key(), *ik = ec_key(), *rk = ec_key();
	done_tls13();
	push(make_cert(leafk, ik, "a.example", "Test Intermediate", false, -1, 200, "DNS:a.example"));
	push(make_cert(ik, rk, "Test Intermediate", "Unknown Root", true, -1, 400, NULL));
	EVP_PKEY_free(leafk);
	EVP_PKEY_free(ik);
	EVP_PKEY_free(rk);
	verr(1, X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY);
	run();
	ASSERT_OUTCOME(OUT_UNTRUSTED_ROOT);
	cr_assert_eq(out.depth, 1);
}

/* A trusted anchor reached through a CA that may not issue: chain_invalid,
 * at the depth OpenSSL reported, for each of the four causes of issue 10. */
Test(classify_verify, err79_not_a_ca_is_chain_invalid)
{
	verify_case(1, X509_V_ERR_INVALID_CA, OUT_CHAIN_INVALID, 1);
	cr_assert(strstr(out.reason, "invalid CA certificate") != NULL, "reason \"%s\"", out.reason);
}

Test(classify_verify, err25_path_length_is_chain_invalid)
{
	verify_case(2, X509_V_ERR_PATH_LENGTH_EXCEEDED, OUT_CHAIN_INVALID, 2);
}

Test(classify_verify, err47_name_constraints_is_chain_invalid)
{
	verify_case(0, X509_V_ERR_PERMITTED_VIOLATION, OUT_CHAIN_INVALID, 0);
}

Test(classify_verify, err34_critical_extension_is_chain_invalid)
{
	verify_case(1, X509_V_ERR_UNHANDLED_CRITICAL_EXTENSION, OUT_CHAIN_INVALID, 1);
}

Test(classify_verify, anchor_problem_beats_chain_invalid)
{
	done_tls13();
	verr(1, X509_V_ERR_INVALID_CA);
	verr(2, X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN);
	run();
	ASSERT_OUTCOME(OUT_UNTRUSTED_ROOT);
	cr_assert_eq(out.depth, 2);
}

Test(classify_verify, chain_invalid_beats_validity)
{
	done_tls13();
	verr(0, X509_V_ERR_CERT_HAS_EXPIRED);
	verr(1, X509_V_ERR_INVALID_CA);
	verr(1, X509_V_ERR_INVALID_PURPOSE);
	run();
	ASSERT_OUTCOME(OUT_CHAIN_INVALID);
	cr_assert_eq(out.depth, 1);
}

Test(classify_verify, bad_signature_is_still_untrusted_root)
{
	verify_case(1, X509_V_ERR_CERT_SIGNATURE_FAILURE, OUT_UNTRUSTED_ROOT, 1);
}

/* ================= findings ================= */

TestSuite(classify_findings, .init = setup, .fini = teardown);

Test(classify_findings, leaf_expiring_in_10_days)
{
	done_tls13();
	push_ec_leaf(10);
	opts.now = time(NULL);
	run();
	ASSERT_OUTCOME(OUT_OK);
	cr_assert(out.findings[FIND_EXPIRING_SOON]);
	cr_assert(fabs(out.days_to_expiry - 10.0) <= 0.01, "days_to_expiry %f", out.days_to_expiry);
	cr_assert_eq(out.chain_not_after_min_depth, 0);
}

Test(classify_findings, leaf_expiring_in_40_days_is_not_soon)
{
	done_tls13();
	push_ec_leaf(40);
	run();
	cr_assert(!out.findings[FIND_EXPIRING_SOON]);
	cr_assert(fabs(out.days_to_expiry - 40.0) <= 0.01, "days_to_expiry %f", out.days_to_expiry);
}

Test(classify_findings, intermediate_expiring_is_expiring_soon)
{
	EVP_PKEY *leafk = ec_key(), *ik = ec_key(), *rk = ec_key();
	done_tls13();
	push(make_cert(leafk, ik, "a.example", "Test Intermediate", false, -1, 200, "DNS:a.example"));
	push(make_cert(ik, rk, "Test Intermediate", "Root", true, -1, 5, NULL));
	EVP_PKEY_free(leafk);
	EVP_PKEY_free(ik);
	EVP_PKEY_free(rk);
	run();
	cr_assert(out.findings[FIND_EXPIRING_SOON]);
	cr_assert_eq(out.chain_not_after_min_depth, 1);
}

Test(classify_findings, no_leaf_days_to_expiry_nan)
{
	f.failed_phase = PH_CONNECT;
	f.sys_errno = ECONNREFUSED;
	run();
	cr_assert(isnan(out.days_to_expiry));
	cr_assert(!out.sni_match_known);
	cr_assert_eq(out.chain_not_after_min_depth, -1);
}

Test(classify_findings, tls10_is_legacy_protocol)
{
	done_tls13();
	f.version = TLS1_VERSION;
	f.cipher = find_cipher("ECDHE-RSA-AES128-SHA");
	run();
	cr_assert(out.findings[FIND_LEGACY_PROTOCOL]);
}

Test(classify_findings, tls12_is_not_legacy_protocol)
{
	done_tls13();
	f.version = TLS1_2_VERSION;
	f.cipher = find_cipher("ECDHE-RSA-AES128-GCM-SHA256");
	run();
	cr_assert(!out.findings[FIND_LEGACY_PROTOCOL]);
}

Test(classify_findings, cbc_cipher_is_fallback)
{
	done_tls13();
	tc.max_version = TLS1_2_VERSION;
	f.version = TLS1_2_VERSION;
	f.cipher = find_cipher("ECDHE-RSA-AES128-SHA");
	run();
	cr_assert(out.findings[FIND_CIPHER_FALLBACK]);
}

Test(classify_findings, tls12_gcm_below_profile_max_is_fallback)
{
	done_tls13();
	tc.max_version = TLS1_3_VERSION;
	f.version = TLS1_2_VERSION;
	f.cipher = find_cipher("ECDHE-RSA-AES128-GCM-SHA256");
	run();
	cr_assert(out.findings[FIND_CIPHER_FALLBACK]);
}

Test(classify_findings, tls12_gcm_at_profile_max_is_not_fallback)
{
	done_tls13();
	tc.max_version = TLS1_2_VERSION;
	f.version = TLS1_2_VERSION;
	f.cipher = find_cipher("ECDHE-RSA-AES128-GCM-SHA256");
	run();
	cr_assert(!out.findings[FIND_CIPHER_FALLBACK]);
}

Test(classify_findings, tls13_suite_is_not_fallback)
{
	done_tls13();
	run();
	cr_assert(!out.findings[FIND_CIPHER_FALLBACK]);
}

Test(classify_findings, no_ocsp_staple_when_requested)
{
	done_tls13();
	push_ocsp_leaf();
	prof.request_ocsp = true;
	f.ocsp_stapled = false;
	run();
	cr_assert(out.findings[FIND_NO_OCSP_STAPLE]);
}

/* Nothing to staple for a certificate that names no responder. */
Test(classify_findings, no_ocsp_staple_only_when_leaf_names_a_responder)
{
	done_tls13();
	push_ec_leaf(200);
	prof.request_ocsp = true;
	f.ocsp_stapled = false;
	run();
	cr_assert(!out.findings[FIND_NO_OCSP_STAPLE]);
}

Test(classify_findings, bad_ocsp_staple_invalid_or_unknown)
{
	enum ocsp_status bad[] = { OCSP_ST_INVALID, OCSP_ST_UNKNOWN };
	for (size_t i = 0; i < 2; i++) {
		done_tls13();
		f.ocsp_stapled = true;
		f.staple_status = bad[i];
		f.ocsp_status = OCSP_ST_GOOD;  /* a responder's later answer does not hide it */
		run();
		ASSERT_OUTCOME(OUT_OK);
		cr_assert(out.findings[FIND_BAD_OCSP_STAPLE], "staple status %d", bad[i]);
	}
	f.staple_status = OCSP_ST_GOOD;
	run();
	cr_assert(!out.findings[FIND_BAD_OCSP_STAPLE]);
}

Test(classify_findings, staple_present_or_not_requested)
{
	done_tls13();
	prof.request_ocsp = true;
	f.ocsp_stapled = true;
	run();
	cr_assert(!out.findings[FIND_NO_OCSP_STAPLE]);
	prof.request_ocsp = false;
	f.ocsp_stapled = false;
	run();
	cr_assert(!out.findings[FIND_NO_OCSP_STAPLE]);
}

Test(classify_findings, sni_mismatch)
{
	done_tls13();
	push_ec_leaf(200);
	classify_result(&f, &req, "b.example", &opts, &out);
	cr_assert(out.sni_match_known);
	cr_assert(!out.sni_match);
	cr_assert(out.findings[FIND_SNI_MISMATCH]);
}

Test(classify_findings, sni_match)
{
	done_tls13();
	push_ec_leaf(200);
	classify_result(&f, &req, "a.example", &opts, &out);
	cr_assert(out.sni_match_known);
	cr_assert(out.sni_match);
	cr_assert(!out.findings[FIND_SNI_MISMATCH]);
}

Test(classify_findings, no_sni_sent_checks_host)
{
	done_tls13();
	push_ec_leaf(200);
	req.host = "c.example";
	classify_result(&f, &req, NULL, &opts, &out);
	cr_assert(out.sni_match_known);
	cr_assert(!out.sni_match);
	cr_assert(out.findings[FIND_SNI_MISMATCH]);
}

Test(classify_findings, ocsp_responder_unreachable)
{
	done_tls13();
	f.ocsp_responder_unreachable = true;
	run();
	ASSERT_OUTCOME(OUT_OK);
	cr_assert(out.findings[FIND_OCSP_RESPONDER_UNREACHABLE]);
}

Test(classify_findings, ocsp_responder_slow)
{
	done_tls13();
	f.ocsp_responder_ms = 1500;
	opts.ocsp_slow_ms = 1000;
	run();
	cr_assert(out.findings[FIND_OCSP_RESPONDER_SLOW]);
}

Test(classify_findings, ocsp_responder_fast_or_not_queried)
{
	done_tls13();
	f.ocsp_responder_ms = 500;
	run();
	cr_assert(!out.findings[FIND_OCSP_RESPONDER_SLOW]);
	f.ocsp_responder_ms = -1;
	opts.ocsp_slow_ms = 0;
	run();
	cr_assert(!out.findings[FIND_OCSP_RESPONDER_SLOW]);
}

static void push_rsa1024_leaf(void)
{
	EVP_PKEY *k = EVP_RSA_gen(1024);
	cr_assert_not_null(k, "EVP_RSA_gen(1024) failed");
	push_leaf(k, 200);
	EVP_PKEY_free(k);
}

Test(classify_findings, rsa1024_leaf_is_weak_key_finding_only)
{
	done_tls13();
	push_rsa1024_leaf();
	run();
	ASSERT_OUTCOME(OUT_OK);
	cr_assert(out.findings[FIND_WEAK_KEY]);
}

Test(classify_findings, rsa1024_leaf_violates_profile_policy)
{
	done_tls13();
	prof.min_rsa_bits = 2048;
	push_rsa1024_leaf();
	run();
	ASSERT_OUTCOME(OUT_WEAK_KEY);
	cr_assert_eq(out.depth, 0);
	cr_assert(strstr(out.reason, "testprof") != NULL, "reason \"%s\"", out.reason);
	cr_assert(out.findings[FIND_WEAK_KEY]);
}

Test(classify_findings, ec256_leaf_is_not_weak)
{
	done_tls13();
	prof.min_rsa_bits = 2048;
	prof.min_ecdsa_bits = 256;
	push_ec_leaf(200);
	run();
	ASSERT_OUTCOME(OUT_OK);
	cr_assert(!out.findings[FIND_WEAK_KEY]);
}

Test(classify_findings, client_cert_expiring)
{
	done_tls13();
	tc.has_client_cert = true;
	tc.client_cert_not_after = opts.now + 5 * 86400;
	run();
	cr_assert(out.findings[FIND_CLIENT_CERT_EXPIRING]);
	tc.client_cert_not_after = opts.now + 90 * 86400;
	run();
	cr_assert(!out.findings[FIND_CLIENT_CERT_EXPIRING]);
}

/* ================= names (DESIGN 4.3 contract) ================= */

TestSuite(classify_names);

static const char *const design_outcomes[] = {
	"dns_error", "connect_refused", "connect_timeout", "io_error",
	"handshake_timeout", "not_tls", "protocol_version", "no_shared_cipher",
	"client_cert_required", "client_cert_rejected", "tls_alert",
	"untrusted_root", "self_signed", "chain_incomplete", "chain_invalid",
	"cert_expired", "cert_not_yet_valid",
	"bad_usage", "weak_key", "weak_signature",
	"hostname_mismatch", "revoked", "ok",
};

static const char *const design_findings[] = {
	"expiring_soon", "weak_key", "weak_signature", "legacy_protocol",
	"cipher_fallback", "no_ocsp_staple", "sni_mismatch",
	"ocsp_responder_unreachable", "ocsp_responder_slow", "client_cert_expiring",
	"bad_ocsp_staple", "crl_unreachable", "crl_stale", "crl_invalid",
	"intermediate_fetched",
};

Test(classify_names, outcome_names_match_design)
{
	cr_assert_eq(sizeof design_outcomes / sizeof design_outcomes[0], (size_t)OUT__COUNT);
	for (int i = 0; i < OUT__COUNT; i++)
		cr_assert_str_eq(classify_outcome_name((enum outcome)i), design_outcomes[i]);
	cr_assert_str_eq(classify_outcome_name(OUT_DNS_ERROR), "dns_error");
	cr_assert_str_eq(classify_outcome_name(OUT_OK), "ok");
	cr_assert_str_eq(classify_outcome_name(OUT_REVOKED), "revoked");
	cr_assert_str_eq(classify_outcome_name(OUT__COUNT), "?");
}

Test(classify_names, finding_names_match_design_and_round_trip)
{
	cr_assert_eq(sizeof design_findings / sizeof design_findings[0], (size_t)FIND__COUNT);
	for (int i = 0; i < FIND__COUNT; i++) {
		cr_assert_str_eq(classify_finding_name((enum finding)i), design_findings[i]);
		cr_assert_eq(classify_finding_parse(classify_finding_name((enum finding)i)), i);
	}
	cr_assert_str_eq(classify_finding_name(FIND_CIPHER_FALLBACK), "cipher_fallback");
	cr_assert_str_eq(classify_finding_name(FIND__COUNT), "?");
}

Test(classify_names, finding_parse_rejects_unknown)
{
	cr_assert_eq(classify_finding_parse("nosuch"), -1);
	cr_assert_eq(classify_finding_parse(""), -1);
	cr_assert_eq(classify_finding_parse("ok"), -1);
	cr_assert_eq(classify_finding_parse("expiring_soon "), -1);
}

Test(classify_names, outcome_names_unique)
{
	for (int i = 0; i < OUT__COUNT; i++)
		for (int j = i + 1; j < OUT__COUNT; j++)
			cr_assert_str_neq(classify_outcome_name(i), classify_outcome_name(j));
}

/* ================= expiry window: days or a share of the lifetime ================= */

TestSuite(classify_expiry, .init = setup, .fini = teardown);

/* A leaf valid from lived_days ago to left_days ahead. */
static void push_lived_leaf(double lived_days, double left_days)
{
	EVP_PKEY *k = ec_key(), *ca = ec_key();
	push(make_cert(k, ca, "a.example", "Test Intermediate", false, -lived_days, left_days,
		       "DNS:a.example"));
	EVP_PKEY_free(k);
	EVP_PKEY_free(ca);
}

Test(classify_expiry, short_lived_certificate_warns_at_a_third)
{
	/* 47-day certificate, 20 days left: inside 30 days, outside 47/3 */
	done_tls13();
	push_lived_leaf(27, 20);
	opts.expiry_warn_fraction = 1.0 / 3.0;
	run();
	cr_assert(!out.findings[FIND_EXPIRING_SOON], "warned with 20 of 47 days left");
	cr_assert(fabs(out.expiry_warn_days - 47.0 / 3.0) < 0.01, "window %f", out.expiry_warn_days);
	/* 15 days left: inside the third */
	teardown();
	f.peer_chain = NULL;
	push_lived_leaf(32, 15);
	run();
	cr_assert(out.findings[FIND_EXPIRING_SOON], "no warning with 15 of 47 days left");
}

Test(classify_expiry, long_lived_certificate_keeps_the_days)
{
	/* one year, 25 days left: a third would be 121 days, 30 is stricter */
	done_tls13();
	push_lived_leaf(340, 25);
	opts.expiry_warn_fraction = 1.0 / 3.0;
	run();
	cr_assert(out.findings[FIND_EXPIRING_SOON]);
	cr_assert(fabs(out.expiry_warn_days - 30.0) < 1e-9, "window %f", out.expiry_warn_days);
}

Test(classify_expiry, fraction_zero_is_the_days_alone)
{
	done_tls13();
	push_lived_leaf(27, 20);
	opts.expiry_warn_fraction = 0;
	run();
	cr_assert(out.findings[FIND_EXPIRING_SOON]);
}
