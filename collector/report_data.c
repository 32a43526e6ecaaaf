/*
 * report_data.c - fills a struct report (report.h) from the rollups: SLO
 * attainment, error budgets and burn-down, services and regions. The other
 * facts (incidents, certificates, failure causes, notable events) are read
 * by report_facts.c.
 *
 * Every rollup read goes through sli.c: sli_window() for the rounding of
 * windows older than rollup_1m's retention, sli_rows_sql() and
 * sli_window_cond() for which rows make up a window, sli_selector_cond() for
 * an SLO's selector, sli_percentile() for p95 and sli_query() for the error
 * budget over the SLO's own window. Cost: one pass over the period's rows
 * for services and regions, and per SLO one pass over the period and the one
 * before it plus one over its window.
 */
#include "report_int.h"
#include "sli.h"
#include "burn.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NO_SERVICE "(no service)"

static uint64_t u64(PGresult *r, int row, int col)
{
	return PQgetisnull(r, row, col) ? 0 : strtoull(PQgetvalue(r, row, col), NULL, 10);
}

static double att(uint64_t events, uint64_t bad)
{
	return events ? (double)(events - (bad > events ? events : bad)) / (double)events : NAN;
}

/* The columns every rollup aggregate here selects after its group keys:
 * attempts, failures, timed handshakes and the histogram. */
static void agg_columns(struct strbuf *b)
{
	strbuf_printf(b, "sum(attempts), sum(failures), sum(handshake_ms_count)");
	for (int k = 1; k <= SLI_LATENCY_BUCKETS; k++)
		strbuf_printf(b, ", sum(coalesce(handshake_ms_hist[%d], 0))", k);
}

/* The slice of a row's bucket: -1 before `from` (the previous period). */
static void slice_expr(struct strbuf *b, int64_t from_ms, int64_t slice_ms)
{
	strbuf_printf(b, "CASE WHEN bucket >= ");
	sli_sql_time(b, from_ms);
	strbuf_printf(b, " THEN floor(((extract(epoch FROM bucket) * 1000)::bigint - %" PRId64
			 ") / %" PRId64 ".0)::bigint ELSE -1 END", from_ms, slice_ms);
}

struct agg_row {
	uint64_t attempts, failures, timed;
	uint64_t hist[SLI_LATENCY_BUCKETS];
};

static void read_agg(PGresult *res, int row, int col, struct agg_row *a)
{
	a->attempts = u64(res, row, col);
	a->failures = u64(res, row, col + 1);
	a->timed = u64(res, row, col + 2);
	for (int k = 0; k < SLI_LATENCY_BUCKETS; k++)
		a->hist[k] = u64(res, row, col + 3 + k);
}

/* Good and bad events of an SLO from an aggregate (burn.h's definition). */
static void slo_events(const struct slo *s, const struct agg_row *a, uint64_t *events,
		       uint64_t *bad)
{
	if (s->sli == SLO_SLI_AVAILABILITY) {
		*events = a->attempts;
		*bad = a->failures;
		return;
	}
	int k = sli_latency_bound_index(s->threshold_ms);
	uint64_t good = 0;
	for (int i = 0; i < k && i < SLI_LATENCY_BUCKETS; i++)
		good += a->hist[i];
	*events = a->timed;
	*bad = a->timed > good ? a->timed - good : 0;
}

static struct report_region_att *region_att(struct report_region_att **v, size_t *n,
					    const char *name)
{
	for (size_t i = 0; i < *n; i++)
		if (!strcmp((*v)[i].region, name))
			return &(*v)[i];
	struct report_region_att *nv = realloc(*v, (*n + 1) * sizeof *nv);
	if (!nv)
		return NULL;
	*v = nv;
	struct report_region_att *x = &nv[*n];
	memset(x, 0, sizeof *x);
	if (!(x->region = strdup(name)))
		return NULL;
	(*n)++;
	return x;
}

static int cmp_region_att(const void *a, const void *b)
{
	return strcmp(((const struct report_region_att *)a)->region,
		      ((const struct report_region_att *)b)->region);
}

static PGresult *run(PGconn *c, struct strbuf *b, const char *what, char *err, size_t errlen)
{
	if (b->oom) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	PGresult *res = PQexec(c, b->p);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		snprintf(err, errlen, "%s: %s", what, PQresultErrorMessage(res));
		PQclear(res);
		return NULL;
	}
	return res;
}

