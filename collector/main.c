/* main.c - tlswatch-collector: subcommand dispatch, `run` and `migrate`. */
#define _GNU_SOURCE      /* timegm */
#include "alerts.h"
#include "col_config.h"
#include "db.h"
#include "evaluator.h"
#include "notify.h"
#include "notify_config.h"
#include "http.h"
#include "ingest.h"
#include "log.h"
#include "slo_config.h"
#include "twtime.h"

#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <jansson.h>
#include <libpq-fe.h>

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
"  evaluate -c collector.yaml run one alert evaluation and print the SLO status\n"
"  maintenance create|list|delete -c collector.yaml\n"
"                             maintenance windows (suppress notifications)\n"
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
"/healthz, /readyz and /metrics. With an `alerting` section, it also takes part\n"
"in leader election for the alert evaluator: exactly one collector per database\n"
"evaluates the SLO burn-rate rules and the other alert rules every\n"
"alerting.evaluation_interval (see deploy/slos.example.yaml).\n"
"The database schema must have been applied\n"
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
	struct slo_config *slo = NULL;
	struct evaluator *ev = NULL;
	struct notifier *nt = NULL;

	if (parse_args(argc, argv, "run", true, run_usage, &path, &check_only, &rc) < 0)
		return rc;
	if (!(cfg = col_config_load(path, err, sizeof err)) ||
	    col_config_check_files(cfg, err, sizeof err) < 0) {
		fprintf(stderr, "%s\n", err);
		goto out;
	}
	if (cfg->alerting &&
	    !(slo = cfg->slo_file ? slo_config_load(cfg->slo_file, err, sizeof err)
				  : slo_config_new_default())) {
		fprintf(stderr, "%s\n", cfg->slo_file ? err : "out of memory");
		goto out;
	}
	ingest_opts_from(cfg, &io);
	if (check_only) {
		if (ingest_check_tls(&io, err, sizeof err) < 0) {
			fprintf(stderr, "%s: tls: %s\n", path, err);
			goto out;
		}
		if (cfg->notify_file && notify_config_check(cfg->notify_file, err, sizeof err) < 0) {
			fprintf(stderr, "%s\n", err);
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
	/* the notifier delivers outbox rows written by whichever collector
	 * evaluates; every collector runs one (leases keep it exactly-once) */
	if (cfg->notify_file &&
	    !(nt = notifier_new(base, cfg->db_conninfo, cfg->notify_file, err, sizeof err))) {
		fprintf(stderr, "%s\n", err);
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
	if (slo) {
		struct evaluator_opts eo = {
			.conninfo = cfg->db_conninfo, .cfg = slo,
			.interval_ms = cfg->evaluation_interval_ms,
			.collector_id = cfg->collector_id, .external_url = cfg->external_url,
			.retention_days = cfg->retention_days,
		};
		if (!(ev = evaluator_start(&eo, err, sizeof err))) {
			log_error("%s", err);
			goto out;
		}
		log_info("alert evaluator: %zu SLOs from %s, every %u ms, collector_id %s", slo->nslos,
			 cfg->slo_file ? cfg->slo_file : "(none)", cfg->evaluation_interval_ms,
			 cfg->collector_id);
	}
	if (http)
		http_srv_set_alerting(http, ev, nt);
	if (nt)
		log_info("notifier: delivering notifications per %s", cfg->notify_file);
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
	evaluator_stop(ev);             /* joins; its session ends, releasing the lock */
	for (int i = 0; i < 3; i++)
		if (sigs[i])
			event_free(sigs[i]);
	http_srv_free(http);
	ingest_free(ing);
	notifier_free(nt);
	db_pool_free(db);
	if (base)
		event_base_free(base);
	slo_config_free(slo);
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

/* ---- evaluate / maintenance ---- */

/* "2026-03-02T10:00:00Z", "...T10:00:00.250+02:00" or "now" -> Unix ms. */
static int parse_time(const char *s, int64_t *ms)
{
	if (!strcmp(s, "now")) {
		*ms = tw_wall_ms();
		return 0;
	}
	struct tm tm;
	memset(&tm, 0, sizeof tm);
	int n = 0;
	if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
		   &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &n) != 6 || n != 19)
		return -1;
	const char *p = s + n;
	long frac = 0;
	if (*p == '.') {
		int digits = 0;
		for (p++; isdigit((unsigned char)*p); p++, digits++)
			if (digits < 3)
				frac = frac * 10 + (*p - '0');
		if (digits == 0)
			return -1;
		for (; digits < 3; digits++)
			frac *= 10;
	}
	long off = 0;
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		int hh, mm, k = 0;
		if (sscanf(p + 1, "%2d:%2d%n", &hh, &mm, &k) != 2 || k != 5 || hh > 23 || mm > 59)
			return -1;
		off = (hh * 60L + mm) * 60L * (*p == '+' ? 1 : -1);
		p += 6;
	} else {
		return -1;
	}
	if (*p || tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 || tm.tm_mday > 31 ||
	    tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 60)
		return -1;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	time_t t = timegm(&tm);
	if (t == (time_t)-1)
		return -1;
	*ms = ((int64_t)t - off) * 1000 + frac;
	return 0;
}

