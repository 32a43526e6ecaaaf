/*
 * col_config.c - loads collector.yaml (see col_config.h and
 * deploy/collector.example.yaml).
 *
 * The same walk as probe/config.c (whose static helpers are copied here, so
 * both loaders report errors the same way): libyaml's document API builds
 * the node tree, we walk it once copying what we keep into a fresh struct
 * col_config, and stop at the first error, which names file:line:column
 * (libyaml's marks are 0-based, ours 1-based).
 */
#include "col_config.h"
#include "config.h"      /* config_parse_duration_ms, config_parse_size */
#include "hostport.h"
#include "log.h"
#include "tls_ctx.h"     /* tls_check_key_file_mode */

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <yaml.h>

#define COL_CONFIG_MAX_FILE (1u * 1024 * 1024)

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

static struct col_config_pos pos_of(const yaml_node_t *n)
{
	struct col_config_pos p = { (unsigned)n->start_mark.line + 1,
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
			if (cap >= COL_CONFIG_MAX_FILE) {
				snprintf(err, errlen, "%s: file larger than %u bytes", path,
					 COL_CONFIG_MAX_FILE);
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

/* ---- collector sections ---- */

static const char *const TOP_KEYS[] = { "listen", "tls", "http", "database", "retention_days",
					"partitions_ahead_days", "limits", "log", "alerting", NULL };
static const char *const TLS_KEYS[] = { "ca_file", "cert_file", "key_file", NULL };
static const char *const HTTP_KEYS[] = { "listen", NULL };
static const char *const DB_KEYS[] = { "conninfo", "connections", "queue_max_rows", NULL };
static const char *const LIMITS_KEYS[] = { "max_frame", "max_connections", "idle_timeout",
					   "handshake_timeout", "hello_timeout",
					   "shutdown_timeout", "max_pending_rows", NULL };
static const char *const LOG_KEYS[] = { "level", "json", NULL };
static const char *const ALERTING_KEYS[] = { "slo_file", "evaluation_interval", "collector_id",
					     "external_url", "notify_file", NULL };

#define MIN_FRAME          1024u
#define MAX_FRAME          (64u * 1024 * 1024)
#define MAX_CONNECTIONS    1000000
#define MAX_DB_CONNECTIONS 64
#define MAX_ROWS           100000000ull

/* HOST:PORT (port required) at node v; *text, *host, *port are set. */
static int get_hostport(struct ps *ps, yaml_node_t *v, const char *ctx, char **text,
			char **host, unsigned *port)
{
	char buf[256], why[160];
	unsigned p = 0;
	if (copy_string(ps, v, ctx, text) < 0)
		return -1;
	if (hostport_parse(*text, buf, sizeof buf, &p, 0, why, sizeof why) != 0 || p == 0)
		return ERRN(ps, v, ctx, "expected HOST:PORT or [IPV6]:PORT with a port 1-65535, "
			    "got \"%.64s\"", *text);
	if (!(*host = strdup(buf)))
		return oom(ps);
	*port = p;
	return 0;
}

static int get_size(struct ps *ps, yaml_node_t *v, const char *ctx, uint64_t min, uint64_t max,
		    uint64_t *out)
{
	const char *s = want_scalar(ps, v, ctx, true);
	uint64_t x;
	if (!s)
		return -1;
	if (config_parse_size(s, &x) < 0)
		return ERRN(ps, v, ctx, "expected a size like 65536, 512KiB or 4MiB, got \"%.64s\"",
			    s);
	if (x < min || x > max)
		return ERRN(ps, v, ctx, "expected a size from %llu to %llu bytes, got \"%.64s\"",
			    (unsigned long long)min, (unsigned long long)max, s);
	*out = x;
	return 0;
}

static int get_u64(struct ps *ps, yaml_node_t *v, const char *ctx, unsigned long long min,
		   unsigned long long max, uint64_t *out)
{
	const char *s = want_scalar(ps, v, ctx, true);
	unsigned long long x;
	if (!s)
		return -1;
	if (parse_uint_range(s, min, max, &x) < 0)
		return ERRN(ps, v, ctx, "expected an integer %llu-%llu, got \"%.64s\"", min, max, s);
	*out = x;
	return 0;
}

/* A required file name; remembers where it was written. */
static int get_file(struct ps *ps, yaml_node_t *m, const char *key, const char *ctx,
		    char **out, struct col_config_pos *pos)
{
	if (req_string(ps, m, key, ctx, out) < 0)
		return -1;
	*pos = pos_of(get(ps, m, key, NULL));
	return 0;
}

static int parse_tls(struct ps *ps, yaml_node_t *root, struct col_config *cfg)
{
	yaml_node_t *m = need(ps, root, "tls", "");
	if (!m || check_keys(ps, m, "tls", TLS_KEYS) < 0)
		return -1;
	if (get_file(ps, m, "ca_file", "tls", &cfg->ca_file, &cfg->ca_pos) < 0 ||
	    get_file(ps, m, "cert_file", "tls", &cfg->cert_file, &cfg->cert_pos) < 0 ||
	    get_file(ps, m, "key_file", "tls", &cfg->key_file, &cfg->key_pos) < 0)
		return -1;
	return 0;
}

static int parse_http(struct ps *ps, yaml_node_t *root, struct col_config *cfg)
{
	yaml_node_t *m = get(ps, root, "http", NULL);
	if (!m)
		return 0;
	if (check_keys(ps, m, "http", HTTP_KEYS) < 0)
		return -1;
	yaml_node_t *v = need(ps, m, "listen", "http");
	if (!v)
		return -1;
	return get_hostport(ps, v, "http.listen", &cfg->http_listen, &cfg->http_host,
			    &cfg->http_port);
}

static int parse_database(struct ps *ps, yaml_node_t *root, struct col_config *cfg)
{
	yaml_node_t *m = need(ps, root, "database", ""), *v;
	if (!m || check_keys(ps, m, "database", DB_KEYS) < 0)
		return -1;
	if (req_string(ps, m, "conninfo", "database", &cfg->db_conninfo) < 0)
		return -1;
	if ((v = get(ps, m, "connections", NULL)) &&
	    get_uint(ps, v, "database.connections", 1, MAX_DB_CONNECTIONS, &cfg->db_connections) < 0)
		return -1;
	if ((v = get(ps, m, "queue_max_rows", NULL)) &&
	    get_u64(ps, v, "database.queue_max_rows", 1, MAX_ROWS, &cfg->db_queue_max_rows) < 0)
		return -1;
	return 0;
}

static int parse_limits(struct ps *ps, yaml_node_t *root, struct col_config *cfg)
{
	yaml_node_t *m = get(ps, root, "limits", NULL), *v;
	if (!m)
		return 0;
	if (check_keys(ps, m, "limits", LIMITS_KEYS) < 0)
		return -1;
	if ((v = get(ps, m, "max_frame", NULL)) &&
	    get_size(ps, v, "limits.max_frame", MIN_FRAME, MAX_FRAME, &cfg->max_frame) < 0)
		return -1;
	if ((v = get(ps, m, "max_connections", NULL)) &&
	    get_uint(ps, v, "limits.max_connections", 1, MAX_CONNECTIONS,
		     &cfg->max_connections) < 0)
		return -1;
	if ((v = get(ps, m, "idle_timeout", NULL)) &&
	    get_duration(ps, v, "limits.idle_timeout", 1000, &cfg->idle_timeout_ms) < 0)
		return -1;
	if ((v = get(ps, m, "handshake_timeout", NULL)) &&
	    get_duration(ps, v, "limits.handshake_timeout", 100, &cfg->handshake_timeout_ms) < 0)
		return -1;
	if ((v = get(ps, m, "hello_timeout", NULL)) &&
	    get_duration(ps, v, "limits.hello_timeout", 100, &cfg->hello_timeout_ms) < 0)
		return -1;
	if ((v = get(ps, m, "shutdown_timeout", NULL)) &&
	    get_duration(ps, v, "limits.shutdown_timeout", 0, &cfg->shutdown_timeout_ms) < 0)
		return -1;
	if ((v = get(ps, m, "max_pending_rows", NULL)) &&
	    get_u64(ps, v, "limits.max_pending_rows", 1, MAX_ROWS, &cfg->max_pending_rows) < 0)
		return -1;
	return 0;
}

static int parse_log(struct ps *ps, yaml_node_t *root, struct col_config *cfg)
{
	yaml_node_t *m = get(ps, root, "log", NULL), *v;
	if (!m)
		return 0;
	if (check_keys(ps, m, "log", LOG_KEYS) < 0)
		return -1;
	if ((v = get(ps, m, "level", NULL))) {
		const char *s = want_scalar(ps, v, "log.level", false);
		if (!s)
			return -1;
		int lvl = log_level_parse(s);
		if (lvl < 0)
			return ERRN(ps, v, "log.level", "expected one of error, warn, info, debug, "
				    "got \"%.64s\"", s);
		cfg->log_level = lvl;
	}
	if ((v = get(ps, m, "json", NULL)) && get_bool(ps, v, "log.json", &cfg->log_json) < 0)
		return -1;
	return 0;
}

static int parse_alerting(struct ps *ps, yaml_node_t *root, struct col_config *cfg)
{
	yaml_node_t *m = get(ps, root, "alerting", NULL), *v;
	if (!m)
		return 0;
	/* "alerting:" alone (null) turns the evaluator on with every default */
	if (m->type == YAML_SCALAR_NODE && m->data.scalar.length == 0 &&
	    m->data.scalar.style == YAML_PLAIN_SCALAR_STYLE) {
		cfg->alerting = true;
		goto id;
	}
	if (check_keys(ps, m, "alerting", ALERTING_KEYS) < 0)
		return -1;
	cfg->alerting = true;
	if ((v = get(ps, m, "slo_file", NULL))) {
		if (copy_string(ps, v, "alerting.slo_file", &cfg->slo_file) < 0)
			return -1;
		cfg->slo_pos = pos_of(v);
	}
	if ((v = get(ps, m, "notify_file", NULL))) {
		if (copy_string(ps, v, "alerting.notify_file", &cfg->notify_file) < 0)
			return -1;
		cfg->notify_pos = pos_of(v);
	}
	if ((v = get(ps, m, "evaluation_interval", NULL))) {
		if (get_duration(ps, v, "alerting.evaluation_interval", 1000,
				 &cfg->evaluation_interval_ms) < 0)
			return -1;
		if (cfg->evaluation_interval_ms > 3600000)
			return ERRN(ps, v, "alerting.evaluation_interval",
				    "expected a duration of at most 1h, got \"%.64s\"",
				    (const char *)v->data.scalar.value);
	}
	if (opt_string(ps, m, "collector_id", "alerting", &cfg->collector_id) < 0)
		return -1;
	if ((v = get(ps, m, "external_url", NULL))) {
		if (copy_string(ps, v, "alerting.external_url", &cfg->external_url) < 0)
			return -1;
		if (strncmp(cfg->external_url, "http://", 7) && strncmp(cfg->external_url, "https://", 8))
			return ERRN(ps, v, "alerting.external_url",
				    "expected an http:// or https:// URL, got \"%.64s\"",
				    cfg->external_url);
	}
id:
	if (!cfg->collector_id) {
		char host[256];
		if (gethostname(host, sizeof host) != 0)
			snprintf(host, sizeof host, "collector");
		host[sizeof host - 1] = '\0';
		char id[300];
		snprintf(id, sizeof id, "%s:%ld", host, (long)getpid());
		if (!(cfg->collector_id = strdup(id)))
			return oom(ps);
	}
	return 0;
}

static void set_defaults(struct col_config *cfg)
{
	cfg->db_connections = 4;
	cfg->db_queue_max_rows = 50000;
	cfg->retention_days = 30;
	cfg->partitions_ahead_days = 3;
	cfg->max_frame = 4u << 20;
	cfg->max_connections = 10000;
	cfg->idle_timeout_ms = 60000;
	cfg->handshake_timeout_ms = 10000;
	cfg->hello_timeout_ms = 10000;
	cfg->shutdown_timeout_ms = 10000;
	cfg->max_pending_rows = 10000;
	cfg->log_level = TWLOG_INFO;
	cfg->log_json = false;
	cfg->evaluation_interval_ms = 30000;
}

static int parse_root(struct ps *ps, yaml_node_t *root, struct col_config *cfg)
{
	yaml_node_t *v;
	if (root->type != YAML_MAPPING_NODE) {
		char list[256];
		join_keys(TOP_KEYS, list, sizeof list);
		return ERRN(ps, root, "", "expected a mapping at the top level (keys: %s), got %s",
			    list, kind_name(root));
	}
	if (check_keys(ps, root, "", TOP_KEYS) < 0)
		return -1;
	set_defaults(cfg);
	if (!(v = need(ps, root, "listen", "")) ||
	    get_hostport(ps, v, "listen", &cfg->listen, &cfg->listen_host, &cfg->listen_port) < 0)
		return -1;
	if (parse_tls(ps, root, cfg) < 0 || parse_http(ps, root, cfg) < 0 ||
	    parse_database(ps, root, cfg) < 0)
		return -1;
	if ((v = get(ps, root, "retention_days", NULL)) &&
	    get_uint(ps, v, "retention_days", 1, 3650, &cfg->retention_days) < 0)
		return -1;
	if ((v = get(ps, root, "partitions_ahead_days", NULL)) &&
	    get_uint(ps, v, "partitions_ahead_days", 1, 365, &cfg->partitions_ahead_days) < 0)
		return -1;
	if (parse_limits(ps, root, cfg) < 0 || parse_log(ps, root, cfg) < 0 ||
	    parse_alerting(ps, root, cfg) < 0)
		return -1;
	if (cfg->http_listen && strcmp(cfg->http_host, cfg->listen_host) == 0 &&
	    cfg->http_port == cfg->listen_port) {
		yaml_node_t *h = get(ps, get(ps, root, "http", NULL), "listen", NULL);
		return ERRN(ps, h, "http.listen", "expected an address other than listen (%s)",
			    cfg->listen);
	}
	return 0;
}

struct col_config *col_config_load(const char *path, char *err, size_t errlen)
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
	struct col_config *cfg = NULL;
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
		col_config_free(cfg);
		return NULL;
	}
	return cfg;
}

/* ---- files ---- */

static int file_err(const struct col_config *cfg, struct col_config_pos pos, const char *ctx,
		    char *err, size_t errlen, const char *why)
{
	snprintf(err, errlen, "%s:%u:%u: %s: %s", cfg->path, pos.line, pos.column, ctx, why);
	return -1;
}

static int check_readable(const struct col_config *cfg, const char *file,
			  struct col_config_pos pos, const char *ctx, char *err, size_t errlen)
{
	char why[512];
	if (access(file, R_OK) != 0) {
		snprintf(why, sizeof why, "cannot read %s: %s", file, strerror(errno));
		return file_err(cfg, pos, ctx, err, errlen, why);
	}
	return 0;
}

int col_config_check_files(const struct col_config *cfg, char *err, size_t errlen)
{
	char why[512];
	if (check_readable(cfg, cfg->ca_file, cfg->ca_pos, "tls.ca_file", err, errlen) < 0 ||
	    check_readable(cfg, cfg->cert_file, cfg->cert_pos, "tls.cert_file", err, errlen) < 0 ||
	    check_readable(cfg, cfg->key_file, cfg->key_pos, "tls.key_file", err, errlen) < 0)
		return -1;
	if (tls_check_key_file_mode(cfg->key_file, why, sizeof why) != 0)
		return file_err(cfg, cfg->key_pos, "tls.key_file", err, errlen, why);
	if (cfg->slo_file &&
	    check_readable(cfg, cfg->slo_file, cfg->slo_pos, "alerting.slo_file", err, errlen) < 0)
		return -1;
	if (cfg->notify_file && check_readable(cfg, cfg->notify_file, cfg->notify_pos,
					       "alerting.notify_file", err, errlen) < 0)
		return -1;
	return 0;
}

void col_config_free(struct col_config *cfg)
{
	if (!cfg)
		return;
	free(cfg->path);
	free(cfg->listen);
	free(cfg->listen_host);
	free(cfg->ca_file);
	free(cfg->cert_file);
	free(cfg->key_file);
	free(cfg->http_listen);
	free(cfg->http_host);
	free(cfg->db_conninfo);
	free(cfg->slo_file);
	free(cfg->collector_id);
	free(cfg->external_url);
	free(cfg->notify_file);
	free(cfg);
}
