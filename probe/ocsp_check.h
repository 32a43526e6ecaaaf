/*
 * ocsp_check.h - OCSP for the probe: verify a stapled response, and ask the
 * responder named in the leaf's AIA (HTTP POST on the libevent loop).
 */
#ifndef TW_OCSP_CHECK_H
#define TW_OCSP_CHECK_H

#include <event2/event.h>
#include <event2/dns.h>
#include <openssl/x509.h>

/* What a response says about the leaf; NONE when nothing was learned. */
enum ocsp_status { OCSP_ST_NONE = 0, OCSP_ST_GOOD, OCSP_ST_REVOKED, OCSP_ST_UNKNOWN };

/* Finds the issuer of leaf among the given certificates, NULL if none. */
X509 *ocsp_find_issuer(X509 *leaf, STACK_OF(X509) *a, STACK_OF(X509) *b);

/* Checks a DER OCSP response for leaf: signature (against issuer and the
 * trust store), the status of leaf's certificate id, and freshness.
 * A response that fails any check yields OCSP_ST_UNKNOWN and a reason. */
enum ocsp_status ocsp_eval_der(const unsigned char *der, long len, X509 *leaf, X509 *issuer,
			       STACK_OF(X509) *untrusted, X509_STORE *store,
			       char *detail, size_t cap);

/* The first OCSP responder URL of the leaf (heap copy) or NULL. */
char *ocsp_responder_url(X509 *leaf);

/* The largest OCSP response body accepted from a responder. Real ones are
 * a few KiB (one status, a signature, maybe a delegated signer's
 * certificate); a responder that sends more is broken or hostile, and the
 * probe must not buffer it. */
#define OCSP_MAX_RESPONSE (64u * 1024u)

struct ocsp_query;
/* Called once. der is NULL when the responder could not be reached,
 * answered with an HTTP error, or sent a body over OCSP_MAX_RESPONSE
 * (reason in why). */
typedef void (*ocsp_query_cb)(const unsigned char *der, size_t len, const char *why, void *arg);

/* Starts a POST of an OCSP request for leaf/issuer to url. Returns NULL
 * with a reason in err when the request cannot be built or the URL is not
 * plain http. The handle must be freed with ocsp_query_free (not inside
 * the callback). */
struct ocsp_query *ocsp_query_start(struct event_base *base, struct evdns_base *dns,
				    const char *url, X509 *leaf, X509 *issuer, double timeout_ms,
				    ocsp_query_cb cb, void *arg, char *err, size_t errlen);
void ocsp_query_free(struct ocsp_query *q);

#endif
