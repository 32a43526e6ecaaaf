/*
 * profile.c - profile lists, and the normalisation of a client record
 * (struct profile_raw) into a profile this OpenSSL build can run.
 *
 * Normalisation is shared by the built-in real-client table and the
 * testssl.sh loader so both say the same thing about the same client.
 * What "this build can offer" is asked of OpenSSL itself, never assumed:
 * Debian's OpenSSL 3 has no SSLv3, RC4, 3DES or export suites at runtime,
 * another build may differ.
 */
#include "profile.h"
#include "profile_aia.h"
#include "profile_cn.h"
#include "strbuf.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

/* Longest cipher/group name we look at; real ones are < 50 characters. */
#define NAME_MAX_LEN 128

/* ---------------------------------------------------------------- lists */

/* *dst = a heap copy of src (NULL stays NULL). Returns 0 or -1. */
static int dup_str(char **dst, const char *src)
{
	*dst = NULL;
	if (src == NULL)
		return 0;
	*dst = strdup(src);
	return *dst ? 0 : -1;
}

void profile_free(struct profile *p)
{
	if (p == NULL)
		return;
	free(p->name);
	free(p->short_name);
	free(p->ciphers);
	free(p->ciphersuites);
	free(p->groups);
	free(p->sigalgs);
	free(p->alpn);
	free(p->services);
	free(p->unsupported_reason);
	free(p->caveat);
	free(p->client_cert);
	free(p->client_key);
	memset(p, 0, sizeof *p);
}

/* Deep copy of *src into *dst; on failure *dst holds nothing. */
static int profile_copy(struct profile *dst, const struct profile *src)
{
	/* Scalars by value; every string is then re-pointed, NULL first so
	 * profile_free() on a half-made copy never frees src's strings. */
	*dst = *src;
	dst->name = dst->short_name = dst->ciphers = dst->ciphersuites = NULL;
	dst->groups = dst->sigalgs = dst->alpn = dst->services = NULL;
	dst->unsupported_reason = dst->caveat = NULL;
	dst->client_cert = dst->client_key = NULL;
	if (dup_str(&dst->name, src->name) != 0 ||
	    dup_str(&dst->short_name, src->short_name) != 0 ||
	    dup_str(&dst->ciphers, src->ciphers) != 0 ||
	    dup_str(&dst->ciphersuites, src->ciphersuites) != 0 ||
	    dup_str(&dst->groups, src->groups) != 0 ||
	    dup_str(&dst->sigalgs, src->sigalgs) != 0 ||
	    dup_str(&dst->alpn, src->alpn) != 0 ||
	    dup_str(&dst->services, src->services) != 0 ||
	    dup_str(&dst->unsupported_reason, src->unsupported_reason) != 0 ||
	    dup_str(&dst->caveat, src->caveat) != 0 ||
	    dup_str(&dst->client_cert, src->client_cert) != 0 ||
	    dup_str(&dst->client_key, src->client_key) != 0) {
		profile_free(dst);
		return -1;
	}
	return 0;
}

int profile_list_push(struct profile_list *list, const struct profile *p)
{
	if (list == NULL || p == NULL || p->name == NULL) {
		errno = EINVAL;
		return -1;
	}
	if (list->len == list->cap) {
		size_t ncap = list->cap ? list->cap * 2 : 16;
		struct profile *n;

		if (ncap < list->cap || ncap > SIZE_MAX / sizeof *n) {
			errno = ENOMEM;
			return -1;
		}
		n = realloc(list->items, ncap * sizeof *n);
		if (n == NULL)
			return -1;
		list->items = n;
		list->cap = ncap;
	}
	if (profile_copy(&list->items[list->len], p) != 0) {
		errno = ENOMEM;
		return -1;
	}
	list->len++;
	return 0;
}

