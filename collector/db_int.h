/*
 * db_int.h - internals shared by the db_*.c files (not for other modules).
 *
 *   db_pool.c     the pool: N pgconn objects (pgconn.h), the job queues,
 *                 dispatch, the control tasks (probe records, last seq,
 *                 schema check, partition upkeep) and the public db.h API
 *   db_ingest.c   the ingest task: db_ingest(), grouping of queued batches,
 *                 BEGIN + COPY -> the ingest statement + COMMIT -> ROLLBACK,
 *                 retries and per-probe ordering
 *   db_sql.c      the SQL text of the ingest path (watermark lock and
 *                 transaction number, the upsert statement) and the COPY text
 *                 serialisation of a Result (the reference form)
 *   db_copy_bin.c the binary COPY tuple of a Result, what COPY results sends
 *   db_plan.c     one transaction's plan: rows above the watermark and the
 *                 small tables pre-aggregated in C
 *   db_seen.c     the sightings and targets rows the pool committed, so a
 *                 plan can leave out a row that moved less than a minute
 *   db_tab.c      the byte-string keyed hash table of both
 *   db_schema.c   blocking migrate and partition maintenance
 *
 * Ownership: the pool owns its slots (struct db_conn, as long as the pool)
 * and every job from queueing until job_finish() frees it, right after its
 * callback.
 */
#ifndef TW_DB_INT_H
#define TW_DB_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <libpq-fe.h>

#include "db.h"
#include "db_seen.h"
#include "db_tab.h"
#include "pgconn.h"
#include "strbuf.h"
#include "tlswatch.pb-c.h"

/* Number of latency buckets of the rollups' histograms; must equal
 * array_length(tw_latency_bounds(), 1) in the schema (checked at connect). */
#define DB_LATENCY_BUCKETS 20
/* Their bounds in ms: tw_latency_bounds() of the schema, which the rollup
 * builder buckets with (sql/020) and sli_latency.c reads percentiles with;
 * the connect check compares the two. */
#define DB_LATENCY_BOUNDS "0, 1, 2, 5, 10, 20, 30, 50, 75, 100, 150, 200, 300, 500, 750, 1000, " \
	"1500, 2500, 5000, 10000"

#define DB_TASK_TIMEOUT_MS 120000

/* ------------------------------------------------------------ SQL (db_sql.c) */

/* "COPY results (..) FROM STDIN (FORMAT binary)": the new rows go straight
 * into results, as tuples of db_copy_bin_result() (db_copy_bin.h). */
const char *db_sql_copy(void);
/* The upserts of one transaction from $1 (jsonb: the
 * certificates, sightings, probes and spool watermarks of its new
 * rows, db_plan.c). Built once; NULL when out of memory. */
const char *db_sql_ingest(void);
/* The targets upsert from $1 (jsonb {"t": [..]}, db_plan.c), the last
 * statement before COMMIT. */
const char *db_sql_targets(void);
/* The watermark lock for n (probe, epoch, received_at) triples ($1..$3n):
 * upserts their probe_spools rows in key order (locking them) and returns
 * (probe_id, spool_epoch, last_seq). Into b; -1 when out of memory. */
int db_sql_lock(struct strbuf *b, size_t n) __attribute__((warn_unused_result));
/* The rows already stored for n (probe, epoch, lowest seq, watermark)
 * quadruples ($1..$4n): (probe_id, spool_epoch, seq, started_at in unix ms). */
int db_sql_exist(struct strbuf *b, size_t n) __attribute__((warn_unused_result));

/* Appends one COPY text row of results for r (probe_id/region/version
 * override the Result's). Returns 0, or -1 when r cannot be stored (no seq,
 * seq beyond bigint, missing required field): the whole batch is refused.
 * The reference form of a row: ingest sends db_copy_bin_result()'s tuple,
 * which the tests check stores the same values as this. */
int db_copy_result(struct strbuf *b, const Tlswatch__Result *r, const char *probe_id,
		   const char *region, const char *version, int64_t received_unix_ms)
	__attribute__((warn_unused_result));
/* The same for a row of the spool epoch `epoch` ("" for db_copy_result). */
int db_copy_result_epoch(struct strbuf *b, const Tlswatch__Result *r, const char *probe_id,
			 const char *epoch, const char *region, const char *version,
			 int64_t received_unix_ms) __attribute__((warn_unused_result));

