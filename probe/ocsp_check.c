/*
 * ocsp_check.c - see ocsp_check.h.
 *
 * The responder query is a plain HTTP/1.1 POST (RFC 6960 appendix A) made
 * by the common fetcher (http_fetch.h) on the probe's loop. Responses are checked
 * like a browser would: signed by the issuer or a delegated responder,
 * the certificate id must match, thisUpdate/nextUpdate must be current.
 */
#include "ocsp_check.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/err.h>
#include <openssl/ocsp.h>
#include <openssl/x509v3.h>

#include "http_fetch.h"

/* Five minutes of clock skew between us and the responder is tolerated. */
#define OCSP_SKEW_SEC 300

X509 *ocsp_find_issuer(X509 *leaf, STACK_OF(X509) *a, STACK_OF(X509) *b)
{
	STACK_OF(X509) *lists[2] = { a, b };
	for (int l = 0; l < 2; l++)
		for (int i = 0; lists[l] && i < sk_X509_num(lists[l]); i++) {
			X509 *cand = sk_X509_value(lists[l], i);
			if (cand != leaf && X509_check_issued(cand, leaf) == X509_V_OK)
				return cand;
		}
	return NULL;
}

char *ocsp_responder_url(X509 *leaf)
{
	STACK_OF(OPENSSL_STRING) *urls = X509_get1_ocsp(leaf);
	char *out = NULL;
	if (urls && sk_OPENSSL_STRING_num(urls) > 0)
		out = strdup(sk_OPENSSL_STRING_value(urls, 0));
	X509_email_free(urls);
	return out;
}

const char *ocsp_status_name(enum ocsp_status s)
{
	static const char *const names[] = { "none", "good", "revoked", "unknown", "invalid" };
	return (unsigned)s < sizeof names / sizeof names[0] ? names[s] : "none";
}

const char *ocsp_error_name(enum ocsp_error e)
{
	static const char *const names[] = {
		NULL, "malformed", "responder_error", "wrong_certificate",
		"unauthorized_responder", "unverifiable", "stale", "not_yet_valid",
	};
	return (unsigned)e < sizeof names / sizeof names[0] ? names[e] : NULL;
}

/* Which of OCSP_basic_verify's failures it was: a signature that cannot be
 * checked at all, or one made by somebody the issuer did not authorise
 * (a certificate without OCSPSigning, or one that does not chain to the
 * trust store). The whole error queue is read: the first reason is the
 * cause, later ones ("root ca not trusted") are consequences. */
static enum ocsp_error basic_verify_error(char *eb, size_t cap)
{
	enum ocsp_error e = OCSP_ERR_UNAUTHORIZED;
	unsigned long code, first = 0;
	eb[0] = '\0';
	while ((code = ERR_get_error()) != 0) {
		if (first)
			continue;
		first = code;
		ERR_error_string_n(code, eb, cap);
		if (ERR_GET_LIB(code) == ERR_LIB_OCSP) {
			switch (ERR_GET_REASON(code)) {
			case OCSP_R_SIGNER_CERTIFICATE_NOT_FOUND:
			case OCSP_R_SIGNATURE_FAILURE:
			case OCSP_R_NO_SIGNER_KEY:
				e = OCSP_ERR_UNVERIFIABLE;
				break;
			default:
				break;
			}
		} else {
			e = OCSP_ERR_UNVERIFIABLE; /* a signature that does not even decode */
		}
	}
	return e;
}

enum ocsp_status ocsp_eval_der(const unsigned char *der, long len, X509 *leaf, X509 *issuer,
			       STACK_OF(X509) *untrusted, X509_STORE *store,
			       enum ocsp_error *err, char *detail, size_t cap)
{
	const unsigned char *p = der;
	OCSP_RESPONSE *resp = NULL;
	OCSP_BASICRESP *bs = NULL;
	OCSP_CERTID *id = NULL;
	enum ocsp_status st = OCSP_ST_INVALID;
	int status = -1, reason = -1;
	ASN1_GENERALIZEDTIME *rev = NULL, *thisupd = NULL, *nextupd = NULL;

