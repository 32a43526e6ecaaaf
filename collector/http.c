/*
 * http.c - /healthz, /readyz and /metrics for the collector (see http.h).
 */
#include "http.h"
#include "db.h"
#include "evaluator.h"
#include "ingest.h"
#include "notify.h"
#include "log.h"

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

struct http_srv {
	struct evhttp *http;
	struct evhttp_bound_socket *sock;
	struct ingest *ing;
	struct db_pool *db;
	struct notifier *notifier;      /* NULL: no notify file */
	struct evaluator *evaluator;    /* NULL: alerting off */
	unsigned port;
};

void http_srv_set_alerting(struct http_srv *h, struct evaluator *ev, struct notifier *nt)
{
	h->evaluator = ev;
	h->notifier = nt;
}

/* ---- metrics ---- */

static void family(struct evbuffer *b, const char *name, const char *type, const char *help)
{
	evbuffer_add_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void one(struct evbuffer *b, const char *name, const char *type, const char *help,
		uint64_t v)
{
	family(b, name, type, help);
	evbuffer_add_printf(b, "%s %llu\n", name, (unsigned long long)v);
}

/* Prometheus label value: backslash, quote and newline escaped. */
static void label_value(struct evbuffer *b, const char *v)
{
	for (; *v; v++) {
		if (*v == '\\' || *v == '"')
			evbuffer_add_printf(b, "\\%c", *v);
		else if (*v == '\n')
			evbuffer_add(b, "\\n", 2);
		else
			evbuffer_add(b, v, 1);
	}
}

/* The per-probe series: one family at a time (the exposition format wants a
 * family's samples together), one sample per probe streaming to us. */
struct probe_family {
	struct evbuffer *b;
	const char *name;
	int which;
};

static void probe_sample(void *arg, const struct ingest_probe_report *r)
{
	const struct probe_family *f = arg;
	const uint64_t v[4] = { r->spool_records, r->spool_bytes, r->dropped, r->overdue };
	evbuffer_add_printf(f->b, "%s{probe=\"", f->name);
	label_value(f->b, r->probe_id);
	evbuffer_add_printf(f->b, "\",region=\"");
	label_value(f->b, r->region);
	if (f->which < 4)
		evbuffer_add_printf(f->b, "\"} %llu\n", (unsigned long long)v[f->which]);
	else
		evbuffer_add_printf(f->b, "\"} %.3f\n", (double)r->at_unix_ms / 1000.0);
}

static void render_probe_metrics(const struct http_srv *h, struct evbuffer *b)
{
	static const struct {
		const char *name, *type, *help;
	} fams[5] = {
		{ "tlswatch_probe_spool_records", "gauge",
		  "Results in the probe's spool not yet acked, at its last heartbeat." },
		{ "tlswatch_probe_spool_bytes", "gauge",
		  "Bytes of the probe's spool not yet acked, at its last heartbeat." },
		{ "tlswatch_probe_dropped_results_total", "counter",
		  "Results the probe dropped because its spool was full: lost for good "
		  "(resets when the probe restarts)." },
		{ "tlswatch_probe_overdue_slots_total", "counter",
		  "Schedule slots the probe could not start on time (resets when it restarts)." },
		{ "tlswatch_probe_last_heartbeat_timestamp_seconds", "gauge",
		  "When this collector received the probe's last heartbeat (Unix time)." },
	};
	for (int i = 0; i < 5; i++) {
		family(b, fams[i].name, fams[i].type, fams[i].help);
		struct probe_family f = { b, fams[i].name, i };
		ingest_each_probe(h->ing, probe_sample, &f);
	}
}

static void render_metrics(const struct http_srv *h, struct evbuffer *b)
{
	struct ingest_stats is;
	struct db_stats ds;
	ingest_get_stats(h->ing, &is);
	db_get_stats(h->db, &ds);

	one(b, "tlswatch_collector_listening", "gauge",
	    "1 while the probe listener accepts connections.", is.listening);
	one(b, "tlswatch_collector_ready", "gauge",
	    "1 when /readyz answers 200 (database ready and listening).",
	    is.listening && db_is_ready(h->db));
	one(b, "tlswatch_collector_connections", "gauge",
	    "Probe connections currently open (any state).", is.connections_current);
	one(b, "tlswatch_collector_connections_accepted_total", "counter",
	    "Probe TCP connections accepted.", is.connections_total);
	family(b, "tlswatch_collector_connections_refused_total", "counter",
	       "Probe connections refused, by reason.");
	for (int r = 0; r < REFUSE__COUNT; r++)
		evbuffer_add_printf(b, "tlswatch_collector_connections_refused_total{reason=\"%s\"} %llu\n",
				    ingest_refusal_name((enum ingest_refusal)r),
				    (unsigned long long)is.refused[r]);
	family(b, "tlswatch_collector_connections_closed_total", "counter",
	       "Accepted probe streams closed for reasons other than a refusal.");
	for (int c = 0; c < CLOSE__COUNT; c++)
		evbuffer_add_printf(b, "tlswatch_collector_connections_closed_total{reason=\"%s\"} %llu\n",
				    ingest_close_name((enum ingest_close)c),
				    (unsigned long long)is.closed[c]);
	one(b, "tlswatch_collector_tls_handshakes_total", "counter",
	    "TLS handshakes completed with a verified client certificate.", is.handshakes);
	one(b, "tlswatch_collector_frames_received_total", "counter",
	    "Frames received from probes (any message).", is.frames);
	one(b, "tlswatch_collector_hellos_received_total", "counter",
	    "Hello messages accepted.", is.hellos);
	one(b, "tlswatch_collector_heartbeats_received_total", "counter",
	    "Heartbeat messages received.", is.heartbeats);
	one(b, "tlswatch_collector_batches_received_total", "counter",
	    "ResultBatch messages accepted.", is.batches);
	one(b, "tlswatch_collector_results_received_total", "counter",
	    "Results received, including replays.", is.results);
	one(b, "tlswatch_collector_acks_sent_total", "counter",
	    "Acks sent to probes.", is.acks);
	one(b, "tlswatch_collector_pending_rows", "gauge",
	    "Rows received and not yet committed, over all connections.", is.pending_rows);
	one(b, "tlswatch_collector_reading_paused", "gauge",
	    "1 while reads from probes are paused because the database cannot take more.",
	    is.reading_paused);
	one(b, "tlswatch_collector_rows_inserted_total", "counter",
	    "Result rows inserted into the database (new rows).", ds.rows_inserted);
	one(b, "tlswatch_collector_rows_duplicate_total", "counter",
	    "Result rows received again and already stored (replays).", ds.rows_duplicate);
	one(b, "tlswatch_collector_batches_committed_total", "counter",
	    "Ingest transactions committed.", ds.batches_committed);
	one(b, "tlswatch_collector_batches_failed_total", "counter",
	    "Ingest transactions that failed (rolled back, not acked).", ds.batches_failed);
	one(b, "tlswatch_collector_db_reconnects_total", "counter",
	    "Database connections re-established.", ds.reconnects);
	one(b, "tlswatch_collector_db_connections_up", "gauge",
	    "Database connections currently up.", ds.connections_up);
	one(b, "tlswatch_collector_db_queued_rows", "gauge",
	    "Rows waiting for a database connection.", ds.queued_rows);
	if (h->evaluator) {
		struct evaluator_stats es;
		evaluator_get_stats(h->evaluator, &es);
		one(b, "tlswatch_evaluator_leader", "gauge",
		    "1 while this collector holds the evaluator lock (evaluates alerts).", es.leader);
		one(b, "tlswatch_evaluator_runs_total", "counter", "Alert evaluations completed.", es.runs);
		one(b, "tlswatch_evaluator_failures_total", "counter", "Alert evaluations that failed.",
		    es.failures);
		family(b, "tlswatch_evaluator_last_duration_seconds", "gauge",
		       "Duration of the last alert evaluation.");
		evbuffer_add_printf(b, "tlswatch_evaluator_last_duration_seconds %.6f\n",
				    es.last_duration_ms / 1000.0);
	}
	if (h->notifier) {
		struct notifier_stats ns;
		notify_get_stats(h->notifier, &ns);
		one(b, "tlswatch_notify_routed_total", "counter", "Outbox rows routed to sinks.", ns.routed);
		one(b, "tlswatch_notify_attempts_total", "counter", "Delivery attempts (HTTP requests).",
		    ns.attempts);
		one(b, "tlswatch_notify_delivered_total", "counter", "Deliveries acknowledged by a sink.",
		    ns.delivered);
		one(b, "tlswatch_notify_failed_total", "counter",
		    "Deliveries given up (4xx, or out of attempts or age).", ns.failed);
		one(b, "tlswatch_notify_retries_total", "counter", "Attempts that scheduled a retry.",
		    ns.retries);
		one(b, "tlswatch_notify_in_flight", "gauge", "Delivery requests in flight.", ns.in_flight);
		one(b, "tlswatch_notify_db_up", "gauge", "1 while the notifier's database session is up.",
		    ns.db_up);
		if (ns.pending >= 0)
			one(b, "tlswatch_notify_pending", "gauge", "Deliveries pending in the database.",
			    (uint64_t)ns.pending);
	}
	render_probe_metrics(h, b);
}

char *http_srv_metrics_text(const struct http_srv *h)
{
	struct evbuffer *b = evbuffer_new();
	if (!b)
		return NULL;
	render_metrics(h, b);
	size_t n = evbuffer_get_length(b);
	char *s = malloc(n + 1);
	if (s) {
		evbuffer_remove(b, s, n);
		s[n] = '\0';
	}
	evbuffer_free(b);
	return s;
}

/* ---- handlers ---- */

static void reply_text(struct evhttp_request *req, int code, const char *reason,
		       const char *ctype, struct evbuffer *body)
{
	struct evkeyvalq *hdr = evhttp_request_get_output_headers(req);
	evhttp_add_header(hdr, "Content-Type", ctype);
	evhttp_add_header(hdr, "Cache-Control", "no-store");
	evhttp_send_reply(req, code, reason, body);
}

static void handle(struct evhttp_request *req, void *arg)
{
	struct http_srv *h = arg;
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
	const char *path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));
	if (!path)
		path = "/";
	if (cmd != EVHTTP_REQ_GET && cmd != EVHTTP_REQ_HEAD) {
		evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", "GET, HEAD");
		evhttp_send_error(req, 405, "Method Not Allowed");
		return;
	}
	struct evbuffer *body = evbuffer_new();
	if (!body) {
		evhttp_send_error(req, 500, "Internal Server Error");
		return;
	}
	if (strcmp(path, "/healthz") == 0) {
		evbuffer_add_printf(body, "ok\n");
		reply_text(req, 200, "OK", "text/plain; charset=utf-8", body);
	} else if (strcmp(path, "/readyz") == 0) {
		struct ingest_stats is;
		ingest_get_stats(h->ing, &is);
		bool dbok = db_is_ready(h->db);
		if (dbok && is.listening) {
			evbuffer_add_printf(body, "ready\n");
			reply_text(req, 200, "OK", "text/plain; charset=utf-8", body);
		} else {
			evbuffer_add_printf(body, "not ready:%s%s\n",
					    dbok ? "" : " database not ready (no connection up or "
							"schema not migrated)",
					    is.listening ? "" : " not listening for probes (shutting down)");
			reply_text(req, 503, "Service Unavailable", "text/plain; charset=utf-8", body);
		}
	} else if (strcmp(path, "/metrics") == 0) {
		render_metrics(h, body);
		reply_text(req, 200, "OK", "text/plain; version=0.0.4; charset=utf-8", body);
	} else {
		evbuffer_add_printf(body, "not found\n");
		reply_text(req, 404, "Not Found", "text/plain; charset=utf-8", body);
	}
	evbuffer_free(body);
}

