/*
 * burn.c - SLO status and burn-rate rules (see burn.h).
 */
#include "burn.h"
#include "alerts.h"
#include "sli.h"
#include "strbuf.h"
#include "twtime.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

/* One rollup series (target, port, sni, region, profile) with its counts
 * per window: [avail events, avail bad] if any availability SLO, then
 * [timed, good(threshold 1), good(threshold 2)...] if any latency SLO. */
struct series {
	char *target, *sni, *region, *profile, *service;
	unsigned port;
	json_t *labels;
	uint64_t *v;
};

struct plan {
	size_t nwin;
	int64_t win[64];
	bool avail, lat;
	size_t nthr;
	int thr[SLI_LATENCY_BUCKETS];   /* bucket indexes k of the thresholds */
	bool labels;
	size_t stride;
};

double burn_rate(uint64_t bad, uint64_t events, double objective)
{
	if (events == 0)
		return 0;
	return ((double)bad / (double)events) / (1.0 - objective);
}

double burn_budget_remaining(uint64_t bad, uint64_t events, double objective)
{
	if (events == 0)
		return 1;
	return 1.0 - (double)bad / ((1.0 - objective) * (double)events);
}

static int add_window(struct plan *p, int64_t ms)
{
	for (size_t i = 0; i < p->nwin; i++)
		if (p->win[i] == ms)
			return 0;
	if (p->nwin == sizeof p->win / sizeof p->win[0])
		return -1;
	size_t i = p->nwin++;
	while (i > 0 && p->win[i - 1] > ms) {
		p->win[i] = p->win[i - 1];
		i--;
	}
	p->win[i] = ms;
	return 0;
}

static size_t win_index(const struct plan *p, int64_t ms)
{
	for (size_t i = 0; i < p->nwin; i++)
		if (p->win[i] == ms)
			return i;
	return 0;
}

static size_t thr_index(const struct plan *p, int k)
{
	for (size_t i = 0; i < p->nthr; i++)
		if (p->thr[i] == k)
			return i;
	return 0;
}

static int make_plan(const struct slo_config *cfg, struct plan *p, char *err, size_t errlen)
{
	memset(p, 0, sizeof *p);
	for (size_t i = 0; i < cfg->nslos; i++) {
		const struct slo *o = &cfg->slos[i];
		if (add_window(p, o->window_ms) < 0)
			goto many;
		for (size_t j = 0; j < o->nrules; j++)
			if (add_window(p, o->rules[j].long_ms) < 0 ||
			    add_window(p, o->rules[j].short_ms) < 0)
				goto many;
		if (o->sli == SLO_SLI_AVAILABILITY) {
			p->avail = true;
		} else {
			p->lat = true;
			int k = sli_latency_bound_index(o->threshold_ms);
			bool have = false;
			for (size_t t = 0; t < p->nthr; t++)
				have |= p->thr[t] == k;
			if (!have && k > 0)
				p->thr[p->nthr++] = k;
		}
		if (o->sel.nlabels)
			p->labels = true;
	}
	p->stride = (p->avail ? 2 : 0) + (p->lat ? 1 + p->nthr : 0);
	return 0;
many:
	snprintf(err, errlen, "more than %zu distinct window lengths across the SLOs",
		 sizeof p->win / sizeof p->win[0]);
	return -1;
}

/* One query for every window of every SLO: the rows some window needs
 * (sli_rows_sql) summed per series with one FILTER per window and counter
 * (sli_window_cond) - the same window definition as sli_query.
 * Each window's condition is computed once per row, as a boolean column w<i>
 * of a subquery that OFFSET 0 keeps from being merged into the aggregate
 * (merged, every FILTER evaluated its window's condition again: two to
 * 2 + thresholds times per row and window, over millions of rows at
 * 10,000 SLOs; bench/eval.sh). */