	*err = OCSP_ERR_MALFORMED;
	resp = d2i_OCSP_RESPONSE(NULL, &p, len);
	if (!resp) {
		snprintf(detail, cap, "OCSP response does not parse");
		goto out;
	}
	int rs = OCSP_response_status(resp);
	if (rs != OCSP_RESPONSE_STATUS_SUCCESSFUL) {
		*err = OCSP_ERR_RESPONDER_ERROR;
		snprintf(detail, cap, "OCSP responder error: %s", OCSP_response_status_str(rs));
		goto out;
	}
	bs = OCSP_response_get1_basic(resp);
	if (!bs) {
		snprintf(detail, cap, "OCSP response has no basic response");
		goto out;
	}
	if (!issuer) {
		*err = OCSP_ERR_UNVERIFIABLE;
		snprintf(detail, cap, "issuer of the leaf not found: the response cannot be checked");
		goto out;
	}
	/* Which certificate it is about comes first: a staple for another
	 * certificate is a configuration mistake whoever signed it. */
	id = OCSP_cert_to_id(EVP_sha1(), leaf, issuer);
	if (!id) {
		*err = OCSP_ERR_UNVERIFIABLE;
		snprintf(detail, cap, "out of memory");
		goto out;
	}
	if (!OCSP_resp_find_status(bs, id, &status, &reason, &rev, &thisupd, &nextupd)) {
		*err = OCSP_ERR_WRONG_CERT;
		snprintf(detail, cap, "OCSP response does not cover this certificate");
		goto out;
	}
	/* The issuer may sign itself, or delegate to a responder certificate
	 * it issued (carried in the response). */
	STACK_OF(X509) *extra = sk_X509_new_null();
	if (!extra) {
		*err = OCSP_ERR_UNVERIFIABLE;
		snprintf(detail, cap, "out of memory");
		goto out;
	}
	for (int i = 0; untrusted && i < sk_X509_num(untrusted); i++)
		sk_X509_push(extra, sk_X509_value(untrusted, i));
	sk_X509_push(extra, issuer);
	ERR_clear_error();
	int vr = OCSP_basic_verify(bs, extra, store, 0);
	sk_X509_free(extra);
	if (vr <= 0) {
		char eb[120];
		*err = basic_verify_error(eb, sizeof eb);
		snprintf(detail, cap, "OCSP signature does not verify: %s", eb);
		goto out;
	}
	if (!OCSP_check_validity(thisupd, nextupd, OCSP_SKEW_SEC, -1)) {
		unsigned long e = ERR_peek_error();
		bool future = ERR_GET_LIB(e) == ERR_LIB_OCSP &&
			      ERR_GET_REASON(e) == OCSP_R_STATUS_NOT_YET_VALID;
		*err = future ? OCSP_ERR_NOT_YET_VALID : OCSP_ERR_STALE;
		snprintf(detail, cap, "OCSP response is %s", future ? "not yet valid (thisUpdate in the future)"
			 : "stale (nextUpdate in the past)");
		goto out;
	}
	*err = OCSP_ERR_NONE;
	switch (status) {
	case V_OCSP_CERTSTATUS_GOOD:
		st = OCSP_ST_GOOD;
		snprintf(detail, cap, "good");
		break;
	case V_OCSP_CERTSTATUS_REVOKED:
		st = OCSP_ST_REVOKED;
		snprintf(detail, cap, "revoked (%s)", reason >= 0 ? OCSP_crl_reason_str(reason) : "no reason");
		break;
	default:
		st = OCSP_ST_UNKNOWN;
		snprintf(detail, cap, "responder does not know the certificate");
		break;
	}
out:
	ERR_clear_error();
	OCSP_CERTID_free(id);
	OCSP_BASICRESP_free(bs);
	OCSP_RESPONSE_free(resp);
	return st;
}

/* The request goes through the common fetcher (http_fetch.h); the answer
 * is handed to the caller's callback as it comes. */
struct ocsp_query {
	struct http_fetch *f;
};

struct ocsp_query *ocsp_query_start(struct event_base *base, struct evdns_base *dns,
				    const char *url, X509 *leaf, X509 *issuer, double timeout_ms,
				    ocsp_query_cb cb, void *arg, char *err, size_t errlen)
{
	struct ocsp_query *q = calloc(1, sizeof *q);
	OCSP_REQUEST *oreq = NULL;
	OCSP_CERTID *id = NULL;
	unsigned char *der = NULL;
	int derlen;

	if (!q) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	oreq = OCSP_REQUEST_new();
	id = OCSP_cert_to_id(EVP_sha1(), leaf, issuer);
	if (!oreq || !id || !OCSP_request_add0_id(oreq, id)) {
		snprintf(err, errlen, "cannot build OCSP request");
		goto fail;
	}
	id = NULL;  /* owned by oreq now */
	derlen = i2d_OCSP_REQUEST(oreq, &der);
	if (derlen <= 0) {
		snprintf(err, errlen, "cannot encode OCSP request");
		goto fail;
	}
	struct http_fetch_post post = { .content_type = "application/ocsp-request",
					.accept = "application/ocsp-response",
					.body = der, .len = (size_t)derlen };
	q->f = http_fetch_start(base, dns, url, "OCSP responder", &post, OCSP_MAX_RESPONSE,
				timeout_ms, cb, arg, err, errlen);
	if (!q->f)
		goto fail;
	OPENSSL_free(der);
	OCSP_REQUEST_free(oreq);
	return q;
fail:
	OPENSSL_free(der);
	OCSP_CERTID_free(id);
	OCSP_REQUEST_free(oreq);
	ocsp_query_free(q);
	return NULL;
}

void ocsp_query_free(struct ocsp_query *q)
{
	if (!q)
		return;
	http_fetch_free(q->f);
	free(q);
}
