/*
 * notify_sinks.h - what the notifier sends: one HTTP request per delivery
 * attempt, built from a notification_outbox row (its action and its
 * sink-neutral payload, sql/002_alerts.sql) for one sink of notify.yaml;
 * the Standard Webhooks signer; and the delivery policy (which answers are
 * retried, Retry-After, backoff). Pure functions: no I/O, no clock (now is
 * passed in), so the unit tests cover all of it.
 *
 * Payloads (the choices are explained at the top of notify.c):
 *   pagerduty     {routing_key, event_action: trigger|resolve, dedup_key,
 *                  payload{summary, source, severity, timestamp, component,
 *                  group, class, custom_details}, client, client_url}
 *                 (resolve: routing_key, event_action, dedup_key only)
 *   alertmanager  [{labels{alertname, severity, service, region, subject,
 *                  dedup_key, + the alert's labels}, annotations{summary, ..},
 *                  startsAt, endsAt, generatorURL}]; endsAt = now + hold on
 *                  trigger, the resolve time on resolve
 *   slack         {text, blocks}
 *   webhook       {type: "alert.trigger"|"alert.resolve", timestamp, data:
 *                  the outbox payload + action}, with webhook-id (the
 *                  idempotency key), webhook-timestamp (now, seconds) and
 *                  webhook-signature: v1,<base64 HMAC-SHA256(key,
 *                  id.timestamp.body)>
 *
 * Ownership: notify_sink_build() fills a sink_msg the caller frees with
 * notify_sink_msg_free() (which wipes the headers: some carry secrets).
 */
#ifndef TW_NOTIFY_SINKS_H
#define TW_NOTIFY_SINKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "notify_config.h"

#define SINK_MAX_HEADERS 16

struct sink_msg {
	const char *url;                 /* borrowed from the sink config */
	char *body;                      /* JSON, NUL-terminated */
	size_t body_len;
	char *headers[SINK_MAX_HEADERS]; /* "Name: value" lines, beyond Content-Type */
	size_t nheaders;
};

/* action: "trigger" or "resolve"; payload_json: notification_outbox.payload
 * as text. Returns 0, or -1 with err set (a payload that is not a JSON
 * object: the delivery cannot succeed and fails without retry). */
int notify_sink_build(const struct notify_sink_cfg *s, const char *action, const char *payload_json,
	       const char *idempotency_key, int64_t now_ms, struct sink_msg *out, char *err,
	       size_t errlen) __attribute__((warn_unused_result));
void notify_sink_msg_free(struct sink_msg *m);

/* "v1,<base64(HMAC-SHA256(key, msg_id "." ts "." body))>" into out.
 * Returns 0, or -1 when out is too small (88 bytes always suffice). */
int notify_sink_webhook_sign(const unsigned char *key, size_t keylen, const char *msg_id, int64_t ts,
		      const char *body, size_t body_len, char *out, size_t cap)
	__attribute__((warn_unused_result));

enum sink_verdict {
	SINK_DELIVERED, /* 2xx */
	SINK_RETRY,     /* 429, 5xx, no HTTP answer (status 0) */
	SINK_FAILED,    /* any other status: the request is wrong and stays wrong */
};
enum sink_verdict notify_sink_classify(long http_status);

/* Retry-After: delta-seconds or an HTTP-date (RFC 9110), relative to now.
 * 0 with *ms set (never negative), or -1 when it is neither. */
int notify_sink_retry_after_ms(const char *value, int64_t now_ms, int64_t *ms);

/* Delay before attempt number `attempts + 1` after `attempts` failed ones
 * (attempts >= 1): min(max, initial * 2^(attempts-1)) * (1 - jitter * u),
 * u in [0, 1) supplied by the caller. */
int64_t notify_sink_backoff_ms(unsigned attempts, unsigned initial_ms, unsigned max_ms, double jitter,
			double u);

#endif
