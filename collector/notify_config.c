/*
 * notify_config.c - loads notify.yaml (see notify_config.h and
 * deploy/notify.example.yaml).
 *
 * The same walk as probe/config.c and col_config.c (whose static helpers
 * are copied here, so every loader reports errors the same way): libyaml's
 * document API builds the node tree, we walk it once copying what we keep
 * into a fresh struct notify_config, and stop at the first error, which
 * names file:line:column (libyaml's marks are 0-based, ours 1-based).
 *
 * Secret values never reach an error message: errors about a secret or a
 * URL name the key, not the value.
 */
#define _GNU_SOURCE  /* asprintf */
#include "notify_config.h"
#include "notify_sinks.h"  /* sink_whsec_decode */

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

#include <curl/curl.h>
#include <openssl/crypto.h>

#define NOTIFY_CONFIG_MAX_FILE (1u * 1024 * 1024)
#define MAX_SINKS   256
#define MAX_ROUTES  1024
#define MAX_HEADERS 8
#define DAY_MS      (86400ll * 1000)
#define PAGERDUTY_URL "https://events.pagerduty.com/v2/enqueue"

struct ps {
	const char *path;
	yaml_document_t *doc;
	unsigned char *seen;    /* collections already walked (aliases) */
	size_t nnodes;
	char *err;
	size_t errlen;
};

/* ---- errors ---- */

__attribute__((format(printf, 5, 6)))
static int errat(struct ps *ps, unsigned line0, unsigned col0, const char *ctx,
		 const char *fmt, ...)
{
	char msg[768];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (ctx && *ctx)
		snprintf(ps->err, ps->errlen, "%s:%u:%u: %s: %s", ps->path, line0 + 1, col0 + 1,
			 ctx, msg);
	else
		snprintf(ps->err, ps->errlen, "%s:%u:%u: %s", ps->path, line0 + 1, col0 + 1, msg);
	return -1;
}

#define ERRN(ps, node, ctx, ...) \
	errat((ps), (unsigned)(node)->start_mark.line, (unsigned)(node)->start_mark.column, \
	      (ctx), __VA_ARGS__)

static const char *kind_name(const yaml_node_t *n)
{
	switch (n->type) {
	case YAML_SCALAR_NODE: return "a scalar";
	case YAML_SEQUENCE_NODE: return "a sequence";
	case YAML_MAPPING_NODE: return "a mapping";
	default: return "nothing";
	}
}

static void join_keys(const char *const *keys, char *buf, size_t cap)
{
	size_t off = 0;
	buf[0] = '\0';
	for (size_t i = 0; keys[i]; i++) {
		int n = snprintf(buf + off, cap - off, "%s%s", i ? ", " : "", keys[i]);
		if (n < 0 || (size_t)n >= cap - off)
			break;
		off += (size_t)n;
	}
}

/* ---- nodes ---- */

static yaml_node_t *node(struct ps *ps, int id)
{
	return yaml_document_get_node(ps->doc, id);
}

/* Collections may be reached only once: an alias to a mapping or sequence
 * would let a small file expand exponentially ("billion laughs"). */
static int visit(struct ps *ps, yaml_node_t *n, const char *ctx)
{
	size_t idx = (size_t)(n - ps->doc->nodes.start);
	if (idx >= ps->nnodes)
		return 0;
	if (ps->seen[idx])
		return ERRN(ps, n, ctx, "used a second time through an alias; aliases of "
			    "mappings or sequences are not supported");
	ps->seen[idx] = 1;
	return 0;
}

static int want_mapping(struct ps *ps, yaml_node_t *n, const char *ctx)
{
	if (n->type != YAML_MAPPING_NODE)
		return ERRN(ps, n, ctx, "expected a mapping, got %s", kind_name(n));
	return visit(ps, n, ctx);
}

static int want_sequence(struct ps *ps, yaml_node_t *n, const char *ctx)
{
	if (n->type != YAML_SEQUENCE_NODE)
		return ERRN(ps, n, ctx, "expected a sequence, got %s", kind_name(n));
	return visit(ps, n, ctx);
}

/* The scalar's text, or NULL after an error. */
static const char *want_scalar(struct ps *ps, yaml_node_t *n, const char *ctx, bool allow_empty)
{
	if (n->type != YAML_SCALAR_NODE) {
		ERRN(ps, n, ctx, "expected a scalar, got %s", kind_name(n));
		return NULL;
	}
	const char *s = (const char *)n->data.scalar.value;
	if (strlen(s) != n->data.scalar.length) {
		ERRN(ps, n, ctx, "expected a string without NUL bytes");
		return NULL;
	}
	if (!allow_empty && *s == '\0') {
		ERRN(ps, n, ctx, "expected a non-empty string");
		return NULL;
	}
	return s;
}

