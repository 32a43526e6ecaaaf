/*
 * classify.c - facts -> one outcome + findings (DESIGN 4.3).
 *
 * Precedence: reachability, protocol, trust, validity, policy, name,
 * revocation, ok. OpenSSL's verdicts are used as they are (verify error
 * codes, alerts, error-queue reasons); we only decide which of them is the
 * most fundamental. Notes on the judgement calls:
 *
 * - "unable to get local issuer" (20) is ambiguous: the missing certificate
 *   is either an intermediate the server forgot, or a root we do not trust.
 *   When the certificate whose issuer is missing is an end-entity, its
 *   issuer must be an intermediate CA: chain_incomplete. When it is itself
 *   a CA, what is missing is a root: untrusted_root.
 * - A chain that reaches a trusted anchor but through a CA that may not
 *   issue this certificate (not a CA: 79; path length: 25; name
 *   constraints: 47/48; an unhandled critical extension: 34; and their
 *   siblings in is_chain_invalid_error()) is chain_invalid, not
 *   untrusted_root: the root is fine, the fix is in the CA certificates.
 *   An anchor problem (18, 19, 20, 21, 2) still comes first: with an
 *   unknown root the constraints below it do not matter yet.
 * - no_ocsp_staple only for a leaf that names an OCSP responder: there is
 *   nothing to staple otherwise. bad_ocsp_staple: the staple is no valid
 *   answer (ocsp_status "invalid", why in ocsp_error) or says "unknown";
 *   a responder's later answer does not hide it.
 * - A leaf without subjectAltName: profiles that do not read the CN
 *   (profile_cn.c: modern, tls13, current browsers) get hostname_mismatch
 *   with the reason "no subjectAltName"; the others match the CN.
 * - expiring_soon: the certificate of the chain that expires first is
 *   within the stricter (smaller) of expiry_warn_days and
 *   expiry_warn_fraction of its own lifetime (default 30 days and one
 *   third): a 47-day certificate warns 15.7 days ahead, not for most of its
 *   life; a one-year certificate still 30 days ahead.
 * - handshake_failure before ServerHello is the server finding nothing it
 *   shares with us (cipher, group or signature algorithm): no_shared_cipher.
 *   After a CertificateRequest it is about our certificate.
 * - A client that fetches a missing issuer through caIssuers (profile_aia.c,
 *   aia_fetch.c) is judged on the chain it completed: ok when that chain
 *   verifies, with the finding intermediate_fetched, because the server
 *   still omits a certificate that every other client needs. When the
 *   fetch fails the trust outcome stays, and its reason names the URL and
 *   why.
 */
#include "classify.h"
#include "certinfo.h"

#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

static const char *const outcome_names[OUT__COUNT] = {
	"dns_error", "connect_refused", "connect_timeout", "io_error",
	"handshake_timeout", "not_tls", "protocol_version", "no_shared_cipher",
	"client_cert_required", "client_cert_rejected", "tls_alert",
	"untrusted_root", "self_signed", "chain_incomplete", "chain_invalid",
	"cert_expired", "cert_not_yet_valid",
	"bad_usage", "weak_key", "weak_signature",
	"hostname_mismatch", "revoked", "ok",
};

static const char *const finding_names[FIND__COUNT] = {
	"expiring_soon", "weak_key", "weak_signature", "legacy_protocol",
	"cipher_fallback", "no_ocsp_staple", "sni_mismatch",
	"ocsp_responder_unreachable", "ocsp_responder_slow", "client_cert_expiring",
	"bad_ocsp_staple", "crl_unreachable", "crl_stale", "crl_invalid",
	"intermediate_fetched",
};

const char *classify_outcome_name(enum outcome o)
{
	return (unsigned)o < OUT__COUNT ? outcome_names[o] : "?";
}

const char *classify_finding_name(enum finding f)
{
	return (unsigned)f < FIND__COUNT ? finding_names[f] : "?";
}

int classify_finding_parse(const char *name)
{
	for (int i = 0; i < FIND__COUNT; i++)
		if (strcmp(name, finding_names[i]) == 0)
			return i;
	return -1;
}

