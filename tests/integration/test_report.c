/*
 * test_report.c - `tlswatch-collector report` (collector/cmd_report.c,
 * report_*.c) run as a real process over seeded data with known figures
 * (test_report_env.h): the JSON and Markdown carry exactly those figures,
 * a period without data says so, the PDF's first page renders with pdftoppm
 * and the HTML loads in headless Chromium without a console error. The PNG
 * page and the screenshot are kept under $TW_ARTIFACTS/report.
 */
#define _GNU_SOURCE
#include "test_report_env.h"
#include "report_int.h"

#include <fontconfig/fontconfig.h>
#include <jansson.h>
#include <math.h>

TestSuite(report, .timeout = 300);

static const char *collector_bin(void)
{
	return tw_fmt("%s/tlswatch-collector", env("TW_BUILD"));
}

/* Runs `report` with the given extra args; returns its exit status, output in *out. */
static int run_report(struct rep *t, char **out, const char *const *args)
{
	static int seq;
	char *argv[24];
	int n = 0;
	argv[n++] = strdup(collector_bin());
	argv[n++] = "report";
	argv[n++] = "-c";
	argv[n++] = t->yaml;
	for (size_t i = 0; args[i] && n < 22; i++)
		argv[n++] = (char *)args[i];
	argv[n] = NULL;
	char logp[700];
	snprintf(logp, sizeof logp, "%s/report%d.log", t->dir, seq++);
	int st = rep_exec(argv, logp, 120000);
	free(argv[0]);
	*out = tw_read_file(logp);
	cr_assert(*out);
	cr_assert(!strstr(*out, "Sanitizer") && !strstr(*out, "runtime error:"), "%s", *out);
	return st;
}

#define ARGS(...) ((const char *const[]){ __VA_ARGS__, NULL })

static json_t *jget(json_t *o, const char *path)
{
	char buf[256];
	snprintf(buf, sizeof buf, "%s", path);
	json_t *v = o;
	for (char *save = NULL, *k = strtok_r(buf, ".", &save); k; k = strtok_r(NULL, ".", &save)) {
		if (json_is_array(v))
			v = json_array_get(v, strtoul(k, NULL, 10));
		else
			v = json_object_get(v, k);
		cr_assert(v, "no %s in the JSON (at %s)", path, k);
	}
	return v;
}

static void near(json_t *o, const char *path, double want)
{
	json_t *v = jget(o, path);
	cr_assert(json_is_number(v), "%s is not a number", path);
	cr_assert(fabs(json_number_value(v) - want) < 1e-9, "%s: %.12f, want %.12f", path,
		  json_number_value(v), want);
}

static void is_int(json_t *o, const char *path, long long want)
{
	json_t *v = jget(o, path);
	cr_assert(json_is_integer(v) && json_integer_value(v) == want, "%s: want %lld", path, want);
}

static void is_str(json_t *o, const char *path, const char *want)
{
	json_t *v = jget(o, path);
	cr_assert(json_is_string(v) && !strcmp(json_string_value(v), want), "%s: %s, want %s", path,
		  json_is_string(v) ? json_string_value(v) : "(not a string)", want);
}