/* ---- SLOs ---- */

/* What an SLO accumulates before report_slo's figures are known. */
struct slo_acc {
	struct report_slice *slices;     /* nslices */
	bool pooled;                     /* counted by the shared pass (build_pooled) */
	size_t bw;                       /* its budget window in the shared pass */
};

/* Adds one aggregate of slice sl (-1: the period before) to an SLO. */
static int slo_add(const struct report *r, struct report_slo *rs, struct slo_acc *acc, long long sl,
		   const char *region, const struct agg_row *a)
{
	uint64_t ev, bad;
	slo_events(rs->slo, a, &ev, &bad);
	if (sl < 0) {
		rs->prev_events += ev;
		rs->prev_bad += bad;
		return 0;
	}
	rs->events += ev;
	rs->bad += bad;
	size_t k = (size_t)sl < r->nslices ? (size_t)sl : r->nslices - 1;
	acc->slices[k].events += ev;
	acc->slices[k].bad += bad;
	struct report_region_att *ra = region_att(&rs->regions, &rs->nregions, region);
	if (!ra)
		return -1;
	ra->events += ev;
	ra->bad += bad;
	return 0;
}

/* Attainment, status, per-region figures and the burn-down from the sums. */
static int slo_finish(const struct report *r, struct report_slo *rs, const struct slo_acc *acc)
{
	const struct slo *s = rs->slo;
	rs->attainment = att(rs->events, rs->bad);
	rs->prev_attainment = att(rs->prev_events, rs->prev_bad);
	rs->status = rs->events == 0 ? REPORT_NO_DATA
		   : rs->attainment >= s->objective ? REPORT_MET : REPORT_MISSED;
	for (size_t i = 0; i < rs->nregions; i++) {
		rs->regions[i].attainment = att(rs->regions[i].events, rs->regions[i].bad);
		rs->regions[i].p95_ms = NAN;
	}
	if (rs->nregions)
		qsort(rs->regions, rs->nregions, sizeof *rs->regions, cmp_region_att);
	/* burn-down: the period's budget, (1 - objective) x its events */
	if (!(rs->burndown = calloc(r->nslices ? r->nslices : 1, sizeof *rs->burndown)))
		return -1;
	uint64_t cum = 0;
	for (size_t k = 0; k < r->nslices; k++) {
		cum += acc->slices[k].bad;
		rs->burndown[k] = rs->events ? 1.0 - (double)cum / ((1.0 - s->objective) *
								    (double)rs->events)
					     : NAN;
	}
	rs->budget_remaining = rs->budget_events
		? burn_budget_remaining(rs->budget_bad, rs->budget_events, s->objective) : NAN;
	return 0;
}

/* An SLO whose selector names a target or labels: passes of its own (the
 * selector needs the series' target and the targets table). */
static int build_slo(PGconn *c, struct report *r, const struct report_opts *o,
		     struct report_slo *rs, struct slo_acc *acc, char *err, size_t errlen)
{
	const struct slo *s = rs->slo;
	struct sli_window w[2] = { { r->prev_from_ms, r->from_ms }, { r->from_ms, r->to_ms } };
	struct slo_selector sel = s->sel;
	struct strbuf b = { 0 };
	PGresult *res = NULL;
	int rc = -1;
	/* --service narrows an SLO that selects every service */
	if (!sel.service && o->service)
		sel.service = (char *)o->service;

