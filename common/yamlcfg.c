/*
 * yamlcfg.c - the generic YAML configuration walker (see yamlcfg.h).
 *
 * libyaml's marks are 0-based; every position we print is 1-based.
 */
#include "yamlcfg.h"
#include "hostport.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#define MAX_DURATION_MS (7u * 24 * 3600 * 1000)

/* ---- errors ---- */

/* Errors quote what the file said (keys, values); a control character in
 * there (a newline inside a quoted key...) must not break the one-line
 * contract of the message: it is shown as \n, \t or \xHH. */
static void one_line(char *s, size_t cap)
{
	char tmp[768];
	size_t o = 0;
	for (const unsigned char *p = (const unsigned char *)s; *p && o + 5 < sizeof tmp; p++) {
		if (*p >= 0x20 && *p != 0x7f)
			tmp[o++] = (char)*p;
		else if (*p == '\n' || *p == '\t' || *p == '\r') {
			tmp[o++] = '\\';
			tmp[o++] = *p == '\n' ? 'n' : *p == '\t' ? 't' : 'r';
		} else
			o += (size_t)snprintf(tmp + o, sizeof tmp - o, "\\x%02x", *p);
	}
	tmp[o] = '\0';
	snprintf(s, cap, "%s", tmp);
}

int yamlcfg_errat(struct yc *yc, unsigned line0, unsigned col0, const char *ctx, const char *fmt, ...)
{
	char msg[768];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	one_line(msg, sizeof msg);
	if (ctx && *ctx)
		snprintf(yc->err, yc->errlen, "%s:%u:%u: %s: %s", yc->path, line0 + 1, col0 + 1,
			 ctx, msg);
	else
		snprintf(yc->err, yc->errlen, "%s:%u:%u: %s", yc->path, line0 + 1, col0 + 1, msg);
	return -1;
}

int yamlcfg_oom(struct yc *yc)
{
	snprintf(yc->err, yc->errlen, "%s: out of memory", yc->path);
	return -1;
}

const char *yamlcfg_kind_name(const yaml_node_t *n)
{
	switch (n->type) {
	case YAML_SCALAR_NODE: return "a scalar";
	case YAML_SEQUENCE_NODE: return "a sequence";
	case YAML_MAPPING_NODE: return "a mapping";
	default: return "nothing";
	}
}

void yamlcfg_join_keys(const char *const *keys, char *buf, size_t cap)
{
	size_t off = 0;
	buf[0] = '\0';
	for (size_t i = 0; keys[i]; i++) {
		int n = snprintf(buf + off, cap - off, "%s%s", i ? ", " : "", keys[i]);
		if (n < 0 || (size_t)n >= cap - off) {
			buf[off] = '\0';       /* whole keys only, no dangling ", " */
			break;
		}
		off += (size_t)n;
	}
}

void yamlcfg_subctx(char *buf, size_t cap, const char *ctx, const char *key)
{
	/* a cut context path is still a useful error position */
	if (ctx && *ctx)
		snprintf(buf, cap, "%s.%s", ctx, key);
	else
		snprintf(buf, cap, "%s", key);
}

/* ---- nodes ---- */

yaml_node_t *yamlcfg_node(struct yc *yc, int id)
{
	return yaml_document_get_node(&yc->doc, id);
}

/* Collections may be reached only once: an alias to a mapping or sequence
 * would let a small file expand exponentially ("billion laughs"). */
int yamlcfg_visit(struct yc *yc, yaml_node_t *n, const char *ctx)
{
	size_t idx = (size_t)(n - yc->doc.nodes.start);
	if (idx >= yc->nnodes)
		return 0;
	if (yc->seen[idx])
		return YC_ERRN(yc, n, ctx, "used a second time through an alias; aliases of "
			       "mappings or sequences are not supported");
	yc->seen[idx] = 1;
	return 0;
}

int yamlcfg_want_mapping(struct yc *yc, yaml_node_t *n, const char *ctx)
{
	if (n->type != YAML_MAPPING_NODE)
		return YC_ERRN(yc, n, ctx, "expected a mapping, got %s", yamlcfg_kind_name(n));
	return yamlcfg_visit(yc, n, ctx);
}

int yamlcfg_want_sequence(struct yc *yc, yaml_node_t *n, const char *ctx)
{
	if (n->type != YAML_SEQUENCE_NODE)
		return YC_ERRN(yc, n, ctx, "expected a sequence, got %s", yamlcfg_kind_name(n));
	return yamlcfg_visit(yc, n, ctx);
}

