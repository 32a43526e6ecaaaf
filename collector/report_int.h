/*
 * report_int.h - what the report modules share and nothing else includes:
 * report_facts.c (incidents, certificates, failure causes, notable events)
 * called by report_data.c, and the chart entry points the HTML and PDF
 * writers use (report_chart.c).
 */
#ifndef TW_REPORT_INT_H
#define TW_REPORT_INT_H

#include <cairo.h>

#include "report.h"
#include "strbuf.h"

#define REPORT_STR_(x) #x
#define REPORT_STR(x) REPORT_STR_(x)

/* Incidents, certificates, causes and every service's notable events into
 * r (its period and services are set). 0, or -1 with err. */
int report_facts_read(PGconn *c, struct report *r, char *err, size_t errlen);
/* Frees what report_facts_read added (not the services' events: report_free). */
void report_facts_free(struct report *r);

/* ---- charts (report_chart.c) ---- */

/* One line chart: n values (NAN = gap) over the report's slices, drawn in
 * the rectangle (x, y, w, h) of cr. ymin/ymax NAN: from the data. unit
 * follows the axis labels (" ms", "%"); scale multiplies the values for
 * the labels (100 for ratios shown as percentages). A dashed horizontal
 * line at `ref` unless NAN. */
struct report_chart {
	const char *prefix;         /* drawn before the title; may be NULL */
	const char *title;
	const double *v;
	size_t n;
	double ymin, ymax, ref, scale;
	const char *unit;
	int64_t from_ms, slice_ms;
};
void report_chart_draw(cairo_t *cr, const struct report_chart *ch, double x, double y, double w,
		       double h);
/* The same chart as an inline <svg> element appended to b (cairo's SVG
 * surface, the XML declaration dropped). 0, or -1 when cairo failed. */
int report_chart_svg(struct strbuf *b, const struct report_chart *ch, double w, double h);
/* As a PNG file (tests, chat). 0, or -1. */
int report_chart_png(const char *path, const struct report_chart *ch, int w, int h);

/* Any drawing as an inline <svg> element appended to b, ids prefixed so
 * that several share one document. 0, or -1 when cairo failed. */
typedef void (*report_draw_fn)(cairo_t *cr, const void *arg, double x, double y, double w,
			       double h);
int report_draw_svg(struct strbuf *b, report_draw_fn draw, const void *arg, double w, double h);

/* ---- page one's bar charts (report_bars.c) ---- */

/* The height in points a bar chart of rows rows takes. */
double report_bars_height(size_t rows);
/* SLO attainment per SLO against its objective (r->slos). */
void report_bars_slo_draw(cairo_t *cr, const struct report *r, double x, double y, double w,
			  double h);
/* Regions ranked by handshake success, with their p95 (r->regions). */
void report_bars_regions_draw(cairo_t *cr, const struct report *r, double x, double y,
			      double w, double h);
/* The same chart in words (every row, not only those drawn): the HTML's
 * aria-label, for readers that do not see the picture. */
void report_bars_describe(struct strbuf *b, const struct report *r, bool regions);
/* One of the two (regions or SLOs) as inline SVG of width w. 0, or -1. */
int report_bars_svg(struct strbuf *b, const struct report *r, bool regions, double w);

/* The charts of a service section: p95 per slice, and one burn-down per SLO
 * of the service (chs must have room for 1 + r->nslos). Returns the count. */
size_t report_service_charts(const struct report *r, const struct report_service *s,
			     struct report_chart *chs);

/* The SLOs that belong to a service's section (their selector names it). */
bool report_slo_of_service(const struct report_slo *rs, const struct report_service *s);

#endif
