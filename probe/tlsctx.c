/* tlsctx.c - see tlsctx.h. */
#include "tlsctx.h"
#include "tlsutil.h"
#include "trust_store.h"
#include "profile_store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

int tlsctx_cipher_tier(const SSL_CIPHER *c)
{
	int kx = SSL_CIPHER_get_kx_nid(c);
	int fs = (kx == NID_kx_ecdhe || kx == NID_kx_dhe || kx == NID_kx_any) ? 1 : 0;
	return fs + (SSL_CIPHER_is_aead(c) ? 1 : 0);
}

/* ALPN "h2,http/1.1" -> length-prefixed wire format. */
static int alpn_wire(const char *list, unsigned char *out, size_t cap, size_t *outlen)
{
	size_t o = 0;
	const char *p = list;
	while (*p) {
		const char *comma = strchr(p, ',');
		size_t n = comma ? (size_t)(comma - p) : strlen(p);
		if (n == 0 || n > 255 || o + 1 + n > cap)
			return -1;
		out[o++] = (unsigned char)n;
		memcpy(out + o, p, n);
		o += n;
		p += n + (comma ? 1 : 0);
	}
	*outlen = o;
	return 0;
}

/* Verification never aborts the handshake (DESIGN 4.2): a bad chain must
 * still yield its certificates. handshake.c replaces this callback on each
 * SSL with one that also records the error for classify.c. */
static int verify_continue_cb(int preverify_ok, X509_STORE_CTX *xs)
{
	return 1;
}

