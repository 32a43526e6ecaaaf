/*
 * report_chart.c - the report's charts, drawn once with cairo and emitted
 * three ways: into the PDF's page (report_pdf.c), as a PNG, and as an
 * inline <svg> for the HTML (cairo's SVG surface). A chart is a line over
 * the period's slices with gaps where there is no data; a slice without
 * data is never drawn as 0 or 100%.
 *
 * cairo's SVG output names its glyph and clip definitions "glyph0-1",
 * "clip1"... the same in every chart; several charts inline in one HTML
 * document would then share (and misdraw) them, so every id and reference
 * of the Nth chart is prefixed "cN-".
 */
#include "report_int.h"
#include "twtime.h"

#include <cairo-svg.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FONT "DejaVu Sans"

static void text(cairo_t *cr, double x, double y, double size, bool bold, const char *s,
		 double align)
{
	cairo_text_extents_t te;
	cairo_select_font_face(cr, FONT, CAIRO_FONT_SLANT_NORMAL,
			       bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
	cairo_set_font_size(cr, size);
	cairo_text_extents(cr, s, &te);
	cairo_move_to(cr, x - te.x_advance * align, y);
	cairo_show_text(cr, s);
}

void report_chart_draw(cairo_t *cr, const struct report_chart *ch, double x, double y, double w,
		       double h)
{
	double lo = ch->ymin, hi = ch->ymax;
	size_t have = 0;
	for (size_t i = 0; i < ch->n; i++) {
		if (isnan(ch->v[i]))
			continue;
		have++;
		if (isnan(ch->ymin) && (isnan(lo) || ch->v[i] < lo))
			lo = ch->v[i];
		if (isnan(ch->ymax) && (isnan(hi) || ch->v[i] > hi))
			hi = ch->v[i];
	}
	if (!isnan(ch->ref) && isnan(ch->ymin) && (isnan(lo) || ch->ref < lo))
		lo = ch->ref;
	if (!isnan(ch->ref) && isnan(ch->ymax) && (isnan(hi) || ch->ref > hi))
		hi = ch->ref;
	if (isnan(lo) || isnan(hi)) {
		lo = 0;
		hi = 1;
	}
	if (hi - lo < 1e-9) {
		double pad = fabs(hi) > 1e-9 ? fabs(hi) * 0.1 : 1;
		lo -= pad;
		hi += pad;
	}
	cairo_save(cr);
	cairo_set_source_rgb(cr, 1, 1, 1);
	cairo_rectangle(cr, x, y, w, h);
	cairo_fill(cr);
	cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
	char buf[256];
	snprintf(buf, sizeof buf, "%s%s", ch->prefix ? ch->prefix : "", ch->title);
	text(cr, x + 4, y + 14, 11, true, buf, 0);

	double px = x + 62, py = y + 24, pw = w - 72, ph = h - 44;
	/* horizontal grid and value labels */
	cairo_set_line_width(cr, 0.5);
	for (int i = 0; i <= 4; i++) {
		double v = lo + (hi - lo) * i / 4, gy = py + ph - ph * i / 4;
		cairo_set_source_rgb(cr, 0.85, 0.85, 0.85);
		cairo_move_to(cr, px, gy);
		cairo_line_to(cr, px + pw, gy);
		cairo_stroke(cr);
		cairo_set_source_rgb(cr, 0.35, 0.35, 0.35);
		snprintf(buf, sizeof buf, "%.0f%s", v * ch->scale, ch->unit);
		text(cr, px - 4, gy + 3, 8, false, buf, 1);
	}
	/* time labels: the period's start, middle and end */
	for (int i = 0; i <= 2 && ch->n; i++) {
		int64_t t = ch->from_ms + (int64_t)((double)ch->slice_ms * (double)ch->n * i / 2);
		report_fmt_date(t, buf, sizeof buf);
		text(cr, px + pw * i / 2, py + ph + 14, 8, false, buf, i / 2.0);
	}
	if (!isnan(ch->ref) && ch->ref >= lo && ch->ref <= hi) {
		double ry = py + ph - ph * (ch->ref - lo) / (hi - lo);
		double dash[] = { 4, 3 };
		cairo_set_source_rgb(cr, 0.8, 0.15, 0.15);
		cairo_set_line_width(cr, 1);
		cairo_set_dash(cr, dash, 2, 0);
		cairo_move_to(cr, px, ry);
		cairo_line_to(cr, px + pw, ry);
		cairo_stroke(cr);
		cairo_set_dash(cr, NULL, 0, 0);
	}
	if (!have) {
		cairo_set_source_rgb(cr, 0.45, 0.45, 0.45);
		text(cr, px + pw / 2, py + ph / 2, 12, true, "no data", 0.5);
		cairo_restore(cr);
		return;
	}
	/* the line, broken where a slice has no data; a lone point is a dot */
	cairo_set_source_rgb(cr, 0.12, 0.35, 0.7);
	cairo_set_line_width(cr, 1.6);
	double step = ch->n > 1 ? pw / (double)(ch->n - 1) : 0;
	bool pen = false;
	for (size_t i = 0; i < ch->n; i++) {
		if (isnan(ch->v[i])) {
			pen = false;
			continue;
		}
		double vx = ch->n > 1 ? px + step * (double)i : px + pw / 2;
		double v = ch->v[i] < lo ? lo : ch->v[i] > hi ? hi : ch->v[i];
		double vy = py + ph - ph * (v - lo) / (hi - lo);
		bool alone = (i == 0 || isnan(ch->v[i - 1])) && (i + 1 >= ch->n || isnan(ch->v[i + 1]));
		if (alone) {
			cairo_stroke(cr);
			cairo_arc(cr, vx, vy, 2, 0, 2 * M_PI);
			cairo_fill(cr);
			pen = false;
			continue;
		}
		if (pen)
			cairo_line_to(cr, vx, vy);
		else
			cairo_move_to(cr, vx, vy);
		pen = true;
	}
	cairo_stroke(cr);
	cairo_restore(cr);
}

/* ---- SVG ---- */

static cairo_status_t to_strbuf(void *closure, const unsigned char *data, unsigned int len)
{
	struct strbuf *b = closure;
	strbuf_put(b, data, len);
	return b->oom ? CAIRO_STATUS_NO_MEMORY : CAIRO_STATUS_SUCCESS;
}

/* Appends svg with every id="X" -> id="cN-X" and "#X" references
 * (href, url()) -> "#cN-X"; the XML declaration is dropped. */
static void append_prefixed(struct strbuf *out, const char *svg, unsigned n)
{
	const char *p = strstr(svg, "<svg");
	if (!p)
		p = svg;
	while (*p) {
		if (!strncmp(p, "id=\"", 4)) {
			strbuf_printf(out, "id=\"c%u-", n);
			p += 4;
		} else if (!strncmp(p, "href=\"#", 7)) {
			strbuf_printf(out, "href=\"#c%u-", n);
			p += 7;
		} else if (!strncmp(p, "url(#", 5)) {
			strbuf_printf(out, "url(#c%u-", n);
			p += 5;
		} else {
			strbuf_putc(out, *p++);
		}
	}
}

int report_draw_svg(struct strbuf *b, report_draw_fn draw, const void *arg, double w, double h)
{
	static unsigned seq;        /* per process: unique within any one document */
	struct strbuf svg = { 0 };
	cairo_surface_t *s = cairo_svg_surface_create_for_stream(to_strbuf, &svg, w, h);
	cairo_t *cr = cairo_create(s);
	draw(cr, arg, 0, 0, w, h);
	cairo_status_t st = cairo_status(cr);
	cairo_destroy(cr);
	cairo_surface_finish(s);
	if (st == CAIRO_STATUS_SUCCESS)
		st = cairo_surface_status(s);
	cairo_surface_destroy(s);
	int rc = -1;
	if (st == CAIRO_STATUS_SUCCESS && !svg.oom && svg.p) {
		append_prefixed(b, svg.p, __atomic_add_fetch(&seq, 1, __ATOMIC_RELAXED));
		rc = b->oom ? -1 : 0;
	}
	strbuf_free(&svg);
	return rc;
}

static void chart_draw(cairo_t *cr, const void *arg, double x, double y, double w, double h)
{
	report_chart_draw(cr, arg, x, y, w, h);
}

int report_chart_svg(struct strbuf *b, const struct report_chart *ch, double w, double h)
{
	return report_draw_svg(b, chart_draw, ch, w, h);
}

int report_chart_png(const char *path, const struct report_chart *ch, int w, int h)
{
	cairo_surface_t *s = cairo_image_surface_create(CAIRO_FORMAT_RGB24, w, h);
	cairo_t *cr = cairo_create(s);
	report_chart_draw(cr, ch, 0, 0, w, h);
	cairo_status_t st = cairo_status(cr);
	cairo_destroy(cr);
	if (st == CAIRO_STATUS_SUCCESS)
		st = cairo_surface_write_to_png(s, path);
	cairo_surface_destroy(s);
	return st == CAIRO_STATUS_SUCCESS ? 0 : -1;
}

/* ---- the charts of a service section ---- */

bool report_slo_of_service(const struct report_slo *rs, const struct report_service *s)
{
	return rs->slo->sel.service && !strcmp(rs->slo->sel.service, s->name);
}

size_t report_service_charts(const struct report *r, const struct report_service *s,
			     struct report_chart *chs)
{
	size_t n = 0;
	chs[n++] = (struct report_chart){
		.title = "p95 handshake latency", .v = s->p95_slices, .n = r->nslices,
		.ymin = 0, .ymax = NAN, .ref = NAN, .scale = 1, .unit = " ms",
		.from_ms = r->from_ms, .slice_ms = r->slice_ms,
	};
	for (size_t i = 0; i < r->nslos; i++) {
		if (!report_slo_of_service(&r->slos[i], s))
			continue;
		chs[n++] = (struct report_chart){
			.prefix = "Error budget left (period): ", .title = r->slos[i].slo->name,
			.v = r->slos[i].burndown, .n = r->nslices,
			.ymin = NAN, .ymax = 1, .ref = 0, .scale = 100, .unit = "%",
			.from_ms = r->from_ms, .slice_ms = r->slice_ms,
		};
	}
	return n;
}
