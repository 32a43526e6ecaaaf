/*
 * test_certinfo.c - probe/certinfo.c: what the probe reports about one
 * certificate (key "RSA-2048"/"EC-P-256"/"ED25519", weak key and weak
 * signature by DESIGN 4.3, validity dates, RFC 2253 names, SHA-256
 * fingerprint, SANs, CA and self-signed flags).
 *
 * Certificates are made here with the OpenSSL API (make_cert), so each
 * test states exactly what the certificate holds; no files, no servers.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509v3.h>

#include "certinfo.h"

TestSuite(certinfo);

static EVP_PKEY *rsa_key(unsigned bits)
{
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)bits);
	cr_assert_not_null(k);
	return k;
}

static EVP_PKEY *ec_key(const char *curve)
{
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", curve);
	cr_assert_not_null(k, "curve %s", curve);
	return k;
}

static EVP_PKEY *ed25519_key(void)
{
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	cr_assert_not_null(k);
	return k;
}

struct cert_spec {
	EVP_PKEY *key;            /* the certificate's key */
	EVP_PKEY *signer;         /* NULL: self-signed with key */
	const char *issuer_cn;    /* with signer */
	const EVP_MD *md;         /* NULL for EdDSA */
	const char *cn, *org;
	time_t not_before, not_after;
	const char *sans;         /* "DNS:a,IP:1.2.3.4" or NULL */
	bool ca;
};

static X509 *make_cert(const struct cert_spec *s)
{
	X509 *x = X509_new();
	cr_assert_not_null(x);
	cr_assert(X509_set_version(x, 2));
	cr_assert(ASN1_INTEGER_set(X509_get_serialNumber(x), 1));
	X509_NAME *n = X509_get_subject_name(x);
	if (s->org)
		cr_assert(X509_NAME_add_entry_by_txt(n, "O", MBSTRING_UTF8,
						     (const unsigned char *)s->org, -1, -1, 0));
	cr_assert(X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8, (const unsigned char *)s->cn,
					     -1, -1, 0));
	if (s->signer) {
		X509_NAME *in = X509_NAME_new();
		cr_assert(X509_NAME_add_entry_by_txt(in, "CN", MBSTRING_UTF8,
						     (const unsigned char *)s->issuer_cn, -1, -1, 0));
		cr_assert(X509_set_issuer_name(x, in));
		X509_NAME_free(in);
	} else {
		cr_assert(X509_set_issuer_name(x, n));
	}
	cr_assert_not_null(ASN1_TIME_set(X509_getm_notBefore(x), s->not_before));
	cr_assert_not_null(ASN1_TIME_set(X509_getm_notAfter(x), s->not_after));
	cr_assert(X509_set_pubkey(x, s->key));

	X509V3_CTX ctx;
	X509V3_set_ctx_nodb(&ctx);
	X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
	X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, &ctx, NID_basic_constraints,
						s->ca ? "critical,CA:TRUE" : "CA:FALSE");
	cr_assert_not_null(e);
	cr_assert(X509_add_ext(x, e, -1));
	X509_EXTENSION_free(e);
	if (s->ca) {
		e = X509V3_EXT_conf_nid(NULL, &ctx, NID_key_usage, "critical,keyCertSign,cRLSign");
		cr_assert_not_null(e);
		cr_assert(X509_add_ext(x, e, -1));
		X509_EXTENSION_free(e);
	}
	if (s->sans) {
		e = X509V3_EXT_conf_nid(NULL, &ctx, NID_subject_alt_name, s->sans);
		cr_assert_not_null(e, "SANs %s", s->sans);
		cr_assert(X509_add_ext(x, e, -1));
		X509_EXTENSION_free(e);
	}
	cr_assert_gt(X509_sign(x, s->signer ? s->signer : s->key, s->md), 0);
	return x;
}

#define NOW ((time_t)1772409600)    /* 2026-03-02T00:00:00Z */
#define DAY ((time_t)86400)

static X509 *simple_cert(EVP_PKEY *k, const EVP_MD *md)
{
	struct cert_spec s = { .key = k, .md = md, .cn = "leaf.example", .not_before = NOW - DAY,
			       .not_after = NOW + 90 * DAY };
	return make_cert(&s);
}

static void key_is(EVP_PKEY *k, const EVP_MD *md, const char *want, enum cert_key_type type,
		   int want_bits, bool weak)
{
	X509 *x = simple_cert(k, md);
	char buf[64];
	int bits = -1;
	cr_assert_eq(certinfo_key(x, buf, sizeof buf, &bits), type, "%s", want);
	cr_assert_str_eq(buf, want);
	cr_assert_eq(bits, want_bits, "%s: %d bits", want, bits);
	cr_assert_eq(certinfo_key_weak(x), weak, "%s weak?", want);
	X509_free(x);
	EVP_PKEY_free(k);
}

