/*
 * tlsctx.h - turns a profile into a ready SSL_CTX (versions, ciphers,
 * groups, signature algorithms, security level, ALPN, trust store, client
 * certificate). One tls_profile_ctx is shared by every handshake of that
 * profile; it holds a reference to the profile, it does not own it, and a
 * handle on the trust store shared by every context naming the same CA
 * file (trust_store.h), given back by tlsctx_free().
 */
#ifndef TW_TLS_CTX_H
#define TW_TLS_CTX_H

#include <openssl/ssl.h>
#include <stdbool.h>
#include <time.h>
#include "profile.h"
#include "tlsutil.h"

struct trust_store;

struct tlsctx_opts {
	const char *ca_file;      /* NULL: the system trust store */
	const char *client_cert;  /* overrides profile->client_cert */
	const char *client_key;
	const char *trust_dir;    /* without ca_file: a real client's platform store
				   * DIR/NAME.pem (profile_store.h) when readable;
				   * NULL: the system store for every profile */
};

struct tlsctx {
	SSL_CTX *ctx;
	const struct profile *profile;
	int best_tier;            /* tier of the first-preference suite: aead + fs (0..2) */
	int max_version;          /* effective maximum version */
	bool has_client_cert;
	time_t client_cert_not_after;
	struct trust_store *trust;  /* the shared CA store this context holds */
};

/* Builds the context. Returns NULL with a one-line reason in err. */
struct tlsctx *tlsctx_new(const struct profile *p, const struct tlsctx_opts *o,
				    char *err, size_t errlen);
void tlsctx_free(struct tlsctx *tc);

/* 0 = neither AEAD nor forward secret, 2 = both. */
int tlsctx_cipher_tier(const SSL_CIPHER *c);

#endif
