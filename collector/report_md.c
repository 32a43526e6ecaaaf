/*
 * report_md.c - the report as Markdown (GitHub/CommonMark tables) that
 * pastes into a wiki or a chat: page one (SLOs, incidents, certificates,
 * failure causes, regions), then one section per service. No charts: the
 * figures behind them are in the JSON.
 */
#include "report.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

/* A table cell: '|' and line breaks would end it. */
static void cell(struct strbuf *b, const char *s)
{
	strbuf_puts(b, " ");
	for (; *s; s++) {
		if (*s == '|')
			strbuf_puts(b, "\\|");
		else if (*s == '\n' || *s == '\r')
			strbuf_putc(b, ' ');
		else
			strbuf_putc(b, *s);
	}
	strbuf_puts(b, " |");
}

static void trend(struct strbuf *b, const struct report_slo *s)
{
	char buf[32];
	if (isnan(s->attainment) || isnan(s->prev_attainment)) {
		cell(b, "no data");
		return;
	}
	double d = (s->attainment - s->prev_attainment) * 100;
	snprintf(buf, sizeof buf, "%s%.3f pp", d >= 0 ? "+" : "", d);
	cell(b, buf);
}

static void page_one(const struct report *r, struct strbuf *b)
{
	char x[96], y[64], z[96];
	strbuf_printf(b, "## SLO attainment\n\n");
	if (!r->nslos) {
		strbuf_printf(b, "No SLOs are configured (alerting.slo_file).\n\n");
	} else {
		strbuf_printf(b, "| SLO | Service | Objective | Attainment | Status | Previous period "
				 "| Trend | Error budget left (SLO window) |\n"
				 "|---|---|---|---|---|---|---|---|\n");
		for (size_t i = 0; i < r->nslos; i++) {
			const struct report_slo *s = &r->slos[i];
			strbuf_puts(b, "|");
			cell(b, s->slo->name);
			cell(b, s->slo->sel.service ? s->slo->sel.service : "all");
			snprintf(x, sizeof x, "%g%%", s->slo->objective_pct);
			cell(b, x);
			cell(b, report_fmt_pct(s->attainment, y, sizeof y));
			cell(b, report_status_name(s->status));
			cell(b, report_fmt_pct(s->prev_attainment, y, sizeof y));
			trend(b, s);
			snprintf(x, sizeof x, "%s (%s)", report_fmt_pct(s->budget_remaining, y, sizeof y),
				 slo_format_duration(s->slo->window_ms, z, sizeof z));
			cell(b, x);
			strbuf_puts(b, "\n");
		}
		strbuf_puts(b, "\n");
	}

	strbuf_printf(b, "## Incidents (alerts that paged)\n\n");
	if (!r->incident_count) {
		strbuf_printf(b, "No page fired in the period.\n\n");
	} else {
		strbuf_printf(b, "%" PRIu64 " incident%s, %s in total, the longest %s. Services hit: ",
			      r->incident_count, r->incident_count == 1 ? "" : "s",
			      report_fmt_duration(r->incident_total_ms, x, sizeof x),
			      report_fmt_duration(r->incident_longest_ms, y, sizeof y));
		for (size_t i = 0; i < r->nincident_services; i++)
			strbuf_printf(b, "%s%s", i ? ", " : "", r->incident_services[i]);
		strbuf_printf(b, "%s.\n\n| Started | Duration | Rule | Subject | Summary |\n"
				 "|---|---|---|---|---|\n", r->nincident_services ? "" : "none named");
		for (size_t i = 0; i < r->nincidents; i++) {
			const struct report_incident *e = &r->incidents[i];
			strbuf_puts(b, "|");
			cell(b, report_fmt_date(e->start_ms, x, sizeof x));
			report_fmt_duration(e->end_ms - e->start_ms, y, sizeof y);
			snprintf(z, sizeof z, "%s%s", y, e->open ? " (still firing)" : "");
			cell(b, z);
			cell(b, e->rule);
			cell(b, e->subject);
			cell(b, e->summary);
			strbuf_puts(b, "\n");
		}
		strbuf_puts(b, "\n");
	}

	strbuf_printf(b, "## Certificates expiring within 30 days\n\n");
	if (!r->ncerts) {
		strbuf_printf(b, "None of the certificates served in the period expires within 30 "
				 "days of its end.\n\n");
	} else {
		strbuf_printf(b, "| Subject | Expires | Days left | Served at | Owner | Service |\n"
				 "|---|---|---|---|---|---|\n");
		for (size_t i = 0; i < r->ncerts; i++) {
			const struct report_cert *c = &r->certs[i];
			strbuf_puts(b, "|");
			cell(b, c->subject);
			cell(b, report_fmt_date(c->not_after_ms, x, sizeof x));
			snprintf(y, sizeof y, "%.1f", c->days_left);
			cell(b, y);
			cell(b, c->served_at);
			cell(b, c->owners[0] ? c->owners : "unknown");
			cell(b, c->services);
			strbuf_puts(b, "\n");
		}
		strbuf_puts(b, "\n");
	}

	strbuf_printf(b, "## Top failure causes\n\n");
	if (!r->ncauses) {
		strbuf_printf(b, "%s\n\n", r->attempts ? "No failure in the period." : "No data.");
	} else {
		strbuf_printf(b, "| Outcome | Failures | Share of failures |\n|---|---|---|\n");
		for (size_t i = 0; i < r->ncauses; i++) {
			strbuf_puts(b, "|");
			cell(b, r->causes[i].outcome);
			snprintf(x, sizeof x, "%" PRIu64, r->causes[i].count);
			cell(b, x);
			cell(b, report_fmt_pct(r->causes[i].share, y, sizeof y));
			strbuf_puts(b, "\n");
		}
		strbuf_puts(b, "\n");
	}

	strbuf_printf(b, "## Regions (best first)\n\n");
	if (!r->nregions) {
		strbuf_printf(b, "No data.\n\n");
	} else {
		strbuf_printf(b, "| Rank | Region | Handshake success | p95 | Attempts |\n"
				 "|---|---|---|---|---|\n");
		for (size_t i = 0; i < r->nregions; i++) {
			strbuf_printf(b, "| %zu |", i + 1);
			cell(b, r->regions[i].region);
			cell(b, report_fmt_pct(r->regions[i].success_rate, x, sizeof x));
			cell(b, report_fmt_ms(r->regions[i].p95_ms, y, sizeof y));
			snprintf(z, sizeof z, "%" PRIu64, r->regions[i].attempts);
			cell(b, z);
			strbuf_puts(b, "\n");
		}
		strbuf_puts(b, "\n");
	}
}