	strbuf_printf(&b, "SELECT ");
	slice_expr(&b, r->from_ms, r->slice_ms);
	strbuf_printf(&b, ", r.region, ");
	agg_columns(&b);
	strbuf_printf(&b, " FROM ");
	sli_rows_sql(&b, w, 2);
	strbuf_printf(&b, " r LEFT JOIN targets t ON t.target = r.target AND t.port = r.port "
			  "AND t.sni = r.sni WHERE (");
	sli_window_cond(&b, &w[0]);
	strbuf_printf(&b, " OR ");
	sli_window_cond(&b, &w[1]);
	strbuf_printf(&b, ") AND ");
	sli_selector_cond(&b, c, &sel);
	strbuf_printf(&b, " GROUP BY 1, 2");
	if (!(res = run(c, &b, "SLO attainment query", err, errlen)))
		goto out;
	for (int i = 0; i < PQntuples(res); i++) {
		struct agg_row a;
		read_agg(res, i, 2, &a);
		if (slo_add(r, rs, acc, strtoll(PQgetvalue(res, i, 0), NULL, 10),
			    PQgetvalue(res, i, 1), &a) < 0) {
			snprintf(err, errlen, "out of memory");
			goto out;
		}
	}
	/* the error budget over the SLO's own window */
	struct sli_window bw = { rs->budget_from_ms, rs->budget_to_ms };
	struct sli_values *v = NULL;
	size_t nv = 0;
	if (sli_query(c, &sel, &bw, SLI_GROUP_NONE, &v, &nv, err, errlen) < 0)
		goto out;
	if (nv == 1) {
		struct agg_row a = { .attempts = v[0].attempts, .failures = v[0].failures,
				     .timed = v[0].timed };
		memcpy(a.hist, v[0].hist, sizeof a.hist);
		slo_events(s, &a, &rs->budget_events, &rs->budget_bad);
	}
	sli_values_free(v, nv);
	rc = 0;
out:
	PQclear(res);
	free(b.p);
	return rc;
}

/* ---- services and regions: one pass, service x region x slice ---- */

struct svc_acc {
	struct report_service *svc;
	struct agg_row total;
	struct agg_row *slices;     /* nslices */
	struct agg_row *regions;    /* parallel to svc->regions (grown with it) */
};

static struct svc_acc *svc_of(struct report *r, struct svc_acc **acc, const char *name)
{
	for (size_t i = 0; i < r->nservices; i++)
		if (!strcmp(r->services[i].name, name))
			return &(*acc)[i];
	struct report_service *ns = realloc(r->services, (r->nservices + 1) * sizeof *ns);
	if (!ns)
		return NULL;
	r->services = ns;
	struct svc_acc *na = realloc(*acc, (r->nservices + 1) * sizeof *na);
	if (!na)
		return NULL;
	*acc = na;
	struct report_service *s = &ns[r->nservices];
	struct svc_acc *a = &na[r->nservices];
	memset(s, 0, sizeof *s);
	memset(a, 0, sizeof *a);
	s->name = strdup(name);
	a->slices = calloc(r->nslices ? r->nslices : 1, sizeof *a->slices);
	s->p95_slices = calloc(r->nslices ? r->nslices : 1, sizeof *s->p95_slices);
	r->nservices++;
	/* re-point every accumulator: realloc may have moved the services */
	for (size_t i = 0; i < r->nservices; i++)
		(*acc)[i].svc = &r->services[i];
	if (!s->name || !a->slices || !s->p95_slices)
		return NULL;
	return a;
}

static void agg_add(struct agg_row *to, const struct agg_row *a)
{
	to->attempts += a->attempts;
	to->failures += a->failures;
	to->timed += a->timed;
	for (int k = 0; k < SLI_LATENCY_BUCKETS; k++)
		to->hist[k] += a->hist[k];
}

static struct agg_row *region_acc(struct report_region_att **v, size_t *n,
				  struct agg_row **acc, const char *name)
{
	for (size_t i = 0; i < *n; i++)
		if (!strcmp((*v)[i].region, name))
			return &(*acc)[i];
	struct agg_row *na = realloc(*acc, (*n + 1) * sizeof *na);
	if (!na)
		return NULL;
	*acc = na;
	memset(&na[*n], 0, sizeof na[*n]);
	if (!region_att(v, n, name))
		return NULL;
	return &na[*n - 1];
}

static int cmp_service(const void *a, const void *b)
{
	return strcmp(((const struct report_service *)a)->name,
		      ((const struct report_service *)b)->name);
}

static int cmp_region(const void *pa, const void *pb)
{
	const struct report_region *a = pa, *b = pb;
	double sa = isnan(a->success_rate) ? -1 : a->success_rate;
	double sb = isnan(b->success_rate) ? -1 : b->success_rate;
	if (sa != sb)
		return sa > sb ? -1 : 1;
	double la = isnan(a->p95_ms) ? INFINITY : a->p95_ms;
	double lb = isnan(b->p95_ms) ? INFINITY : b->p95_ms;
	if (la != lb)
		return la < lb ? -1 : 1;
	return strcmp(a->region, b->region);
}