/* Checks that a mapping has scalar keys from `allowed`, each at most once. */
static int check_keys(struct ps *ps, yaml_node_t *map, const char *ctx,
		      const char *const *allowed)
{
	if (want_mapping(ps, map, ctx) < 0)
		return -1;
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start;
	     p < map->data.mapping.pairs.top; p++) {
		yaml_node_t *k = node(ps, p->key);
		if (k->type != YAML_SCALAR_NODE)
			return ERRN(ps, k, ctx, "expected a scalar key, got %s", kind_name(k));
		const char *ks = (const char *)k->data.scalar.value;
		bool ok = false;
		for (size_t i = 0; allowed && allowed[i]; i++)
			if (strcmp(ks, allowed[i]) == 0)
				ok = true;
		if (allowed && !ok) {
			char list[512];
			join_keys(allowed, list, sizeof list);
			return ERRN(ps, k, ctx, "unknown key \"%.64s\" (allowed: %s)", ks, list);
		}
		for (yaml_node_pair_t *q = map->data.mapping.pairs.start; q < p; q++) {
			yaml_node_t *k2 = node(ps, q->key);
			if (strcmp((const char *)k2->data.scalar.value, ks) == 0)
				return ERRN(ps, k, ctx, "duplicate key \"%.64s\" (first at line %u, "
					    "column %u)", ks, (unsigned)k2->start_mark.line + 1,
					    (unsigned)k2->start_mark.column + 1);
		}
	}
	return 0;
}

/* Value of `key` in a checked mapping, or NULL; *keynode gets the key. */
static yaml_node_t *get(struct ps *ps, yaml_node_t *map, const char *key, yaml_node_t **keynode)
{
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start;
	     p < map->data.mapping.pairs.top; p++) {
		yaml_node_t *k = node(ps, p->key);
		if (strcmp((const char *)k->data.scalar.value, key) == 0) {
			if (keynode)
				*keynode = k;
			return node(ps, p->value);
		}
	}
	return NULL;
}

static void subctx(char *buf, size_t cap, const char *ctx, const char *key)
{
	int n;
	if (ctx && *ctx)
		n = snprintf(buf, cap, "%.200s.%.40s", ctx, key);
	else
		n = snprintf(buf, cap, "%s", key);
	(void)n; /* a cut context path is still a useful error position */
}

/* ---- values ---- */

static int oom(struct ps *ps)
{
	snprintf(ps->err, ps->errlen, "%s: out of memory", ps->path);
	return -1;
}

static int copy_string(struct ps *ps, yaml_node_t *n, const char *ctx, char **out)
{
	const char *s = want_scalar(ps, n, ctx, false);
	if (!s)
		return -1;
	char *d = strdup(s);
	if (!d)
		return oom(ps);
	free(*out);
	*out = d;
	return 0;
}

static int parse_digits(const char *s, unsigned long long *out, const char **end)
{
	if (!isdigit((unsigned char)s[0]))
		return -1;
	char *e;
	errno = 0;
	unsigned long long v = strtoull(s, &e, 10);
	if (errno == ERANGE)
		return -1;
	*out = v;
	*end = e;
	return 0;
}

static int get_uint(struct ps *ps, yaml_node_t *v, const char *ctx, unsigned long long min,
		    unsigned long long max, unsigned *out)
{
	const char *s = want_scalar(ps, v, ctx, true);
	unsigned long long x;
	const char *e;
	if (!s)
		return -1;
	if (parse_digits(s, &x, &e) < 0 || *e != '\0' || x < min || x > max)
		return ERRN(ps, v, ctx, "expected an integer %llu-%llu, got \"%.64s\"", min, max, s);
	*out = (unsigned)x;
	return 0;
}

/* <n>ms|s|m|h|d into ms, between min_ms and max_ms. */
static int get_duration(struct ps *ps, yaml_node_t *v, const char *ctx, int64_t min_ms,
			int64_t max_ms, int64_t *out)
{
	const char *s = want_scalar(ps, v, ctx, true);
	unsigned long long x, mul = 0;
	const char *e;
	if (!s)
		return -1;
	if (parse_digits(s, &x, &e) == 0) {
		if (!strcmp(e, "ms"))
			mul = 1;
		else if (!strcmp(e, "s"))
			mul = 1000;
		else if (!strcmp(e, "m"))
			mul = 60000;
		else if (!strcmp(e, "h"))
			mul = 3600000;
		else if (!strcmp(e, "d"))
			mul = (unsigned long long)DAY_MS;
	}
	if (!mul || x > (unsigned long long)max_ms / mul || (int64_t)(x * mul) < min_ms)
		return ERRN(ps, v, ctx, "expected a duration like 500ms, 30s, 5m, 1h or 7d "
			    "between %lldms and %lldms, got \"%.64s\"", (long long)min_ms,
			    (long long)max_ms, s);
	*out = (int64_t)(x * mul);
	return 0;
}

static int get_duration_u(struct ps *ps, yaml_node_t *v, const char *ctx, int64_t min_ms,
			  int64_t max_ms, unsigned *out)
{
	int64_t ms;
	if (get_duration(ps, v, ctx, min_ms, max_ms, &ms) < 0)
		return -1;
	*out = (unsigned)ms;
	return 0;
}

