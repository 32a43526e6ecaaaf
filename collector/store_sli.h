/*
 * store_sli.h - the read behind GET /api/v1/slis: sli.c's statement
 * (sli_query_sql: the one definition of a window and of every SLI) with
 * the request's filters as parameters, and its rows as the SliList JSON of
 * collector/openapi.json (percentiles by sli_percentile, ratios null when
 * their denominator is 0).
 *
 * Ownership: a request borrows its strings; the JSON returned is the
 * caller's (json_decref).
 */
#ifndef TW_STORE_SLI_H
#define TW_STORE_SLI_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include <libpq-fe.h>

#include "sli.h"
#include "slo_config.h"
#include "store_stmt.h"

struct store_sli_req {
	int64_t now_ms;
	int64_t window_ms;
	const char *window;             /* as the client wrote it, echoed */
	int64_t minute_retention_ms;    /* see sli_window; 0 = rollup_1m kept forever */
	enum sli_group group;
	struct slo_selector sel;        /* borrowed strings; NULL fields = any */
};

/* The window the request reads (sli_window). */
void store_sli_window(const struct store_sli_req *rq, struct sli_window *w);
/* The statement; check store_stmt_failed(st). */
void store_sli_stmt(const struct store_sli_req *rq, struct store_stmt *st);
/* Its result -> {"window", "from", "to", "group_by", "items": [SliValues]}.
 * NULL with err set on a result of another shape or ENOMEM. */
json_t *store_sli_json(const struct store_sli_req *rq, const PGresult *res, char *err,
		       size_t errlen);
/* One group's values as a SliValues object (NULL on ENOMEM). */
json_t *store_sli_values_json(const struct sli_values *v);
/* Runs the read on s; cb gets {"window", ...} or an error (store.h). rq is
 * copied (its strings too): nothing of it is needed after the call. */
void store_sli_start(struct store *s, const struct store_sli_req *rq, store_cb cb, void *arg);

/* "target", "service", "region", "profile"; NULL for SLI_GROUP_NONE. */
const char *store_sli_group_name(enum sli_group g);
/* The inverse: 0, or -1 when name is none of them. */
int store_sli_group_parse(const char *name, enum sli_group *g);

#endif
