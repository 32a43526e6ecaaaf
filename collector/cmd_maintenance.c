/*
 * cmd_maintenance.c - `tlswatch-collector maintenance create|list|delete`:
 * maintenance windows from the command line (the queries are in maint.c).
 */
#include "cmd.h"
#include "col_config.h"
#include "maint.h"
#include "slo_config.h"
#include "twtime.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

static void maintenance_usage(FILE *out)
{
	fprintf(out,
"usage: tlswatch-collector maintenance create -c FILE [selector] (--end TIME | --duration D)\n"
"                                             [--start TIME] --reason TEXT [--created-by NAME]\n"
"       tlswatch-collector maintenance list -c FILE [--all] [--json]\n"
"       tlswatch-collector maintenance delete -c FILE ID\n"
"\n"
"A maintenance window suppresses notifications of the alerts it matches while\n"
"it is active; the alerts are still evaluated and recorded (alert_events\n"
"marked suppressed). An alert still firing when the window ends is notified\n"
"then; one that fired and resolved inside the window never is.\n"
"\n"
"selector (every given field must match the alert; none = every alert):\n"
"  --service NAME      the alert's service\n"
"  --target HOST:PORT  the alert's target (target rules; SLOs selecting one target)\n"
"  --region NAME       the alert's region group\n"
"  --label KEY=VALUE   a label the alert carries (repeatable)\n"
"time:\n"
"  --start TIME        RFC 3339 (2026-03-02T22:00:00Z) or \"now\" (default)\n"
"  --end TIME | --duration D   end, or length like 90m, 2h, 1d\n"
"list:\n"
"  --all               also windows that have ended (default: active and future)\n"
"  --json              one JSON object per line\n"
"\n"
"create prints the new window's id. Exit 0 on success (delete: 1 when there is\n"
"no such window), 1 when the database fails, 2 on a usage error.\n");
}

