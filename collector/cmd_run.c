/*
 * cmd_run.c - `tlswatch-collector run -c collector.yaml`: the daemon. Loads
 * and checks the configuration (--check-config stops there), then wires the
 * event loop: the PostgreSQL pool (db.h), the probe listener (ingest.h), the
 * HTTP server (http.h), the notifier (notify.h) and, with an `alerting`
 * section, the leader-elected evaluator thread (evaluator.h). Signals:
 * SIGTERM/SIGINT drain (a second one exits at once), SIGHUP only logs.
 *
 * Ownership: cmd_run_main owns every object it creates and frees them in
 * reverse order at its one exit label.
 */
#include "cmd.h"
#include "col_config.h"
#include "db.h"
#include "evaluator.h"
#include "http.h"
#include "api.h"
#include "ingest.h"
#include "log.h"
#include "metrics.h"
#include "notify.h"
#include "notify_config.h"
#include "report_sched.h"
#include "sdnotify.h"
#include "slo_config.h"

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

#include <curl/curl.h>
#include <event2/event.h>

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

/* What the signal handler needs; lives on cmd_run_main's stack. */
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
	if (sdnotify_stopping() < 0)
		log_warn("systemd notify (STOPPING): %s", strerror(errno));
	log_info("%s: stopping: no new connections; waiting up to %u ms for batches in flight",
		 sig == SIGINT ? "SIGINT" : "SIGTERM", rc->shutdown_timeout_ms);
	ingest_shutdown(rc->ing, rc->shutdown_timeout_ms, shutdown_done, rc);
}

/*
 * Raises the soft descriptor limit to the hard one and returns it
 * (RLIM_INFINITY as UINT64_MAX). Every probe connection costs a descriptor;
 * at the limit accept() fails, so the limit is what max_connections must fit.
 */
static unsigned long long raise_nofile(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return UINT64_MAX;
	if (rl.rlim_cur < rl.rlim_max) {
		struct rlimit want = { rl.rlim_max, rl.rlim_max };
		if (setrlimit(RLIMIT_NOFILE, &want) == 0)
			rl = want;
		else
			log_warn("cannot raise the open-file limit from %llu to %llu: %s",
				 (unsigned long long)rl.rlim_cur, (unsigned long long)rl.rlim_max,
				 strerror(errno));
	}
	return rl.rlim_cur == RLIM_INFINITY ? UINT64_MAX : (unsigned long long)rl.rlim_cur;
}

/* Descriptors kept out of max_connections: the PostgreSQL pool, the
 * metrics and evaluator sessions, the notifier's HTTP requests, the HTTP
 * server's clients, logs and configuration files. */
#define NOFILE_RESERVE 64u

/* max_connections within the descriptor limit, so probes can never take
 * the descriptors /healthz, PostgreSQL and the files need. */
static void clamp_connections(struct ingest_opts *o, unsigned db_connections,
			      unsigned long long nofile)
{
	unsigned long long reserve = NOFILE_RESERVE + db_connections;
	unsigned long long room = nofile > reserve * 2 ? nofile - reserve : nofile / 2;
	if (room < 1)
		room = 1;
	if (!o->max_connections)
		o->max_connections = 10000;  /* ingest.h's default, made explicit to clamp it */
	if (o->max_connections > room) {
		log_warn("limits.max_connections lowered from %u to %llu: the open-file limit is "
			 "%llu and %llu descriptors are kept for PostgreSQL, HTTP and files "
			 "(raise `ulimit -n` / LimitNOFILE)", o->max_connections, room, nofile,
			 nofile - room);
		o->max_connections = (unsigned)room;
	}
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
	o->max_conn_bytes = (size_t)cfg->max_connection_bytes;
	o->max_total_bytes = (size_t)cfg->max_buffered_bytes;
}

