/*
 * http.h - the collector's HTTP endpoint (libevent evhttp):
 *
 *   GET /healthz   200 "ok" whenever the process runs its loop
 *   GET /readyz    200 "ready" when the database is ready (db_is_ready) and
 *                  the probe listener accepts; else 503 with the reason
 *   GET /, /assets/NAME  the dashboard (web.h: embedded static files)
 *   GET /metrics   Prometheus text exposition (version 0.0.4), every family
 *                  with HELP and TYPE: build and process (metrics_proc.h),
 *                  the collector's own series (metrics_self.h) and, when
 *                  set, the per-target snapshot (metrics.h); docs/metrics.md
 *
 * Every read and write of a client has HTTP_SRV_IO_TIMEOUT_S seconds, the
 * whole connection HTTP_SRV_DEADLINE_S; at most HTTP_SRV_MAX_CLIENTS are
 * open (beyond that the oldest is closed, answered or not). At the
 * descriptor limit accepting pauses (accept_backoff.h) instead of spinning.
 *
 *   /api/...       the JSON API (api.h), when one is set: it answers its own
 *                  methods, limits and errors
 *
 * With http_srv_set_tls every connection is HTTPS (TLS 1.2+).
 *
 * Anything else is 404; methods other than GET/HEAD are 405. Every handler
 * ends in evhttp_send_reply / evhttp_send_error.
 *
 * Ownership: base, ingest server and db pool are borrowed and must outlive
 * the http server. Names are prefixed http_srv_.
 */
#ifndef TW_COL_HTTP_H
#define TW_COL_HTTP_H

#include <event2/event.h>

#define HTTP_SRV_IO_TIMEOUT_S 10
#define HTTP_SRV_DEADLINE_S   15   /* a client connection's whole life */
#define HTTP_SRV_MAX_CLIENTS  128  /* open at once; beyond it the oldest is closed */

struct ingest;
struct db_pool;
struct http_srv;

/* Binds host:port (port 0 = any). NULL with a one-line reason in err. */
struct http_srv *http_srv_new(struct event_base *base, const char *host, unsigned port,
			      struct ingest *ing, struct db_pool *db, char *err, size_t errlen);

/* The port actually bound. */
unsigned http_srv_port(const struct http_srv *h);

/* Renders the /metrics body into a new malloc()ed string (caller frees);
 * NULL on out of memory. Exposed for tests. */
char *http_srv_metrics_text(const struct http_srv *h);

/* Adds the evaluator's and notifier's counters to /metrics (either may be
 * NULL); they are borrowed and must outlive h. */
struct evaluator;
struct notifier;
void http_srv_set_alerting(struct http_srv *h, struct evaluator *ev, struct notifier *nt);
/* Adds the per-target snapshot's series (borrowed; must outlive h). */
struct metrics;
void http_srv_set_metrics(struct http_srv *h, struct metrics *m);
/* Serves /api/ with api (api.h); takes it (freed by http_srv_free, before
 * the evhttp object, so waiting requests are answered). */
struct api;
void http_srv_set_api(struct http_srv *h, struct api *api);
/* Every connection from now on is HTTPS (TLS 1.2 or newer) with this
 * certificate chain and key. 0, or -1 with the reason in err. */
int http_srv_set_tls(struct http_srv *h, const char *cert_file, const char *key_file, char *err,
		     size_t errlen) __attribute__((warn_unused_result));
void http_srv_free(struct http_srv *h);

#endif