Test(report, json_and_markdown_carry_the_seeded_figures)
{
	struct rep t;
	rep_setup(&t, "rep_figures", true, NULL);
	char *out;
	int st = run_report(&t, &out, ARGS("--period", "7d", "--now", REP_NOW, "--format", "json,md",
					   "--out", t.dir));
	cr_assert_eq(st, 0, "%s", out);
	const char *jp = tw_fmt("%s/tlswatch-report-7d-2026-03-09.json", t.dir);
	cr_assert(strstr(out, jp), "the path is printed: %s", out);
	json_error_t je;
	json_t *j = json_load_file(jp, 0, &je);
	cr_assert(j, "%s: %s", jp, je.text);

	is_str(j, "period.from", "2026-03-02T00:00:00.000Z");
	is_str(j, "period.to", "2026-03-09T00:00:00.000Z");
	cr_assert(json_is_false(jget(j, "no_data")));
	is_int(j, "totals.attempts", REP_AV_EVENTS);
	is_int(j, "totals.failures", REP_AV_BAD);

	/* availability: missed, with the trend against a perfect week */
	is_str(j, "slos.0.name", "shop-availability");
	is_str(j, "slos.0.status", "missed");
	is_int(j, "slos.0.events", REP_AV_EVENTS);
	is_int(j, "slos.0.bad", REP_AV_BAD);
	near(j, "slos.0.attainment", 1.0 - 260.0 / 33600);
	near(j, "slos.0.previous.attainment", 1.0);
	near(j, "slos.0.trend", -260.0 / 33600);
	/* the budget over the SLO's 30 days: both weeks */
	is_int(j, "slos.0.error_budget.events", 33600 + 16800);
	near(j, "slos.0.error_budget.remaining", 1.0 - 260.0 / (0.005 * 50400));
	is_str(j, "slos.0.error_budget.window", "30d");
	/* every failure on day one: the period's budget is gone from the first slice */
	near(j, "slos.0.burndown.0", 1.0 - 260.0 / (0.005 * 33600));
	near(j, "slos.0.burndown.6", 1.0 - 260.0 / (0.005 * 33600));
	is_str(j, "slos.0.regions.0.region", "eu");
	near(j, "slos.0.regions.0.attainment", 1.0 - 20.0 / 16800);
	near(j, "slos.0.regions.1.attainment", 1.0 - 240.0 / 16800);

	/* latency < 100 ms: met */
	is_str(j, "slos.1.name", "shop-latency");
	is_str(j, "slos.1.status", "met");
	is_int(j, "slos.1.events", REP_LAT_EVENTS);
	is_int(j, "slos.1.bad", REP_LAT_BAD);
	near(j, "slos.1.attainment", 1.0 - 120.0 / 33340);
	near(j, "slos.1.error_budget.remaining", 1.0 - 120.0 / (0.01 * (33340 + 16800)));

	/* an SLO without data is neither met nor 100% */
	is_str(j, "slos.2.name", "api-availability");
	is_str(j, "slos.2.status", "no data");
	cr_assert(json_is_null(jget(j, "slos.2.attainment")));
	cr_assert(json_is_null(jget(j, "slos.2.error_budget.remaining")));
	cr_assert(json_is_null(jget(j, "slos.2.burndown.0")));

	/* a target selector (its own queries) and the pooled pass agree */
	for (int k = 3; k <= 4; k++) {
		is_int(j, tw_fmt("slos.%d.events", k), 16800);
		is_int(j, tw_fmt("slos.%d.bad", k), 20);
		near(j, tw_fmt("slos.%d.attainment", k), 1.0 - 20.0 / 16800);
		near(j, tw_fmt("slos.%d.previous.attainment", k), 1.0);
		is_int(j, tw_fmt("slos.%d.error_budget.events", k), 16800);
		near(j, tw_fmt("slos.%d.error_budget.remaining", k), 1.0 - 20.0 / (0.01 * 16800));
		near(j, tw_fmt("slos.%d.burndown.0", k), 1.0 - 20.0 / (0.01 * 16800));
		is_str(j, tw_fmt("slos.%d.regions.0.region", k), "eu");
		cr_assert_eq(json_array_size(jget(j, tw_fmt("slos.%d.regions", k))), 1);
	}

	/* incidents: two pages, the open one clipped at the period's end */
	is_int(j, "incidents.count", 2);
	is_int(j, "incidents.total_ms", (150 + 240) * 60000LL);
	is_int(j, "incidents.longest_ms", 240 * 60000LL);
	is_str(j, "incidents.services.0", "shop");
	cr_assert(json_is_true(jget(j, "incidents.longest.0.open")));

	/* certificates: the expired one still served, then A */
	cr_assert_eq(json_array_size(jget(j, "certificates_expiring")), 2);
	is_str(j, "certificates_expiring.0.fingerprint_sha256", "cccc");
	near(j, "certificates_expiring.0.days_left", -1.0);
	is_str(j, "certificates_expiring.1.fingerprint_sha256", "aaaa");
	near(j, "certificates_expiring.1.days_left", 10.0);
	is_str(j, "certificates_expiring.1.owners", "team-payments");
	is_str(j, "certificates_expiring.1.served_at", "shop.example:443 (eu)");

	/* causes and regions */
	is_str(j, "failure_causes.0.outcome", "untrusted_root");
	is_int(j, "failure_causes.0.count", 240);
	near(j, "failure_causes.0.share", 240.0 / 260);
	is_str(j, "failure_causes.1.outcome", "connect_timeout");
	is_int(j, "failure_causes.1.count", 20);
	is_str(j, "regions.0.region", "eu");
	near(j, "regions.0.success_rate", 1.0 - 20.0 / 16800);
	is_str(j, "regions.1.region", "us");

	/* the service section: p95 by sli_percentile over the summed histogram,
	 * and B -> A on 2026-03-04 as a certificate change */
	is_str(j, "services.0.name", "shop");
	uint64_t hist[SLI_LATENCY_BUCKETS] = { 0 };
	hist[8] = REP_LAT_EVENTS - REP_LAT_BAD;
	hist[10] = REP_LAT_BAD;
	near(j, "services.0.p95_ms", sli_percentile(hist, 0.95));
	cr_assert_eq(json_array_size(jget(j, "services.0.p95_ms_by_slice")), 7);
	is_str(j, "services.0.events.0.kind", "certificate_change");
	is_str(j, "services.0.events.0.target", "shop.example:443");
	json_decref(j);

	char *md = tw_read_file(tw_fmt("%s/tlswatch-report-7d-2026-03-09.md", t.dir));
	cr_assert(md);
	cr_assert(strstr(md, "| shop-availability | shop | 99.5% | 99.226% | missed | 100.000% | "
			 "-0.774 pp | -3.175% (30d) |"), "%s", md);
	cr_assert(strstr(md, "| shop-latency | shop | 99% | 99.640% | met |"), "%s", md);
	cr_assert(strstr(md, "| api-availability | api | 99.9% | no data | no data | no data | "
			 "no data | no data (28d) |"), "%s", md);
	cr_assert(strstr(md, "2 incidents, 6h 30m in total, the longest 4h 0m. Services hit: shop."),
		  "%s", md);
	cr_assert(strstr(md, "| untrusted_root | 240 | 92.308% |"), "%s", md);
	cr_assert(strstr(md, "| 1 | eu | 99.881% |"), "%s", md);
	cr_assert(strstr(md, "| CN=shop.example | 2026-03-19 | 10.0 | shop.example:443 (eu) | "
			 "team-payments | shop |"), "%s", md);
	free(md);
	free(out);
	PQfinish(t.c);
}

