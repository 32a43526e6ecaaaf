/*
 * test_ingest_tls.c - collector/ingest_tls.c's ingest_tls_identity(): the
 * probe's identity is its client certificate's CN (probe id) and OU
 * (region), each present exactly once and printable ASCII without spaces,
 * quotes or backslashes, or the connection is refused with a reason.
 *
 * Each case is a real TLS handshake over a memory BIO pair between a
 * server that asks for (and here accepts any) client certificate and a
 * client with a self-signed certificate whose subject the test chooses.
 * Trust is not the point here (tests/integration/test_ingest.c refuses
 * untrusted probes); what the server reads from the certificate is.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "ingest_refusal.h"
#include "ingest_tls.h"

TestSuite(ingest_tls);

/* A self-signed certificate for key with subject entries given as
 * "CN", "probe-a", "OU", "eu", ..., NULL. */
static X509 *cert_with_subject(EVP_PKEY *key, const char *const *entries)
{
	X509 *x = X509_new();
	cr_assert_not_null(x);
	cr_assert(X509_set_version(x, 2));
	cr_assert(ASN1_INTEGER_set(X509_get_serialNumber(x), 7));
	X509_NAME *n = X509_get_subject_name(x);
	for (size_t i = 0; entries[i]; i += 2)
		cr_assert(X509_NAME_add_entry_by_txt(n, entries[i], MBSTRING_UTF8,
						     (const unsigned char *)entries[i + 1], -1, -1, 0),
			  "%s=%s", entries[i], entries[i + 1]);
	cr_assert(X509_set_issuer_name(x, n));
	cr_assert_not_null(X509_gmtime_adj(X509_getm_notBefore(x), -3600));
	cr_assert_not_null(X509_gmtime_adj(X509_getm_notAfter(x), 86400));
	cr_assert(X509_set_pubkey(x, key));
	cr_assert_gt(X509_sign(x, key, EVP_sha256()), 0);
	return x;
}

static int accept_any(int ok, X509_STORE_CTX *ctx)
{
	return 1;
}

/* Runs both ends until neither wants more; asserts both finished. */
static void pump(SSL *cli, SSL *srv)
{
	int cdone = 0, sdone = 0;
	for (int i = 0; i < 100 && !(cdone && sdone); i++) {
		if (!cdone) {
			int r = SSL_do_handshake(cli);
			if (r == 1)
				cdone = 1;
			else
				cr_assert_eq(SSL_get_error(cli, r), SSL_ERROR_WANT_READ);
		}
		if (!sdone) {
			int r = SSL_do_handshake(srv);
			if (r == 1)
				sdone = 1;
			else
				cr_assert_eq(SSL_get_error(srv, r), SSL_ERROR_WANT_READ);
		}
	}
	cr_assert(cdone && sdone, "handshake did not finish");
}

struct result {
	int rc;
	enum ingest_refusal why;
	char cn[16], ou[16], msg[256];
};

/* A handshake with a client certificate of these subject entries (NULL:
 * no client certificate), then ingest_tls_identity on the server side with
 * 16-byte cn/ou buffers. */
static struct result identity_of(const char *const *entries)
{
	struct result res = { .rc = 99, .why = REFUSE__COUNT };
	EVP_PKEY *skey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	EVP_PKEY *ckey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	cr_assert(skey && ckey);
	const char *const srv_subject[] = { "CN", "collector.test", NULL };
	X509 *sx = cert_with_subject(skey, srv_subject);
	X509 *cx = entries ? cert_with_subject(ckey, entries) : NULL;

	SSL_CTX *sctx = SSL_CTX_new(TLS_server_method());
	SSL_CTX *cctx = SSL_CTX_new(TLS_client_method());
	cr_assert(sctx && cctx);
	cr_assert_eq(SSL_CTX_use_certificate(sctx, sx), 1);
	cr_assert_eq(SSL_CTX_use_PrivateKey(sctx, skey), 1);
	SSL_CTX_set_verify(sctx, SSL_VERIFY_PEER, accept_any);
	SSL_CTX_set_verify(cctx, SSL_VERIFY_NONE, NULL);
	if (cx) {
		cr_assert_eq(SSL_CTX_use_certificate(cctx, cx), 1);
		cr_assert_eq(SSL_CTX_use_PrivateKey(cctx, ckey), 1);
	}
	SSL *srv = SSL_new(sctx), *cli = SSL_new(cctx);
	BIO *bs, *bc;
	cr_assert(srv && cli);
	cr_assert_eq(BIO_new_bio_pair(&bc, 0, &bs, 0), 1);
	SSL_set_bio(cli, bc, bc);
	SSL_set_bio(srv, bs, bs);
	SSL_set_connect_state(cli);
	SSL_set_accept_state(srv);
	pump(cli, srv);

