/*
 * aia_fetch.c - see aia_fetch.h.
 *
 * A check is a loop of rounds run from its own event (step()): find the
 * certificate whose issuer is missing, take the first of its http://
 * caIssuers URLs this check has not fetched yet, get the URL's answer from
 * the cache (fetching it, or waiting for the fetch another check started),
 * add the certificates it holds to the untrusted set and verify again. It
 * ends when nothing is missing any more, when a fetch fails (the reason,
 * naming the URL, goes to the facts), when an answer brings nothing new or
 * the certificate names only URLs already fetched (a loop), or after
 * AIA_MAX_ROUNDS. Whatever it ends with, the facts hold the last
 * verification's errors and chain, so classify.c judges what the client
 * would have seen.
 */
#include "aia_fetch.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/pkcs7.h>
#include <openssl/x509v3.h>

#include "http_fetch.h"

/* ---- the cache -------------------------------------------------------- */

struct aia_entry {
	char *url;
	bool done;                     /* answered: certs, or why */
	STACK_OF(X509) *certs;         /* what a good answer held (owned) */
	char why[200];                 /* why there are none */
	struct http_fetch *fetch;      /* in flight; freed after its callback */
	struct aia_check *waiters;     /* checks waiting for the answer */
};

struct aia_cache {
	struct event_base *base;
	struct evdns_base *dns;
	double timeout_ms;
	struct aia_entry *entries[AIA_CACHE_MAX];
	int n;
};

struct aia_check {
	struct aia_cache *cache;
	bool own_cache;
	struct aia_verify *v;          /* owned: the handshake's verification */
	struct hs_facts *f;            /* borrowed */
	STACK_OF(X509) *untrusted;     /* served chain + fetched (references) */
	STACK_OF(X509) *fetched;       /* what caIssuers gave (references) */
	char *tried[AIA_MAX_ROUNDS];   /* URLs fetched, in order (owned) */
	bool used[AIA_MAX_ROUNDS];     /* tried[i] brought certificates verified with */
	int rounds;
	struct aia_entry *waiting;     /* the entry whose answer is awaited */
	struct aia_check *next_waiter; /* in waiting->waiters */
	struct event *step_ev;
	char why[200];                 /* why the chain stays incomplete, "" none */
	aia_check_cb cb;
	void *arg;
	bool done;
};

static void entry_free(struct aia_entry *e)
{
	if (!e)
		return;
	http_fetch_free(e->fetch);
	sk_X509_pop_free(e->certs, X509_free);
	free(e->url);
	free(e);
}

struct aia_cache *aia_cache_new(struct event_base *base, struct evdns_base *dns, double timeout_ms)
{
	struct aia_cache *c = calloc(1, sizeof *c);
	if (!c)
		return NULL;
	c->base = base;
	c->dns = dns;
	c->timeout_ms = timeout_ms;
	return c;
}

void aia_cache_free(struct aia_cache *c)
{
	if (!c)
		return;
	for (int i = 0; i < c->n; i++)
		entry_free(c->entries[i]);
	free(c);
}

/* A reference of x appended to sk; false (nothing taken) on failure. */
static bool push_ref(STACK_OF(X509) *sk, X509 *x)
{
	if (X509_up_ref(x) != 1)
		return false;
	if (sk_X509_push(sk, x) <= 0) {
		X509_free(x);
		return false;
	}
	return true;
}

/* Every certificate of a caIssuers answer: DER or PEM certificate(s), or a
 * certs-only PKCS#7 in DER or PEM (.p7c). NULL when it holds none. */
