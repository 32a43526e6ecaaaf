/*
 * slo_config.h - slos.yaml: the SLOs, their burn-rate rules and the
 * thresholds of the other alert rules (collector/rules_other.c,
 * collector/rules_probe.c). The schema is documented at the top of
 * deploy/slos.example.yaml.
 *
 * Same approach as probe/config.c and collector/col_config.c:
 * slo_config_load() parses into a NEW struct, validates all of it and
 * returns it fully owned by the caller, who frees it with slo_config_free().
 * Unknown keys are errors; every error is "FILE:LINE:COLUMN: where: what",
 * e.g.  slos.yaml:7:16: slos[0].objective: expected a percentage in (0, 100), got "100"
 *
 * The struct is read-only after loading; the evaluator thread and the rule
 * modules only read it (no locking needed). Every string is owned by the
 * config. Durations are milliseconds (int64_t), percentages are stored both
 * as written and as a ratio.
 *
 * Burn-rate rules: a built-in set (the SRE Workbook's multiwindow,
 * multi-burn-rate alerts, slo_config_default_rules()) that `defaults.rules`
 * may amend and each SLO's `rules` may amend again. Amending matches by
 * rule name: an entry with an existing name overrides only the fields it
 * gives (enabled: false removes the rule), an entry with a new name adds a
 * rule and must give every field. After loading, every slo.rules[] is the
 * effective, fully resolved list.
 */
#ifndef TW_SLO_CONFIG_H
#define TW_SLO_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* 1-based position of a value in the file (0,0 for built-in defaults). */
struct slo_pos {
	unsigned line, column;
};

enum slo_sli {
	SLO_SLI_AVAILABILITY,   /* good = successes, events = attempts (M1) */
	SLO_SLI_LATENCY,        /* good = handshake_ms < threshold_ms, events = handshakes timed (M2) */
};

/* What an SLO pools: every rollup series whose fields equal the non-NULL
 * ones, and whose target's labels (table targets) contain every pair. */
struct slo_selector {
	char *service;          /* NULL = any */
	char *region;
	char *profile;
	char *target;           /* host, or "host:port" */
	size_t nlabels;
	char **label_keys;      /* nlabels each */
	char **label_values;
};

/* One multiwindow burn-rate rule: fires when the burn rate is above
 * burn_rate over BOTH windows and, over the long window, the pooled events
 * are >= min_events and the failures >= min_failures. */
struct slo_burn_rule {
	char *name;             /* alert rule name, e.g. "slo_burn_fast" */
	char *severity;         /* "page" or "ticket" */
	double burn_rate;       /* threshold, > 0 */
	int64_t long_ms;        /* long window */
	int64_t short_ms;       /* short window, <= long_ms */
	uint64_t min_events;    /* over the long window */
	uint64_t min_failures;  /* over the long window */
	unsigned for_evals;     /* evaluations observed before firing (alerts.h), default 1 */
	unsigned resolve_after; /* clean evaluations before resolving */
	struct slo_pos pos;
};

struct slo {
	char *name;             /* unique, [A-Za-z0-9_.-]+ */
	char *description;      /* may be NULL */
	enum slo_sli sli;
	double threshold_ms;    /* SLO_SLI_LATENCY only: a latency bucket bound */
	double objective_pct;   /* e.g. 99.95 */
	char *objective_text;   /* as written in the file, e.g. "99.95": what is printed */
	double objective;       /* ratio, e.g. 0.9995 */
	int64_t window_ms;      /* compliance window for the error budget, e.g. 30d */
	struct slo_selector sel;
	bool split_by_region;   /* one alert per region (region_group) instead of "all" */
	size_t nrules;
	struct slo_burn_rule *rules;  /* effective rules */
	struct slo_pos pos;
};

/* Every other rule has these two. */
struct slo_rule_common {
	bool enabled;           /* default true */
	unsigned resolve_after; /* default alerts.resolve_after */
};

#define SLO_MAX_TICKET_DAYS 8

struct slo_alerts {
	unsigned resolve_after;                 /* default for every rule: 3 */

	struct {
		struct slo_rule_common c;
		unsigned ticket_days[SLO_MAX_TICKET_DAYS];  /* default {30, 7}, descending */
		size_t nticket_days;
		double page_hours;              /* default 24 */
	} cert_expiry;

	struct {
		struct slo_rule_common c;
		unsigned min_targets;           /* default 3: distinct targets with mTLS failures */
		double min_failure_ratio;       /* default 0.5: of the mTLS targets */
		int64_t window_ms;              /* default 10m */
	} mtls_mass;

	struct {
		struct slo_rule_common c;
		uint64_t min_events;            /* default 3 mismatches in the window */
		int64_t window_ms;              /* default 1h */
	} sni_mismatch;

	struct {
		struct slo_rule_common c;
		unsigned intervals;             /* default 3 (heartbeat/probe intervals) */
	} probe_silent;

	struct {
		struct slo_rule_common c;
		double max_ms;                  /* default 2000 */
	} clock_skew;

	struct {
		struct slo_rule_common c;
		int64_t window_ms;              /* default 1h: new drops seen this recently */
	} probe_dropping;

	struct {
		struct slo_rule_common c;
		int64_t fingerprint_for_ms;     /* default 30m */
		int64_t baseline_window_ms;     /* default 7d */
	} drift;

	struct {                                /* rules_quorum.h */
		struct slo_rule_common c;
		unsigned min_regions;           /* default 2 failing regions */
		double min_region_share;        /* default 0 (none): of the regions probing */
		double failure_ratio;           /* default 0.9 of a region's attempts */
		int64_t for_ms;                 /* default 5m: the window */
		uint64_t min_samples;           /* default 3 attempts per region in the window */
	} region_quorum;
};

struct slo_config {
	char *path;                     /* as given to slo_config_load, or NULL */
	unsigned resolve_after;         /* defaults.resolve_after: SLO rules' default, 3 */
	size_t ndefault_rules;
	struct slo_burn_rule *default_rules;   /* defaults.rules applied to the built-ins */
	size_t nslos;
	struct slo *slos;
	struct slo_alerts alerts;
};

/* Returns a new config or NULL with err set (see above). */
struct slo_config *slo_config_load(const char *path, char *err, size_t errlen);

/* The same from a string (tests); name is used in error messages. */
struct slo_config *slo_config_load_string(const char *name, const char *yaml, size_t len,
					  char *err, size_t errlen);

/* A config with no SLOs and every default (the evaluator's fallback when no
 * slo_file is configured: the other rules still run). NULL on ENOMEM. */
struct slo_config *slo_config_new_default(void);

void slo_config_free(struct slo_config *cfg);

/* "500ms", "30s", "5m", "1h", "7d", "2w" -> ms. 0 or -1 (malformed / overflow). */
int slo_parse_duration_ms(const char *s, int64_t *out_ms);

/* "30d", "1h", "5m", "90s", "250ms": the shortest exact spelling. */
const char *slo_format_duration(int64_t ms, char *buf, size_t cap);

#endif