static void build_query(struct strbuf *b, PGconn *c, const struct plan *p,
			const struct sli_window *w)
{
	strbuf_printf(b, "SELECT s.*%s FROM (SELECT target, port, sni, region, profile, "
			  "max(service)", p->labels ? ", t.labels::text" : "");
	for (size_t i = 0; i < p->nwin; i++) {
		if (p->avail)
			strbuf_printf(b, ", coalesce(sum(attempts) FILTER (WHERE w%zu), 0), "
					  "coalesce(sum(failures) FILTER (WHERE w%zu), 0)", i, i);
		if (p->lat) {
			strbuf_printf(b, ", coalesce(sum(handshake_ms_count) FILTER (WHERE w%zu), 0)", i);
			for (size_t t = 0; t < p->nthr; t++) {
				strbuf_printf(b, ", coalesce(sum(");
				for (int k = 1; k <= p->thr[t]; k++)
					strbuf_printf(b, "%scoalesce(handshake_ms_hist[%d], 0)",
						       k > 1 ? " + " : "", k);
				strbuf_printf(b, ") FILTER (WHERE w%zu), 0)", i);
			}
		}
	}
	strbuf_printf(b, " FROM (SELECT target, port, sni, region, profile, service, attempts, "
			  "failures, handshake_ms_count, handshake_ms_hist");
	for (size_t i = 0; i < p->nwin; i++) {
		strbuf_printf(b, ", ");
		sli_window_cond(b, &w[i]);
		strbuf_printf(b, " AS w%zu", i);
	}
	strbuf_printf(b, " FROM ");
	sli_rows_sql(b, w, p->nwin);
	strbuf_printf(b, " r OFFSET 0) r GROUP BY 1, 2, 3, 4, 5) s");
	if (p->labels)
		strbuf_printf(b, " LEFT JOIN targets t ON t.target = s.target AND t.port = s.port "
				  "AND t.sni = s.sni");
	(void)c;
}

static void series_free(struct series *s, size_t n)
{
	if (!s)
		return;
	for (size_t i = 0; i < n; i++) {
		free(s[i].target);
		free(s[i].sni);
		free(s[i].region);
		free(s[i].profile);
		free(s[i].service);
		json_decref(s[i].labels);
		free(s[i].v);
	}
	free(s);
}

static char *dup_or_null(PGresult *r, int row, int col)
{
	return PQgetisnull(r, row, col) ? NULL : strdup(PQgetvalue(r, row, col));
}

static int by_target(const void *a, const void *b)
{
	const struct series *x = *(struct series *const *)a, *y = *(struct series *const *)b;
	return strcmp(x->target, y->target);
}

static bool sel_match(const struct slo_selector *sel, const char *host, unsigned port,
		      const struct series *s)
{
	if (sel->service && (!s->service || strcmp(sel->service, s->service)))
		return false;
	if (sel->region && strcmp(sel->region, s->region))
		return false;
	if (sel->profile && strcmp(sel->profile, s->profile))
		return false;
	if (host && (strcmp(host, s->target) || (port && port != s->port)))
		return false;
	for (size_t i = 0; i < sel->nlabels; i++) {
		json_t *v = s->labels ? json_object_get(s->labels, sel->label_keys[i]) : NULL;
		if (!json_is_string(v) || strcmp(json_string_value(v), sel->label_values[i]))
			return false;
	}
	return true;
}