const struct profile *profile_find(const struct profile_list *list,
				   const char *name)
{
	if (list == NULL || name == NULL)
		return NULL;
	for (size_t i = 0; i < list->len; i++)
		if (strcmp(list->items[i].name, name) == 0)
			return &list->items[i];
	/* Second pass so a full name always beats someone's short id. */
	for (size_t i = 0; i < list->len; i++)
		if (list->items[i].short_name &&
		    strcmp(list->items[i].short_name, name) == 0)
			return &list->items[i];
	return NULL;
}

void profile_list_free(struct profile_list *list)
{
	if (list == NULL)
		return;
	for (size_t i = 0; i < list->len; i++)
		profile_free(&list->items[i]);
	free(list->items);
	list->items = NULL;
	list->len = list->cap = 0;
}

const char *profile_origin_name(enum profile_origin o)
{
	switch (o) {
	case PROFILE_BUILTIN: return "builtin";
	case PROFILE_TESTSSL: return "testssl";
	case PROFILE_CUSTOM:  return "custom";
	}
	return "unknown";
}

const char *profile_version_name(int version)
{
	switch (version) {
	case 0:               return "any";
	case SSL2_VERSION:    return "SSLv2";
	case SSL3_VERSION:    return "SSLv3";
	case TLS1_VERSION:    return "TLSv1";
	case TLS1_1_VERSION:  return "TLSv1.1";
	case TLS1_2_VERSION:  return "TLSv1.2";
	case TLS1_3_VERSION:  return "TLSv1.3";
	}
	return "unknown";
}

/* ----------------------------------------- strings built in common/strbuf */

/* 0, or -1 once the buffer is out of memory: the normalisation below checks
 * every step. */
static int sb_addn(struct strbuf *sb, const char *s, size_t n)
{
	strbuf_put(sb, s, n);
	return sb->oom ? -1 : 0;
}

static int sb_add(struct strbuf *sb, const char *s)
{
	return sb_addn(sb, s, strlen(s));
}

/* Appends s to a separated list: sep first unless the list is empty. */
static int sb_item(struct strbuf *sb, const char *sep, const char *s)
{
	if (sb->len && sb_add(sb, sep) != 0)
		return -1;
	return sb_add(sb, s);
}

/* Takes the built string (NULL when empty) and resets sb. */
static char *sb_take(struct strbuf *sb)
{
	if (sb->len == 0) {
		strbuf_free(sb);
		return NULL;
	}
	return strbuf_take(sb);
}

/* Whether item is one of the ':' separated entries of list. */
static bool list_has(const char *list, const char *item)
{
	size_t n = strlen(item);

	while (list && *list) {
		size_t tl = strcspn(list, ":");
		if (tl == n && memcmp(list, item, n) == 0)
			return true;
		list += tl;
		if (*list == ':')
			list++;
	}
	return false;
}

/* Copies the next ':' separated token of *cur into buf and advances *cur.
 * Returns false at the end. An over-long token is cut to fit: no real
 * cipher or group name is that long, so the cut name matches nothing and
 * is reported as unavailable. */
static bool next_token(const char **cur, char *buf, size_t buflen)
{
	const char *s = *cur;
	size_t tl, cl;

	while (*s == ':')
		s++;
	if (*s == '\0')
		return false;
	tl = strcspn(s, ":");
	cl = tl < buflen ? tl : buflen - 1;
	memcpy(buf, s, cl);
	buf[cl] = '\0';
	*cur = s + tl;
	return true;
}

/* ------------------------------------------------------- capabilities */

enum cipher_avail {
	CIPHER_OK,
	CIPHER_UNAVAILABLE,   /* not compiled in / no provider implements it */
	CIPHER_NEEDS_CREDS,   /* SRP/PSK: OpenSSL only offers them with credentials */
	CIPHER_IS_TLS13       /* a TLS1.3 suite listed among TLS1.2 ciphers */
};

struct cap_cipher {
	const char *name;     /* OpenSSL's static cipher table; never freed */
	bool needs_creds;
};

struct profile_caps {
	SSL_CTX *scratch;     /* TLS1.3 suite and group tests run on this */
	struct cap_cipher *ciphers;   /* sorted by name for bsearch */
	size_t nciphers;
};