Test(certinfo, key_names_and_weakness)
{
	key_is(rsa_key(2048), EVP_sha256(), "RSA-2048", CERT_KEY_RSA, 2048, false);
	key_is(rsa_key(1024), EVP_sha256(), "RSA-1024", CERT_KEY_RSA, 1024, true);
	key_is(ec_key("P-256"), EVP_sha256(), "EC-P-256", CERT_KEY_EC, 256, false);
	key_is(ec_key("P-384"), EVP_sha384(), "EC-P-384", CERT_KEY_EC, 384, false);
	/* below 256 bits is weak; a curve without a NIST name keeps its own */
	key_is(ec_key("P-224"), EVP_sha256(), "EC-P-224", CERT_KEY_EC, 224, true);
	key_is(ec_key("secp256k1"), EVP_sha256(), "EC-secp256k1", CERT_KEY_EC, 256, false);
	key_is(ed25519_key(), NULL, "ED25519", CERT_KEY_EDDSA, 256, false);
}

Test(certinfo, signature_algorithm_and_weakness)
{
	EVP_PKEY *k = rsa_key(2048);
	X509 *x = simple_cert(k, EVP_sha256());
	cr_assert_str_eq(certinfo_sig_alg(x), "sha256WithRSAEncryption");
	cr_assert_not(certinfo_sig_weak(x));
	X509_free(x);
	x = simple_cert(k, EVP_sha1());
	cr_assert_str_eq(certinfo_sig_alg(x), "sha1WithRSAEncryption");
	cr_assert(certinfo_sig_weak(x));
	X509_free(x);
	EVP_PKEY_free(k);

	k = ec_key("P-256");
	x = simple_cert(k, EVP_sha1());
	cr_assert_str_eq(certinfo_sig_alg(x), "ecdsa-with-SHA1");
	cr_assert(certinfo_sig_weak(x));
	X509_free(x);
	EVP_PKEY_free(k);

	/* EdDSA has no separate digest: not weak */
	k = ed25519_key();
	x = simple_cert(k, NULL);
	cr_assert_str_eq(certinfo_sig_alg(x), "ED25519");
	cr_assert_not(certinfo_sig_weak(x));
	X509_free(x);
	EVP_PKEY_free(k);
}

/* Validity dates as Unix seconds: UTCTime (before 2050) and
 * GeneralizedTime (from 2050), and before 1970. */
Test(certinfo, validity_dates)
{
	EVP_PKEY *k = ec_key("P-256");
	struct cert_spec s = { .key = k, .md = EVP_sha256(), .cn = "d.example",
			       .not_before = -DAY * 365, .not_after = 2524608000 };
	X509 *x = make_cert(&s);
	time_t nb = 0, na = 0;
	cr_assert_eq(certinfo_not_before(x, &nb), 0);
	cr_assert_eq(certinfo_not_after(x, &na), 0);
	cr_assert_eq(nb, -DAY * 365);            /* 1969-01-01 */
	cr_assert_eq(na, 2524608000);            /* 2050-01-01, GeneralizedTime */
	X509_free(x);
	s.not_before = NOW;
	s.not_after = NOW + 397 * DAY + 3661;
	x = make_cert(&s);
	cr_assert_eq(certinfo_not_before(x, &nb), 0);
	cr_assert_eq(certinfo_not_after(x, &na), 0);
	cr_assert_eq(nb, NOW);
	cr_assert_eq(na, NOW + 397 * DAY + 3661);
	X509_free(x);
	EVP_PKEY_free(k);
}

Test(certinfo, names_rfc2253_utf8_unescaped)
{
	EVP_PKEY *k = ec_key("P-256");
	struct cert_spec s = { .key = k, .md = EVP_sha256(), .cn = "caf\xc3\xa9.example",
			       .org = "Acme, Inc.", .not_before = NOW, .not_after = NOW + DAY };
	X509 *x = make_cert(&s);
	char buf[256];
	/* most specific first; the comma in O escaped; UTF-8 kept as is */
	cr_assert_str_eq(certinfo_name(X509_get_subject_name(x), buf, sizeof buf),
			 "CN=caf\xc3\xa9.example,O=Acme\\, Inc.");
	/* cut to the buffer, still terminated */
	char small[8];
	certinfo_name(X509_get_subject_name(x), small, sizeof small);
	cr_assert_eq(strlen(small), sizeof small - 1);
	cr_assert_eq(strncmp(small, buf, sizeof small - 1), 0);
	X509_free(x);
	EVP_PKEY_free(k);
}

static void hex(const unsigned char *d, unsigned n, char *out)
{
	for (unsigned i = 0; i < n; i++)
		snprintf(out + 2 * i, 3, "%02x", d[i]);
}

/* The fingerprint is the SHA-256 of the DER encoding (as `openssl x509
 * -fingerprint -sha256` shows it, lower case, no colons). */
