/*
 * aia_fetch.h - a missing intermediate fetched the way browsers do it
 * ("AIA chasing"), for the profiles whose real client does
 * (profile_aia.h): when a handshake's verification failed only because an
 * issuer was not found, the caIssuers URL (http only, as clients use it)
 * of the certificate whose issuer is missing is fetched on the loop
 * (http_fetch.h: one timeout, a 64 KiB cap), its DER, PEM or certs-only
 * PKCS#7 (.p7c) certificates are added to the untrusted set and the chain
 * is verified again with the handshake's own parameters (name, purpose,
 * security level, trust store); up to AIA_MAX_ROUNDS times, a URL never
 * twice.
 *
 * A cache answers each URL once for every connection that shares it (the
 * profiles of one `check`): a fetch in flight is waited for, not repeated.
 *
 * Ownership: aia_cache_new() returns a cache its creator frees with
 * aia_cache_free() once no check uses it any more. aia_check_start()
 * returns a check owned by the caller, freed with aia_check_free() - never
 * inside its callback. The facts are borrowed until the callback has run
 * (or the check is freed): the check rewrites their verify_errors,
 * verified_chain and aia_* fields. The cache owns the certificates it
 * fetched; the untrusted set holds references of its own.
 */
#ifndef TW_AIA_FETCH_H
#define TW_AIA_FETCH_H

#include <stdbool.h>
#include <event2/event.h>
#include <event2/dns.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "handshake.h"
#include "profile.h"

/* The largest caIssuers answer accepted: an intermediate is 1-2 KiB, a
 * .p7c with a cross-signed pair a few; past this it is no certificate. */
#define AIA_MAX_BYTES (64u << 10)
/* URLs fetched for one verification: chains longer than that are not
 * completed by browsers either, and a loop of URLs ends here. */
#define AIA_MAX_ROUNDS 4
/* Certificates taken from one answer. */
#define AIA_MAX_CERTS 8
/* URLs one cache remembers; past that a URL is not fetched. */
#define AIA_CACHE_MAX 256

struct aia_cache;

/* NULL when out of memory. timeout_ms bounds each fetch. */
struct aia_cache *aia_cache_new(struct event_base *base, struct evdns_base *dns, double timeout_ms);
void aia_cache_free(struct aia_cache *cache);

/* The profile fetches caIssuers and the facts' verification failed for
 * want of an issuer (X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT{,_LOCALLY},
 * UNABLE_TO_VERIFY_LEAF_SIGNATURE) after a completed handshake. */
bool aia_fetch_wanted(const struct profile *p, const struct hs_facts *f);

/* What ssl's verification used - its parameters (name, purpose, flags,
 * security level) and its trust store - to verify again with after the
 * connection is gone. NULL when out of memory. Freed with
 * aia_fetch_verify_free() unless aia_check_start() takes it. */
struct aia_verify;
struct aia_verify *aia_fetch_verify_of(SSL *ssl);
void aia_fetch_verify_free(struct aia_verify *v);

struct aia_check;
typedef void (*aia_check_cb)(void *arg);

/* Starts completing f's chain (see the top). Takes v (also on failure).
 * cache NULL: a private one, freed with the check. The callback runs once,
 * from the loop, never inside this call. NULL only when out of memory (f
 * untouched). */
struct aia_check *aia_check_start(struct event_base *base, struct evdns_base *dns,
				  struct aia_cache *cache, struct aia_verify *v, struct hs_facts *f,
				  double timeout_ms, aia_check_cb cb, void *arg);
/* Cancels a check that has not called back (no callback then). */
void aia_check_free(struct aia_check *k);

#endif
