/*
 * report_html.c - the report as one self-contained HTML file: inline CSS
 * (with print rules: A4, one service per page, tables not split), inline
 * SVG charts (report_chart.c), no script, no external asset. Page one is
 * the period at a glance: two bar charts (report_bars.c), tiles, SLOs, incidents, certificates, causes,
 * regions; then one section per service.
 */
#include "report_int.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

static const char CSS[] =
	"body{font-family:'DejaVu Sans',Arial,sans-serif;color:#1a1a1a;margin:24px auto;"
	"max-width:1000px;font-size:14px}"
	"h1{font-size:24px;margin:0 0 4px}h2{font-size:18px;margin:24px 0 8px;"
	"border-bottom:1px solid #ccc;padding-bottom:4px}.sub{color:#555}"
	"table{border-collapse:collapse;width:100%;margin:4px 0 12px;page-break-inside:avoid}"
	"th,td{border:1px solid #ddd;padding:4px 6px;text-align:left;vertical-align:top}"
	"th{background:#f3f3f3}td.n{text-align:right;font-variant-numeric:tabular-nums}"
	".tiles{display:flex;gap:12px;flex-wrap:wrap;margin:16px 0}"
	".tile{flex:1;min-width:150px;border-radius:6px;padding:10px 12px;background:#f3f6fa;"
	"border:1px solid #d5dde8}.tile b{display:block;font-size:22px}"
	".met{color:#17692e;font-weight:bold}.missed{color:#b3261e;font-weight:bold}"
	".nodata{color:#777;font-style:italic}.warn{background:#fff4e5;border:1px solid #f0b76a;"
	"padding:8px 12px;border-radius:6px}"
	".charts{display:flex;flex-wrap:wrap;gap:8px}.charts svg{border:1px solid #eee}"
	".glance figure{margin:0}"
	"section.svc{page-break-before:always}"
	"@media print{body{margin:0;max-width:none;font-size:11px}@page{size:A4;margin:14mm}"
	".tile{border:1px solid #999}}";

static void esc(struct strbuf *b, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '<': strbuf_puts(b, "&lt;"); break;
		case '>': strbuf_puts(b, "&gt;"); break;
		case '&': strbuf_puts(b, "&amp;"); break;
		case '"': strbuf_puts(b, "&quot;"); break;
		default: strbuf_putc(b, *s);
		}
	}
}

static void td(struct strbuf *b, const char *s, bool num)
{
	strbuf_puts(b, num ? "<td class=n>" : "<td>");
	if (!strcmp(s, "no data"))
		strbuf_puts(b, "<span class=nodata>no data</span>");
	else
		esc(b, s);
	strbuf_puts(b, "</td>");
}

static void tile(struct strbuf *b, const char *big, const char *label)
{
	strbuf_puts(b, "<div class=tile><b>");
	esc(b, big);
	strbuf_puts(b, "</b>");
	esc(b, label);
	strbuf_puts(b, "</div>");
}

static void tiles(const struct report *r, struct strbuf *b)
{
	char big[64], lab[128];
	size_t met = 0, missed = 0;
	for (size_t i = 0; i < r->nslos; i++) {
		met += r->slos[i].status == REPORT_MET;
		missed += r->slos[i].status == REPORT_MISSED;
	}
	strbuf_puts(b, "<div class=tiles>");
	snprintf(big, sizeof big, "%zu / %zu", met, r->nslos);
	snprintf(lab, sizeof lab, "SLOs met (%zu missed, %zu without data)", missed,
		 r->nslos - met - missed);
	tile(b, big, lab);
	snprintf(big, sizeof big, "%" PRIu64, r->incident_count);
	tile(b, big, "incidents (pages)");
	snprintf(big, sizeof big, "%zu", r->ncerts);
	tile(b, big, "certificates expiring within 30 days");
	tile(b, report_fmt_pct(r->attempts ? (double)(r->attempts - r->failures) / (double)r->attempts
				   : NAN, big, sizeof big), "handshake success overall");
	strbuf_puts(b, "</div>");
}

