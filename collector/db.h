/*
 * db.h - the collector's storage: a small pool of asynchronous PostgreSQL
 * connections (pgconn.h) driven by the collector's libevent loop (no
 * blocking call on the loop after startup), and the ingest transaction of
 * DESIGN 1/6:
 *
 *   BEGIN; lock the probe's probe_spools row (its watermark, last_seq);
 *   drop the rows already stored (at or below it, checked by key);
 *   COPY results FROM STDIN (the new rows);
 *   rollups, certificate inventory, targets, probes.last_seq and
 *   probe_spools.last_seq upserted from those rows, pre-aggregated;
 *   COMMIT;  then the caller's callback (which sends the Ack).
 *
 * A replayed batch inserts nothing and so changes nothing (db_ingest.c).
 *
 * Ownership and lifetime: db_ingest() serialises the results into its own
 * COPY buffer before it returns; the caller may free them at once. The
 * callback may be cancelled (db_job_cancel) when its connection goes away;
 * the transaction still completes (or rolls back) on its own.
 *
 * Backpressure: db_ingest() returns NULL with errno EAGAIN when no
 * connection is up or the queue is full (db_can_accept() says so ahead);
 * the caller stops reading from probes and retries when db_on_ready fires.
 * Connections that fail are re-established with backoff by themselves.
 *
 * Names are prefixed db_ (the collector links with the probe library).
 */
#ifndef TW_DB_H
#define TW_DB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <event2/event.h>

#include "tlswatch.pb-c.h"

struct db_pool;
struct db_job;

struct db_opts {
	const char *conninfo;      /* libpq connection string or URI */
	unsigned connections;      /* 0 = 4 */
	size_t queue_max_rows;     /* rows waiting for a connection; 0 = 50000 */
	unsigned reconnect_min_ms; /* 0 = 250 */
	unsigned reconnect_max_ms; /* 0 = 10000 */
	unsigned retention_days;   /* 0 = 30: partitions older are dropped */
	unsigned partitions_ahead_days; /* 0 = 3 */
};

/* ok: committed; max_seq is the highest seq of the batch (committed or
 * already present), inserted how many rows were new. On failure err says
 * why (the transaction was rolled back; nothing is acked). */
typedef void (*db_ingest_cb)(void *arg, bool ok, uint64_t max_seq, size_t inserted,
			     const char *err);

/* Whether libpq can use conninfo at all (db_conninfo.c): its syntax and
 * option names (PQconninfoParse) and the values libpq checks before any
 * network I/O, from the string or the environment. 0, or -1 with a message
 * naming the option (never a password). No network, no blocking. */
int db_conninfo_check(const char *conninfo, char *err, size_t errlen);

/* Starts connecting (returns at once). NULL on bad options (a conninfo
 * db_conninfo_check refuses: retrying could never help) / ENOMEM. */
struct db_pool *db_pool_new(struct event_base *base, const struct db_opts *o,
			    char *err, size_t errlen);
void db_pool_free(struct db_pool *p);

/* Called (from the loop) whenever the pool goes from not accepting to
 * accepting work, so the server can resume reading. */
void db_on_ready(struct db_pool *p, void (*cb)(void *arg), void *arg);

bool db_can_accept(const struct db_pool *p);
/* At least one connection is up and the schema is at the latest version. */
bool db_is_ready(const struct db_pool *p);

/* Queues one batch from one probe (identity already checked by the
 * server: probe_id and region are the certificate's, they override what the
 * results say). received_unix_ms is when the collector read the frame. */
struct db_job *db_ingest(struct db_pool *p, const char *probe_id, const char *region,
			 const char *probe_version, Tlswatch__Result *const *results, size_t n,
			 int64_t received_unix_ms, db_ingest_cb cb, void *arg);
/* The same for the probe's spool epoch `epoch` (Hello.spool_epoch; "" for
 * db_ingest): rows are keyed and acked per (probe_id, epoch), sql/008. */
struct db_job *db_ingest_epoch(struct db_pool *p, const char *probe_id, const char *epoch,
			       const char *region, const char *probe_version,
			       Tlswatch__Result *const *results, size_t n, int64_t received_unix_ms,
			       db_ingest_cb cb, void *arg);
void db_job_cancel(struct db_job *j);

/* Records a probe's hello/heartbeat: last_seen, version, clock offset
 * (probe clock - collector clock, ms). Fire and forget, queued like a batch. */
/* What a heartbeat says of the probe's spool and scheduler (proto Heartbeat);
 * each field is stored only when `has_` is set. */
struct db_probe_counters {
	bool has_spool_records, has_spool_bytes, has_dropped, has_overdue;
	uint64_t spool_records, spool_bytes, dropped, overdue;
};

void db_probe_seen(struct db_pool *p, const char *probe_id, const char *region,
		   const char *version, double clock_offset_ms,
		   const struct db_probe_counters *counters);

/* The highest committed seq for a probe, for the Ack sent after Hello.
 * cb(arg, found, seq). Returns -1 when not accepting (no connection). */
int db_last_seq(struct db_pool *p, const char *probe_id,
		void (*cb)(void *arg, bool found, uint64_t seq), void *arg);
/* The highest committed seq of one spool epoch of the probe (db_last_seq is
 * the epoch ""); a new epoch is not found: nothing of it is acked. */
int db_last_seq_epoch(struct db_pool *p, const char *probe_id, const char *epoch,
		      void (*cb)(void *arg, bool found, uint64_t seq), void *arg);

struct db_stats {
	uint64_t batches_committed, rows_inserted, rows_duplicate, batches_failed;
	uint64_t reconnects;
	unsigned connections_up;
	size_t queued_rows;
};
void db_get_stats(const struct db_pool *p, struct db_stats *st);

/* Blocking, for `tlswatch-collector migrate` and startup only: applies
* the embedded sql/NNN_*.sql files (sql_migrations.h) in order inside transactions, recording each
 * in schema_migrations. Returns the number applied, -1 with err set. */
int db_migrate(const char *conninfo, char *err, size_t errlen);

/* Blocking: creates partitions [today - retention, today + ahead] and drops
 * those older than retention. The pool repeats this hourly on the loop, asynchronously. */
int db_maintain_partitions(const char *conninfo, unsigned retention_days,
			   unsigned ahead_days, char *err, size_t errlen);

#endif