/* A TLS record starts with content type 20..24 and major version 3. */
static bool looks_like_tls(const struct hs_facts *f)
{
	if (f->first_len == 0)
		return true;
	if (f->first_bytes[0] < 20 || f->first_bytes[0] > 24)
		return false;
	return f->first_len < 2 || f->first_bytes[1] == 3;
}

static bool about_our_cert(const struct hs_facts *f)
{
	return f->cert_requested;
}

static enum outcome classify_tls_failure(const struct hs_facts *f)
{
	if (f->timed_out)
		return OUT_HANDSHAKE_TIMEOUT;
	if (!looks_like_tls(f))
		return OUT_NOT_TLS;

	switch (f->alert_received) {
	case -1:
		break;
	case SSL_AD_PROTOCOL_VERSION:
		return OUT_PROTOCOL_VERSION;
	case SSL_AD_CERTIFICATE_REQUIRED:
		return OUT_CLIENT_CERT_REQUIRED;
	case SSL_AD_HANDSHAKE_FAILURE:
	case SSL_AD_INSUFFICIENT_SECURITY:
		if (about_our_cert(f))
			return f->cert_sent ? OUT_CLIENT_CERT_REJECTED : OUT_CLIENT_CERT_REQUIRED;
		if (!f->server_hello_seen)
			return OUT_NO_SHARED_CIPHER;
		return OUT_TLS_ALERT;
	case SSL_AD_BAD_CERTIFICATE:
	case SSL_AD_UNSUPPORTED_CERTIFICATE:
	case SSL_AD_CERTIFICATE_REVOKED:
	case SSL_AD_CERTIFICATE_EXPIRED:
	case SSL_AD_CERTIFICATE_UNKNOWN:
	case SSL_AD_UNKNOWN_CA:
	case SSL_AD_ACCESS_DENIED:
	case SSL_AD_DECRYPT_ERROR:
		if (about_our_cert(f))
			return f->cert_sent ? OUT_CLIENT_CERT_REJECTED : OUT_CLIENT_CERT_REQUIRED;
		return OUT_TLS_ALERT;
	default:
		return OUT_TLS_ALERT;
	}

	if (f->ssl_error == 0)
		return OUT_IO_ERROR;     /* reset or EOF without an alert */
	if (ERR_GET_LIB(f->ssl_error) == ERR_LIB_SSL) {
		switch (ERR_GET_REASON(f->ssl_error)) {
		case SSL_R_UNSUPPORTED_PROTOCOL:
		case SSL_R_NO_PROTOCOLS_AVAILABLE:
		case SSL_R_WRONG_SSL_VERSION:
		case SSL_R_VERSION_TOO_LOW:
		case SSL_R_VERSION_TOO_HIGH:
		case SSL_R_WRONG_VERSION_NUMBER:
		case SSL_R_TLSV1_ALERT_PROTOCOL_VERSION:
		case SSL_R_INAPPROPRIATE_FALLBACK:
			return OUT_PROTOCOL_VERSION;
		case SSL_R_NO_CIPHERS_AVAILABLE:
		case SSL_R_WRONG_CIPHER_RETURNED:
		case SSL_R_NO_SHARED_CIPHER:
		case SSL_R_NO_SHARED_GROUPS:
		case SSL_R_WRONG_CURVE:
		case SSL_R_NO_SUITABLE_SIGNATURE_ALGORITHM:
		case SSL_R_WRONG_SIGNATURE_TYPE:
		case SSL_R_DH_KEY_TOO_SMALL:
		case SSL_R_BAD_ECPOINT:
			return OUT_NO_SHARED_CIPHER;
		case SSL_R_UNEXPECTED_EOF_WHILE_READING:
			return OUT_IO_ERROR;
		case SSL_R_PACKET_LENGTH_TOO_LONG:
		case SSL_R_RECORD_LENGTH_MISMATCH:
			if (!f->server_hello_seen)
				return OUT_NOT_TLS;
			break;
		default:
			break;
		}
	}
	return OUT_TLS_ALERT;
}

/* Lowest depth at which code was reported, -1 if never. */
static int err_depth(const struct hs_facts *f, int code)
{
	int d = -1;
	for (int i = 0; i < f->n_verify_errors; i++)
		if (f->verify_errors[i].code == code && (d < 0 || f->verify_errors[i].depth < d))
			d = f->verify_errors[i].depth;
	return d;
}