static PGconn *eval_connect(const struct col_config *cfg, const char *cmd)
{
	char err[512];
	PGconn *c = PQconnectdb(cfg->db_conninfo);
	if (PQstatus(c) != CONNECTION_OK) {
		fprintf(stderr, "tlswatch-collector %s: database: %s", cmd, PQerrorMessage(c));
		PQfinish(c);
		return NULL;
	}
	if (evaluator_prepare_conn(c, err, sizeof err) < 0) {
		fprintf(stderr, "tlswatch-collector %s: database: %s\n", cmd, err);
		PQfinish(c);
		return NULL;
	}
	return c;
}

static void evaluate_usage(FILE *out)
{
	fprintf(out,
"usage: tlswatch-collector evaluate -c FILE [--now TIME] [--json] [--dry-run]\n"
"\n"
"  -c, --config FILE   collector configuration; uses database.conninfo,\n"
"                      retention_days and the alerting section (slo_file,\n"
"                      collector_id, external_url)\n"
"  --now TIME          evaluate as of TIME (RFC 3339, e.g. 2026-03-02T10:00:00Z;\n"
"                      default: now)\n"
"  --json              one JSON object per SLO (and region), then a summary line\n"
"  --dry-run           print the status only: change no alert, send nothing,\n"
"                      do not take the evaluator lock\n"
"\n"
"Runs one evaluation exactly as the leader collector does - every SLO's SLI,\n"
"error budget remaining and burn rate per window, every burn-rate rule and\n"
"the other alert rules - and applies the alert changes (recorded, with\n"
"notification outbox rows). It takes the evaluator's advisory lock first, so\n"
"it fails while a running collector is the leader (use --dry-run then).\n"
"Exit 0 on success, 1 when the database fails or the lock is held, 2 on a\n"
"usage or configuration error.\n");
}

static int evaluate_main(int argc, char **argv)
{
	const char *path = NULL, *now_s = NULL;
	bool json = false, dry = false;
	char err[1024];
	int rc = EXIT_USAGE;
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
			return EXIT_OK;
		} else {
			fprintf(stderr, "tlswatch-collector evaluate: unknown argument \"%s\" (see --help)\n",
				argv[i]);
			return EXIT_USAGE;
		}
	}
	if (!path) {
		fprintf(stderr, "tlswatch-collector evaluate: -c FILE is required (see --help)\n");
		return EXIT_USAGE;
	}
	int64_t now = tw_wall_ms();
	if (now_s && parse_time(now_s, &now) < 0) {
		fprintf(stderr, "tlswatch-collector evaluate: --now: expected an RFC 3339 time like "
			"2026-03-02T10:00:00Z, got \"%s\"\n", now_s);
		return EXIT_USAGE;
	}
	struct col_config *cfg = col_config_load(path, err, sizeof err);
	struct slo_config *slo = NULL;
	PGconn *c = NULL;
	if (!cfg) {
		fprintf(stderr, "%s\n", err);
		return EXIT_USAGE;
	}
	log_init("tlswatch-collector", (enum log_level)cfg->log_level, cfg->log_json);
	if (!(slo = cfg->slo_file ? slo_config_load(cfg->slo_file, err, sizeof err)
				  : slo_config_new_default())) {
		fprintf(stderr, "%s\n", cfg->slo_file ? err : "out of memory");
		goto out;
	}
	rc = EXIT_RUNTIME;
	if (!(c = eval_connect(cfg, "evaluate")))
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
	PGresult *r = PQexec(c, "SELECT coalesce(max(id), 0) FROM alert_events");
	long long last_event = PQresultStatus(r) == PGRES_TUPLES_OK
				       ? strtoll(PQgetvalue(r, 0, 0), NULL, 10) : 0;
	PQclear(r);
	struct evaluator_run_opts o = {
		.collector_id = cfg->collector_id, .generator_url = cfg->external_url,
		.retention_days = cfg->retention_days, .dry_run = dry, .status_out = stdout,
		.status_json = json,
	};
	struct evaluator_result res;
	if (evaluator_run_once(c, slo, now, &o, &res, err, sizeof err) < 0) {
		fprintf(stderr, "tlswatch-collector evaluate: %s\n", err);
		goto out;
	}
	/* the alert changes this evaluation made */
	char since[32];
	snprintf(since, sizeof since, "%lld", last_event);
	const char *p[1] = { since };
	r = PQexecParams(c, "SELECT a.dedup_key, a.severity, coalesce(e.from_state, '-'), e.to_state, "
			    "e.suppressed, a.summary FROM alert_events e JOIN alerts a ON a.id = e.alert_id "
			    "WHERE e.id > $1 ORDER BY e.id", 1, NULL, p, NULL, NULL, 0);
	json_t *changes = json_array();
	if (PQresultStatus(r) == PGRES_TUPLES_OK) {
		for (int i = 0; i < PQntuples(r); i++) {
			if (json)
				json_array_append_new(changes, json_pack(
					"{s:s, s:s, s:s, s:s, s:b, s:s}", "dedup_key", PQgetvalue(r, i, 0),
					"severity", PQgetvalue(r, i, 1), "from", PQgetvalue(r, i, 2),
					"to", PQgetvalue(r, i, 3), "suppressed",
					PQgetvalue(r, i, 4)[0] == 't', "summary", PQgetvalue(r, i, 5)));
			else
				printf("alert %s (%s): %s -> %s%s: %s\n", PQgetvalue(r, i, 0),
				       PQgetvalue(r, i, 1), PQgetvalue(r, i, 2), PQgetvalue(r, i, 3),
				       PQgetvalue(r, i, 4)[0] == 't' ? " (suppressed: maintenance)" : "",
				       PQgetvalue(r, i, 5));
		}
	}
	PQclear(r);
	char t[48];
	tw_rfc3339_ms(now, t, sizeof t);
	if (json) {
		json_t *j = json_pack("{s:s, s:b, s:I, s:I, s:i, s:i, s:f, s:o}", "eval_at", t,
				      "dry_run", dry, "slos", (json_int_t)res.slos, "series",
				      (json_int_t)res.series, "active_rules", res.active, "changes",
				      res.changes, "duration_ms", res.duration_ms, "alert_changes",
				      changes);
		char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
		if (s)
			printf("%s\n", s);
		free(s);
		json_decref(j);
	} else {
		json_decref(changes);
		printf("evaluated at %s%s: %zu SLO statuses over %zu series in %.1f ms; %d burn rules "
		       "active; %d alert changes\n", t, dry ? " (dry run)" : "", res.slos, res.series,
		       res.duration_ms, res.active, res.changes);
	}
	rc = EXIT_OK;
