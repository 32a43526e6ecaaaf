/*
 * test_tlsctx_keys.c - probe/tlsctx_keys.c: after tlsctx_keys_init() the
 * public keys of parsed certificates are OpenSSL's built-in EC and RSA keys
 * (no provider decoder ran), and a certificate yields the same as before:
 * the same key description, a good signature still verifies and a bad one
 * does not, a key that cannot be decoded is still none, and a key type the
 * engine does not cover (Ed25519) keeps the provider path.
 *
 * Criterion runs each test in its own process, so each starts without the
 * engine; certificates are made (with the default providers) before the
 * engine is registered, then parsed again after.
 */
/* ENGINE_get_first()/_next(): the engine list, deprecated API */
#define OPENSSL_SUPPRESS_DEPRECATED 1

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/engine.h>
#include <openssl/evp.h>
#include <openssl/provider.h>
#include <openssl/x509v3.h>

#include "certinfo.h"
#include "tlsctx_keys.h"

TestSuite(tlsctx_keys);

/* A self-signed certificate for a fresh key, as DER (caller frees). */
static unsigned char *make_cert_der(EVP_PKEY *k, const EVP_MD *md, int *len)
{
	X509 *x = X509_new();
	cr_assert_not_null(x);
	cr_assert_eq(ASN1_INTEGER_set(X509_get_serialNumber(x), 7), 1);
	X509_NAME *n = X509_get_subject_name(x);
	cr_assert_eq(X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)"keys.test",
						-1, -1, 0), 1);
	cr_assert_eq(X509_set_issuer_name(x, n), 1);
	cr_assert_not_null(X509_gmtime_adj(X509_getm_notBefore(x), 0));
	cr_assert_not_null(X509_gmtime_adj(X509_getm_notAfter(x), 3600));
	cr_assert_eq(X509_set_pubkey(x, k), 1);
	cr_assert_gt(X509_sign(x, k, md), 0);
	unsigned char *der = NULL;
	*len = i2d_X509(x, &der);
	cr_assert_gt(*len, 0);
	X509_free(x);
	return der;
}

static X509 *parse(const unsigned char *der, int len)
{
	const unsigned char *p = der;
	X509 *x = d2i_X509(NULL, &p, len);
	cr_assert_not_null(x);
	return x;
}

/* The key's description (certinfo), its provider (NULL: built-in) and
 * whether the certificate's own signature verifies with it. */
struct seen { char desc[64]; int bits; const OSSL_PROVIDER *prov; int verify; bool has_key; };

static struct seen look(const unsigned char *der, int len)
{
	struct seen s;
	memset(&s, 0, sizeof s);
	X509 *x = parse(der, len);
	EVP_PKEY *pk = X509_get0_pubkey(x);
	s.has_key = pk != NULL;
	if (pk) {
		certinfo_key(x, s.desc, sizeof s.desc, &s.bits);
		s.prov = EVP_PKEY_get0_provider(pk);
		s.verify = X509_verify(x, pk);
	}
	X509_free(x);
	return s;
}

static void same_certificate_both_ways(EVP_PKEY *k, const EVP_MD *md, bool covered)
{
	int len;
	unsigned char *der = make_cert_der(k, md, &len);

	struct seen before = look(der, len);
	cr_assert(before.has_key);
	cr_assert_not_null(before.prov, "without the engine the key comes from a provider");
	cr_assert_eq(before.verify, 1);

	cr_assert(tlsctx_keys_init());
	cr_assert(tlsctx_keys_active());
	struct seen after = look(der, len);
	cr_assert(after.has_key);
	if (covered)
		cr_assert_null(after.prov, "with the engine the key is a built-in one");
	else
		cr_assert_not_null(after.prov, "a type the engine does not cover keeps its provider");
	cr_assert_str_eq(after.desc, before.desc);
	cr_assert_eq(after.bits, before.bits);
	cr_assert_eq(after.verify, 1);

	/* one bit of the signature flipped: no longer verifies, either way */
	der[len - 3] ^= 0x01;
	struct seen bad = look(der, len);
	cr_assert_neq(bad.verify, 1);
	OPENSSL_free(der);
}