static bool sel_eq(const char *want, const char *have)
{
	return !want || (have && !strcmp(want, have));
}

/* The shared pass: rollups of the period, the period before and every
 * pooled SLO's budget window, grouped by slice x service x region x profile
 * and window membership (each from sli_window_cond, so a row counts where
 * sli.c says it belongs). Services, regions and every SLO whose selector
 * names only service, region and profile are summed from it in C, as
 * burn.c pools series. */
static int build_pooled(PGconn *c, struct report *r, const struct report_opts *o,
			struct slo_acc *sacc, const struct sli_window *bws, size_t nbw, char *err,
			size_t errlen)
{
	struct sli_window w[2 + nbw];
	w[0] = (struct sli_window){ r->prev_from_ms, r->from_ms };
	w[1] = (struct sli_window){ r->from_ms, r->to_ms };
	for (size_t k = 0; k < nbw; k++)
		w[2 + k] = bws[k];
	struct slo_selector sel = { .service = (char *)o->service };
	struct strbuf b = { 0 };
	PGresult *res = NULL;
	struct svc_acc *acc = NULL;
	struct report_region_att *gregions = NULL;
	struct agg_row *gacc = NULL;
	size_t ngregions = 0;
	int rc = -1;

	/* slice: >= 0 in the period, -1 the period before, -2 neither */
	strbuf_printf(&b, "SELECT CASE WHEN ");
	sli_window_cond(&b, &w[1]);
	strbuf_printf(&b, " THEN floor(((extract(epoch FROM bucket) * 1000)::bigint - %" PRId64
			  ") / %" PRId64 ".0)::bigint WHEN ", r->from_ms, r->slice_ms);
	sli_window_cond(&b, &w[0]);
	strbuf_printf(&b, " THEN -1 ELSE -2 END, coalesce(r.service, '%s'), r.region, r.profile, "
			  "r.service IS NULL", NO_SERVICE);
	for (size_t k = 0; k < nbw; k++) {
		strbuf_printf(&b, ", (");
		sli_window_cond(&b, &w[2 + k]);
		strbuf_printf(&b, ")::int");
	}
	strbuf_printf(&b, ", ");
	agg_columns(&b);
	strbuf_printf(&b, " FROM ");
	sli_rows_sql(&b, w, 2 + nbw);
	strbuf_printf(&b, " r WHERE (");
	for (size_t k = 0; k < 2 + nbw; k++) {
		strbuf_printf(&b, "%s", k ? " OR " : "");
		sli_window_cond(&b, &w[k]);
	}
	strbuf_printf(&b, ") AND ");
	sli_selector_cond(&b, c, &sel);
	strbuf_printf(&b, " GROUP BY 1, 2, 3, 4, 5");
	for (size_t k = 0; k < nbw; k++)
		strbuf_printf(&b, ", %zu", 6 + k);
	if (!(res = run(c, &b, "rollup query", err, errlen)))
		goto out;
	for (int i = 0; i < PQntuples(res); i++) {
		long long sl = strtoll(PQgetvalue(res, i, 0), NULL, 10);
		const char *svc = PQgetvalue(res, i, 1), *region = PQgetvalue(res, i, 2),
			   *profile = PQgetvalue(res, i, 3);
		bool nosvc = !strcmp(PQgetvalue(res, i, 4), "t");
		struct agg_row a;
		read_agg(res, i, 5 + (int)nbw, &a);
		for (size_t k = 0; k < r->nslos; k++) {
			struct report_slo *rs = &r->slos[k];
			const struct slo_selector *ss = &rs->slo->sel;
			if (!sacc[k].pooled || !sel_eq(ss->service, nosvc ? NULL : svc) ||
			    !sel_eq(ss->region, region) || !sel_eq(ss->profile, profile))
				continue;
			if (!strcmp(PQgetvalue(res, i, 5 + (int)sacc[k].bw), "1")) {
				uint64_t ev, bad;
				slo_events(rs->slo, &a, &ev, &bad);
				rs->budget_events += ev;
				rs->budget_bad += bad;
			}
			if (sl >= -1 && slo_add(r, rs, &sacc[k], sl, region, &a) < 0) {
				snprintf(err, errlen, "out of memory");
				goto out;
			}
		}
		if (sl < 0)
			continue;
		struct svc_acc *sa = svc_of(r, &acc, svc);
		struct agg_row *ra = sa ? region_acc(&sa->svc->regions, &sa->svc->nregions,
						     &sa->regions, region) : NULL;
		struct agg_row *ga = ra ? region_acc(&gregions, &ngregions, &gacc, region) : NULL;
		if (!ga) {
			snprintf(err, errlen, "out of memory");
			goto out;
		}
		size_t k = (size_t)sl < r->nslices ? (size_t)sl : r->nslices - 1;
		agg_add(&sa->total, &a);
		agg_add(&sa->slices[k], &a);
		agg_add(ra, &a);
		agg_add(ga, &a);
		r->attempts += a.attempts;
		r->failures += a.failures;
	}
	for (size_t i = 0; i < r->nservices; i++) {
		struct report_service *s = &r->services[i];
		struct svc_acc *sa = &acc[i];
		s->attempts = sa->total.attempts;
		s->failures = sa->total.failures;
		s->success_rate = att(s->attempts, s->failures);
		s->p95_ms = sli_percentile(sa->total.hist, 0.95);
		for (size_t k = 0; k < r->nslices; k++)
			s->p95_slices[k] = sli_percentile(sa->slices[k].hist, 0.95);
		for (size_t j = 0; j < s->nregions; j++) {
			s->regions[j].events = sa->regions[j].attempts;
			s->regions[j].bad = sa->regions[j].failures;
			s->regions[j].attainment = att(sa->regions[j].attempts, sa->regions[j].failures);
			s->regions[j].p95_ms = sli_percentile(sa->regions[j].hist, 0.95);
		}
	}
	if (ngregions && !(r->regions = calloc(ngregions, sizeof *r->regions))) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	for (size_t j = 0; j < ngregions; j++) {
		struct report_region *x = &r->regions[j];
		x->region = gregions[j].region;
		gregions[j].region = NULL;
		x->attempts = gacc[j].attempts;
		x->successes = gacc[j].attempts - (gacc[j].failures > gacc[j].attempts
						   ? gacc[j].attempts : gacc[j].failures);
		x->success_rate = att(gacc[j].attempts, gacc[j].failures);
		x->p95_ms = sli_percentile(gacc[j].hist, 0.95);
	}
	r->nregions = ngregions;
	if (r->nregions)
		qsort(r->regions, r->nregions, sizeof *r->regions, cmp_region);
	rc = 0;
out:
	for (size_t i = 0; acc && i < r->nservices; i++) {
		free(acc[i].slices);
		free(acc[i].regions);
	}
	/* services sorted by name, each one's regions too (after acc is gone:
	 * the accumulators are parallel to the unsorted arrays) */
	if (rc == 0) {
		if (r->nservices)
			qsort(r->services, r->nservices, sizeof *r->services, cmp_service);
		for (size_t i = 0; i < r->nservices; i++)
			if (r->services[i].nregions)
				qsort(r->services[i].regions, r->services[i].nregions,
				      sizeof *r->services[i].regions, cmp_region_att);
	}
	free(acc);
	for (size_t j = 0; j < ngregions; j++)
		free(gregions[j].region);
	free(gregions);
	free(gacc);
	PQclear(res);
	free(b.p);
	return rc;
}

