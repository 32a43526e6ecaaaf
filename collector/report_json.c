/*
 * report_json.c - the report as JSON: every figure the other formats show
 * (docs/reports.md lists the fields). A figure without data is null, never
 * 0 or 1. The summary (summary = true) is page one only: what the webhook
 * carries.
 */
#include "report.h"
#include "twtime.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

static json_t *num(double v)
{
	return isnan(v) || isinf(v) ? json_null() : json_real(v);
}

static json_t *tstr(int64_t ms)
{
	char t[48];
	return json_string(twtime_rfc3339_ms(ms, t, sizeof t));
}

/* json_object_set_new that remembers a failure (jansson returns -1 on a NULL value) */
static void set(json_t *o, const char *k, json_t *v, bool *bad)
{
	if (!v || json_object_set_new(o, k, v) < 0)
		*bad = true;
}

static void push(json_t *a, json_t *v, bool *bad)
{
	if (!v || json_array_append_new(a, v) < 0)
		*bad = true;
}

static json_t *region_atts(const struct report_region_att *v, size_t n, bool p95, bool *bad)
{
	json_t *a = json_array();
	for (size_t i = 0; a && i < n; i++) {
		json_t *o = json_object();
		if (!o) {
			*bad = true;
			break;
		}
		set(o, "region", json_string(v[i].region), bad);
		set(o, "events", json_integer((json_int_t)v[i].events), bad);
		set(o, "bad", json_integer((json_int_t)v[i].bad), bad);
		set(o, "attainment", num(v[i].attainment), bad);
		if (p95)
			set(o, "p95_ms", num(v[i].p95_ms), bad);
		push(a, o, bad);
	}
	return a;
}

static json_t *slos_json(const struct report *r, bool summary, bool *bad)
{
	json_t *a = json_array();
	for (size_t i = 0; a && i < r->nslos; i++) {
		const struct report_slo *s = &r->slos[i];
		char w[32];
		json_t *o = json_object(), *p = json_object(), *b = json_object();
		if (!o || !p || !b) {
			json_decref(o);
			json_decref(p);
			json_decref(b);
			*bad = true;
			break;
		}
		set(o, "name", json_string(s->slo->name), bad);
		set(o, "service", s->slo->sel.service ? json_string(s->slo->sel.service) : json_null(),
		    bad);
		set(o, "sli", json_string(s->slo->sli == SLO_SLI_AVAILABILITY ? "availability"
									   : "latency"), bad);
		if (s->slo->sli == SLO_SLI_LATENCY)
			set(o, "threshold_ms", json_real(s->slo->threshold_ms), bad);
		set(o, "objective_pct", json_real(s->slo->objective_pct), bad);
		set(o, "status", json_string(report_status_name(s->status)), bad);
		set(o, "events", json_integer((json_int_t)s->events), bad);
		set(o, "bad", json_integer((json_int_t)s->bad), bad);
		set(o, "attainment", num(s->attainment), bad);
		set(p, "events", json_integer((json_int_t)s->prev_events), bad);
		set(p, "bad", json_integer((json_int_t)s->prev_bad), bad);
		set(p, "attainment", num(s->prev_attainment), bad);
		set(o, "previous", p, bad);
		set(o, "trend", num(s->attainment - s->prev_attainment), bad);
		set(b, "window", json_string(slo_format_duration(s->slo->window_ms, w, sizeof w)), bad);
		set(b, "from", tstr(s->budget_from_ms), bad);
		set(b, "to", tstr(s->budget_to_ms), bad);
		set(b, "events", json_integer((json_int_t)s->budget_events), bad);
		set(b, "bad", json_integer((json_int_t)s->budget_bad), bad);
		set(b, "remaining", num(s->budget_remaining), bad);
		set(o, "error_budget", b, bad);
		if (!summary) {
			set(o, "regions", region_atts(s->regions, s->nregions, false, bad), bad);
			json_t *bd = json_array();
			for (size_t k = 0; bd && k < r->nslices; k++)
				push(bd, num(s->burndown[k]), bad);
			set(o, "burndown", bd, bad);
		}
		push(a, o, bad);
	}
	return a;
}

static json_t *incidents_json(const struct report *r, bool summary, bool *bad)
{
	json_t *o = json_object(), *svcs = json_array(), *list = json_array();
	if (!o || !svcs || !list) {
		json_decref(o);
		json_decref(svcs);
		json_decref(list);
		*bad = true;
		return NULL;
	}
	set(o, "count", json_integer((json_int_t)r->incident_count), bad);
	set(o, "total_ms", json_integer(r->incident_total_ms), bad);
	set(o, "longest_ms", json_integer(r->incident_longest_ms), bad);
	for (size_t i = 0; i < r->nincident_services; i++)
		push(svcs, json_string(r->incident_services[i]), bad);
	set(o, "services", svcs, bad);
	for (size_t i = 0; !summary && i < r->nincidents; i++) {
		const struct report_incident *x = &r->incidents[i];
		json_t *e = json_object();
		if (!e) {
			*bad = true;
			break;
		}
		set(e, "rule", json_string(x->rule), bad);
		set(e, "subject", json_string(x->subject), bad);
		set(e, "service", x->service[0] ? json_string(x->service) : json_null(), bad);
		set(e, "summary", json_string(x->summary), bad);
		set(e, "start", tstr(x->start_ms), bad);
		set(e, "end", tstr(x->end_ms), bad);
		set(e, "duration_ms", json_integer(x->end_ms - x->start_ms), bad);
		set(e, "open", json_boolean(x->open), bad);
		push(list, e, bad);
	}
	if (summary)
		json_decref(list);
	else
		set(o, "longest", list, bad);
	return o;
}

