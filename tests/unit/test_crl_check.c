/*
 * test_crl_check.c - probe/crl_check.c against a real HTTP server on
 * loopback (libevent's evhttp in this process) and a CA, leaf and CRLs made
 * in memory: a current CRL is fetched once and then served from the cache
 * until its nextUpdate, a stale one is never cached, a body over
 * CRL_MAX_BYTES is an unreachable CRL, and a CRL that lists the leaf
 * revokes it. The end-to-end cases (served CRLs, wrong signer, ocsp,crl)
 * are in tests/integration/test_check_signals.c.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "crl_check.h"

static struct event_base *base;
static struct evhttp *http;
static int port;
static EVP_PKEY *ca_key;
static X509 *ca, *leaf;
static STACK_OF(X509) *chain;
static unsigned char *crl_der;   /* what /ca.crl serves */
static int crl_len;
static int requests;

static void serve(struct evhttp_request *req, void *arg)
{
	const char *path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));
	struct evbuffer *b = evbuffer_new();
	(void)arg;
	cr_assert_not_null(b);
	requests++;
	if (strcmp(path, "/ca.crl") == 0) {
		cr_assert_eq(evbuffer_add(b, crl_der, (size_t)crl_len), 0);
	} else {
		size_t n = CRL_MAX_BYTES + 1;
		unsigned char *body = calloc(1, n);
		cr_assert_not_null(body);
		cr_assert_eq(evbuffer_add(b, body, n), 0);
		free(body);
	}
	evhttp_send_reply(req, 200, "OK", b);
	evbuffer_free(b);
}

static X509 *cert(const char *cn, EVP_PKEY *key, const char *cdp, bool is_ca)
{
	X509 *x = X509_new();
	X509V3_CTX ctx;
	cr_assert_not_null(x);
	cr_assert_eq(X509_set_version(x, X509_VERSION_3), 1);
	cr_assert_eq(ASN1_INTEGER_set(X509_get_serialNumber(x), is_ca ? 1 : 4242), 1);
	X509_NAME *n = X509_get_subject_name(x);
	cr_assert_eq(X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)cn,
						-1, -1, 0), 1);
	cr_assert_eq(X509_set_issuer_name(x, X509_get_subject_name(is_ca ? x : ca)), 1);
	cr_assert_not_null(X509_gmtime_adj(X509_getm_notBefore(x), -3600));
	cr_assert_not_null(X509_gmtime_adj(X509_getm_notAfter(x), 86400));
	cr_assert_eq(X509_set_pubkey(x, key), 1);
	X509V3_set_ctx(&ctx, is_ca ? x : ca, x, NULL, NULL, 0);
	X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, &ctx, NID_basic_constraints,
						is_ca ? "critical,CA:TRUE" : "critical,CA:FALSE");
	cr_assert_not_null(e);
	cr_assert_eq(X509_add_ext(x, e, -1), 1);
	X509_EXTENSION_free(e);
	if (cdp) {
		e = X509V3_EXT_conf_nid(NULL, &ctx, NID_crl_distribution_points, cdp);
		cr_assert_not_null(e, "%s", cdp);
		cr_assert_eq(X509_add_ext(x, e, -1), 1);
		X509_EXTENSION_free(e);
	}
	cr_assert_gt(X509_sign(x, ca_key, EVP_sha256()), 0);
	return x;
}

/* The CA's CRL, last and next update `last` and `next` seconds from now; lists
 * the leaf when revoke. */
static void make_crl(long last, long next, bool revoke)
{
	X509_CRL *crl = X509_CRL_new();
	cr_assert_not_null(crl);
	cr_assert_eq(X509_CRL_set_version(crl, 1), 1);
	cr_assert_eq(X509_CRL_set_issuer_name(crl, X509_get_subject_name(ca)), 1);
	ASN1_TIME *t = X509_gmtime_adj(NULL, last);
	cr_assert_eq(X509_CRL_set1_lastUpdate(crl, t), 1);
	cr_assert_not_null(X509_gmtime_adj(t, next));
	cr_assert_eq(X509_CRL_set1_nextUpdate(crl, t), 1);
	if (revoke) {
		X509_REVOKED *r = X509_REVOKED_new();
		cr_assert_not_null(r);
		cr_assert_eq(X509_REVOKED_set_serialNumber(r, X509_get_serialNumber(leaf)), 1);
		cr_assert_eq(X509_REVOKED_set_revocationDate(r, t), 1);
		cr_assert_eq(X509_CRL_add0_revoked(crl, r), 1);
	}
	ASN1_TIME_free(t);
	cr_assert_gt(X509_CRL_sign(crl, ca_key, EVP_sha256()), 0);
	OPENSSL_free(crl_der);
	crl_der = NULL;
	crl_len = i2d_X509_CRL(crl, &crl_der);
	cr_assert_gt(crl_len, 0);
	X509_CRL_free(crl);
}