static int get_bool(struct ps *ps, yaml_node_t *v, const char *ctx, bool *out)
{
	const char *s = want_scalar(ps, v, ctx, true);
	if (!s)
		return -1;
	if (!strcmp(s, "true") || !strcmp(s, "True") || !strcmp(s, "TRUE"))
		*out = true;
	else if (!strcmp(s, "false") || !strcmp(s, "False") || !strcmp(s, "FALSE"))
		*out = false;
	else
		return ERRN(ps, v, ctx, "expected true or false, got \"%.64s\"", s);
	return 0;
}

/* A scalar or a sequence of scalars into a new string list. */
static int get_str_list(struct ps *ps, yaml_node_t *v, const char *ctx, char ***out, size_t *n)
{
	char c[256];
	if (v->type == YAML_SCALAR_NODE) {
		if (!(*out = calloc(1, sizeof **out)))
			return oom(ps);
		*n = 1;
		return copy_string(ps, v, ctx, &(*out)[0]);
	}
	if (want_sequence(ps, v, ctx) < 0)
		return -1;
	size_t cnt = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
	if (cnt == 0)
		return ERRN(ps, v, ctx, "expected at least one value");
	if (!(*out = calloc(cnt, sizeof **out)))
		return oom(ps);
	*n = cnt;
	for (size_t i = 0; i < cnt; i++) {
		snprintf(c, sizeof c, "%s[%zu]", ctx, i);
		if (copy_string(ps, node(ps, v->data.sequence.items.start[i]), c, &(*out)[i]) < 0)
			return -1;
	}
	return 0;
}

/* The value of NAME_env: the environment variable must be set and non-empty. */
static int from_env(struct ps *ps, yaml_node_t *v, const char *ctx, char **out)
{
	const char *name = want_scalar(ps, v, ctx, false);
	if (!name)
		return -1;
	const char *val = getenv(name);
	if (!val || !*val)
		return ERRN(ps, v, ctx, "environment variable %.64s is not set or empty", name);
	char *d = strdup(val);
	if (!d)
		return oom(ps);
	*out = d;
	return 0;
}

/* Either KEY (inline) or KEY_env (from the environment), not both; *vnode
 * gets the node to report errors at. 1 found, 0 absent, -1 error. */
static int secret_or_env(struct ps *ps, yaml_node_t *map, const char *key, const char *ctx,
			 char **out, yaml_node_t **vnode)
{
	char envkey[64], c[256];
	snprintf(envkey, sizeof envkey, "%s_env", key);
	yaml_node_t *a = get(ps, map, key, NULL), *b = get(ps, map, envkey, NULL);
	if (a && b)
		return ERRN(ps, b, ctx, "give %s or %s, not both", key, envkey);
	if (a) {
		subctx(c, sizeof c, ctx, key);
		*vnode = a;
		return copy_string(ps, a, c, out) < 0 ? -1 : 1;
	}
	if (b) {
		subctx(c, sizeof c, ctx, envkey);
		*vnode = b;
		return from_env(ps, b, c, out) < 0 ? -1 : 1;
	}
	return 0;
}

static void wipe_free(char *s)
{
	if (s) {
		OPENSSL_cleanse(s, strlen(s));
		free(s);
	}
}

/* ---- loading ---- */

static char *read_file(const char *path, size_t *len, char *err, size_t errlen)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		snprintf(err, errlen, "%s: cannot read: %s", path, strerror(errno));
		return NULL;
	}
	size_t cap = 65536, n = 0;
	char *buf = malloc(cap);
	if (!buf) {
		fclose(f);
		snprintf(err, errlen, "%s: out of memory", path);
		return NULL;
	}
	for (;;) {
		if (n == cap) {
			if (cap >= NOTIFY_CONFIG_MAX_FILE) {
				snprintf(err, errlen, "%s: file larger than %u bytes", path,
					 NOTIFY_CONFIG_MAX_FILE);
				goto fail;
			}
			char *nb = realloc(buf, cap * 2);
			if (!nb) {
				snprintf(err, errlen, "%s: out of memory", path);
				goto fail;
			}
			buf = nb;
			cap *= 2;
		}
		size_t r = fread(buf + n, 1, cap - n, f);
		n += r;
		if (r == 0) {
			if (ferror(f)) {
				snprintf(err, errlen, "%s: cannot read: %s", path, strerror(errno));
				goto fail;
			}
			break;
		}
	}
	fclose(f);
	*len = n;
	return buf;
fail:
	fclose(f);
	free(buf);
	return NULL;
}

static void syntax_error(struct ps *ps, yaml_parser_t *p, const char *buf, size_t len)
{
	unsigned line = (unsigned)p->problem_mark.line, col = (unsigned)p->problem_mark.column;
	if (p->error == YAML_READER_ERROR) {
		/* Reader errors carry a byte offset, not a mark. */
		line = col = 0;
		for (size_t i = 0; i < p->problem_offset && i < len; i++) {
			if (buf[i] == '\n') {
				line++;
				col = 0;
			} else {
				col++;
			}
		}
	}
	const char *what = p->problem ? p->problem : "malformed input";
	if (p->error == YAML_MEMORY_ERROR) {
		oom(ps);
		return;
	}
	if (p->context)
		errat(ps, line, col, "", "YAML syntax error: %s (%s at line %u, column %u)", what,
		      p->context, (unsigned)p->context_mark.line + 1,
		      (unsigned)p->context_mark.column + 1);
	else
		errat(ps, line, col, "", "YAML syntax error: %s", what);
}

