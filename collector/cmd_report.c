/*
 * cmd_report.c - `tlswatch-collector report`: one report on demand, written
 * into a directory in the formats asked (report.h; docs/reports.md). The
 * scheduled reports of collector.yaml run the same code (report_sched.c).
 */
#include "cmd.h"
#include "col_config.h"
#include "log.h"
#include "report.h"
#include "slo_config.h"
#include "twtime.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <cairo.h>
#include <fontconfig/fontconfig.h>

static void report_usage(FILE *out)
{
	fprintf(out,
"usage: tlswatch-collector report -c FILE --period 7d|30d|90d|FROM..TO\n"
"                                 [--format html,pdf,md,json] --out DIR\n"
"                                 [--service NAME] [--now TIME]\n"
"\n"
"  -c, --config FILE   collector configuration; uses database.conninfo,\n"
"                      retention.rollup_1m and alerting.slo_file (the SLOs)\n"
"  --period P          7d, 30d or 90d ending at --now, or FROM..TO with dates\n"
"                      (2026-03-01..2026-03-08) or UTC times\n"
"                      (2026-03-01T00:00:00Z..2026-03-08T00:00:00Z)\n"
"  --format LIST       comma-separated: html, pdf, md, json (default: all four)\n"
"  --out DIR           directory to write into (must exist)\n"
"  --service NAME      only this service (its SLOs, series, incidents, certificates)\n"
"  --now TIME          the end of a 7d/30d/90d period (RFC 3339; default: now)\n"
"\n"
"Reads the rollups, SLOs, alerts and certificate inventory and writes\n"
"DIR/tlswatch-report-<period>-<end date>[-<service>].<format>, each through a\n"
"temporary file renamed into place; prints the paths written. Figures\n"
"without data say \"no data\" (null in JSON), never 100%%.\n"
"Exit 0 on success, 1 when the database or a write fails, 2 on a usage or\n"
"configuration error.\n");
}

int cmd_report_main(int argc, char **argv)
{
	const char *path = NULL, *period = NULL, *formats = "html,pdf,md,json", *out = NULL;
	const char *service = NULL, *now_s = NULL;
	char err[1024];
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		bool has = i + 1 < argc;
		if ((!strcmp(a, "-c") || !strcmp(a, "--config")) && has) {
			path = argv[++i];
		} else if (!strcmp(a, "--period") && has) {
			period = argv[++i];
		} else if (!strcmp(a, "--format") && has) {
			formats = argv[++i];
		} else if (!strcmp(a, "--out") && has) {
			out = argv[++i];
		} else if (!strcmp(a, "--service") && has) {
			service = argv[++i];
		} else if (!strcmp(a, "--now") && has) {
			now_s = argv[++i];
		} else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			report_usage(stdout);
			return CMD_EXIT_OK;
		} else {
			fprintf(stderr, "tlswatch-collector report: unknown argument \"%s\" (see --help)\n",
				a);
			return CMD_EXIT_USAGE;
		}
	}
	if (!path || !period || !out) {
		fprintf(stderr, "tlswatch-collector report: %s is required (see --help)\n",
			!path ? "-c FILE" : !period ? "--period" : "--out DIR");
		return CMD_EXIT_USAGE;
	}
	int64_t now = twtime_wall_ms(), from, to;
	if (now_s && cmd_parse_time(now_s, &now) < 0) {
		fprintf(stderr, "tlswatch-collector report: --now: expected an RFC 3339 time like "
			"2026-03-02T10:00:00Z, got \"%s\"\n", now_s);
		return CMD_EXIT_USAGE;
	}
	if (report_parse_period(period, now, &from, &to, err, sizeof err) < 0) {
		fprintf(stderr, "tlswatch-collector report: --period: %s\n", err);
		return CMD_EXIT_USAGE;
	}
	unsigned mask = report_parse_formats(formats, err, sizeof err);
	if (!mask) {
		fprintf(stderr, "tlswatch-collector report: --format: %s\n", err);
		return CMD_EXIT_USAGE;
	}
	struct stat st;
	if (stat(out, &st) != 0) {
		fprintf(stderr, "tlswatch-collector report: --out: %s: %s\n", out, strerror(errno));
		return CMD_EXIT_USAGE;
	}
	if (!S_ISDIR(st.st_mode)) {
		fprintf(stderr, "tlswatch-collector report: --out: %s is not a directory\n", out);
		return CMD_EXIT_USAGE;
	}
	int rc = CMD_EXIT_USAGE;
	struct col_config *cfg = col_config_load(path, err, sizeof err);
	struct slo_config *slo = NULL;
	struct report *r = NULL;
	PGconn *c = NULL;
	if (!cfg) {
		fprintf(stderr, "%s\n", err);
		return CMD_EXIT_USAGE;
	}
	log_init("tlswatch-collector", (enum log_level)cfg->log_level, cfg->log_json);
	if (!(slo = cfg->slo_file ? slo_config_load(cfg->slo_file, err, sizeof err)
				  : slo_config_new_default())) {
		fprintf(stderr, "%s\n", cfg->slo_file ? err : "out of memory");
		goto out;
	}
	rc = CMD_EXIT_RUNTIME;
	if (!(c = cmd_connect(cfg, "report")))
		goto out;
	struct report_opts o = {
		.from_ms = from, .to_ms = to, .period = period, .service = service,
		.retention_days = cfg->retention.rollup_1m, .generated_ms = twtime_wall_ms(),
	};
	double t0 = twtime_mono_ms();
	if (report_build(c, slo, &o, &r, err, sizeof err) < 0) {
		fprintf(stderr, "tlswatch-collector report: %s\n", err);
		goto out;
	}
	double t1 = twtime_mono_ms();
	char paths[REPORT_MAX_FILES][4096];
	size_t n = 0;
	if (report_write(r, mask, out, paths, &n, err, sizeof err) < 0) {
		fprintf(stderr, "tlswatch-collector report: %s\n", err);
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		printf("%s\n", paths[i]);
	log_info("report: %s over %zu services and %zu SLOs: queries %.0f ms, rendering %.0f ms",
		 period, r->nservices, r->nslos, t1 - t0, twtime_mono_ms() - t1);
	rc = CMD_EXIT_OK;
out:
	report_free(r);
	PQfinish(c);
	slo_config_free(slo);
	col_config_free(cfg);
	/* cairo's font caches and fontconfig's configuration, so that a leak
	 * checker sees only our own allocations (one-shot command: nothing
	 * renders after this) */
	cairo_debug_reset_static_data();
	FcFini();
	return rc;
}
