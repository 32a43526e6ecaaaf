/*
 * config.c - loads probe.yaml (see config.h and deploy/probe.example.yaml).
 *
 * libyaml's document API builds the node tree; we walk it once, copying
 * what we keep into a fresh struct probe_config, and stop at the first
 * error, which names file:line:column (libyaml's marks are 0-based).
 */
#define _GNU_SOURCE  /* qsort_r */
#include "config.h"
#include "hostport.h"
#include "log.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#define CONFIG_MAX_FILE   (64u * 1024 * 1024)
#define MAX_DURATION_MS   (7u * 24 * 3600 * 1000)
#define MIN_SPOOL_BYTES   (1024u * 1024)
#define MAX_CONCURRENCY   1000000
#define MAX_WARN_DAYS     3650
#define MAX_BATCH_RECORDS 100000
#define MIN_FSYNC_MS      10
#define MIN_HEARTBEAT_MS  100

struct ps {
	const char *path;
	yaml_document_t *doc;
	unsigned char *seen;    /* collections already walked (aliases) */
	size_t nnodes;
	char *err;
	size_t errlen;
};

static const char *const TOP_KEYS[] = { "probe", "collector", "spool", "concurrency",
					"defaults", "targets", "log", NULL };
static const char *const PROBE_KEYS[] = { "id", "region", NULL };
static const char *const COLLECTOR_KEYS[] = { "address", "ca_file", "cert_file", "key_file",
					      "batch_max_records", "batch_max_delay",
					      "heartbeat", NULL };
static const char *const SPOOL_KEYS[] = { "path", "max_bytes", "fsync_interval", NULL };
static const char *const DEFAULTS_KEYS[] = { "interval", "timeout", "profiles",
					     "expiry_warn_days", "ca_file", "revocation", NULL };
static const char *const TARGET_KEYS[] = { "host", "port", "sni", "no_sni", "connect_to",
					   "service", "labels", "profiles", "interval",
					   "timeout", "starttls", "client_cert", "client_key",
					   "ca_file", "revocation", NULL };
static const char *const LOG_KEYS[] = { "level", "json", NULL };

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