static X509 *cert_at(const struct hs_facts *f, int depth)
{
	if (depth < 0)
		return NULL;
	if (f->verified_chain && depth < sk_X509_num(f->verified_chain))
		return sk_X509_value(f->verified_chain, depth);
	if (f->peer_chain && depth < sk_X509_num(f->peer_chain))
		return sk_X509_value(f->peer_chain, depth);
	return NULL;
}

static bool is_trust_error(int code)
{
	switch (code) {
	case X509_V_ERR_CERT_HAS_EXPIRED:
	case X509_V_ERR_CERT_NOT_YET_VALID:
	case X509_V_ERR_INVALID_PURPOSE:
	case X509_V_ERR_EE_KEY_TOO_SMALL:
	case X509_V_ERR_CA_KEY_TOO_SMALL:
	case X509_V_ERR_CA_MD_TOO_WEAK:
	case X509_V_ERR_HOSTNAME_MISMATCH:
	case X509_V_ERR_IP_ADDRESS_MISMATCH:
	case X509_V_ERR_EMAIL_MISMATCH:
	case X509_V_ERR_CERT_REVOKED:
	case X509_V_ERR_ERROR_IN_CERT_NOT_BEFORE_FIELD:
	case X509_V_ERR_ERROR_IN_CERT_NOT_AFTER_FIELD:
		return false;
	default:
		return true;
	}
}

/* A CA in a path to a trusted anchor may not issue what is below it. */
static bool is_chain_invalid_error(int code)
{
	switch (code) {
	case X509_V_ERR_INVALID_CA:
	case X509_V_ERR_PATH_LENGTH_EXCEEDED:
	case X509_V_ERR_KEYUSAGE_NO_CERTSIGN:
	case X509_V_ERR_UNHANDLED_CRITICAL_EXTENSION:
	case X509_V_ERR_INVALID_EXTENSION:
	case X509_V_ERR_INVALID_POLICY_EXTENSION:
	case X509_V_ERR_NO_EXPLICIT_POLICY:
	case X509_V_ERR_PERMITTED_VIOLATION:
	case X509_V_ERR_EXCLUDED_VIOLATION:
	case X509_V_ERR_SUBTREE_MINMAX:
	case X509_V_ERR_UNSUPPORTED_CONSTRAINT_TYPE:
	case X509_V_ERR_UNSUPPORTED_CONSTRAINT_SYNTAX:
	case X509_V_ERR_UNSUPPORTED_NAME_SYNTAX:
	case X509_V_ERR_PATHLEN_INVALID_FOR_NON_CA:
	case X509_V_ERR_PATHLEN_WITHOUT_KU_KEY_CERT_SIGN:
	case X509_V_ERR_KU_KEY_CERT_SIGN_INVALID_FOR_NON_CA:
		return true;
	default:
		return false;
	}
}

/* Trust: does the chain lead to an anchor we trust? */
static bool classify_trust(const struct hs_facts *f, enum outcome *o, int *depth)
{
	int d;
	if ((d = err_depth(f, X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT)) >= 0) {
		*o = OUT_SELF_SIGNED; *depth = d; return true;
	}
	if ((d = err_depth(f, X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN)) >= 0) {
		*o = OUT_UNTRUSTED_ROOT; *depth = d; return true;
	}
	if ((d = err_depth(f, X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE)) >= 0) {
		*o = OUT_CHAIN_INCOMPLETE; *depth = d; return true;
	}
	int d20 = err_depth(f, X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY);
	int d2 = err_depth(f, X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT);
	d = d20 >= 0 && (d2 < 0 || d20 < d2) ? d20 : d2;
	if (d >= 0) {
		X509 *x = cert_at(f, d);
		*o = x && certinfo_is_ca(x) ? OUT_UNTRUSTED_ROOT : OUT_CHAIN_INCOMPLETE;
		*depth = d;
		return true;
	}
	/* The anchor is trusted; the first constraint OpenSSL found broken,
	 * as `openssl verify` would name it. */
	for (int i = 0; i < f->n_verify_errors; i++) {
		if (is_chain_invalid_error(f->verify_errors[i].code)) {
			*o = OUT_CHAIN_INVALID;
			*depth = f->verify_errors[i].depth;
			return true;
		}
	}
	/* Anything else that breaks the path (a bad signature...) means the
	 * chain does not lead to a trusted anchor. */
	for (int i = 0; i < f->n_verify_errors; i++) {
		if (is_trust_error(f->verify_errors[i].code)) {
			*o = OUT_UNTRUSTED_ROOT;
			*depth = f->verify_errors[i].depth;
			return true;
		}
	}
	return false;
}

