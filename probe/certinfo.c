/* certinfo.c - see certinfo.h. */
#include "certinfo.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/x509v3.h>

enum cert_key_type certinfo_key(X509 *x, char *buf, size_t cap, int *bits)
{
	EVP_PKEY *pk = X509_get0_pubkey(x);
	enum cert_key_type t = CERT_KEY_OTHER;
	int b = 0;

	if (!pk) {
		snprintf(buf, cap, "unknown");
		if (bits) *bits = 0;
		ERR_clear_error();
		return t;
	}
	b = EVP_PKEY_get_bits(pk);
	if (EVP_PKEY_is_a(pk, "RSA") || EVP_PKEY_is_a(pk, "RSA-PSS")) {
		t = CERT_KEY_RSA;
		snprintf(buf, cap, "RSA-%d", b);
	} else if (EVP_PKEY_is_a(pk, "EC")) {
		char g[64] = "";
		size_t gl = 0;
		t = CERT_KEY_EC;
		if (EVP_PKEY_get_group_name(pk, g, sizeof g, &gl) == 1) {
			int nid = OBJ_sn2nid(g);
			const char *nist = nid != NID_undef ? EC_curve_nid2nist(nid) : NULL;
			snprintf(buf, cap, "EC-%s", nist ? nist : g);
		} else {
			snprintf(buf, cap, "EC-%d", b);
		}
	} else if (EVP_PKEY_is_a(pk, "DSA")) {
		t = CERT_KEY_DSA;
		snprintf(buf, cap, "DSA-%d", b);
	} else if (EVP_PKEY_is_a(pk, "ED25519") || EVP_PKEY_is_a(pk, "ED448")) {
		t = CERT_KEY_EDDSA;
		snprintf(buf, cap, "%s", EVP_PKEY_get0_type_name(pk));
	} else {
		snprintf(buf, cap, "%s-%d", EVP_PKEY_get0_type_name(pk) ? EVP_PKEY_get0_type_name(pk) : "key", b);
	}
	ERR_clear_error();
	if (bits)
		*bits = b;
	return t;
}

bool certinfo_key_weak(X509 *x)
{
	char buf[64];
	int bits = 0;
	switch (certinfo_key(x, buf, sizeof buf, &bits)) {
	case CERT_KEY_RSA:
	case CERT_KEY_DSA:
		return bits < 2048;
	case CERT_KEY_EC:
		return bits < 256;
	default:
		return false;
	}
}

bool certinfo_sig_weak(X509 *x)
{
	int mdnid = NID_undef, pknid = NID_undef;
	if (!OBJ_find_sigid_algs(X509_get_signature_nid(x), &mdnid, &pknid))
		return false;
	return mdnid == NID_sha1 || mdnid == NID_md5 || mdnid == NID_md4 || mdnid == NID_md2 ||
	       mdnid == NID_md5_sha1;
}

const char *certinfo_sig_alg(X509 *x)
{
	int nid = X509_get_signature_nid(x);
	const char *ln = nid != NID_undef ? OBJ_nid2ln(nid) : NULL;
	return ln ? ln : "unknown";
}

bool certinfo_is_ca(X509 *x)
{
	return X509_check_ca(x) > 0;
}

bool certinfo_self_signed(X509 *x)
{
	/* self-issued and the signature verifies with its own key */
	return X509_self_signed(x, 1) == 1;
}

static int asn1_to_time(const ASN1_TIME *t, time_t *out)
{
	struct tm tm;
	if (!t || ASN1_TIME_to_tm(t, &tm) != 1)
		return -1;
	*out = timegm(&tm);
	return 0;
}

int certinfo_not_before(X509 *x, time_t *out) { return asn1_to_time(X509_get0_notBefore(x), out); }
int certinfo_not_after(X509 *x, time_t *out) { return asn1_to_time(X509_get0_notAfter(x), out); }

char *certinfo_name(const X509_NAME *n, char *buf, size_t cap)
{
	BIO *b = BIO_new(BIO_s_mem());
	buf[0] = '\0';
	if (!b)
		return buf;
	if (X509_NAME_print_ex(b, n, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) >= 0) {
		int n_read = BIO_read(b, buf, (int)cap - 1);
		buf[n_read > 0 ? n_read : 0] = '\0';
	}
	BIO_free(b);
	return buf;
}

int certinfo_fingerprint(X509 *x, char *buf, size_t cap)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int len = 0;
	if (cap < 65 || !X509_digest(x, EVP_sha256(), md, &len))
		return -1;
	for (unsigned i = 0; i < len; i++)
		snprintf(buf + 2 * i, cap - 2 * i, "%02x", md[i]);
	return 0;
}

void certinfo_sans(X509 *x, void (*add)(const char *san, void *arg), void *arg)
{
	GENERAL_NAMES *gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	char buf[256];
	for (int i = 0; gens && i < sk_GENERAL_NAME_num(gens); i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
		if (g->type == GEN_DNS) {
			const unsigned char *s = ASN1_STRING_get0_data(g->d.dNSName);
			int l = ASN1_STRING_length(g->d.dNSName);
			/* A DNS name is printable ASCII. Anything else - above all an
			 * embedded NUL, the classic forgery "bank.example\0.evil" -
			 * is shown as \xNN, whole, so the inventory never records
			 * the harmless-looking prefix (name checks are OpenSSL's,
			 * which refuses such names). */
			size_t o = 0;
			for (int k = 0; k < l && o + 5 < sizeof buf; k++) {
				if (s[k] > 0x20 && s[k] < 0x7f && s[k] != '\\')
					buf[o++] = (char)s[k];
				else
					o += (size_t)snprintf(buf + o, sizeof buf - o, "\\x%02x", s[k]);
			}
			buf[o] = '\0';
			add(buf, arg);
		} else if (g->type == GEN_IPADD) {
			int l = ASN1_STRING_length(g->d.iPAddress);
			const unsigned char *s = ASN1_STRING_get0_data(g->d.iPAddress);
			if ((l == 4 && inet_ntop(AF_INET, s, buf, sizeof buf)) ||
			    (l == 16 && inet_ntop(AF_INET6, s, buf, sizeof buf)))
				add(buf, arg);
		}
	}
	GENERAL_NAMES_free(gens);
	ERR_clear_error();
}

bool certinfo_names_ocsp(X509 *x)
{
	STACK_OF(OPENSSL_STRING) *urls = X509_get1_ocsp(x);
	bool named = urls && sk_OPENSSL_STRING_num(urls) > 0;
	X509_email_free(urls);
	return named;
}

bool certinfo_has_san(X509 *x)
{
	return X509_get_ext_by_NID(x, NID_subject_alt_name, -1) >= 0;
}
