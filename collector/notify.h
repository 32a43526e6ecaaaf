/*
 * notify.h - the notifier: delivers the notification outbox
 * (sql/002_alerts.sql) to the sinks of notify.yaml, on the collector's
 * libevent loop.
 *
 * It owns one pgconn (pgconn.h, the collector's one asynchronous PostgreSQL
 * connection object) and a libcurl multi handle driven by the loop
 * (notify_http.h). Every poll_interval it
 *   1. routes outbox rows not routed yet: one notification_deliveries row
 *      per matching sink (idempotency key "tw-<outbox id>-<sink>"),
 *   2. claims due pending deliveries with a lease (locked_until), so that
 *      several collectors never send the same delivery at once,
 *   3. sends each one; records every attempt (notification_attempts) and
 *      the delivery's new state: 2xx delivered; 429, 5xx and network errors
 *      retried with exponential backoff and jitter (Retry-After is a
 *      minimum); other answers failed at once; retries stop (failed) at
 *      retry.max_attempts or retry.max_age.
 * The database connection is re-established with backoff when it breaks;
 * a result not yet recorded is kept and recorded after the reconnect.
 *
 * Secrets (routing keys, webhook secrets, Slack URLs, header values) are
 * never logged: log lines name the sink and the URL's host.
 *
 * Ownership: notify_new() copies conninfo and loads notify_file into its
 * own config; notify_free() (not from inside a notifier callback - there
 * are none) cancels requests in flight without recording them: their
 * leases expire and another collector, or this one restarted, sends them
 * again with the same idempotency key.
 *
 * libcurl: notify_new() calls curl_global_init() and notify_free()
 * curl_global_cleanup() (through notify_http_new/free; reference counted by
 * libcurl >= 7.84).
 */
#ifndef TW_NOTIFY_H
#define TW_NOTIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <event2/event.h>

struct notifier;
struct notify_config;

/* Starts at once (connects in the background). NULL with err set when the
 * file is invalid (FILE:LINE:COLUMN: ...) or on ENOMEM. */
struct notifier *notify_new(struct event_base *base, const char *conninfo,
			      const char *notify_file, char *err, size_t errlen);
/* The same with a loaded config, which the notifier takes (frees). */
struct notifier *notify_new_config(struct event_base *base, const char *conninfo,
				     struct notify_config *cfg, char *err, size_t errlen);
void notify_free(struct notifier *n);

/* Counters since start (this process), for /metrics. pending is the number
 * of pending deliveries in the database when last counted (every ~5 s; -1
 * before the first count). */
struct notifier_stats {
	uint64_t routed;      /* outbox rows routed */
	uint64_t attempts;    /* HTTP attempts made and recorded */
	uint64_t delivered;
	uint64_t failed;      /* for good: 4xx, or out of attempts / age */
	uint64_t retries;     /* attempts that scheduled another one */
	int64_t pending;
	unsigned in_flight;   /* requests now */
	bool db_up;
};
void notify_get_stats(const struct notifier *n, struct notifier_stats *st);

/* Runs a cycle (route, claim) now instead of at the next poll tick. */
void notify_kick(struct notifier *n);

/* --check-config: see notify_config_check() in notify_config.h. */

#endif
