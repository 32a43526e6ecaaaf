/* main.c - tlswatch-collector: subcommand dispatch, `run` and `migrate`. */
#include "col_config.h"
#include "db.h"
#include "http.h"
#include "ingest.h"
#include "log.h"

#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#define TLSWATCH_COLLECTOR_VERSION "0.1.0"

enum { EXIT_OK = 0, EXIT_RUNTIME = 1, EXIT_USAGE = 2 };

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
"  version                    print the version\n");
}

static void run_usage(FILE *out)
{
	fprintf(out,
"usage: tlswatch-collector run -c FILE [--check-config]\n"
"\n"
"  -c, --config FILE   collector configuration (see deploy/collector.example.yaml)\n"
"  --check-config      validate FILE (syntax, types, TLS files and key mode) and exit:\n"
"                      0 valid, 2 invalid with the reason on stderr\n"
"\n"
"Listens for probes on `listen` (mutual TLS; a probe's id and region are the\n"
"CN and OU of its client certificate) and, when `http.listen` is set, serves\n"
"/healthz, /readyz and /metrics. The database schema must have been applied\n"
"with `tlswatch-collector migrate`; until the database is reachable and\n"
"migrated, /readyz answers 503 and probes are held back (they keep spooling).\n"
"\n"
"Signals: SIGTERM or SIGINT stop accepting, let batches already received\n"
"commit and be acked (at most limits.shutdown_timeout), then exit 0; a second\n"
"one exits at once. SIGHUP does not reload the configuration (restart to\n"
"apply changes); it only logs that. Logs go to stderr.\n"
"\n"
"Exit status: 0 after a clean shutdown, 1 on a runtime failure (cannot bind),\n"
"2 on a usage or configuration error.\n");
}

static void migrate_usage(FILE *out)
{
	fprintf(out,
"usage: tlswatch-collector migrate -c FILE\n"
"\n"
"  -c, --config FILE   collector configuration; uses database.conninfo,\n"
"                      retention_days and partitions_ahead_days\n"
"\n"
"Applies the embedded sql/NNN_*.sql migrations not yet recorded in\n"
"schema_migrations, in order, each in its own transaction, then creates the\n"
"results partitions from today - retention_days to today + partitions_ahead_days\n"
"and drops older ones. Safe to run again. Exit 0 on success, 1 when the\n"
"database fails, 2 on a usage or configuration error.\n");
}

/* -c FILE [--check-config] [-h]. Returns -1 to exit with *rc. */
static int parse_args(int argc, char **argv, const char *cmd, bool allow_check,
		      void (*help)(FILE *), const char **path, bool *check_only, int *rc)
{
	*path = NULL;
	for (int i = 1; i < argc; i++) {
		if ((!strcmp(argv[i], "-c") || !strcmp(argv[i], "--config")) && i + 1 < argc) {
			*path = argv[++i];
		} else if (allow_check && !strcmp(argv[i], "--check-config")) {
			*check_only = true;
		} else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			help(stdout);
			*rc = EXIT_OK;
			return -1;
		} else {
			fprintf(stderr, "tlswatch-collector %s: unknown argument \"%s\" (see --help)\n",
				cmd, argv[i]);
			*rc = EXIT_USAGE;
			return -1;
		}
	}
	if (!*path) {
		fprintf(stderr, "tlswatch-collector %s: -c FILE is required (see --help)\n", cmd);
		*rc = EXIT_USAGE;
		return -1;
	}
	return 0;
}

/* ---- run ---- */

struct run_ctx {
	struct event_base *base;
	struct ingest *ing;
	unsigned shutdown_timeout_ms;
	bool stopping;
};

