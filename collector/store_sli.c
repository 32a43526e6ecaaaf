/*
 * store_sli.c - GET /api/v1/slis from the rollups (see store_sli.h).
 */
#include "store_sli.h"
#include "sli_latency.h"
#include "twtime.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *const group_names[] = {
	[SLI_GROUP_NONE] = NULL,
	[SLI_GROUP_TARGET] = "target",
	[SLI_GROUP_SERVICE] = "service",
	[SLI_GROUP_REGION] = "region",
	[SLI_GROUP_PROFILE] = "profile",
};

const char *store_sli_group_name(enum sli_group g)
{
	return (size_t)g < sizeof group_names / sizeof group_names[0] ? group_names[g] : NULL;
}

int store_sli_group_parse(const char *name, enum sli_group *g)
{
	for (size_t i = 0; i < sizeof group_names / sizeof group_names[0]; i++)
		if (group_names[i] && strcmp(group_names[i], name) == 0) {
			*g = (enum sli_group)i;
			return 0;
		}
	return -1;
}

void store_sli_window(const struct store_sli_req *rq, struct sli_window *w)
{
	sli_window(rq->now_ms, rq->window_ms, rq->minute_retention_ms, w);
}

void store_sli_stmt(const struct store_sli_req *rq, struct store_stmt *st)
{
	struct sli_window w;
	store_sli_window(rq, &w);
	sli_query_sql(&st->sql, &st->p, &rq->sel, &w, rq->group);
}

/* A ratio or percentile: null when it has no value (NAN), never 0. */
static json_t *num_or_null(double v)
{
	return isnan(v) ? json_null() : json_real(v);
}

static json_t *time_or_null(int64_t ms)
{
	char t[48];
	return ms == INT64_MIN ? json_null() : json_string(twtime_rfc3339_ms(ms, t, sizeof t));
}

json_t *store_sli_values_json(const struct sli_values *v)
{
	json_t *hist = json_array();
	for (int k = 0; hist && k < SLI_LATENCY_BUCKETS; k++) {
		json_t *b = json_pack("{s:f, s:o, s:I}", "lower_ms", sli_latency_bounds[k], "upper_ms",
				      k + 1 < SLI_LATENCY_BUCKETS ? json_real(sli_latency_bounds[k + 1])
								  : json_null(),
				      "count", (json_int_t)v->hist[k]);
		if (!b || json_array_append_new(hist, b) < 0) {
			json_decref(hist);
			return NULL;
		}
	}
	if (!hist)
		return NULL;
	return json_pack("{s:o, s:I, s:I, s:I, s:I, s:I, s:o, s:o, s:o, s:o, s:o, s:I, s:I, s:o, "
			 "s:o, s:o, s:o, s:o}",
			 "group", v->group ? json_string(v->group) : json_null(),
			 "attempts", (json_int_t)v->attempts, "successes", (json_int_t)v->successes,
			 "failures", (json_int_t)v->failures, "handshakes", (json_int_t)v->handshakes,
			 "timed", (json_int_t)v->timed, "success_rate", num_or_null(v->success_rate),
			 "p95_ms", num_or_null(v->p95_ms), "p99_ms", num_or_null(v->p99_ms),
			 "min_days_to_expiry", num_or_null(v->min_days_to_expiry),
			 "min_chain_not_after", time_or_null(v->min_chain_not_after_ms),
			 "mtls_attempts", (json_int_t)v->mtls_attempts,
			 "mtls_failures", (json_int_t)v->mtls_failures,
			 "mtls_failure_rate", num_or_null(v->mtls_failure_rate),
			 "ocsp_stapling_rate", num_or_null(v->ocsp_stapling_rate),
			 "cipher_fallback_rate", num_or_null(v->cipher_fallback_rate),
			 "sni_mismatch_rate", num_or_null(v->sni_mismatch_rate),
			 "latency_histogram", hist);
}

json_t *store_sli_json(const struct store_sli_req *rq, const PGresult *res, char *err,
		       size_t errlen)
{
	struct sli_values *v = NULL;
	size_t n = 0;
	struct sli_window w;
	char from[48], to[48];
	if (sli_values_decode(res, &v, &n, err, errlen) < 0)
		return NULL;
	store_sli_window(rq, &w);
	const char *g = store_sli_group_name(rq->group);
	json_t *items = json_array();
	json_t *out = items ? json_pack("{s:s, s:s, s:s, s:o, s:O}", "window", rq->window ? rq->window : "",
					"from", twtime_rfc3339_ms(w.from_ms, from, sizeof from),
					"to", twtime_rfc3339_ms(w.to_ms, to, sizeof to),
					"group_by", g ? json_string(g) : json_null(), "items", items)
			    : NULL;
	for (size_t i = 0; out && i < n; i++) {
		json_t *x = store_sli_values_json(&v[i]);
		if (!x || json_array_append_new(items, x) < 0) {
			json_decref(out);
			out = NULL;
		}
	}
	json_decref(items);
	sli_values_free(v, n);
	if (!out)
		snprintf(err, errlen, "out of memory");
	return out;
}

struct sli_op {
	struct store_stmt_op so;
	struct store_sli_req rq;        /* sel cleared: only the window and group are used */
	char *window;
};

static json_t *sli_decode(struct store_stmt_op *o, PGresult *res, enum store_status *status,
			  char *err, size_t errlen)
{
	struct sli_op *x = (struct sli_op *)o;
	*status = STORE_ERROR;
	return store_sli_json(&x->rq, res, err, errlen);
}

static void sli_cleanup(struct store_stmt_op *o)
{
	free(((struct sli_op *)o)->window);
}

void store_sli_start(struct store *s, const struct store_sli_req *rq, store_cb cb, void *arg)
{
	struct sli_op *x = store_stmt_op_new(sizeof *x);
	if (!x) {
		struct store_answer a = { .status = STORE_ERROR, .err = "out of memory" };
		cb(arg, &a);
		return;
	}
	x->so.decode = sli_decode;
	x->so.cleanup = sli_cleanup;
	store_sli_stmt(rq, &x->so.st);
	x->rq = *rq;
	memset(&x->rq.sel, 0, sizeof x->rq.sel);
	x->window = strdup(rq->window ? rq->window : "");
	x->rq.window = x->window;
	if (!x->window)
		x->so.st.p.oom = true;
	store_stmt_op_start(s, &x->so, cb, arg);
}
