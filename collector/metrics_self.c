/*
 * metrics_self.c - the collector's own series on /metrics: the probe
 * listener, the ingest pipeline, the database pool, the evaluator and the
 * notifier (tlswatch_collector_*, tlswatch_evaluator_*, tlswatch_notify_*),
 * and per probe streaming here its last heartbeat's spool counters
 * (tlswatch_probe_*). All read from in-memory counters: nothing blocks.
 */
#include "metrics_self.h"
#include "db.h"
#include "evaluator.h"
#include "ingest.h"
#include "metrics_expo.h"
#include "notify.h"
#include "report_sched.h"

#include <stdint.h>

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
	metrics_expo_label_value(f->b, r->probe_id);
	evbuffer_add_printf(f->b, "\",region=\"");
	metrics_expo_label_value(f->b, r->region);
	if (f->which < 4)
		evbuffer_add_printf(f->b, "\"} %llu\n", (unsigned long long)v[f->which]);
	else
		evbuffer_add_printf(f->b, "\"} %.3f\n", (double)r->at_unix_ms / 1000.0);
}

static void render_probe_metrics(const struct ingest *ing, struct evbuffer *b)
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
		metrics_expo_family(b, fams[i].name, fams[i].type, fams[i].help);
		struct probe_family f = { b, fams[i].name, i };
		ingest_each_probe(ing, probe_sample, &f);
	}
}

void metrics_self_render(struct evbuffer *b, const struct ingest *ing, const struct db_pool *db,
			 struct evaluator *ev, const struct notifier *nt)
{
	struct ingest_stats is;
	struct db_stats ds;
	ingest_get_stats(ing, &is);
	db_get_stats(db, &ds);