static int cap_cipher_cmp(const void *a, const void *b)
{
	return strcmp(((const struct cap_cipher *)a)->name,
		      ((const struct cap_cipher *)b)->name);
}

static void set_err(char *err, size_t errlen, const char *what)
{
	unsigned long e = ERR_get_error();
	char ebuf[256] = "";

	if (err == NULL || errlen == 0)
		return;
	if (e)
		ERR_error_string_n(e, ebuf, sizeof ebuf);
	snprintf(err, errlen, "%s%s%s", what, e ? ": " : "", ebuf);
	ERR_clear_error();
}

struct profile_caps *profile_caps_new(char *err, size_t errlen)
{
	struct profile_caps *caps = calloc(1, sizeof *caps);
	SSL *ssl = NULL;
	STACK_OF(SSL_CIPHER) *sk;
	int n;

	if (caps == NULL) {
		set_err(err, errlen, "out of memory");
		return NULL;
	}
	caps->scratch = SSL_CTX_new(TLS_client_method());
	if (caps->scratch == NULL) {
		set_err(err, errlen, "SSL_CTX_new failed");
		goto fail;
	}
	/*
	 * Level 0 so the list holds everything the build can do at all; a
	 * profile's own level is applied later by tlsctx.c. The TLS1.3 suites
	 * are emptied so the list holds TLS<=1.2 ciphers only.
	 */
	SSL_CTX_set_security_level(caps->scratch, 0);
	if (SSL_CTX_set_ciphersuites(caps->scratch, "") != 1 ||
	    SSL_CTX_set_cipher_list(caps->scratch, "ALL:COMPLEMENTOFALL:@SECLEVEL=0") != 1) {
		set_err(err, errlen, "cannot list this OpenSSL's ciphers");
		goto fail;
	}
	ssl = SSL_new(caps->scratch);
	if (ssl == NULL) {
		set_err(err, errlen, "SSL_new failed");
		goto fail;
	}
	sk = SSL_get_ciphers(ssl);
	n = sk ? sk_SSL_CIPHER_num(sk) : 0;
	if (n <= 0) {
		set_err(err, errlen, "this OpenSSL reports no ciphers");
		goto fail;
	}
	caps->ciphers = calloc((size_t)n, sizeof *caps->ciphers);
	if (caps->ciphers == NULL) {
		set_err(err, errlen, "out of memory");
		goto fail;
	}
	for (int i = 0; i < n; i++) {
		const SSL_CIPHER *c = sk_SSL_CIPHER_value(sk, i);
		int kx = SSL_CIPHER_get_kx_nid(c);

		caps->ciphers[i].name = SSL_CIPHER_get_name(c);
		/* OpenSSL drops these from a ClientHello unless an SRP login or
		 * a PSK callback is set, which a probe never has. */
		caps->ciphers[i].needs_creds = kx == NID_kx_srp || kx == NID_kx_psk ||
			kx == NID_kx_ecdhe_psk || kx == NID_kx_dhe_psk ||
			kx == NID_kx_rsa_psk;
	}
	caps->nciphers = (size_t)n;
	qsort(caps->ciphers, caps->nciphers, sizeof *caps->ciphers, cap_cipher_cmp);
	SSL_free(ssl);
	return caps;
fail:
	SSL_free(ssl);
	profile_caps_free(caps);
	return NULL;
}

void profile_caps_free(struct profile_caps *caps)
{
	if (caps == NULL)
		return;
	SSL_CTX_free(caps->scratch);
	free(caps->ciphers);
	free(caps);
}

/* Whether this build takes name as a TLS1.3 suite. */
static bool tls13_suite_ok(struct profile_caps *caps, const char *name)
{
	STACK_OF(SSL_CIPHER) *sk;
	const SSL_CIPHER *c;
	bool ok;

	if (name[0] == '\0')
		return false;
	/* Some OpenSSL 3 releases ignore unknown names and return 1, so also
	 * check that the suite really heads the resulting list. */
	ok = SSL_CTX_set_ciphersuites(caps->scratch, name) == 1;
	ERR_clear_error();
	if (!ok)
		return false;
	sk = SSL_CTX_get_ciphers(caps->scratch);
	c = sk && sk_SSL_CIPHER_num(sk) > 0 ? sk_SSL_CIPHER_value(sk, 0) : NULL;
	return c != NULL && strcmp(SSL_CIPHER_get_name(c), name) == 0;
}