	res.rc = ingest_tls_identity(srv, res.cn, res.ou, sizeof res.cn, &res.why, res.msg,
				     sizeof res.msg);
	SSL_free(cli);
	SSL_free(srv);
	SSL_CTX_free(cctx);
	SSL_CTX_free(sctx);
	X509_free(sx);
	X509_free(cx);
	EVP_PKEY_free(skey);
	EVP_PKEY_free(ckey);
	ERR_clear_error();
	return res;
}

static void refused(const char *const *entries, enum ingest_refusal why, const char *msg)
{
	struct result r = identity_of(entries);
	cr_assert_eq(r.rc, -1, "accepted: cn %s ou %s", r.cn, r.ou);
	cr_assert_eq(r.why, why, "refusal %d (%s)", (int)r.why, r.msg);
	cr_assert_str_eq(r.msg, msg);
}

Test(ingest_tls, cn_and_ou_are_the_identity)
{
	const char *const e[] = { "O", "tlswatch", "OU", "eu-west-1", "CN", "probe-a.7", NULL };
	struct result r = identity_of(e);
	cr_assert_eq(r.rc, 0, "%s", r.msg);
	cr_assert_str_eq(r.cn, "probe-a.7");
	cr_assert_str_eq(r.ou, "eu-west-1");
}

Test(ingest_tls, no_client_certificate)
{
	refused(NULL, REFUSE_NO_CLIENT_CERT, "no client certificate");
}

Test(ingest_tls, cn_missing_or_twice)
{
	const char *const none[] = { "OU", "eu", NULL };
	refused(none, REFUSE_CERT_IDENTITY, "certificate has no CN (probe id): CN missing");
	/* two CNs: which one is the probe? neither */
	const char *const two[] = { "OU", "eu", "CN", "probe-a", "CN", "probe-b", NULL };
	refused(two, REFUSE_CERT_IDENTITY, "certificate has no CN (probe id): CN given more than once");
}

Test(ingest_tls, ou_missing_or_twice)
{
	const char *const none[] = { "CN", "probe-a", NULL };
	refused(none, REFUSE_CERT_IDENTITY,
		"certificate has no OU (region): OU missing (CN probe-a)");
	const char *const two[] = { "OU", "eu", "OU", "us", "CN", "probe-a", NULL };
	refused(two, REFUSE_CERT_IDENTITY,
		"certificate has no OU (region): OU given more than once (CN probe-a)");
}

/* The identity ends up in log lines, metrics labels and SQL parameters:
 * nothing that could split a key=value pair or a label. */
Test(ingest_tls, identity_is_printable_ascii_without_spaces)
{
	const char *bad[] = { "probe a", "probe\"a", "probe\\a", "caf\xc3\xa9", "tab\there" };
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		const char *const e[] = { "OU", "eu", "CN", bad[i], NULL };
		refused(e, REFUSE_CERT_IDENTITY,
			"certificate has no CN (probe id): CN not printable ASCII without spaces");
	}
	const char *const ou[] = { "OU", "eu west", "CN", "probe-a", NULL };
	refused(ou, REFUSE_CERT_IDENTITY,
		"certificate has no OU (region): OU not printable ASCII without spaces (CN probe-a)");
}

/* cap - 1 bytes fit (15 here); one more is refused, not cut to a name
 * that might be another probe's. */
Test(ingest_tls, identity_too_long_is_refused_not_cut)
{
	const char *const fits[] = { "OU", "eu", "CN", "probe-123456789", NULL };
	struct result r = identity_of(fits);
	cr_assert_eq(r.rc, 0, "%s", r.msg);
	cr_assert_str_eq(r.cn, "probe-123456789");
	const char *const longer[] = { "OU", "eu", "CN", "probe-1234567890", NULL };
	refused(longer, REFUSE_CERT_IDENTITY, "certificate has no CN (probe id): CN too long");
}
