/*
 * crl_check.c - see crl_check.h.
 *
 * One check walks the chain from the leaf up, one certificate at a time:
 * its first http:// distribution point is looked up in the cache, fetched
 * when absent or past its nextUpdate (HTTP GET by the common fetcher,
 * http_fetch.h, the body capped), then verified: issued under the name of
 * the certificate's issuer in the chain and signed by its key, thisUpdate
 * not in the future and nextUpdate not past (five minutes of skew either
 * way). A CRL that lists the certificate wins over everything else: a
 * revoked certificate stays revoked even on a stale CRL. Only verified,
 * current CRLs are cached.
 */
#include "crl_check.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "http_fetch.h"

#define CRL_SKEW_SEC 300

/* ---- the cache -------------------------------------------------------- */

struct crl_entry {
	char *url;
	X509_CRL *crl;
	time_t next_update;
	time_t used;         /* for eviction: the least recently used goes */
};

static struct crl_entry cache[CRL_CACHE_MAX];

void crl_check_cache_clear(void)
{
	for (int i = 0; i < CRL_CACHE_MAX; i++) {
		free(cache[i].url);
		X509_CRL_free(cache[i].crl);
		memset(&cache[i], 0, sizeof cache[i]);
	}
}

static X509_CRL *cache_get(const char *url, time_t now)
{
	for (int i = 0; i < CRL_CACHE_MAX; i++)
		if (cache[i].url && strcmp(cache[i].url, url) == 0) {
			if (now >= cache[i].next_update)
				return NULL;   /* due: fetch again */
			cache[i].used = now;
			return cache[i].crl;
		}
	return NULL;
}

/* Takes a reference of crl. A failure to allocate only costs a refetch. */
static void cache_put(const char *url, X509_CRL *crl, time_t next_update, time_t now)
{
	int slot = -1;
	for (int i = 0; i < CRL_CACHE_MAX && slot < 0; i++)
		if (cache[i].url && strcmp(cache[i].url, url) == 0)
			slot = i;
	for (int i = 0; i < CRL_CACHE_MAX && slot < 0; i++)
		if (!cache[i].url)
			slot = i;
	if (slot < 0) {
		slot = 0;
		for (int i = 1; i < CRL_CACHE_MAX; i++)
			if (cache[i].used < cache[slot].used)
				slot = i;
	}
	char *u = strdup(url);
	if (!u || X509_CRL_up_ref(crl) != 1) {
		free(u);
		return;
	}
	free(cache[slot].url);
	X509_CRL_free(cache[slot].crl);
	cache[slot] = (struct crl_entry){ u, crl, next_update, now };
}

/* ---- one check -------------------------------------------------------- */

struct crl_check {
	struct event_base *base;
	struct evdns_base *dns;
	STACK_OF(X509) *chain;
	double timeout_ms;
	time_t now;
	crl_check_cb cb;
	void *arg;
	int next;                      /* the next certificate to check */
	int checked;                   /* certificates that named a CRL */
	struct crl_verdict v;
	struct event *step_ev;         /* runs step() from the loop */
	struct http_fetch *fetch;      /* in flight, or finished and freed by the next step */
	char *url;                     /* of that fetch */
	bool done;
};

const char *crl_status_name(enum crl_status s)
{
	static const char *const names[] = { "none", "good", "revoked", "unavailable" };
	return (unsigned)s < sizeof names / sizeof names[0] ? names[s] : "none";
}

