/*
 * notify_config.h - notify.yaml: where alert notifications go (sinks), which
 * alerts go where (routes), and how deliveries are retried. The schema is
 * documented at the top of deploy/notify.example.yaml.
 *
 * Same approach as probe/config.c and col_config.c: notify_config_load()
 * parses into a NEW struct, validates all of it (including that every
 * *_env variable is set and every whsec_ secret decodes) and returns it
 * fully owned by the caller, who frees it with notify_config_free() (which
 * wipes the secrets). Unknown keys are errors. Every error is
 * "FILE:LINE:COLUMN: where: what was expected", e.g.
 *   notify.yaml:7:13: sinks[1].type: expected pagerduty, alertmanager, slack or webhook, got "sms"
 *
 * Secrets (routing_key, secret, url of slack sinks, header values) are
 * never part of an error message or a log line: messages name the sink and
 * the URL's host only (notify_sink_cfg.host).
 */
#ifndef TW_NOTIFY_CONFIG_H
#define TW_NOTIFY_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum sink_type {
	SINK_PAGERDUTY,    /* Events API v2: POST {routing_key, event_action, dedup_key, payload} */
	SINK_ALERTMANAGER, /* API v2: POST <url>/api/v2/alerts, a JSON array of alerts */
	SINK_SLACK,        /* incoming webhook: POST {text, blocks} */
	SINK_WEBHOOK,      /* generic JSON, signed as the Standard Webhooks specification says */
};

struct notify_header {
	char *name;
	char *value;             /* may be a secret (Authorization): never logged */
};

struct notify_sink_cfg {
	char *name;              /* [A-Za-z0-9_.-]{1,64}: part of the idempotency key */
	enum sink_type type;
	char *url;               /* full URL (alertmanager: /api/v2/alerts appended) */
	char *host;              /* the URL's host[:port]: what logs show */
	char *routing_key;       /* pagerduty: secret */
	unsigned char *secret;   /* webhook: the HMAC key (base64-decoded whsec_ part) */
	size_t secret_len;
	struct notify_header *headers;
	size_t nheaders;
	unsigned timeout_ms;     /* whole request; default 10s */
	int64_t hold_ms;         /* alertmanager: endsAt of a trigger = now + hold (default 90d) */
};

struct notify_route {
	/* Match (all given fields must match; an absent field matches anything):
	 * severity/rule/service/region are lists of accepted values, labels a
	 * list of key=value pairs that must all be in the alert's labels. */
	char **severity; size_t nseverity;
	char **rule;     size_t nrule;
	char **service;  size_t nservice;
	char **region;   size_t nregion;
	char **label_keys, **label_values; size_t nlabels;
	size_t *sinks;   size_t nsinks;   /* indexes into notify_config.sinks */
	bool cont;       /* keep looking at later routes after this one matched */
};

struct notify_config {
	char *path;
	struct notify_sink_cfg *sinks;
	size_t nsinks;
	struct notify_route *routes;
	size_t nroutes;
	/* retry */
	unsigned retry_initial_ms;   /* default 1s */
	unsigned retry_max_ms;       /* default 5m */
	unsigned max_attempts;       /* 0 = unlimited (default 0: max_age decides) */
	int64_t max_age_ms;          /* default 24h, from the delivery's creation */
	double jitter;               /* 0-1, default 0.2: delay * (1 - jitter * U[0,1)) */
	/* delivery */
	unsigned poll_interval_ms;   /* default 1s */
	unsigned batch;              /* outbox rows routed / deliveries claimed per query; 100 */
	unsigned max_in_flight;      /* concurrent HTTP requests; default 32 */
	unsigned lease_ms;           /* default max sink timeout * 2 + 30s */
};

/* Returns a new config or NULL with err set. Reads *_env variables now. */
struct notify_config *notify_config_load(const char *path, char *err, size_t errlen);
void notify_config_free(struct notify_config *cfg);

/* For --check-config: loads and frees; 0, or -1 with err set. */
int notify_config_check(const char *path, char *err, size_t errlen);

/* The sinks an alert goes to: routes in order, the first match wins unless
 * it says continue. Writes up to cap sink indexes (deduplicated) to out and
 * returns how many. Any string may be NULL (matches only routes that do not
 * test that field); label_keys/values are the alert's labels. */
size_t notify_route_match(const struct notify_config *cfg, const char *severity,
			  const char *rule, const char *service, const char *region,
			  const char *const *label_keys, const char *const *label_values,
			  size_t nlabels, size_t *out, size_t cap);

const char *notify_sink_type_name(enum sink_type t);

/* "whsec_<base64>" (the prefix is optional, as in the reference libraries)
 * -> key bytes (malloc'd, *len). 0, or -1 when not base64 or empty. */
int notify_config_whsec_decode(const char *secret, unsigned char **key, size_t *len)
	__attribute__((warn_unused_result));

#endif