static void shutdown_done(void *arg)
{
	struct run_ctx *rc = arg;
	log_info("shutdown complete");
	event_base_loopexit(rc->base, NULL);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct run_ctx *rc = arg;
	if (sig == SIGHUP) {
		log_info("SIGHUP: the collector does not reload its configuration; restart it to "
			 "apply changes");
		return;
	}
	if (rc->stopping) {
		log_warn("second %s: exiting now", sig == SIGINT ? "SIGINT" : "SIGTERM");
		event_base_loopbreak(rc->base);
		return;
	}
	rc->stopping = true;
	log_info("%s: stopping: no new connections; waiting up to %u ms for batches in flight",
		 sig == SIGINT ? "SIGINT" : "SIGTERM", rc->shutdown_timeout_ms);
	ingest_shutdown(rc->ing, rc->shutdown_timeout_ms, shutdown_done, rc);
}

static void ingest_opts_from(const struct col_config *cfg, struct ingest_opts *o)
{
	memset(o, 0, sizeof *o);
	o->host = cfg->listen_host;
	o->port = cfg->listen_port;
	o->ca_file = cfg->ca_file;
	o->cert_file = cfg->cert_file;
	o->key_file = cfg->key_file;
	o->max_frame = (size_t)cfg->max_frame;
	o->max_connections = cfg->max_connections;
	o->handshake_timeout_ms = cfg->handshake_timeout_ms;
	o->hello_timeout_ms = cfg->hello_timeout_ms;
	o->idle_timeout_ms = cfg->idle_timeout_ms;
	o->max_pending_rows = (size_t)cfg->max_pending_rows;
}

static int run_main(int argc, char **argv)
{
	const char *path;
	bool check_only = false;
	int rc = EXIT_USAGE;
	char err[1024];
	struct col_config *cfg = NULL;
	struct event_base *base = NULL;
	struct db_pool *db = NULL;
	struct ingest *ing = NULL;
	struct http_srv *http = NULL;
	struct event *sigs[3] = { NULL, NULL, NULL };
	struct ingest_opts io;

	if (parse_args(argc, argv, "run", true, run_usage, &path, &check_only, &rc) < 0)
		return rc;
	if (!(cfg = col_config_load(path, err, sizeof err)) ||
	    col_config_check_files(cfg, err, sizeof err) < 0) {
		fprintf(stderr, "%s\n", err);
		goto out;
	}
	ingest_opts_from(cfg, &io);
	if (check_only) {
		if (ingest_check_tls(&io, err, sizeof err) < 0) {
			fprintf(stderr, "%s: tls: %s\n", path, err);
			goto out;
		}
		printf("%s: valid: listen %s%s%s, database connections %u, max_frame %llu\n", path,
		       cfg->listen, cfg->http_listen ? ", http " : "",
		       cfg->http_listen ? cfg->http_listen : "", cfg->db_connections,
		       (unsigned long long)cfg->max_frame);
		rc = EXIT_OK;
		goto out;
	}
	log_init("tlswatch-collector", (enum log_level)cfg->log_level, cfg->log_json);

	rc = EXIT_RUNTIME;
	if (!(base = event_base_new())) {
		log_error("cannot create the event loop");
		goto out;
	}
	struct db_opts dbo = {
		.conninfo = cfg->db_conninfo,
		.connections = cfg->db_connections,
		.queue_max_rows = (size_t)cfg->db_queue_max_rows,
		.retention_days = cfg->retention_days,
		.partitions_ahead_days = cfg->partitions_ahead_days,
	};
	if (!(db = db_pool_new(base, &dbo, err, sizeof err))) {
		fprintf(stderr, "%s: database: %s\n", path, err);
		rc = EXIT_USAGE;
		goto out;
	}
	bool bind_failed = false;
	if (!(ing = ingest_new(base, db, &io, &bind_failed, err, sizeof err))) {
		if (bind_failed) {
			log_error("%s", err);
		} else {
			fprintf(stderr, "%s: tls: %s\n", path, err);
			rc = EXIT_USAGE;
		}
		goto out;
	}
	if (cfg->http_listen &&
	    !(http = http_srv_new(base, cfg->http_host, cfg->http_port, ing, db, err, sizeof err))) {
		log_error("%s", err);
		goto out;
	}
	struct run_ctx ctx = { .base = base, .ing = ing,
			       .shutdown_timeout_ms = cfg->shutdown_timeout_ms };
	const int signums[3] = { SIGTERM, SIGINT, SIGHUP };
	for (int i = 0; i < 3; i++) {
		sigs[i] = evsignal_new(base, signums[i], on_signal, &ctx);
		if (!sigs[i] || evsignal_add(sigs[i], NULL) != 0) {
			log_error("cannot install signal handlers");
			goto out;
		}
	}
	log_info("tlswatch-collector %s listening for probes on %s (port %u)%s%s%s; "
		 "database connections %u", TLSWATCH_COLLECTOR_VERSION, cfg->listen,
		 ingest_port(ing), http ? ", HTTP on " : "", http ? cfg->http_listen : "",
		 http ? "" : " (no HTTP)", cfg->db_connections);
	if (event_base_dispatch(base) < 0) {
		log_error("event loop failed");
		goto out;
	}
	rc = EXIT_OK;
out:
	for (int i = 0; i < 3; i++)
		if (sigs[i])
			event_free(sigs[i]);
	http_srv_free(http);
	ingest_free(ing);
	db_pool_free(db);
	if (base)
		event_base_free(base);
	col_config_free(cfg);
	return rc;
}