static enum cipher_avail cipher_avail(struct profile_caps *caps, const char *name)
{
	struct cap_cipher key = { .name = name };
	const struct cap_cipher *hit;

	if (name[0] == '\0')
		return CIPHER_UNAVAILABLE;
	hit = bsearch(&key, caps->ciphers, caps->nciphers, sizeof *caps->ciphers,
		      cap_cipher_cmp);
	if (hit != NULL)
		return hit->needs_creds ? CIPHER_NEEDS_CREDS : CIPHER_OK;
	if (strncmp(name, "TLS_", 4) == 0 && tls13_suite_ok(caps, name))
		return CIPHER_IS_TLS13;
	return CIPHER_UNAVAILABLE;
}

/* Whether this build takes name as a group. */
static bool group_ok(struct profile_caps *caps, const char *name)
{
	bool ok = name[0] != '\0' && SSL_CTX_set1_groups_list(caps->scratch, name) == 1;

	ERR_clear_error();
	return ok;
}

/* ------------------------------------------------------ normalisation */

/* testssl.sh writes versions as wire numbers; OpenSSL's constants match
 * them except SSLv2 (wire 0x0200 for the SSLv2-compatible hello). */
static int version_from_wire(int wire)
{
	return wire == 0x0200 ? SSL2_VERSION : wire;
}

/* Orders versions; SSL2_VERSION (2) is numerically below the rest. */
static bool below_tls1(int v)
{
	return v == SSL2_VERSION || v == SSL3_VERSION;
}

/* Appends "label" and the ':' separated list, shown as "a, b, c", to the
 * caveat; nothing when the list is empty. */
static int caveat_list(struct strbuf *caveat, const char *label, const struct strbuf *list)
{
	if (list->len == 0)
		return 0;
	if (sb_item(caveat, "; ", label) != 0)
		return -1;
	for (const char *s = list->p; *s; ) {
		size_t tl = strcspn(s, ":");
		if (sb_addn(caveat, s, tl) != 0)
			return -1;
		s += tl;
		if (*s == ':') {
			s++;
			if (sb_add(caveat, ", ") != 0)
				return -1;
		}
	}
	return 0;
}

/* Adds tok to the ':' separated list unless it is already there. */
static int add_once(struct strbuf *list, const char *tok)
{
	if (list_has(list->p, tok))
		return 0;
	return sb_item(list, ":", tok);
}

/*
 * Filters the TLS<=1.2 cipher names: usable ones go to *kept, the others
 * are named in the caveat with the reason. Duplicates (IE 6 lists RC4-MD5
 * twice) are kept once.
 */
static int filter_ciphers(struct profile_caps *caps, const char *list,
			  struct strbuf *kept, struct strbuf *caveat)
{
	struct strbuf gone = {0}, creds = {0};
	const char *cur = list ? list : "";
	char tok[NAME_MAX_LEN];
	int rc = -1;

	while (next_token(&cur, tok, sizeof tok)) {
		switch (cipher_avail(caps, tok)) {
		case CIPHER_OK:
			if (add_once(kept, tok) != 0)
				goto out;
			break;
		case CIPHER_IS_TLS13:
			/* testssl.sh repeats a few clients' TLS1.3 suites here;
			 * OpenSSL takes those from the ciphersuites field only. */
			break;
		case CIPHER_NEEDS_CREDS:
			if (add_once(&creds, tok) != 0)
				goto out;
			break;
		case CIPHER_UNAVAILABLE:
			if (add_once(&gone, tok) != 0)
				goto out;
			break;
		}
	}
	if (caveat_list(caveat, "not offered, unavailable in this OpenSSL build: ", &gone) != 0 ||
	    caveat_list(caveat, "not offered, needs SRP/PSK credentials: ", &creds) != 0)
		goto out;
	rc = 0;
out:
	strbuf_free(&gone);
	strbuf_free(&creds);
	return rc;
}

