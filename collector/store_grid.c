/*
 * store_grid.c - the regional health grid (see store_grid.h). One statement
 * sums the rollup rows of the window per target x region x profile; C folds
 * the profiles into cells (the p95 from the summed histograms, via
 * sli_percentile) and names the failing profiles.
 */
#include "store_grid.h"
#include "sli.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const store_grid_windows[] = { "5m", "1h", "24h", "7d", NULL };
static const int64_t WINDOW_MS[] = { 300000LL, 3600000LL, 86400000LL, 7 * 86400000LL };
/* How long an answer is reused (store_cache_put): the longer windows cost
 * seconds over thousands of series and change little from one refresh of
 * the dashboard to the next; the 5-minute window is always fresh. */
static const unsigned CACHE_MS[] = { 0, 10000, 30000, 60000 };

int store_grid_window(struct store_grid_q *q, const char *window, int64_t now_ms,
		      int64_t minute_retention_ms)
{
	for (int i = 0; store_grid_windows[i]; i++) {
		if (strcmp(window, store_grid_windows[i]) != 0)
			continue;
		struct sli_window w;
		sli_window(now_ms, WINDOW_MS[i], minute_retention_ms, &w);
		q->window = store_grid_windows[i];
		q->from_ms = w.from_ms;
		q->to_ms = w.to_ms;
		return 0;
	}
	return -1;
}

/* Columns of GRID_SQL. */
enum { G_TARGET, G_PORT, G_SNI, G_REGION, G_PROFILE, G_SERVICE, G_LABELS, G_ATT, G_OK,
       G_OUTCOMES, G_HIST };

/* The statement: GRID_HEAD, the window's rollup rows (sli_rows_sql: whole
 * UTC days from rollup_1d, hours from rollup_1h_live, minute edges from
 * rollup_1m), GRID_MID, the window condition (sli_window_cond), GRID_TAIL;
 * $1 service, $2 labels. The rollup rows are summed per series first and
 * joined to targets (labels) after: the sort or hash of the aggregation then
 * carries the narrow key only. The service filter reads the rollup's own
 * service column (the latest one seen per series), so a filtered grid reads
 * only that service's rows. */
static const char GRID_HEAD[] =
	"SELECT a.target, a.port, a.sni, a.region, a.profile, coalesce(t.service, a.service),"
	" coalesce(t.labels, '{}'::jsonb), a.attempts, a.successes, a.outcomes, a.h1, a.h2, a.h3,"
	" a.h4, a.h5, a.h6, a.h7, a.h8, a.h9, a.h10, a.h11, a.h12, a.h13, a.h14, a.h15, a.h16,"
	" a.h17, a.h18, a.h19, a.h20"
	" FROM (SELECT r.target, r.port, r.sni, r.region, r.profile, max(r.service) AS service,"
	"   sum(r.attempts)::int8 AS attempts, sum(r.successes)::int8 AS successes,"
	"   jsonb_agg(r.outcomes) FILTER (WHERE r.failures > 0) AS outcomes" STORE_HIST_SUMS_AS
	"   FROM ";
static const char GRID_MID[] = " r WHERE ($1::text IS NULL OR r.service = $1) AND ";
static const char GRID_TAIL[] =
	"   GROUP BY r.target, r.port, r.sni, r.region, r.profile) a"
	" LEFT JOIN targets t ON t.target = a.target AND t.port = a.port AND t.sni = a.sni"
	" WHERE ($2::jsonb IS NULL OR t.labels @> $2::jsonb)"
	" ORDER BY 6 NULLS LAST, a.target, a.port, a.sni, a.region, a.profile";

struct grid_op {
	struct store_op op;
	char *window, *service, *labels;
	char *cache_key;          /* NULL: not cached */
	char *sql;                /* the statement, while it runs */
	unsigned cache_ms;
	int64_t from_ms, to_ms;
};

static void grid_free(struct store_op *op)
{
	struct grid_op *g = (struct grid_op *)op;
	free(g->window);
	free(g->service);
	free(g->labels);
	free(g->cache_key);
	free(g->sql);
}

/* The most frequent failing outcome of a profile (ties: the name first in
 * alphabetical order) from its rows' {"outcome": n} objects. */
static const char *top_outcome(json_t *objs, json_t *sum, json_int_t *count)
{
	size_t i;
	json_t *o;
	json_array_foreach(objs, i, o) {
		const char *k;
		json_t *v;
		json_object_foreach(o, k, v) {
			if (strcmp(k, "ok") == 0 || !json_is_integer(v))
				continue;
			json_t *cur = json_object_get(sum, k);
			json_object_set_new(sum, k, json_integer((cur ? json_integer_value(cur) : 0) +
								 json_integer_value(v)));
		}
	}
	const char *best = NULL, *k;
	json_t *v;
	*count = 0;
	json_object_foreach(sum, k, v) {
		json_int_t n = json_integer_value(v);
		if (n > *count || (n == *count && best && strcmp(k, best) < 0)) {
			best = k;
			*count = n;
		}
	}
	return best;
}

