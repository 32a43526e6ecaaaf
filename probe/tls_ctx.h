/*
 * tls_ctx.h - turns a profile into a ready SSL_CTX (versions, ciphers,
 * groups, signature algorithms, security level, ALPN, trust store, client
 * certificate). One tls_profile_ctx is shared by every handshake of that
 * profile; it holds a reference to the profile, it does not own it.
 */
#ifndef TW_TLS_CTX_H
#define TW_TLS_CTX_H

#include <openssl/ssl.h>
#include <stdbool.h>
#include <time.h>
#include "profile.h"
#include "tlsutil.h"

struct tls_ctx_opts {
	const char *ca_file;      /* NULL: the system trust store */
	const char *client_cert;  /* overrides profile->client_cert */
	const char *client_key;
};

struct tls_profile_ctx {
	SSL_CTX *ctx;
	const struct profile *profile;
	int best_tier;            /* tier of the first-preference suite: aead + fs (0..2) */
	int max_version;          /* effective maximum version */
	bool has_client_cert;
	time_t client_cert_not_after;
};

/* Builds the context. Returns NULL with a one-line reason in err. */
struct tls_profile_ctx *tls_ctx_new(const struct profile *p, const struct tls_ctx_opts *o,
				    char *err, size_t errlen);
void tls_ctx_free(struct tls_profile_ctx *tc);

/* 0 = neither AEAD nor forward secret, 2 = both. */
int tls_cipher_tier(const SSL_CIPHER *c);

/* The key-permission check moved to common/tlsutil.h; this name stays only
 * for callers not yet switched (collector/ingest.c, probe/uplink.c). */
static inline int tls_check_key_file_mode(const char *path, char *err, size_t errlen)
{
	return tlsutil_check_key_file(path, err, errlen);
}

/* The ex_data index under which an SSL carries its struct hs_conn. */
int tls_conn_ex_index(void);

#endif