static void setup_path(const char *path)
{
	char cdp[128];
	snprintf(cdp, sizeof cdp, "URI:http://127.0.0.1:%d%s", port, path);
	if (leaf)
		X509_free(leaf);
	EVP_PKEY *k = EVP_EC_gen("P-256");
	cr_assert_not_null(k);
	leaf = cert("leaf.test", k, cdp, false);
	EVP_PKEY_free(k);
	if (chain)
		sk_X509_free(chain);
	chain = sk_X509_new_null();
	cr_assert_not_null(chain);
	cr_assert_gt(sk_X509_push(chain, leaf), 0);
	cr_assert_gt(sk_X509_push(chain, ca), 0);
}

static void setup(void)
{
	base = event_base_new();
	cr_assert_not_null(base);
	http = evhttp_new(base);
	cr_assert_not_null(http);
	evhttp_set_gencb(http, serve, NULL);
	struct evhttp_bound_socket *bs = evhttp_bind_socket_with_handle(http, "127.0.0.1", 0);
	cr_assert_not_null(bs);
	struct sockaddr_in sa;
	socklen_t len = sizeof sa;
	cr_assert_eq(getsockname(evhttp_bound_socket_get_fd(bs), (struct sockaddr *)&sa, &len), 0);
	port = ntohs(sa.sin_port);
	ca_key = EVP_EC_gen("P-256");
	cr_assert_not_null(ca_key);
	ca = cert("crl test CA", ca_key, NULL, true);
	leaf = NULL;
	chain = NULL;
	requests = 0;
	crl_check_cache_clear();
	setup_path("/ca.crl");
}

static void teardown(void)
{
	crl_check_cache_clear();
	sk_X509_free(chain);
	X509_free(leaf);
	X509_free(ca);
	EVP_PKEY_free(ca_key);
	OPENSSL_free(crl_der);
	crl_der = NULL;
	if (http)
		evhttp_free(http);
	if (base)
		event_base_free(base);
}

TestSuite(crl_check, .init = setup, .fini = teardown, .timeout = 20);

static void on_verdict(const struct crl_verdict *v, void *arg)
{
	*(struct crl_verdict *)arg = *v;
	event_base_loopbreak(base);
}

static struct crl_verdict check(void)
{
	struct crl_verdict v = { .status = (enum crl_status)-1 };
	struct crl_check *k = crl_check_start(base, NULL, chain, 5000, time(NULL), on_verdict, &v);
	cr_assert_not_null(k);
	cr_assert_eq(event_base_dispatch(base), 0);
	crl_check_free(k);
	cr_assert_neq((int)v.status, -1, "no verdict");
	return v;
}

Test(crl_check, current_crl_is_fetched_once_then_cached)
{
	make_crl(-60, 7 * 86400, false);
	struct crl_verdict v = check();
	cr_assert_eq(v.status, CRL_ST_GOOD, "%s", v.detail);
	cr_assert_eq(requests, 1);
	v = check();
	cr_assert_eq(v.status, CRL_ST_GOOD, "%s", v.detail);
	cr_assert_eq(requests, 1, "the cached CRL was fetched again");
	crl_check_cache_clear();
	v = check();
	cr_assert_eq(requests, 2);
}

Test(crl_check, stale_crl_is_reported_and_not_cached)
{
	make_crl(-10 * 86400, -3 * 86400, false);   /* next update 3 days ago */
	struct crl_verdict v = check();
	cr_assert_eq(v.status, CRL_ST_UNAVAILABLE);
	cr_assert(v.stale && !v.unreachable && !v.invalid);
	cr_assert(strstr(v.detail, "stale"), "%s", v.detail);
	(void)check();
	cr_assert_eq(requests, 2, "a stale CRL was served from the cache");
}

Test(crl_check, listed_leaf_is_revoked_at_depth_0)
{
	make_crl(-60, 86400, true);
	struct crl_verdict v = check();
	cr_assert_eq(v.status, CRL_ST_REVOKED, "%s", v.detail);
	cr_assert_eq(v.depth, 0);
}

Test(crl_check, body_over_the_cap_is_unreachable)
{
	setup_path("/big.crl");
	struct crl_verdict v = check();
	cr_assert_eq(v.status, CRL_ST_UNAVAILABLE);
	cr_assert(v.unreachable, "%s", v.detail);
	cr_assert(strstr(v.detail, "larger than"), "%s", v.detail);
}

Test(crl_check, chain_without_distribution_points_is_none)
{
	sk_X509_free(chain);
	chain = sk_X509_new_null();
	cr_assert_not_null(chain);
	cr_assert_gt(sk_X509_push(chain, ca), 0);
	struct crl_verdict v = check();
	cr_assert_eq(v.status, CRL_ST_NONE);
	cr_assert_eq(requests, 0);
}
