/*
 * col_config.c - loads collector.yaml (see col_config.h and
 * deploy/collector.example.yaml).
 *
 * common/yamlcfg.c loads the document and provides the walker shared by
 * every loader (so all report errors the same way); this file is the
 * collector.yaml schema: we walk the tree once copying what we keep into a
 * fresh struct col_config, and stop at the first error, which names
 * file:line:column.
 */
#define _GNU_SOURCE     /* explicit_bzero */
#include "col_config.h"
#include "col_config_reports.h"
#include "log.h"
#include "tlsutil.h"
#include "yamlcfg.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define COL_CONFIG_MAX_FILE (1u * 1024 * 1024)

static struct col_config_pos pos_of(const yaml_node_t *n)
{
	struct col_config_pos p = { (unsigned)n->start_mark.line + 1,
				(unsigned)n->start_mark.column + 1 };
	return p;
}

/* ---- collector sections ---- */

static const char *const TOP_KEYS[] = { "listen", "tls", "http", "database", "retention",
					"retention_days", "partitions_ahead_days", "limits", "log",
					"alerting", "reports", NULL };
static const char *const RETENTION_KEYS[] = { "results", "rollup_1m", "rollup_1h", "alert_events",
					      "notifications", "evaluation_runs",
					      "certificate_sightings", NULL };
static const char *const TLS_KEYS[] = { "ca_file", "cert_file", "key_file", NULL };
static const char *const HTTP_KEYS[] = { "listen", "metrics_refresh", "metrics_max_series",
					"token_file", "read_token_file", "tls", NULL };
static const char *const DB_KEYS[] = { "conninfo", "connections", "queue_max_rows", NULL };
static const char *const LIMITS_KEYS[] = { "max_frame", "max_connections", "idle_timeout",
					   "handshake_timeout", "hello_timeout",
					   "shutdown_timeout", "max_pending_rows", NULL };
static const char *const LOG_KEYS[] = { "level", "json", NULL };
static const char *const ALERTING_KEYS[] = { "slo_file", "evaluation_interval", "collector_id",
					     "external_url", "notify_file", NULL };

#define MIN_FRAME          1024u
#define MAX_FRAME          (64u * 1024 * 1024)
#define MAX_CONNECTIONS    1000000
#define MAX_DB_CONNECTIONS 64
#define MAX_ROWS           100000000ull

/* HOST:PORT (port required) at node v; *text, *host, *port are set. */
static int get_hostport(struct yc *yc, yaml_node_t *v, const char *ctx, char **text,
			char **host, unsigned *port)
{
	if (yamlcfg_copy_string(yc, v, ctx, text) < 0)
		return -1;
	int r = yamlcfg_split_hostport(*text, host, port, 0);
	if (r == -2)
		return yamlcfg_oom(yc);
	if (r < 0)
		return YC_ERRN(yc, v, ctx, "expected HOST:PORT or [IPV6]:PORT with a port "
			       "1-65535, got \"%.64s\"", *text);
	return 0;
}

static int get_size(struct yc *yc, yaml_node_t *v, const char *ctx, uint64_t min, uint64_t max,
		    uint64_t *out)
{
	const char *s = yamlcfg_want_scalar(yc, v, ctx, true);
	uint64_t x;
	if (!s)
		return -1;
	if (yamlcfg_parse_size(s, &x) < 0)
		return YC_ERRN(yc, v, ctx, "expected a size like 65536, 512KiB or 4MiB, got \"%.64s\"",
			       s);
	if (x < min || x > max)
		return YC_ERRN(yc, v, ctx, "expected a size from %llu to %llu bytes, got \"%.64s\"",
			       (unsigned long long)min, (unsigned long long)max, s);
	*out = x;
	return 0;
}

/* A required file name; remembers where it was written. */
static int get_file(struct yc *yc, yaml_node_t *m, const char *key, const char *ctx,
		    char **out, struct col_config_pos *pos)
{
	if (yamlcfg_req_string(yc, m, key, ctx, out) < 0)
		return -1;
	*pos = pos_of(yamlcfg_get(yc, m, key, NULL));
	return 0;
}

