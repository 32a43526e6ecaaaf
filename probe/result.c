/* result.c - see result.h. */
#include "result.h"
#include "certinfo.h"
#include "twtime.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/x509v3.h>

static char *dup_or_null(const char *s)
{
	return s && *s ? strdup(s) : NULL;
}

struct san_acc { Tlswatch__Result *r; int fail; };

static void add_san(const char *san, void *arg)
{
	struct san_acc *a = arg;
	char **n = realloc(a->r->leaf_sans, (a->r->n_leaf_sans + 1) * sizeof *n);
	if (!n) { a->fail = 1; return; }
	a->r->leaf_sans = n;
	if (!(n[a->r->n_leaf_sans] = strdup(san))) { a->fail = 1; return; }
	a->r->n_leaf_sans++;
}

#define SET_D(field, v) do { if ((v) >= 0) { r->has_##field = 1; r->field = (v); } } while (0)

int result_fill(Tlswatch__Result *r, const struct hs_conn *c, const struct classification *cl)
{
	const struct hs_facts *f = handshake_facts(c);
	const struct hs_request *q = handshake_request(c);
	char buf[512];
	int nf = 0;

	tlswatch__result__init(r);
	r->target = strdup(q->host);
	r->port = q->port;
	r->sni = dup_or_null(handshake_sni_sent(c));
	r->address = dup_or_null(f->address);
	r->profile = strdup(q->tc->profile->name);
	r->starttls = q->starttls ? strdup(starttls_name(q->starttls)) : NULL;
	r->has_started_unix_ms = 1;
	r->started_unix_ms = f->started_unix_ms;
	r->outcome = strdup(classify_outcome_name(cl->outcome));
	if (!r->target || !r->profile || !r->outcome)
		return -1;
	if (cl->depth >= 0) { r->has_outcome_depth = 1; r->outcome_depth = cl->depth; }
	r->alert = dup_or_null(cl->reason);

	for (int i = 0; i < FIND__COUNT; i++)
		nf += cl->findings[i];
	if (nf) {
		r->findings = calloc((size_t)nf, sizeof *r->findings);
		if (!r->findings)
			return -1;
		for (int i = 0; i < FIND__COUNT; i++)
			if (cl->findings[i] && !(r->findings[r->n_findings++] = strdup(classify_finding_name(i))))
				return -1;
	}
	if (f->n_verify_errors) {
		r->verify_errors = calloc((size_t)f->n_verify_errors, sizeof *r->verify_errors);
		if (!r->verify_errors)
			return -1;
		for (int i = 0; i < f->n_verify_errors; i++) {
			Tlswatch__VerifyError *v = malloc(sizeof *v);
			if (!v)
				return -1;
			tlswatch__verify_error__init(v);
			v->depth = f->verify_errors[i].depth;
			v->code = f->verify_errors[i].code;
			v->reason = strdup(X509_verify_cert_error_string(v->code));
			r->verify_errors[r->n_verify_errors++] = v;
			if (!v->reason)
				return -1;
		}
	}

	if (f->handshake_done) {
		r->tls_version = strdup(profile_version_name(f->version));
		if (f->cipher) {
			r->cipher = strdup(SSL_CIPHER_get_name(f->cipher));
			r->cipher_iana = dup_or_null(SSL_CIPHER_standard_name(f->cipher));
		}
		r->group = dup_or_null(f->group);
		r->alpn = dup_or_null(f->alpn);
		r->has_ocsp_stapled = 1;
		r->ocsp_stapled = f->ocsp_stapled;
	}
	if (f->handshake_done || f->ocsp_status != OCSP_ST_NONE)
		r->ocsp_status = strdup(ocsp_status_name(f->ocsp_status));
	r->ocsp_error = dup_or_null(ocsp_error_name(f->ocsp_error));
	r->ocsp_source = dup_or_null(f->ocsp_source);
	SET_D(ocsp_responder_ms, f->ocsp_responder_ms);
	if (f->resumed >= 0) {
		r->has_resumed = 1;
		r->resumed = f->resumed == 1;
	}
	SET_D(resume_ms, f->resume_ms);
	r->resume_detail = dup_or_null(f->resume_detail);
	r->aia_detail = dup_or_null(f->aia_detail);
	if (q->revocation & REV_CRL) {
		r->crl_status = strdup(crl_status_name(f->crl.status));
		r->crl_detail = dup_or_null(f->crl.detail);
	}

	if (f->peer_chain && sk_X509_num(f->peer_chain) > 0) {
		X509 *leaf = sk_X509_value(f->peer_chain, 0);
		time_t t;
		r->has_sni_match = cl->sni_match_known;
		r->sni_match = cl->sni_match;
		if (certinfo_not_before(leaf, &t) == 0) { r->has_cert_not_before = 1; r->cert_not_before = t; }
		if (certinfo_not_after(leaf, &t) == 0) { r->has_cert_not_after = 1; r->cert_not_after = t; }
		if (!isnan(cl->days_to_expiry)) { r->has_days_to_expiry = 1; r->days_to_expiry = cl->days_to_expiry; }
		if (cl->chain_not_after_min_depth >= 0) {
			r->has_chain_not_after_min = 1;
			r->chain_not_after_min = cl->chain_not_after_min;
			r->has_chain_not_after_min_depth = 1;
			r->chain_not_after_min_depth = cl->chain_not_after_min_depth;
		}
		r->has_ocsp_responder_named = 1;
		r->ocsp_responder_named = certinfo_names_ocsp(leaf);
		r->has_chain_len = 1;
		r->chain_len = (uint32_t)sk_X509_num(f->peer_chain);
		r->leaf_subject = strdup(certinfo_name(X509_get_subject_name(leaf), buf, sizeof buf));
		r->leaf_issuer = strdup(certinfo_name(X509_get_issuer_name(leaf), buf, sizeof buf));
		certinfo_key(leaf, buf, sizeof buf, NULL);
		r->leaf_key = strdup(buf);
		r->leaf_sig_alg = strdup(certinfo_sig_alg(leaf));
		if (certinfo_fingerprint(leaf, buf, sizeof buf) == 0)
			r->fingerprint_sha256 = strdup(buf);
		struct san_acc acc = { r, 0 };
		certinfo_sans(leaf, add_san, &acc);
		if (acc.fail)
			return -1;
	}
	if (q->tc->has_client_cert && q->tc->client_cert_not_after) {
		r->has_client_cert_not_after = 1;
		r->client_cert_not_after = q->tc->client_cert_not_after;
	}
	SET_D(dns_ms, f->dns_ms);
	SET_D(connect_ms, f->connect_ms);
	SET_D(handshake_ms, f->handshake_ms);
	SET_D(total_ms, f->total_ms);
	return 0;
}

