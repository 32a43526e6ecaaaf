/*
 * notify_config.c - loads notify.yaml (see notify_config.h and
 * deploy/notify.example.yaml).
 *
 * common/yamlcfg.c loads the document and provides the walker shared by
 * every loader (so all report errors the same way); this file is the
 * notify.yaml schema: we walk the tree once copying what we keep into a
 * fresh struct notify_config, and stop at the first error, which names
 * file:line:column.
 *
 * Secret values never reach an error message: errors about a secret or a
 * URL name the key, not the value.
 */
#define _GNU_SOURCE  /* asprintf */
#include "notify_config.h"
#include "yamlcfg.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#define NOTIFY_CONFIG_MAX_FILE (1u * 1024 * 1024)
#define MAX_SINKS   256
#define MAX_ROUTES  1024
#define MAX_HEADERS 8
#define DAY_MS      (86400ll * 1000)
#define PAGERDUTY_URL "https://events.pagerduty.com/v2/enqueue"

/* ---- values ---- */

/* <n>ms|s|m|h|d into ms, between min_ms and max_ms. */
static int get_duration(struct yc *yc, yaml_node_t *v, const char *ctx, int64_t min_ms,
			int64_t max_ms, int64_t *out)
{
	const char *s = yamlcfg_want_scalar(yc, v, ctx, true);
	int64_t ms;
	if (!s)
		return -1;
	if (yamlcfg_parse_ms(s, 'd', max_ms, &ms) < 0 || ms < min_ms)
		return YC_ERRN(yc, v, ctx, "expected a duration like 500ms, 30s, 5m, 1h or 7d "
			       "between %lldms and %lldms, got \"%.64s\"", (long long)min_ms,
			       (long long)max_ms, s);
	*out = ms;
	return 0;
}

static int get_duration_u(struct yc *yc, yaml_node_t *v, const char *ctx, int64_t min_ms,
			  int64_t max_ms, unsigned *out)
{
	int64_t ms;
	if (get_duration(yc, v, ctx, min_ms, max_ms, &ms) < 0)
		return -1;
	*out = (unsigned)ms;
	return 0;
}

/* A scalar or a sequence of scalars into a new string list. */
static int get_str_list(struct yc *yc, yaml_node_t *v, const char *ctx, char ***out, size_t *n)
{
	char c[256];
	if (v->type == YAML_SCALAR_NODE) {
		if (!(*out = calloc(1, sizeof **out)))
			return yamlcfg_oom(yc);
		*n = 1;
		return yamlcfg_copy_string(yc, v, ctx, &(*out)[0]);
	}
	if (yamlcfg_want_sequence(yc, v, ctx) < 0)
		return -1;
	size_t cnt = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
	if (cnt == 0)
		return YC_ERRN(yc, v, ctx, "expected at least one value");
	if (!(*out = calloc(cnt, sizeof **out)))
		return yamlcfg_oom(yc);
	*n = cnt;
	for (size_t i = 0; i < cnt; i++) {
		snprintf(c, sizeof c, "%s[%zu]", ctx, i);
		if (yamlcfg_copy_string(yc, yamlcfg_node(yc, v->data.sequence.items.start[i]), c, &(*out)[i]) < 0)
			return -1;
	}
	return 0;
}

/* The value of NAME_env: the environment variable must be set and non-empty. */
static int from_env(struct yc *yc, yaml_node_t *v, const char *ctx, char **out)
{
	const char *name = yamlcfg_want_scalar(yc, v, ctx, false);
	if (!name)
		return -1;
	const char *val = getenv(name);
	if (!val || !*val)
		return YC_ERRN(yc, v, ctx, "environment variable %.64s is not set or empty", name);
	char *d = strdup(val);
	if (!d)
		return yamlcfg_oom(yc);
	*out = d;
	return 0;
}

/* Either KEY (inline) or KEY_env (from the environment), not both; *vnode
 * gets the node to report errors at. 1 found, 0 absent, -1 error. */
