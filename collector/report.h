/*
 * report.h - one leadership report (issue 9, DESIGN 6 "Reports"): the
 * period, and every figure the formats show. report_data.c fills it from
 * the database; report_json.c, report_md.c, report_html.c and report_pdf.c
 * render it; report_chart.c draws its charts.
 *
 * Where the figures come from (docs/reports.md):
 *   SLO attainment   per SLO of slos.yaml, over the period and the period
 *                    before it, pooled over the series its selector matches,
 *                    with sli.c's window definition (sli_rows_sql /
 *                    sli_window_cond / sli_selector_cond): good and bad events
 *                    as burn.h defines them (availability: attempts and
 *                    failures; latency: timed handshakes and those not under
 *                    the threshold)
 *   error budget     over the SLO's OWN window ending at the period's end
 *                    (sli_query), not over the period
 *   burn-down        budget of the period (1 - objective) x its events, left
 *                    at the end of each slice of the period
 *   services/regions rollups grouped by service x region x slice; p95 by
 *                    sli_percentile over the summed histograms
 *   incidents        alerts with severity page that fired in the period
 *   certificates     leaf certificates served in the period's last day
 *                    whose notAfter is before the period's end + 30 days
 *                    (an expired one still served is listed, days_left < 0)
 *
 * Honesty: a figure without data is NAN (ratios, percentiles) and every
 * format prints "no data" for it; nothing without events is "met" or 100%.
 *
 * Ownership: report_build() returns a struct report the caller frees with
 * report_free(); it borrows the slo_config (struct slo pointers) given to
 * report_build, which must outlive it. Every string is owned by the report.
 */
#ifndef TW_REPORT_H
#define TW_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <libpq-fe.h>

#include "sli_latency.h"
#include "slo_config.h"
#include "strbuf.h"

#define REPORT_DAY_MS 86400000LL
#define REPORT_CERT_HORIZON_MS (30 * REPORT_DAY_MS)

enum report_status {
	REPORT_NO_DATA,     /* no events in the period: neither met nor missed */
	REPORT_MET,         /* attainment >= objective */
	REPORT_MISSED,      /* attainment < objective */
};

/* Good/bad counts and a latency histogram of one slice of the period. */
struct report_slice {
	uint64_t events, bad;
	uint64_t hist[SLI_LATENCY_BUCKETS];
};

struct report_region_att {
	char *region;
	uint64_t events, bad;
	double attainment;          /* NAN: no events */
	double p95_ms;              /* NAN: no timed handshake */
};

struct report_slo {
	const struct slo *slo;      /* borrowed from the slo_config */
	uint64_t events, bad;
	double attainment;          /* good / events over the period; NAN: none */
	enum report_status status;
	uint64_t prev_events, prev_bad;
	double prev_attainment;     /* the period before; NAN: none */
	int64_t budget_from_ms, budget_to_ms;  /* the SLO's window ending at the period's end */
	uint64_t budget_events, budget_bad;
	double budget_remaining;    /* 1 - bad / ((1 - objective) x events); NAN: no events */
	size_t nregions;
	struct report_region_att *regions;   /* sorted by region */
	double *burndown;           /* report.nslices: period budget left after each slice; NAN: none */
};

struct report_event {
	int64_t at_ms;
	char *kind;                 /* certificate_change, cert_fingerprint_drift, tls_negotiation_drift */
	char *target;               /* host:port */
	char *detail;
};

struct report_service {
	char *name;                 /* "(no service)" for series without one */
	uint64_t attempts, failures;
	double success_rate;        /* NAN: none */
	double p95_ms;
	size_t nregions;
	struct report_region_att *regions;  /* success rate per region (events = attempts) */
	double *p95_slices;         /* report.nslices; NAN where no data */
	size_t nevents;
	struct report_event *events;
};

struct report_incident {
	char *rule, *subject, *service, *summary;
	int64_t start_ms, end_ms;   /* clipped to the period; end_ms = period end while still firing */
	bool open;                  /* still firing at the period's end */
};

struct report_cert {
	char *fingerprint, *subject, *issuer;
	int64_t not_after_ms;
	double days_left;           /* from the period's end; negative: expired */
	char *served_at;            /* "host:port (region, region); ..." */
	char *owners;               /* owner/team labels of those targets, "" when none */
	char *services;
};

struct report_cause {
	char *outcome;
	uint64_t count;
	double share;               /* of all failures in the period */
};

struct report_region {
	char *region;
	uint64_t attempts, successes;
	double success_rate;        /* NAN: none */
	double p95_ms;              /* NAN: none */
};

