/*
 * yamlcfg.h - the generic part of our YAML configuration loaders
 * (probe/config.c, collector/col_config.c, notify_config.c, slo_config.c).
 *
 * libyaml's document API builds the node tree; a loader opens the file with
 * yamlcfg_open(), walks the tree from the root it returns with the helpers below
 * (copying what it keeps into its own fresh struct), and stops at the first
 * error. Every error is written into the caller's buffer as
 *   "FILE:LINE:COLUMN: CTX: what was expected"
 * (1-based; "FILE:LINE:COLUMN: what" when CTX is empty), except
 * "FILE: cannot read: <strerror>", "FILE: file larger than N bytes" and
 * "FILE: out of memory". CTX is the dotted path of the value, e.g.
 * "targets[2].port"; yamlcfg_subctx() builds one.
 *
 * Aliases of mappings and sequences are refused (a small file could expand
 * exponentially): every collection may be walked once, through
 * yamlcfg_want_mapping(), yamlcfg_want_sequence() or yamlcfg_check_keys().
 *
 * Ownership: struct yc owns the libyaml document; the nodes and their
 * scalar text live until yamlcfg_close(). Functions that return a string copy
 * (yamlcfg_copy_string, yamlcfg_opt_string, yamlcfg_req_string) give the caller a heap
 * string to free. Every int function returns 0 or -1 (error written).
 */
#ifndef TW_YAMLCFG_H
#define TW_YAMLCFG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <yaml.h>

struct yc {
	const char *path;          /* as given to yamlcfg_open, for messages */
	char *err;                 /* the caller's buffer (or a dummy) */
	size_t errlen;
	yaml_document_t doc;
	bool have_doc;
	unsigned char *seen;       /* collections already walked (aliases) */
	size_t nnodes;
	char dummy[8];             /* err when the caller gave none */
};

/* yamlcfg_open flags */
#define YC_WIPE 1u                 /* cleanse the file's bytes before freeing them */

/* Reads PATH (at most max_file bytes) and parses exactly one YAML
 * document into yc. Returns 0 with *root set, or -1 with the error
 * written. An empty file is an error naming top_keys ("empty file:
 * expected a mapping with keys ..."), or, when top_keys is NULL, allowed:
 * *root is NULL. err may be NULL. Call yamlcfg_close() afterwards in all cases. */
int yamlcfg_open(struct yc *yc, const char *path, unsigned max_file, const char *const *top_keys,
	    unsigned flags, char *err, size_t errlen, yaml_node_t **root)
	__attribute__((warn_unused_result));
/* The same for len bytes at buf (not copied, not kept); name stands for
 * the file in messages. */
int yamlcfg_open_string(struct yc *yc, const char *name, const char *buf, size_t len,
		   const char *const *top_keys, char *err, size_t errlen, yaml_node_t **root)
	__attribute__((warn_unused_result));
/* Frees the document; yc may then be opened again. */
void yamlcfg_close(struct yc *yc);

/* ---- errors ---- */