static int parse_tls(struct yc *yc, yaml_node_t *root, struct col_config *cfg)
{
	yaml_node_t *m = yamlcfg_need(yc, root, "tls", "");
	if (!m || yamlcfg_check_keys(yc, m, "tls", TLS_KEYS) < 0)
		return -1;
	if (get_file(yc, m, "ca_file", "tls", &cfg->ca_file, &cfg->ca_pos) < 0 ||
	    get_file(yc, m, "cert_file", "tls", &cfg->cert_file, &cfg->cert_pos) < 0 ||
	    get_file(yc, m, "key_file", "tls", &cfg->key_file, &cfg->key_pos) < 0)
		return -1;
	return 0;
}

static int parse_http(struct yc *yc, yaml_node_t *root, struct col_config *cfg)
{
	yaml_node_t *m = yamlcfg_get(yc, root, "http", NULL);
	if (!m)
		return 0;
	if (yamlcfg_check_keys(yc, m, "http", HTTP_KEYS) < 0)
		return -1;
	yaml_node_t *v;
	if ((v = yamlcfg_get(yc, m, "metrics_refresh", NULL)) &&
	    yamlcfg_duration(yc, v, "http.metrics_refresh", 1000, &cfg->metrics_refresh_ms) < 0)
		return -1;
	if ((v = yamlcfg_get(yc, m, "metrics_max_series", NULL)) &&
	    yamlcfg_uint(yc, v, "http.metrics_max_series", 1, 1000000, &cfg->metrics_max_series) < 0)
		return -1;
	if (col_config_http_parse(yc, m, &cfg->http_api) < 0)
		return -1;
	if (!(v = yamlcfg_need(yc, m, "listen", "http")))
		return -1;
	return get_hostport(yc, v, "http.listen", &cfg->http_listen, &cfg->http_host,
			    &cfg->http_port);
}

static int parse_database(struct yc *yc, yaml_node_t *root, struct col_config *cfg)
{
	yaml_node_t *m = yamlcfg_need(yc, root, "database", ""), *v;
	if (!m || yamlcfg_check_keys(yc, m, "database", DB_KEYS) < 0)
		return -1;
	if (yamlcfg_req_string(yc, m, "conninfo", "database", &cfg->db_conninfo) < 0)
		return -1;
	/* the document's copy of the conninfo (it may hold a password) goes
	 * with the document; wipe it now that we have ours */
	yaml_node_t *ci = yamlcfg_get(yc, m, "conninfo", NULL);
	if (ci && ci->type == YAML_SCALAR_NODE)
		explicit_bzero(ci->data.scalar.value, ci->data.scalar.length);
	if ((v = yamlcfg_get(yc, m, "connections", NULL)) &&
	    yamlcfg_uint(yc, v, "database.connections", 1, MAX_DB_CONNECTIONS, &cfg->db_connections) < 0)
		return -1;
	if ((v = yamlcfg_get(yc, m, "queue_max_rows", NULL)) &&
	    yamlcfg_u64(yc, v, "database.queue_max_rows", 1, MAX_ROWS, &cfg->db_queue_max_rows) < 0)
		return -1;
	return 0;
}

static int parse_limits(struct yc *yc, yaml_node_t *root, struct col_config *cfg)
{
	yaml_node_t *m = yamlcfg_get(yc, root, "limits", NULL), *v;
	if (!m)
		return 0;
	if (yamlcfg_check_keys(yc, m, "limits", LIMITS_KEYS) < 0)
		return -1;
	if ((v = yamlcfg_get(yc, m, "max_frame", NULL)) &&
	    get_size(yc, v, "limits.max_frame", MIN_FRAME, MAX_FRAME, &cfg->max_frame) < 0)
		return -1;
	if ((v = yamlcfg_get(yc, m, "max_connections", NULL)) &&
	    yamlcfg_uint(yc, v, "limits.max_connections", 1, MAX_CONNECTIONS,
		    &cfg->max_connections) < 0)
		return -1;
	if ((v = yamlcfg_get(yc, m, "idle_timeout", NULL)) &&
	    yamlcfg_duration(yc, v, "limits.idle_timeout", 1000, &cfg->idle_timeout_ms) < 0)
		return -1;
	if ((v = yamlcfg_get(yc, m, "handshake_timeout", NULL)) &&
	    yamlcfg_duration(yc, v, "limits.handshake_timeout", 100, &cfg->handshake_timeout_ms) < 0)
		return -1;
	if ((v = yamlcfg_get(yc, m, "hello_timeout", NULL)) &&
	    yamlcfg_duration(yc, v, "limits.hello_timeout", 100, &cfg->hello_timeout_ms) < 0)
		return -1;
	if ((v = yamlcfg_get(yc, m, "shutdown_timeout", NULL)) &&
	    yamlcfg_duration(yc, v, "limits.shutdown_timeout", 0, &cfg->shutdown_timeout_ms) < 0)
		return -1;
	if ((v = yamlcfg_get(yc, m, "max_pending_rows", NULL)) &&
	    yamlcfg_u64(yc, v, "limits.max_pending_rows", 1, MAX_ROWS, &cfg->max_pending_rows) < 0)
		return -1;
	return 0;
}

