/*
 * ingest.h - the collector's probe-connection server (DESIGN 5, issue 3).
 *
 * Probes connect over mutual TLS (only certificates issued by the configured
 * CA; no system trust store). A probe's identity is its client certificate:
 * subject CN = probe id, OU = region. Frames are common/frame.h Envelopes:
 * first a Hello whose probe_id (and region, if given) must equal the
 * certificate's, then ResultBatches and Heartbeats. Each batch goes to
 * db_ingest(); the collector sends Ack(seq) after the rows are committed.
 * The connection state machine is described in ingest_conn.c; the files
 * of the server are listed in ingest_int.h.
 *
 * Anything a probe does wrong (no or untrusted certificate, identity
 * mismatch, oversized or malformed frame, ...) closes that connection only,
 * with one log line naming the peer and the reason, counted per reason.
 * Once TLS is up the probe is told why first: an Error frame whose code is
 * the reason's ingest_refusal_name() and whose message is the logged
 * sentence.
 *
 * Ownership: the event_base and the db_pool are borrowed and must outlive
 * the server. ingest_free() closes every connection (cancelling their db
 * jobs) and frees everything.
 */
#ifndef TW_INGEST_H
#define TW_INGEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <event2/event.h>

#include "ingest_refusal.h"

struct db_pool;
struct ingest;

struct ingest_opts {
	const char *host;              /* listen address (numeric or resolvable) */
	unsigned port;                 /* 0 = any free port (tests) */
	const char *ca_file;           /* the probes' CA */
	const char *cert_file;         /* the collector's certificate chain */
	const char *key_file;
	size_t max_frame;              /* 0 = FRAME_DEFAULT_MAX */
	unsigned max_connections;      /* 0 = 10000 */
	unsigned handshake_timeout_ms; /* 0 = 10 s */
	unsigned hello_timeout_ms;     /* 0 = 10 s */
	unsigned idle_timeout_ms;      /* no frame for this long closes; 0 = 60 s */
	size_t max_pending_rows;       /* rows buffered per connection; 0 = 10000 */
	size_t max_conn_bytes;         /* memory of decoded batches per connection (and
					* twice a frame's decoding); 0 = 16 x max_frame,
					* never less */
	size_t max_total_bytes;        /* the same over all connections; 0 = 1 GiB, never
					* less than max_conn_bytes */
};

/* Static metrics label: "no_client_cert", "frame_too_large", ... */
const char *ingest_refusal_name(enum ingest_refusal r);
const char *ingest_close_name(enum ingest_close c);

struct ingest_stats {
	bool listening;
	bool reading_paused;           /* backpressure: the database cannot take more */
	uint64_t connections_current;
	uint64_t connections_total;    /* accepted TCP connections */
	uint64_t refused[REFUSE__COUNT];
	uint64_t closed[CLOSE__COUNT];
	uint64_t handshakes;           /* TLS handshakes completed */
	uint64_t frames;               /* frames received (any kind) */
	uint64_t hellos, heartbeats, batches;
	uint64_t results;              /* results received (including replays) */
	uint64_t acks;                 /* acks sent */
	uint64_t jobs_committed, jobs_failed;
	uint64_t rows_inserted, rows_duplicate; /* as reported per committed job */
	uint64_t pending_rows;         /* received, not yet committed (all connections) */
	uint64_t buffered_bytes;       /* what those rows' decoding cost (ingest_frame.c) */
};

/* Loads the TLS material (key mode checked), binds and starts accepting.
 * Returns NULL with a one-line reason in err; *bind_failed tells a bind
 * failure (runtime) from a bad certificate/key (configuration). */
struct ingest *ingest_new(struct event_base *base, struct db_pool *db,
			  const struct ingest_opts *o, bool *bind_failed, char *err, size_t errlen);

/* Builds the TLS server context from o (key mode, certificate, key, CA)
 * and throws it away: for --check-config. 0, or -1 with the reason. */
int ingest_check_tls(const struct ingest_opts *o, char *err, size_t errlen);

/* The port actually bound (useful with port 0). */
unsigned ingest_port(const struct ingest *ing);

/* Graceful stop: stop accepting, close connections that have not sent a
 * Hello, stop reading from the others, let their in-flight and already
 * received batches commit and be acked, then close them. done(arg) is
 * called from the loop once every connection is gone or after timeout_ms
 * (then the rest are closed, their jobs cancelled). Call once. */
void ingest_shutdown(struct ingest *ing, unsigned timeout_ms, void (*done)(void *arg),
		     void *arg);

void ingest_get_stats(const struct ingest *ing, struct ingest_stats *st);

/* The last heartbeat of one probe streaming to this collector: its spool
 * (unacked records and bytes) and its lifetime counters of dropped records
 * (spool full: results lost for good) and overdue schedule slots. */
struct ingest_probe_report {
	const char *probe_id, *region;   /* borrowed: valid during the callback */
	uint64_t spool_records, spool_bytes, dropped, overdue;
	int64_t at_unix_ms;              /* collector clock when it came */
};

/* Calls cb once per connection past its Hello that has sent a heartbeat
 * (for /metrics). cb must not call back into the server. */
void ingest_each_probe(const struct ingest *ing,
		       void (*cb)(void *arg, const struct ingest_probe_report *r), void *arg);

/* Closes everything and frees the server. NULL is fine. */
void ingest_free(struct ingest *ing);

#endif
