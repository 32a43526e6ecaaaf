/*
 * ingest_tls.h - the TLS side of the probe server: the server SSL_CTX
 * (mutual TLS, only the probes' CA trusted) and what a handshake tells:
 * the probe's identity from its client certificate (CN = probe id,
 * OU = region), or why it failed.
 *
 * Ownership: ingest_tls_ctx_new() returns a context the caller frees with
 * SSL_CTX_free(). Everything else borrows its arguments.
 */
#ifndef TW_INGEST_TLS_H
#define TW_INGEST_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <openssl/ssl.h>

#include "ingest_refusal.h"

struct bufferevent;

/* common/tlsutil's server context for the probe link: key mode checked,
 * certificate, key and CA loaded, a client certificate from that CA
 * required. NULL with the reason. */
SSL_CTX *ingest_tls_ctx_new(const char *ca_file, const char *cert_file, const char *key_file,
			     char *err, size_t errlen);

/* The identity of a completed handshake into cn and ou (cap bytes each):
 * 0, or -1 with the refusal (no certificate, no usable CN or OU) and a
 * one-line reason in msg. */
int ingest_tls_identity(SSL *ssl, char *cn, char *ou, size_t cap, enum ingest_refusal *why,
			char *msg, size_t msglen);

/* Why a handshake failed, from the OpenSSL errors libevent saved for bev
 * (the queue is emptied). false: the peer just closed before finishing (a
 * port check, a load balancer's health check): not a refusal. true: *why
 * and a one-line reason in msg. */
bool ingest_tls_handshake_failure(struct bufferevent *bev, SSL *ssl, short events,
				  enum ingest_refusal *why, char *msg, size_t msglen);

/* After the handshake, an EOF or error event on bev: empties the error
 * queue, writes ": reason" (or "") into why, and returns true when it was
 * an error, false for an ordinary disconnect (also one without
 * close_notify). */
bool ingest_tls_stream_error(struct bufferevent *bev, short events, char *why, size_t cap);

#endif
