/*
 * main.c - tlswatch-collector: the command line. Dispatches to one
 * subcommand (cmd.h: cmd_run.c, cmd_migrate.c, cmd_evaluate.c,
 * cmd_maintenance.c) and prints the overview --help and the version.
 */
#include "cmd.h"
#include "log.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>

static void usage(FILE *out)
{
	fprintf(out,
"usage: tlswatch-collector COMMAND [options]\n"
"\n"
"tlswatch collector: receives results from probes over mutual TLS and stores\n"
"them in PostgreSQL.\n"
"\n"
"commands:\n"
"  run -c collector.yaml      run the collector (see `tlswatch-collector run --help`)\n"
"  migrate -c collector.yaml  apply the database migrations and create partitions\n"
"  evaluate -c collector.yaml run one alert evaluation and print the SLO status\n"
"  maintenance create|list|delete -c collector.yaml\n"
"                             maintenance windows (suppress notifications)\n"
"  report -c collector.yaml --period 7d --out DIR\n"
"                             write a report (HTML, PDF, Markdown, JSON)\n"
"  status -c collector.yaml   the regional health grid and the firing alerts\n"
"  version                    print the version\n");
}

static const struct {
	const char *name;
	int (*main)(int argc, char **argv);
} commands[] = {
	{ "run", cmd_run_main },
	{ "migrate", cmd_migrate_main },
	{ "evaluate", cmd_evaluate_main },
	{ "maintenance", cmd_maintenance_main },
	{ "report", cmd_report_main },
	{ "status", cmd_status_main },
};

int main(int argc, char **argv)
{
	log_init("tlswatch-collector", TWLOG_INFO, false);
	/* a peer closing mid-write must be an error return, not a signal */
	signal(SIGPIPE, SIG_IGN);
	if (argc < 2) {
		usage(stderr);
		return CMD_EXIT_USAGE;
	}
	const char *cmd = argv[1];
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
		if (!strcmp(cmd, commands[i].name))
			return commands[i].main(argc - 1, argv + 1);
	if (!strcmp(cmd, "version") || !strcmp(cmd, "--version")) {
		if (argc > 2 && (!strcmp(argv[2], "-h") || !strcmp(argv[2], "--help"))) {
			printf("usage: tlswatch-collector version\n\nPrints the version and exits 0.\n");
			return CMD_EXIT_OK;
		}
		printf("tlswatch-collector %s\n", CMD_COLLECTOR_VERSION);
		return CMD_EXIT_OK;
	}
	if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help") || !strcmp(cmd, "help")) {
		usage(stdout);
		return CMD_EXIT_OK;
	}
	fprintf(stderr, "tlswatch-collector: unknown command \"%s\"\n", cmd);
	usage(stderr);
	return CMD_EXIT_USAGE;
}
