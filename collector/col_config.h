/*
 * col_config.h - the collector's YAML configuration
 * (`tlswatch-collector run -c collector.yaml`). The schema is documented at
 * the top of deploy/collector.example.yaml.
 *
 * Same approach as probe/config.c: col_config_load() parses into a NEW
 * struct, validates all of it and returns it fully owned by the caller, who
 * frees it with col_config_free(). Unknown keys are errors.
 *
 * Every error is "FILE:LINE:COLUMN: where: what was expected", e.g.
 *   collector.yaml:4:11: limits.max_frame: expected a size like 4MiB, got "huge"
 * (an unreadable file gives "FILE: cannot read: <strerror>").
 *
 * col_config_load() does not touch the files the config names;
 * col_config_check_files() does (readable, key mode 0600-ish), reporting at
 * the position of the key that named the file.
 */
#ifndef TW_COL_CONFIG_H
#define TW_COL_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "col_config_http.h"
#include "db_schema.h"   /* struct db_schema_retention */

struct col_reports;

/* 1-based position of a value in the file. */
struct col_config_pos {
	unsigned line, column;
};

struct col_config {
	char *path;                     /* as given to col_config_load */

	char *listen;                   /* as written, "host:port" (probes, mTLS) */
	char *listen_host;              /* without brackets */
	unsigned listen_port;

	char *ca_file;                  /* the probes' CA: the only trust anchor */
	char *cert_file;                /* the collector's certificate (+ chain) */
	char *key_file;
	struct col_config_pos ca_pos, cert_pos, key_pos;

	char *http_listen;              /* NULL: no HTTP server */
	char *http_host;
	unsigned http_port;
	unsigned metrics_refresh_ms;    /* http.metrics_refresh: per-target snapshot period, default 15 s */
	unsigned metrics_max_series;    /* http.metrics_max_series: cap on target x region x
					 * profile series, default 10000 (docs/metrics.md) */
	struct col_config_http http_api;  /* tokens and TLS of the API (col_config_http.h) */

	char *db_conninfo;              /* libpq string or URI; may hold a password:
					 * wiped before it is freed */
	unsigned db_connections;        /* default 4, 1-64 */
	uint64_t db_queue_max_rows;     /* default 50000 */

	unsigned retention_days;        /* = retention.results (retention_days is its old name) */
	struct db_schema_retention retention;  /* every field set (defaults filled), 1-3650 */
	unsigned partitions_ahead_days; /* default 3, 1-365 */

	uint64_t max_frame;             /* default 4MiB, 1KiB-64MiB */
	unsigned max_connections;       /* default 10000 */
	unsigned idle_timeout_ms;       /* default 60s */
	unsigned handshake_timeout_ms;  /* default 10s */
	unsigned hello_timeout_ms;      /* default 10s */
	unsigned shutdown_timeout_ms;   /* default 10s */
	uint64_t max_pending_rows;      /* per connection, default 10000 */

	int log_level;                  /* enum log_level; default info */
	bool log_json;                  /* default false */

	/* alerting (issue 4): the evaluator runs only when the mapping is there */
	bool alerting;
	char *slo_file;                 /* NULL: no SLOs (the other rules still run) */
	struct col_config_pos slo_pos;
	unsigned evaluation_interval_ms;  /* default 30s, 1s-1h */
	char *collector_id;             /* default "HOSTNAME:PID" */
	char *external_url;             /* NULL: none; base of the alerts' generator URL */
	char *notify_file;              /* NULL: none; read by the notifier (notify.h) */
	struct col_config_pos notify_pos;

	struct col_reports *reports;    /* NULL: no report schedules (col_config_reports.h) */
};

/* Returns a new config or NULL with err set (see above). */
struct col_config *col_config_load(const char *path, char *err, size_t errlen);

/* Checks that ca_file, cert_file, key_file (and alerting.slo_file and
 * notify_file when given) can be read and that the key is not accessible by
 * group or others. Returns 0, or -1 with
 * "FILE:LINE:COLUMN: tls.key_file: ..." in err. */
int col_config_check_files(const struct col_config *cfg, char *err, size_t errlen);

void col_config_free(struct col_config *cfg);

#endif