/* ---- the whole report ---- */

int report_build(PGconn *c, const struct slo_config *slo, const struct report_opts *o,
		 struct report **out, char *err, size_t errlen)
{
	struct report *r = calloc(1, sizeof *r);
	struct slo_acc *sacc = NULL;
	struct sli_window *bws = NULL;
	size_t nbw = 0, nacc = 0;
	int rc = -1;
	*out = NULL;
	if (!r || !(r->period = strdup(o->period ? o->period : "")) ||
	    (o->service && !(r->service_filter = strdup(o->service)))) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	if (o->to_ms <= o->from_ms) {
		snprintf(err, errlen, "the period is empty (its end is not after its start)");
		goto fail;
	}
	/* sli.h: a window older than rollup_1m's retention starts on an hour */
	struct sli_window w;
	int64_t len = o->to_ms - o->from_ms;
	sli_window(o->to_ms, len, (int64_t)o->retention_days * REPORT_DAY_MS, &w);
	r->generated_ms = o->generated_ms;
	r->from_ms = w.from_ms;
	r->to_ms = w.to_ms;
	r->prev_from_ms = r->from_ms - (r->to_ms - r->from_ms);
	r->slice_ms = len <= 2 * REPORT_DAY_MS ? REPORT_DAY_MS / 24 : REPORT_DAY_MS;
	r->nslices = (size_t)((r->to_ms - r->from_ms + r->slice_ms - 1) / r->slice_ms);
	if (r->nslices > 4000) {
		snprintf(err, errlen, "the period is longer than 4000 days");
		goto fail;
	}

