/*
 * store_slo.c - SLO status for GET /api/v1/slos (see store_slo.h).
 */
#include "store_slo.h"
#include "burn.h"
#include "sli.h"
#include "sli_latency.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define MAX_WIN 32

struct slo_state {
	int64_t win_ms[MAX_WIN];        /* distinct windows, ascending */
	uint64_t events[MAX_WIN], bad[MAX_WIN];
	size_t nwin;
	bool *firing;                   /* per rule */
};

struct store_slo_run {
	const struct slo_config *cfg;
	int64_t now_ms, minute_retention_ms;
	struct slo_state *s;            /* cfg->nslos */
	bool alerts_done;               /* the firing-alerts statement was fed */
	size_t next_slo, next_win;      /* the next (SLO, window) to ask for */
	size_t cur_slo, cur_win;        /* the one being run */
};

static void add_win(struct slo_state *s, int64_t ms)
{
	size_t i = 0;
	while (i < s->nwin && s->win_ms[i] < ms)
		i++;
	if ((i < s->nwin && s->win_ms[i] == ms) || s->nwin == MAX_WIN)
		return;
	memmove(&s->win_ms[i + 1], &s->win_ms[i], (s->nwin - i) * sizeof s->win_ms[0]);
	s->win_ms[i] = ms;
	s->nwin++;
}

static size_t win_index(const struct slo_state *s, int64_t ms)
{
	for (size_t i = 0; i < s->nwin; i++)
		if (s->win_ms[i] == ms)
			return i;
	return 0;
}

struct store_slo_run *store_slo_new(const struct slo_config *cfg, int64_t now_ms,
				    int64_t minute_retention_ms)
{
	struct store_slo_run *r = calloc(1, sizeof *r);
	if (!r)
		return NULL;
	r->cfg = cfg;
	r->now_ms = now_ms;
	r->minute_retention_ms = minute_retention_ms;
	size_t n = cfg ? cfg->nslos : 0;
	r->s = calloc(n ? n : 1, sizeof *r->s);
	if (!r->s)
		goto oom;
	for (size_t i = 0; i < n; i++) {
		const struct slo *o = &cfg->slos[i];
		struct slo_state *s = &r->s[i];
		add_win(s, o->window_ms);
		for (size_t j = 0; j < o->nrules; j++) {
			add_win(s, o->rules[j].long_ms);
			add_win(s, o->rules[j].short_ms);
		}
		if (!(s->firing = calloc(o->nrules ? o->nrules : 1, sizeof *s->firing)))
			goto oom;
	}
	return r;
oom:
	store_slo_free(r);
	return NULL;
}

void store_slo_free(struct store_slo_run *r)
{
	if (!r)
		return;
	for (size_t i = 0; r->s && r->cfg && i < r->cfg->nslos; i++)
		free(r->s[i].firing);
	free(r->s);
	free(r);
}

int store_slo_next(struct store_slo_run *r, struct store_stmt *st)
{
	size_t n = r->cfg ? r->cfg->nslos : 0;
	if (n == 0)
		return 0;
	if (!r->alerts_done) {
		strbuf_puts(&st->sql, "SELECT rule, subject FROM alerts WHERE state = 'firing'");
		return store_stmt_failed(st) ? -1 : 1;
	}
	while (r->next_slo < n && r->next_win >= r->s[r->next_slo].nwin) {
		r->next_slo++;
		r->next_win = 0;
	}
	if (r->next_slo >= n)
		return 0;
	struct sli_window w;
	sli_window(r->now_ms, r->s[r->next_slo].win_ms[r->next_win], r->minute_retention_ms, &w);
	sli_query_sql(&st->sql, &st->p, &r->cfg->slos[r->next_slo].sel, &w, SLI_GROUP_NONE);
	r->cur_slo = r->next_slo;
	r->cur_win = r->next_win++;
	return store_stmt_failed(st) ? -1 : 1;
}

int store_slo_feed(struct store_slo_run *r, const PGresult *res, char *err, size_t errlen)
{
	if (!r->alerts_done) {
		for (int i = 0; i < PQntuples(res); i++) {
			const char *rule = PQgetvalue(res, i, 0), *subj = PQgetvalue(res, i, 1);
			for (size_t k = 0; k < r->cfg->nslos; k++) {
				const struct slo *o = &r->cfg->slos[k];
				if (strcmp(o->name, subj) != 0)
					continue;
				for (size_t j = 0; j < o->nrules; j++)
					if (strcmp(o->rules[j].name, rule) == 0)
						r->s[k].firing[j] = true;
			}
		}
		r->alerts_done = true;
		return 0;
	}
	struct sli_values *v = NULL;
	size_t n = 0;
	if (sli_values_decode(res, &v, &n, err, errlen) < 0)
		return -1;
	const struct slo *o = &r->cfg->slos[r->cur_slo];
	struct slo_state *s = &r->s[r->cur_slo];
	uint64_t events = 0, bad = 0;
	if (n == 1) {
		if (o->sli == SLO_SLI_AVAILABILITY) {
			events = v[0].attempts;
			bad = v[0].failures;
		} else {
			/* good = handshake_ms < threshold_ms = buckets 1..k */
			int k = sli_latency_bound_index(o->threshold_ms);
			uint64_t good = 0;
			for (int i = 0; i < k && i < SLI_LATENCY_BUCKETS; i++)
				good += v[0].hist[i];
			events = v[0].timed;
			bad = events >= good ? events - good : 0;
		}
	}
	s->events[r->cur_win] = events;
	s->bad[r->cur_win] = bad;
	sli_values_free(v, n);
	return 0;
}

static json_t *burn_or_null(const struct slo_state *s, size_t w, double objective)
{
	return s->events[w] ? json_real(burn_rate(s->bad[w], s->events[w], objective)) : json_null();
}