/* ---- sections ---- */

static const char *const TOP_KEYS[] = { "sinks", "routes", "retry", "delivery", NULL };
static const char *const SINK_KEYS[] = { "name", "type", "url", "url_env", "routing_key",
					 "routing_key_env", "secret", "secret_env", "headers",
					 "timeout", "hold", NULL };
static const char *const ROUTE_KEYS[] = { "match", "sinks", "continue", NULL };
static const char *const MATCH_KEYS[] = { "severity", "rule", "service", "region", "labels",
					  NULL };
static const char *const RETRY_KEYS[] = { "initial", "max", "max_attempts", "max_age",
					  "jitter", NULL };
static const char *const DELIVERY_KEYS[] = { "poll_interval", "batch", "max_in_flight",
					     "lease", NULL };

static bool valid_sink_name(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 64)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '_' && s[i] != '.' && s[i] != '-')
			return false;
	return true;
}

/* HTTP header field name (RFC 9110 token). */
static bool valid_header_name(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && !strchr("!#$%&'*+-.^_`|~", *s))
			return false;
	return true;
}

/* Checks an http(s) URL and keeps its host[:port] for logs. The URL itself
 * is never shown: Slack's carries its secret in the path. */
static int check_url(struct ps *ps, yaml_node_t *at, const char *ctx, struct notify_sink_cfg *s)
{
	CURLU *u = curl_url();
	char *scheme = NULL, *host = NULL, *port = NULL;
	int rc = -1;
	if (!u)
		return oom(ps);
	if (curl_url_set(u, CURLUPART_URL, s->url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    (strcasecmp(scheme, "http") != 0 && strcasecmp(scheme, "https") != 0) ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK || !*host) {
		ERRN(ps, at, ctx, "expected an http:// or https:// URL with a host");
		goto out;
	}
	if (curl_url_get(u, CURLUPART_PORT, &port, 0) != CURLUE_OK)
		port = NULL;
	if (asprintf(&s->host, "%s%s%s", host, port ? ":" : "", port ? port : "") < 0) {
		s->host = NULL;
		oom(ps);
		goto out;
	}
	rc = 0;
out:
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	curl_url_cleanup(u);
	return rc;
}

static int parse_sink(struct ps *ps, yaml_node_t *m, const char *ctx, struct notify_sink_cfg *s,
		      const struct notify_config *cfg, size_t idx)
{
	char c[256];
	yaml_node_t *v, *at = NULL;
	if (check_keys(ps, m, ctx, SINK_KEYS) < 0)
		return -1;

	if (!(v = get(ps, m, "name", NULL)))
		return ERRN(ps, m, ctx, "missing required key \"name\"");
	subctx(c, sizeof c, ctx, "name");
	if (copy_string(ps, v, c, &s->name) < 0)
		return -1;
	if (!valid_sink_name(s->name))
		return ERRN(ps, v, c, "expected 1-64 characters from A-Z a-z 0-9 _ . -, got "
			    "\"%.64s\"", s->name);
	for (size_t i = 0; i < idx; i++)
		if (strcmp(cfg->sinks[i].name, s->name) == 0)
			return ERRN(ps, v, c, "duplicate sink name \"%s\"", s->name);

	if (!(v = get(ps, m, "type", NULL)))
		return ERRN(ps, m, ctx, "missing required key \"type\"");
	subctx(c, sizeof c, ctx, "type");
	const char *t = want_scalar(ps, v, c, false);
	if (!t)
		return -1;
	if (!strcmp(t, "pagerduty"))
		s->type = SINK_PAGERDUTY;
	else if (!strcmp(t, "alertmanager"))
		s->type = SINK_ALERTMANAGER;
	else if (!strcmp(t, "slack"))
		s->type = SINK_SLACK;
	else if (!strcmp(t, "webhook"))
		s->type = SINK_WEBHOOK;
	else
		return ERRN(ps, v, c, "expected pagerduty, alertmanager, slack or webhook, got "
			    "\"%.64s\"", t);

	int r = secret_or_env(ps, m, "url", ctx, &s->url, &at);
	if (r < 0)
		return -1;
	if (r == 0) {
		if (s->type != SINK_PAGERDUTY)
			return ERRN(ps, m, ctx, "missing required key \"url\" (or \"url_env\")");
		if (!(s->url = strdup(PAGERDUTY_URL)))
			return oom(ps);
		at = m;
	}
	subctx(c, sizeof c, ctx, get(ps, m, "url_env", NULL) ? "url_env" : "url");
	if (check_url(ps, at, c, s) < 0)
		return -1;
	if (s->type == SINK_ALERTMANAGER) {
		/* the base URL; the API path is ours to add */
		size_t n = strlen(s->url);
		while (n > 0 && s->url[n - 1] == '/')
			s->url[--n] = '\0';
		const char *api = "/api/v2/alerts";
		if (n < strlen(api) || strcmp(s->url + n - strlen(api), api) != 0) {
			char *u = NULL;
			if (asprintf(&u, "%s%s", s->url, api) < 0)
				return oom(ps);
			wipe_free(s->url);
			s->url = u;
		}
	}

	r = secret_or_env(ps, m, "routing_key", ctx, &s->routing_key, &at);
	if (r < 0)
		return -1;
	if (s->type == SINK_PAGERDUTY && r == 0)
		return ERRN(ps, m, ctx, "a pagerduty sink needs \"routing_key\" or \"routing_key_env\"");
	if (s->type != SINK_PAGERDUTY && r == 1)
		return ERRN(ps, at, ctx, "routing_key is for pagerduty sinks only");
	if (r == 1 && strlen(s->routing_key) > 256)
		return ERRN(ps, at, ctx, "routing_key: expected at most 256 characters");

	char *secret = NULL;
	r = secret_or_env(ps, m, "secret", ctx, &secret, &at);
	if (r < 0)
		return -1;
	if (s->type == SINK_WEBHOOK && r == 0)
		return ERRN(ps, m, ctx, "a webhook sink needs \"secret\" or \"secret_env\" "
			    "(whsec_ followed by base64)");
	if (s->type != SINK_WEBHOOK && r == 1) {
		wipe_free(secret);
		return ERRN(ps, at, ctx, "secret is for webhook sinks only");
	}
	if (r == 1) {
		bool prefixed = strncmp(secret, "whsec_", 6) == 0;
		int d = prefixed ? sink_whsec_decode(secret, &s->secret, &s->secret_len) : -1;
		wipe_free(secret);
		subctx(c, sizeof c, ctx, get(ps, m, "secret_env", NULL) ? "secret_env" : "secret");
		if (d < 0 || s->secret_len < 16 || s->secret_len > 256)
			return ERRN(ps, at, c, "expected \"whsec_\" followed by the base64 of a "
				    "16-256 byte key (the value is not shown)");
	}

	if ((v = get(ps, m, "headers", NULL))) {
		subctx(c, sizeof c, ctx, "headers");
		if (check_keys(ps, v, c, NULL) < 0)
			return -1;
		size_t n = (size_t)(v->data.mapping.pairs.top - v->data.mapping.pairs.start);
		if (n > MAX_HEADERS)
			return ERRN(ps, v, c, "at most %d headers", MAX_HEADERS);
		if (n && !(s->headers = calloc(n, sizeof *s->headers)))
			return oom(ps);
		for (size_t i = 0; i < n; i++) {
			yaml_node_pair_t *p = &v->data.mapping.pairs.start[i];
			yaml_node_t *k = node(ps, p->key), *hv = node(ps, p->value);
			const char *kn = (const char *)k->data.scalar.value;
			static const char *const reserved[] = { "content-type", "content-length",
				"host", "webhook-id", "webhook-timestamp", "webhook-signature",
				"idempotency-key", "expect", "transfer-encoding", NULL };
			if (!valid_header_name(kn))
				return ERRN(ps, k, c, "expected an HTTP header name, got \"%.64s\"", kn);
			for (size_t j = 0; reserved[j]; j++)
				if (strcasecmp(kn, reserved[j]) == 0)
					return ERRN(ps, k, c, "header %s is set by the notifier", kn);
			char hc[300];
			snprintf(hc, sizeof hc, "%s.%s", c, kn);
			const char *hs = want_scalar(ps, hv, hc, true);
			if (!hs)
				return -1;
			if (strpbrk(hs, "\r\n"))
				return ERRN(ps, hv, hc, "expected a value without line breaks");
			s->headers[i].name = strdup(kn);
			s->headers[i].value = strdup(hs);
			s->nheaders = i + 1;
			if (!s->headers[i].name || !s->headers[i].value)
				return oom(ps);
		}
	}

	s->timeout_ms = 10000;
	if ((v = get(ps, m, "timeout", NULL))) {
		subctx(c, sizeof c, ctx, "timeout");
		if (get_duration_u(ps, v, c, 100, 300000, &s->timeout_ms) < 0)
			return -1;
	}
	s->hold_ms = 90 * DAY_MS;
	if ((v = get(ps, m, "hold", NULL))) {
		subctx(c, sizeof c, ctx, "hold");
		if (s->type != SINK_ALERTMANAGER)
			return ERRN(ps, v, c, "hold is for alertmanager sinks only");
		if (get_duration(ps, v, c, 60000, 3650 * DAY_MS, &s->hold_ms) < 0)
			return -1;
	}
	return 0;
}

static int sink_index(const struct notify_config *cfg, const char *name, size_t *out)
{
	for (size_t i = 0; i < cfg->nsinks; i++)
		if (strcmp(cfg->sinks[i].name, name) == 0) {
			*out = i;
			return 0;
		}
	return -1;
}

static int parse_route(struct ps *ps, yaml_node_t *m, const char *ctx, struct notify_route *r,
		       const struct notify_config *cfg)
{
	char c[256], cc[300];
	yaml_node_t *v;
	if (check_keys(ps, m, ctx, ROUTE_KEYS) < 0)
		return -1;
	if ((v = get(ps, m, "match", NULL))) {
		subctx(c, sizeof c, ctx, "match");
		if (check_keys(ps, v, c, MATCH_KEYS) < 0)
			return -1;
		struct { const char *key; char ***list; size_t *n; } lists[] = {
			{ "severity", &r->severity, &r->nseverity },
			{ "rule", &r->rule, &r->nrule },
			{ "service", &r->service, &r->nservice },
			{ "region", &r->region, &r->nregion },
		};
		for (size_t i = 0; i < sizeof lists / sizeof lists[0]; i++) {
			yaml_node_t *lv = get(ps, v, lists[i].key, NULL);
			if (!lv)
				continue;
			snprintf(cc, sizeof cc, "%s.%s", c, lists[i].key);
			if (get_str_list(ps, lv, cc, lists[i].list, lists[i].n) < 0)
				return -1;
			if (!strcmp(lists[i].key, "severity"))
				for (size_t j = 0; j < r->nseverity; j++)
					if (strcmp(r->severity[j], "page") && strcmp(r->severity[j], "ticket")) {
						yaml_node_t *at = lv->type == YAML_SEQUENCE_NODE
							? node(ps, lv->data.sequence.items.start[j]) : lv;
						return ERRN(ps, at, cc, "expected page or ticket, got "
							    "\"%.64s\"", r->severity[j]);
					}
		}
		yaml_node_t *lv = get(ps, v, "labels", NULL);
		if (lv) {
			snprintf(cc, sizeof cc, "%s.labels", c);
			if (check_keys(ps, lv, cc, NULL) < 0)
				return -1;
			size_t n = (size_t)(lv->data.mapping.pairs.top - lv->data.mapping.pairs.start);
			r->label_keys = calloc(n ? n : 1, sizeof *r->label_keys);
			r->label_values = calloc(n ? n : 1, sizeof *r->label_values);
			if (!r->label_keys || !r->label_values)
				return oom(ps);
			for (size_t i = 0; i < n; i++) {
				yaml_node_pair_t *p = &lv->data.mapping.pairs.start[i];
				yaml_node_t *k = node(ps, p->key), *kv = node(ps, p->value);
				char lc[400];
				snprintf(lc, sizeof lc, "%s.%s", cc, (const char *)k->data.scalar.value);
				if (copy_string(ps, k, cc, &r->label_keys[i]) < 0)
					return -1;
				r->nlabels = i + 1;
				const char *s = want_scalar(ps, kv, lc, true);
				if (!s)
					return -1;
				if (!(r->label_values[i] = strdup(s)))
					return oom(ps);
			}
		}
	}
	if (!(v = get(ps, m, "sinks", NULL)))
		return ERRN(ps, m, ctx, "missing required key \"sinks\"");
	subctx(c, sizeof c, ctx, "sinks");
	char **names = NULL;
	size_t n = 0;
	int rc = get_str_list(ps, v, c, &names, &n);
	if (rc == 0 && !(r->sinks = calloc(n, sizeof *r->sinks)))
		rc = oom(ps);
	for (size_t i = 0; rc == 0 && i < n; i++) {
		yaml_node_t *at = v->type == YAML_SEQUENCE_NODE
					  ? node(ps, v->data.sequence.items.start[i]) : v;
		snprintf(cc, sizeof cc, "%s[%zu]", c, i);
		if (sink_index(cfg, names[i], &r->sinks[i]) < 0)
			rc = ERRN(ps, at, cc, "no sink named \"%.64s\"", names[i]);
		else
			r->nsinks = i + 1;
	}
	for (size_t i = 0; names && i < n; i++)
		free(names[i]);
	free(names);
	if (rc < 0)
		return -1;
	if ((v = get(ps, m, "continue", NULL))) {
		subctx(c, sizeof c, ctx, "continue");
		if (get_bool(ps, v, c, &r->cont) < 0)
			return -1;
	}
	return 0;
}

static int parse_jitter(struct ps *ps, yaml_node_t *v, const char *ctx, double *out)
{
	const char *s = want_scalar(ps, v, ctx, false);
	if (!s)
		return -1;
	char *e;
	errno = 0;
	double d = strtod(s, &e);
	if (errno || *e || !(d >= 0 && d <= 1))
		return ERRN(ps, v, ctx, "expected a fraction between 0 and 1, got \"%.64s\"", s);
	*out = d;
	return 0;
}

static int parse_root(struct ps *ps, yaml_node_t *root, struct notify_config *cfg)
{
	char c[256];
	yaml_node_t *v, *m;
	if (check_keys(ps, root, "", TOP_KEYS) < 0)
		return -1;

	if (!(v = get(ps, root, "sinks", NULL)))
		return ERRN(ps, root, "", "missing required key \"sinks\"");
	if (want_sequence(ps, v, "sinks") < 0)
		return -1;
	size_t n = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
	if (n == 0 || n > MAX_SINKS)
		return ERRN(ps, v, "sinks", "expected 1-%d sinks", MAX_SINKS);
	if (!(cfg->sinks = calloc(n, sizeof *cfg->sinks)))
		return oom(ps);
	unsigned max_timeout = 0;
	for (size_t i = 0; i < n; i++) {
		snprintf(c, sizeof c, "sinks[%zu]", i);
		cfg->nsinks = i + 1;
		if (parse_sink(ps, node(ps, v->data.sequence.items.start[i]), c, &cfg->sinks[i], cfg,
			       i) < 0)
			return -1;
		if (cfg->sinks[i].timeout_ms > max_timeout)
			max_timeout = cfg->sinks[i].timeout_ms;
	}

	if ((v = get(ps, root, "routes", NULL))) {
		if (want_sequence(ps, v, "routes") < 0)
			return -1;
		n = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
		if (n == 0 || n > MAX_ROUTES)
			return ERRN(ps, v, "routes", "expected 1-%d routes (leave \"routes\" out to send "
				    "every alert to every sink)", MAX_ROUTES);
		if (!(cfg->routes = calloc(n, sizeof *cfg->routes)))
			return oom(ps);
		for (size_t i = 0; i < n; i++) {
			snprintf(c, sizeof c, "routes[%zu]", i);
			cfg->nroutes = i + 1;
			if (parse_route(ps, node(ps, v->data.sequence.items.start[i]), c,
					&cfg->routes[i], cfg) < 0)
				return -1;
		}
	}

	cfg->retry_initial_ms = 1000;
	cfg->retry_max_ms = 300000;
	cfg->max_attempts = 0;
	cfg->max_age_ms = DAY_MS;
	cfg->jitter = 0.2;
	if ((m = get(ps, root, "retry", NULL))) {
		if (check_keys(ps, m, "retry", RETRY_KEYS) < 0)
			return -1;
		if ((v = get(ps, m, "initial", NULL)) &&
		    get_duration_u(ps, v, "retry.initial", 10, 3600000, &cfg->retry_initial_ms) < 0)
			return -1;
		if ((v = get(ps, m, "max", NULL)) &&
		    get_duration_u(ps, v, "retry.max", 10, 24 * 3600000ll, &cfg->retry_max_ms) < 0)
			return -1;
		if (cfg->retry_max_ms < cfg->retry_initial_ms)
			return ERRN(ps, v ? v : m, "retry.max", "must not be shorter than retry.initial");
		if ((v = get(ps, m, "max_attempts", NULL)) &&
		    get_uint(ps, v, "retry.max_attempts", 0, 1000000, &cfg->max_attempts) < 0)
			return -1;
		if ((v = get(ps, m, "max_age", NULL)) &&
		    get_duration(ps, v, "retry.max_age", 1000, 365 * DAY_MS, &cfg->max_age_ms) < 0)
			return -1;
		if ((v = get(ps, m, "jitter", NULL)) && parse_jitter(ps, v, "retry.jitter", &cfg->jitter) < 0)
			return -1;
	}

	cfg->poll_interval_ms = 1000;
	cfg->batch = 100;
	cfg->max_in_flight = 32;
	cfg->lease_ms = max_timeout * 2 + 30000;
	if ((m = get(ps, root, "delivery", NULL))) {
		if (check_keys(ps, m, "delivery", DELIVERY_KEYS) < 0)
			return -1;
		if ((v = get(ps, m, "poll_interval", NULL)) &&
		    get_duration_u(ps, v, "delivery.poll_interval", 10, 600000, &cfg->poll_interval_ms) < 0)
			return -1;
		if ((v = get(ps, m, "batch", NULL)) &&
		    get_uint(ps, v, "delivery.batch", 1, 10000, &cfg->batch) < 0)
			return -1;
		if ((v = get(ps, m, "max_in_flight", NULL)) &&
		    get_uint(ps, v, "delivery.max_in_flight", 1, 10000, &cfg->max_in_flight) < 0)
			return -1;
		if ((v = get(ps, m, "lease", NULL))) {
			if (get_duration_u(ps, v, "delivery.lease", 1000, 3600000, &cfg->lease_ms) < 0)
				return -1;
			if (cfg->lease_ms < max_timeout + 1000)
				return ERRN(ps, v, "delivery.lease", "must exceed the longest sink timeout "
					    "(%u ms) by at least 1s, or a slow request could be sent "
					    "twice", max_timeout);
		}
	}
	return 0;
}

struct notify_config *notify_config_load(const char *path, char *err, size_t errlen)
{
	char dummy[8];
	if (!err || errlen == 0) {
		err = dummy;
		errlen = sizeof dummy;
	}
	err[0] = '\0';
	size_t len;
	char *buf = read_file(path, &len, err, errlen);
	if (!buf)
		return NULL;

	struct ps ps = { .path = path, .err = err, .errlen = errlen };
	struct notify_config *cfg = NULL;
	yaml_parser_t parser;
	yaml_document_t doc;
	bool have_doc = false, ok = false;

	if (!yaml_parser_initialize(&parser)) {
		oom(&ps);
		free(buf);
		return NULL;
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
	if (!yaml_parser_load(&parser, &doc)) {
		syntax_error(&ps, &parser, buf, len);
		goto out;
	}
	have_doc = true;
	ps.doc = &doc;
	yaml_node_t *root = yaml_document_get_root_node(&doc);
	if (!root) {
		errat(&ps, 0, 0, "", "empty file: expected a mapping with keys sinks, routes, "
		      "retry, delivery");
		goto out;
	}
	{
		yaml_document_t extra;
		if (!yaml_parser_load(&parser, &extra)) {
			syntax_error(&ps, &parser, buf, len);
			goto out;
		}
		yaml_node_t *r2 = yaml_document_get_root_node(&extra);
		if (r2) {
			ERRN(&ps, r2, "", "expected a single YAML document, found a second one");
			yaml_document_delete(&extra);
			goto out;
		}
		yaml_document_delete(&extra);
	}
	ps.nnodes = (size_t)(doc.nodes.top - doc.nodes.start);
	ps.seen = calloc(ps.nnodes ? ps.nnodes : 1, 1);
	cfg = calloc(1, sizeof *cfg);
	if (!ps.seen || !cfg || !(cfg->path = strdup(path))) {
		oom(&ps);
		goto out;
	}
	if (parse_root(&ps, root, cfg) < 0)
		goto out;
	ok = true;
out:
	if (have_doc)
		yaml_document_delete(&doc); /* the file's secrets stay in libyaml's freed nodes */
	yaml_parser_delete(&parser);
	free(ps.seen);
	OPENSSL_cleanse(buf, len);
	free(buf);
	if (!ok) {
		notify_config_free(cfg);
		return NULL;
	}
	return cfg;
}

static void free_list(char **v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		free(v[i]);
	free(v);
}

void notify_config_free(struct notify_config *cfg)
{
	if (!cfg)
		return;
	for (size_t i = 0; cfg->sinks && i < cfg->nsinks; i++) {
		struct notify_sink_cfg *s = &cfg->sinks[i];
		free(s->name);
		wipe_free(s->url);
		free(s->host);
		wipe_free(s->routing_key);
		if (s->secret) {
			OPENSSL_cleanse(s->secret, s->secret_len);
			free(s->secret);
		}
		for (size_t j = 0; j < s->nheaders; j++) {
			free(s->headers[j].name);
			wipe_free(s->headers[j].value);
		}
		free(s->headers);
	}
	free(cfg->sinks);
	for (size_t i = 0; cfg->routes && i < cfg->nroutes; i++) {
		struct notify_route *r = &cfg->routes[i];
		free_list(r->severity, r->nseverity);
		free_list(r->rule, r->nrule);
		free_list(r->service, r->nservice);
		free_list(r->region, r->nregion);
		free_list(r->label_keys, r->nlabels);
		free_list(r->label_values, r->nlabels);
		free(r->sinks);
	}
	free(cfg->routes);
	free(cfg->path);
	free(cfg);
}

int notify_config_check(const char *path, char *err, size_t errlen)
{
	struct notify_config *cfg = notify_config_load(path, err, errlen);
	if (!cfg)
		return -1;
	notify_config_free(cfg);
	return 0;
}

/* ---- routing ---- */

static bool in_list(char *const *v, size_t n, const char *s)
{
	if (n == 0)
		return true;  /* not tested */
	if (!s)
		return false;
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i], s) == 0)
			return true;
	return false;
}