const char *yamlcfg_want_scalar(struct yc *yc, yaml_node_t *n, const char *ctx, bool allow_empty)
{
	if (n->type != YAML_SCALAR_NODE) {
		YC_ERRN(yc, n, ctx, "expected a scalar, got %s", yamlcfg_kind_name(n));
		return NULL;
	}
	const char *s = (const char *)n->data.scalar.value;
	if (strlen(s) != n->data.scalar.length) {
		YC_ERRN(yc, n, ctx, "expected a string without NUL bytes");
		return NULL;
	}
	if (!allow_empty && *s == '\0') {
		YC_ERRN(yc, n, ctx, "expected a non-empty string");
		return NULL;
	}
	return s;
}

int yamlcfg_check_keys(struct yc *yc, yaml_node_t *map, const char *ctx, const char *const *allowed)
{
	if (yamlcfg_want_mapping(yc, map, ctx) < 0)
		return -1;
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start;
	     p < map->data.mapping.pairs.top; p++) {
		yaml_node_t *k = yamlcfg_node(yc, p->key);
		if (k->type != YAML_SCALAR_NODE)
			return YC_ERRN(yc, k, ctx, "expected a scalar key, got %s",
				       yamlcfg_kind_name(k));
		const char *ks = (const char *)k->data.scalar.value;
		bool ok = false;
		for (size_t i = 0; allowed && allowed[i]; i++)
			if (strcmp(ks, allowed[i]) == 0)
				ok = true;
		if (allowed && !ok) {
			char list[512];
			yamlcfg_join_keys(allowed, list, sizeof list);
			return YC_ERRN(yc, k, ctx, "unknown key \"%.64s\" (allowed: %s)", ks, list);
		}
		for (yaml_node_pair_t *q = map->data.mapping.pairs.start; q < p; q++) {
			yaml_node_t *k2 = yamlcfg_node(yc, q->key);
			if (strcmp((const char *)k2->data.scalar.value, ks) == 0)
				return YC_ERRN(yc, k, ctx, "duplicate key \"%.64s\" (first at "
					       "line %u, column %u)", ks,
					       (unsigned)k2->start_mark.line + 1,
					       (unsigned)k2->start_mark.column + 1);
		}
	}
	return 0;
}

yaml_node_t *yamlcfg_get(struct yc *yc, yaml_node_t *map, const char *key, yaml_node_t **keynode)
{
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start;
	     p < map->data.mapping.pairs.top; p++) {
		yaml_node_t *k = yamlcfg_node(yc, p->key);
		if (strcmp((const char *)k->data.scalar.value, key) == 0) {
			if (keynode)
				*keynode = k;
			return yamlcfg_node(yc, p->value);
		}
	}
	return NULL;
}

yaml_node_t *yamlcfg_need(struct yc *yc, yaml_node_t *map, const char *key, const char *ctx)
{
	yaml_node_t *v = yamlcfg_get(yc, map, key, NULL);
	if (!v)
		YC_ERRN(yc, map, ctx, "missing required key \"%s\"", key);
	return v;
}

/* ---- values ---- */

int yamlcfg_copy_string(struct yc *yc, yaml_node_t *n, const char *ctx, char **out)
{
	const char *s = yamlcfg_want_scalar(yc, n, ctx, false);
	if (!s)
		return -1;
	char *d = strdup(s);
	if (!d)
		return yamlcfg_oom(yc);
	free(*out);
	*out = d;
	return 0;
}

int yamlcfg_opt_string(struct yc *yc, yaml_node_t *map, const char *key, const char *ctx, char **out)
{
	yaml_node_t *v = yamlcfg_get(yc, map, key, NULL);
	if (!v)
		return 0;
	char c[256];
	yamlcfg_subctx(c, sizeof c, ctx, key);
	return yamlcfg_copy_string(yc, v, c, out);
}

int yamlcfg_req_string(struct yc *yc, yaml_node_t *map, const char *key, const char *ctx, char **out)
{
	if (!yamlcfg_need(yc, map, key, ctx))
		return -1;
	return yamlcfg_opt_string(yc, map, key, ctx, out);
}

int yamlcfg_parse_digits(const char *s, unsigned long long *out, const char **end)
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

