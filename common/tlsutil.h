/*
 * tlsutil.h - what both daemons need of OpenSSL, in one place: the private
 * key permission check, loading an identity (certificate chain, key, CA)
 * into an SSL_CTX, the probe<->collector mTLS context, setting the name a
 * client verifies, and the whole OpenSSL error queue as one message.
 *
 * Errors: every function that can fail returns 0 / -1 (or NULL) and writes
 * one line naming the file and the reason into err (never longer than
 * errlen, always NUL-terminated when errlen > 0). A function that reads the
 * OpenSSL error queue leaves it empty, success or not, so a stale entry can
 * never be blamed on a later, unrelated call.
 *
 * Ownership: no function here keeps a pointer to its arguments. The
 * SSL_CTX from tlsutil_ctx_new() belongs to the caller (SSL_CTX_free).
 */
#ifndef TW_TLSUTIL_H
#define TW_TLSUTIL_H

#include <stddef.h>
#include <openssl/ssl.h>

#define TLSUTIL_WUR __attribute__((warn_unused_result))

/* Which end of the probe<->collector link a context is for. */
enum tlsutil_side {
	TLSUTIL_CLIENT, /* the probe: verifies the collector against ca_file */
	TLSUTIL_SERVER  /* the collector: requires a client certificate from ca_file */
};

/* Files of one identity. Paths are only read during the call. */
struct tlsutil_identity {
	const char *ca_file;   /* peers are verified against exactly this bundle */
	const char *cert_file; /* our certificate chain, PEM, leaf first */
	const char *key_file;  /* our private key, PEM; must be 0600 or stricter */
};

/* Refuses a private key file that group or others may access (any of the
 * rwx bits), or that cannot be stat()ed. The message names the file and,
 * for a bad mode, the octal mode. */
int tlsutil_check_key_file(const char *path, char *err, size_t errlen) TLSUTIL_WUR;

/* Checks the key file's mode, loads the certificate chain and the key into
 * ctx and checks that they belong together ("private key K does not match
 * certificate C" otherwise). */
int tlsutil_use_identity(SSL_CTX *ctx, const char *cert_file, const char *key_file,
			 char *err, size_t errlen) TLSUTIL_WUR;

/* Loads ca_file as ctx's trust anchors ("cannot load CA file F: reason"). */
int tlsutil_use_ca_file(SSL_CTX *ctx, const char *ca_file, char *err, size_t errlen) TLSUTIL_WUR;

/* A context for the probe<->collector link: TLS 1.2 or newer, peer verified
 * against id->ca_file only (never the system store), our identity from
 * id->cert_file/key_file (all three required). The server side also demands
 * a client certificate, advertises ca_file's names as acceptable issuers,
 * refuses renegotiation, and keeps no session cache or tickets (every probe
 * connection is long-lived, so resumption buys nothing). */
SSL_CTX *tlsutil_ctx_new(enum tlsutil_side side, const struct tlsutil_identity *id,
			 char *err, size_t errlen) TLSUTIL_WUR;

/* Client side: sends host as SNI (unless it is an IP address) and makes the
 * handshake verify the peer certificate against it (DNS name or IP). A
 * failure to set either is an error, so a name is never silently left
 * unchecked. */
int tlsutil_set_peer_name(SSL *ssl, const char *host, char *err, size_t errlen) TLSUTIL_WUR;

/* Empties the thread's OpenSSL error queue into buf as one line, oldest
 * entry first, entries joined by "; ", each with its extra data if any.
 * An empty queue gives "no OpenSSL error reported". Returns buf, so it can
 * be used as a printf argument. A line longer than cap ends in "..." and
 * the rest of the queue is still emptied. */
const char *tlsutil_err_drain(char *buf, size_t cap);

#endif