void result_clear(Tlswatch__Result *r)
{
	char **strs[] = { &r->probe_id, &r->region, &r->target, &r->sni, &r->address, &r->profile,
			  &r->starttls, &r->service, &r->outcome, &r->alert, &r->tls_version, &r->cipher,
			  &r->cipher_iana, &r->group, &r->alpn, &r->ocsp_status, &r->ocsp_source,
			  &r->leaf_subject, &r->leaf_issuer, &r->leaf_key, &r->leaf_sig_alg,
			  &r->fingerprint_sha256, &r->ocsp_error, &r->resume_detail, &r->crl_status,
			  &r->crl_detail, &r->aia_detail };
	for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++) {
		free(*strs[i]);
		*strs[i] = NULL;
	}
	for (size_t i = 0; i < r->n_findings; i++)
		free(r->findings[i]);
	free(r->findings);
	for (size_t i = 0; i < r->n_leaf_sans; i++)
		free(r->leaf_sans[i]);
	free(r->leaf_sans);
	for (size_t i = 0; i < r->n_verify_errors; i++) {
		free(r->verify_errors[i]->reason);
		free(r->verify_errors[i]);
	}
	free(r->verify_errors);
	tlswatch__result__init(r);
}

/*
 * Certificate text (names, SANs) is the server's: it need not be UTF-8, and
 * json_string() refuses what is not, which would drop the key or the list
 * entry without a word. Such a string is shown with every non-ASCII byte
 * as '?' instead. NULL only when out of memory.
 */
static json_t *jstr_any(const char *s)
{
	json_t *j = json_string(s);
	if (j)
		return j;
	char *a = strdup(s);
	if (!a)
		return NULL;
	for (char *p = a; *p; p++)
		if ((unsigned char)*p >= 0x80)
			*p = '?';
	j = json_string(a);
	free(a);
	return j;
}

static json_t *jstr(const char *s) { return s ? jstr_any(s) : json_null(); }
static json_t *jtime(int has, int64_t t)
{
	char b[40];
	return has ? json_string(twtime_rfc3339((time_t)t, b, sizeof b)) : json_null();
}
static json_t *jreal(int has, double v)
{
	/* milliseconds with three decimals are plenty and keep lines short */
	return has ? json_real(round(v * 1000.0) / 1000.0) : json_null();
}