static json_t *selector_json(const struct slo_selector *sel)
{
	json_t *labels = json_object();
	for (size_t i = 0; labels && i < sel->nlabels; i++)
		if (json_object_set_new(labels, sel->label_keys[i], json_string(sel->label_values[i])) < 0) {
			json_decref(labels);
			return NULL;
		}
	if (!labels)
		return NULL;
	return json_pack("{s:s?, s:s?, s:s?, s:s?, s:o}", "service", sel->service, "target",
			 sel->target, "region", sel->region, "profile", sel->profile, "labels", labels);
}

static json_t *slo_json(const struct slo *o, const struct slo_state *s)
{
	char wbuf[32], lb[32], sb[32];
	size_t ws = win_index(s, o->window_ms);
	uint64_t ev = s->events[ws], bad = s->bad[ws];
	json_t *rates = json_array(), *rules = json_array();
	json_t *out = NULL;
	if (!rates || !rules)
		goto out;
	/* burn_rates: one per distinct rule window (not the SLO's own unless a
	 * rule uses it), shortest first */
	for (size_t w = 0; w < s->nwin; w++) {
		bool used = false;
		for (size_t j = 0; j < o->nrules; j++)
			used |= o->rules[j].long_ms == s->win_ms[w] || o->rules[j].short_ms == s->win_ms[w];
		if (!used)
			continue;
		json_t *x = json_pack("{s:s, s:o, s:I}", "window",
				      slo_format_duration(s->win_ms[w], wbuf, sizeof wbuf), "burn_rate",
				      burn_or_null(s, w, o->objective), "events", (json_int_t)s->events[w]);
		if (!x || json_array_append_new(rates, x) < 0)
			goto out;
	}
	for (size_t j = 0; j < o->nrules; j++) {
		const struct slo_burn_rule *ru = &o->rules[j];
		json_t *x = json_pack("{s:s, s:s, s:s, s:s, s:f, s:o, s:o, s:b}", "name", ru->name,
				      "severity", ru->severity, "long_window",
				      slo_format_duration(ru->long_ms, lb, sizeof lb), "short_window",
				      slo_format_duration(ru->short_ms, sb, sizeof sb),
				      "burn_rate_threshold", ru->burn_rate, "long_burn_rate",
				      burn_or_null(s, win_index(s, ru->long_ms), o->objective),
				      "short_burn_rate",
				      burn_or_null(s, win_index(s, ru->short_ms), o->objective),
				      "firing", s->firing[j]);
		if (!x || json_array_append_new(rules, x) < 0)
			goto out;
	}
	out = json_pack("{s:s, s:s?, s:s, s:o, s:f, s:s, s:o, s:I, s:I, s:o, s:o, s:O, s:O}",
			"name", o->name, "description", o->description,
			"sli", o->sli == SLO_SLI_LATENCY ? "latency" : "availability",
			"threshold_ms", o->sli == SLO_SLI_LATENCY ? json_real(o->threshold_ms) : json_null(),
			"objective", o->objective,
			"window", slo_format_duration(o->window_ms, wbuf, sizeof wbuf),
			"selector", selector_json(&o->sel), "events", (json_int_t)ev,
			"good", (json_int_t)(ev - bad),
			"attainment", ev ? json_real((double)(ev - bad) / (double)ev) : json_null(),
			"error_budget_remaining",
			ev ? json_real(burn_budget_remaining(bad, ev, o->objective)) : json_null(),
			"burn_rates", rates, "rules", rules);
out:
	json_decref(rates);
	json_decref(rules);
	return out;
}

json_t *store_slo_json(const struct store_slo_run *r)
{
	json_t *items = json_array();
	for (size_t i = 0; items && r->cfg && i < r->cfg->nslos; i++) {
		json_t *x = slo_json(&r->cfg->slos[i], &r->s[i]);
		if (!x || json_array_append_new(items, x) < 0) {
			json_decref(items);
			return NULL;
		}
	}
	return items ? json_pack("{s:o}", "items", items) : NULL;
}

struct slo_op {
	struct store_op op;
	struct store_slo_run *run;
	struct store_stmt st;           /* the statement running */
};

/* Feeds the last result (if any) and sets the next statement, or finishes. */
static int slo_step(struct store_op *op, PGresult *res)
{
	struct slo_op *x = (struct slo_op *)op;
	char err[256];
	if (res && store_slo_feed(x->run, res, err, sizeof err) < 0)
		return store_op_finish(op, STORE_ERROR, NULL, "%s", err);
	store_stmt_free(&x->st);
	int rc = store_slo_next(x->run, &x->st);
	if (rc < 0 || (rc == 1 && store_stmt_load(op, &x->st) < 0))
		return store_op_oom(op);
	if (rc == 1)
		return 1;
	json_t *j = store_slo_json(x->run);
	return j ? store_op_finish(op, STORE_OK, j, "ok") : store_op_oom(op);
}

static void slo_free(struct store_op *op)
{
	struct slo_op *x = (struct slo_op *)op;
	store_stmt_free(&x->st);
	store_slo_free(x->run);
}

void store_slo_start(struct store *s, const struct slo_config *cfg, int64_t now_ms,
		     int64_t minute_retention_ms, store_cb cb, void *arg)
{
	struct slo_op *x = store_op_new(sizeof *x);
	if (x)
		x->run = store_slo_new(cfg, now_ms, minute_retention_ms);
	if (!x || !x->run) {
		free(x);
		struct store_answer a = { .status = STORE_ERROR, .err = "out of memory" };
		cb(arg, &a);
		return;
	}
	x->op.step = slo_step;
	x->op.free = slo_free;
	store_op_start(s, &x->op, cb, arg);
}