static void service_section(const struct report *r, const struct report_service *s,
			    struct strbuf *b)
{
	char x[64], y[64];
	strbuf_printf(b, "## Service %s\n\nHandshake success %s over %" PRIu64 " attempts, "
		      "p95 %s.\n\n", s->name, report_fmt_pct(s->success_rate, x, sizeof x),
		      s->attempts, report_fmt_ms(s->p95_ms, y, sizeof y));
	strbuf_printf(b, "| Region | Handshake success | p95 | Attempts |\n|---|---|---|---|\n");
	for (size_t i = 0; i < s->nregions; i++) {
		strbuf_puts(b, "|");
		cell(b, s->regions[i].region);
		cell(b, report_fmt_pct(s->regions[i].attainment, x, sizeof x));
		cell(b, report_fmt_ms(s->regions[i].p95_ms, y, sizeof y));
		snprintf(x, sizeof x, "%" PRIu64, s->regions[i].events);
		cell(b, x);
		strbuf_puts(b, "\n");
	}
	strbuf_puts(b, "\n");
	for (size_t i = 0; i < r->nslos; i++) {
		const struct report_slo *rs = &r->slos[i];
		if (!rs->slo->sel.service || strcmp(rs->slo->sel.service, s->name))
			continue;
		strbuf_printf(b, "SLO %s (%g%%): %s in the period, %s; error budget of the period "
			      "left at its end: %s.\n", rs->slo->name, rs->slo->objective_pct,
			      report_fmt_pct(rs->attainment, x, sizeof x),
			      report_status_name(rs->status),
			      report_fmt_pct(r->nslices ? rs->burndown[r->nslices - 1] : NAN, y,
					     sizeof y));
		for (size_t k = 0; k < rs->nregions; k++)
			strbuf_printf(b, "%s%s %s", k ? ", " : "- per region: ",
				      rs->regions[k].region,
				      report_fmt_pct(rs->regions[k].attainment, x, sizeof x));
		strbuf_puts(b, rs->nregions ? "\n\n" : "\n");
	}
	strbuf_printf(b, "Notable events:%s\n", s->nevents ? "" : " none.");
	for (size_t i = 0; i < s->nevents; i++)
		strbuf_printf(b, "- %s %s %s: %s\n", report_fmt_date(s->events[i].at_ms, x, sizeof x),
			      s->events[i].kind, s->events[i].target, s->events[i].detail);
	strbuf_puts(b, "\n");
}

int report_render_md(const struct report *r, struct strbuf *b)
{
	char f[64], t[64], g[64];
	strbuf_printf(b, "# TLS report: %s%s%s\n\n", r->period,
		      r->service_filter ? ", service " : "",
		      r->service_filter ? r->service_filter : "");
	strbuf_printf(b, "Period %s to %s (UTC), compared with the %s before. Generated %s.\n\n",
		      report_fmt_date(r->from_ms, f, sizeof f), report_fmt_date(r->to_ms, t, sizeof t),
		      r->period[0] && !strstr(r->period, "..") ? r->period : "same length",
		      report_fmt_date(r->generated_ms, g, sizeof g));
	if (r->attempts == 0)
		strbuf_printf(b, "> **No data**: no probe result was stored for this period. No "
				 "figure below is an attainment.\n\n");
	page_one(r, b);
	for (size_t i = 0; i < r->nservices; i++)
		service_section(r, &r->services[i], b);
	return b->oom ? -1 : 0;
}
