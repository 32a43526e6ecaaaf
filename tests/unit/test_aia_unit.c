/*
 * test_aia_unit.c - caIssuers fetching, the pure parts: which clients
 * fetch (profile_aia.c), when a verification asks for a fetch
 * (aia_fetch_wanted), and how classify.c reports a fetching client's
 * verdict (intermediate_fetched; a failed fetch's reason in the outcome's).
 * The fetching itself runs against real servers in
 * tests/integration/test_aia.c.
 */
#include <criterion/criterion.h>
#include <string.h>
#include <time.h>
#include <openssl/x509.h>

#include "aia_fetch.h"
#include "classify.h"
#include "profile_aia.h"

Test(profile_aia, browsers_on_windows_and_apple_and_chrome_fetch)
{
	static const char *const yes[] = {
		"Chrome 27 Win 7", "Chrome 34 OS X", "Chrome 101 (Win 10)", "Edge 12 Win 10",
		"Edge 101 Win 10 21H2", "IE 6 XP", "IE 11 Win 10", "IE 10 Win Phone 8.0",
		"Safari 5 iOS 5.1.1", "Safari 15.4 (macOS 12.3.1)", "Apple ATS 9 iOS 9",
		"Apple Mail (16.0)", "Opera 15 Win 7", "Opera 66 (Win 10)",
	};
	for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++)
		cr_expect(profile_aia_fetches(yes[i]), "%s should fetch caIssuers", yes[i]);
}

Test(profile_aia, libraries_java_firefox_android_and_the_probe_do_not)
{
	static const char *const no[] = {
		"modern", "intermediate", "legacy", "tls13", "nosni", "mtls", "Firefox 100 (Win 10)",
		"Firefox 29 OS X", "Thunderbird (91.9)", "Tor 17.0.9 Win 7", "Java 8u161",
		"Java 17.0.3 (OpenJDK)", "Android 4.4.2", "Android 12 (native)", "go 1.17.8",
		"OpenSSL 1.1.1d (Debian)", "OpenSSL 3.0.3 (git)", "LibreSSL 2.8.3 (Apple)",
		"Opera 12.15 Win 7", "Googlebot Feb 2018", "BingPreview Jan 2015", "Chromebook",
		"Safarix", "", NULL,
	};
	for (size_t i = 0; i < sizeof no / sizeof no[0]; i++)
		cr_expect(!profile_aia_fetches(no[i]), "%s should not fetch caIssuers",
			  no[i] ? no[i] : "(null)");
}

static struct profile prof;
static struct tlsctx tc;
static struct hs_request req;
static struct hs_facts f;
static struct classify_opts opts;
static struct classification out;

static void setup(void)
{
	memset(&prof, 0, sizeof prof);
	prof.name = "Chrome 101 (Win 10)";
	prof.fetches_ca_issuers = true;
	prof.min_rsa_bits = prof.min_ecdsa_bits = -1;
	memset(&tc, 0, sizeof tc);
	tc.profile = &prof;
	tc.max_version = TLS1_3_VERSION;
	memset(&req, 0, sizeof req);
	req.host = "a.example";
	req.port = 443;
	req.tc = &tc;
	memset(&f, 0, sizeof f);
	f.alert_received = f.alert_sent = -1;
	f.ocsp_responder_ms = -1;
	f.handshake_done = true;
	f.version = TLS1_3_VERSION;
	f.peer_chain = sk_X509_new_null();
	cr_assert_not_null(f.peer_chain);
	X509 *x = X509_new();
	cr_assert(x && sk_X509_push(f.peer_chain, x) > 0);
	memset(&opts, 0, sizeof opts);
	opts.expiry_warn_days = 30;
	opts.ocsp_slow_ms = 1000;
	opts.now = time(NULL);
}

static void teardown(void)
{
	sk_X509_pop_free(f.peer_chain, X509_free);
	f.peer_chain = NULL;
}

static void verr(int depth, int code)
{
	f.verify_errors[f.n_verify_errors].depth = depth;
	f.verify_errors[f.n_verify_errors].code = code;
	f.n_verify_errors++;
}

