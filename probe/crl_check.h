/*
 * crl_check.h - revocation by CRL for the probe (`--revocation crl`): the
 * CRL distribution points of the leaf and the intermediates, fetched over
 * plain HTTP on the libevent loop (size cap, timeout), kept in a
 * process-wide cache until their nextUpdate, verified against the issuer
 * in the chain (name and signature) and for freshness.
 *
 * Ownership: crl_check_start() returns a check owned by the caller, who
 * frees it with crl_check_free() - never inside the callback. The chain is
 * borrowed until the callback has run. The cache owns its CRLs.
 */
#ifndef TW_CRL_CHECK_H
#define TW_CRL_CHECK_H

#include <stdbool.h>
#include <time.h>
#include <event2/event.h>
#include <event2/dns.h>
#include <openssl/x509.h>

/* The largest CRL accepted. Public CAs' CRLs are sharded to a few hundred
 * KiB; a body past this is a broken or hostile server. */
#define CRL_MAX_BYTES (8u << 20)
/* CRLs kept at once (one per distribution point URL). */
#define CRL_CACHE_MAX 64

enum crl_status {
	CRL_ST_NONE = 0,     /* no certificate of the chain names a CRL over HTTP */
	CRL_ST_GOOD,         /* every named CRL verified, current, not listing its certificate */
	CRL_ST_REVOKED,      /* a CRL lists its certificate (depth says which) */
	CRL_ST_UNAVAILABLE   /* some CRL could not be used: see the flags */
};

struct crl_verdict {
	enum crl_status status;
	int depth;           /* the certificate the status is about, -1 none */
	bool unreachable;    /* a CRL could not be fetched (connect, HTTP error, too large) */
	bool stale;          /* a CRL's nextUpdate is past */
	bool invalid;        /* a CRL does not parse, or is not signed by the issuer */
	char detail[192];    /* the first problem, or the revocation, in words */
};

/* "none", "good", "revoked", "unavailable" */
const char *crl_status_name(enum crl_status s);

struct crl_check;
typedef void (*crl_check_cb)(const struct crl_verdict *v, void *arg);

/* Checks chain[i] against the CRL its distribution point names, for every
 * i whose issuer chain[i + 1] is there (the anchor itself is not checked).
 * The callback runs once, from the loop (never inside this call). NULL
 * only when out of memory. */
struct crl_check *crl_check_start(struct event_base *base, struct evdns_base *dns,
				  STACK_OF(X509) *chain, double timeout_ms, time_t now,
				  crl_check_cb cb, void *arg);
void crl_check_free(struct crl_check *k);

/* Empties the cache (tests; a daemon keeps it). */
void crl_check_cache_clear(void);

#endif
