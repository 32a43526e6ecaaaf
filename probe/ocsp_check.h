/*
 * ocsp_check.h - OCSP for the probe: verify a stapled response, and ask the
 * responder named in the leaf's AIA (HTTP POST on the libevent loop).
 */
#ifndef TW_OCSP_CHECK_H
#define TW_OCSP_CHECK_H

#include <event2/event.h>
#include <event2/dns.h>
#include <openssl/x509.h>

/* What a response says about the leaf; NONE when nothing was learned.
 * UNKNOWN is a valid answer ("the responder does not know it"); INVALID is
 * a response that is no valid answer at all (enum ocsp_error says why). */
enum ocsp_status { OCSP_ST_NONE = 0, OCSP_ST_GOOD, OCSP_ST_REVOKED, OCSP_ST_UNKNOWN, OCSP_ST_INVALID };

/* Why a response is not a valid answer for the leaf (names are a contract:
 * the result's ocsp_error). */
enum ocsp_error {
	OCSP_ERR_NONE = 0,
	OCSP_ERR_MALFORMED,        /* does not parse, or no basic response */
	OCSP_ERR_RESPONDER_ERROR,  /* responseStatus not successful (tryLater...) */
	OCSP_ERR_WRONG_CERT,       /* no status for this certificate */
	OCSP_ERR_UNAUTHORIZED,     /* signer is neither the issuer nor its OCSPSigning delegate */
	OCSP_ERR_UNVERIFIABLE,     /* signer not found, issuer unknown, or signature fails */
	OCSP_ERR_STALE,            /* nextUpdate in the past */
	OCSP_ERR_NOT_YET_VALID,    /* thisUpdate in the future */
};

/* "none", "good", "revoked", "unknown", "invalid" */
const char *ocsp_status_name(enum ocsp_status s);
/* "malformed", "responder_error", "wrong_certificate",
 * "unauthorized_responder", "unverifiable", "stale", "not_yet_valid";
 * NULL for OCSP_ERR_NONE. */
const char *ocsp_error_name(enum ocsp_error e);

/* Finds the issuer of leaf among the given certificates, NULL if none. */
X509 *ocsp_find_issuer(X509 *leaf, STACK_OF(X509) *a, STACK_OF(X509) *b);

/* Checks a DER OCSP response for leaf: that it covers leaf's certificate
 * id, its signature (by issuer or a delegate, against the trust store), and
 * freshness. A response that fails a check yields OCSP_ST_INVALID with the
 * class in *err and a reason in detail; *err is OCSP_ERR_NONE otherwise.
 * issuer NULL (not found) makes the response unverifiable. */
enum ocsp_status ocsp_eval_der(const unsigned char *der, long len, X509 *leaf, X509 *issuer,
			       STACK_OF(X509) *untrusted, X509_STORE *store,
			       enum ocsp_error *err, char *detail, size_t cap);

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