int yamlcfg_parse_uint_range(const char *s, unsigned long long min, unsigned long long max,
			unsigned long long *out)
{
	unsigned long long v;
	const char *e;
	if (yamlcfg_parse_digits(s, &v, &e) < 0 || *e != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

int yamlcfg_parse_ms(const char *s, char largest, int64_t max_ms, int64_t *out_ms)
{
	static const struct { const char *unit; int64_t mul; } U[] = {
		{ "ms", 1 }, { "s", 1000 }, { "m", 60LL * 1000 }, { "h", 3600LL * 1000 },
		{ "d", 24LL * 3600 * 1000 }, { "w", 7LL * 24 * 3600 * 1000 },
	};
	size_t nu = largest == 'w' ? 6 : largest == 'd' ? 5 : 4;
	unsigned long long v;
	const char *e;
	if (!s || yamlcfg_parse_digits(s, &v, &e) < 0)
		return -1;
	for (size_t i = 0; i < nu; i++)
		if (strcmp(e, U[i].unit) == 0) {
			if (v > (unsigned long long)max_ms / (unsigned long long)U[i].mul)
				return -1;
			*out_ms = (int64_t)v * U[i].mul;
			return 0;
		}
	return -1;
}

int yamlcfg_parse_duration_ms(const char *s, unsigned *out_ms)
{
	int64_t ms;
	if (yamlcfg_parse_ms(s, 'h', MAX_DURATION_MS, &ms) < 0)
		return -1;
	*out_ms = (unsigned)ms;
	return 0;
}

int yamlcfg_parse_size(const char *s, uint64_t *out)
{
	unsigned long long v;
	uint64_t mul;
	const char *e;
	if (!s || yamlcfg_parse_digits(s, &v, &e) < 0)
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

int yamlcfg_u64(struct yc *yc, yaml_node_t *v, const char *ctx, unsigned long long min,
	   unsigned long long max, uint64_t *out)
{
	const char *s = yamlcfg_want_scalar(yc, v, ctx, true);
	unsigned long long x;
	if (!s)
		return -1;
	if (yamlcfg_parse_uint_range(s, min, max, &x) < 0)
		return YC_ERRN(yc, v, ctx, "expected an integer %llu-%llu, got \"%.64s\"", min, max,
			       s);
	*out = x;
	return 0;
}

int yamlcfg_uint(struct yc *yc, yaml_node_t *v, const char *ctx, unsigned long long min,
	    unsigned long long max, unsigned *out)
{
	uint64_t x;
	if (yamlcfg_u64(yc, v, ctx, min, max, &x) < 0)
		return -1;
	*out = (unsigned)x;
	return 0;
}

int yamlcfg_duration(struct yc *yc, yaml_node_t *v, const char *ctx, unsigned min_ms, unsigned *out)
{
	const char *s = yamlcfg_want_scalar(yc, v, ctx, true);
	unsigned ms;
	if (!s)
		return -1;
	if (yamlcfg_parse_duration_ms(s, &ms) < 0)
		return YC_ERRN(yc, v, ctx, "expected a duration like 500ms, 30s, 5m or 1h "
			       "(at most 7 days), got \"%.64s\"", s);
	if (ms < min_ms)
		return YC_ERRN(yc, v, ctx, "expected a duration of at least %ums, got \"%.64s\"",
			       min_ms, s);
	*out = ms;
	return 0;
}

int yamlcfg_bool(struct yc *yc, yaml_node_t *v, const char *ctx, bool *out)
{
	const char *s = yamlcfg_want_scalar(yc, v, ctx, true);
	if (!s)
		return -1;
	if (!strcmp(s, "true") || !strcmp(s, "True") || !strcmp(s, "TRUE"))
		*out = true;
	else if (!strcmp(s, "false") || !strcmp(s, "False") || !strcmp(s, "FALSE"))
		*out = false;
	else
		return YC_ERRN(yc, v, ctx, "expected true or false, got \"%.64s\"", s);
	return 0;
}

int yamlcfg_split_hostport(const char *in, char **host, unsigned *port, unsigned default_port)
{
	char buf[256], err[160];
	unsigned p = 0;
	if (hostport_parse(in, buf, sizeof buf, &p, default_port, err, sizeof err) != 0 || p == 0)
		return -1;
	*host = strdup(buf);
	if (!*host)
		return -2;
	*port = p;
	return 0;
}

/* ---- loading ---- */

static char *read_file(struct yc *yc, unsigned max_file, size_t *len)
{
	const char *path = yc->path;
	FILE *f = fopen(path, "rb");
	if (!f) {
		snprintf(yc->err, yc->errlen, "%s: cannot read: %s", path, strerror(errno));
		return NULL;
	}
	/* reading one byte past the cap tells "exactly max_file" from "more" */
	size_t limit = (size_t)max_file + 1;
	size_t cap = limit < 65536 ? limit : 65536, n = 0;
	char *buf = malloc(cap);
	if (!buf) {
		fclose(f);
		yamlcfg_oom(yc);
		return NULL;
	}
	for (;;) {
		if (n == cap) {
			if (cap >= limit) {
				snprintf(yc->err, yc->errlen, "%s: file larger than %u bytes", path,
					 max_file);
				goto fail;
			}
			size_t ncap = cap * 2 < limit ? cap * 2 : limit;
			char *nb = realloc(buf, ncap);
			if (!nb) {
				yamlcfg_oom(yc);
				goto fail;
			}
			buf = nb;
			cap = ncap;
		}
		size_t r = fread(buf + n, 1, cap - n, f);
		n += r;
		if (r == 0) {
			if (ferror(f)) {
				snprintf(yc->err, yc->errlen, "%s: cannot read: %s", path,
					 strerror(errno));
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

static void syntax_error(struct yc *yc, yaml_parser_t *p, const char *buf, size_t len)
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
		yamlcfg_oom(yc);
		return;
	}
	if (p->context)
		yamlcfg_errat(yc, line, col, "", "YAML syntax error: %s (%s at line %u, column %u)",
			 what, p->context, (unsigned)p->context_mark.line + 1,
			 (unsigned)p->context_mark.column + 1);
	else
		yamlcfg_errat(yc, line, col, "", "YAML syntax error: %s", what);
}

/* Loads the document and checks that no second one follows. */
static int load(struct yc *yc, const char *buf, size_t len, const char *const *top_keys,
		yaml_node_t **root)
{
	yaml_parser_t parser;
	int rc = -1;
	*root = NULL;
	if (!yaml_parser_initialize(&parser))
		return yamlcfg_oom(yc);
	yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
	if (!yaml_parser_load(&parser, &yc->doc)) {
		syntax_error(yc, &parser, buf, len);
		goto out;
	}
	yc->have_doc = true;
	yaml_node_t *r = yaml_document_get_root_node(&yc->doc);
	if (!r) {
		/* an empty stream: no second document can follow */
		if (top_keys) {
			char list[256];
			yamlcfg_join_keys(top_keys, list, sizeof list);
			yamlcfg_errat(yc, 0, 0, "", "empty file: expected a mapping with keys %s", list);
			goto out;
		}
		rc = 0;
		goto out;
	}
	yaml_document_t extra;
	if (!yaml_parser_load(&parser, &extra)) {
		syntax_error(yc, &parser, buf, len);
		goto out;
	}
	yaml_node_t *r2 = yaml_document_get_root_node(&extra);
	if (r2)
		YC_ERRN(yc, r2, "", "expected a single YAML document, found a second one");
	yaml_document_delete(&extra);
	if (r2)
		goto out;
	yc->nnodes = (size_t)(yc->doc.nodes.top - yc->doc.nodes.start);
	yc->seen = calloc(yc->nnodes ? yc->nnodes : 1, 1);
	if (!yc->seen) {
		yamlcfg_oom(yc);
		goto out;
	}
	*root = r;
	rc = 0;
out:
	yaml_parser_delete(&parser);
	return rc;
}

static void init(struct yc *yc, const char *path, char *err, size_t errlen)
{
	memset(yc, 0, sizeof *yc);
	yc->path = path;
	if (!err || errlen == 0) {
		err = yc->dummy;
		errlen = sizeof yc->dummy;
	}
	yc->err = err;
	yc->errlen = errlen;
	err[0] = '\0';
}

int yamlcfg_open(struct yc *yc, const char *path, unsigned max_file, const char *const *top_keys,
	    unsigned flags, char *err, size_t errlen, yaml_node_t **root)
{
	size_t len;
	init(yc, path, err, errlen);
	*root = NULL;
	char *buf = read_file(yc, max_file, &len);
	if (!buf)
		return -1;
	int rc = load(yc, buf, len, top_keys, root);
	/* the document holds its own copies of the scalars */
	if (flags & YC_WIPE)
		OPENSSL_cleanse(buf, len);
	free(buf);
	return rc;
}

int yamlcfg_open_string(struct yc *yc, const char *name, const char *buf, size_t len,
		   const char *const *top_keys, char *err, size_t errlen, yaml_node_t **root)
{
	init(yc, name, err, errlen);
	return load(yc, buf, len, top_keys, root);
}

void yamlcfg_close(struct yc *yc)
{
	if (yc->have_doc)
		yaml_document_delete(&yc->doc);
	yc->have_doc = false;
	free(yc->seen);
	yc->seen = NULL;
}