/* The status of (slo, region) in e, created when missing. */
static struct burn_status *status_for(struct burn_eval *e, size_t *cap, size_t first,
				      const struct slo *o, const char *region)
{
	for (size_t i = first; i < e->nstatus; i++) {
		struct burn_status *st = &e->status[i];
		if (!region || (st->region && !strcmp(st->region, region)))
			return st;
	}
	if (e->nstatus == *cap) {
		size_t nc = *cap ? *cap * 2 : 64;
		struct burn_status *ns = realloc(e->status, nc * sizeof *ns);
		if (!ns)
			return NULL;
		e->status = ns;
		*cap = nc;
	}
	struct burn_status *st = &e->status[e->nstatus];
	memset(st, 0, sizeof *st);
	st->slo = o;
	st->win = calloc(e->nwin, sizeof *st->win);
	st->rules = calloc(o->nrules ? o->nrules : 1, sizeof *st->rules);
	if (region)
		st->region = strdup(region);
	if (!st->win || !st->rules || (region && !st->region)) {
		free(st->win);
		free(st->rules);
		free(st->region);
		return NULL;
	}
	e->nstatus++;
	return st;
}

/* The region entry of st (created in name order when missing); NULL on ENOMEM. */
static struct burn_region *region_of(struct burn_status *st, size_t nwin, const char *region)
{
	size_t i = 0;
	while (i < st->nregions && strcmp(st->regions[i].region, region) < 0)
		i++;
	if (i < st->nregions && !strcmp(st->regions[i].region, region))
		return &st->regions[i];
	struct burn_region *nr = realloc(st->regions, (st->nregions + 1) * sizeof *nr);
	if (!nr)
		return NULL;
	st->regions = nr;
	struct burn_region g = { strdup(region), calloc(nwin ? nwin : 1, sizeof *g.bad) };
	if (!g.region || !g.bad) {
		free(g.region);
		free(g.bad);
		return NULL;
	}
	memmove(&nr[i + 1], &nr[i], (st->nregions - i) * sizeof *nr);
	nr[i] = g;
	st->nregions++;
	return &nr[i];
}

static int accumulate(const struct plan *p, struct burn_status *st, const struct slo *o,
		      const struct series *s)
{
	size_t ti = o->sli == SLO_SLI_LATENCY
			    ? thr_index(p, sli_latency_bound_index(o->threshold_ms)) : 0;
	size_t na = p->avail ? 2 : 0;
	struct burn_region *rg = region_of(st, p->nwin, s->region);
	if (!rg)
		return -1;
	st->nseries++;
	for (size_t w = 0; w < p->nwin; w++) {
		const uint64_t *v = s->v + w * p->stride;
		uint64_t bad;
		if (o->sli == SLO_SLI_AVAILABILITY) {
			st->win[w].events += v[0];
			bad = v[1];
		} else {
			uint64_t timed = v[na], good = v[na + 1 + ti];
			st->win[w].events += timed;
			bad = timed >= good ? timed - good : 0;
		}
		st->win[w].bad += bad;
		rg->bad[w] += bad;
	}
	return 0;
}

static void finish(const struct plan *p, struct burn_status *st)
{
	const struct slo *o = st->slo;
	st->wslo = win_index(p, o->window_ms);
	const struct burn_count *b = &st->win[st->wslo];
	st->sli = b->events ? 1.0 - (double)b->bad / (double)b->events : NAN;
	st->budget_remaining = burn_budget_remaining(b->bad, b->events, o->objective);
	for (size_t j = 0; j < o->nrules; j++) {
		struct burn_rule_status *rs = &st->rules[j];
		const struct slo_burn_rule *r = &o->rules[j];
		rs->rule = r;
		rs->wlong = win_index(p, r->long_ms);
		rs->wshort = win_index(p, r->short_ms);
		const struct burn_count *l = &st->win[rs->wlong], *s = &st->win[rs->wshort];
		/* a window without events has no burn rate (NAN, printed null / "-") */
		rs->burn_long = l->events ? burn_rate(l->bad, l->events, o->objective) : NAN;
		rs->burn_short = s->events ? burn_rate(s->bad, s->events, o->objective) : NAN;
		rs->enough = l->events >= r->min_events && l->bad >= r->min_failures;
		rs->active = rs->enough && l->events > 0 && s->events > 0 &&
			     rs->burn_long > r->burn_rate && rs->burn_short > r->burn_rate;
	}
}