static int parse_log(struct yc *yc, yaml_node_t *root, struct col_config *cfg)
{
	yaml_node_t *m = yamlcfg_get(yc, root, "log", NULL), *v;
	if (!m)
		return 0;
	if (yamlcfg_check_keys(yc, m, "log", LOG_KEYS) < 0)
		return -1;
	if ((v = yamlcfg_get(yc, m, "level", NULL))) {
		const char *s = yamlcfg_want_scalar(yc, v, "log.level", false);
		if (!s)
			return -1;
		int lvl = log_level_parse(s);
		if (lvl < 0)
			return YC_ERRN(yc, v, "log.level", "expected one of error, warn, info, debug, "
				       "got \"%.64s\"", s);
		cfg->log_level = lvl;
	}
	if ((v = yamlcfg_get(yc, m, "json", NULL)) && yamlcfg_bool(yc, v, "log.json", &cfg->log_json) < 0)
		return -1;
	return 0;
}

static int parse_alerting(struct yc *yc, yaml_node_t *root, struct col_config *cfg)
{
	yaml_node_t *m = yamlcfg_get(yc, root, "alerting", NULL), *v;
	if (!m)
		return 0;
	/* "alerting:" alone (null) turns the evaluator on with every default */
	if (m->type == YAML_SCALAR_NODE && m->data.scalar.length == 0 &&
	    m->data.scalar.style == YAML_PLAIN_SCALAR_STYLE) {
		cfg->alerting = true;
		goto id;
	}
	if (yamlcfg_check_keys(yc, m, "alerting", ALERTING_KEYS) < 0)
		return -1;
	cfg->alerting = true;
	if ((v = yamlcfg_get(yc, m, "slo_file", NULL))) {
		if (yamlcfg_copy_string(yc, v, "alerting.slo_file", &cfg->slo_file) < 0)
			return -1;
		cfg->slo_pos = pos_of(v);
	}
	if ((v = yamlcfg_get(yc, m, "notify_file", NULL))) {
		if (yamlcfg_copy_string(yc, v, "alerting.notify_file", &cfg->notify_file) < 0)
			return -1;
		cfg->notify_pos = pos_of(v);
	}
	if ((v = yamlcfg_get(yc, m, "evaluation_interval", NULL))) {
		if (yamlcfg_duration(yc, v, "alerting.evaluation_interval", 1000,
				&cfg->evaluation_interval_ms) < 0)
			return -1;
		if (cfg->evaluation_interval_ms > 3600000)
			return YC_ERRN(yc, v, "alerting.evaluation_interval",
				       "expected a duration of at most 1h, got \"%.64s\"",
				       (const char *)v->data.scalar.value);
	}
	if (yamlcfg_opt_string(yc, m, "collector_id", "alerting", &cfg->collector_id) < 0)
		return -1;
	if ((v = yamlcfg_get(yc, m, "external_url", NULL))) {
		if (yamlcfg_copy_string(yc, v, "alerting.external_url", &cfg->external_url) < 0)
			return -1;
		if (strncmp(cfg->external_url, "http://", 7) && strncmp(cfg->external_url, "https://", 8))
			return YC_ERRN(yc, v, "alerting.external_url",
				       "expected an http:// or https:// URL, got \"%.64s\"",
				       cfg->external_url);
	}
id:
	if (!cfg->collector_id) {
		char host[256];
		if (gethostname(host, sizeof host) != 0)
			snprintf(host, sizeof host, "collector");
		host[sizeof host - 1] = '\0';
		char id[300];
		snprintf(id, sizeof id, "%s:%ld", host, (long)getpid());
		if (!(cfg->collector_id = strdup(id)))
			return yamlcfg_oom(yc);
	}
	return 0;
}

/* retention: (optional) per-table days; retention_days is the old name of
 * retention.results (both at once is an error). */