/* The client's own certificate policy (testssl.sh minRsaBits,
 * minEcdsaBits, requiresSha2) on top of what OpenSSL's security level
 * enforced. The self-signed anchor's own signature does not count. */
static int policy_violation(const struct hs_facts *f, const struct profile *p, bool want_sig)
{
	STACK_OF(X509) *ch = f->peer_chain;
	for (int i = 0; ch && i < sk_X509_num(ch); i++) {
		X509 *x = sk_X509_value(ch, i);
		if (want_sig) {
			if (p->requires_sha2 && !certinfo_self_signed(x) && certinfo_sig_weak(x))
				return i;
			continue;
		}
		char kb[64];
		int bits = 0;
		enum cert_key_type t = certinfo_key(x, kb, sizeof kb, &bits);
		if (t == CERT_KEY_RSA && p->min_rsa_bits > 0 && bits < p->min_rsa_bits)
			return i;
		if (t == CERT_KEY_EC && p->min_ecdsa_bits > 0 && bits < p->min_ecdsa_bits)
			return i;
	}
	return -1;
}

/* The same check as the handshake's (handshake.c): the CN only for a
 * profile that reads it. */
static bool name_matches(X509 *leaf, const char *name, const struct profile *p)
{
	unsigned char ip[16];
	if (inet_pton(AF_INET, name, ip) == 1 || inet_pton(AF_INET6, name, ip) == 1)
		return X509_check_ip_asc(leaf, name, 0) == 1;
	return X509_check_host(leaf, name, 0, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS |
			       (p->reads_cn ? 0 : X509_CHECK_FLAG_NEVER_CHECK_SUBJECT), NULL) == 1;
}

/* The expiring_soon window in seconds for certificate x (see the top). */
static double expiry_window_s(X509 *x, const struct classify_opts *o)
{
	double warn_s = o->expiry_warn_days * 86400.0;
	time_t nb, na;
	if (x && o->expiry_warn_fraction > 0 && certinfo_not_before(x, &nb) == 0 &&
	    certinfo_not_after(x, &na) == 0 && na > nb) {
		double frac_s = difftime(na, nb) * o->expiry_warn_fraction;
		if (frac_s < warn_s)
			warn_s = frac_s;
	}
	return warn_s;
}

static STACK_OF(X509) *expiry_chain(const struct hs_facts *f)
{
	/* the verified chain includes the anchor; otherwise what was served */
	return f->verified_chain && sk_X509_num(f->verified_chain) > 0 ? f->verified_chain
								       : f->peer_chain;
}

static void chain_expiry(const struct hs_facts *f, struct classification *c)
{
	STACK_OF(X509) *ch = expiry_chain(f);
	c->chain_not_after_min_depth = -1;
	for (int i = 0; ch && i < sk_X509_num(ch); i++) {
		time_t na;
		if (certinfo_not_after(sk_X509_value(ch, i), &na) != 0)
			continue;
		if (c->chain_not_after_min_depth < 0 || na < c->chain_not_after_min) {
			c->chain_not_after_min = na;
			c->chain_not_after_min_depth = i;
		}
	}
}