/* ---- migrate ---- */

static int migrate_main(int argc, char **argv)
{
	const char *path;
	bool unused = false;
	int rc = EXIT_USAGE;
	char err[1024];
	if (parse_args(argc, argv, "migrate", false, migrate_usage, &path, &unused, &rc) < 0)
		return rc;
	struct col_config *cfg = col_config_load(path, err, sizeof err);
	if (!cfg) {
		fprintf(stderr, "%s\n", err);
		return EXIT_USAGE;
	}
	log_init("tlswatch-collector", (enum log_level)cfg->log_level, cfg->log_json);
	rc = EXIT_RUNTIME;
	int n = db_migrate(cfg->db_conninfo, err, sizeof err);
	if (n < 0) {
		fprintf(stderr, "tlswatch-collector migrate: %s\n", err);
		goto out;
	}
	if (db_maintain_partitions(cfg->db_conninfo, cfg->retention_days,
				   cfg->partitions_ahead_days, err, sizeof err) < 0) {
		fprintf(stderr, "tlswatch-collector migrate: partitions: %s\n", err);
		goto out;
	}
	printf("migrate: %d migration%s applied; partitions cover %u days back and %u ahead\n",
	       n, n == 1 ? "" : "s", cfg->retention_days, cfg->partitions_ahead_days);
	rc = EXIT_OK;
out:
	col_config_free(cfg);
	return rc;
}

int main(int argc, char **argv)
{
	log_init("tlswatch-collector", TWLOG_INFO, false);
	/* a peer closing mid-write must be an error return, not a signal */
	signal(SIGPIPE, SIG_IGN);
	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	const char *cmd = argv[1];
	if (!strcmp(cmd, "run"))
		return run_main(argc - 1, argv + 1);
	if (!strcmp(cmd, "migrate"))
		return migrate_main(argc - 1, argv + 1);
	if (!strcmp(cmd, "version") || !strcmp(cmd, "--version")) {
		if (argc > 2 && (!strcmp(argv[2], "-h") || !strcmp(argv[2], "--help"))) {
			printf("usage: tlswatch-collector version\n\nPrints the version and exits 0.\n");
			return EXIT_OK;
		}
		printf("tlswatch-collector %s\n", TLSWATCH_COLLECTOR_VERSION);
		return EXIT_OK;
	}
	if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help") || !strcmp(cmd, "help")) {
		usage(stdout);
		return EXIT_OK;
	}
	fprintf(stderr, "tlswatch-collector: unknown command \"%s\"\n", cmd);
	usage(stderr);
	return EXIT_USAGE;
}
