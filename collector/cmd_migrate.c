/*
 * cmd_migrate.c - `tlswatch-collector migrate -c collector.yaml`: applies the
 * embedded migrations, stores the configured retention policy and runs the
 * partition maintenance once (db_schema.c does the work).
 */
#include "cmd.h"
#include "col_config.h"
#include "db.h"
#include "db_schema.h"
#include "log.h"

#include <stdbool.h>
#include <stdio.h>

static void migrate_usage(FILE *out)
{
	fprintf(out,
"usage: tlswatch-collector migrate -c FILE\n"
"\n"
"  -c, --config FILE   collector configuration; uses database.conninfo,\n"
"                      retention and partitions_ahead_days\n"
"\n"
"Applies the embedded sql/NNN_*.sql migrations not yet recorded in\n"
"schema_migrations, in order, each in its own transaction; stores the\n"
"`retention:` days of every table (the collectors' hourly maintenance applies\n"
"them: run migrate after changing them); then runs that maintenance once:\n"
"creates the results and rollup_1m day partitions up to today +\n"
"partitions_ahead_days (moving rows the default partition holds for a day\n"
"into it), drops the ones older than their retention and prunes the other\n"
"tables. Safe to run again, also while collectors run: it\n"
"takes an advisory lock of its own (not the evaluator leader's), so two\n"
"migrations wait for each other, at most lock_timeout (60s unless the\n"
"conninfo sets it) before giving up with exit 1. Exit 0 on success, 1 when\n"
"the database fails, 2 on a usage or configuration error.\n");
}



int cmd_migrate_main(int argc, char **argv)
{
	const char *path;
	bool unused = false;
	int rc = CMD_EXIT_USAGE;
	char err[1024];
	if (cmd_parse_config_args(argc, argv, "migrate", false, migrate_usage, &path, &unused, &rc) < 0)
		return rc;
	struct col_config *cfg = col_config_load(path, err, sizeof err);
	if (!cfg) {
		fprintf(stderr, "%s\n", err);
		return CMD_EXIT_USAGE;
	}
	log_init("tlswatch-collector", (enum log_level)cfg->log_level, cfg->log_json);
	rc = CMD_EXIT_RUNTIME;
	int n = db_migrate(cfg->db_conninfo, err, sizeof err);
	if (n < 0) {
		fprintf(stderr, "tlswatch-collector migrate: %s\n", err);
		goto out;
	}
	if (db_schema_store_retention(cfg->db_conninfo, &cfg->retention, err, sizeof err) < 0) {
		fprintf(stderr, "tlswatch-collector migrate: %s\n", err);
		goto out;
	}
	if (db_maintain_partitions(cfg->db_conninfo, cfg->retention_days,
				   cfg->partitions_ahead_days, err, sizeof err) < 0) {
		fprintf(stderr, "tlswatch-collector migrate: partitions: %s\n", err);
		goto out;
	}
	printf("migrate: %d migration%s applied; partitions cover %u days back and %u ahead\n"
	       "retention (days): results %u, rollup_1m %u, rollup_1h %u, alert_events %u, "
	       "notifications %u, evaluation_runs %u, certificate_sightings %u\n",
	       n, n == 1 ? "" : "s", cfg->retention_days, cfg->partitions_ahead_days,
	       cfg->retention.results, cfg->retention.rollup_1m, cfg->retention.rollup_1h,
	       cfg->retention.alert_events, cfg->retention.notifications,
	       cfg->retention.evaluation_runs, cfg->retention.certificate_sightings);
	rc = CMD_EXIT_OK;
out:
	col_config_free(cfg);
	return rc;
}