struct http_srv *http_srv_new(struct event_base *base, const char *host, unsigned port,
			      struct ingest *ing, struct db_pool *db, char *err, size_t errlen)
{
	struct http_srv *h = calloc(1, sizeof *h);
	if (!h || !(h->http = evhttp_new(base))) {
		snprintf(err, errlen, "out of memory");
		free(h);
		return NULL;
	}
	h->ing = ing;
	h->db = db;
	evhttp_set_allowed_methods(h->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD | EVHTTP_REQ_POST |
				   EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE | EVHTTP_REQ_OPTIONS);
	evhttp_set_max_headers_size(h->http, 16384);
	evhttp_set_max_body_size(h->http, 65536);
	evhttp_set_timeout(h->http, 30);
	evhttp_set_gencb(h->http, handle, h);
	h->sock = evhttp_bind_socket_with_handle(h->http, host, (ev_uint16_t)port);
	if (!h->sock) {
		int e = EVUTIL_SOCKET_ERROR();
		snprintf(err, errlen, "cannot listen for HTTP on %s port %u: %s", host, port,
			 evutil_socket_error_to_string(e));
		http_srv_free(h);
		return NULL;
	}
	struct sockaddr_storage ss;
	socklen_t sl = sizeof ss;
	if (getsockname(evhttp_bound_socket_get_fd(h->sock), (struct sockaddr *)&ss, &sl) == 0)
		h->port = ss.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
						   : ntohs(((struct sockaddr_in *)&ss)->sin_port);
	return h;
}

unsigned http_srv_port(const struct http_srv *h)
{
	return h->port;
}

void http_srv_free(struct http_srv *h)
{
	if (!h)
		return;
	if (h->http)
		evhttp_free(h->http);
	free(h);
}