	metrics_expo_one(b, "tlswatch_collector_listening", "gauge",
	    "1 while the probe listener accepts connections.", is.listening);
	metrics_expo_one(b, "tlswatch_collector_ready", "gauge",
	    "1 when /readyz answers 200 (database ready and listening).",
	    is.listening && db_is_ready(db));
	metrics_expo_one(b, "tlswatch_collector_connections", "gauge",
	    "Probe connections currently open (any state).", is.connections_current);
	metrics_expo_one(b, "tlswatch_collector_connections_accepted_total", "counter",
	    "Probe TCP connections accepted.", is.connections_total);
	metrics_expo_family(b, "tlswatch_collector_connections_refused_total", "counter",
	       "Probe connections refused, by reason.");
	for (int r = 0; r < REFUSE__COUNT; r++)
		evbuffer_add_printf(b, "tlswatch_collector_connections_refused_total{reason=\"%s\"} %llu\n",
				    ingest_refusal_name((enum ingest_refusal)r),
				    (unsigned long long)is.refused[r]);
	metrics_expo_family(b, "tlswatch_collector_connections_closed_total", "counter",
	       "Accepted probe streams closed for reasons other than a refusal.");
	for (int c = 0; c < CLOSE__COUNT; c++)
		evbuffer_add_printf(b, "tlswatch_collector_connections_closed_total{reason=\"%s\"} %llu\n",
				    ingest_close_name((enum ingest_close)c),
				    (unsigned long long)is.closed[c]);
	metrics_expo_one(b, "tlswatch_collector_tls_handshakes_total", "counter",
	    "TLS handshakes completed with a verified client certificate.", is.handshakes);
	metrics_expo_one(b, "tlswatch_collector_frames_received_total", "counter",
	    "Frames received from probes (any message).", is.frames);
	metrics_expo_one(b, "tlswatch_collector_hellos_received_total", "counter",
	    "Hello messages accepted.", is.hellos);
	metrics_expo_one(b, "tlswatch_collector_heartbeats_received_total", "counter",
	    "Heartbeat messages received.", is.heartbeats);
	metrics_expo_one(b, "tlswatch_collector_batches_received_total", "counter",
	    "ResultBatch messages accepted.", is.batches);
	metrics_expo_one(b, "tlswatch_collector_results_received_total", "counter",
	    "Results received, including replays.", is.results);
	metrics_expo_one(b, "tlswatch_collector_acks_sent_total", "counter",
	    "Acks sent to probes.", is.acks);
	metrics_expo_one(b, "tlswatch_collector_pending_rows", "gauge",
	    "Rows received and not yet committed, over all connections.", is.pending_rows);
	metrics_expo_one(b, "tlswatch_collector_reading_paused", "gauge",
	    "1 while reads from probes are paused because the database cannot take more.",
	    is.reading_paused);
	metrics_expo_one(b, "tlswatch_collector_rows_inserted_total", "counter",
	    "Result rows inserted into the database (new rows).", ds.rows_inserted);
	metrics_expo_one(b, "tlswatch_collector_rows_duplicate_total", "counter",
	    "Result rows received again and already stored (replays).", ds.rows_duplicate);
	metrics_expo_one(b, "tlswatch_collector_batches_committed_total", "counter",
	    "Ingest transactions committed.", ds.batches_committed);
	metrics_expo_one(b, "tlswatch_collector_batches_failed_total", "counter",
	    "Ingest transactions that failed (rolled back, not acked).", ds.batches_failed);
	metrics_expo_one(b, "tlswatch_collector_db_reconnects_total", "counter",
	    "Database connections re-established.", ds.reconnects);
	metrics_expo_one(b, "tlswatch_collector_db_connections_up", "gauge",
	    "Database connections currently up.", ds.connections_up);
	metrics_expo_one(b, "tlswatch_collector_db_queued_rows", "gauge",
	    "Rows waiting for a database connection.", ds.queued_rows);
	if (ev) {
		struct evaluator_stats es;
		evaluator_get_stats(ev, &es);
		metrics_expo_one(b, "tlswatch_evaluator_leader", "gauge",
		    "1 while this collector holds the evaluator lock (evaluates alerts).", es.leader);
		metrics_expo_one(b, "tlswatch_evaluator_runs_total", "counter", "Alert evaluations completed.", es.runs);
		metrics_expo_one(b, "tlswatch_evaluator_failures_total", "counter", "Alert evaluations that failed.",
		    es.failures);
		metrics_expo_family(b, "tlswatch_evaluator_last_duration_seconds", "gauge",
		       "Duration of the last alert evaluation.");
		evbuffer_add_printf(b, "tlswatch_evaluator_last_duration_seconds %.6f\n",
				    es.last_duration_ms / 1000.0);
		report_sched_metrics_render(b);   /* scheduled reports run on the leader */
	}
	if (nt) {
		struct notifier_stats ns;
		notify_get_stats(nt, &ns);
		metrics_expo_one(b, "tlswatch_notify_routed_total", "counter", "Outbox rows routed to sinks.", ns.routed);
		metrics_expo_one(b, "tlswatch_notify_attempts_total", "counter", "Delivery attempts (HTTP requests).",
		    ns.attempts);
		metrics_expo_one(b, "tlswatch_notify_delivered_total", "counter", "Deliveries acknowledged by a sink.",
		    ns.delivered);
		metrics_expo_one(b, "tlswatch_notify_failed_total", "counter",
		    "Deliveries given up (4xx, or out of attempts or age).", ns.failed);
		metrics_expo_one(b, "tlswatch_notify_retries_total", "counter", "Attempts that scheduled a retry.",
		    ns.retries);
		metrics_expo_one(b, "tlswatch_notify_in_flight", "gauge", "Delivery requests in flight.", ns.in_flight);
		metrics_expo_one(b, "tlswatch_notify_db_up", "gauge", "1 while the notifier's database session is up.",
		    ns.db_up);
		if (ns.pending >= 0)
			metrics_expo_one(b, "tlswatch_notify_pending", "gauge", "Deliveries pending in the database.",
			    (uint64_t)ns.pending);
	}
	render_probe_metrics(ing, b);
}