int cmd_maintenance_main(int argc, char **argv)
{
	const char *path = NULL, *verb = argc > 1 ? argv[1] : NULL;
	const char *start_s = NULL, *end_s = NULL, *dur_s = NULL, *id_s = NULL;
	struct maint_window w = { 0 };
	bool all = false, json = false;
	json_t *labels = NULL;
	char err[1024];
	int rc = CMD_EXIT_USAGE;
	struct col_config *cfg = NULL;
	PGconn *c = NULL;

	if (!verb || !strcmp(verb, "-h") || !strcmp(verb, "--help")) {
		maintenance_usage(verb ? stdout : stderr);
		return verb ? CMD_EXIT_OK : CMD_EXIT_USAGE;
	}
	if (strcmp(verb, "create") && strcmp(verb, "list") && strcmp(verb, "delete")) {
		fprintf(stderr, "tlswatch-collector maintenance: unknown action \"%s\" (create, list, "
			"delete)\n", verb);
		return CMD_EXIT_USAGE;
	}
	bool create = !strcmp(verb, "create"), list = !strcmp(verb, "list");
	for (int i = 2; i < argc; i++) {
		const char *a = argv[i];
		bool more = i + 1 < argc;
		if ((!strcmp(a, "-c") || !strcmp(a, "--config")) && more) {
			path = argv[++i];
		} else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			maintenance_usage(stdout);
			rc = CMD_EXIT_OK;
			goto out;
		} else if (create && !strcmp(a, "--service") && more) {
			w.service = argv[++i];
		} else if (create && !strcmp(a, "--target") && more) {
			w.target = argv[++i];
		} else if (create && !strcmp(a, "--region") && more) {
			w.region = argv[++i];
		} else if (create && !strcmp(a, "--label") && more) {
			const char *kv = argv[++i], *eq = strchr(kv, '=');
			if (!eq || eq == kv) {
				fprintf(stderr, "tlswatch-collector maintenance: --label: expected "
					"KEY=VALUE, got \"%s\"\n", kv);
				goto out;
			}
			/* the key as given, however long (a cut key would never match) */
			char *key = strndup(kv, (size_t)(eq - kv));
			if ((!labels && !(labels = json_object())) || !key ||
			    json_object_set_new(labels, key, json_string(eq + 1)) < 0) {
				free(key);
				fprintf(stderr, "tlswatch-collector maintenance: out of memory\n");
				rc = CMD_EXIT_RUNTIME;
				goto out;
			}
			free(key);
		} else if (create && !strcmp(a, "--start") && more) {
			start_s = argv[++i];
		} else if (create && !strcmp(a, "--end") && more) {
			end_s = argv[++i];
		} else if (create && !strcmp(a, "--duration") && more) {
			dur_s = argv[++i];
		} else if (create && !strcmp(a, "--reason") && more) {
			w.reason = argv[++i];
		} else if (create && !strcmp(a, "--created-by") && more) {
			w.created_by = argv[++i];
		} else if (list && !strcmp(a, "--all")) {
			all = true;
		} else if (list && !strcmp(a, "--json")) {
			json = true;
		} else if (!strcmp(verb, "delete") && !id_s && a[0] != '-') {
			id_s = a;
		} else {
			fprintf(stderr, "tlswatch-collector maintenance %s: unknown argument \"%s\" "
				"(see --help)\n", verb, a);
			goto out;
		}
	}
	if (!path) {
		fprintf(stderr, "tlswatch-collector maintenance: -c FILE is required (see --help)\n");
		goto out;
	}
	int64_t id = 0;
	if (create) {
		int64_t d;
		w.starts_ms = twtime_wall_ms();
		if (start_s && cmd_parse_time(start_s, &w.starts_ms) < 0) {
			fprintf(stderr, "tlswatch-collector maintenance: --start: expected an RFC 3339 "
				"time like 2026-03-02T22:00:00Z or \"now\", got \"%s\"\n", start_s);
			goto out;
		}
		if (!!end_s == !!dur_s) {
			fprintf(stderr, "tlswatch-collector maintenance: give --end or --duration\n");
			goto out;
		}
		if (end_s && cmd_parse_time(end_s, &w.ends_ms) < 0) {
			fprintf(stderr, "tlswatch-collector maintenance: --end: expected an RFC 3339 "
				"time, got \"%s\"\n", end_s);
			goto out;
		}
		if (dur_s) {
			if (slo_parse_duration_ms(dur_s, &d) < 0 || d <= 0) {
				fprintf(stderr, "tlswatch-collector maintenance: --duration: expected a "
					"duration like 90m, 2h or 1d, got \"%s\"\n", dur_s);
				goto out;
			}
			w.ends_ms = w.starts_ms + d;
		}
		if (w.ends_ms <= w.starts_ms) {
			fprintf(stderr, "tlswatch-collector maintenance: the window must end after it "
				"starts\n");
			goto out;
		}
		if (!w.reason || !*w.reason) {
			fprintf(stderr, "tlswatch-collector maintenance: --reason is required\n");
			goto out;
		}
		if (!w.created_by)
			w.created_by = getenv("USER");
		w.labels = labels;
	} else if (!list) {
		char *e = NULL;
		if (!id_s || (errno = 0, id = strtoll(id_s, &e, 10), errno || *e || id <= 0)) {
			fprintf(stderr, "tlswatch-collector maintenance delete: expected a window id "
				"(see `maintenance list`)\n");
			goto out;
		}
	}
	if (!(cfg = col_config_load(path, err, sizeof err))) {
		fprintf(stderr, "%s\n", err);
		goto out;
	}
	rc = CMD_EXIT_RUNTIME;
	if (!(c = cmd_connect(cfg, "maintenance")))
		goto out;
	if (create) {
		if (maint_create(c, &w, &id, err, sizeof err) < 0) {
			fprintf(stderr, "tlswatch-collector maintenance create: %s\n", err);
			goto out;
		}
		printf("%lld\n", (long long)id);
	} else if (list) {
		if (maint_list(c, twtime_wall_ms(), all, json, stdout, err, sizeof err) < 0) {
			fprintf(stderr, "tlswatch-collector maintenance list: %s\n", err);
			goto out;
		}
	} else {
		int d = maint_delete(c, id, err, sizeof err);
		if (d < 0) {
			fprintf(stderr, "tlswatch-collector maintenance delete: %s\n", err);
			goto out;
		}
		if (d == 1) {
			fprintf(stderr, "tlswatch-collector maintenance delete: no window %lld\n",
				(long long)id);
			goto out;
		}
		printf("deleted %lld\n", (long long)id);
	}
	rc = CMD_EXIT_OK;
out:
	PQfinish(c);
	json_decref(labels);
	col_config_free(cfg);
	return rc;
}