int burn_evaluate(PGconn *c, const struct slo_config *cfg, int64_t now_ms,
		  int64_t minute_retention_ms, struct burn_eval **out, char *err, size_t errlen)
{
	struct plan p;
	struct sli_window w[64];
	struct strbuf b = { 0 };
	PGresult *res = NULL;
	struct series *ser = NULL, **byt = NULL;
	size_t nser = 0, cap = 0;
	int rc = -1;
	struct burn_eval *e = calloc(1, sizeof *e);

	*out = NULL;
	if (!e) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	e->cfg = cfg;
	e->now_ms = now_ms;
	if (make_plan(cfg, &p, err, errlen) < 0)
		goto out;
	e->nwin = p.nwin;
	e->window_ms = calloc(p.nwin ? p.nwin : 1, sizeof *e->window_ms);
	if (!e->window_ms)
		goto oom;
	memcpy(e->window_ms, p.win, p.nwin * sizeof *e->window_ms);
	if (cfg->nslos == 0) {
		rc = 0;
		goto out;
	}
	for (size_t i = 0; i < p.nwin; i++)
		sli_window(now_ms, p.win[i], minute_retention_ms, &w[i]);
	build_query(&b, c, &p, w);
	if (b.oom)
		goto oom;

	double t0 = twtime_mono_ms();
	res = PQexec(c, b.p);
	e->query_ms = twtime_mono_ms() - t0;
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		snprintf(err, errlen, "burn query: %s", PQresultErrorMessage(res));
		goto out;
	}
	nser = (size_t)PQntuples(res);
	e->nseries = nser;
	ser = calloc(nser ? nser : 1, sizeof *ser);
	byt = calloc(nser ? nser : 1, sizeof *byt);
	if (!ser || !byt)
		goto oom;
	/* s.*: 6 key columns, then the counts; with labels, t.labels::text last */
	size_t vcol = 6, lcol = (size_t)PQnfields(res) - 1;
	for (size_t i = 0; i < nser; i++) {
		struct series *s = &ser[i];
		int row = (int)i;
		s->target = dup_or_null(res, row, 0);
		s->port = (unsigned)strtoul(PQgetvalue(res, row, 1), NULL, 10);
		s->sni = dup_or_null(res, row, 2);
		s->region = dup_or_null(res, row, 3);
		s->profile = dup_or_null(res, row, 4);
		s->service = dup_or_null(res, row, 5);
		size_t nv = p.nwin * p.stride;
		s->v = calloc(nv > 0 ? nv : 1, sizeof *s->v);
		if (!s->target || !s->sni || !s->region || !s->profile || !s->v)
			goto oom;
		if (p.labels && !PQgetisnull(res, row, (int)lcol))
			s->labels = json_loads(PQgetvalue(res, row, (int)lcol), 0, NULL);
		for (size_t k = 0; k < p.nwin * p.stride; k++)
			s->v[k] = strtoull(PQgetvalue(res, row, (int)(vcol + k)), NULL, 10);
		byt[i] = s;
	}
	qsort(byt, nser, sizeof *byt, by_target);

	for (size_t i = 0; i < cfg->nslos; i++) {
		const struct slo *o = &cfg->slos[i];
		char host[512];
		unsigned port = 0;
		size_t first = e->nstatus, lo = 0, hi = nser;
		if (o->sel.target) {
			sli_split_target(o->sel.target, host, sizeof host, &port);
			/* the range of series with this target */
			size_t a = 0, z = nser;
			while (a < z) {
				size_t m = a + (z - a) / 2;
				if (strcmp(byt[m]->target, host) < 0)
					a = m + 1;
				else
					z = m;
			}
			lo = a;
			for (hi = lo; hi < nser && !strcmp(byt[hi]->target, host); hi++)
				;
		}
		/* an SLO without a region split always has a status, even with no data */
		if (!o->split_by_region && !status_for(e, &cap, first, o, NULL))
			goto oom;
		for (size_t k = lo; k < hi; k++) {
			const struct series *s = byt[k];
			if (!sel_match(&o->sel, o->sel.target ? host : NULL, port, s))
				continue;
			struct burn_status *st =
				status_for(e, &cap, first, o, o->split_by_region ? s->region : NULL);
			if (!st || accumulate(&p, st, o, s) < 0)
				goto oom;
		}
		/* every configured SLO is listed: one split by region that no
		 * series matched gets one status for all regions, with no data */
		if (o->split_by_region && e->nstatus == first && !status_for(e, &cap, first, o, NULL))
			goto oom;
		for (size_t k = first; k < e->nstatus; k++)
			finish(&p, &e->status[k]);
	}
	rc = 0;
	goto out;
