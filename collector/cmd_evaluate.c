/*
 * cmd_evaluate.c - `tlswatch-collector evaluate -c collector.yaml`: one
 * alert evaluation exactly as the leader runs it (evaluator.h), with the SLO
 * status and the alert changes it made printed (text or JSON).
 */
#include "alerts.h"
#include "cmd.h"
#include "col_config.h"
#include "evaluator.h"
#include "log.h"
#include "rules_certs.h"
#include "slo_config.h"
#include "twtime.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

static void evaluate_usage(FILE *out)
{
	fprintf(out,
"usage: tlswatch-collector evaluate -c FILE [--now TIME] [--json] [--dry-run]\n"
"\n"
"  -c, --config FILE   collector configuration; uses database.conninfo,\n"
"                      retention.rollup_1m and the alerting section (slo_file,\n"
"                      collector_id, external_url)\n"
"  --now TIME          evaluate as of TIME (RFC 3339, e.g. 2026-03-02T10:00:00Z;\n"
"                      default: now)\n"
"  --json              one JSON object per SLO (and region), then a summary line\n"
"                      (with alert_changes and certificate_changes)\n"
"  --dry-run           print the status only: change no alert, send nothing,\n"
"                      do not take the evaluator lock\n"
"\n"
"Runs one evaluation exactly as the leader collector does - every SLO's SLI,\n"
"error budget remaining and burn rate per window, every burn-rate rule and\n"
"the other alert rules - and applies the alert changes (recorded, with\n"
"notification outbox rows). Every configured SLO is listed, also one without\n"
"data; a window without events has no burn rate (\"-\", null in JSON); a change\n"
"held back says why (maintenance, or inhibited by a page on the certificate).\n"
"It takes the evaluator's advisory lock first, so it fails while a running\n"
"collector is the leader (use --dry-run then).\n"
"Exit 0 on success, 1 when the database fails or the lock is held, 2 on a\n"
"usage or configuration error.\n");
}

int cmd_evaluate_main(int argc, char **argv)
{
	const char *path = NULL, *now_s = NULL;
	bool json = false, dry = false;
	char err[1024];
	int rc = CMD_EXIT_USAGE;
	for (int i = 1; i < argc; i++) {
		if ((!strcmp(argv[i], "-c") || !strcmp(argv[i], "--config")) && i + 1 < argc) {
			path = argv[++i];
		} else if (!strcmp(argv[i], "--now") && i + 1 < argc) {
			now_s = argv[++i];
		} else if (!strcmp(argv[i], "--json")) {
			json = true;
		} else if (!strcmp(argv[i], "--dry-run")) {
			dry = true;
		} else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			evaluate_usage(stdout);
			return CMD_EXIT_OK;
		} else {
			fprintf(stderr, "tlswatch-collector evaluate: unknown argument \"%s\" (see --help)\n",
				argv[i]);
			return CMD_EXIT_USAGE;
		}
	}
	if (!path) {
		fprintf(stderr, "tlswatch-collector evaluate: -c FILE is required (see --help)\n");
		return CMD_EXIT_USAGE;
	}
	int64_t now = twtime_wall_ms();
	if (now_s && cmd_parse_time(now_s, &now) < 0) {
		fprintf(stderr, "tlswatch-collector evaluate: --now: expected an RFC 3339 time like "
			"2026-03-02T10:00:00Z, got \"%s\"\n", now_s);
		return CMD_EXIT_USAGE;
	}
	struct col_config *cfg = col_config_load(path, err, sizeof err);
	struct slo_config *slo = NULL;
	PGconn *c = NULL;
	json_t *changes = NULL, *certs = NULL;
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
	if (!(c = cmd_connect(cfg, "evaluate")))
		goto out;
	if (!dry) {
		int l = evaluator_try_lock(c, err, sizeof err);
		if (l < 0) {
			fprintf(stderr, "tlswatch-collector evaluate: %s\n", err);
			goto out;
		}
		if (l == 0) {
			fprintf(stderr, "tlswatch-collector evaluate: another collector holds the "
				"evaluator lock (it is the leader and evaluates every interval); "
				"use --dry-run to print the status without changing alerts\n");
			goto out;
		}
	}
	int64_t last_event = 0;
	if (alerts_last_event_id(c, &last_event, err, sizeof err) < 0) {
		fprintf(stderr, "tlswatch-collector evaluate: %s\n", err);
		goto out;
	}
	struct evaluator_run_opts o = {
		.collector_id = cfg->collector_id, .generator_url = cfg->external_url,
		.retention_days = cfg->retention.rollup_1m, .dry_run = dry, .status_out = stdout,
		.status_json = json,
	};
	struct evaluator_result res;
	if (evaluator_run_once(c, slo, now, &o, &res, err, sizeof err) < 0) {
		fprintf(stderr, "tlswatch-collector evaluate: %s\n", err);
		goto out;
	}
	/* the alert changes this evaluation made */
	if (json && !(changes = json_array())) {
		fprintf(stderr, "tlswatch-collector evaluate: out of memory\n");
		goto out;
	}
	if (alerts_print_changes(c, last_event, changes, stdout, err, sizeof err) < 0) {
		fprintf(stderr, "tlswatch-collector evaluate: %s\n", err);
		goto out;
	}
	/* and the certificate changes it recorded (a dry run records none) */
	if (json && !(certs = json_array())) {
		fprintf(stderr, "tlswatch-collector evaluate: out of memory\n");
		goto out;
	}
	if (!dry && rules_certs_print(c, now, certs, stdout, err, sizeof err) < 0) {
		fprintf(stderr, "tlswatch-collector evaluate: %s\n", err);
		goto out;
	}
	char t[48];
	twtime_rfc3339_ms(now, t, sizeof t);
	if (json) {
		json_t *j = json_pack("{s:s, s:b, s:I, s:I, s:i, s:i, s:f, s:o, s:o}", "eval_at", t,
				      "dry_run", dry, "slos", (json_int_t)res.slos, "series",
				      (json_int_t)res.series, "active_rules", res.active, "changes",
				      res.changes, "duration_ms", res.duration_ms, "alert_changes",
				      changes, "certificate_changes", certs);
		changes = certs = NULL;  /* "o" stole them, also when json_pack failed */
		char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
		json_decref(j);
		if (!s) {
			fprintf(stderr, "tlswatch-collector evaluate: out of memory\n");
			goto out;
		}
		printf("%s\n", s);
		free(s);
	} else {
		printf("evaluated at %s%s: %zu SLO statuses over %zu series in %.1f ms; %d burn rules "
		       "active; %d alert changes\n", t, dry ? " (dry run)" : "", res.slos, res.series,
		       res.duration_ms, res.active, res.changes);
	}
	rc = CMD_EXIT_OK;
out:
	json_decref(changes);
	json_decref(certs);
	PQfinish(c);
	slo_config_free(slo);
	col_config_free(cfg);
	return rc;
}