static struct config_pos pos_of(const yaml_node_t *n)
{
	struct config_pos p = { (unsigned)n->start_mark.line + 1,
				(unsigned)n->start_mark.column + 1 };
	return p;
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
		for (size_t i = 0; allowed[i]; i++)
			if (strcmp(ks, allowed[i]) == 0)
				ok = true;
		if (!ok) {
			char list[512];
			join_keys(allowed, list, sizeof list);
			return ERRN(ps, k, ctx, "unknown key \"%.64s\" (allowed: %s)", ks, list);
		}
		for (yaml_node_pair_t *q = map->data.mapping.pairs.start; q < p; q++) {
			yaml_node_t *k2 = node(ps, q->key);
			if (strcmp((const char *)k2->data.scalar.value, ks) == 0)
				return ERRN(ps, k, ctx, "duplicate key \"%s\" (first at line %u, column %u)",
					    ks, pos_of(k2).line, pos_of(k2).column);
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

static yaml_node_t *need(struct ps *ps, yaml_node_t *map, const char *key, const char *ctx)
{
	yaml_node_t *v = get(ps, map, key, NULL);
	if (!v)
		ERRN(ps, map, ctx, "missing required key \"%s\"", key);
	return v;
}

static void subctx(char *buf, size_t cap, const char *ctx, const char *key)
{
	if (ctx && *ctx)
		snprintf(buf, cap, "%s.%s", ctx, key);
	else
		snprintf(buf, cap, "%s", key);
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

/* Optional string key of a checked mapping. */
static int opt_string(struct ps *ps, yaml_node_t *map, const char *key, const char *ctx,
		      char **out)
{
	yaml_node_t *v = get(ps, map, key, NULL);
	if (!v)
		return 0;
	char c[256];
	subctx(c, sizeof c, ctx, key);
	return copy_string(ps, v, c, out);
}

static int req_string(struct ps *ps, yaml_node_t *map, const char *key, const char *ctx,
		      char **out)
{
	if (!need(ps, map, key, ctx))
		return -1;
	return opt_string(ps, map, key, ctx, out);
}

/* Decimal digits only (no sign, no spaces); *end gets the first non-digit. */
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

static int parse_uint_range(const char *s, unsigned long long min, unsigned long long max,
			    unsigned long long *out)
{
	unsigned long long v;
	const char *e;
	if (parse_digits(s, &v, &e) < 0 || *e != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

int config_parse_duration_ms(const char *s, unsigned *out_ms)
{
	unsigned long long v, mul;
	const char *e;
	if (!s || parse_digits(s, &v, &e) < 0)
		return -1;
	if (strcmp(e, "ms") == 0)
		mul = 1;
	else if (strcmp(e, "s") == 0)
		mul = 1000;
	else if (strcmp(e, "m") == 0)
		mul = 60 * 1000;
	else if (strcmp(e, "h") == 0)
		mul = 3600 * 1000;
	else
		return -1;
	if (v > MAX_DURATION_MS / mul)
		return -1;
	*out_ms = (unsigned)(v * mul);
	return 0;
}

int config_parse_size(const char *s, uint64_t *out)
{
	unsigned long long v;
	uint64_t mul;
	const char *e;
	if (!s || parse_digits(s, &v, &e) < 0)
		return -1;
	if (*e == '\0' || strcmp(e, "B") == 0)
		mul = 1;
	else if (strcmp(e, "KiB") == 0)
		mul = 1024;
	else if (strcmp(e, "MiB") == 0)
		mul = 1024 * 1024;
	else if (strcmp(e, "GiB") == 0)
		mul = 1024ull * 1024 * 1024;
	else
		return -1;
	if (v > UINT64_MAX / mul)
		return -1;
	*out = (uint64_t)v * mul;
	return 0;
}

static int get_uint(struct ps *ps, yaml_node_t *v, const char *ctx, unsigned long long min,
		    unsigned long long max, unsigned *out)
{
	const char *s = want_scalar(ps, v, ctx, true);
	unsigned long long x;
	if (!s)
		return -1;
	if (parse_uint_range(s, min, max, &x) < 0)
		return ERRN(ps, v, ctx, "expected an integer %llu-%llu, got \"%.64s\"", min, max, s);
	*out = (unsigned)x;
	return 0;
}

static int get_duration(struct ps *ps, yaml_node_t *v, const char *ctx, unsigned min_ms,
			unsigned *out)
{
	const char *s = want_scalar(ps, v, ctx, true);
	unsigned ms;
	if (!s)
		return -1;
	if (config_parse_duration_ms(s, &ms) < 0)
		return ERRN(ps, v, ctx, "expected a duration like 500ms, 30s, 5m or 1h "
			    "(at most 7 days), got \"%.64s\"", s);
	if (ms < min_ms)
		return ERRN(ps, v, ctx, "expected a duration of at least %ums, got \"%.64s\"",
			    min_ms, s);
	*out = ms;
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

static int get_revocation(struct ps *ps, yaml_node_t *v, const char *ctx,
			  enum config_revocation *out)
{
	const char *s = want_scalar(ps, v, ctx, true);
	if (!s)
		return -1;
	if (strcmp(s, "staple") == 0)
		*out = CONFIG_REV_STAPLE;
	else if (strcmp(s, "ocsp") == 0)
		*out = CONFIG_REV_OCSP;
	else
		return ERRN(ps, v, ctx, "expected staple or ocsp, got \"%.64s\"", s);
	return 0;
}

/* host[:port] via the shared parser; a port is required when
 * default_port is 0. The host is a heap copy owned by the caller. */
static int split_hostport(const char *in, char **host, unsigned *port, unsigned default_port)
{
	char buf[256], err[160];
	unsigned p = 0;
	if (hostport_parse(in, buf, sizeof buf, &p, default_port, err, sizeof err) != 0 || p == 0)
		return -1;
	*host = strdup(buf);
	if (!*host)
		return -1;
	*port = p;
	return 0;
}

static bool is_ip_literal(const char *s)
{
	unsigned char buf[16];
	return inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1;
}

static int check_hostname(struct ps *ps, yaml_node_t *v, const char *ctx, const char *s)
{
	if (strlen(s) > 253)
		return ERRN(ps, v, ctx, "expected a host name of at most 253 characters");
	for (const char *c = s; *c; c++)
		if (isspace((unsigned char)*c) || iscntrl((unsigned char)*c) || *c == '/')
			return ERRN(ps, v, ctx, "expected a host name or IP address, got \"%.64s\"", s);
	return 0;
}

static int get_profiles(struct ps *ps, yaml_node_t *v, const char *ctx, char ***out,
			struct config_pos **outpos, size_t *outn)
{
	if (want_sequence(ps, v, ctx) < 0)
		return -1;
	size_t n = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
	if (n == 0)
		return ERRN(ps, v, ctx, "expected at least one profile");
	char **names = calloc(n, sizeof *names);
	struct config_pos *pos = calloc(n, sizeof *pos);
	if (!names || !pos) {
		free(names);
		free(pos);
		return oom(ps);
	}
	*out = names;
	*outpos = pos;
	*outn = n;    /* the caller frees on error, so count is set first */
	for (size_t i = 0; i < n; i++) {
		yaml_node_t *item = node(ps, v->data.sequence.items.start[i]);
		char c[256];
		snprintf(c, sizeof c, "%s[%zu]", ctx, i);
		if (copy_string(ps, item, c, &names[i]) < 0)
			return -1;
		pos[i] = pos_of(item);
		/* A name twice would schedule the same entry twice. */
		for (size_t j = 0; j < i; j++)
			if (strcmp(names[j], names[i]) == 0)
				return ERRN(ps, item, c, "duplicate profile \"%.64s\" (first at line "
					    "%u, column %u)", names[i], pos[j].line, pos[j].column);
	}
	return 0;
}

static int copy_profiles(struct ps *ps, char **src, const struct config_pos *srcpos, size_t n,
			 char ***out, struct config_pos **outpos, size_t *outn)
{
	char **names = calloc(n, sizeof *names);
	struct config_pos *pos = calloc(n, sizeof *pos);
	if (!names || !pos) {
		free(names);
		free(pos);
		return oom(ps);
	}
	*out = names;
	*outpos = pos;
	*outn = n;
	for (size_t i = 0; i < n; i++) {
		if (!(names[i] = strdup(src[i])))
			return oom(ps);
		pos[i] = srcpos[i];
	}
	return 0;
}

static int get_labels(struct ps *ps, yaml_node_t *v, const char *ctx, struct config_target *t)
{
	if (want_mapping(ps, v, ctx) < 0)
		return -1;
	size_t n = (size_t)(v->data.mapping.pairs.top - v->data.mapping.pairs.start);
	if (n == 0)
		return 0;
	t->labels = calloc(n, sizeof *t->labels);
	if (!t->labels)
		return oom(ps);
	for (size_t i = 0; i < n; i++) {
		yaml_node_pair_t *p = &v->data.mapping.pairs.start[i];
		yaml_node_t *k = node(ps, p->key), *val = node(ps, p->value);
		const char *ks = want_scalar(ps, k, ctx, false);
		if (!ks)
			return -1;
		for (size_t j = 0; j < i; j++)
			if (strcmp(t->labels[j].key, ks) == 0)
				return ERRN(ps, k, ctx, "duplicate label \"%.64s\"", ks);
		char c[320];
		snprintf(c, sizeof c, "%s.%.64s", ctx, ks);
		const char *vs = want_scalar(ps, val, c, true);
		if (!vs)
			return -1;
		t->labels[i].key = strdup(ks);
		t->labels[i].value = strdup(vs);
		t->nlabels = i + 1;
		if (!t->labels[i].key || !t->labels[i].value)
			return oom(ps);
	}
	return 0;
}

/* ---- sections ---- */

static int parse_probe(struct ps *ps, yaml_node_t *root, struct probe_config *cfg)
{
	yaml_node_t *m = need(ps, root, "probe", "");
	if (!m || check_keys(ps, m, "probe", PROBE_KEYS) < 0)
		return -1;
	if (req_string(ps, m, "id", "probe", &cfg->probe_id) < 0 ||
	    req_string(ps, m, "region", "probe", &cfg->region) < 0)
		return -1;
	return 0;
}

static int parse_collector(struct ps *ps, yaml_node_t *root, struct probe_config *cfg)
{
	yaml_node_t *m = need(ps, root, "collector", "");
	if (!m || check_keys(ps, m, "collector", COLLECTOR_KEYS) < 0)
		return -1;
	if (req_string(ps, m, "address", "collector", &cfg->collector_address) < 0)
		return -1;
	yaml_node_t *a = get(ps, m, "address", NULL);
	if (split_hostport(cfg->collector_address, &cfg->collector_host, &cfg->collector_port,
			   0) < 0)
		return ERRN(ps, a, "collector.address",
			    "expected host:port or [ipv6]:port with a port 1-65535, got \"%.64s\"",
			    cfg->collector_address);
	if (req_string(ps, m, "ca_file", "collector", &cfg->ca_file) < 0 ||
	    req_string(ps, m, "cert_file", "collector", &cfg->cert_file) < 0 ||
	    req_string(ps, m, "key_file", "collector", &cfg->key_file) < 0)
		return -1;
	yaml_node_t *v;
	if ((v = get(ps, m, "batch_max_records", NULL)) &&
	    get_uint(ps, v, "collector.batch_max_records", 1, MAX_BATCH_RECORDS,
		     &cfg->batch_max_records) < 0)
		return -1;
	if ((v = get(ps, m, "batch_max_delay", NULL)) &&
	    get_duration(ps, v, "collector.batch_max_delay", 1, &cfg->batch_max_delay_ms) < 0)
		return -1;
	if ((v = get(ps, m, "heartbeat", NULL)) &&
	    get_duration(ps, v, "collector.heartbeat", MIN_HEARTBEAT_MS, &cfg->heartbeat_ms) < 0)
		return -1;
	return 0;
}

static int parse_spool(struct ps *ps, yaml_node_t *root, struct probe_config *cfg)
{
	yaml_node_t *m = need(ps, root, "spool", "");
	if (!m || check_keys(ps, m, "spool", SPOOL_KEYS) < 0)
		return -1;
	if (req_string(ps, m, "path", "spool", &cfg->spool_path) < 0)
		return -1;
	cfg->spool_max_bytes = 256ull * 1024 * 1024;
	yaml_node_t *v = get(ps, m, "max_bytes", NULL);
	if (v) {
		const char *s = want_scalar(ps, v, "spool.max_bytes", true);
		if (!s)
			return -1;
		if (config_parse_size(s, &cfg->spool_max_bytes) < 0)
			return ERRN(ps, v, "spool.max_bytes", "expected a size like 1048576, 512KiB, "
				    "256MiB or 2GiB, got \"%.64s\"", s);
		if (cfg->spool_max_bytes < MIN_SPOOL_BYTES)
			return ERRN(ps, v, "spool.max_bytes", "expected a size of at least 1MiB, "
				    "got \"%.64s\"", s);
	}
	cfg->spool_fsync_ms = 1000;
	if ((v = get(ps, m, "fsync_interval", NULL)) &&
	    get_duration(ps, v, "spool.fsync_interval", MIN_FSYNC_MS, &cfg->spool_fsync_ms) < 0)
		return -1;
	return 0;
}

static int parse_log(struct ps *ps, yaml_node_t *root, struct probe_config *cfg)
{
	cfg->log_level = -1;
	yaml_node_t *m = get(ps, root, "log", NULL), *v;
	if (!m)
		return 0;
	if (check_keys(ps, m, "log", LOG_KEYS) < 0)
		return -1;
	if ((v = get(ps, m, "level", NULL))) {
		const char *s = want_scalar(ps, v, "log.level", false);
		if (!s)
			return -1;
		cfg->log_level = log_level_parse(s);
		if (cfg->log_level < 0)
			return ERRN(ps, v, "log.level", "expected one of error, warn, info, debug, "
				    "got \"%.64s\"", s);
	}
	if ((v = get(ps, m, "json", NULL)) && get_bool(ps, v, "log.json", &cfg->log_json) < 0)
		return -1;
	return 0;
}

static int parse_defaults(struct ps *ps, yaml_node_t *root, struct probe_config *cfg)
{
	struct config_defaults *d = &cfg->defaults;
	d->interval_ms = 60000;
	d->timeout_ms = 10000;
	d->expiry_warn_days = 30;
	yaml_node_t *m = get(ps, root, "defaults", NULL), *v;
	if (m && check_keys(ps, m, "defaults", DEFAULTS_KEYS) < 0)
		return -1;
	if (m && (v = get(ps, m, "interval", NULL)) &&
	    get_duration(ps, v, "defaults.interval", 1000, &d->interval_ms) < 0)
		return -1;
	if (m && (v = get(ps, m, "timeout", NULL)) &&
	    get_duration(ps, v, "defaults.timeout", 1, &d->timeout_ms) < 0)
		return -1;
	if (m && (v = get(ps, m, "expiry_warn_days", NULL)) &&
	    get_uint(ps, v, "defaults.expiry_warn_days", 0, MAX_WARN_DAYS,
		     &d->expiry_warn_days) < 0)
		return -1;
	if (m && opt_string(ps, m, "ca_file", "defaults", &d->ca_file) < 0)
		return -1;
	if (m && (v = get(ps, m, "revocation", NULL)) &&
	    get_revocation(ps, v, "defaults.revocation", &d->revocation) < 0)
		return -1;
	if (m && (v = get(ps, m, "profiles", NULL)))
		return get_profiles(ps, v, "defaults.profiles", &d->profiles, &d->profile_pos,
				    &d->nprofiles);
	/* Built-in default: [modern], positioned at the defaults mapping or top. */
	d->profiles = calloc(1, sizeof *d->profiles);
	d->profile_pos = calloc(1, sizeof *d->profile_pos);
	if (!d->profiles || !d->profile_pos)
		return oom(ps);
	d->nprofiles = 1;
	if (!(d->profiles[0] = strdup("modern")))
		return oom(ps);
	d->profile_pos[0] = pos_of(m ? m : root);
	return 0;
}

static int parse_target(struct ps *ps, yaml_node_t *m, size_t idx, struct probe_config *cfg,
			struct config_target *t)
{
	char ctx[64], c[128];
	yaml_node_t *v, *nosni_key = NULL;
	snprintf(ctx, sizeof ctx, "targets[%zu]", idx);
	if (check_keys(ps, m, ctx, TARGET_KEYS) < 0)
		return -1;
	t->pos = pos_of(m);
	t->interval_ms = cfg->defaults.interval_ms;
	t->timeout_ms = cfg->defaults.timeout_ms;
	t->expiry_warn_days = cfg->defaults.expiry_warn_days;
	t->revocation = cfg->defaults.revocation;
	t->port = 443;

	if (req_string(ps, m, "host", ctx, &t->host) < 0)
		return -1;
	snprintf(c, sizeof c, "%s.host", ctx);
	if (check_hostname(ps, get(ps, m, "host", NULL), c, t->host) < 0)
		return -1;
	snprintf(c, sizeof c, "%s.port", ctx);
	if ((v = get(ps, m, "port", NULL)) && get_uint(ps, v, c, 1, 65535, &t->port) < 0)
		return -1;

	if (opt_string(ps, m, "sni", ctx, &t->sni) < 0)
		return -1;
	if (t->sni) {
		snprintf(c, sizeof c, "%s.sni", ctx);
		if (check_hostname(ps, get(ps, m, "sni", NULL), c, t->sni) < 0)
			return -1;
	}
	snprintf(c, sizeof c, "%s.no_sni", ctx);
	if ((v = get(ps, m, "no_sni", &nosni_key)) && get_bool(ps, v, c, &t->no_sni) < 0)
		return -1;
	if (t->no_sni && t->sni)
		return ERRN(ps, nosni_key, ctx, "sni and no_sni: true are mutually exclusive "
			    "(give one or the other)");
	if (!t->no_sni && !t->sni && !is_ip_literal(t->host) && !(t->sni = strdup(t->host)))
		return oom(ps);

	if ((v = get(ps, m, "connect_to", NULL))) {
		snprintf(c, sizeof c, "%s.connect_to", ctx);
		const char *s = want_scalar(ps, v, c, false);
		if (!s)
			return -1;
		if (split_hostport(s, &t->connect_host, &t->connect_port, t->port) < 0)
			return ERRN(ps, v, c, "expected host, host:port or [ipv6]:port with a port "
				    "1-65535, got \"%.64s\"", s);
	}
	if (opt_string(ps, m, "service", ctx, &t->service) < 0)
		return -1;
	snprintf(c, sizeof c, "%s.labels", ctx);
	if ((v = get(ps, m, "labels", NULL)) && get_labels(ps, v, c, t) < 0)
		return -1;

	snprintf(c, sizeof c, "%s.profiles", ctx);
	if ((v = get(ps, m, "profiles", NULL))) {
		if (get_profiles(ps, v, c, &t->profiles, &t->profile_pos, &t->nprofiles) < 0)
			return -1;
	} else if (copy_profiles(ps, cfg->defaults.profiles, cfg->defaults.profile_pos,
				 cfg->defaults.nprofiles, &t->profiles, &t->profile_pos,
				 &t->nprofiles) < 0) {
		return -1;
	}

	snprintf(c, sizeof c, "%s.interval", ctx);
	if ((v = get(ps, m, "interval", NULL)) && get_duration(ps, v, c, 1000, &t->interval_ms) < 0)
		return -1;
	snprintf(c, sizeof c, "%s.timeout", ctx);
	if ((v = get(ps, m, "timeout", NULL)) && get_duration(ps, v, c, 1, &t->timeout_ms) < 0)
		return -1;

	if ((v = get(ps, m, "starttls", NULL))) {
		snprintf(c, sizeof c, "%s.starttls", ctx);
		const char *s = want_scalar(ps, v, c, false);
		if (!s)
			return -1;
		if (starttls_parse(s, &t->starttls) < 0 || t->starttls == STARTTLS_NONE)
			return ERRN(ps, v, c, "unknown protocol \"%.64s\" (expected one of: smtp, "
				    "imap, pop3, ftp, postgres)", s);
	}

	if (opt_string(ps, m, "client_cert", ctx, &t->client_cert) < 0 ||
	    opt_string(ps, m, "client_key", ctx, &t->client_key) < 0)
		return -1;
	if (t->client_cert && !t->client_key) {
		yaml_node_t *k = NULL;
		get(ps, m, "client_cert", &k);
		return ERRN(ps, k, ctx, "client_cert needs client_key as well");
	}
	if (t->client_key && !t->client_cert) {
		yaml_node_t *k = NULL;
		get(ps, m, "client_key", &k);
		return ERRN(ps, k, ctx, "client_key needs client_cert as well");
	}
	if (opt_string(ps, m, "ca_file", ctx, &t->ca_file) < 0)
		return -1;
	if (!t->ca_file && cfg->defaults.ca_file && !(t->ca_file = strdup(cfg->defaults.ca_file)))
		return oom(ps);
	snprintf(c, sizeof c, "%s.revocation", ctx);
	if ((v = get(ps, m, "revocation", NULL)) && get_revocation(ps, v, c, &t->revocation) < 0)
		return -1;
	return 0;
}

/* Duplicate targets: same host, port and (effective) SNI. Sorted by key,
 * then by index, so the report names the earliest pair. */
static int cmp_target(const void *a, const void *b, void *arg)
{
	const struct config_target *ts = arg;
	const struct config_target *x = &ts[*(const size_t *)a];
	const struct config_target *y = &ts[*(const size_t *)b];
	int r = strcmp(x->host, y->host);
	if (r)
		return r;
	if (x->port != y->port)
		return x->port < y->port ? -1 : 1;
	r = strcmp(x->sni ? x->sni : "", y->sni ? y->sni : "");
	if (r)
		return r;
	if ((x->sni == NULL) != (y->sni == NULL))
		return x->sni ? 1 : -1;
	size_t i = *(const size_t *)a, j = *(const size_t *)b;
	return i < j ? -1 : i > j;
}

static int same_target(const struct config_target *x, const struct config_target *y)
{
	return strcmp(x->host, y->host) == 0 && x->port == y->port &&
	       (x->sni == NULL) == (y->sni == NULL) &&
	       (!x->sni || strcmp(x->sni, y->sni) == 0);
}

static int check_duplicates(struct ps *ps, struct probe_config *cfg)
{
	size_t n = cfg->ntargets;
	size_t *ix = malloc(n * sizeof *ix);
	if (!ix)
		return oom(ps);
	for (size_t i = 0; i < n; i++)
		ix[i] = i;
	qsort_r(ix, n, sizeof *ix, cmp_target, cfg->targets);
	size_t best_first = 0, best_second = SIZE_MAX;
	for (size_t k = 1; k < n; k++) {
		if (same_target(&cfg->targets[ix[k - 1]], &cfg->targets[ix[k]]) &&
		    (k < 2 || !same_target(&cfg->targets[ix[k - 2]], &cfg->targets[ix[k]])) &&
		    ix[k] < best_second) {
			best_first = ix[k - 1];
			best_second = ix[k];
		}
	}
	free(ix);
	if (best_second == SIZE_MAX)
		return 0;
	const struct config_target *a = &cfg->targets[best_first], *b = &cfg->targets[best_second];
	char ctx[64];
	snprintf(ctx, sizeof ctx, "targets[%zu]", best_second);
	return errat(ps, b->pos.line - 1, b->pos.column - 1, ctx,
		     "duplicate target %.128s:%u sni %.128s: same host, port and sni as "
		     "targets[%zu] at line %u, column %u",
		     b->host, b->port, b->sni ? b->sni : "(none)", best_first, a->pos.line,
		     a->pos.column);
}

static int parse_targets(struct ps *ps, yaml_node_t *root, struct probe_config *cfg)
{
	yaml_node_t *s = need(ps, root, "targets", "");
	if (!s || want_sequence(ps, s, "targets") < 0)
		return -1;
	size_t n = (size_t)(s->data.sequence.items.top - s->data.sequence.items.start);
	if (n == 0)
		return ERRN(ps, s, "targets", "expected at least one target");
	cfg->targets = calloc(n, sizeof *cfg->targets);
	if (!cfg->targets)
		return oom(ps);
	for (size_t i = 0; i < n; i++) {
		cfg->ntargets = i + 1;
		yaml_node_t *m = node(ps, s->data.sequence.items.start[i]);
		if (parse_target(ps, m, i, cfg, &cfg->targets[i]) < 0)
			return -1;
	}
	return check_duplicates(ps, cfg);
}

static int parse_root(struct ps *ps, yaml_node_t *root, struct probe_config *cfg)
{
	if (root->type != YAML_MAPPING_NODE) {
		char list[256];
		join_keys(TOP_KEYS, list, sizeof list);
		return ERRN(ps, root, "", "expected a mapping at the top level (keys: %s), got %s",
			    list, kind_name(root));
	}
	if (check_keys(ps, root, "", TOP_KEYS) < 0)
		return -1;
	if (parse_probe(ps, root, cfg) < 0 || parse_collector(ps, root, cfg) < 0 ||
	    parse_spool(ps, root, cfg) < 0)
		return -1;
	cfg->concurrency = 1000;
	yaml_node_t *v = get(ps, root, "concurrency", NULL);
	if (v && get_uint(ps, v, "concurrency", 1, MAX_CONCURRENCY, &cfg->concurrency) < 0)
		return -1;
	if (parse_log(ps, root, cfg) < 0 || parse_defaults(ps, root, cfg) < 0)
		return -1;
	return parse_targets(ps, root, cfg);
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
			if (cap >= CONFIG_MAX_FILE) {
				snprintf(err, errlen, "%s: file larger than %u bytes", path,
					 CONFIG_MAX_FILE);
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

struct probe_config *config_load(const char *path, char *err, size_t errlen)
{
	char dummy[1];
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
	struct probe_config *cfg = NULL;
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
		char list[256];
		join_keys(TOP_KEYS, list, sizeof list);
		errat(&ps, 0, 0, "", "empty file: expected a mapping with keys %s", list);
		goto out;
	}
	{
		/* Exactly one document. */
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
		yaml_document_delete(&doc);
	yaml_parser_delete(&parser);
	free(ps.seen);
	free(buf);
	if (!ok) {
		config_free(cfg);
		return NULL;
	}
	return cfg;
}

static void free_profiles(char **p, struct config_pos *pos, size_t n)
{
	for (size_t i = 0; p && i < n; i++)
		free(p[i]);
	free(p);
	free(pos);
}

void config_free(struct probe_config *cfg)
{
	if (!cfg)
		return;
	for (size_t i = 0; i < cfg->ntargets; i++) {
		struct config_target *t = &cfg->targets[i];
		free(t->host);
		free(t->sni);
		free(t->connect_host);
		free(t->service);
		for (size_t j = 0; j < t->nlabels; j++) {
			free(t->labels[j].key);
			free(t->labels[j].value);
		}
		free(t->labels);
		free_profiles(t->profiles, t->profile_pos, t->nprofiles);
		free(t->client_cert);
		free(t->client_key);
		free(t->ca_file);
	}
	free(cfg->targets);
	free_profiles(cfg->defaults.profiles, cfg->defaults.profile_pos, cfg->defaults.nprofiles);
	free(cfg->defaults.ca_file);
	free(cfg->path);
	free(cfg->probe_id);
	free(cfg->region);
	free(cfg->collector_address);
	free(cfg->collector_host);
	free(cfg->ca_file);
	free(cfg->cert_file);
	free(cfg->key_file);
	free(cfg->spool_path);
	free(cfg);
}