/* Filters TLS1.3 suites the same way. */
static int filter_suites(struct profile_caps *caps, const char *list,
			 struct strbuf *kept, struct strbuf *caveat)
{
	struct strbuf gone = {0};
	const char *cur = list ? list : "";
	char tok[NAME_MAX_LEN];
	int rc = -1;

	while (next_token(&cur, tok, sizeof tok)) {
		if (add_once(tls13_suite_ok(caps, tok) ? kept : &gone, tok) != 0)
			goto out;
	}
	if (caveat_list(caveat, "TLS1.3 suites not offered, unavailable in this OpenSSL build: ",
			&gone) != 0)
		goto out;
	rc = 0;
out:
	strbuf_free(&gone);
	return rc;
}

/*
 * Filters groups. Names that OpenSSL takes alone but not after the ones
 * already kept are aliases of a kept group (prime256v1 = secp256r1, x25519 =
 * X25519): OpenSSL rejects a list naming one group twice, so drop them.
 */
static int filter_groups(struct profile_caps *caps, const char *list,
			 struct strbuf *kept, struct strbuf *caveat)
{
	struct strbuf gone = {0}, trial = {0};
	const char *cur = list ? list : "";
	char tok[NAME_MAX_LEN];
	int rc = -1;

	while (next_token(&cur, tok, sizeof tok)) {
		if (!group_ok(caps, tok)) {
			if (add_once(&gone, tok) != 0)
				goto out;
			continue;
		}
		strbuf_free(&trial);
		if ((kept->len && sb_add(&trial, kept->p) != 0) ||
		    sb_item(&trial, ":", tok) != 0)
			goto out;
		if (group_ok(caps, trial.p) && sb_item(kept, ":", tok) != 0)
			goto out;
	}
	if (caveat_list(caveat, "groups not offered, unavailable in this OpenSSL build: ",
			&gone) != 0)
		goto out;
	rc = 0;
out:
	strbuf_free(&gone);
	strbuf_free(&trial);
	return rc;
}

/* Sets p->unsupported_reason (first reason wins) and emulatable=false. */
static int not_emulatable(struct profile *p, const char *why)
{
	p->emulatable = false;
	if (p->unsupported_reason != NULL)
		return 0;
	p->unsupported_reason = strdup(why);
	return p->unsupported_reason ? 0 : -1;
}

static bool empty(const char *s)
{
	return s == NULL || s[0] == '\0';
}

int profile_from_raw(struct profile_caps *caps, const struct profile_raw *raw,
		     enum profile_origin origin, struct profile *out)
{
	struct strbuf caveat = {0}, ciphers = {0}, suites = {0}, groups = {0};
	int lo, hi;

	memset(out, 0, sizeof *out);
	if (caps == NULL || raw == NULL || empty(raw->name)) {
		errno = EINVAL;
		return -1;
	}
	out->origin = origin;
	out->send_sni = raw->send_sni;
	/* Real browsers send status_request; so does every profile. */
	out->request_ocsp = true;
	out->reads_cn = profile_cn_read(raw->name);
	out->fetches_ca_issuers = profile_aia_fetches(raw->name);
	out->min_rsa_bits = raw->min_rsa_bits;
	out->min_ecdsa_bits = raw->min_ecdsa_bits;
	out->requires_sha2 = raw->requires_sha2;
	out->current = raw->current;
	out->emulatable = true;
	if (dup_str(&out->name, raw->name) != 0 ||
	    dup_str(&out->short_name, empty(raw->short_name) ? NULL : raw->short_name) != 0 ||
	    dup_str(&out->services, empty(raw->services) ? NULL : raw->services) != 0 ||
	    dup_str(&out->alpn, empty(raw->alpn) ? NULL : raw->alpn) != 0)
		goto fail;