void classify_result(const struct hs_facts *f, const struct hs_request *req, const char *sni_sent,
	      const struct classify_opts *o, struct classification *c)
{
	const struct tlsctx *tc = req->tc;
	const struct profile *p = tc->profile;
	X509 *leaf = f->peer_chain && sk_X509_num(f->peer_chain) > 0 ? sk_X509_value(f->peer_chain, 0) : NULL;
	int d;

	memset(c, 0, sizeof *c);
	c->depth = -1;
	c->days_to_expiry = NAN;
	c->expiry_warn_days = NAN;
	c->chain_not_after_min_depth = -1;
	snprintf(c->reason, sizeof c->reason, "%s", f->detail);

	/* certificate facts are reported whatever the outcome */
	if (leaf) {
		time_t na;
		if (certinfo_not_after(leaf, &na) == 0)
			c->days_to_expiry = difftime(na, o->now) / 86400.0;
		c->sni_match_known = true;
		c->sni_match = name_matches(leaf, sni_sent ? sni_sent : req->host, p);
		chain_expiry(f, c);
	}

	/* ---- reachability and protocol ---- */
	switch (f->failed_phase) {
	case PH_DNS:
		c->outcome = OUT_DNS_ERROR;
		goto findings;
	case PH_CONNECT:
		c->outcome = f->timed_out ? OUT_CONNECT_TIMEOUT
			   : f->sys_errno == ECONNREFUSED ? OUT_CONNECT_REFUSED : OUT_IO_ERROR;
		goto findings;
	case PH_STARTTLS:
		/* a server that answers but will not upgrade is not speaking TLS */
		c->outcome = f->timed_out ? OUT_HANDSHAKE_TIMEOUT : f->sys_errno ? OUT_IO_ERROR : OUT_NOT_TLS;
		goto findings;
	case PH_HANDSHAKE:
	case PH_POSTREAD:
		c->outcome = classify_tls_failure(f);
		goto findings;
	case PH_NONE:
		break;
	}

	/* ---- trust, validity, policy, name, revocation ---- */
	if (classify_trust(f, &c->outcome, &c->depth))
		goto verdict;
	if ((d = err_depth(f, X509_V_ERR_CERT_HAS_EXPIRED)) >= 0) {
		c->outcome = OUT_CERT_EXPIRED; c->depth = d; goto verdict;
	}
	if ((d = err_depth(f, X509_V_ERR_CERT_NOT_YET_VALID)) >= 0) {
		c->outcome = OUT_CERT_NOT_YET_VALID; c->depth = d; goto verdict;
	}
	if ((d = err_depth(f, X509_V_ERR_INVALID_PURPOSE)) >= 0) {
		c->outcome = OUT_BAD_USAGE; c->depth = d; goto verdict;
	}
	{
		int d66 = err_depth(f, X509_V_ERR_EE_KEY_TOO_SMALL);
		int d67 = err_depth(f, X509_V_ERR_CA_KEY_TOO_SMALL);
		d = d66 >= 0 ? d66 : d67;
		if (d < 0)
			d = policy_violation(f, p, false);
		if (d >= 0) {
			c->outcome = OUT_WEAK_KEY; c->depth = d; goto verdict;
		}
	}
	d = err_depth(f, X509_V_ERR_CA_MD_TOO_WEAK);
	if (d < 0)
		d = policy_violation(f, p, true);
	if (d >= 0) {
		c->outcome = OUT_WEAK_SIGNATURE; c->depth = d; goto verdict;
	}
	d = err_depth(f, X509_V_ERR_HOSTNAME_MISMATCH);
	if (d < 0)
		d = err_depth(f, X509_V_ERR_IP_ADDRESS_MISMATCH);
	if (d >= 0) {
		c->outcome = OUT_HOSTNAME_MISMATCH; c->depth = d;
		if (leaf && !certinfo_has_san(leaf)) {
			snprintf(c->reason, sizeof c->reason, "depth %d: no subjectAltName (%s)", d,
				 p->reads_cn ? "and the CN does not match"
				 : "this client does not read the CN");
			goto findings;
		}
		goto verdict;
	}
	if (f->ocsp_status == OCSP_ST_REVOKED) {
		c->outcome = OUT_REVOKED; c->depth = 0;
		snprintf(c->reason, sizeof c->reason, "OCSP (%s): %s", f->ocsp_source, f->ocsp_detail);
		goto findings;
	}
	if (f->crl.status == CRL_ST_REVOKED) {
		c->outcome = OUT_REVOKED; c->depth = f->crl.depth;
		snprintf(c->reason, sizeof c->reason, "CRL: %s", f->crl.detail);
		goto findings;
	}
	if ((d = err_depth(f, X509_V_ERR_CERT_REVOKED)) >= 0) {
		c->outcome = OUT_REVOKED; c->depth = d; goto verdict;
	}
	c->outcome = OUT_OK;
	c->reason[0] = '\0';
	goto findings;

verdict:
	for (int i = 0; i < f->n_verify_errors; i++) {
		if (f->verify_errors[i].depth == c->depth) {
			snprintf(c->reason, sizeof c->reason, "depth %d: %s", c->depth,
				 X509_verify_cert_error_string(f->verify_errors[i].code));
			break;
		}
	}
	if (!c->reason[0])
		snprintf(c->reason, sizeof c->reason, "depth %d: certificate policy of profile \"%s\"",
			 c->depth, p->name);

findings:
	/* a fetching client's trust verdict says what its fetch found */
	if (f->aia_failed && f->aia_detail[0] &&
	    (c->outcome == OUT_CHAIN_INCOMPLETE || c->outcome == OUT_UNTRUSTED_ROOT)) {
		size_t n = strlen(c->reason);
		snprintf(c->reason + n, sizeof c->reason - n, "%s%s", n ? "; " : "", f->aia_detail);
	}
	c->findings[FIND_INTERMEDIATE_FETCHED] = f->aia_used > 0;
	if (leaf) {
		if (c->chain_not_after_min_depth >= 0) {
			STACK_OF(X509) *ch = expiry_chain(f);
			double warn_s = expiry_window_s(sk_X509_value(ch, c->chain_not_after_min_depth), o);
			double left = difftime(c->chain_not_after_min, o->now);
			c->expiry_warn_days = warn_s / 86400.0;
			if (left > 0 && left <= warn_s)
				c->findings[FIND_EXPIRING_SOON] = true;
		}
		for (int i = 0; i < sk_X509_num(f->peer_chain); i++) {
			X509 *x = sk_X509_value(f->peer_chain, i);
			/* a root's own key and signature are the client's business */
			bool anchor = i > 0 && certinfo_self_signed(x);
			if (!anchor && certinfo_key_weak(x))
				c->findings[FIND_WEAK_KEY] = true;
			if (!anchor && !certinfo_self_signed(x) && certinfo_sig_weak(x))
				c->findings[FIND_WEAK_SIGNATURE] = true;
		}
		if (f->handshake_done && !c->sni_match)
			c->findings[FIND_SNI_MISMATCH] = true;
	}
	if (f->handshake_done) {
		if (f->version < TLS1_2_VERSION)
			c->findings[FIND_LEGACY_PROTOCOL] = true;
		if (f->cipher && (tlsctx_cipher_tier(f->cipher) < tc->best_tier || f->version < tc->max_version))
			c->findings[FIND_CIPHER_FALLBACK] = true;
		/* a certificate that names no responder cannot be stapled for
		 * (Let's Encrypt issues no OCSP URL since 2025) */
		if (p->request_ocsp && !f->ocsp_stapled && leaf && certinfo_names_ocsp(leaf))
			c->findings[FIND_NO_OCSP_STAPLE] = true;
		/* a staple that is no valid answer, or one that says nothing */
		if (f->ocsp_stapled && (f->staple_status == OCSP_ST_INVALID ||
					f->staple_status == OCSP_ST_UNKNOWN))
			c->findings[FIND_BAD_OCSP_STAPLE] = true;
	}
	/* a CRL that could not be used: fetched (unreachable), current
	 * (stale), or trusted (invalid: not the issuer's, or no signature) */
	c->findings[FIND_CRL_UNREACHABLE] = f->crl.unreachable;
	c->findings[FIND_CRL_STALE] = f->crl.stale;
	c->findings[FIND_CRL_INVALID] = f->crl.invalid;
	if (f->ocsp_responder_unreachable)
		c->findings[FIND_OCSP_RESPONDER_UNREACHABLE] = true;
	else if (f->ocsp_responder_ms >= 0 && f->ocsp_responder_ms > o->ocsp_slow_ms)
		c->findings[FIND_OCSP_RESPONDER_SLOW] = true;
	if (tc->has_client_cert && tc->client_cert_not_after &&
	    difftime(tc->client_cert_not_after, o->now) <= o->expiry_warn_days * 86400.0)
		c->findings[FIND_CLIENT_CERT_EXPIRING] = true;
}