static int on_openssl_30(void)
{
	unsigned long v = OpenSSL_version_num();
	return v >= 0x30000000UL && v < 0x30100000UL;
}

Test(tlsctx_keys, ec_p256_certificate_is_decoded_by_the_builtin_method)
{
	if (!on_openssl_30())
		cr_skip_test("not OpenSSL 3.0");
	EVP_PKEY *k = EVP_EC_gen("P-256");
	cr_assert_not_null(k);
	same_certificate_both_ways(k, EVP_sha256(), true);
	EVP_PKEY_free(k);
}

Test(tlsctx_keys, ec_p384_certificate_is_decoded_by_the_builtin_method)
{
	if (!on_openssl_30())
		cr_skip_test("not OpenSSL 3.0");
	EVP_PKEY *k = EVP_EC_gen("P-384");
	cr_assert_not_null(k);
	same_certificate_both_ways(k, EVP_sha384(), true);
	EVP_PKEY_free(k);
}

Test(tlsctx_keys, rsa_certificate_is_decoded_by_the_builtin_method)
{
	if (!on_openssl_30())
		cr_skip_test("not OpenSSL 3.0");
	EVP_PKEY *k = EVP_RSA_gen(2048);
	cr_assert_not_null(k);
	same_certificate_both_ways(k, EVP_sha256(), true);
	EVP_PKEY_free(k);
}

Test(tlsctx_keys, ed25519_keeps_the_provider_path)
{
	if (!on_openssl_30())
		cr_skip_test("not OpenSSL 3.0");
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	cr_assert_not_null(k);
	same_certificate_both_ways(k, NULL, false);
	EVP_PKEY_free(k);
}

/* An EC point that is not on the curve: no key before, none after (the
 * built-in method refuses it and the decoders, tried next, refuse it too). */
Test(tlsctx_keys, an_undecodable_key_stays_undecodable)
{
	if (!on_openssl_30())
		cr_skip_test("not OpenSSL 3.0");
	EVP_PKEY *k = EVP_EC_gen("P-256");
	cr_assert_not_null(k);
	int len;
	unsigned char *der = make_cert_der(k, EVP_sha256(), &len);
	/* the uncompressed point 04 || X || Y: its BIT STRING is 03 42 00 04 */
	unsigned char *pt = NULL;
	for (int i = 0; i + 4 < len; i++)
		if (der[i] == 0x03 && der[i + 1] == 0x42 && der[i + 2] == 0x00 && der[i + 3] == 0x04) {
			pt = der + i + 4;
			break;
		}
	cr_assert_not_null(pt);
	pt[10] ^= 0x5a;   /* X changed: (X, Y) is no longer on P-256 */
	cr_assert_not(look(der, len).has_key);
	cr_assert(tlsctx_keys_init());
	cr_assert_not(look(der, len).has_key);
	OPENSSL_free(der);
	EVP_PKEY_free(k);
}

Test(tlsctx_keys, the_environment_can_keep_the_provider_decoders)
{
	cr_assert_eq(setenv("TLSWATCH_PROVIDER_KEYS", "1", 1), 0);
	cr_assert_not(tlsctx_keys_init());
	cr_assert_not(tlsctx_keys_active());
	EVP_PKEY *k = EVP_EC_gen("P-256");
	cr_assert_not_null(k);
	int len;
	unsigned char *der = make_cert_der(k, EVP_sha256(), &len);
	cr_assert_not_null(look(der, len).prov);
	OPENSSL_free(der);
	EVP_PKEY_free(k);
}

Test(tlsctx_keys, init_twice_registers_once)
{
	if (!on_openssl_30())
		cr_skip_test("not OpenSSL 3.0");
	cr_assert(tlsctx_keys_init());
	cr_assert(tlsctx_keys_init());
	/* the engine list holds it once */
	int n = 0;
	for (ENGINE *e = ENGINE_get_first(); e; e = ENGINE_get_next(e))
		if (strcmp(ENGINE_get_id(e), "tlswatch-builtin-keys") == 0)
			n++;
	cr_assert_eq(n, 1);
}
