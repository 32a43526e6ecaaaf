/*
 * cmd_status.c - `tlswatch-collector status`: the regional health grid and
 * the firing alerts in a terminal (for SSH sessions and runbooks), from
 * the same store operations as GET /api/v1/grid and the dashboard
 * (store_grid.h, store_firing.h), run on a private event loop.
 */
#include "cmd.h"
#include "col_config.h"
#include "log.h"
#include "store.h"
#include "store_firing.h"
#include "store_grid.h"
#include "twtime.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include <event2/event.h>

#define STATUS_TIMEOUT_MS 30000

static void status_usage(FILE *out)
{
	fprintf(out,
"usage: tlswatch-collector status -c FILE [--window 5m|1h|24h|7d] [--service S] [--json]\n"
"\n"
"  -c, --config FILE   collector configuration (uses database.conninfo and\n"
"                      retention.rollup_1m)\n"
"  --window W          the grid's window: 5m, 1h (default), 24h or 7d\n"
"  --service S         only the targets of service S (and its alerts)\n"
"  --json              {\"grid\": <the /api/v1/grid answer>, \"alerts\": [firing alerts]}\n"
"\n"
"Prints the regional health grid - one row per target, one column per region,\n"
"each cell the handshake success rate, the p95 handshake time and its status,\n"
"with the failing profiles and their most frequent outcome under the row -\n"
"and the firing alerts. The same queries as GET /api/v1/grid (docs/api.md).\n"
"Exit 0 when every cell is ok and no alert fires, 1 when a cell is degraded\n"
"or failing or an alert fires, 2 on a usage, configuration or database error.\n");
}

struct status_ctx {
	json_t *grid, *alerts;
	char err[300];
};

static void got_grid(void *arg, struct store_answer *a)
{
	struct status_ctx *st = arg;
	if (a->status == STORE_OK) {
		st->grid = a->json;
		a->json = NULL;
	} else if (!st->err[0]) {
		snprintf(st->err, sizeof st->err, "grid: %s", a->err ? a->err : "failed");
	}
}

static void got_alerts(void *arg, struct store_answer *a)
{
	struct status_ctx *st = arg;
	if (a->status == STORE_OK) {
		st->alerts = json_incref(json_object_get(a->json, "items"));
		json_decref(a->json);
		a->json = NULL;
	} else if (!st->err[0]) {
		snprintf(st->err, sizeof st->err, "alerts: %s", a->err ? a->err : "failed");
	}
}

static const char *str(json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));
	return s ? s : "-";
}

/* "99.2% 45ms ok": ratio, p95 and the status in words (never colour alone) */
static void cell_text(json_t *c, char *buf, size_t cap)
{
	char ratio[16] = "-", p95[16] = "-";
	json_t *r = json_object_get(c, "success_ratio"), *p = json_object_get(c, "p95_ms");
	if (json_is_number(r))
		snprintf(ratio, sizeof ratio, "%.1f%%", json_number_value(r) * 100);
	if (json_is_number(p))
		snprintf(p95, sizeof p95, "%.0fms", json_number_value(p));
	const char *s = str(c, "status");
	snprintf(buf, cap, "%s %s %s", ratio, p95,
		 !strcmp(s, "ok") ? "ok" : !strcmp(s, "degraded") ? "DEGRADED" : "FAILING");
}

/* Prints the grid; returns true when every cell is ok. */
static bool print_grid(json_t *g)
{
	json_t *regions = json_object_get(g, "regions"), *rows = json_object_get(g, "rows");
	size_t i, j, nreg = json_array_size(regions);
	json_t *row, *v;
	int tw = 6, sw = 7, cw = 20;
	json_array_foreach(rows, i, row) {
		int n = (int)strlen(str(row, "id"));
		tw = n > tw ? n : tw;
		n = (int)strlen(str(row, "service"));
		sw = n > sw ? n : sw;
	}
	json_array_foreach(regions, i, v) {
		int n = (int)strlen(json_string_value(v));
		cw = n > cw ? n : cw;
	}
	printf("window %s: %s .. %s\n\n", str(g, "window"), str(g, "from"), str(g, "to"));
	if (json_array_size(rows) == 0) {
		printf("no results in the window\n");
		return true;
	}
	printf("%-*s  %-*s", tw, "TARGET", sw, "SERVICE");
	json_array_foreach(regions, i, v)
		printf("  %-*s", cw, json_string_value(v));
	printf("\n");
	bool healthy = true;
	json_array_foreach(rows, i, row) {
		printf("%-*s  %-*s", tw, str(row, "id"), sw, str(row, "service"));
		json_t *cells = json_object_get(row, "cells");
		for (j = 0; j < nreg; j++) {
			const char *region = json_string_value(json_array_get(regions, j));
			char text[64] = "";
			size_t k;
			json_t *c;
			json_array_foreach(cells, k, c)
				if (!strcmp(str(c, "region"), region))
					cell_text(c, text, sizeof text);
			printf("  %-*s", cw, text[0] ? text : "no data");
		}
		printf("\n");
		size_t k;
		json_t *c;
		json_array_foreach(cells, k, c) {
			if (strcmp(str(c, "status"), "ok") != 0)
				healthy = false;
			size_t m;
			json_t *fp;
			json_array_foreach(json_object_get(c, "failing_profiles"), m, fp)
				printf("    %-*s  %s\n", cw, str(c, "region"), str(fp, "text"));
		}
	}
	return healthy;
}

