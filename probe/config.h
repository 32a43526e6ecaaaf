/*
 * config.h - the probe daemon's YAML configuration (DESIGN 4.5,
 * `tlswatch-probe run -c probe.yaml`). The schema is documented at the top
 * of deploy/probe.example.yaml.
 *
 * pgbouncer-style: config_load() parses into a NEW struct, validates all of
 * it and returns it fully owned; the caller swaps it in (SIGHUP) and frees
 * the old one. Nothing is shared between two loaded configs.
 *
 * Every error is "FILE:LINE:COLUMN: where: what was expected", e.g.
 *   probe.yaml:12:5: targets[2].port: expected an integer 1-65535, got "http"
 * (an unreadable file gives "FILE: cannot read: <strerror>").
 *
 * Not checked by config_load: whether profile names exist (the caller
 * checks them against its profile list - positions are kept for that; a
 * name given twice in one list IS an error here) and whether files exist
 * (config_check_files, with the positions kept for it).
 */
#ifndef TW_CONFIG_H
#define TW_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "starttls.h"

/* 1-based position of a node in the file, for the caller's own errors. */
struct config_pos {
	unsigned line, column;
};

/* How revocation is checked (handshake.h's enum revocation_mode). */
enum config_revocation {
	CONFIG_REV_STAPLE = 0,         /* look at the stapled OCSP response only */
	CONFIG_REV_OCSP = 1,           /* also ask the leaf's OCSP responder */
	CONFIG_REV_CRL = 2,            /* also fetch the chain's CRLs */
	CONFIG_REV_OCSP_CRL = 3        /* both (the same bits as enum revocation_mode) */
};

struct config_label {
	char *key;
	char *value;
};

struct config_target {
	char *host;
	unsigned port;                 /* default 443 */
	char *sni;                     /* NULL = send no SNI (no_sni, or host is an IP literal) */
	bool no_sni;                   /* no_sni: true was given */
	char *connect_host;            /* NULL = connect to host */
	unsigned connect_port;         /* = port when connect_to has none, 0 if no connect_to */
	char *service;                 /* may be NULL */
	struct config_label *labels;
	size_t nlabels;
	char **profiles;               /* own copy; defaults.profiles when not given */
	struct config_pos *profile_pos;/* where each name came from (maybe the defaults) */
	size_t nprofiles;
	unsigned interval_ms;          /* >= 1000 */
	unsigned timeout_ms;           /* >= 1 */
	unsigned expiry_warn_days;     /* from defaults */
	double expiry_warn_fraction;   /* from defaults */
	enum starttls_proto starttls;  /* STARTTLS_NONE when absent */
	char *client_cert;             /* mTLS: both or neither */
	char *client_key;
	char *ca_file;                 /* trust store for this target; NULL = system store */
	enum config_revocation revocation;
	bool resume;                   /* resume: true - a second handshake resuming the session */
	bool all_addresses;            /* addresses: all - one handshake per A/AAAA address */
	struct config_pos pos;         /* the "- host: ..." mapping */
	struct config_pos client_cert_pos, client_key_pos;
	struct config_pos ca_file_pos; /* the target's value, or defaults.ca_file's */
};

struct config_defaults {
	unsigned interval_ms;          /* default 60s */
	unsigned timeout_ms;           /* default 10s */
	char **profiles;               /* default [modern] */
	struct config_pos *profile_pos;
	size_t nprofiles;
	unsigned expiry_warn_days;     /* default 30 */
	double expiry_warn_fraction;   /* of the certificate's lifetime, when smaller
					* than the days (default 1/3; 0 = days only) */
	char *ca_file;                 /* default NULL = system trust store */
	struct config_pos ca_file_pos;
	enum config_revocation revocation; /* default staple */
};

struct probe_config {
	char *path;                    /* as given to config_load */

	char *probe_id;
	char *region;

	char *collector_address;       /* as written, "host:port" */
	char *collector_host;          /* without brackets for IPv6 */
	unsigned collector_port;
	char *ca_file;
	char *cert_file;
	char *key_file;
	struct config_pos ca_pos, cert_pos, key_pos;
	unsigned batch_max_records;    /* 0 = not given (the uplink's default, 500) */
	unsigned batch_max_delay_ms;   /* 0 = not given (200 ms) */
	unsigned heartbeat_ms;         /* 0 = not given (10 s) */

	char *spool_path;
	uint64_t spool_max_bytes;      /* default 256 MiB, >= 1 MiB */
	unsigned spool_fsync_ms;       /* default 1000 */

	int log_level;                 /* enum log_level, -1 = not given */
	bool log_json;                 /* default false */

	unsigned concurrency;          /* default 1000, 1..1000000 */

	struct config_defaults defaults;

	struct config_target *targets; /* at least one */
	size_t ntargets;
};

/* Returns a new config or NULL with err set (see above). */
struct probe_config *config_load(const char *path, char *err, size_t errlen);
void config_free(struct probe_config *cfg);

/* Every file the config names (collector.ca_file/cert_file/key_file,
 * defaults.ca_file, each target's client_cert/client_key/ca_file) can be
 * opened for reading, and every private key is closed to group and others.
 * Returns 0, or -1 with "FILE:LINE:COLUMN: where: cannot read PATH: reason"
 * (or the key-mode reason) for the first that fails. */
int config_check_files(const struct probe_config *cfg, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* Exposed for tests and other config readers. Each returns 0 or -1.
 * Durations: <n>ms|s|m|h, up to 7 days. Sizes: <n>[B|KiB|MiB|GiB]. */
int config_parse_duration_ms(const char *s, unsigned *out_ms);
int config_parse_size(const char *s, uint64_t *out);

#endif