static STACK_OF(X509) *parse_certs(const unsigned char *body, size_t n)
{
	STACK_OF(X509) *out = sk_X509_new_null();
	const unsigned char *p = body;
	X509 *x;
	PKCS7 *p7 = NULL;
	BIO *b = NULL;

	if (!out || n > AIA_MAX_BYTES)
		goto fail;
	if ((x = d2i_X509(NULL, &p, (long)n)) != NULL) {
		if (p == body + n && sk_X509_push(out, x) > 0)
			goto out;
		X509_free(x);            /* trailing bytes: not one DER certificate */
		goto fail;
	}
	p = body;
	p7 = d2i_PKCS7(NULL, &p, (long)n);
	if (!p7) {
		b = BIO_new_mem_buf(body, (int)n);
		while (b && sk_X509_num(out) < AIA_MAX_CERTS &&
		       (x = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL)
			if (sk_X509_push(out, x) <= 0) {
				X509_free(x);
				goto fail;
			}
		if (sk_X509_num(out) > 0)
			goto out;
		BIO_free(b);
		b = BIO_new_mem_buf(body, (int)n);
		p7 = b ? PEM_read_bio_PKCS7(b, NULL, NULL, NULL) : NULL;
	}
	if (p7 && PKCS7_type_is_signed(p7) && p7->d.sign) {
		STACK_OF(X509) *in = p7->d.sign->cert;
		for (int i = 0; i < sk_X509_num(in) && sk_X509_num(out) < AIA_MAX_CERTS; i++)
			if (!push_ref(out, sk_X509_value(in, i)))
				goto fail;
	}
	if (sk_X509_num(out) > 0)
		goto out;
fail:
	sk_X509_pop_free(out, X509_free);
	out = NULL;
out:
	PKCS7_free(p7);
	BIO_free(b);
	ERR_clear_error();
	return out;
}

static void wake_waiters(struct aia_entry *e)
{
	for (struct aia_check *w = e->waiters; w; w = w->next_waiter)
		event_active(w->step_ev, EV_TIMEOUT, 0);
	e->waiters = NULL;
}

/* http_fetch_cb: the entry's answer; its waiters go on from the loop. */
static void on_fetched(const unsigned char *body, size_t n, const char *why, void *arg)
{
	struct aia_entry *e = arg;
	if (e->done)
		return;
	e->done = true;
	if (!body)
		snprintf(e->why, sizeof e->why, "%s", why ? why : "no answer");
	else if (!(e->certs = parse_certs(body, n)))
		snprintf(e->why, sizeof e->why, "not a certificate (DER, PEM or PKCS#7), %zu bytes", n);
	wake_waiters(e);
}

/* The entry for url: known, or new with its fetch started (an entry that
 * cannot fetch is answered at once with why). NULL: out of memory, or the
 * cache is full. */
static struct aia_entry *cache_get(struct aia_cache *c, const char *url)
{
	for (int i = 0; i < c->n; i++) {
		struct aia_entry *e = c->entries[i];
		if (e->done && e->fetch) {   /* its callback is over: release */
			http_fetch_free(e->fetch);
			e->fetch = NULL;
		}
		if (strcmp(e->url, url) == 0)
			return e;
	}
	if (c->n == AIA_CACHE_MAX)
		return NULL;
	struct aia_entry *e = calloc(1, sizeof *e);
	if (!e || !(e->url = strdup(url))) {
		free(e);
		return NULL;
	}
	c->entries[c->n++] = e;
	char err[200];
	e->fetch = http_fetch_start(c->base, c->dns, url, "caIssuers", NULL, AIA_MAX_BYTES,
				    c->timeout_ms, on_fetched, e, err, sizeof err);
	if (!e->fetch) {
		e->done = true;
		snprintf(e->why, sizeof e->why, "%s", err);
	}
	return e;
}

/* ---- what a verification says ------------------------------------------ */

static bool issuer_missing(int code)
{
	return code == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT ||
	       code == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY ||
	       code == X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE;
}

/* The depth of the certificate whose issuer is missing, -1 none: where
 * chain building stopped (21, the leaf's own signature, means depth 0). */
static int missing_depth(const struct hs_facts *f)
{
	int d = -1;
	for (int i = 0; i < f->n_verify_errors; i++) {
		int code = f->verify_errors[i].code;
		int depth = code == X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE ? 0 : f->verify_errors[i].depth;
		if (issuer_missing(code) && (d < 0 || depth > d))
			d = depth;
	}
	return d;
}

bool aia_fetch_wanted(const struct profile *p, const struct hs_facts *f)
{
	return p && p->fetches_ca_issuers && f->handshake_done && f->failed_phase == PH_NONE &&
	       f->peer_chain && sk_X509_num(f->peer_chain) > 0 && missing_depth(f) >= 0;
}

struct aia_verify {
	X509_VERIFY_PARAM *param;
	X509_STORE *store;             /* a reference */
};

void aia_fetch_verify_free(struct aia_verify *v)
{
	if (!v)
		return;
	X509_VERIFY_PARAM_free(v->param);
	X509_STORE_free(v->store);
	free(v);
}

struct aia_verify *aia_fetch_verify_of(SSL *ssl)
{
	struct aia_verify *v = calloc(1, sizeof *v);
	X509_STORE *st = NULL;
	if (!v)
		return NULL;
	/* the store ssl_verify_cert_chain() takes: the SSL's verify store,
	 * else its context's */
	SSL_get0_verify_cert_store(ssl, &st);
	if (!st)
		st = SSL_CTX_get_cert_store(SSL_get_SSL_CTX(ssl));
	v->param = X509_VERIFY_PARAM_new();
	/* the reference last: a failure before it holds none */
	if (!st || !v->param || X509_VERIFY_PARAM_set1(v->param, SSL_get0_param(ssl)) != 1 ||
	    X509_STORE_up_ref(st) != 1) {
		aia_fetch_verify_free(v);
		ERR_clear_error();
		return NULL;
	}
	v->store = st;
	/* what ssl_verify_cert_chain() adds to the SSL's own parameters */
	X509_VERIFY_PARAM_set_auth_level(v->param, SSL_get_security_level(ssl));
	return v;
}

/* A URL we fetch and print: visible ASCII only (it is the server's text). */
static bool printable(const char *s, int len)
{
	for (int i = 0; i < len; i++)
		if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
			return false;
	return true;
}

/* The http:// caIssuers URLs of x (at most max), heap copies; the count. */
static int ca_issuers_urls(X509 *x, char **out, int max)
{
	AUTHORITY_INFO_ACCESS *aia = X509_get_ext_d2i(x, NID_info_access, NULL, NULL);
	int n = 0;
	for (int i = 0; aia && n < max && i < sk_ACCESS_DESCRIPTION_num(aia); i++) {
		ACCESS_DESCRIPTION *ad = sk_ACCESS_DESCRIPTION_value(aia, i);
		if (OBJ_obj2nid(ad->method) != NID_ad_ca_issuers || ad->location->type != GEN_URI)
			continue;
		const ASN1_IA5STRING *u = ad->location->d.uniformResourceIdentifier;
		const char *s = (const char *)ASN1_STRING_get0_data(u);
		int len = ASN1_STRING_length(u);
		/* clients fetch caIssuers over plain http only (RFC 5280 4.2.2.1) */
		if (len > 7 && len < 1024 && strncmp(s, "http://", 7) == 0 && printable(s, len) &&
		    (out[n] = strndup(s, (size_t)len)) != NULL)
			n++;
	}
	AUTHORITY_INFO_ACCESS_free(aia);
	ERR_clear_error();
	return n;
}

/* ---- one check ---------------------------------------------------------- */

static int record_cb(int ok, X509_STORE_CTX *xs)
{
	struct hs_facts *f = X509_STORE_CTX_get_app_data(xs);
	if (ok || !f)
		return 1;
	int depth = X509_STORE_CTX_get_error_depth(xs), code = X509_STORE_CTX_get_error(xs);
	for (int i = 0; i < f->n_verify_errors; i++)
		if (f->verify_errors[i].depth == depth && f->verify_errors[i].code == code)
			return 1;
	if (f->n_verify_errors < HS_MAX_VERIFY_ERRORS) {
		f->verify_errors[f->n_verify_errors].depth = depth;
		f->verify_errors[f->n_verify_errors].code = code;
		f->n_verify_errors++;
	}
	return 1;   /* like the handshake: record every error, never stop */
}

/* Verifies the leaf again over the untrusted set; the facts get this
 * verification's errors and chain. -1 (facts untouched) out of memory. */
static int reverify(struct aia_check *k)
{
	X509 *leaf = sk_X509_value(k->f->peer_chain, 0);
	X509_STORE_CTX *xs = X509_STORE_CTX_new();
	int rc = -1;

	if (!xs || X509_STORE_CTX_init(xs, k->v->store, leaf, k->untrusted) != 1)
		goto out;
	/* the order ssl_verify_cert_chain() uses: defaults, then the SSL's */
	if (X509_STORE_CTX_set_default(xs, "ssl_server") != 1 ||
	    X509_VERIFY_PARAM_set1(X509_STORE_CTX_get0_param(xs), k->v->param) != 1)
		goto out;
	X509_STORE_CTX_set_verify_cb(xs, record_cb);
	if (X509_STORE_CTX_set_app_data(xs, k->f) != 1)
		goto out;
	k->f->n_verify_errors = 0;
	(void)X509_verify_cert(xs);
	STACK_OF(X509) *chain = X509_STORE_CTX_get1_chain(xs);
	if (chain) {
		sk_X509_pop_free(k->f->verified_chain, X509_free);
		k->f->verified_chain = chain;
	}
	rc = 0;
out:
	X509_STORE_CTX_free(xs);
	ERR_clear_error();
	return rc;
}

static void note(struct aia_check *k, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Why the chain stays incomplete (the first reason is kept). */
static void note(struct aia_check *k, const char *fmt, ...)
{
	va_list ap;
	if (k->why[0])
		return;
	va_start(ap, fmt);
	vsnprintf(k->why, sizeof k->why, fmt, ap);
	va_end(ap);
}

static bool in_stack(STACK_OF(X509) *sk, X509 *x)
{
	for (int i = 0; i < sk_X509_num(sk); i++)
		if (X509_cmp(sk_X509_value(sk, i), x) == 0)
			return true;
	return false;
}

/* An answered entry: its certificates join the untrusted set and the
 * chain is verified again. false when the check cannot go on. */
static bool use_entry(struct aia_check *k, struct aia_entry *e)
{
	if (!e->certs) {
		note(k, "caIssuers %s: %s", e->url, e->why);
		return false;
	}
	int added = 0;
	for (int i = 0; i < sk_X509_num(e->certs); i++) {
		X509 *x = sk_X509_value(e->certs, i);
		if (in_stack(k->untrusted, x))
			continue;
		if (!push_ref(k->untrusted, x) || !push_ref(k->fetched, x)) {
			note(k, "caIssuers %s: out of memory", e->url);
			return false;
		}
		added++;
	}
	if (!added) {
		note(k, "caIssuers %s: no certificate the chain does not have already", e->url);
		return false;
	}
	if (reverify(k) != 0) {
		note(k, "caIssuers %s: out of memory verifying again", e->url);
		return false;
	}
	k->used[k->rounds - 1] = true;
	return true;
}

/* The end: the facts say what was fetched and why the chain stays
 * incomplete, if it does; then the callback. */
static void finish(struct aia_check *k)
{
	struct hs_facts *f = k->f;
	size_t o = 0;

	k->done = true;
	f->aia_used = 0;
	for (int i = 0; f->verified_chain && i < sk_X509_num(f->verified_chain); i++)
		if (in_stack(k->fetched, sk_X509_value(f->verified_chain, i)))
			f->aia_used++;
	if (missing_depth(f) >= 0) {
		f->aia_failed = true;
		note(k, "stopped after %d caIssuers fetches", k->rounds);
	}
	f->aia_detail[0] = '\0';
	for (int i = 0; i < k->rounds && o < sizeof f->aia_detail; i++) {
		if (!k->used[i])
			continue;
		int w = snprintf(f->aia_detail + o, sizeof f->aia_detail - o, "%s%s", o ? ", " : "fetched ",
				 k->tried[i]);
		o += w > 0 ? (size_t)w : 0;
	}
	if (k->why[0] && o < sizeof f->aia_detail)
		snprintf(f->aia_detail + o, sizeof f->aia_detail - o, "%s%s", o ? "; " : "", k->why);
	k->cb(k->arg);
}

static bool tried(const struct aia_check *k, const char *url)
{
	for (int i = 0; i < k->rounds; i++)
		if (strcmp(k->tried[i], url) == 0)
			return true;
	return false;
}

/* The next URL for the certificate whose issuer is missing, owned by the
 * check from here; NULL (why noted) when there is none to fetch. */
static char *next_url(struct aia_check *k, int depth)
{
	STACK_OF(X509) *ch = k->f->verified_chain && depth < sk_X509_num(k->f->verified_chain)
		? k->f->verified_chain : k->f->peer_chain;
	X509 *x = depth < sk_X509_num(ch) ? sk_X509_value(ch, depth) : NULL;
	char *urls[4] = { NULL }, *pick = NULL;
	int n = x ? ca_issuers_urls(x, urls, 4) : 0;

	for (int i = 0; i < n && !pick; i++)
		if (!tried(k, urls[i]))
			pick = urls[i];
	if (pick && k->rounds == AIA_MAX_ROUNDS) {
		note(k, "depth %d: %s not fetched: %d caIssuers URLs fetched already", depth, pick,
		     AIA_MAX_ROUNDS);
		pick = NULL;
	} else if (!pick && n) {
		/* a loop of URLs, or an answer that is not the issuer */
		note(k, "depth %d: issuer still missing after fetching its caIssuers %s", depth, urls[0]);
	} else if (!pick) {
		note(k, "depth %d: names no http caIssuers URL", depth);
	}
	for (int i = 0; i < n; i++)
		if (urls[i] != pick)
			free(urls[i]);
	return pick;
}

/* The check's one re-entry function: from its own event, at the start and
 * whenever an awaited answer arrives. */
static void step(struct aia_check *k)
{
	if (k->done)
		return;
	if (k->waiting) {
		struct aia_entry *e = k->waiting;
		if (!e->done)
			return;          /* woken before the answer: keep waiting */
		k->waiting = NULL;
		if (!use_entry(k, e)) {
			finish(k);
			return;
		}
	}
	for (;;) {
		int depth = missing_depth(k->f);
		if (depth < 0) {
			finish(k);
			return;
		}
		char *url = next_url(k, depth);
		if (!url) {
			finish(k);
			return;
		}
		k->tried[k->rounds++] = url;
		struct aia_entry *e = cache_get(k->cache, url);
		if (!e) {
			note(k, "caIssuers %s: not fetched (out of memory, or over %d URLs in one check)",
			     url, AIA_CACHE_MAX);
			finish(k);
			return;
		}
		if (!e->done) {
			k->waiting = e;
			k->next_waiter = e->waiters;
			e->waiters = k;
			return;
		}
		if (!use_entry(k, e)) {
			finish(k);
			return;
		}
	}
}

static void on_step(evutil_socket_t fd, short what, void *arg)
{
	(void)fd; (void)what;
	step(arg);
}

struct aia_check *aia_check_start(struct event_base *base, struct evdns_base *dns,
				  struct aia_cache *cache, struct aia_verify *v, struct hs_facts *f,
				  double timeout_ms, aia_check_cb cb, void *arg)
{
	struct aia_check *k = calloc(1, sizeof *k);
	if (!k) {
		aia_fetch_verify_free(v);
		return NULL;
	}
	k->v = v;
	k->f = f;
	k->cb = cb;
	k->arg = arg;
	k->cache = cache;
	if (!k->cache) {
		k->cache = aia_cache_new(base, dns, timeout_ms);
		k->own_cache = true;
	}
	k->untrusted = X509_chain_up_ref(f->peer_chain);
	k->fetched = sk_X509_new_null();
	k->step_ev = event_new(base, -1, 0, on_step, k);
	if (!k->cache || !k->untrusted || !k->fetched || !k->step_ev) {
		aia_check_free(k);
		return NULL;
	}
	event_active(k->step_ev, EV_TIMEOUT, 0);
	return k;
}

void aia_check_free(struct aia_check *k)
{
	if (!k)
		return;
	if (k->waiting) {            /* leave the entry's waiters */
		for (struct aia_check **pp = &k->waiting->waiters; *pp; pp = &(*pp)->next_waiter)
			if (*pp == k) {
				*pp = k->next_waiter;
				break;
			}
	}
	if (k->step_ev)
		event_free(k->step_ev);
	if (k->own_cache)
		aia_cache_free(k->cache);
	for (int i = 0; i < k->rounds; i++)
		free(k->tried[i]);
	sk_X509_pop_free(k->untrusted, X509_free);
	sk_X509_pop_free(k->fetched, X509_free);
	aia_fetch_verify_free(k->v);
	free(k);
}