struct report {
	int64_t generated_ms;
	int64_t from_ms, to_ms;     /* the period [from, to) */
	int64_t prev_from_ms;       /* the period before: [prev_from, from) */
	char *period;               /* "7d", "30d", "90d" or "FROM..TO" */
	char *service_filter;       /* NULL: every service */
	int64_t slice_ms;           /* charts: 1 h for periods up to 2 days, 1 day otherwise */
	size_t nslices;
	uint64_t attempts, failures;     /* everything the report covers */
	size_t nslos;
	struct report_slo *slos;
	size_t nservices;
	struct report_service *services;
	size_t nregions;
	struct report_region *regions;   /* best first: success rate desc, p95 asc */
	size_t ncauses;
	struct report_cause *causes;     /* most frequent first (at most 10) */
	/* incidents: alerts that paged */
	uint64_t incident_count;
	int64_t incident_total_ms, incident_longest_ms;
	size_t nincidents;
	struct report_incident *incidents;  /* longest first (at most 20) */
	size_t nincident_services;
	char **incident_services;
	size_t ncerts;
	struct report_cert *certs;          /* soonest first (at most 50) */
};

struct report_opts {
	int64_t from_ms, to_ms;
	const char *period;             /* label, copied */
	const char *service;            /* NULL: all; copied */
	unsigned retention_days;        /* rollup_1m retention (sli_window), 0 = forever */
	int64_t generated_ms;
};

/* Reads everything (blocking, on c) into a new report. 0, or -1 with err. */
int report_build(PGconn *c, const struct slo_config *slo, const struct report_opts *o,
		 struct report **out, char *err, size_t errlen) __attribute__((warn_unused_result));
void report_free(struct report *r);

/* "7d" / "30d" / "90d" (ending at now_ms) or "FROM..TO" (RFC 3339) into
 * [*from, *to). 0, or -1 with err naming what was wrong. */
int report_parse_period(const char *s, int64_t now_ms, int64_t *from_ms, int64_t *to_ms,
			char *err, size_t errlen);

/* The stable file name stem of a report: "tlswatch-report-7d-2026-03-02"
 * (period label and the UTC date of its end; FROM..TO periods use both
 * dates), plus "-SERVICE" when filtered. Written to buf. */
void report_file_stem(const struct report *r, char *buf, size_t cap);

/* "attainment": 99.95 -> "99.950%", NAN -> "no data". */
const char *report_fmt_pct(double ratio, char *buf, size_t cap);
/* "123 ms", NAN -> "no data". */
const char *report_fmt_ms(double ms, char *buf, size_t cap);
/* "3h 20m", "45m", "12s". */
const char *report_fmt_duration(int64_t ms, char *buf, size_t cap);
/* "2026-03-02" / "2026-03-02 10:00" (UTC). */
const char *report_fmt_date(int64_t ms, char *buf, size_t cap);
const char *report_status_name(enum report_status s);

/* ---- formats: each renders the whole report into b (one file each) ---- */

enum report_format {
	REPORT_FMT_HTML = 1u << 0,   /* report_html.c: one self-contained file, inline SVG */
	REPORT_FMT_PDF = 1u << 1,    /* report_pdf.c: cairo, A4, title, date, page numbers */
	REPORT_FMT_MD = 1u << 2,     /* report_md.c: pastes into a wiki or chat */
	REPORT_FMT_JSON = 1u << 3,   /* report_json.c: every figure */
};

/* "html,pdf,md,json" -> mask; 0 with err when a name is unknown or none given. */
unsigned report_parse_formats(const char *s, char *err, size_t errlen);
const char *report_format_ext(enum report_format f);

/* 0, or -1 (out of memory; cairo failed). */
int report_render_json(const struct report *r, bool summary, struct strbuf *b);
int report_render_md(const struct report *r, struct strbuf *b);
int report_render_html(const struct report *r, struct strbuf *b);
int report_render_pdf(const struct report *r, struct strbuf *b);

/* Writes every format of mask into dir as STEM.EXT (report_file_stem),
 * each through a temporary file renamed into place, so a reader never sees
 * a half-written report. The written paths go to paths[i] (REPORT_MAX_FILES,
 * caller's buffers of cap bytes each), their count to *npaths. 0, or -1 with err. */
#define REPORT_MAX_FILES 4
int report_write(const struct report *r, unsigned mask, const char *dir,
		 char paths[][4096], size_t *npaths, char *err, size_t errlen);

#endif