/* Length of the valid UTF-8 sequence at s (1..4), 0 when invalid. */
size_t db_utf8_len(const unsigned char *s);
/* Appends s with every byte that is not valid UTF-8 replaced by U+FFFD
 * (what the COPY rows store), unescaped. */
void db_put_clean(struct strbuf *b, const char *s);
/* Appends s (already valid UTF-8) escaped for COPY text format. */
void db_put_copy_text(struct strbuf *b, const char *s);
/* Appends the UTC timestamptz text of unix milliseconds ("2026-12-05
 * 03:08:18.123+00", "... BC" before year 1), the value to_timestamp(ms /
 * 1000.0) gives. */
void db_put_ts_ms(struct strbuf *b, int64_t ms);
/* The started_unix_ms a Result is stored with (clamped; received_ms when
 * the Result has none). */
int64_t db_started_ms(const Tlswatch__Result *r, int64_t received_unix_ms);

/* ------------------------------------------------------------ plan (db_plan.c) */

struct db_job;
struct db_conn;

/* What a transaction needs of one Result besides its COPY line: the fields
 * of the certificates, sightings and targets. Strings are offsets
 * into the job's arena (sanitised as stored; 0 = NULL). */
struct db_row {
	int64_t seq;
	size_t line, line_len;      /* its COPY tuple in the job's copy buffer */
	int64_t started_ms;
	int64_t nb_s, na_s;
	size_t target, sni, profile, service, fp, subject, sans, issuer, key, sig_alg,
		labels;
	int32_t port;
	bool kept;                  /* db_plan_build(): a new row */
	unsigned flags;             /* DB_ROW_* */
};
#define DB_ROW_NB 0x1u /* cert_not_before set */
#define DB_ROW_NA 0x2u /* cert_not_after set */

/* Appends s (clean UTF-8, NULL for null) as a JSON string value. */
void db_json_str(struct strbuf *b, const char *s);
/* Records r (already COPY-encoded at [line, line + len) of j->copy) in j. */
int db_plan_add_row(struct db_job *j, const Tlswatch__Result *r, size_t line, size_t len,
		    int64_t received_ms) __attribute__((warn_unused_result));
/* The plan of c's group once each job's watermark is known: the COPY rows of
 * results (rows above the watermark, each seq once, in order) and the jsonb
 * of the small tables; sets each job's
 * `inserted`. -1 when out of memory. */
int db_plan_build(struct db_conn *c) __attribute__((warn_unused_result));
void db_plan_free(struct db_conn *c);

/* ------------------------------------------------------------ jobs */

enum db_job_kind {
	J_INGEST,   /* a batch: COPY + ingest statement */
	J_SEEN,     /* db_probe_seen upsert */
	J_LAST_SEQ, /* db_last_seq lookup */
	J_MAINTAIN_1M, /* tw_maintain_minute_partitions(): its own transaction */
	J_MAINTAIN, /* tw_maintain_partitions() */
	J_SCHEMA,   /* re-read the schema version */
};

struct db_job {
	struct db_job *next;
	enum db_job_kind kind;
	char *probe_id;
	char *epoch;        /* J_INGEST, J_LAST_SEQ: the probe's spool epoch */
	/* J_INGEST */
	struct strbuf copy;
	size_t rows;
	uint64_t max_seq;
	size_t inserted;
	struct db_row *rowv;        /* one per Result, in order */
	size_t rows_added;
	size_t probe_off, epoch_off, region_off, version_off; /* in arena, clean */
	struct strbuf arena;        /* their strings */
	int64_t received_ms;
	int64_t wm;                 /* the watermark read under the lock */
	bool has_wm;
	int64_t min_seq;            /* of its rows */
	int64_t *exist;             /* (seq, started ms) pairs of results at or
				     * below wm that the rows might repeat */
	size_t nexist, exist_cap;
	int retries, broken;
	db_ingest_cb cb;
	void *arg;
	/* J_LAST_SEQ */
	void (*seq_cb)(void *arg, bool found, uint64_t seq);
	bool found;
	uint64_t seq;
	/* J_SEEN */
	char *region, *version;
	double clock_offset_ms;
	int64_t seen_ms;
	struct db_probe_counters counters;
};

struct db_jobq {
	struct db_job *head, *tail;
	size_t n;
};