/* One cell being folded from its profiles. */
struct cell {
	json_t *obj;                  /* owned until appended */
	json_t *failing;
	uint64_t att, ok, hist[STORE_HIST_N];
	bool some_profile_clean;      /* a profile with attempts and no failure */
};

static int cell_close(struct cell *c, json_t *row)
{
	if (!c->obj)
		return 0;
	double ratio = c->att ? (double)c->ok / (double)c->att : NAN;
	const char *status = ratio >= 0.99 ? "ok"
			     : (c->some_profile_clean && json_array_size(c->failing) > 0) ||
			       ratio >= 0.9 ? "degraded" : "failing";
	json_object_set_new(c->obj, "attempts", json_integer((json_int_t)c->att));
	json_object_set_new(c->obj, "successes", json_integer((json_int_t)c->ok));
	json_object_set_new(c->obj, "success_ratio", store_json_ratio(c->ok, c->att));
	json_object_set_new(c->obj, "p95_ms", store_json_realv(sli_percentile(c->hist, 0.95)));
	json_object_set_new(c->obj, "status", json_string(status));
	json_object_set_new(c->obj, "failing_profiles", c->failing);
	c->failing = NULL;
	int rc = json_array_append_new(json_object_get(row, "cells"), c->obj);
	c->obj = NULL;
	return rc;
}

static int by_failures(const void *a, const void *b)
{
	json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
	json_int_t fx = json_integer_value(json_object_get(x, "failures"));
	json_int_t fy = json_integer_value(json_object_get(y, "failures"));
	if (fx != fy)
		return fx > fy ? -1 : 1;
	return strcmp(json_string_value(json_object_get(x, "profile")),
		      json_string_value(json_object_get(y, "profile")));
}

/* Orders a cell's failing profiles: most failures first. */
static void sort_failing(json_t *arr)
{
	size_t n = json_array_size(arr);
	if (n < 2)
		return;
	json_t **v = malloc(n * sizeof *v);
	if (!v)
		return;
	for (size_t i = 0; i < n; i++)
		v[i] = json_incref(json_array_get(arr, i));
	qsort(v, n, sizeof *v, by_failures);
	json_array_clear(arr);
	for (size_t i = 0; i < n; i++)
		json_array_append_new(arr, v[i]);
	free(v);
}

static int add_profile(struct cell *c, PGresult *res, int i)
{
	int64_t att = store_int(res, i, G_ATT), ok = store_int(res, i, G_OK);
	uint64_t hist[STORE_HIST_N];
	store_hist(res, i, G_HIST, hist);
	c->att += (uint64_t)att;
	c->ok += (uint64_t)ok;
	for (int k = 0; k < STORE_HIST_N; k++)
		c->hist[k] += hist[k];
	if (att > 0 && ok == att)
		c->some_profile_clean = true;
	if (ok >= att)
		return 0;
	json_t *objs = store_json_raw(res, i, G_OUTCOMES), *sum = json_object();
	json_int_t n = 0;
	const char *top = sum ? top_outcome(objs, sum, &n) : NULL;
	const char *profile = PQgetvalue(res, i, G_PROFILE);
	char text[256];
	snprintf(text, sizeof text, "%s: %s %lld/%lld", profile, top ? top : "unknown",
		 (long long)n, (long long)att);
	json_t *fp = json_pack("{s:s, s:I, s:I, s:s, s:I, s:s}", "profile", profile,
			       "attempts", (json_int_t)att, "failures", (json_int_t)(att - ok),
			       "top_outcome", top ? top : "unknown", "top_outcome_count", n,
			       "text", text);
	json_decref(objs);
	json_decref(sum);
	return fp ? json_array_append_new(c->failing, fp) : -1;
}