/* The first http:// URI of the distribution points, heap copy, or NULL. */
static char *crl_url(X509 *x)
{
	STACK_OF(DIST_POINT) *dps = X509_get_ext_d2i(x, NID_crl_distribution_points, NULL, NULL);
	char *out = NULL;
	for (int i = 0; dps && !out && i < sk_DIST_POINT_num(dps); i++) {
		DIST_POINT *dp = sk_DIST_POINT_value(dps, i);
		if (!dp->distpoint || dp->distpoint->type != 0)
			continue;
		GENERAL_NAMES *names = dp->distpoint->name.fullname;
		for (int j = 0; !out && j < sk_GENERAL_NAME_num(names); j++) {
			GENERAL_NAME *gn = sk_GENERAL_NAME_value(names, j);
			if (gn->type != GEN_URI)
				continue;
			const char *s = (const char *)ASN1_STRING_get0_data(gn->d.uniformResourceIdentifier);
			int len = ASN1_STRING_length(gn->d.uniformResourceIdentifier);
			if (len > 7 && strncmp(s, "http://", 7) == 0 && (size_t)len == strlen(s))
				out = strdup(s);
		}
	}
	sk_DIST_POINT_pop_free(dps, DIST_POINT_free);
	return out;
}

static void note(struct crl_check *k, int depth, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Keeps the first problem's words (a revocation replaces them). */
static void note(struct crl_check *k, int depth, const char *fmt, ...)
{
	va_list ap;
	if (k->v.detail[0])
		return;
	int n = snprintf(k->v.detail, sizeof k->v.detail, "depth %d: ", depth);
	va_start(ap, fmt);
	vsnprintf(k->v.detail + n, sizeof k->v.detail - (size_t)n, fmt, ap);
	va_end(ap);
}

/* Verifies crl for chain[k->next] and records what it says. Returns true
 * when the CRL may be cached (verified and current). */
static bool judge(struct crl_check *k, X509_CRL *crl, const char *url)
{
	int d = k->next;
	X509 *x = sk_X509_value(k->chain, d), *issuer = sk_X509_value(k->chain, d + 1);
	X509_REVOKED *rev = NULL;

	if (X509_NAME_cmp(X509_CRL_get_issuer(crl), X509_get_subject_name(issuer)) != 0) {
		k->v.invalid = true;
		note(k, d, "CRL %s is not issued by the certificate's issuer", url);
		return false;
	}
	EVP_PKEY *pk = X509_get0_pubkey(issuer);
	if (!pk || X509_CRL_verify(crl, pk) != 1) {
		ERR_clear_error();
		k->v.invalid = true;
		note(k, d, "CRL %s: signature does not verify with the issuer's key", url);
		return false;
	}
	/* listed: revoked, whatever the CRL's age */
	if (X509_CRL_get0_by_cert(crl, &rev, x) == 1) {
		k->v.status = CRL_ST_REVOKED;
		k->v.depth = d;
		k->v.detail[0] = '\0';
		note(k, d, "certificate listed in CRL %s", url);
	}
	time_t late = k->now - CRL_SKEW_SEC, early = k->now + CRL_SKEW_SEC;
	const ASN1_TIME *nu = X509_CRL_get0_nextUpdate(crl), *lu = X509_CRL_get0_lastUpdate(crl);
	if (lu && X509_cmp_time(lu, &early) > 0) {
		k->v.invalid = true;
		note(k, d, "CRL %s: thisUpdate is in the future", url);
		return false;
	}
	if (nu && X509_cmp_time(nu, &late) < 0) {
		k->v.stale = true;
		note(k, d, "CRL %s is stale (nextUpdate in the past)", url);
		return false;
	}
	return true;
}

static void step(struct crl_check *k);

static void on_step(evutil_socket_t fd, short what, void *arg)
{
	(void)fd; (void)what;
	step(arg);
}

/* The finished fetch's connection: freed from the next step, never inside
 * its own callback (libevent would use it after). */
static void fetch_release(struct crl_check *k)
{
	http_fetch_free(k->fetch);
	k->fetch = NULL;
	free(k->url);
	k->url = NULL;
}

static void fetch_over(struct crl_check *k)
{
	k->next++;
	event_active(k->step_ev, EV_TIMEOUT, 0);
}

/* http_fetch_cb: judge the CRL, then the next certificate from the loop. */
static void on_fetched(const unsigned char *body, size_t n, const char *why, void *arg)
{
	struct crl_check *k = arg;
	int d = k->next;
	if (k->done || !k->url)
		return;
	if (!body) {
		k->v.unreachable = true;
		note(k, d, "CRL %s: %s", k->url, why);
		fetch_over(k);
		return;
	}
	const unsigned char *p = body;
	X509_CRL *crl = d2i_X509_CRL(NULL, &p, (long)n);
	if (!crl) {
		/* some servers publish PEM */
		BIO *b = BIO_new_mem_buf(body, (int)n);
		crl = b ? PEM_read_bio_X509_CRL(b, NULL, NULL, NULL) : NULL;
		BIO_free(b);
	}
	ERR_clear_error();
	if (!crl) {
		k->v.invalid = true;
		note(k, d, "CRL %s does not parse", k->url);
	} else {
		if (judge(k, crl, k->url)) {
			const ASN1_TIME *nu = X509_CRL_get0_nextUpdate(crl);
			struct tm tm;
			time_t t = k->now + 3600;   /* no nextUpdate: an hour */
			if (nu && ASN1_TIME_to_tm(nu, &tm) == 1)
				t = timegm(&tm);
			cache_put(k->url, crl, t, k->now);
		}
		X509_CRL_free(crl);
	}
	fetch_over(k);
}

/* Starts the GET of url (owned from here); false with the reason noted
 * when it cannot. */
static bool fetch(struct crl_check *k, char *url)
{
	char err[256];
	k->url = url;
	k->fetch = http_fetch_start(k->base, k->dns, url, "CRL", NULL, CRL_MAX_BYTES,
				    k->timeout_ms, on_fetched, k, err, sizeof err);
	if (k->fetch)
		return true;
	if (strncmp(err, "unusable", 8) == 0)
		k->v.invalid = true;
	else
		k->v.unreachable = true;
	note(k, k->next, "%s", err);
	return false;
}

/* The next certificate: from the cache, or a fetch; the end: the callback. */
static void step(struct crl_check *k)
{
	int n = sk_X509_num(k->chain);
	fetch_release(k);
	while (k->next + 1 < n) {
		X509 *x = sk_X509_value(k->chain, k->next);
		if (X509_check_issued(sk_X509_value(k->chain, k->next + 1), x) != X509_V_OK) {
			k->next++;        /* not its issuer: nothing to verify a CRL with */
			continue;
		}
		char *url = crl_url(x);
		if (!url) {
			k->next++;
			continue;
		}
		k->checked++;
		X509_CRL *cached = cache_get(url, k->now);
		if (cached) {
			(void)judge(k, cached, url);
			free(url);
			k->next++;
			continue;
		}
		if (fetch(k, url))
			return;         /* on_http_done goes on */
		fetch_over(k);          /* the next certificate, from the loop */
		return;
	}
	if (k->done)
		return;
	k->done = true;
	if (k->v.status != CRL_ST_REVOKED)
		k->v.status = !k->checked ? CRL_ST_NONE
			    : k->v.unreachable || k->v.stale || k->v.invalid ? CRL_ST_UNAVAILABLE
			    : CRL_ST_GOOD;
	k->cb(&k->v, k->arg);
}

struct crl_check *crl_check_start(struct event_base *base, struct evdns_base *dns,
				  STACK_OF(X509) *chain, double timeout_ms, time_t now,
				  crl_check_cb cb, void *arg)
{
	struct crl_check *k = calloc(1, sizeof *k);
	if (!k)
		return NULL;
	*k = (struct crl_check){ .base = base, .dns = dns, .chain = chain, .timeout_ms = timeout_ms,
				 .now = now, .cb = cb, .arg = arg };
	k->v.depth = -1;
	k->step_ev = event_new(base, -1, 0, on_step, k);
	if (!k->step_ev) {
		free(k);
		return NULL;
	}
	event_active(k->step_ev, EV_TIMEOUT, 0);
	return k;
}

void crl_check_free(struct crl_check *k)
{
	if (!k)
		return;
	k->done = true;
	http_fetch_free(k->fetch);
	free(k->url);
	if (k->step_ev)
		event_free(k->step_ev);
	free(k);
}