out:
	PQfinish(c);
	slo_config_free(slo);
	col_config_free(cfg);
	return rc;
}

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

static int maintenance_main(int argc, char **argv)
{
	const char *path = NULL, *verb = argc > 1 ? argv[1] : NULL;
	const char *start_s = NULL, *end_s = NULL, *dur_s = NULL, *id_s = NULL;
	struct maint_window w = { 0 };
	bool all = false, json = false;
	json_t *labels = NULL;
	char err[1024];
	int rc = EXIT_USAGE;
	struct col_config *cfg = NULL;
	PGconn *c = NULL;

	if (!verb || !strcmp(verb, "-h") || !strcmp(verb, "--help")) {
		maintenance_usage(verb ? stdout : stderr);
		return verb ? EXIT_OK : EXIT_USAGE;
	}
	if (strcmp(verb, "create") && strcmp(verb, "list") && strcmp(verb, "delete")) {
		fprintf(stderr, "tlswatch-collector maintenance: unknown action \"%s\" (create, list, "
			"delete)\n", verb);
		return EXIT_USAGE;
	}
	bool create = !strcmp(verb, "create"), list = !strcmp(verb, "list");
	for (int i = 2; i < argc; i++) {
		const char *a = argv[i];
		bool more = i + 1 < argc;
		if ((!strcmp(a, "-c") || !strcmp(a, "--config")) && more) {
			path = argv[++i];
		} else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			maintenance_usage(stdout);
			rc = EXIT_OK;
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
			if (!labels)
				labels = json_object();
			char key[256];
			snprintf(key, sizeof key, "%.*s", (int)(eq - kv), kv);
			json_object_set_new(labels, key, json_string(eq + 1));
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
		w.starts_ms = tw_wall_ms();
		if (start_s && parse_time(start_s, &w.starts_ms) < 0) {
			fprintf(stderr, "tlswatch-collector maintenance: --start: expected an RFC 3339 "
				"time like 2026-03-02T22:00:00Z or \"now\", got \"%s\"\n", start_s);
			goto out;
		}
		if (!!end_s == !!dur_s) {
			fprintf(stderr, "tlswatch-collector maintenance: give --end or --duration\n");
			goto out;
		}
		if (end_s && parse_time(end_s, &w.ends_ms) < 0) {
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
	rc = EXIT_RUNTIME;
	if (!(c = eval_connect(cfg, "maintenance")))
		goto out;
	if (create) {
		if (maint_create(c, &w, &id, err, sizeof err) < 0) {
			fprintf(stderr, "tlswatch-collector maintenance create: %s\n", err);
			goto out;
		}
		printf("%lld\n", (long long)id);
	} else if (list) {
		if (maint_list(c, tw_wall_ms(), all, json, stdout, err, sizeof err) < 0) {
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
	rc = EXIT_OK;
out:
	PQfinish(c);
	json_decref(labels);
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
	if (!strcmp(cmd, "evaluate"))
		return evaluate_main(argc - 1, argv + 1);
	if (!strcmp(cmd, "maintenance"))
		return maintenance_main(argc - 1, argv + 1);
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