static int page_one(const struct report *r, struct strbuf *b)
{
	char x[96], y[64], z[64];
	/* in pictures first: the same figures as the tables below */
	strbuf_puts(b, "<div class=\"charts glance\">");
	for (int k = 0; k < 2; k++) {
		struct strbuf d = { 0 };
		report_bars_describe(&d, r, k == 1);
		strbuf_printf(b, "<figure class=%s role=img aria-label=\"", k ? "regions" : "slos");
		if (d.p)
			esc(b, d.p);
		strbuf_free(&d);
		strbuf_puts(b, "\">");
		if (report_bars_svg(b, r, k == 1, 490) < 0)
			return -1;
		strbuf_puts(b, "</figure>");
	}
	strbuf_puts(b, "</div>");
	tiles(r, b);
	strbuf_puts(b, "<h2>SLO attainment</h2>");
	if (!r->nslos) {
		strbuf_puts(b, "<p>No SLOs are configured (alerting.slo_file).</p>");
	} else {
		strbuf_puts(b, "<table><tr><th>SLO</th><th>Service</th><th>Objective</th>"
			       "<th>Attainment</th><th>Status</th><th>Previous period</th><th>Trend</th>"
			       "<th>Error budget left (SLO window)</th></tr>");
		for (size_t i = 0; i < r->nslos; i++) {
			const struct report_slo *s = &r->slos[i];
			strbuf_puts(b, "<tr>");
			td(b, s->slo->name, false);
			td(b, s->slo->sel.service ? s->slo->sel.service : "all", false);
			snprintf(x, sizeof x, "%g%%", s->slo->objective_pct);
			td(b, x, true);
			td(b, report_fmt_pct(s->attainment, y, sizeof y), true);
			strbuf_printf(b, "<td class=%s>%s</td>", s->status == REPORT_MET ? "met"
					 : s->status == REPORT_MISSED ? "missed" : "nodata",
				      report_status_name(s->status));
			td(b, report_fmt_pct(s->prev_attainment, y, sizeof y), true);
			if (isnan(s->attainment) || isnan(s->prev_attainment))
				snprintf(x, sizeof x, "no data");
			else
				snprintf(x, sizeof x, "%+.3f pp", (s->attainment - s->prev_attainment) * 100);
			td(b, x, true);
			snprintf(x, sizeof x, "%s (%s)", report_fmt_pct(s->budget_remaining, y, sizeof y),
				 slo_format_duration(s->slo->window_ms, z, sizeof z));
			td(b, isnan(s->budget_remaining) ? "no data" : x, true);
			strbuf_puts(b, "</tr>");
		}
		strbuf_puts(b, "</table>");
	}

	strbuf_puts(b, "<h2>Incidents (alerts that paged)</h2>");
	if (!r->incident_count) {
		strbuf_puts(b, "<p>No page fired in the period.</p>");
	} else {
		strbuf_printf(b, "<p>%" PRIu64 " incident%s, %s in total, the longest %s. Services hit: ",
			      r->incident_count, r->incident_count == 1 ? "" : "s",
			      report_fmt_duration(r->incident_total_ms, y, sizeof y),
			      report_fmt_duration(r->incident_longest_ms, z, sizeof z));
		for (size_t i = 0; i < r->nincident_services; i++) {
			strbuf_puts(b, i ? ", " : "");
			esc(b, r->incident_services[i]);
		}
		strbuf_puts(b, r->nincident_services ? ".</p>" : "none named.</p>");
		strbuf_puts(b, "<table><tr><th>Started</th><th>Duration</th><th>Rule</th>"
			       "<th>Subject</th><th>Summary</th></tr>");
		for (size_t i = 0; i < r->nincidents; i++) {
			const struct report_incident *e = &r->incidents[i];
			strbuf_puts(b, "<tr>");
			td(b, report_fmt_date(e->start_ms, y, sizeof y), false);
			report_fmt_duration(e->end_ms - e->start_ms, z, sizeof z);
			snprintf(x, sizeof x, "%s%s", z, e->open ? " (still firing)" : "");
			td(b, x, true);
			td(b, e->rule, false);
			td(b, e->subject, false);
			td(b, e->summary, false);
			strbuf_puts(b, "</tr>");
		}
		strbuf_puts(b, "</table>");
	}

	strbuf_puts(b, "<h2>Certificates expiring within 30 days</h2>");
	if (!r->ncerts) {
		strbuf_puts(b, "<p>None of the certificates served in the period expires within 30 "
			       "days of its end.</p>");
	} else {
		strbuf_puts(b, "<table><tr><th>Subject</th><th>Expires</th><th>Days left</th>"
			       "<th>Served at</th><th>Owner</th><th>Service</th></tr>");
		for (size_t i = 0; i < r->ncerts; i++) {
			const struct report_cert *c = &r->certs[i];
			strbuf_puts(b, "<tr>");
			td(b, c->subject, false);
			td(b, report_fmt_date(c->not_after_ms, y, sizeof y), false);
			snprintf(z, sizeof z, "%.1f", c->days_left);
			td(b, z, true);
			td(b, c->served_at, false);
			td(b, c->owners[0] ? c->owners : "unknown", false);
			td(b, c->services, false);
			strbuf_puts(b, "</tr>");
		}
		strbuf_puts(b, "</table>");
	}

	strbuf_puts(b, "<h2>Top failure causes</h2>");
	if (!r->ncauses) {
		strbuf_printf(b, "<p>%s</p>", r->attempts ? "No failure in the period." : "No data.");
	} else {
		strbuf_puts(b, "<table><tr><th>Outcome</th><th>Failures</th><th>Share of failures</th>"
			       "</tr>");
		for (size_t i = 0; i < r->ncauses; i++) {
			strbuf_puts(b, "<tr>");
			td(b, r->causes[i].outcome, false);
			snprintf(y, sizeof y, "%" PRIu64, r->causes[i].count);
			td(b, y, true);
			td(b, report_fmt_pct(r->causes[i].share, z, sizeof z), true);
			strbuf_puts(b, "</tr>");
		}
		strbuf_puts(b, "</table>");
	}

	strbuf_puts(b, "<h2>Regions, best first</h2>");
	if (!r->nregions) {
		strbuf_puts(b, "<p>No data.</p>");
		return 0;
	}
	strbuf_puts(b, "<table><tr><th>Rank</th><th>Region</th><th>Handshake success</th>"
		       "<th>p95</th><th>Attempts</th></tr>");
	for (size_t i = 0; i < r->nregions; i++) {
		strbuf_printf(b, "<tr><td class=n>%zu</td>", i + 1);
		td(b, r->regions[i].region, false);
		td(b, report_fmt_pct(r->regions[i].success_rate, y, sizeof y), true);
		td(b, report_fmt_ms(r->regions[i].p95_ms, z, sizeof z), true);
		snprintf(x, sizeof x, "%" PRIu64, r->regions[i].attempts);
		td(b, x, true);
		strbuf_puts(b, "</tr>");
	}
	strbuf_puts(b, "</table>");
	return 0;
}