static int secret_or_env(struct yc *yc, yaml_node_t *map, const char *key, const char *ctx,
			 char **out, yaml_node_t **vnode)
{
	char envkey[64], c[256];
	snprintf(envkey, sizeof envkey, "%s_env", key);
	yaml_node_t *a = yamlcfg_get(yc, map, key, NULL), *b = yamlcfg_get(yc, map, envkey, NULL);
	if (a && b)
		return YC_ERRN(yc, b, ctx, "give %s or %s, not both", key, envkey);
	if (a) {
		yamlcfg_subctx(c, sizeof c, ctx, key);
		*vnode = a;
		return yamlcfg_copy_string(yc, a, c, out) < 0 ? -1 : 1;
	}
	if (b) {
		yamlcfg_subctx(c, sizeof c, ctx, envkey);
		*vnode = b;
		return from_env(yc, b, c, out) < 0 ? -1 : 1;
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
static int check_url(struct yc *yc, yaml_node_t *at, const char *ctx, struct notify_sink_cfg *s)
{
	CURLU *u = curl_url();
	char *scheme = NULL, *host = NULL, *port = NULL;
	int rc = -1;
	if (!u)
		return yamlcfg_oom(yc);
	if (curl_url_set(u, CURLUPART_URL, s->url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    (strcasecmp(scheme, "http") != 0 && strcasecmp(scheme, "https") != 0) ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK || !*host) {
		YC_ERRN(yc, at, ctx, "expected an http:// or https:// URL with a host");
		goto out;
	}
	if (curl_url_get(u, CURLUPART_PORT, &port, 0) != CURLUE_OK)
		port = NULL;
	if (asprintf(&s->host, "%s%s%s", host, port ? ":" : "", port ? port : "") < 0) {
		s->host = NULL;
		yamlcfg_oom(yc);
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

/* Decoded here, at load time, so a bad secret is a config error with a
 * position rather than a failed delivery later. */
int notify_config_whsec_decode(const char *secret, unsigned char **key, size_t *len)
{
	*key = NULL;
	*len = 0;
	if (!secret)
		return -1;
	if (strncmp(secret, "whsec_", 6) == 0)
		secret += 6;
	size_t n = strlen(secret), pad = 0;
	if (n == 0 || n > 4096)
		return -1;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)secret[i];
		if (c == '=') {
			pad++;
			continue;
		}
		if (pad || !(isalnum(c) || c == '+' || c == '/'))
			return -1; /* a character after padding, or not base64 */
	}
	if (pad > 2)
		return -1;
	/* accept unpadded input: pad it to a multiple of 4 */
	size_t padded = (n + 3) / 4 * 4;
	if (pad && padded != n)
		return -1;
	char *buf = malloc(padded + 1);
	unsigned char *out = malloc(padded / 4 * 3 + 1);
	if (!buf || !out) {
		free(buf);
		free(out);
		return -1;
	}
	memcpy(buf, secret, n);
	for (size_t i = n; i < padded; i++, pad++)
		buf[i] = '=';
	buf[padded] = '\0';
	int r = EVP_DecodeBlock(out, (unsigned char *)buf, (int)padded);
	OPENSSL_cleanse(buf, padded);
	free(buf);
	if (r < 0 || (size_t)r <= pad) {
		OPENSSL_cleanse(out, padded / 4 * 3);
		free(out);
		return -1;
	}
	*key = out;
	*len = (size_t)r - pad;
	return 0;
}

static int parse_sink(struct yc *yc, yaml_node_t *m, const char *ctx, struct notify_sink_cfg *s,
		      const struct notify_config *cfg, size_t idx)
{
	char c[256];
	yaml_node_t *v, *at = NULL;
	if (yamlcfg_check_keys(yc, m, ctx, SINK_KEYS) < 0)
		return -1;

	if (!(v = yamlcfg_get(yc, m, "name", NULL)))
		return YC_ERRN(yc, m, ctx, "missing required key \"name\"");
	yamlcfg_subctx(c, sizeof c, ctx, "name");
	if (yamlcfg_copy_string(yc, v, c, &s->name) < 0)
		return -1;
	if (!valid_sink_name(s->name))
		return YC_ERRN(yc, v, c, "expected 1-64 characters from A-Z a-z 0-9 _ . -, got "
			       "\"%.64s\"", s->name);
	for (size_t i = 0; i < idx; i++)
		if (strcmp(cfg->sinks[i].name, s->name) == 0)
			return YC_ERRN(yc, v, c, "duplicate sink name \"%s\"", s->name);

	if (!(v = yamlcfg_get(yc, m, "type", NULL)))
		return YC_ERRN(yc, m, ctx, "missing required key \"type\"");
	yamlcfg_subctx(c, sizeof c, ctx, "type");
	const char *t = yamlcfg_want_scalar(yc, v, c, false);
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
		return YC_ERRN(yc, v, c, "expected pagerduty, alertmanager, slack or webhook, got "
			       "\"%.64s\"", t);

	int r = secret_or_env(yc, m, "url", ctx, &s->url, &at);
	if (r < 0)
		return -1;
	if (r == 0) {
		if (s->type != SINK_PAGERDUTY)
			return YC_ERRN(yc, m, ctx, "missing required key \"url\" (or \"url_env\")");
		if (!(s->url = strdup(PAGERDUTY_URL)))
			return yamlcfg_oom(yc);
		at = m;
	}
	yamlcfg_subctx(c, sizeof c, ctx, yamlcfg_get(yc, m, "url_env", NULL) ? "url_env" : "url");
	if (check_url(yc, at, c, s) < 0)
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
				return yamlcfg_oom(yc);
			wipe_free(s->url);
			s->url = u;
		}
	}

	r = secret_or_env(yc, m, "routing_key", ctx, &s->routing_key, &at);
	if (r < 0)
		return -1;
	if (s->type == SINK_PAGERDUTY && r == 0)
		return YC_ERRN(yc, m, ctx, "a pagerduty sink needs \"routing_key\" or \"routing_key_env\"");
	if (s->type != SINK_PAGERDUTY && r == 1)
		return YC_ERRN(yc, at, ctx, "routing_key is for pagerduty sinks only");
	if (r == 1 && strlen(s->routing_key) > 256)
		return YC_ERRN(yc, at, ctx, "routing_key: expected at most 256 characters");

	char *secret = NULL;
	r = secret_or_env(yc, m, "secret", ctx, &secret, &at);
	if (r < 0)
		return -1;
	if (s->type == SINK_WEBHOOK && r == 0)
		return YC_ERRN(yc, m, ctx, "a webhook sink needs \"secret\" or \"secret_env\" "
			       "(whsec_ followed by base64)");
	if (s->type != SINK_WEBHOOK && r == 1) {
		wipe_free(secret);
		return YC_ERRN(yc, at, ctx, "secret is for webhook sinks only");
	}
	if (r == 1) {
		bool prefixed = strncmp(secret, "whsec_", 6) == 0;
		int d = prefixed ? notify_config_whsec_decode(secret, &s->secret, &s->secret_len) : -1;
		wipe_free(secret);
		yamlcfg_subctx(c, sizeof c, ctx, yamlcfg_get(yc, m, "secret_env", NULL) ? "secret_env" : "secret");
		if (d < 0 || s->secret_len < 16 || s->secret_len > 256)
			return YC_ERRN(yc, at, c, "expected \"whsec_\" followed by the base64 of a "
				       "16-256 byte key (the value is not shown)");
	}

	if ((v = yamlcfg_get(yc, m, "headers", NULL))) {
		yamlcfg_subctx(c, sizeof c, ctx, "headers");
		if (yamlcfg_check_keys(yc, v, c, NULL) < 0)
			return -1;
		size_t n = (size_t)(v->data.mapping.pairs.top - v->data.mapping.pairs.start);
		if (n > MAX_HEADERS)
			return YC_ERRN(yc, v, c, "at most %d headers", MAX_HEADERS);
		if (n && !(s->headers = calloc(n, sizeof *s->headers)))
			return yamlcfg_oom(yc);
		for (size_t i = 0; i < n; i++) {
			yaml_node_pair_t *p = &v->data.mapping.pairs.start[i];
			yaml_node_t *k = yamlcfg_node(yc, p->key), *hv = yamlcfg_node(yc, p->value);
			const char *kn = (const char *)k->data.scalar.value;
			static const char *const reserved[] = { "content-type", "content-length",
				"host", "webhook-id", "webhook-timestamp", "webhook-signature",
				"idempotency-key", "expect", "transfer-encoding", NULL };
			if (!valid_header_name(kn))
				return YC_ERRN(yc, k, c, "expected an HTTP header name, got \"%.64s\"", kn);
			for (size_t j = 0; reserved[j]; j++)
				if (strcasecmp(kn, reserved[j]) == 0)
					return YC_ERRN(yc, k, c, "header %s is set by the notifier", kn);
			char hc[300];
			snprintf(hc, sizeof hc, "%s.%s", c, kn);
			const char *hs = yamlcfg_want_scalar(yc, hv, hc, true);
			if (!hs)
				return -1;
			if (strpbrk(hs, "\r\n"))
				return YC_ERRN(yc, hv, hc, "expected a value without line breaks");
			s->headers[i].name = strdup(kn);
			s->headers[i].value = strdup(hs);
			s->nheaders = i + 1;
			if (!s->headers[i].name || !s->headers[i].value)
				return yamlcfg_oom(yc);
		}
	}

	s->timeout_ms = 10000;
	if ((v = yamlcfg_get(yc, m, "timeout", NULL))) {
		yamlcfg_subctx(c, sizeof c, ctx, "timeout");
		if (get_duration_u(yc, v, c, 100, 300000, &s->timeout_ms) < 0)
			return -1;
	}
	s->hold_ms = 90 * DAY_MS;
	if ((v = yamlcfg_get(yc, m, "hold", NULL))) {
		yamlcfg_subctx(c, sizeof c, ctx, "hold");
		if (s->type != SINK_ALERTMANAGER)
			return YC_ERRN(yc, v, c, "hold is for alertmanager sinks only");
		if (get_duration(yc, v, c, 60000, 3650 * DAY_MS, &s->hold_ms) < 0)
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

static int parse_route(struct yc *yc, yaml_node_t *m, const char *ctx, struct notify_route *r,
		       const struct notify_config *cfg)
{
	char c[256], cc[300];
	yaml_node_t *v;
	if (yamlcfg_check_keys(yc, m, ctx, ROUTE_KEYS) < 0)
		return -1;
	if ((v = yamlcfg_get(yc, m, "match", NULL))) {
		yamlcfg_subctx(c, sizeof c, ctx, "match");
		if (yamlcfg_check_keys(yc, v, c, MATCH_KEYS) < 0)
			return -1;
		struct { const char *key; char ***list; size_t *n; } lists[] = {
			{ "severity", &r->severity, &r->nseverity },
			{ "rule", &r->rule, &r->nrule },
			{ "service", &r->service, &r->nservice },
			{ "region", &r->region, &r->nregion },
		};
		for (size_t i = 0; i < sizeof lists / sizeof lists[0]; i++) {
			yaml_node_t *lv = yamlcfg_get(yc, v, lists[i].key, NULL);
			if (!lv)
				continue;
			snprintf(cc, sizeof cc, "%s.%s", c, lists[i].key);
			if (get_str_list(yc, lv, cc, lists[i].list, lists[i].n) < 0)
				return -1;
			if (!strcmp(lists[i].key, "severity"))
				for (size_t j = 0; j < r->nseverity; j++)
					if (strcmp(r->severity[j], "page") && strcmp(r->severity[j], "ticket")) {
						yaml_node_t *at = lv->type == YAML_SEQUENCE_NODE
							? yamlcfg_node(yc, lv->data.sequence.items.start[j]) : lv;
						return YC_ERRN(yc, at, cc, "expected page or ticket, got "
							       "\"%.64s\"", r->severity[j]);
					}
		}
		yaml_node_t *lv = yamlcfg_get(yc, v, "labels", NULL);
		if (lv) {
			snprintf(cc, sizeof cc, "%s.labels", c);
			if (yamlcfg_check_keys(yc, lv, cc, NULL) < 0)
				return -1;
			size_t n = (size_t)(lv->data.mapping.pairs.top - lv->data.mapping.pairs.start);
			r->label_keys = calloc(n ? n : 1, sizeof *r->label_keys);
			r->label_values = calloc(n ? n : 1, sizeof *r->label_values);
			if (!r->label_keys || !r->label_values)
				return yamlcfg_oom(yc);
			for (size_t i = 0; i < n; i++) {
				yaml_node_pair_t *p = &lv->data.mapping.pairs.start[i];
				yaml_node_t *k = yamlcfg_node(yc, p->key), *kv = yamlcfg_node(yc, p->value);
				char lc[400];
				snprintf(lc, sizeof lc, "%s.%s", cc, (const char *)k->data.scalar.value);
				if (yamlcfg_copy_string(yc, k, cc, &r->label_keys[i]) < 0)
					return -1;
				r->nlabels = i + 1;
				const char *s = yamlcfg_want_scalar(yc, kv, lc, true);
				if (!s)
					return -1;
				if (!(r->label_values[i] = strdup(s)))
					return yamlcfg_oom(yc);
			}
		}
	}
	if (!(v = yamlcfg_get(yc, m, "sinks", NULL)))
		return YC_ERRN(yc, m, ctx, "missing required key \"sinks\"");
	yamlcfg_subctx(c, sizeof c, ctx, "sinks");
	char **names = NULL;
	size_t n = 0;
	int rc = get_str_list(yc, v, c, &names, &n);
	if (rc == 0 && !(r->sinks = calloc(n, sizeof *r->sinks)))
		rc = yamlcfg_oom(yc);
	for (size_t i = 0; rc == 0 && i < n; i++) {
		yaml_node_t *at = v->type == YAML_SEQUENCE_NODE
					  ? yamlcfg_node(yc, v->data.sequence.items.start[i]) : v;
		snprintf(cc, sizeof cc, "%s[%zu]", c, i);
		if (sink_index(cfg, names[i], &r->sinks[i]) < 0)
			rc = YC_ERRN(yc, at, cc, "no sink named \"%.64s\"", names[i]);
		else
			r->nsinks = i + 1;
	}
	for (size_t i = 0; names && i < n; i++)
		free(names[i]);
	free(names);
	if (rc < 0)
		return -1;
	if ((v = yamlcfg_get(yc, m, "continue", NULL))) {
		yamlcfg_subctx(c, sizeof c, ctx, "continue");
		if (yamlcfg_bool(yc, v, c, &r->cont) < 0)
			return -1;
	}
	return 0;
}

static int parse_jitter(struct yc *yc, yaml_node_t *v, const char *ctx, double *out)
{
	const char *s = yamlcfg_want_scalar(yc, v, ctx, false);
	if (!s)
		return -1;
	char *e;
	errno = 0;
	double d = strtod(s, &e);
	if (errno || *e || !(d >= 0 && d <= 1))
		return YC_ERRN(yc, v, ctx, "expected a fraction between 0 and 1, got \"%.64s\"", s);
	*out = d;
	return 0;
}

static int parse_root(struct yc *yc, yaml_node_t *root, struct notify_config *cfg)
{
	char c[256];
	yaml_node_t *v, *m;
	if (yamlcfg_check_keys(yc, root, "", TOP_KEYS) < 0)
		return -1;

	if (!(v = yamlcfg_get(yc, root, "sinks", NULL)))
		return YC_ERRN(yc, root, "", "missing required key \"sinks\"");
	if (yamlcfg_want_sequence(yc, v, "sinks") < 0)
		return -1;
	size_t n = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
	if (n == 0 || n > MAX_SINKS)
		return YC_ERRN(yc, v, "sinks", "expected 1-%d sinks", MAX_SINKS);
	if (!(cfg->sinks = calloc(n, sizeof *cfg->sinks)))
		return yamlcfg_oom(yc);
	unsigned max_timeout = 0;
	for (size_t i = 0; i < n; i++) {
		snprintf(c, sizeof c, "sinks[%zu]", i);
		cfg->nsinks = i + 1;
		if (parse_sink(yc, yamlcfg_node(yc, v->data.sequence.items.start[i]), c, &cfg->sinks[i], cfg,
			       i) < 0)
			return -1;
		if (cfg->sinks[i].timeout_ms > max_timeout)
			max_timeout = cfg->sinks[i].timeout_ms;
	}

	if ((v = yamlcfg_get(yc, root, "routes", NULL))) {
		if (yamlcfg_want_sequence(yc, v, "routes") < 0)
			return -1;
		n = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
		if (n == 0 || n > MAX_ROUTES)
			return YC_ERRN(yc, v, "routes", "expected 1-%d routes (leave \"routes\" out to send "
				       "every alert to every sink)", MAX_ROUTES);
		if (!(cfg->routes = calloc(n, sizeof *cfg->routes)))
			return yamlcfg_oom(yc);
		for (size_t i = 0; i < n; i++) {
			snprintf(c, sizeof c, "routes[%zu]", i);
			cfg->nroutes = i + 1;
			if (parse_route(yc, yamlcfg_node(yc, v->data.sequence.items.start[i]), c,
					&cfg->routes[i], cfg) < 0)
				return -1;
		}
	}

	cfg->retry_initial_ms = 1000;
	cfg->retry_max_ms = 300000;
	cfg->max_attempts = 0;
	cfg->max_age_ms = DAY_MS;
	cfg->jitter = 0.2;
	if ((m = yamlcfg_get(yc, root, "retry", NULL))) {
		if (yamlcfg_check_keys(yc, m, "retry", RETRY_KEYS) < 0)
			return -1;
		if ((v = yamlcfg_get(yc, m, "initial", NULL)) &&
		    get_duration_u(yc, v, "retry.initial", 10, 3600000, &cfg->retry_initial_ms) < 0)
			return -1;
		if ((v = yamlcfg_get(yc, m, "max", NULL)) &&
		    get_duration_u(yc, v, "retry.max", 10, 24 * 3600000ll, &cfg->retry_max_ms) < 0)
			return -1;
		if (cfg->retry_max_ms < cfg->retry_initial_ms)
			return YC_ERRN(yc, v ? v : m, "retry.max", "must not be shorter than retry.initial");
		if ((v = yamlcfg_get(yc, m, "max_attempts", NULL)) &&
		    yamlcfg_uint(yc, v, "retry.max_attempts", 0, 1000000, &cfg->max_attempts) < 0)
			return -1;
		if ((v = yamlcfg_get(yc, m, "max_age", NULL)) &&
		    get_duration(yc, v, "retry.max_age", 1000, 365 * DAY_MS, &cfg->max_age_ms) < 0)
			return -1;
		if ((v = yamlcfg_get(yc, m, "jitter", NULL)) && parse_jitter(yc, v, "retry.jitter", &cfg->jitter) < 0)
			return -1;
	}

	cfg->poll_interval_ms = 1000;
	cfg->batch = 100;
	cfg->max_in_flight = 32;
	cfg->lease_ms = max_timeout * 2 + 30000;
	if ((m = yamlcfg_get(yc, root, "delivery", NULL))) {
		if (yamlcfg_check_keys(yc, m, "delivery", DELIVERY_KEYS) < 0)
			return -1;
		if ((v = yamlcfg_get(yc, m, "poll_interval", NULL)) &&
		    get_duration_u(yc, v, "delivery.poll_interval", 10, 600000, &cfg->poll_interval_ms) < 0)
			return -1;
		if ((v = yamlcfg_get(yc, m, "batch", NULL)) &&
		    yamlcfg_uint(yc, v, "delivery.batch", 1, 10000, &cfg->batch) < 0)
			return -1;
		if ((v = yamlcfg_get(yc, m, "max_in_flight", NULL)) &&
		    yamlcfg_uint(yc, v, "delivery.max_in_flight", 1, 10000, &cfg->max_in_flight) < 0)
			return -1;
		if ((v = yamlcfg_get(yc, m, "lease", NULL))) {
			if (get_duration_u(yc, v, "delivery.lease", 1000, 3600000, &cfg->lease_ms) < 0)
				return -1;
			if (cfg->lease_ms < max_timeout + 1000)
				return YC_ERRN(yc, v, "delivery.lease", "must exceed the longest sink timeout "
					       "(%u ms) by at least 1s, or a slow request could be sent "
					       "twice", max_timeout);
		}
	}
	return 0;
}

/* ---- loading ---- */

struct notify_config *notify_config_load(const char *path, char *err, size_t errlen)
{
	struct yc yc;
	struct notify_config *cfg = NULL;
	bool ok = false;
	/* YC_WIPE: the file's secrets stay in libyaml's freed nodes, but not in
	 * our copy of the file */
	yaml_node_t *root;
	if (yamlcfg_open(&yc, path, NOTIFY_CONFIG_MAX_FILE, TOP_KEYS, YC_WIPE, err, errlen, &root) < 0)
		goto out;
	cfg = calloc(1, sizeof *cfg);
	if (!cfg || !(cfg->path = strdup(path))) {
		yamlcfg_oom(&yc);
		goto out;
	}
	if (parse_root(&yc, root, cfg) < 0)
		goto out;
	ok = true;
out:
	yamlcfg_close(&yc);
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
