/*
 * cmd.h - the subcommands of tlswatch-collector, one file each, and the
 * few things they share (cmd.c). main.c only dispatches.
 *
 *   cmd_run.c          run          the daemon: ingest, HTTP, evaluator, notifier
 *   cmd_migrate.c      migrate      schema migrations, retention policy, partitions
 *   cmd_evaluate.c     evaluate     one alert evaluation, printed
 *   cmd_maintenance.c  maintenance  create / list / delete maintenance windows
 *   cmd_report.c       report       a leadership report (HTML, PDF, Markdown, JSON)
 *   cmd_status.c       status       the regional health grid and firing alerts
 *
 * Every cmd_*_main(argc, argv) gets argv[0] = the subcommand's name and
 * returns the process exit status (enum cmd_exit). Command files hold no SQL:
 * queries live in the module they belong to (db_schema.c, alerts.c, maint.c,
 * evaluator.c).
 */
#ifndef TW_CMD_H
#define TW_CMD_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <libpq-fe.h>

#include "col_config.h"

#define CMD_COLLECTOR_VERSION "0.1.0"

enum cmd_exit {
	CMD_EXIT_OK = 0,       /* done */
	CMD_EXIT_RUNTIME = 1,  /* the database or the network failed */
	CMD_EXIT_USAGE = 2,    /* bad arguments or configuration */
};

int cmd_run_main(int argc, char **argv);          /* cmd_run.c */
int cmd_migrate_main(int argc, char **argv);      /* cmd_migrate.c */
int cmd_evaluate_main(int argc, char **argv);     /* cmd_evaluate.c */
int cmd_maintenance_main(int argc, char **argv);  /* cmd_maintenance.c */
int cmd_report_main(int argc, char **argv);       /* cmd_report.c */
int cmd_status_main(int argc, char **argv);       /* cmd_status.c */

/* Parses `-c FILE [--check-config] [-h]` (--check-config only when
 * allow_check). Returns 0 with *path set (borrowed from argv), or -1 when the
 * command must exit with *rc (help printed: 0; usage error printed: 2). */
int cmd_parse_config_args(int argc, char **argv, const char *cmd, bool allow_check,
			  void (*help)(FILE *), const char **path, bool *check_only, int *rc);

/* "2026-03-02T10:00:00Z", "...T10:00:00.250+02:00" or "now" -> Unix ms.
 * 0, or -1 when s is none of these. */
int cmd_parse_time(const char *s, int64_t *ms);

/* A blocking session for a one-shot command, prepared like the evaluator's
 * (UTC, timeouts). NULL with the reason printed on stderr. The caller
 * PQfinish()es it. */
PGconn *cmd_connect(const struct col_config *cfg, const char *cmd);

#endif