	lo = version_from_wire(raw->lowest_protocol);
	hi = version_from_wire(raw->highest_protocol);
	out->min_version = lo;
	out->max_version = hi;
	if (below_tls1(hi)) {
		if (not_emulatable(out, lo == SSL2_VERSION && hi == SSL2_VERSION ?
				   "SSLv2-only client: OpenSSL 3 has no SSLv2" :
				   lo == SSL2_VERSION ?
				   "SSLv2/SSLv3-only client: OpenSSL 3 has neither" :
				   "SSLv3-only client: OpenSSL 3 has no SSLv3") != 0)
			goto fail;
	} else if (hi < TLS1_VERSION || hi > TLS1_3_VERSION ||
		   (!below_tls1(lo) && (lo < TLS1_VERSION || lo > hi))) {
		if (not_emulatable(out, "invalid protocol version range") != 0)
			goto fail;
	} else if (below_tls1(lo)) {
		/* The real client would also accept SSLv3 (or the SSLv2 hello);
		 * we can only start at TLS1.0. */
		out->min_version = TLS1_VERSION;
		if (sb_item(&caveat, "; ", lo == SSL2_VERSION ?
			    "SSLv2/SSLv3 not offered (OpenSSL 3 has neither), minimum raised to TLSv1" :
			    "SSLv3 not offered (OpenSSL 3 has no SSLv3), minimum raised to TLSv1") != 0)
			goto fail;
	}

	if (filter_ciphers(caps, raw->ciphers, &ciphers, &caveat) != 0)
		goto fail;
	if (out->max_version == TLS1_3_VERSION) {
		if (filter_suites(caps, raw->ciphersuites, &suites, &caveat) != 0)
			goto fail;
		/* OpenSSL would not negotiate TLS1.3 without a suite; say so
		 * here rather than fail at handshake time. */
		if (suites.len == 0 && out->min_version == TLS1_3_VERSION) {
			if (not_emulatable(out, "TLS1.3-only client, none of its TLS1.3 suites "
					   "is available in this OpenSSL build") != 0)
				goto fail;
		} else if (suites.len == 0) {
			out->max_version = TLS1_2_VERSION;
			if (sb_item(&caveat, "; ",
				    "no TLS1.3 suite available, maximum lowered to TLSv1.2") != 0)
				goto fail;
		}
	}
	if (ciphers.len == 0 && out->emulatable) {
		if (out->max_version == TLS1_3_VERSION) {
			/* tlsctx.c cannot set an empty TLS1.2 list; the client
			 * can only ever negotiate TLS1.3 here anyway. */
			if (out->min_version < TLS1_3_VERSION &&
			    sb_item(&caveat, "; ", "no TLS1.2 cipher available, TLSv1.3 only") != 0)
				goto fail;
			out->min_version = TLS1_3_VERSION;
		} else if (not_emulatable(out, empty(raw->ciphers) ?
					  "client lists no cipher" :
					  "none of its ciphers (export/RC4/DES/3DES...) is "
					  "available in this OpenSSL build") != 0) {
			goto fail;
		}
	}
	if (filter_groups(caps, raw->curves, &groups, &caveat) != 0)
		goto fail;
	if (groups.len == 0 && !empty(raw->curves) &&
	    sb_item(&caveat, "; ", "no listed group available, OpenSSL's default groups offered") != 0)
		goto fail;

	/* OpenSSL 3 only speaks TLS1.0/1.1 at security level 0. */
	out->seclevel = out->min_version < TLS1_2_VERSION ? 0 : 1;
	out->ciphers = sb_take(&ciphers);
	out->ciphersuites = sb_take(&suites);
	out->groups = sb_take(&groups);
	out->caveat = sb_take(&caveat);
	return 0;
fail:
	strbuf_free(&caveat);
	strbuf_free(&ciphers);
	strbuf_free(&suites);
	strbuf_free(&groups);
	profile_free(out);
	errno = ENOMEM;
	return -1;
}