static void print_alerts(json_t *alerts)
{
	if (json_array_size(alerts) == 0) {
		printf("\nno alerts firing\n");
		return;
	}
	printf("\nfiring alerts (%zu):\n", json_array_size(alerts));
	size_t i;
	json_t *a;
	json_array_foreach(alerts, i, a)
		printf("  %-6s  %-22s  %-12s  since %s  %s\n", str(a, "severity"), str(a, "rule"),
		       str(a, "region_group"), str(a, "firing_since"), str(a, "summary"));
}

int cmd_status_main(int argc, char **argv)
{
	const char *path = NULL, *window = "1h", *service = NULL;
	bool json = false;
	for (int i = 1; i < argc; i++) {
		if ((!strcmp(argv[i], "-c") || !strcmp(argv[i], "--config")) && i + 1 < argc) {
			path = argv[++i];
		} else if (!strcmp(argv[i], "--window") && i + 1 < argc) {
			window = argv[++i];
		} else if (!strcmp(argv[i], "--service") && i + 1 < argc) {
			service = argv[++i];
		} else if (!strcmp(argv[i], "--json")) {
			json = true;
		} else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			status_usage(stdout);
			return CMD_EXIT_OK;
		} else {
			fprintf(stderr, "tlswatch-collector status: unknown argument \"%s\" (see --help)\n",
				argv[i]);
			return CMD_EXIT_USAGE;
		}
	}
	if (!path) {
		fprintf(stderr, "tlswatch-collector status: -c FILE is required (see --help)\n");
		return CMD_EXIT_USAGE;
	}
	struct store_grid_q q = { .service = service };
	char err[1024];
	struct col_config *cfg = NULL;
	struct event_base *base = NULL;
	struct store *s = NULL;
	struct status_ctx st = { 0 };
	int rc = CMD_EXIT_USAGE;
	if (!(cfg = col_config_load(path, err, sizeof err))) {
		fprintf(stderr, "%s\n", err);
		goto out;
	}
	/* the output is the grid: only problems go to stderr */
	log_init("tlswatch-collector", TWLOG_WARN, false);
	if (store_grid_window(&q, window, twtime_wall_ms(),
			      (int64_t)cfg->retention.rollup_1m * 86400000LL) < 0) {
		fprintf(stderr, "tlswatch-collector status: --window: expected 5m, 1h, 24h or 7d, "
			"got \"%s\"\n", window);
		goto out;
	}
	struct store_opts so = { .conninfo = cfg->db_conninfo, .name = "status",
				 .app_name = "tlswatch-collector status" };
	if (!(base = event_base_new()) || !(s = store_new(base, &so, err, sizeof err))) {
		fprintf(stderr, "tlswatch-collector status: %s\n", base ? err : "out of memory");
		goto out;
	}
	store_grid(s, &q, got_grid, &st);
	store_firing(s, service, got_alerts, &st);
	if (store_run_blocking(s, base, STATUS_TIMEOUT_MS) < 0 && !st.err[0])
		snprintf(st.err, sizeof st.err, "no answer from the database in %d s",
			 STATUS_TIMEOUT_MS / 1000);
	if (st.err[0] || !st.grid || !st.alerts) {
		fprintf(stderr, "tlswatch-collector status: %s\n", st.err[0] ? st.err : "no answer");
		goto out;
	}
	bool healthy;
	if (json) {
		size_t i;
		json_t *row, *c;
		healthy = true;
		json_array_foreach(json_object_get(st.grid, "rows"), i, row) {
			size_t k;
			json_array_foreach(json_object_get(row, "cells"), k, c)
				if (strcmp(str(c, "status"), "ok") != 0)
					healthy = false;
		}
		json_t *out = json_pack("{s:O, s:O}", "grid", st.grid, "alerts", st.alerts);
		char *text = out ? json_dumps(out, JSON_INDENT(2)) : NULL;
		json_decref(out);
		if (!text) {
			fprintf(stderr, "tlswatch-collector status: out of memory\n");
			goto out;
		}
		printf("%s\n", text);
		free(text);
	} else {
		healthy = print_grid(st.grid);
		print_alerts(st.alerts);
	}
	rc = healthy && json_array_size(st.alerts) == 0 ? CMD_EXIT_OK : 1;
out:
	store_free(s);
	if (base)
		event_base_free(base);
	json_decref(st.grid);
	json_decref(st.alerts);
	col_config_free(cfg);
	return rc;
}