Test(report, a_period_without_data_says_so)
{
	struct rep t;
	rep_setup(&t, "rep_empty", true, NULL);
	char *out;
	int st = run_report(&t, &out, ARGS("--period", "2027-01-01..2027-01-08", "--format",
					   "json,md,html", "--out", t.dir));
	cr_assert_eq(st, 0, "%s", out);
	json_error_t je;
	json_t *j = json_load_file(tw_fmt("%s/tlswatch-report-2027-01-01--2027-01-08.json", t.dir),
				   0, &je);
	cr_assert(j, "%s", je.text);
	cr_assert(json_is_true(jget(j, "no_data")));
	cr_assert(json_is_null(jget(j, "totals.success_rate")));
	for (size_t i = 0; i < 3; i++) {
		is_str(j, tw_fmt("slos.%zu.status", i), "no data");
		cr_assert(json_is_null(jget(j, tw_fmt("slos.%zu.attainment", i))));
		cr_assert(json_is_null(jget(j, tw_fmt("slos.%zu.error_budget.remaining", i))));
	}
	cr_assert_eq(json_array_size(jget(j, "regions")), 0);
	json_decref(j);
	char *md = tw_read_file(tw_fmt("%s/tlswatch-report-2027-01-01--2027-01-08.md", t.dir));
	cr_assert(md);
	cr_assert(strstr(md, "**No data**"), "%s", md);
	cr_assert(!strstr(md, "100.000%"), "no figure without data may read 100%%:\n%s", md);
	free(md);
	/* page one's charts say "no data" for every SLO and for the regions */
	char *html = tw_read_file(tw_fmt("%s/tlswatch-report-2027-01-01--2027-01-08.html", t.dir));
	cr_assert(html);
	cr_assert(strstr(html, "shop-availability (shop): no data (objective 99.5%)"), "%s", html);
	cr_assert(strstr(html, "api-availability (api): no data (objective 99.9%)"), "%s", html);
	cr_assert(strstr(html, "Regions by handshake success and p95, best first: no data\""),
		  "%s", html);
	cr_assert(!strstr(html, "100.000%"), "no figure without data may read 100%%");
	free(html);
	free(out);
	PQfinish(t.c);
}