static int service_section(const struct report *r, const struct report_service *s,
			   struct strbuf *b)
{
	char x[64], y[64];
	strbuf_puts(b, "<section class=svc><h2>Service ");
	esc(b, s->name);
	strbuf_printf(b, "</h2><p>Handshake success %s over %" PRIu64 " attempts, p95 %s.</p>",
		      report_fmt_pct(s->success_rate, x, sizeof x), s->attempts,
		      report_fmt_ms(s->p95_ms, y, sizeof y));
	strbuf_puts(b, "<table><tr><th>Region</th><th>Handshake success</th><th>p95</th>"
		       "<th>Attempts</th>");
	for (size_t i = 0; i < r->nslos; i++)
		if (report_slo_of_service(&r->slos[i], s)) {
			strbuf_puts(b, "<th>SLO ");
			esc(b, r->slos[i].slo->name);
			strbuf_puts(b, "</th>");
		}
	strbuf_puts(b, "</tr>");
	for (size_t i = 0; i < s->nregions; i++) {
		strbuf_puts(b, "<tr>");
		td(b, s->regions[i].region, false);
		td(b, report_fmt_pct(s->regions[i].attainment, x, sizeof x), true);
		td(b, report_fmt_ms(s->regions[i].p95_ms, y, sizeof y), true);
		snprintf(x, sizeof x, "%" PRIu64, s->regions[i].events);
		td(b, x, true);
		for (size_t k = 0; k < r->nslos; k++) {
			const struct report_slo *rs = &r->slos[k];
			if (!report_slo_of_service(rs, s))
				continue;
			double a = NAN;
			for (size_t j = 0; j < rs->nregions; j++)
				if (!strcmp(rs->regions[j].region, s->regions[i].region))
					a = rs->regions[j].attainment;
			td(b, report_fmt_pct(a, x, sizeof x), true);
		}
		strbuf_puts(b, "</tr>");
	}
	strbuf_puts(b, "</table><div class=charts>");
	struct report_chart chs[1 + r->nslos];
	size_t n = report_service_charts(r, s, chs);
	for (size_t i = 0; i < n; i++)
		if (report_chart_svg(b, &chs[i], 480, 220) < 0)
			return -1;
	strbuf_puts(b, "</div><h3>Notable events</h3>");
	if (!s->nevents)
		strbuf_puts(b, "<p>None: no certificate change, fingerprint or negotiation drift.</p>");
	else
		strbuf_puts(b, "<ul>");
	for (size_t i = 0; i < s->nevents; i++) {
		strbuf_printf(b, "<li>%s <b>", report_fmt_date(s->events[i].at_ms, x, sizeof x));
		esc(b, s->events[i].kind);
		strbuf_puts(b, "</b> ");
		esc(b, s->events[i].target);
		strbuf_puts(b, ": ");
		esc(b, s->events[i].detail);
		strbuf_puts(b, "</li>");
	}
	strbuf_puts(b, s->nevents ? "</ul></section>" : "</section>");
	return 0;
}