oom:
	snprintf(err, errlen, "out of memory");
out:
	PQclear(res);
	free(b.p);
	free(byt);
	series_free(ser, nser);
	if (rc < 0) {
		burn_eval_free(e);
		return -1;
	}
	*out = e;
	return 0;
}

void burn_eval_free(struct burn_eval *e)
{
	if (!e)
		return;
	for (size_t i = 0; i < e->nstatus; i++) {
		struct burn_status *st = &e->status[i];
		for (size_t k = 0; k < st->nregions; k++) {
			free(st->regions[k].region);
			free(st->regions[k].bad);
		}
		free(st->regions);
		free(st->region);
		free(st->win);
		free(st->rules);
	}
	free(e->status);
	free(e->window_ms);
	free(e);
}

/* ---- alerts ---- */

/* The objective as written in slos.yaml. */
static const char *objective_text(const struct slo *o)
{
	return o->objective_text ? o->objective_text : "?";
}

static const char *sli_name(const struct slo *o)
{
	return o->sli == SLO_SLI_AVAILABILITY ? "availability" : "latency";
}

static json_t *status_labels(const struct burn_status *st)
{
	const struct slo *o = st->slo;
	json_t *l = json_object();
	if (!l)
		return NULL;
	for (size_t i = 0; i < o->sel.nlabels; i++)
		json_object_set_new(l, o->sel.label_keys[i], json_string(o->sel.label_values[i]));
	json_object_set_new(l, "slo", json_string(o->name));
	json_object_set_new(l, "sli", json_string(sli_name(o)));
	if (o->sel.service)
		json_object_set_new(l, "service", json_string(o->sel.service));
	if (st->region || o->sel.region)
		json_object_set_new(l, "region", json_string(st->region ? st->region : o->sel.region));
	if (o->sel.profile)
		json_object_set_new(l, "profile", json_string(o->sel.profile));
	if (o->sel.target)
		json_object_set_new(l, "target", json_string(o->sel.target));
	return l;
}