static int parse_retention(struct yc *yc, yaml_node_t *root, struct col_config *cfg)
{
	static const struct {
		const char *key;
		size_t off;
	} days[] = {
#define F(k) { #k, offsetof(struct db_schema_retention, k) }
		F(results), F(rollup_1m), F(rollup_1h), F(alert_events), F(notifications),
		F(evaluation_runs), F(certificate_sightings),
#undef F
	};
	yaml_node_t *m = yamlcfg_get(yc, root, "retention", NULL), *v, *old;
	if ((old = yamlcfg_get(yc, root, "retention_days", NULL)) &&
	    yamlcfg_uint(yc, old, "retention_days", 1, DB_SCHEMA_RETENTION_MAX_DAYS,
		    &cfg->retention.results) < 0)
		return -1;
	if (m) {
		if (yamlcfg_check_keys(yc, m, "retention", RETENTION_KEYS) < 0)
			return -1;
		for (size_t i = 0; i < sizeof days / sizeof days[0]; i++) {
			char ctx[64];
			if (!(v = yamlcfg_get(yc, m, days[i].key, NULL)))
				continue;
			if (old && !strcmp(days[i].key, "results"))
				return YC_ERRN(yc, v, "retention.results", "retention_days (line %u) "
					       "says the same: give one of them",
					       (unsigned)old->start_mark.line + 1);
			yamlcfg_subctx(ctx, sizeof ctx, "retention", days[i].key);
			if (yamlcfg_uint(yc, v, ctx, 1, DB_SCHEMA_RETENTION_MAX_DAYS,
				    (unsigned *)((char *)&cfg->retention + days[i].off)) < 0)
				return -1;
		}
	}
	db_schema_retention_defaults(&cfg->retention);
	/* SLO windows longer than rollup_1m's retention read rollup_1h (sli.h) */
	if (m && cfg->retention.rollup_1h < cfg->retention.rollup_1m) {
		yaml_node_t *h = yamlcfg_get(yc, m, "rollup_1h", NULL);
		return YC_ERRN(yc, h ? h : yamlcfg_get(yc, m, "rollup_1m", NULL),
			       h ? "retention.rollup_1h" : "retention.rollup_1m",
			       "rollup_1h (%u days) must be kept at least as long as rollup_1m (%u "
			       "days): SLO windows beyond rollup_1m read rollup_1h",
			       cfg->retention.rollup_1h, cfg->retention.rollup_1m);
	}
	cfg->retention_days = cfg->retention.results;
	return 0;
}

static void set_defaults(struct col_config *cfg)
{
	cfg->db_connections = 4;
	cfg->metrics_refresh_ms = 15000;
	cfg->metrics_max_series = 10000;
	cfg->db_queue_max_rows = 50000;
	cfg->partitions_ahead_days = 3;
	cfg->max_frame = 4u << 20;
	cfg->max_connections = 10000;
	cfg->idle_timeout_ms = 60000;
	cfg->handshake_timeout_ms = 10000;
	cfg->hello_timeout_ms = 10000;
	cfg->shutdown_timeout_ms = 10000;
	cfg->max_pending_rows = 10000;
	cfg->log_level = TWLOG_INFO;
	cfg->log_json = false;
	cfg->evaluation_interval_ms = 30000;
}

static int parse_root(struct yc *yc, yaml_node_t *root, struct col_config *cfg)
{
	yaml_node_t *v;
	if (root->type != YAML_MAPPING_NODE) {
		char list[256];
		yamlcfg_join_keys(TOP_KEYS, list, sizeof list);
		return YC_ERRN(yc, root, "", "expected a mapping at the top level (keys: %s), got %s",
			       list, yamlcfg_kind_name(root));
	}
	if (yamlcfg_check_keys(yc, root, "", TOP_KEYS) < 0)
		return -1;
	set_defaults(cfg);
	if (!(v = yamlcfg_need(yc, root, "listen", "")) ||
	    get_hostport(yc, v, "listen", &cfg->listen, &cfg->listen_host, &cfg->listen_port) < 0)
		return -1;
	if (parse_tls(yc, root, cfg) < 0 || parse_http(yc, root, cfg) < 0 ||
	    parse_database(yc, root, cfg) < 0)
		return -1;
	if (parse_retention(yc, root, cfg) < 0)
		return -1;
	if ((v = yamlcfg_get(yc, root, "partitions_ahead_days", NULL)) &&
	    yamlcfg_uint(yc, v, "partitions_ahead_days", 1, 365, &cfg->partitions_ahead_days) < 0)
		return -1;
	if (parse_limits(yc, root, cfg) < 0 || parse_log(yc, root, cfg) < 0 ||
	    parse_alerting(yc, root, cfg) < 0)
		return -1;
	if (col_config_reports_parse(yc, root, &cfg->reports) < 0)
		return -1;
	if (cfg->reports && cfg->reports->n && !cfg->alerting)
		return YC_ERRN(yc, yamlcfg_get(yc, root, "reports", NULL), "reports",
			       "schedules run on the alert leader: add an alerting: section");
	if (cfg->http_listen && strcmp(cfg->http_host, cfg->listen_host) == 0 &&
	    cfg->http_port == cfg->listen_port) {
		yaml_node_t *h = yamlcfg_get(yc, yamlcfg_get(yc, root, "http", NULL), "listen", NULL);
		return YC_ERRN(yc, h, "http.listen", "expected an address other than listen (%s)",
			       cfg->listen);
	}
	return 0;
}