static bool route_matches(const struct notify_route *r, const char *severity, const char *rule,
			  const char *service, const char *region, const char *const *lk,
			  const char *const *lv, size_t nl)
{
	if (!in_list(r->severity, r->nseverity, severity) || !in_list(r->rule, r->nrule, rule) ||
	    !in_list(r->service, r->nservice, service) || !in_list(r->region, r->nregion, region))
		return false;
	for (size_t i = 0; i < r->nlabels; i++) {
		bool found = false;
		for (size_t j = 0; j < nl && !found; j++)
			found = lk[j] && lv[j] && strcmp(lk[j], r->label_keys[i]) == 0 &&
				strcmp(lv[j], r->label_values[i]) == 0;
		if (!found)
			return false;
	}
	return true;
}

static size_t add_unique(size_t *out, size_t n, size_t cap, size_t v)
{
	for (size_t i = 0; i < n; i++)
		if (out[i] == v)
			return n;
	if (n < cap)
		out[n++] = v;
	return n;
}

size_t notify_route_match(const struct notify_config *cfg, const char *severity,
			  const char *rule, const char *service, const char *region,
			  const char *const *label_keys, const char *const *label_values,
			  size_t nlabels, size_t *out, size_t cap)
{
	size_t n = 0;
	if (cfg->nroutes == 0) {
		for (size_t i = 0; i < cfg->nsinks; i++)
			n = add_unique(out, n, cap, i);
		return n;
	}
	for (size_t i = 0; i < cfg->nroutes; i++) {
		const struct notify_route *r = &cfg->routes[i];
		if (!route_matches(r, severity, rule, service, region, label_keys, label_values,
				   nlabels))
			continue;
		for (size_t j = 0; j < r->nsinks; j++)
			n = add_unique(out, n, cap, r->sinks[j]);
		if (!r->cont)
			break;
	}
	return n;
}

const char *notify_sink_type_name(enum sink_type t)
{
	switch (t) {
	case SINK_PAGERDUTY: return "pagerduty";
	case SINK_ALERTMANAGER: return "alertmanager";
	case SINK_SLACK: return "slack";
	case SINK_WEBHOOK: return "webhook";
	}
	return "?";
}