Test(report, bad_arguments_are_named)
{
	struct rep t;
	rep_setup(&t, "rep_args", false, NULL);
	char *out;
	cr_assert_eq(run_report(&t, &out, ARGS("--period", "8d", "--out", t.dir)), 2);
	cr_assert(strstr(out, "--period: expected 7d, 30d, 90d or FROM..TO"), "%s", out);
	free(out);
	cr_assert_eq(run_report(&t, &out, ARGS("--period", "7d", "--format", "html,docx", "--out",
					       t.dir)), 2);
	cr_assert(strstr(out, "unknown format \"docx\""), "%s", out);
	free(out);
	cr_assert_eq(run_report(&t, &out, ARGS("--period", "2026-03-08..2026-03-01", "--out",
					       t.dir)), 2);
	cr_assert(strstr(out, "the end must be after the start"), "%s", out);
	free(out);
	cr_assert_eq(run_report(&t, &out, ARGS("--period", "7d", "--out", "/nonexistent/dir")), 2);
	cr_assert(strstr(out, "/nonexistent/dir"), "%s", out);
	free(out);
	PQfinish(t.c);
}

Test(report, service_filter_narrows_and_names_the_file)
{
	struct rep t;
	rep_setup(&t, "rep_service", true, NULL);
	char *out;
	cr_assert_eq(run_report(&t, &out, ARGS("--period", "7d", "--now", REP_NOW, "--format",
					       "json", "--service", "api", "--out", t.dir)), 0);
	json_error_t je;
	json_t *j = json_load_file(tw_fmt("%s/tlswatch-report-7d-2026-03-09-api.json", t.dir), 0,
				   &je);
	cr_assert(j, "%s", je.text);
	/* only the api SLO, and no shop figure */
	cr_assert_eq(json_array_size(jget(j, "slos")), 1);
	is_str(j, "slos.0.name", "api-availability");
	is_int(j, "totals.attempts", 0);
	is_int(j, "incidents.count", 0);
	cr_assert_eq(json_array_size(jget(j, "certificates_expiring")), 0);
	json_decref(j);
	free(out);
	PQfinish(t.c);
}

static const char *artifacts(void)
{
	const char *a = getenv("TW_ARTIFACTS");
	return tw_fmt("%s/report", a && *a ? a : "build/artifacts");
}

