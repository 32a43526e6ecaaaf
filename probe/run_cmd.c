/*
 * run_cmd.c - `tlswatch-probe run -c probe.yaml`: option parsing, then
 * either --check-config (parse and validate, print, exit) or the daemon
 * (daemon.c).
 */
#include "check.h"
#include "config.h"
#include "daemon.h"
#include "log.h"
#include "profile.h"

#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static void run_usage(FILE *out)
{
	fprintf(out,
"usage: tlswatch-probe run -c FILE [options]\n"
"\n"
"The scheduling daemon: probes every target x profile of FILE at its\n"
"interval (deterministic phases spread over the interval), spools each\n"
"result on disk and streams it to the collector over mutual TLS.\n"
"\n"
"  -c, --config FILE        probe configuration (schema: deploy/probe.example.yaml)\n"
"  --check-config           validate FILE (syntax, types, profile names; every\n"
"                           file it names can be opened, private keys closed to\n"
"                           group and others) and exit: 0 valid, 2 invalid with\n"
"                           FILE:LINE:COLUMN on stderr\n"
"  --testssl-db FILE        testssl.sh client database for profile names\n"
"                           (default %s, used when readable)\n"
"  --log-level LEVEL        error, warn, info or debug (default: log.level of FILE,\n"
"                           else info); logs go to stderr\n"
"  --log-json               JSON log lines (default: log.json of FILE)\n"
"  --stats-file PATH        write counters as JSON to PATH (atomically: PATH.tmp +\n"
"                           rename) at start, at every summary, on SIGUSR1 and at exit\n"
"  --summary-interval DUR   period of the summary log line and the stats file\n"
"                           (default 60s; DURATION as in FILE: 500ms, 10s, 1m)\n"
"  --nameserver IP[:PORT]   ask this DNS server only (default: resolv.conf)\n"
"  -h, --help               this text\n"
"\n"
"Signals:\n"
"  SIGHUP           reload FILE: parse and validate everything, then swap; on any\n"
"                   error log \"reload failed: ...; keeping the previous\n"
"                   configuration\" and go on. Targets, profiles, intervals,\n"
"                   timeouts, concurrency, fsync interval and logging reload;\n"
"                   probe identity, collector and spool settings need a restart.\n"
"  SIGTERM, SIGINT  stop: no new handshakes; in-flight ones get up to\n"
"                   min(longest timeout, 10 s), the rest are abandoned (not\n"
"                   written); up to 5 s more for the collector to ack the spool;\n"
"                   spool synced; exit 0. A second signal stops at once.\n"
"  SIGUSR1          write the stats file and a summary log line now.\n"
"\n"
"Files: FILE; spool.path (segment files + state, kept across restarts;\n"
"records leave it only when the collector acks them); the collector's CA,\n"
"the probe's certificate and key (key mode 0600); targets' ca_file and\n"
"client certificates.\n"
"\n"
"Exit status: 0 clean stop (or --check-config valid); 2 usage or\n"
"configuration error, including files the configuration names that cannot\n"
"be loaded; 1 runtime error (spool cannot be opened, event loop).\n",
		TESTSSL_DB_DEFAULT);
}

enum { OPT_CHECK = 256, OPT_DB, OPT_LEVEL, OPT_JSON, OPT_STATS, OPT_SUMMARY,
       OPT_NAMESERVER };

static const struct option run_opts[] = {
	{ "config", required_argument, NULL, 'c' },
	{ "check-config", no_argument, NULL, OPT_CHECK },
	{ "testssl-db", required_argument, NULL, OPT_DB },
	{ "log-level", required_argument, NULL, OPT_LEVEL },
	{ "log-json", no_argument, NULL, OPT_JSON },
	{ "stats-file", required_argument, NULL, OPT_STATS },
	{ "summary-interval", required_argument, NULL, OPT_SUMMARY },
	{ "nameserver", required_argument, NULL, OPT_NAMESERVER },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 }
};

/* --check-config: 0 valid, 2 not. */
static int check_config(const char *path, const char *db)
{
	struct probe_config *cfg = NULL;
	struct profile_list all = { 0 };
	char err[1024];
	size_t entries = 0;
	int rc = CHECK_EXIT_USAGE;

	cfg = config_load(path, err, sizeof err);
	if (!cfg) {
		fprintf(stderr, "%s\n", err);
		goto out;
	}
	if (daemon_load_profiles(&all, db, err, sizeof err) != 0) {
		fprintf(stderr, "tlswatch-probe run: %s\n", err);
		goto out;
	}
	if (daemon_check_profiles(cfg, &all, &entries, err, sizeof err) != 0) {
		fprintf(stderr, "%s\n", err);
		goto out;
	}
	/* the daemon opens these at start; "valid" must mean it can */
	if (config_check_files(cfg, err, sizeof err) != 0) {
		fprintf(stderr, "%s\n", err);
		goto out;
	}
	printf("%s: valid: probe %s region %s, %zu targets, %zu schedule entries\n", path,
	       cfg->probe_id, cfg->region, cfg->ntargets, entries);
	rc = 0;
out:
	profile_list_free(&all);
	config_free(cfg);
	return rc;
}

int run_main(int argc, char **argv)
{
	struct daemon_opts o = { .testssl_db = TESTSSL_DB_DEFAULT, .log_level = -1,
				 .log_json = -1 };
	bool check_only = false;
	int c;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":c:h", run_opts, NULL)) != -1) {
		switch (c) {
		case 'c': o.config_path = optarg; break;
		case OPT_CHECK: check_only = true; break;
		case OPT_DB: o.testssl_db = optarg; break;
		case OPT_LEVEL:
			o.log_level = log_level_parse(optarg);
			if (o.log_level < 0) {
				fprintf(stderr, "tlswatch-probe run: unknown --log-level \"%s\" "
					"(error, warn, info or debug)\n", optarg);
				return CHECK_EXIT_USAGE;
			}
			break;
		case OPT_JSON: o.log_json = 1; break;
		case OPT_STATS: o.stats_file = optarg; break;
		case OPT_NAMESERVER: o.nameserver = optarg; break;
		case OPT_SUMMARY:
			if (config_parse_duration_ms(optarg, &o.summary_ms) != 0 || o.summary_ms < 100) {
				fprintf(stderr, "tlswatch-probe run: bad --summary-interval \"%s\" "
					"(a duration of at least 100ms, like 10s)\n", optarg);
				return CHECK_EXIT_USAGE;
			}
			break;
		case 'h':
			run_usage(stdout);
			return 0;
		case ':':
			fprintf(stderr, "tlswatch-probe run: %s needs a value\n", argv[optind - 1]);
			run_usage(stderr);
			return CHECK_EXIT_USAGE;
		default:
			fprintf(stderr, "tlswatch-probe run: unknown argument \"%s\"\n", argv[optind - 1]);
			run_usage(stderr);
			return CHECK_EXIT_USAGE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "tlswatch-probe run: unexpected argument \"%s\"\n", argv[optind]);
		run_usage(stderr);
		return CHECK_EXIT_USAGE;
	}
	if (!o.config_path) {
		fprintf(stderr, "tlswatch-probe run: -c FILE is required\n");
		run_usage(stderr);
		return CHECK_EXIT_USAGE;
	}
	if (check_only)
		return check_config(o.config_path, o.testssl_db);
	return daemon_run(&o);
}