static json_t *certs_json(const struct report *r, bool *bad)
{
	json_t *a = json_array();
	for (size_t i = 0; a && i < r->ncerts; i++) {
		const struct report_cert *x = &r->certs[i];
		json_t *o = json_object();
		if (!o) {
			*bad = true;
			break;
		}
		set(o, "fingerprint_sha256", json_string(x->fingerprint), bad);
		set(o, "subject", json_string(x->subject), bad);
		set(o, "issuer", json_string(x->issuer), bad);
		set(o, "not_after", tstr(x->not_after_ms), bad);
		set(o, "days_left", json_real(x->days_left), bad);
		set(o, "served_at", json_string(x->served_at), bad);
		set(o, "owners", json_string(x->owners), bad);
		set(o, "services", json_string(x->services), bad);
		push(a, o, bad);
	}
	return a;
}

static json_t *services_json(const struct report *r, bool *bad)
{
	json_t *a = json_array();
	for (size_t i = 0; a && i < r->nservices; i++) {
		const struct report_service *s = &r->services[i];
		json_t *o = json_object(), *p95 = json_array(), *ev = json_array();
		if (!o || !p95 || !ev) {
			json_decref(o);
			json_decref(p95);
			json_decref(ev);
			*bad = true;
			break;
		}
		set(o, "name", json_string(s->name), bad);
		set(o, "attempts", json_integer((json_int_t)s->attempts), bad);
		set(o, "failures", json_integer((json_int_t)s->failures), bad);
		set(o, "success_rate", num(s->success_rate), bad);
		set(o, "p95_ms", num(s->p95_ms), bad);
		set(o, "regions", region_atts(s->regions, s->nregions, true, bad), bad);
		for (size_t k = 0; k < r->nslices; k++)
			push(p95, num(s->p95_slices[k]), bad);
		set(o, "p95_ms_by_slice", p95, bad);
		for (size_t k = 0; k < s->nevents; k++) {
			json_t *e = json_object();
			if (!e) {
				*bad = true;
				break;
			}
			set(e, "at", tstr(s->events[k].at_ms), bad);
			set(e, "kind", json_string(s->events[k].kind), bad);
			set(e, "target", json_string(s->events[k].target), bad);
			set(e, "detail", json_string(s->events[k].detail), bad);
			push(ev, e, bad);
		}
		set(o, "events", ev, bad);
		push(a, o, bad);
	}
	return a;
}

int report_render_json(const struct report *r, bool summary, struct strbuf *b)
{
	bool bad = false;
	json_t *o = json_object(), *per = json_object(), *tot = json_object();
	if (!o || !per || !tot) {
		json_decref(o);
		json_decref(per);
		json_decref(tot);
		return -1;
	}
	set(per, "label", json_string(r->period), &bad);
	set(per, "from", tstr(r->from_ms), &bad);
	set(per, "to", tstr(r->to_ms), &bad);
	set(per, "previous_from", tstr(r->prev_from_ms), &bad);
	set(per, "slice_ms", json_integer(r->slice_ms), &bad);
	set(per, "slices", json_integer((json_int_t)r->nslices), &bad);
	set(o, "period", per, &bad);
	set(o, "generated_at", tstr(r->generated_ms), &bad);
	set(o, "service", r->service_filter ? json_string(r->service_filter) : json_null(), &bad);
	set(o, "no_data", json_boolean(r->attempts == 0), &bad);
	set(tot, "attempts", json_integer((json_int_t)r->attempts), &bad);
	set(tot, "failures", json_integer((json_int_t)r->failures), &bad);
	set(tot, "success_rate", num(r->attempts ? (double)(r->attempts - r->failures) /
					       (double)r->attempts : NAN), &bad);
	set(o, "totals", tot, &bad);
	set(o, "slos", slos_json(r, summary, &bad), &bad);
	set(o, "incidents", incidents_json(r, summary, &bad), &bad);
	set(o, "certificates_expiring", certs_json(r, &bad), &bad);
	json_t *causes = json_array(), *regions = json_array();
	for (size_t i = 0; causes && i < r->ncauses; i++)
		push(causes, json_pack("{s:s, s:I, s:o}", "outcome", r->causes[i].outcome, "count",
				       (json_int_t)r->causes[i].count, "share",
				       num(r->causes[i].share)), &bad);
	set(o, "failure_causes", causes, &bad);
	for (size_t i = 0; regions && i < r->nregions; i++)
		push(regions, json_pack("{s:s, s:I, s:I, s:o, s:o}", "region", r->regions[i].region,
					"attempts", (json_int_t)r->regions[i].attempts, "successes",
					(json_int_t)r->regions[i].successes, "success_rate",
					num(r->regions[i].success_rate), "p95_ms",
					num(r->regions[i].p95_ms)), &bad);
	set(o, "regions", regions, &bad);
	if (!summary)
		set(o, "services", services_json(r, &bad), &bad);
	char *s = bad ? NULL : json_dumps(o, JSON_INDENT(2) | JSON_REAL_PRECISION(12));
	json_decref(o);
	if (!s)
		return -1;
	strbuf_puts(b, s);
	strbuf_putc(b, '\n');
	free(s);
	return b->oom ? -1 : 0;
}