void db_q_push(struct db_jobq *q, struct db_job *j);
struct db_job *db_q_pop(struct db_jobq *q);
/* Puts the jobs of `front` (in their order) before those of q. */
void db_q_prepend(struct db_jobq *q, struct db_jobq *front);
void db_job_free(struct db_job *j);

/* ------------------------------------------------------------ slots */

enum db_task {
	T_NONE,    /* no task: the slot takes work when its pgconn is idle */
	T_CHECK,   /* just connected: reading the schema version */
	T_INGEST,  /* a group of batches (db_ingest.c) */
	T_CONTROL, /* one control job */
};

/* One pool slot: a pgconn and the task running on it. */
struct db_conn {
	struct db_pool *p;
	unsigned idx;
	struct pgconn *pg;
	bool checked;            /* up and schema read: counted in p->up */
	enum db_task task;
	int step;                /* the task's round trip */
	struct db_jobq jobs;     /* T_INGEST: the group; T_CONTROL: one job */
	size_t copy_off;         /* COPY results: the cursor in its stream */
	size_t copy_run, copy_base; /* COPY results: the run the cursor is in, and
				     * the offset of its start (db_ingest.c) */
	bool failed, committed;  /* the task's first error (kept through ROLLBACK) */
	/* T_INGEST: the transaction's plan (db_plan.c) */
	struct strbuf lock_sql, rows, misc, tmisc; /* rows: struct db_run */
	size_t ntargets;         /* in tmisc */
	struct strbuf pend_sights, pend_targets; /* its writes, for db_seen_commit() */
	const char **lock_vals;
	char sqlstate[6];
	char err[256];
};

struct db_pool {
	struct event_base *base;
	struct db_opts o;
	struct db_conn *conns;
	unsigned nconns, up;
	struct db_jobq ingq, ctlq;
	size_t queued_rows;
	struct event *kick, *tick;
	void (*ready_cb)(void *arg);
	void *ready_arg;
	bool accepting;     /* db_can_accept() when last looked */
	bool ready_pending; /* accepting resumed: call ready_cb from the kick event */
	int schema_version;
	int schema_buckets;
	int latest;
	bool maint_queued, schema_queued;
	double next_maint;  /* twtime_mono_ms(); 0 = as soon as the schema is current */
	double next_schema; /* while not ready: the next schema re-check */
	struct db_stats st;
	/* the sightings and targets rows committed (db_seen.h) */
	struct db_tab seen_sights, seen_targets;
};

bool db_pool_can_accept(const struct db_pool *p);
/* After any change of connections or queue: dispatch, and tell the server
 * (from the kick event) when accepting resumes. */
void db_pool_changed(struct db_pool *p);
/* Sends one request of c's task (callback: the pool's). False when it could
 * not be sent: the task's jobs have then been requeued or failed. */
bool db_pool_send(struct db_conn *c, const char *sql, int n, const char *const *vals,
		  pgconn_copy_cb copy);
/* The task is over: c takes work again; then the jobs' callbacks. */
void db_pool_task_end(struct db_conn *c, struct db_jobq *done, bool ok, const char *err);
/* Calls the job's callback (unless cancelled) and frees it. */
void db_pool_job_finish(struct db_pool *p, struct db_job *j, bool ok, const char *err);

/* ------------------------------------------------------------ ingest (db_ingest.c) */

/* A run of consecutive kept tuples in one job's copy buffer. c->rows holds
 * these, not the bytes (they stay in the jobs until the task ends): the
 * COPY results stream reads them in order (db_ingest.c), so the tuples are
 * written once, at db_ingest() time, and never copied again. */
struct db_run {
	const char *p;
	size_t len;
};
/* Appends the tuple [line, line + len) of j->copy to the runs in rows. */
void db_ingest_run_add(struct strbuf *rows, const struct db_job *j, size_t line, size_t len);

/* A batch failed for good: moves the same probe's queued batches to out. */
void db_ingest_fail_probe(struct db_pool *p, const char *probe_id, struct db_jobq *out);
/* Takes the next group of queued batches onto c and starts it. False when
 * nothing can be taken. */
bool db_ingest_start(struct db_conn *c);
/* One result of the running ingest task. */
void db_ingest_result(struct db_conn *c, const PGresult *r);
/* A round trip of the ingest task is done (c->failed says how). */
void db_ingest_step_done(struct db_conn *c);

#endif
