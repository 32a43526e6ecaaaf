/*
 * api_params.h - the API's query parameters: each getter reads one
 * parameter of the request, validates it and either sets *out (the default
 * when the parameter is absent) and returns 0, or records why it is wrong
 * (r->bad_param, r->bad_msg: the first error wins) and returns -1; the
 * handler then answers with api_reply_bad(r). A parameter given twice is an
 * error, except label (repeatable).
 *
 * Times: RFC 3339 ("2026-12-05T00:00:00Z", fractions and offsets allowed)
 * or Unix milliseconds. Durations: a number and ms|s|m|h|d|w ("90s", "1h").
 * Cursors: opaque to clients; base64url of "v1" and fields joined by 0x1f.
 */
#ifndef TW_API_PARAMS_H
#define TW_API_PARAMS_H

#include "api_req.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define API_MAX_CURSOR_FIELDS 4

/* Records a bad parameter (printf-style message); returns -1. */
int api_param_fail(struct api_req *r, const char *name, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* The value or NULL when absent (an empty value is ""); -1 when repeated. */
int api_param_str(struct api_req *r, const char *name, const char **out);
int api_param_duration(struct api_req *r, const char *name, int64_t dflt, int64_t min_ms,
		       int64_t max_ms, int64_t *out);
int api_param_time(struct api_req *r, const char *name, int64_t dflt, int64_t *out);
int api_param_uint(struct api_req *r, const char *name, long long dflt, long long min,
		   long long max, long long *out);
/* limit: 1..API_MAX_LIMIT, default API_DEFAULT_LIMIT. */
int api_param_limit(struct api_req *r, int *out);
/* One of values (NULL-terminated): *out its index, dflt when absent. */
int api_param_enum(struct api_req *r, const char *name, const char *const *values, int dflt,
		   int *out);
int api_param_bool(struct api_req *r, const char *name, bool dflt, bool *out);
/* Every label=key:value as a JSON object text ({"k":"v"}, for jsonb @>);
 * NULL when none. Caller frees. */
int api_param_labels(struct api_req *r, char **out);
/* cursor: *n fields (malloc()ed array of malloc()ed strings, free with
 * api_cursor_free); *n = 0 and *out NULL when absent. want: how many
 * fields a cursor of this endpoint has. */
int api_param_cursor(struct api_req *r, size_t want, char ***out);
void api_cursor_free(char **fields, size_t n);
/* A cursor of n fields, NULL on out of memory. Caller frees. */
char *api_cursor_encode(const char *const *fields, size_t n);

/* A store list's "_next" key ([a, b, ...] of its last item; store_targets.h)
 * becomes the body's next_cursor, null when there is none. */
void api_list_cursor(json_t *body);
/* A store_cb for lists: api_list_cursor, then api_reply_answer. */
void api_reply_list(void *arg, struct store_answer *a);

/* "host", "host:port" or "[v6]:port" (path or query form) into host
 * (malloc()ed) and *port (0 when none). -1 when malformed. */
int api_split_target(const char *s, char **host, int *port);

#endif