static int strcmp_ptr(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static bool same(PGresult *r, int i, int j, int upto)
{
	for (int c = 0; c <= upto; c++)
		if (strcmp(PQgetvalue(r, i, c), PQgetvalue(r, j, c)) != 0)
			return false;
	return true;
}

static int grid_done(struct grid_op *g, PGresult *res)
{
	json_t *rows = json_array(), *regions = json_object(), *row = NULL;
	struct cell c = { 0 };
	if (!rows || !regions)
		goto oom;
	for (int i = 0; i < PQntuples(res); i++) {
		bool new_row = i == 0 || !same(res, i, i - 1, G_SNI);
		bool new_cell = new_row || !same(res, i, i - 1, G_REGION);
		if (new_cell) {
			sort_failing(c.failing);
			if (cell_close(&c, row) < 0)
				goto oom;
		}
		if (new_row) {
			char id[300];
			const char *sni = PQgetvalue(res, i, G_SNI);
			row = json_pack("{s:s, s:s, s:I, s:s*, s:o, s:o, s:[]}",
					"id", store_target_id(PQgetvalue(res, i, G_TARGET),
							      (int)store_int(res, i, G_PORT), id, sizeof id),
					"host", PQgetvalue(res, i, G_TARGET),
					"port", (json_int_t)store_int(res, i, G_PORT),
					"sni", *sni ? sni : NULL,
					"service", store_json_str(res, i, G_SERVICE),
					"labels", store_json_raw(res, i, G_LABELS), "cells");
			if (!row || json_array_append_new(rows, row) != 0)
				goto oom;
		}
		if (new_cell) {
			memset(&c, 0, sizeof c);
			const char *region = PQgetvalue(res, i, G_REGION);
			json_object_set_new(regions, region, json_true());
			if (!(c.obj = json_pack("{s:s}", "region", region)) ||
			    !(c.failing = json_array()))
				goto oom;
		}
		if (add_profile(&c, res, i) < 0)
			goto oom;
	}
	sort_failing(c.failing);
	if (cell_close(&c, row) < 0)
		goto oom;
	/* the columns: every region with data, sorted; cells follow that order
	 * because the statement sorts by region within a row */
	json_t *cols = json_array();
	const char **names = calloc(json_object_size(regions) + 1, sizeof *names);
	if (!cols || !names) {
		json_decref(cols);
		free(names);
		goto oom;
	}
	size_t n = 0;
	const char *k;
	json_t *v;
	json_object_foreach(regions, k, v)
		names[n++] = k;
	qsort(names, n, sizeof *names, strcmp_ptr);
	for (size_t i = 0; i < n; i++)
		json_array_append_new(cols, json_string(names[i]));
	free(names);
	json_decref(regions);
	json_t *body = json_pack("{s:s, s:o, s:o, s:o, s:o}", "window", g->window,
				 "from", store_json_time(g->from_ms), "to", store_json_time(g->to_ms),
				 "regions", cols, "rows", rows);
	if (body && g->cache_key)
		store_cache_put(g->op.s, g->cache_key, body, g->cache_ms);
	return store_op_finish(&g->op, STORE_OK, body, NULL);
oom:
	json_decref(c.obj);
	json_decref(c.failing);
	json_decref(rows);
	json_decref(regions);
	return store_op_oom(&g->op);
}

char *store_grid_sql(int64_t from_ms, int64_t to_ms)
{
	struct sli_window w = { from_ms, to_ms };
	struct strbuf b = { 0 };
	strbuf_puts(&b, GRID_HEAD);
	sli_rows_sql(&b, &w, 1);
	strbuf_puts(&b, GRID_MID);
	if (sli_rows_exact(&w))
		strbuf_puts(&b, "true");      /* the rows are the window's: no test per row */
	else
		sli_window_cond(&b, &w);
	strbuf_puts(&b, GRID_TAIL);
	return strbuf_take(&b); /* NULL when out of memory */
}

static int grid_step(struct store_op *op, PGresult *res)
{
	struct grid_op *g = (struct grid_op *)op;
	if (res)
		return grid_done(g, res);
	free(g->sql);
	if (!(g->sql = store_grid_sql(g->from_ms, g->to_ms)))
		return store_op_oom(op);
	store_op_sql(op, g->sql);
	if (store_op_param(op, g->service) < 0 || store_op_param(op, g->labels) < 0)
		return store_op_oom(op);
	return 1;
}

/* "grid\x1fWINDOW\x1fSERVICE\x1fLABELS" and its lifetime; NULL: no cache. */
static char *cache_key(const struct store_grid_q *q, unsigned *ms)
{
	*ms = 0;
	for (int i = 0; store_grid_windows[i]; i++)
		if (!strcmp(q->window, store_grid_windows[i]))
			*ms = CACHE_MS[i];
	if (!*ms)
		return NULL;
	size_t n = 16 + strlen(q->window) + (q->service ? strlen(q->service) : 0) +
		   (q->labels_json ? strlen(q->labels_json) : 0);
	char *k = malloc(n);
	if (k)
		snprintf(k, n, "grid\x1f%s\x1f%s%s\x1f%s", q->window, q->service ? "=" : "",
			 q->service ? q->service : "", q->labels_json ? q->labels_json : "");
	return k;
}

void store_grid(struct store *s, const struct store_grid_q *q, store_cb cb, void *arg)
{
	unsigned ms;
	char *key = cache_key(q, &ms);
	json_t *hit = key ? store_cache_get(s, key) : NULL;
	if (hit) {
		free(key);
		store_answer_json(s, hit, cb, arg);
		return;
	}
	struct grid_op *g = store_op_new(sizeof *g);
	if (g) {
		g->cache_key = key;
		g->cache_ms = ms;
		key = NULL;
	}
	free(key);
	if (g) {
		g->op.step = grid_step;
		g->op.free = grid_free;
		g->from_ms = q->from_ms;
		g->to_ms = q->to_ms;
		g->window = strdup(q->window);
		g->service = q->service ? strdup(q->service) : NULL;
		g->labels = q->labels_json ? strdup(q->labels_json) : NULL;
	}
	if (!g || !g->window || (q->service && !g->service) || (q->labels_json && !g->labels)) {
		if (g) {
			grid_free(&g->op);
			free(g);
		}
		struct store_answer a = { .status = STORE_ERROR, .err = "out of memory" };
		cb(arg, &a);
		return;
	}
	if (g->cache_key)
		store_op_start_shared(s, &g->op, g->cache_key, cb, arg);
	else
		store_op_start(s, &g->op, cb, arg);
}