struct tlsctx *tlsctx_new(const struct profile *p, const struct tlsctx_opts *o,
				    char *err, size_t errlen)
{
	struct tlsctx *tc = calloc(1, sizeof *tc);
	char why[512];
	const char *cert = o->client_cert ? o->client_cert : p->client_cert;
	const char *key = o->client_key ? o->client_key : p->client_key;

	if (!tc) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	tc->profile = p;
	if (!p->emulatable) {
		snprintf(err, errlen, "profile '%s' cannot be emulated: %s", p->name,
			 p->unsupported_reason ? p->unsupported_reason : "unsupported");
		goto fail;
	}
	tc->ctx = SSL_CTX_new(TLS_client_method());
	if (!tc->ctx) {
		snprintf(err, errlen, "SSL_CTX_new: %s", tlsutil_err_drain(why, sizeof why));
		goto fail;
	}
	SSL_CTX_set_security_level(tc->ctx, p->seclevel);
	/* Real clients talk to servers without secure renegotiation; OpenSSL 3
	 * refuses that by default. We never renegotiate, so allow it. */
	SSL_CTX_set_options(tc->ctx, SSL_OP_LEGACY_SERVER_CONNECT);
	/* Benchmarks and probes measure full handshakes. */
	SSL_CTX_set_session_cache_mode(tc->ctx, SSL_SESS_CACHE_OFF);
	/* Memory per handshake in flight (issue 11): the 16 KiB+ read and
	 * write buffers are given back whenever they hold nothing, i.e. for
	 * most of a handshake's life, which is spent waiting for the server.
	 * Not read_ahead: it would save ~10 read() calls per handshake, but
	 * one read would then bring up to 16 KiB of records that OpenSSL
	 * processes without another BIO read, outside the per-event budget of
	 * handshake_bio_read_cb (test_handshake's endless_ignored_records
	 * stalled its loop for 242 ms instead of < 100 ms under ASan). */
	SSL_CTX_set_mode(tc->ctx, SSL_MODE_RELEASE_BUFFERS);

	if (p->min_version && !SSL_CTX_set_min_proto_version(tc->ctx, p->min_version)) {
		snprintf(err, errlen, "profile '%s': minimum version %s not supported", p->name,
			 profile_version_name(p->min_version));
		goto fail;
	}
	if (p->max_version && !SSL_CTX_set_max_proto_version(tc->ctx, p->max_version)) {
		snprintf(err, errlen, "profile '%s': maximum version %s not supported", p->name,
			 profile_version_name(p->max_version));
		goto fail;
	}
	tc->max_version = p->max_version ? p->max_version : TLS1_3_VERSION;
	if (p->ciphers && !SSL_CTX_set_cipher_list(tc->ctx, p->ciphers)) {
		/* A TLS1.3-only profile may have no usable TLS1.2 suite. */
		if (p->min_version != TLS1_3_VERSION) {
			snprintf(err, errlen, "profile '%s': no usable cipher in \"%s\"", p->name, p->ciphers);
			goto fail;
		}
		ERR_clear_error();
	}
	if (p->ciphersuites && !SSL_CTX_set_ciphersuites(tc->ctx, p->ciphersuites)) {
		snprintf(err, errlen, "profile '%s': bad TLS1.3 ciphersuites \"%s\"", p->name, p->ciphersuites);
		goto fail;
	}
	if (p->groups && !SSL_CTX_set1_groups_list(tc->ctx, p->groups)) {
		snprintf(err, errlen, "profile '%s': bad groups \"%s\"", p->name, p->groups);
		goto fail;
	}
	if (p->sigalgs && !SSL_CTX_set1_sigalgs_list(tc->ctx, p->sigalgs)) {
		snprintf(err, errlen, "profile '%s': bad signature algorithms \"%s\"", p->name, p->sigalgs);
		goto fail;
	}
	if (p->alpn && *p->alpn) {
		unsigned char wire[512];
		size_t wl = 0;
		/* SSL_CTX_set_alpn_protos returns 0 on success. */
		if (alpn_wire(p->alpn, wire, sizeof wire, &wl) != 0 ||
		    SSL_CTX_set_alpn_protos(tc->ctx, wire, (unsigned)wl) != 0) {
			snprintf(err, errlen, "profile '%s': bad ALPN list \"%s\"", p->name, p->alpn);
			goto fail;
		}
	}

	/* The bundle is parsed once and shared (trust_store.h): ~160
	 * contexts naming the same CA file must not parse it ~160 times. */
	const char *ca = o->ca_file;
	char store[4096];
	if (!ca && o->trust_dir && profile_store_path(p, o->trust_dir, store, sizeof store) &&
	    access(store, R_OK) == 0)
		ca = store;
	tc->trust = trust_store_get(ca, err, errlen);
	if (!tc->trust)
		goto fail;
	SSL_CTX_set1_cert_store(tc->ctx, trust_store_x509(tc->trust));
	SSL_CTX_set_verify(tc->ctx, SSL_VERIFY_PEER, verify_continue_cb);

	if (cert || key) {
		if (!cert || !key) {
			snprintf(err, errlen, "client certificate and key must be given together");
			goto fail;
		}
		if (tlsutil_use_identity(tc->ctx, cert, key, err, errlen) != 0)
			goto fail;
		X509 *x = SSL_CTX_get0_certificate(tc->ctx);
		if (x) {
			ASN1_TIME *na = X509_get0_notAfter(x) ? (ASN1_TIME *)X509_get0_notAfter(x) : NULL;
			struct tm tm;
			if (na && ASN1_TIME_to_tm(na, &tm) == 1)
				tc->client_cert_not_after = timegm(&tm);
		}
		tc->has_client_cert = true;
	}

	/* The tier of the profile's first preference (DESIGN 4.3
	 * cipher_fallback): the first suite it would offer at its maximum
	 * version. TLS1.3 suites come first and are AEAD + FS. */
	{
		STACK_OF(SSL_CIPHER) *cl = SSL_CTX_get_ciphers(tc->ctx);
		for (int i = 0; cl && i < sk_SSL_CIPHER_num(cl); i++) {
			const SSL_CIPHER *c = sk_SSL_CIPHER_value(cl, i);
			bool tls13_suite = SSL_CIPHER_get_kx_nid(c) == NID_kx_any;
			if (tls13_suite && tc->max_version < TLS1_3_VERSION)
				continue;
			/* AEAD suites need TLS1.2: a TLS1.0/1.1 client cannot use them */
			if (!tls13_suite && tc->max_version < TLS1_2_VERSION && SSL_CIPHER_is_aead(c))
				continue;
			tc->best_tier = tlsctx_cipher_tier(c);
			break;
		}
	}
	return tc;
fail:
	tlsctx_free(tc);
	return NULL;
}

void tlsctx_free(struct tlsctx *tc)
{
	if (!tc)
		return;
	SSL_CTX_free(tc->ctx);
	trust_store_put(tc->trust);
	free(tc);
}