int burn_observe(const struct burn_eval *e, struct alerts_run *run, int *active, char *err,
		 size_t errlen)
{
	*active = 0;
	for (size_t i = 0; i < e->nstatus; i++) {
		const struct burn_status *st = &e->status[i];
		const struct slo *o = st->slo;
		for (size_t j = 0; j < o->nrules; j++) {
			const struct burn_rule_status *rs = &st->rules[j];
			if (!rs->active)
				continue;
			const struct slo_burn_rule *r = rs->rule;
			const struct burn_count *l = &st->win[rs->wlong], *s = &st->win[rs->wshort];
			char key[512], summary[512], lw[32], sw[32];
			const char *region = st->region ? st->region : "all";
			/* RULE|SLO|REGION_GROUP, like the other rules' keys (rules_other.h) */
			snprintf(key, sizeof key, "%s|%s|%s", r->name, o->name, region);
			slo_format_duration(r->long_ms, lw, sizeof lw);
			slo_format_duration(r->short_ms, sw, sizeof sw);
			snprintf(summary, sizeof summary,
				 "SLO %s%s%s: error budget burning %.1fx over %s and %.1fx over %s "
				 "(threshold %gx, objective %s%%)", o->name, st->region ? " in " : "",
				 st->region ? st->region : "", rs->burn_long, lw, rs->burn_short, sw,
				 r->burn_rate, objective_text(o));
			/* the regions with failures in the short window, sorted */
			struct strbuf rg = { 0 };
			for (size_t k = 0; k < st->nregions; k++)
				if (st->regions[k].bad[rs->wshort] > 0)
					strbuf_printf(&rg, "%s%s", rg.len ? ", " : "", st->regions[k].region);
			json_t *labels = status_labels(st);
			json_t *d = json_pack("{s:s, s:s, s:f, s:f, s:s, s:s, s:f, s:f, s:I, s:I, s:I, "
					      "s:I, s:f, s:I, s:I}",
					      "slo", o->name, "sli", sli_name(o),
					      "objective", o->objective_pct, "burn_rate_threshold",
					      r->burn_rate, "long_window", lw, "short_window", sw,
					      "burn_rate_long", rs->burn_long, "burn_rate_short",
					      rs->burn_short, "events_long", (json_int_t)l->events,
					      "failures_long", (json_int_t)l->bad, "events_short",
					      (json_int_t)s->events, "failures_short", (json_int_t)s->bad,
					      "error_budget_remaining", st->budget_remaining,
					      "min_events", (json_int_t)r->min_events, "min_failures",
					      (json_int_t)r->min_failures);
			if (d && o->sli == SLO_SLI_LATENCY)
				json_object_set_new(d, "threshold_ms", json_real(o->threshold_ms));
			if (!labels || !d || rg.oom) {
				json_decref(labels);
				json_decref(d);
				free(rg.p);
				snprintf(err, errlen, "out of memory");
				return -1;
			}
			struct alert_obs ob = {
				.rule = r->name, .dedup_key = key, .severity = r->severity,
				.subject = o->name, .service = o->sel.service, .region_group = region,
				.target = o->sel.target, .labels = labels, .summary = summary,
				.details = d, .value = rs->burn_long, .for_evals = r->for_evals,
				.resolve_after = r->resolve_after, .regions = rg.len ? rg.p : NULL,
			};
			int rc = alerts_observe(run, &ob, err, errlen);
			json_decref(labels);
			json_decref(d);
			free(rg.p);
			if (rc < 0)
				return -1;
			(*active)++;
		}
	}
	/* every rule name any SLO uses (and the defaults', so that removing a rule
	 * from every SLO resolves its alerts) */
	const struct slo_config *cfg = e->cfg;
	for (size_t j = 0; j < cfg->ndefault_rules; j++)
		if (alerts_rule_evaluated(run, cfg->default_rules[j].name, err, errlen) < 0)
			return -1;
	for (size_t i = 0; i < cfg->nslos; i++)
		for (size_t j = 0; j < cfg->slos[i].nrules; j++)
			if (alerts_rule_evaluated(run, cfg->slos[i].rules[j].name, err, errlen) < 0)
				return -1;
	return 0;
}

/* ---- printing ---- */

static json_t *jnum(double d)
{
	return isfinite(d) ? json_real(d) : json_null();
}

/* A burn rate for the table: "-" when its window had no events. */
static const char *burn_text(double b, char *buf, size_t cap)
{
	if (!isfinite(b))
		return "-";
	snprintf(buf, cap, "%.3f", b);
	return buf;
}

