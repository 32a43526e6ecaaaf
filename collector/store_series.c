/*
 * store_series.c - one target's series for the drill-down charts (see
 * store_series.h): both dimensions in one pass over the rollup rows
 * (GROUPING SETS), the p95 from the summed histograms (sli_percentile).
 */
#include "store_series.h"
#include "sli.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char RESOLVE_SQL[] =
	"SELECT sni FROM targets WHERE target = $1 AND port = $2::int"
	" AND ($3::text IS NULL OR sni = $3) ORDER BY last_seen DESC LIMIT 1";

/* $1 host, $2 port, $3 sni, $4 from, $5 to, $6 from ms, $7 step ms */
#define SERIES_SQL(table) \
	"SELECT GROUPING(region), coalesce(region, profile), i, sum(attempts)::int8," \
	" sum(successes)::int8" STORE_HIST_SUMS \
	" FROM (SELECT region, profile, attempts, successes, handshake_ms_hist," \
	"   ((floor(extract(epoch FROM bucket) * 1000)::int8 - $6::int8) / $7::int8)::int AS i" \
	"   FROM " table " WHERE target = $1 AND port = $2::int AND sni = $3" \
	"   AND bucket >= $4::timestamptz AND bucket < $5::timestamptz) x" \
	" GROUP BY GROUPING SETS ((region, i), (profile, i)) ORDER BY 1, 2, 3"

static const char SERIES_1M_SQL[] = SERIES_SQL("tw_rollup_1m_live($4::timestamptz, $5::timestamptz)");
static const char SERIES_1H_SQL[] = SERIES_SQL("tw_rollup_1h_live($4::timestamptz, $5::timestamptz)");

struct series_op {
	struct store_op op;
	char *host, *sni, *window, *step;
	int port;
	int64_t from_ms, to_ms, step_ms;
	bool resolved;
};

static void series_free(struct store_op *op)
{
	struct series_op *t = (struct series_op *)op;
	free(t->host);
	free(t->sni);
	free(t->window);
	free(t->step);
}

static json_t *point(int64_t t, uint64_t att, uint64_t ok, const uint64_t *hist)
{
	json_t *p = json_object();
	if (!p)
		return NULL;
	json_object_set_new(p, "t", store_json_time(t));
	json_object_set_new(p, "attempts", json_integer((json_int_t)att));
	json_object_set_new(p, "successes", json_integer((json_int_t)ok));
	json_object_set_new(p, "success_ratio", store_json_ratio(ok, att));
	json_object_set_new(p, "p95_ms", store_json_realv(hist ? sli_percentile(hist, 0.95) : NAN));
	return p;
}

/* A series of every step, empty. */
static json_t *empty_series(const struct series_op *t, const char *key, size_t npoints)
{
	json_t *pts = json_array();
	for (size_t k = 0; pts && k < npoints; k++)
		if (json_array_append_new(pts, point(t->from_ms + (int64_t)k * t->step_ms, 0, 0, NULL)))
			break;
	return pts ? json_pack("{s:s, s:o}", "key", key, "points", pts) : NULL;
}

static int series_done(struct series_op *t, PGresult *res)
{
	size_t npoints = (size_t)((t->to_ms - t->from_ms + t->step_ms - 1) / t->step_ms);
	json_t *by[2] = { json_array(), json_array() };  /* region (GROUPING 0), profile */
	json_t *cur = NULL;
	int cur_dim = -1;
	if (!by[0] || !by[1])
		goto oom;
	/* rows come sorted by dimension, key, step: a new key starts a series */
	for (int i = 0; i < PQntuples(res); i++) {
		int dim = store_int(res, i, 0) ? 1 : 0;
		const char *key = PQgetvalue(res, i, 1);
		int64_t k = store_int(res, i, 2);
		if (!cur || dim != cur_dim ||
		    strcmp(json_string_value(json_object_get(cur, "key")), key) != 0) {
			if (!(cur = empty_series(t, key, npoints)) || json_array_append_new(by[dim], cur))
				goto oom;
			cur_dim = dim;
		}
		if (k < 0 || (size_t)k >= npoints)
			continue;
		uint64_t hist[STORE_HIST_N];
		store_hist(res, i, 5, hist);
		int64_t att = store_int(res, i, 3), ok = store_int(res, i, 4);
		json_t *p = point(t->from_ms + k * t->step_ms, (uint64_t)att, (uint64_t)ok, hist);
		if (!p || json_array_set_new(json_object_get(cur, "points"), (size_t)k, p) != 0)
			goto oom;
	}
	char id[300];
	json_t *body = json_pack("{s:s, s:s*, s:s, s:s, s:o, s:o, s:o, s:o}",
				 "id", store_target_id(t->host, t->port, id, sizeof id),
				 "sni", *t->sni ? t->sni : NULL, "window", t->window, "step", t->step,
				 "from", store_json_time(t->from_ms), "to", store_json_time(t->to_ms),
				 "by_region", by[0], "by_profile", by[1]);
	return store_op_finish(&t->op, STORE_OK, body, NULL);
oom:
	json_decref(by[0]);
	json_decref(by[1]);
	return store_op_oom(&t->op);
}

static int series_step(struct store_op *op, PGresult *res)
{
	struct series_op *t = (struct series_op *)op;
	if (!res) {
		store_op_sql(op, RESOLVE_SQL);
		if (store_op_param(op, t->host) < 0 || store_op_param_int(op, t->port) < 0 ||
		    store_op_param(op, t->sni) < 0)
			return store_op_oom(op);
		return 1;
	}
	if (t->resolved)
		return series_done(t, res);
	if (PQntuples(res) == 0) {
		char id[300];
		return store_op_finish(op, STORE_NOT_FOUND, NULL, "no target \"%s\"",
				       store_target_id(t->host, t->port, id, sizeof id));
	}
	free(t->sni);
	if (!(t->sni = strdup(PQgetvalue(res, 0, 0))))
		return store_op_oom(op);
	t->resolved = true;
	store_op_sql(op, t->step_ms < 3600000 ? SERIES_1M_SQL : SERIES_1H_SQL);
	if (store_op_param(op, t->host) < 0 || store_op_param_int(op, t->port) < 0 ||
	    store_op_param(op, t->sni) < 0 || store_op_param_ms(op, t->from_ms) < 0 ||
	    store_op_param_ms(op, t->to_ms) < 0 || store_op_param_int(op, t->from_ms) < 0 ||
	    store_op_param_int(op, t->step_ms) < 0)
		return store_op_oom(op);
	return 1;
}

void store_series(struct store *s, const struct store_series_q *q, store_cb cb, void *arg)
{
	struct series_op *t = store_op_new(sizeof *t);
	if (t) {
		t->op.step = series_step;
		t->op.free = series_free;
		t->port = q->port;
		t->from_ms = q->from_ms;
		t->to_ms = q->to_ms;
		t->step_ms = q->step_ms;
		t->host = strdup(q->host);
		t->sni = q->sni ? strdup(q->sni) : NULL;
		t->window = strdup(q->window);
		t->step = strdup(q->step);
	}
	if (!t || !t->host || (q->sni && !t->sni) || !t->window || !t->step) {
		if (t) {
			series_free(&t->op);
			free(t);
		}
		struct store_answer a = { .status = STORE_ERROR, .err = "out of memory" };
		cb(arg, &a);
		return;
	}
	store_op_start(s, &t->op, cb, arg);
}