Test(report, pdf_first_page_renders)
{
	struct rep t;
	rep_setup(&t, "rep_pdf", true, NULL);
	char *out;
	cr_assert_eq(run_report(&t, &out, ARGS("--period", "7d", "--now", REP_NOW, "--format",
					       "pdf", "--out", t.dir)), 0, "%s", out);
	const char *pdf = tw_fmt("%s/tlswatch-report-7d-2026-03-09.pdf", t.dir);
	char pdfp[600];
	snprintf(pdfp, sizeof pdfp, "%s", pdf);
	char prefix[600];
	snprintf(prefix, sizeof prefix, "%s/report-pdf-page", artifacts());
	char *argv[] = { "/usr/bin/pdftoppm", "-png", "-r", "80", "-f", "1", "-l", "1", "-singlefile", pdfp,
			 prefix, NULL };
	cr_assert_eq(rep_exec(argv, tw_fmt("%s/pdftoppm.log", t.dir), 60000), 0, "pdftoppm failed");
	struct stat st;
	const char *png = tw_fmt("%s.png", prefix);
	cr_assert(stat(png, &st) == 0 && st.st_size > 10000, "%s: no page image", png);
	fprintf(stderr, "report: PDF page 1 saved as %s\n", png);
	/* title, date and page numbers on page one; one more page per service */
	char txt[700];
	snprintf(txt, sizeof txt, "%s/page1.txt", t.dir);
	char *targv[] = { "/usr/bin/pdftotext", "-f", "1", "-l", "1", "-layout", pdfp, txt, NULL };
	cr_assert_eq(rep_exec(targv, tw_fmt("%s/pdftotext.log", t.dir), 60000), 0);
	char *text = tw_read_file(txt);
	cr_assert(text);
	cr_assert(strstr(text, "TLS report: 7d"), "%s", text);
	cr_assert(strstr(text, "Period 2026-03-02 to 2026-03-09"), "%s", text);
	/* "page 1 of N" with N the document's page count (pdfinfo), at least
	 * page one and the shop service's page */
	char *iargv[] = { "/usr/bin/pdfinfo", pdfp, NULL };
	cr_assert_eq(rep_exec(iargv, tw_fmt("%s/pdfinfo.log", t.dir), 60000), 0);
	char *info = tw_read_file(tw_fmt("%s/pdfinfo.log", t.dir));
	cr_assert(info);
	const char *pg = strstr(info, "Pages:");
	cr_assert(pg, "%s", info);
	long pages = strtol(pg + 6, NULL, 10);
	cr_assert(pages >= 2, "%s", info);
	cr_assert(strstr(text, tw_fmt("page 1 of %ld", pages)), "%ld pages:\n%s", pages, text);
	free(info);
	cr_assert(strstr(text, "shop-availability"), "%s", text);
	/* in pictures first: the two charts come before the first table's
	 * neighbours, naming the seeded SLOs (service in brackets, only the
	 * chart writes that), met/missed in words, and the ranked regions */
	const char *c1 = strstr(text, "SLO attainment against objective");
	const char *c2 = strstr(text, "Regions by handshake success and p95");
	const char *inc = strstr(text, "Incidents (alerts that paged)");
	cr_assert(c1 && c2 && inc && c1 < inc && c2 < inc, "%s", text);
	cr_assert(strstr(text, "shop-availability (shop)"), "%s", text);
	cr_assert(strstr(text, "api-availability (api)"), "%s", text);
	cr_assert(strstr(text, tw_fmt("MISSED %.3f%% (objective 99.5%%)",
				      100 * (1.0 - 260.0 / 33600))), "%s", text);
	cr_assert(strstr(text, "no data (objective 99.9%)"), "%s", text);
	cr_assert(strstr(text, "1. eu") && strstr(text, "2. us"), "%s", text);
	free(text);
	free(out);
	PQfinish(t.c);
}

/* Loads file in headless Chromium with console logging on stderr; returns
 * the log (malloc'd) and writes a screenshot to png when not NULL. */
static char *chromium_load(const char *dir, const char *file, const char *png)
{
	static int seq;
	char shot[700], url[700], prof[700], logp[700];
	snprintf(shot, sizeof shot, "--screenshot=%s", png ? png : tw_fmt("%s/unused.png", dir));
	snprintf(url, sizeof url, "file://%s", file);
	snprintf(prof, sizeof prof, "--user-data-dir=%s/chromium%d", dir, seq);
	snprintf(logp, sizeof logp, "%s/chromium%d.log", dir, seq++);
	char *argv[] = { "/usr/bin/chromium", "--headless", "--no-sandbox", "--disable-gpu",
			 "--enable-logging=stderr", "--v=0", "--window-size=1100,1400",
			 "--hide-scrollbars", prof, shot, url, NULL };
	int st = rep_exec(argv, logp, 120000);
	char *log = tw_read_file(logp);
	cr_assert(log);
	cr_assert_eq(st, 0, "chromium failed:\n%s", log);
	return log;
}