int report_render_html(const struct report *r, struct strbuf *b)
{
	char f[64], t[64], g[64];
	strbuf_printf(b, "<!DOCTYPE html>\n<html lang=en><head><meta charset=utf-8>"
			 "<meta name=viewport content=\"width=device-width\"><title>TLS report ");
	esc(b, r->period);
	strbuf_printf(b, "</title><style>%s</style></head><body><h1>TLS report: ", CSS);
	esc(b, r->period);
	if (r->service_filter) {
		strbuf_puts(b, ", service ");
		esc(b, r->service_filter);
	}
	strbuf_printf(b, "</h1><p class=sub>Period %s to %s (UTC), compared with the period "
			 "before. Generated %s.</p>", report_fmt_date(r->from_ms, f, sizeof f),
		      report_fmt_date(r->to_ms, t, sizeof t),
		      report_fmt_date(r->generated_ms, g, sizeof g));
	if (r->attempts == 0)
		strbuf_puts(b, "<p class=warn><b>No data</b>: no probe result was stored for this "
			       "period. No figure below is an attainment.</p>");
	if (page_one(r, b) < 0)
		return -1;
	for (size_t i = 0; i < r->nservices; i++)
		if (service_section(r, &r->services[i], b) < 0)
			return -1;
	strbuf_puts(b, "</body></html>\n");
	return b->oom ? -1 : 0;
}