/* classify without a parsed leaf: only the verification facts count */
static void run(void)
{
	STACK_OF(X509) *keep = f.peer_chain;
	f.peer_chain = NULL;
	classify_result(&f, &req, "a.example", &opts, &out);
	f.peer_chain = keep;
}

TestSuite(aia_wanted, .init = setup, .fini = teardown);

Test(aia_wanted, missing_issuer_and_a_fetching_client)
{
	verr(0, X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY);
	cr_assert(aia_fetch_wanted(&prof, &f));
	f.n_verify_errors = 0;
	verr(0, X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE);
	cr_assert(aia_fetch_wanted(&prof, &f));
	f.n_verify_errors = 0;
	verr(1, X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT);
	cr_assert(aia_fetch_wanted(&prof, &f));
}

Test(aia_wanted, not_for_other_errors_clients_or_failed_handshakes)
{
	verr(0, X509_V_ERR_HOSTNAME_MISMATCH);
	verr(1, X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN);
	cr_assert(!aia_fetch_wanted(&prof, &f), "no issuer is missing");
	verr(0, X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY);
	prof.fetches_ca_issuers = false;
	cr_assert(!aia_fetch_wanted(&prof, &f), "the client does not fetch");
	prof.fetches_ca_issuers = true;
	f.failed_phase = PH_HANDSHAKE;
	cr_assert(!aia_fetch_wanted(&prof, &f), "the handshake failed");
	f.failed_phase = PH_NONE;
	f.handshake_done = false;
	cr_assert(!aia_fetch_wanted(&prof, &f), "no handshake");
}

TestSuite(aia_classify, .init = setup, .fini = teardown);

Test(aia_classify, completed_chain_is_ok_with_the_finding)
{
	f.aia_used = 1;
	snprintf(f.aia_detail, sizeof f.aia_detail, "fetched http://ca.example/int.der");
	run();
	cr_assert_eq(out.outcome, OUT_OK, "outcome %s", classify_outcome_name(out.outcome));
	cr_assert(out.findings[FIND_INTERMEDIATE_FETCHED]);
	cr_assert_str_eq(out.reason, "");
}

Test(aia_classify, failed_fetch_names_url_and_why_in_the_reason)
{
	verr(0, X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY);
	verr(0, X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE);
	f.aia_failed = true;
	snprintf(f.aia_detail, sizeof f.aia_detail, "caIssuers http://ca.example/int.der: HTTP 404");
	run();
	cr_assert_eq(out.outcome, OUT_CHAIN_INCOMPLETE, "outcome %s", classify_outcome_name(out.outcome));
	cr_assert(!out.findings[FIND_INTERMEDIATE_FETCHED]);
	cr_assert(strstr(out.reason, "depth 0: ") == out.reason, "reason \"%s\"", out.reason);
	cr_assert(strstr(out.reason, "; caIssuers http://ca.example/int.der: HTTP 404"), "reason \"%s\"",
		  out.reason);
}

Test(aia_classify, fetched_then_a_name_problem_keeps_its_own_reason)
{
	verr(0, X509_V_ERR_HOSTNAME_MISMATCH);
	f.aia_used = 1;
	snprintf(f.aia_detail, sizeof f.aia_detail, "fetched http://ca.example/int.der");
	run();
	cr_assert_eq(out.outcome, OUT_HOSTNAME_MISMATCH, "outcome %s", classify_outcome_name(out.outcome));
	cr_assert(out.findings[FIND_INTERMEDIATE_FETCHED]);
	cr_assert(!strstr(out.reason, "caIssuers") && !strstr(out.reason, "fetched"), "reason \"%s\"",
		  out.reason);
}

Test(aia_classify, the_name_is_in_the_taxonomy)
{
	cr_assert_str_eq(classify_finding_name(FIND_INTERMEDIATE_FETCHED), "intermediate_fetched");
	cr_assert_eq(classify_finding_parse("intermediate_fetched"), FIND_INTERMEDIATE_FETCHED);
}