int cmd_run_main(int argc, char **argv)
{
	const char *path;
	bool check_only = false;
	int rc = CMD_EXIT_USAGE;
	char err[1024];
	struct col_config *cfg = NULL;
	struct event_base *base = NULL;
	struct db_pool *db = NULL;
	struct ingest *ing = NULL;
	struct http_srv *http = NULL;
	struct event *sigs[3] = { NULL, NULL, NULL };
	struct sdnotify_watchdog *wd = NULL;
	struct ingest_opts io;
	struct slo_config *slo = NULL;
	struct evaluator *ev = NULL;
	struct notifier *nt = NULL;
	struct metrics *mx = NULL;
	bool curl_up = false;

	if (cmd_parse_config_args(argc, argv, "run", true, run_usage, &path, &check_only, &rc) < 0)
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
		rc = CMD_EXIT_OK;
		goto out;
	}
	log_init("tlswatch-collector", (enum log_level)cfg->log_level, cfg->log_json);
	clamp_connections(&io, cfg->db_connections, raise_nofile());
	/* report deliveries use libcurl on the evaluator thread; its global
	 * init is not thread-safe, so it happens here, before any thread */
	if (cfg->reports && !(curl_up = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK)) {
		log_error("cannot initialise libcurl (report delivery)");
		goto out;
	}

	rc = CMD_EXIT_RUNTIME;
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
		rc = CMD_EXIT_USAGE;
		goto out;
	}
	/* the notifier delivers outbox rows written by whichever collector
	 * evaluates; every collector runs one (leases keep it exactly-once) */
	if (cfg->notify_file &&
	    !(nt = notify_new(base, cfg->db_conninfo, cfg->notify_file, err, sizeof err))) {
		fprintf(stderr, "%s\n", err);
		rc = CMD_EXIT_USAGE;
		goto out;
	}
	bool bind_failed = false;
	if (!(ing = ingest_new(base, db, &io, &bind_failed, err, sizeof err))) {
		if (bind_failed) {
			log_error("%s", err);
		} else {
			fprintf(stderr, "%s: tls: %s\n", path, err);
			rc = CMD_EXIT_USAGE;
		}
		goto out;
	}
	if (cfg->http_listen &&
	    !(http = http_srv_new(base, cfg->http_host, cfg->http_port, ing, db, err, sizeof err))) {
		log_error("%s", err);
		goto out;
	}
	if (http && cfg->http_api.tls_cert_file &&
	    http_srv_set_tls(http, cfg->http_api.tls_cert_file, cfg->http_api.tls_key_file, err,
			     sizeof err) < 0) {
		fprintf(stderr, "%s: %s\n", path, err);
		rc = CMD_EXIT_USAGE;
		goto out;
	}
	/* the JSON API: reads through its own store session (api.h) */
	if (http) {
		struct api_opts ao = { .conninfo = cfg->db_conninfo,
				       .token_file = cfg->http_api.token_file,
				       .read_token_file = cfg->http_api.read_token_file,
				       .slo = slo, .minute_retention_days = cfg->retention.rollup_1m };
		struct api *api = api_new(base, &ao, err, sizeof err);
		if (!api) {
			fprintf(stderr, "%s: %s\n", path, err);
			rc = CMD_EXIT_USAGE;
			goto out;
		}
		http_srv_set_api(http, api);
	}
	/* the per-target series of /metrics: a snapshot refreshed on the loop
	 * from its own database session, so a scrape never waits for a query */
	if (http) {
		struct metrics_opts mo = { .conninfo = cfg->db_conninfo,
					   .refresh_ms = cfg->metrics_refresh_ms,
					   .max_series = cfg->metrics_max_series };
		if (!(mx = metrics_new(base, &mo, err, sizeof err))) {
			log_error("%s", err);
			goto out;
		}
		http_srv_set_metrics(http, mx);
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
	/* The leader-elected thread runs even without an alerting section: it
	 * builds rollup_1m, rollup_1h and rollup_1d (sql/020, 016, 013), which
	 * readers otherwise sum from results and minutes ever longer, and
	 * results' retention waits for. */
	struct evaluator_opts eo = {
		.conninfo = cfg->db_conninfo, .cfg = slo,
		.interval_ms = cfg->evaluation_interval_ms,
		.collector_id = cfg->collector_id, .external_url = cfg->external_url,
		.retention_days = cfg->retention.rollup_1m,
		.leader_hook = report_sched_hook, .leader_hook_arg = cfg,
	};
	if (!(ev = evaluator_start(&eo, err, sizeof err))) {
		log_error("%s", err);
		goto out;
	}
	if (slo)
		log_info("alert evaluator: %zu SLOs from %s, every %u ms, collector_id %s", slo->nslos,
			 cfg->slo_file ? cfg->slo_file : "(none)", cfg->evaluation_interval_ms,
			 cfg->collector_id);
	else
		log_info("rollup builder: leader-elected, every %u ms, collector_id %s (no alerting "
			 "section: no rules evaluated)", cfg->evaluation_interval_ms, cfg->collector_id);
	if (http)
		http_srv_set_alerting(http, slo ? ev : NULL, nt);
	if (nt)
		log_info("notifier: delivering notifications per %s", cfg->notify_file);
	log_info("tlswatch-collector %s listening for probes on %s (port %u)%s%s%s; "
		 "database connections %u", CMD_COLLECTOR_VERSION, cfg->listen,
		 ingest_port(ing), http ? ", HTTP on " : "", http ? cfg->http_listen : "",
		 http ? "" : " (no HTTP)", cfg->db_connections);
	/* systemd Type=notify: ready once listening; the watchdog pings from the
	 * loop, so they stop exactly when the loop stops turning */
	const char *werr = NULL;
	if (!(wd = sdnotify_watchdog_start(base, &werr)) && werr)
		log_warn("systemd watchdog: %s", werr);
	if (sdnotify_ready("listening for probes") < 0)
		log_warn("systemd notify (READY): %s", strerror(errno));
	if (event_base_dispatch(base) < 0) {
		log_error("event loop failed");
		goto out;
	}
	rc = CMD_EXIT_OK;
out:
	sdnotify_watchdog_free(wd);
	evaluator_stop(ev);             /* joins; its session ends, releasing the lock */
	for (int i = 0; i < 3; i++)
		if (sigs[i])
			event_free(sigs[i]);
	http_srv_free(http);
	metrics_free(mx);
	ingest_free(ing);
	notify_free(nt);
	db_pool_free(db);
	if (base)
		event_base_free(base);
	slo_config_free(slo);
	col_config_free(cfg);
	if (curl_up)
		curl_global_cleanup();
	return rc;
}