void burn_print(const struct burn_eval *e, bool json, FILE *out)
{
	char t[48];
	for (size_t i = 0; i < e->nstatus; i++) {
		const struct burn_status *st = &e->status[i];
		const struct slo *o = st->slo;
		const struct burn_count *b = &st->win[st->wslo];
		char ws[32];
		slo_format_duration(o->window_ms, ws, sizeof ws);
		if (json) {
			json_t *wins = json_array(), *rules = json_array();
			for (size_t w = 0; w < e->nwin; w++) {
				bool used = w == st->wslo;
				for (size_t j = 0; j < o->nrules; j++)
					used |= st->rules[j].wlong == w || st->rules[j].wshort == w;
				if (!used)
					continue;
				char wl[32];
				const struct burn_count *c = &st->win[w];
				json_array_append_new(wins, json_pack(
					"{s:s, s:I, s:I, s:o, s:o}", "window",
					slo_format_duration(e->window_ms[w], wl, sizeof wl),
					"events", (json_int_t)c->events, "bad", (json_int_t)c->bad,
					"error_ratio", c->events ? json_real((double)c->bad / (double)c->events)
								 : json_null(),
					"burn_rate", c->events ? json_real(burn_rate(c->bad, c->events,
										     o->objective))
							       : json_null()));
			}
			for (size_t j = 0; j < o->nrules; j++) {
				const struct burn_rule_status *rs = &st->rules[j];
				json_array_append_new(rules, json_pack(
					"{s:s, s:s, s:f, s:o, s:o, s:b, s:b}", "rule", rs->rule->name,
					"severity", rs->rule->severity, "threshold", rs->rule->burn_rate,
					"burn_rate_long", jnum(rs->burn_long), "burn_rate_short",
					jnum(rs->burn_short), "enough_events", rs->enough, "active", rs->active));
			}
			json_t *j = json_pack("{s:s, s:s, s:s?, s:f, s:s, s:I, s:o, s:I, s:I, s:o, s:o, s:o}",
					      "slo", o->name, "sli", sli_name(o), "region", st->region,
					      "objective", o->objective_pct, "window", ws,
					      "series", (json_int_t)st->nseries, "sli_value", jnum(st->sli),
					      "events", (json_int_t)b->events, "bad", (json_int_t)b->bad,
					      "error_budget_remaining", jnum(st->budget_remaining),
					      "windows", wins, "rules", rules);
			if (j) {
				json_object_set_new(j, "eval_at",
						    json_string(twtime_rfc3339_ms(e->now_ms, t, sizeof t)));
				/* 15 digits: a double prints as the decimal it came from
				 * (the objective 99.9, not 99.900000000000006) */
				char *s = json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(15));
				if (s)
					fprintf(out, "%s\n", s);
				free(s);
				json_decref(j);
			}
			continue;
		}
		fprintf(out, "SLO %s%s%s (%s%s, objective %s%% over %s): %zu series%s\n", o->name,
			st->region ? " region " : "", st->region ? st->region : "", sli_name(o),
			o->sli == SLO_SLI_LATENCY ? " under threshold" : "", objective_text(o), ws,
			st->nseries, st->nseries ? "" : " (no data)");
		if (isfinite(st->sli))
			fprintf(out, "  SLI %.6f%% (%" PRIu64 " bad of %" PRIu64 "), error budget "
				"remaining %.2f%%\n", st->sli * 100, b->bad, b->events,
				st->budget_remaining * 100);
		else
			fprintf(out, "  SLI n/a (no events), error budget remaining 100%%\n");
		for (size_t j = 0; j < o->nrules; j++) {
			const struct burn_rule_status *rs = &st->rules[j];
			char lw[32], sw[32], bl[32], bs[32];
			fprintf(out, "  %-16s %-6s burn %8s over %-4s %8s over %-4s (> %g)%s%s\n",
				rs->rule->name, rs->rule->severity, burn_text(rs->burn_long, bl, sizeof bl),
				slo_format_duration(rs->rule->long_ms, lw, sizeof lw),
				burn_text(rs->burn_short, bs, sizeof bs),
				slo_format_duration(rs->rule->short_ms, sw, sizeof sw),
				rs->rule->burn_rate, rs->active ? "  ACTIVE" : "",
				rs->enough ? "" : "  (too few events/failures)");
		}
	}
}