Test(report, html_loads_in_chromium_without_console_errors)
{
	struct rep t;
	rep_setup(&t, "rep_html", true, NULL);
	char *out;
	cr_assert_eq(run_report(&t, &out, ARGS("--period", "7d", "--now", REP_NOW, "--format",
					       "html", "--out", t.dir)), 0, "%s", out);
	char html[600];
	snprintf(html, sizeof html, "%s/tlswatch-report-7d-2026-03-09.html", t.dir);
	char *doc = tw_read_file(html);
	cr_assert(doc);
	/* self-contained: no script, nothing fetched */
	cr_assert(!strstr(doc, "<script") && !strstr(doc, "src=\"http") &&
		  !strstr(doc, "href=\"http") && !strstr(doc, "@import"), "external asset");
	cr_assert(tw_file_count(html, "<svg") >= 3, "inline SVG charts");
	cr_assert(strstr(doc, "@media print"));
	/* page one opens with the two charts (before the tiles and tables),
	 * each an inline SVG whose label names every seeded SLO and region */
	const char *slos = strstr(doc, "<figure class=slos");
	const char *regs = strstr(doc, "<figure class=regions");
	const char *tiles = strstr(doc, "<div class=tiles>");
	cr_assert(slos && regs && tiles && slos < tiles && regs < tiles, "charts first");
	const char *end = strstr(slos, "</figure>");
	cr_assert(end && strstr(slos, "<svg") < end, "the SLO chart is an inline SVG");
	end = strstr(regs, "</figure>");
	cr_assert(end && strstr(regs, "<svg") < end, "the region chart is an inline SVG");
	cr_assert(strstr(slos, tw_fmt("shop-availability (shop): MISSED %.3f%% (objective 99.5%%)",
				      100 * (1.0 - 260.0 / 33600))) < regs, "%.600s", slos);
	cr_assert(strstr(slos, "shop-latency (shop): met") < regs, "%.600s", slos);
	cr_assert(strstr(slos, "api-availability (api): no data (objective 99.9%)") < regs,
		  "%.600s", slos);
	cr_assert(strstr(regs, tw_fmt("1. eu: success %.3f%%", 100 * (1.0 - 20.0 / 16800))),
		  "%.600s", regs);
	cr_assert(strstr(regs, "2. us: success"), "%.600s", regs);
	free(doc);

	/* the check sees console errors at all: a page that logs one */
	char bad[600];
	snprintf(bad, sizeof bad, "%s/bad.html", t.dir);
	cr_assert(tw_write_file(bad, "<!DOCTYPE html><html><body><script>"
				     "console.error('deliberate report test error')</script>"
				     "</body></html>") == 0);
	char *log = chromium_load(t.dir, bad, NULL);
	cr_assert(strstr(log, "deliberate report test error"), "the console is not logged:\n%s", log);
	free(log);

	char png[600];
	snprintf(png, sizeof png, "%s/report-html.png", artifacts());
	log = chromium_load(t.dir, html, png);
	cr_assert(!strstr(log, "CONSOLE") && !strstr(log, "Uncaught"), "console output:\n%s", log);
	free(log);
	struct stat st;
	cr_assert(stat(png, &st) == 0 && st.st_size > 10000, "%s: no screenshot", png);
	fprintf(stderr, "report: HTML screenshot saved as %s\n", png);
	free(out);
	PQfinish(t.c);
}

/* The charts as PNG (report_chart.c; what a chat message would carry): a
 * line with a gap where a day had no data, and a chart with no data at all. */
Test(report, charts_render_as_png)
{
	double v[7] = { 0.9, 0.8, NAN, 0.5, 0.2, -0.1, -0.3 }, none[3] = { NAN, NAN, NAN };
	struct report_chart ch = {
		.prefix = "Error budget left (period): ", .title = "shop-availability", .v = v,
		.n = 7, .ymin = NAN, .ymax = 1, .ref = 0, .scale = 100, .unit = "%",
		.from_ms = REP_FROM, .slice_ms = 86400000,
	};
	const char *png[2] = { tw_fmt("%s/report-chart-burndown.png", artifacts()),
			       tw_fmt("%s/report-chart-nodata.png", artifacts()) };
	char p0[600], p1[600];
	snprintf(p0, sizeof p0, "%s", png[0]);
	snprintf(p1, sizeof p1, "%s", png[1]);
	cr_assert_eq(report_chart_png(p0, &ch, 640, 240), 0);
	ch.v = none;
	ch.n = 3;
	cr_assert_eq(report_chart_png(p1, &ch, 640, 240), 0);
	for (int i = 0; i < 2; i++) {
		const char *p = i ? p1 : p0;
		FILE *f = fopen(p, "rb");
		unsigned char sig[8] = { 0 };
		cr_assert(f && fread(sig, 1, 8, f) == 8, "%s", p);
		fclose(f);
		cr_assert(!memcmp(sig, "\x89PNG\r\n\x1a\n", 8), "%s is not a PNG", p);
	}
	fprintf(stderr, "report: charts saved as %s and %s\n", p0, p1);
	/* cairo's font caches and fontconfig's configuration, as cmd_report.c
	 * drops them, so that the leak checker sees only the report's own */
	cairo_debug_reset_static_data();
	FcFini();
}
