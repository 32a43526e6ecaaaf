/*
 * report_bars.c - page one "in pictures first" (issue 9): two bar charts
 * drawn with cairo at the top of page one, into the PDF's page
 * (report_pdf.c) and as inline SVG for the HTML (report_html.c, through
 * report_draw_svg in report_chart.c). They show the same figures as the
 * JSON: r->slos (attainment against the objective) and r->regions (already
 * ranked best first: handshake success, then p95).
 *
 * Honesty: colour is never the only signal. Every bar carries its figure
 * and "met" / "MISSED" as text; a figure without data draws no bar and
 * says "no data" (never 100% or 0). The attainment axis does not start at
 * 0 (99.9% and 99.5% would look the same): it starts at a round value
 * below the lowest figure shown, and the axis says where.
 */
#include "report_int.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define FONT "DejaVu Sans"
#define ROW_H 18.0
#define HEAD_H 34.0
#define MAX_ROWS 12          /* more go to the tables below, and the chart says so */

static void text(cairo_t *cr, double x, double y, double size, bool bold, const char *s,
		 double align, double maxw)
{
	char buf[256];
	cairo_text_extents_t te;
	snprintf(buf, sizeof buf, "%s", s);
	cairo_select_font_face(cr, FONT, CAIRO_FONT_SLANT_NORMAL,
			       bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
	cairo_set_font_size(cr, size);
	cairo_text_extents(cr, buf, &te);
	size_t n = strlen(buf);
	while (maxw > 0 && te.x_advance > maxw && n > 3) {
		n--;
		while (n > 0 && ((unsigned char)buf[n] & 0xC0) == 0x80)
			n--;
		memcpy(buf + n, "...", 4);
		cairo_text_extents(cr, buf, &te);
	}
	cairo_move_to(cr, x - te.x_advance * align, y);
	cairo_show_text(cr, buf);
}

static size_t shown(size_t n)
{
	return n > MAX_ROWS ? MAX_ROWS : n;
}

double report_bars_height(size_t rows)
{
	return HEAD_H + ROW_H * (double)(rows ? shown(rows) : 1) + (rows > MAX_ROWS ? 14 : 0) + 8;
}

/* The left end of the attainment axis: a round value (in steps of 0.1%,
 * 1% or 10%) below the lowest of vals, at most 0. */
static double axis_low(const double *vals, size_t n)
{
	double lo = 1;
	for (size_t i = 0; i < n; i++)
		if (!isnan(vals[i]) && vals[i] < lo)
			lo = vals[i];
	double gap = 1 - lo;
	double step = gap < 0.005 ? 0.001 : gap < 0.05 ? 0.01 : 0.1;
	lo = floor((lo - gap * 0.25) / step) * step;
	if (lo > 1 - step)
		lo = 1 - step;
	return lo < 0 ? 0 : lo;
}

static void frame(cairo_t *cr, double x, double y, double w, double h, const char *title,
		  const char *sub)
{
	cairo_set_source_rgb(cr, 1, 1, 1);
	cairo_rectangle(cr, x, y, w, h);
	cairo_fill(cr);
	cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
	text(cr, x + 4, y + 14, 11, true, title, 0, w - 8);
	cairo_set_source_rgb(cr, 0.4, 0.4, 0.4);
	text(cr, x + 4, y + 27, 8, false, sub, 0, w - 8);
}

static void bar(cairo_t *cr, double x, double y, double w, double r, double g, double b)
{
	cairo_set_source_rgb(cr, r, g, b);
	cairo_rectangle(cr, x, y + 3, w > 0.5 ? w : 0.5, ROW_H - 6);
	cairo_fill(cr);
}

static void more(cairo_t *cr, double x, double y, size_t n)
{
	char buf[96];
	if (n <= MAX_ROWS)
		return;
	snprintf(buf, sizeof buf, "... and %zu more in the table below", n - MAX_ROWS);
	cairo_set_source_rgb(cr, 0.4, 0.4, 0.4);
	text(cr, x + 4, y + 10, 8, false, buf, 0, 0);
}

void report_bars_slo_draw(cairo_t *cr, const struct report *r, double x, double y, double w,
			  double h)
{
	char buf[160], a[32], lo_s[32];
	size_t n = shown(r->nslos);
	double vals[2 * MAX_ROWS];
	for (size_t i = 0; i < n; i++) {
		vals[2 * i] = r->slos[i].attainment;
		vals[2 * i + 1] = r->slos[i].slo->objective_pct / 100;
	}
	double lo = axis_low(vals, 2 * n);
	snprintf(buf, sizeof buf, "Bars: attainment over the period; | the objective. Axis from %s "
		 "to 100%%.", report_fmt_pct(lo, lo_s, sizeof lo_s));
	cairo_save(cr);
	frame(cr, x, y, w, h, "SLO attainment against objective", buf);
	double lx = x + 4, lw = w * 0.30, bx = x + w * 0.32, bw = w * 0.30, tx = bx + bw + 6;
	double ry = y + HEAD_H;
	if (!r->nslos) {
		cairo_set_source_rgb(cr, 0.45, 0.45, 0.45);
		text(cr, lx, ry + 12, 9, true, "no data: no SLO is configured", 0, 0);
	}
	for (size_t i = 0; i < n; i++, ry += ROW_H) {
		const struct report_slo *s = &r->slos[i];
		double obj = s->slo->objective_pct / 100;
		cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
		snprintf(buf, sizeof buf, "%s (%s)", s->slo->name,
			 s->slo->sel.service ? s->slo->sel.service : "all");
		text(cr, lx, ry + 12, 8.5, false, buf, 0, lw);
		cairo_set_source_rgb(cr, 0.94, 0.94, 0.94);
		cairo_rectangle(cr, bx, ry + 3, bw, ROW_H - 6);
		cairo_fill(cr);
		if (s->status == REPORT_NO_DATA || isnan(s->attainment)) {
			cairo_set_source_rgb(cr, 0.45, 0.45, 0.45);
			text(cr, bx + bw / 2, ry + 12, 8.5, true, "no data", 0.5, 0);
			snprintf(buf, sizeof buf, "no data (objective %g%%)", s->slo->objective_pct);
		} else {
			double f = (s->attainment - lo) / (1 - lo);
			bool met = s->status == REPORT_MET;
			bar(cr, bx, ry, bw * (f < 0 ? 0 : f > 1 ? 1 : f), met ? 0.2 : 0.75,
			    met ? 0.55 : 0.2, met ? 0.3 : 0.2);
			snprintf(buf, sizeof buf, "%s %s (objective %g%%)", met ? "met" : "MISSED",
				 report_fmt_pct(s->attainment, a, sizeof a), s->slo->objective_pct);
		}
		/* the objective: a dark tick across the bar */
		double of = (obj - lo) / (1 - lo), ox = bx + bw * (of < 0 ? 0 : of > 1 ? 1 : of);
		cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
		cairo_set_line_width(cr, 1.5);
		cairo_move_to(cr, ox, ry + 1);
		cairo_line_to(cr, ox, ry + ROW_H - 1);
		cairo_stroke(cr);
		text(cr, tx, ry + 12, 8, false, buf, 0, x + w - tx - 2);
	}
	more(cr, x, ry, r->nslos);
	cairo_restore(cr);
}

void report_bars_regions_draw(cairo_t *cr, const struct report *r, double x, double y,
			      double w, double h)
{
	char buf[160], a[32], lo_s[32];
	size_t n = shown(r->nregions);
	double vals[MAX_ROWS], pmax = 0;
	for (size_t i = 0; i < n; i++) {
		vals[i] = r->regions[i].success_rate;
		if (!isnan(r->regions[i].p95_ms) && r->regions[i].p95_ms > pmax)
			pmax = r->regions[i].p95_ms;
	}
	double lo = axis_low(vals, n);
	snprintf(buf, sizeof buf, "Best first. Left: handshake success (axis from %s to 100%%); "
		 "right: p95 handshake latency (axis from 0 ms).", report_fmt_pct(lo, lo_s, sizeof lo_s));
	cairo_save(cr);
	frame(cr, x, y, w, h, "Regions by handshake success and p95", buf);
	double lx = x + 4, lw = w * 0.16, sx = x + w * 0.18, sw = w * 0.26;
	double px = x + w * 0.62, pw = w * 0.22;
	double ry = y + HEAD_H;
	if (!r->nregions) {
		cairo_set_source_rgb(cr, 0.45, 0.45, 0.45);
		text(cr, lx, ry + 12, 9, true, "no data: no probe result in the period", 0, 0);
	}
	for (size_t i = 0; i < n; i++, ry += ROW_H) {
		const struct report_region *g = &r->regions[i];
		cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
		snprintf(buf, sizeof buf, "%zu. %s", i + 1, g->region);
		text(cr, lx, ry + 12, 8.5, false, buf, 0, lw);
		if (isnan(g->success_rate)) {
			cairo_set_source_rgb(cr, 0.45, 0.45, 0.45);
			text(cr, sx, ry + 12, 8, true, "no data", 0, 0);
		} else {
			double f = (g->success_rate - lo) / (1 - lo);
			bar(cr, sx, ry, sw * (f < 0 ? 0 : f > 1 ? 1 : f), 0.12, 0.35, 0.7);
			cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
			text(cr, sx + sw + 4, ry + 12, 8, false,
			     report_fmt_pct(g->success_rate, a, sizeof a), 0, 0);
		}
		if (isnan(g->p95_ms) || pmax <= 0) {
			cairo_set_source_rgb(cr, 0.45, 0.45, 0.45);
			text(cr, px, ry + 12, 8, true, "no data", 0, 0);
		} else {
			bar(cr, px, ry, pw * g->p95_ms / pmax, 0.55, 0.4, 0.75);
			cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
			snprintf(buf, sizeof buf, "p95 %s", report_fmt_ms(g->p95_ms, a, sizeof a));
			text(cr, px + pw + 4, ry + 12, 8, false, buf, 0, x + w - px - pw - 6);
		}
	}
	more(cr, x, ry, r->nregions);
	cairo_restore(cr);
}

void report_bars_describe(struct strbuf *b, const struct report *r, bool regions)
{
	char a[32], c[32];
	if (!regions) {
		strbuf_puts(b, "SLO attainment against objective: ");
		if (!r->nslos)
			strbuf_puts(b, "no data, no SLO is configured");
		for (size_t i = 0; i < r->nslos; i++) {
			const struct report_slo *s = &r->slos[i];
			strbuf_printf(b, "%s%s (%s): %s", i ? "; " : "", s->slo->name,
				      s->slo->sel.service ? s->slo->sel.service : "all",
				      s->status == REPORT_MET ? "met" : s->status == REPORT_MISSED
				      ? "MISSED" : "no data");
			if (s->status != REPORT_NO_DATA)
				strbuf_printf(b, " %s", report_fmt_pct(s->attainment, a, sizeof a));
			strbuf_printf(b, " (objective %g%%)", s->slo->objective_pct);
		}
		return;
	}
	strbuf_puts(b, "Regions by handshake success and p95, best first: ");
	if (!r->nregions)
		strbuf_puts(b, "no data");
	for (size_t i = 0; i < r->nregions; i++)
		strbuf_printf(b, "%s%zu. %s: success %s, p95 %s", i ? "; " : "", i + 1,
			      r->regions[i].region, report_fmt_pct(r->regions[i].success_rate, a, sizeof a),
			      report_fmt_ms(r->regions[i].p95_ms, c, sizeof c));
}

struct bars_arg {
	const struct report *r;
	bool regions;
};

static void bars_draw(cairo_t *cr, const void *arg, double x, double y, double w, double h)
{
	const struct bars_arg *a = arg;
	if (a->regions)
		report_bars_regions_draw(cr, a->r, x, y, w, h);
	else
		report_bars_slo_draw(cr, a->r, x, y, w, h);
}

int report_bars_svg(struct strbuf *b, const struct report *r, bool regions, double w)
{
	struct bars_arg a = { .r = r, .regions = regions };
	double h = report_bars_height(regions ? r->nregions : r->nslos);
	return report_draw_svg(b, bars_draw, &a, w, h);
}