	size_t n = 0;
	for (size_t i = 0; slo && i < slo->nslos; i++)
		if (!o->service || !slo->slos[i].sel.service ||
		    !strcmp(slo->slos[i].sel.service, o->service))
			n++;
	if (n && (!(r->slos = calloc(n, sizeof *r->slos)) || !(sacc = calloc(n, sizeof *sacc)) ||
		  !(bws = calloc(n, sizeof *bws)))) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	for (size_t i = 0; slo && i < slo->nslos; i++) {
		const struct slo *s = &slo->slos[i];
		if (o->service && s->sel.service && strcmp(s->sel.service, o->service))
			continue;
		size_t k = r->nslos++;
		nacc = r->nslos;
		struct report_slo *rs = &r->slos[k];
		rs->slo = s;
		/* the error budget's window: the SLO's own, ending at the period's end */
		struct sli_window bw;
		sli_window(r->to_ms, s->window_ms, (int64_t)o->retention_days * REPORT_DAY_MS, &bw);
		rs->budget_from_ms = bw.from_ms;
		rs->budget_to_ms = bw.to_ms;
		if (!(sacc[k].slices = calloc(r->nslices, sizeof *sacc[k].slices))) {
			snprintf(err, errlen, "out of memory");
			goto fail;
		}
		sacc[k].pooled = !s->sel.target && !s->sel.nlabels;
		if (!sacc[k].pooled)
			continue;
		for (sacc[k].bw = 0; sacc[k].bw < nbw; sacc[k].bw++)
			if (bws[sacc[k].bw].from_ms == bw.from_ms && bws[sacc[k].bw].to_ms == bw.to_ms)
				break;
		if (sacc[k].bw == nbw)
			bws[nbw++] = bw;
	}
	if (build_pooled(c, r, o, sacc, bws, nbw, err, errlen) < 0)
		goto fail;
	for (size_t k = 0; k < r->nslos; k++) {
		if ((!sacc[k].pooled && build_slo(c, r, o, &r->slos[k], &sacc[k], err, errlen) < 0))
			goto fail;
		if (slo_finish(r, &r->slos[k], &sacc[k]) < 0) {
			snprintf(err, errlen, "out of memory");
			goto fail;
		}
	}
	if (report_facts_read(c, r, err, errlen) < 0)
		goto fail;
	*out = r;
	r = NULL;
	rc = 0;
fail:
	for (size_t k = 0; sacc && k < nacc; k++)
		free(sacc[k].slices);
	free(sacc);
	free(bws);
	report_free(r);
	return rc;
}

static void free_region_atts(struct report_region_att *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i].region);
	free(v);
}

void report_free(struct report *r)
{
	if (!r)
		return;
	free(r->period);
	free(r->service_filter);
	for (size_t i = 0; i < r->nslos; i++) {
		free_region_atts(r->slos[i].regions, r->slos[i].nregions);
		free(r->slos[i].burndown);
	}
	free(r->slos);
	for (size_t i = 0; i < r->nservices; i++) {
		struct report_service *s = &r->services[i];
		free(s->name);
		free_region_atts(s->regions, s->nregions);
		free(s->p95_slices);
		for (size_t j = 0; j < s->nevents; j++) {
			free(s->events[j].kind);
			free(s->events[j].target);
			free(s->events[j].detail);
		}
		free(s->events);
	}
	free(r->services);
	for (size_t i = 0; i < r->nregions; i++)
		free(r->regions[i].region);
	free(r->regions);
	report_facts_free(r);
	free(r);
}