Test(certinfo, fingerprint_is_sha256_of_der)
{
	EVP_PKEY *k = ec_key("P-256");
	X509 *x = simple_cert(k, EVP_sha256());
	unsigned char *der = NULL;
	int len = i2d_X509(x, &der);
	cr_assert_gt(len, 0);
	unsigned char md[32];
	unsigned mdlen = 0;
	cr_assert(EVP_Digest(der, (size_t)len, md, &mdlen, EVP_sha256(), NULL));
	OPENSSL_free(der);
	char want[65], got[65];
	hex(md, mdlen, want);
	cr_assert_eq(certinfo_fingerprint(x, got, sizeof got), 0);
	cr_assert_str_eq(got, want);
	/* a buffer that cannot hold 64 digits and the NUL is refused */
	char small[64];
	cr_assert_eq(certinfo_fingerprint(x, small, sizeof small), -1);
	X509_free(x);
	EVP_PKEY_free(k);
}

struct sans { char v[8][128]; int n; };

static void add_san(const char *san, void *arg)
{
	struct sans *s = arg;
	cr_assert_lt(s->n, 8);
	snprintf(s->v[s->n++], sizeof s->v[0], "%s", san);
}

/* DNS names and IP addresses in certificate order; other kinds (e-mail,
 * URI) are not host names and are left out. */
Test(certinfo, sans_dns_and_ip_in_order)
{
	EVP_PKEY *k = ec_key("P-256");
	struct cert_spec s = { .key = k, .md = EVP_sha256(), .cn = "leaf.example",
			       .not_before = NOW, .not_after = NOW + DAY,
			       .sans = "DNS:leaf.example,email:a@leaf.example,IP:192.0.2.7,"
				       "DNS:*.leaf.example,IP:2001:db8::1,URI:https://leaf.example/" };
	X509 *x = make_cert(&s);
	struct sans got = { .n = 0 };
	certinfo_sans(x, add_san, &got);
	cr_assert_eq(got.n, 4);
	cr_assert_str_eq(got.v[0], "leaf.example");
	cr_assert_str_eq(got.v[1], "192.0.2.7");
	cr_assert_str_eq(got.v[2], "*.leaf.example");
	cr_assert_str_eq(got.v[3], "2001:db8::1");
	X509_free(x);
	/* no SAN extension: nothing, and no error left on the queue */
	x = simple_cert(k, EVP_sha256());
	got.n = 0;
	certinfo_sans(x, add_san, &got);
	cr_assert_eq(got.n, 0);
	cr_assert_eq(ERR_peek_error(), 0);
	X509_free(x);
	EVP_PKEY_free(k);
}

/* A DNS SAN with an embedded NUL (the "bank.example\0.evil" forgery) is
 * shown whole, escaped - never as its harmless-looking prefix. */
Test(certinfo, sans_with_embedded_nul_shown_escaped)
{
	EVP_PKEY *k = ec_key("P-256");
	X509 *x = simple_cert(k, EVP_sha256());
	GENERAL_NAMES *gens = sk_GENERAL_NAME_new_null();
	GENERAL_NAME *g = GENERAL_NAME_new();
	ASN1_IA5STRING *ia5 = ASN1_IA5STRING_new();
	cr_assert(gens && g && ia5);
	cr_assert(ASN1_STRING_set(ia5, "bank.example\0.evil", 18));
	GENERAL_NAME_set0_value(g, GEN_DNS, ia5);
	cr_assert(sk_GENERAL_NAME_push(gens, g));
	cr_assert(X509_add1_ext_i2d(x, NID_subject_alt_name, gens, 0, X509V3_ADD_DEFAULT));
	GENERAL_NAMES_free(gens);
	struct sans got = { .n = 0 };
	certinfo_sans(x, add_san, &got);
	cr_assert_eq(got.n, 1);
	cr_assert_str_eq(got.v[0], "bank.example\\x00.evil");
	X509_free(x);
	EVP_PKEY_free(k);
}

Test(certinfo, ca_and_self_signed)
{
	EVP_PKEY *ca_key = ec_key("P-256"), *leaf_key = ec_key("P-256");
	struct cert_spec ca = { .key = ca_key, .md = EVP_sha256(), .cn = "Test CA", .ca = true,
				.not_before = NOW, .not_after = NOW + DAY };
	X509 *cax = make_cert(&ca);
	cr_assert(certinfo_is_ca(cax));
	cr_assert(certinfo_self_signed(cax));

	struct cert_spec leaf = { .key = leaf_key, .signer = ca_key, .issuer_cn = "Test CA",
				  .md = EVP_sha256(), .cn = "leaf.example", .not_before = NOW,
				  .not_after = NOW + DAY };
	X509 *lx = make_cert(&leaf);
	cr_assert_not(certinfo_is_ca(lx));
	cr_assert_not(certinfo_self_signed(lx));

	/* issuer name equal to its subject but signed by another key: self-issued,
	 * not self-signed */
	struct cert_spec forged = { .key = leaf_key, .signer = ca_key, .issuer_cn = "fake.example",
				    .md = EVP_sha256(), .cn = "fake.example", .not_before = NOW,
				    .not_after = NOW + DAY };
	X509 *fx = make_cert(&forged);
	cr_assert_not(certinfo_self_signed(fx));
	X509_free(cax);
	X509_free(lx);
	X509_free(fx);
	EVP_PKEY_free(ca_key);
	EVP_PKEY_free(leaf_key);
}