/* Writes "PATH:LINE:COL: CTX: MSG" (line0/col0 are 0-based); returns -1. */
int yamlcfg_errat(struct yc *yc, unsigned line0, unsigned col0, const char *ctx, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
/* The same at a node's start. */
#define YC_ERRN(yc, node, ctx, ...) \
	yamlcfg_errat((yc), (unsigned)(node)->start_mark.line, (unsigned)(node)->start_mark.column, \
		 (ctx), __VA_ARGS__)
/* "PATH: out of memory"; returns -1. */
int yamlcfg_oom(struct yc *yc);

/* "a scalar", "a sequence", "a mapping" or "nothing". */
const char *yamlcfg_kind_name(const yaml_node_t *n);
/* keys (NULL-terminated) as "a, b, c", cut to fit cap. */
void yamlcfg_join_keys(const char *const *keys, char *buf, size_t cap);
/* ctx.key, or key when ctx is empty (cut to fit cap). */
void yamlcfg_subctx(char *buf, size_t cap, const char *ctx, const char *key);

/* ---- nodes ---- */

yaml_node_t *yamlcfg_node(struct yc *yc, int id);
/* Marks collection n walked; an error if it already was (an alias). The
 * want/check functions below call it. */
int yamlcfg_visit(struct yc *yc, yaml_node_t *n, const char *ctx);
int yamlcfg_want_mapping(struct yc *yc, yaml_node_t *n, const char *ctx);
int yamlcfg_want_sequence(struct yc *yc, yaml_node_t *n, const char *ctx);
/* The scalar's text (no NUL bytes; non-empty unless allow_empty), or NULL
 * after an error. */
const char *yamlcfg_want_scalar(struct yc *yc, yaml_node_t *n, const char *ctx, bool allow_empty);
/* map must be a mapping with scalar keys, each at most once and each one
 * of `allowed` (NULL-terminated; NULL allows any key). */
int yamlcfg_check_keys(struct yc *yc, yaml_node_t *map, const char *ctx,
		  const char *const *allowed);
/* Value of `key` in a checked mapping, or NULL; *keynode (may be NULL) gets
 * the key node. */
yaml_node_t *yamlcfg_get(struct yc *yc, yaml_node_t *map, const char *key, yaml_node_t **keynode);
/* yamlcfg_get, with "missing required key" reported at the mapping when absent. */
yaml_node_t *yamlcfg_need(struct yc *yc, yaml_node_t *map, const char *key, const char *ctx);

/* ---- values ---- */

/* A non-empty string: *out is freed and replaced by a copy. */
int yamlcfg_copy_string(struct yc *yc, yaml_node_t *n, const char *ctx, char **out);
/* Optional / required string key of a checked mapping (ctx is the map's). */
int yamlcfg_opt_string(struct yc *yc, yaml_node_t *map, const char *key, const char *ctx, char **out);
int yamlcfg_req_string(struct yc *yc, yaml_node_t *map, const char *key, const char *ctx, char **out);

/* Decimal digits only (no sign, no spaces); *end gets the first non-digit. */
int yamlcfg_parse_digits(const char *s, unsigned long long *out, const char **end);
/* Digits only, the whole string, within [min, max]. */
int yamlcfg_parse_uint_range(const char *s, unsigned long long min, unsigned long long max,
			unsigned long long *out);
/* <n>ms|s|m|h, and d (days) and w (weeks) when `largest` is 'd' or 'w';
 * at most max_ms. */
int yamlcfg_parse_ms(const char *s, char largest, int64_t max_ms, int64_t *out_ms);
/* <n>ms|s|m|h, at most 7 days (config_parse_duration_ms). */
int yamlcfg_parse_duration_ms(const char *s, unsigned *out_ms);
/* <n>[B|KiB|MiB|GiB] (config_parse_size). */
int yamlcfg_parse_size(const char *s, uint64_t *out);

/* "expected an integer MIN-MAX, got ..." */
int yamlcfg_uint(struct yc *yc, yaml_node_t *v, const char *ctx, unsigned long long min,
	    unsigned long long max, unsigned *out);
int yamlcfg_u64(struct yc *yc, yaml_node_t *v, const char *ctx, unsigned long long min,
	   unsigned long long max, uint64_t *out);
/* A yamlcfg_parse_duration_ms duration of at least min_ms. */
int yamlcfg_duration(struct yc *yc, yaml_node_t *v, const char *ctx, unsigned min_ms, unsigned *out);
/* true/True/TRUE or false/False/FALSE. */
int yamlcfg_bool(struct yc *yc, yaml_node_t *v, const char *ctx, bool *out);

/* host[:port] via hostport_parse(); a port is required when default_port
 * is 0. *host becomes a heap copy owned by the caller. Writes no error:
 * returns -1 when the text is not host[:port], -2 when out of memory. */
int yamlcfg_split_hostport(const char *in, char **host, unsigned *port, unsigned default_port);

#endif