struct col_config *col_config_load(const char *path, char *err, size_t errlen)
{
	struct yc yc;
	struct col_config *cfg = NULL;
	bool ok = false;
	yaml_node_t *root;
	/* YC_WIPE: the file's bytes hold the conninfo, maybe with a password */
	if (yamlcfg_open(&yc, path, COL_CONFIG_MAX_FILE, TOP_KEYS, YC_WIPE, err, errlen, &root) < 0)
		goto out;
	cfg = calloc(1, sizeof *cfg);
	if (!cfg || !(cfg->path = strdup(path))) {
		yamlcfg_oom(&yc);
		goto out;
	}
	if (parse_root(&yc, root, cfg) < 0)
		goto out;
	ok = true;
out:
	yamlcfg_close(&yc);
	if (!ok) {
		col_config_free(cfg);
		return NULL;
	}
	return cfg;
}

/* ---- files ---- */

static int file_err(const struct col_config *cfg, struct col_config_pos pos, const char *ctx,
		    char *err, size_t errlen, const char *why)
{
	snprintf(err, errlen, "%s:%u:%u: %s: %s", cfg->path, pos.line, pos.column, ctx, why);
	return -1;
}

static int check_readable(const struct col_config *cfg, const char *file,
			  struct col_config_pos pos, const char *ctx, char *err, size_t errlen)
{
	char why[512];
	if (access(file, R_OK) != 0) {
		snprintf(why, sizeof why, "cannot read %s: %s", file, strerror(errno));
		return file_err(cfg, pos, ctx, err, errlen, why);
	}
	return 0;
}

int col_config_check_files(const struct col_config *cfg, char *err, size_t errlen)
{
	char why[512];
	if (check_readable(cfg, cfg->ca_file, cfg->ca_pos, "tls.ca_file", err, errlen) < 0 ||
	    check_readable(cfg, cfg->cert_file, cfg->cert_pos, "tls.cert_file", err, errlen) < 0 ||
	    check_readable(cfg, cfg->key_file, cfg->key_pos, "tls.key_file", err, errlen) < 0)
		return -1;
	if (tlsutil_check_key_file(cfg->key_file, why, sizeof why) != 0)
		return file_err(cfg, cfg->key_pos, "tls.key_file", err, errlen, why);
	if (cfg->slo_file &&
	    check_readable(cfg, cfg->slo_file, cfg->slo_pos, "alerting.slo_file", err, errlen) < 0)
		return -1;
	if (cfg->notify_file && check_readable(cfg, cfg->notify_file, cfg->notify_pos,
					       "alerting.notify_file", err, errlen) < 0)
		return -1;
	if (col_config_http_check_files(&cfg->http_api, cfg->path, err, errlen) < 0)
		return -1;
	return 0;
}

void col_config_free(struct col_config *cfg)
{
	if (!cfg)
		return;
	free(cfg->path);
	free(cfg->listen);
	free(cfg->listen_host);
	free(cfg->ca_file);
	free(cfg->cert_file);
	free(cfg->key_file);
	free(cfg->http_listen);
	free(cfg->http_host);
	col_config_http_free(&cfg->http_api);
	if (cfg->db_conninfo) {
		explicit_bzero(cfg->db_conninfo, strlen(cfg->db_conninfo));
		free(cfg->db_conninfo);
	}
	free(cfg->slo_file);
	free(cfg->collector_id);
	free(cfg->external_url);
	free(cfg->notify_file);
	col_config_reports_free(cfg->reports);
	free(cfg);
}
