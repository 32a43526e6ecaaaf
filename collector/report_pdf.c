/*
 * report_pdf.c - the report as a PDF (cairo's PDF surface, A4 portrait,
 * DejaVu Sans): the title and the period on page one, "page N of M" in
 * every footer, page one at a glance (bar charts first, report_bars.c), then one service per page with its
 * charts (report_chart.c).
 *
 * "of M" needs the page count before the first page is finished, so the
 * document is laid out twice: once onto a surface whose bytes are thrown
 * away (counting pages), then for real. Layout is a cursor moving down the
 * page; a block that does not fit starts a new page.
 */
#include "report_int.h"

#include <cairo-pdf.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#define PAGE_W 595.0
#define PAGE_H 842.0
#define MARGIN 48.0
#define FONT "DejaVu Sans"

struct pdf {
	cairo_t *cr;
	double y;                /* the cursor: top of the next block */
	int page;                /* 1-based */
	int pages;               /* total (0 in the counting pass) */
	const struct report *r;
};

static void font(struct pdf *p, double size, bool bold)
{
	cairo_select_font_face(p->cr, FONT, CAIRO_FONT_SLANT_NORMAL,
			       bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
	cairo_set_font_size(p->cr, size);
}

/* Text at (x, baseline y) cut with "..." to at most maxw points wide. */
static void text_at(struct pdf *p, double x, double y, const char *s, double maxw)
{
	char buf[512];
	snprintf(buf, sizeof buf, "%s", s);
	cairo_text_extents_t te;
	cairo_text_extents(p->cr, buf, &te);
	size_t n = strlen(buf);
	while (maxw > 0 && te.x_advance > maxw && n > 3) {
		/* drop whole UTF-8 characters */
		n--;
		while (n > 0 && ((unsigned char)buf[n] & 0xC0) == 0x80)
			n--;
		memcpy(buf + n, "...", 4);
		cairo_text_extents(p->cr, buf, &te);
	}
	cairo_move_to(p->cr, x, y);
	cairo_show_text(p->cr, buf);
}

static void footer(struct pdf *p)
{
	char buf[160];
	font(p, 8, false);
	cairo_set_source_rgb(p->cr, 0.4, 0.4, 0.4);
	if (p->pages)
		snprintf(buf, sizeof buf, "tlswatch TLS report %s - page %d of %d", p->r->period,
			 p->page, p->pages);
	else
		snprintf(buf, sizeof buf, "tlswatch TLS report %s - page %d", p->r->period, p->page);
	text_at(p, MARGIN, PAGE_H - 24, buf, 0);
	cairo_set_source_rgb(p->cr, 0, 0, 0);
}

static void new_page(struct pdf *p)
{
	footer(p);
	cairo_show_page(p->cr);
	p->page++;
	p->y = MARGIN;
}

/* Makes room for h points, starting a new page when they do not fit. */
static void need(struct pdf *p, double h)
{
	if (p->y + h > PAGE_H - MARGIN - 10)
		new_page(p);
}

static void heading(struct pdf *p, const char *s)
{
	need(p, 40);
	p->y += 14;
	font(p, 13, true);
	text_at(p, MARGIN, p->y + 12, s, PAGE_W - 2 * MARGIN);
	p->y += 20;
}

static void para(struct pdf *p, const char *s)
{
	need(p, 14);
	font(p, 9, false);
	text_at(p, MARGIN, p->y + 10, s, PAGE_W - 2 * MARGIN);
	p->y += 14;
}

/* One table row: n cells in columns of the given widths (fractions). */
static void row(struct pdf *p, const char *const *cells, const double *w, size_t n, bool head)
{
	need(p, 14);
	font(p, 8, head);
	double x = MARGIN, tw = PAGE_W - 2 * MARGIN;
	if (head) {
		cairo_set_source_rgb(p->cr, 0.93, 0.93, 0.93);
		cairo_rectangle(p->cr, MARGIN, p->y, tw, 13);
		cairo_fill(p->cr);
		cairo_set_source_rgb(p->cr, 0, 0, 0);
	}
	for (size_t i = 0; i < n; i++) {
		text_at(p, x + 2, p->y + 9.5, cells[i], w[i] * tw - 4);
		x += w[i] * tw;
	}
	p->y += 13;
}

static void page_one(struct pdf *p)
{
	const struct report *r = p->r;
	char a[96], b[64], c[64], d[64], e[96];
	font(p, 20, true);
	snprintf(a, sizeof a, "TLS report: %s%s%s", r->period, r->service_filter ? ", " : "",
		 r->service_filter ? r->service_filter : "");
	text_at(p, MARGIN, p->y + 20, a, PAGE_W - 2 * MARGIN);
	p->y += 30;
	snprintf(e, sizeof e, "Period %s to %s (UTC). Generated %s.",
		 report_fmt_date(r->from_ms, b, sizeof b), report_fmt_date(r->to_ms, c, sizeof c),
		 report_fmt_date(r->generated_ms, d, sizeof d));
	para(p, e);
	if (r->attempts == 0)
		para(p, "NO DATA: no probe result was stored for this period; no figure below is "
			"an attainment.");

	/* in pictures first (report_bars.c): the same figures as the tables */
	double tw = PAGE_W - 2 * MARGIN, bh = report_bars_height(r->nslos);
	need(p, bh + 8);
	p->y += 6;
	report_bars_slo_draw(p->cr, r, MARGIN, p->y, tw, bh);
	p->y += bh;
	bh = report_bars_height(r->nregions);
	need(p, bh + 8);
	p->y += 6;
	report_bars_regions_draw(p->cr, r, MARGIN, p->y, tw, bh);
	p->y += bh;

	heading(p, "SLO attainment");
	static const double ws[] = { 0.19, 0.1, 0.1, 0.11, 0.08, 0.11, 0.1, 0.21 };
	const char *h[] = { "SLO", "Service", "Objective", "Attainment", "Status", "Previous",
			    "Trend", "Budget left (window)" };
	if (!r->nslos)
		para(p, "No SLOs are configured (alerting.slo_file).");
	else
		row(p, h, ws, 8, true);
	for (size_t i = 0; i < r->nslos; i++) {
		const struct report_slo *s = &r->slos[i];
		char o[32], at[32], pr[32], tr[32], bu[64], win[32];
		snprintf(o, sizeof o, "%g%%", s->slo->objective_pct);
		if (isnan(s->attainment) || isnan(s->prev_attainment))
			snprintf(tr, sizeof tr, "no data");
		else
			snprintf(tr, sizeof tr, "%+.3f pp", (s->attainment - s->prev_attainment) * 100);
		snprintf(bu, sizeof bu, "%s (%s)", report_fmt_pct(s->budget_remaining, a, sizeof a),
			 slo_format_duration(s->slo->window_ms, win, sizeof win));
		const char *cells[] = { s->slo->name, s->slo->sel.service ? s->slo->sel.service : "all",
					o, report_fmt_pct(s->attainment, at, sizeof at),
					report_status_name(s->status),
					report_fmt_pct(s->prev_attainment, pr, sizeof pr), tr, bu };
		row(p, cells, ws, 8, false);
	}

	heading(p, "Incidents (alerts that paged)");
	if (!r->incident_count) {
		para(p, "No page fired in the period.");
	} else {
		snprintf(e, sizeof e, "%" PRIu64 " incident(s), %s in total, the longest %s.",
			 r->incident_count, report_fmt_duration(r->incident_total_ms, b, sizeof b),
			 report_fmt_duration(r->incident_longest_ms, c, sizeof c));
		para(p, e);
		struct strbuf sv = { 0 };
		strbuf_puts(&sv, "Services hit: ");
		for (size_t i = 0; i < r->nincident_services; i++)
			strbuf_printf(&sv, "%s%s", i ? ", " : "", r->incident_services[i]);
		if (!sv.oom)
			para(p, sv.p);
		strbuf_free(&sv);
	}

	heading(p, "Certificates expiring within 30 days");
	static const double wc[] = { 0.28, 0.12, 0.08, 0.32, 0.2 };
	const char *hc[] = { "Subject", "Expires", "Days", "Served at", "Owner" };
	if (!r->ncerts)
		para(p, "None of the certificates served in the period expires within 30 days.");
	else
		row(p, hc, wc, 5, true);
	for (size_t i = 0; i < r->ncerts; i++) {
		const struct report_cert *x = &r->certs[i];
		snprintf(c, sizeof c, "%.1f", x->days_left);
		const char *cells[] = { x->subject, report_fmt_date(x->not_after_ms, b, sizeof b), c,
					x->served_at, x->owners[0] ? x->owners : "unknown" };
		row(p, cells, wc, 5, false);
	}

	heading(p, "Top failure causes");
	static const double wf[] = { 0.5, 0.25, 0.25 };
	const char *hf[] = { "Outcome", "Failures", "Share" };
	if (!r->ncauses)
		para(p, r->attempts ? "No failure in the period." : "No data.");
	else
		row(p, hf, wf, 3, true);
	for (size_t i = 0; i < r->ncauses; i++) {
		snprintf(b, sizeof b, "%" PRIu64, r->causes[i].count);
		const char *cells[] = { r->causes[i].outcome, b,
					report_fmt_pct(r->causes[i].share, c, sizeof c) };
		row(p, cells, wf, 3, false);
	}

	heading(p, "Regions, best first");
	static const double wr[] = { 0.1, 0.3, 0.2, 0.2, 0.2 };
	const char *hr[] = { "Rank", "Region", "Success", "p95", "Attempts" };
	if (!r->nregions)
		para(p, "No data.");
	else
		row(p, hr, wr, 5, true);
	for (size_t i = 0; i < r->nregions; i++) {
		char rk[24], at[32];
		snprintf(rk, sizeof rk, "%zu", i + 1);
		snprintf(at, sizeof at, "%" PRIu64, r->regions[i].attempts);
		const char *cells[] = { rk, r->regions[i].region,
					report_fmt_pct(r->regions[i].success_rate, b, sizeof b),
					report_fmt_ms(r->regions[i].p95_ms, c, sizeof c), at };
		row(p, cells, wr, 5, false);
	}
}

static void service_page(struct pdf *p, const struct report_service *s)
{
	const struct report *r = p->r;
	char a[160], b[64], c[64];
	new_page(p);
	snprintf(a, sizeof a, "Service %s", s->name);
	heading(p, a);
	snprintf(a, sizeof a, "Handshake success %s over %" PRIu64 " attempts, p95 %s.",
		 report_fmt_pct(s->success_rate, b, sizeof b), s->attempts,
		 report_fmt_ms(s->p95_ms, c, sizeof c));
	para(p, a);
	static const double w[] = { 0.4, 0.2, 0.2, 0.2 };
	const char *h[] = { "Region", "Success", "p95", "Attempts" };
	row(p, h, w, 4, true);
	for (size_t i = 0; i < s->nregions; i++) {
		char at[32];
		snprintf(at, sizeof at, "%" PRIu64, s->regions[i].events);
		const char *cells[] = { s->regions[i].region,
					report_fmt_pct(s->regions[i].attainment, b, sizeof b),
					report_fmt_ms(s->regions[i].p95_ms, c, sizeof c), at };
		row(p, cells, w, 4, false);
	}
	struct report_chart chs[1 + r->nslos];
	size_t n = report_service_charts(r, s, chs);
	for (size_t i = 0; i < n; i++) {
		need(p, 190);
		p->y += 6;
		report_chart_draw(p->cr, &chs[i], MARGIN, p->y, PAGE_W - 2 * MARGIN, 180);
		p->y += 184;
	}
	heading(p, "Notable events");
	if (!s->nevents)
		para(p, "None: no certificate change, fingerprint or negotiation drift.");
	for (size_t i = 0; i < s->nevents; i++) {
		snprintf(a, sizeof a, "%s %s %s: %s", report_fmt_date(s->events[i].at_ms, b, sizeof b),
			 s->events[i].kind, s->events[i].target, s->events[i].detail);
		para(p, a);
	}
}

static cairo_status_t discard(void *closure, const unsigned char *data, unsigned int len)
{
	(void)closure;
	(void)data;
	(void)len;
	return CAIRO_STATUS_SUCCESS;
}

static cairo_status_t to_strbuf(void *closure, const unsigned char *data, unsigned int len)
{
	struct strbuf *b = closure;
	strbuf_put(b, data, len);
	return b->oom ? CAIRO_STATUS_NO_MEMORY : CAIRO_STATUS_SUCCESS;
}

/* Lays the whole document out on a PDF surface writing to w(closure);
 * returns the page count, or -1 when cairo failed. */
static int layout(const struct report *r, int pages, cairo_write_func_t w, void *closure)
{
	cairo_surface_t *s = cairo_pdf_surface_create_for_stream(w, closure, PAGE_W, PAGE_H);
	cairo_pdf_surface_set_metadata(s, CAIRO_PDF_METADATA_TITLE, "tlswatch TLS report");
	cairo_pdf_surface_set_metadata(s, CAIRO_PDF_METADATA_CREATOR, "tlswatch-collector");
	struct pdf p = { .cr = cairo_create(s), .y = MARGIN, .page = 1, .pages = pages, .r = r };
	page_one(&p);
	for (size_t i = 0; i < r->nservices; i++)
		service_page(&p, &r->services[i]);
	footer(&p);
	cairo_show_page(p.cr);
	cairo_status_t st = cairo_status(p.cr);
	cairo_destroy(p.cr);
	cairo_surface_finish(s);
	if (st == CAIRO_STATUS_SUCCESS)
		st = cairo_surface_status(s);
	cairo_surface_destroy(s);
	return st == CAIRO_STATUS_SUCCESS ? p.page : -1;
}

int report_render_pdf(const struct report *r, struct strbuf *b)
{
	int pages = layout(r, 0, discard, NULL);
	if (pages < 0 || layout(r, pages, to_strbuf, b) != pages)
		return -1;
	return b->oom ? -1 : 0;
}