json_t *result_to_json(const Tlswatch__Result *r)
{
	json_t *o = json_object();
	json_t *findings = json_array(), *sans = json_array(), *verrs = json_array();
	char b[40];
	if (!o || !findings || !sans || !verrs) {
		json_decref(o); json_decref(findings); json_decref(sans); json_decref(verrs);
		return NULL;
	}
	for (size_t i = 0; i < r->n_findings; i++)
		json_array_append_new(findings, json_string(r->findings[i]));
	for (size_t i = 0; i < r->n_leaf_sans; i++)
		json_array_append_new(sans, jstr_any(r->leaf_sans[i]));
	for (size_t i = 0; i < r->n_verify_errors; i++)
		json_array_append_new(verrs, json_pack("{s:i,s:i,s:s}", "depth", r->verify_errors[i]->depth,
						       "code", r->verify_errors[i]->code,
						       "reason", r->verify_errors[i]->reason));
	json_object_set_new(o, "time", r->has_started_unix_ms
			    ? json_string(twtime_rfc3339_ms(r->started_unix_ms, b, sizeof b)) : json_null());
	if (r->probe_id)
		json_object_set_new(o, "probe_id", json_string(r->probe_id));
	if (r->region)
		json_object_set_new(o, "region", json_string(r->region));
	json_object_set_new(o, "target", json_string(r->target));
	json_object_set_new(o, "host", json_string(r->target));
	json_object_set_new(o, "port", json_integer(r->port));
	json_object_set_new(o, "sni", jstr(r->sni));
	json_object_set_new(o, "address", jstr(r->address));
	json_object_set_new(o, "profile", json_string(r->profile));
	json_object_set_new(o, "starttls", jstr(r->starttls));
	json_object_set_new(o, "outcome", json_string(r->outcome));
	json_object_set_new(o, "outcome_depth", r->has_outcome_depth ? json_integer(r->outcome_depth) : json_null());
	json_object_set_new(o, "findings", findings);
	json_object_set_new(o, "tls_version", jstr(r->tls_version));
	json_object_set_new(o, "cipher", jstr(r->cipher));
	json_object_set_new(o, "cipher_iana", jstr(r->cipher_iana));
	json_object_set_new(o, "group", jstr(r->group));
	json_object_set_new(o, "alpn", jstr(r->alpn));
	json_object_set_new(o, "ocsp_stapled", r->has_ocsp_stapled ? json_boolean(r->ocsp_stapled) : json_null());
	json_object_set_new(o, "ocsp_status", jstr(r->ocsp_status));
	json_object_set_new(o, "ocsp_source", jstr(r->ocsp_source));
	json_object_set_new(o, "ocsp_responder_ms", jreal(r->has_ocsp_responder_ms, r->ocsp_responder_ms));
	json_object_set_new(o, "ocsp_error", jstr(r->ocsp_error));
	json_object_set_new(o, "resumed", r->has_resumed ? json_boolean(r->resumed) : json_null());
	json_object_set_new(o, "resume_ms", jreal(r->has_resume_ms, r->resume_ms));
	json_object_set_new(o, "resume_detail", jstr(r->resume_detail));
	json_object_set_new(o, "crl_status", jstr(r->crl_status));
	json_object_set_new(o, "crl_detail", jstr(r->crl_detail));
	json_object_set_new(o, "aia_detail", jstr(r->aia_detail));
	json_object_set_new(o, "ocsp_responder_named",
			    r->has_ocsp_responder_named ? json_boolean(r->ocsp_responder_named) : json_null());
	json_object_set_new(o, "sni_match", r->has_sni_match ? json_boolean(r->sni_match) : json_null());
	json_object_set_new(o, "cert_not_before", jtime(r->has_cert_not_before, r->cert_not_before));
	json_object_set_new(o, "cert_not_after", jtime(r->has_cert_not_after, r->cert_not_after));
	json_object_set_new(o, "days_to_expiry", jreal(r->has_days_to_expiry, r->days_to_expiry));
	json_object_set_new(o, "chain_not_after_min", jtime(r->has_chain_not_after_min, r->chain_not_after_min));
	json_object_set_new(o, "chain_not_after_min_depth",
			    r->has_chain_not_after_min_depth ? json_integer(r->chain_not_after_min_depth) : json_null());
	json_object_set_new(o, "chain_len", r->has_chain_len ? json_integer(r->chain_len) : json_null());
	json_object_set_new(o, "leaf_subject", jstr(r->leaf_subject));
	json_object_set_new(o, "leaf_sans", sans);
	json_object_set_new(o, "leaf_issuer", jstr(r->leaf_issuer));
	json_object_set_new(o, "leaf_key", jstr(r->leaf_key));
	json_object_set_new(o, "leaf_sig_alg", jstr(r->leaf_sig_alg));
	json_object_set_new(o, "fingerprint_sha256", jstr(r->fingerprint_sha256));
	json_object_set_new(o, "client_cert_not_after", jtime(r->has_client_cert_not_after, r->client_cert_not_after));
	json_object_set_new(o, "verify_errors", verrs);
	json_object_set_new(o, "alert", jstr(r->alert));
	json_object_set_new(o, "dns_ms", jreal(r->has_dns_ms, r->dns_ms));
	json_object_set_new(o, "connect_ms", jreal(r->has_connect_ms, r->connect_ms));
	json_object_set_new(o, "handshake_ms", jreal(r->has_handshake_ms, r->handshake_ms));
	json_object_set_new(o, "total_ms", jreal(r->has_total_ms, r->total_ms));
	return o;
}
