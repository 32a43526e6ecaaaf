/*
 * classify.h - the outcome taxonomy of DESIGN 4.3 (names are a contract)
 * and the function that maps what a connection observed to exactly one
 * outcome plus any number of findings. Pure: no I/O, time is passed in.
 */
#ifndef TW_CLASSIFY_H
#define TW_CLASSIFY_H

#include <stdbool.h>
#include <time.h>
#include "handshake.h"

/* In precedence order: the most fundamental failure first. */
enum outcome {
	OUT_DNS_ERROR, OUT_CONNECT_REFUSED, OUT_CONNECT_TIMEOUT, OUT_IO_ERROR,
	OUT_HANDSHAKE_TIMEOUT, OUT_NOT_TLS, OUT_PROTOCOL_VERSION, OUT_NO_SHARED_CIPHER,
	OUT_CLIENT_CERT_REQUIRED, OUT_CLIENT_CERT_REJECTED, OUT_TLS_ALERT,
	OUT_UNTRUSTED_ROOT, OUT_SELF_SIGNED, OUT_CHAIN_INCOMPLETE, OUT_CHAIN_INVALID,
	OUT_CERT_EXPIRED, OUT_CERT_NOT_YET_VALID,
	OUT_BAD_USAGE, OUT_WEAK_KEY, OUT_WEAK_SIGNATURE,
	OUT_HOSTNAME_MISMATCH, OUT_REVOKED, OUT_OK,
	OUT__COUNT
};

enum finding {
	FIND_EXPIRING_SOON, FIND_WEAK_KEY, FIND_WEAK_SIGNATURE, FIND_LEGACY_PROTOCOL,
	FIND_CIPHER_FALLBACK, FIND_NO_OCSP_STAPLE, FIND_SNI_MISMATCH,
	FIND_OCSP_RESPONDER_UNREACHABLE, FIND_OCSP_RESPONDER_SLOW, FIND_CLIENT_CERT_EXPIRING,
	FIND_BAD_OCSP_STAPLE, FIND_CRL_UNREACHABLE, FIND_CRL_STALE, FIND_CRL_INVALID,
	FIND_INTERMEDIATE_FETCHED,
	FIND__COUNT
};

const char *classify_outcome_name(enum outcome o);
const char *classify_finding_name(enum finding f);
/* -1 when the name is not a finding. */
int classify_finding_parse(const char *name);

struct classify_opts {
	double expiry_warn_days;    /* expiring_soon threshold (default 30) */
	double expiry_warn_fraction; /* ... or this share of the certificate's lifetime when
				      * smaller (default 1/3); 0 = the days alone */
	double ocsp_slow_ms;        /* ocsp_responder_slow threshold */
	time_t now;
};

struct classification {
	enum outcome outcome;
	int depth;                  /* chain depth the outcome refers to, -1 none */
	bool findings[FIND__COUNT];
	char reason[320];           /* the exact failure reason, kept raw */
	bool sni_match_known;
	bool sni_match;             /* the certificate covers the name sent (or host) */
	time_t chain_not_after_min;
	int chain_not_after_min_depth;  /* -1 when no chain */
	double days_to_expiry;      /* leaf; NaN when no leaf */
	double expiry_warn_days;    /* the expiring_soon threshold applied; NaN when no chain */
};

void classify_result(const struct hs_facts *f, const struct hs_request *req, const char *sni_sent,
	      const struct classify_opts *o, struct classification *out);

#endif
