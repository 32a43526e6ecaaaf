/*
 * db_int.h - internals shared by the db_*.c files (not for other modules).
 *
 *   db_pool.c     the pool: N pgconn objects (pgconn.h), the job queues,
 *                 dispatch, the control tasks (probe records, last seq,
 *                 schema check, partition upkeep) and the public db.h API
 *   db_ingest.c   the ingest task: db_ingest(), grouping of queued batches,
 *                 BEGIN + COPY -> the ingest statement + COMMIT -> ROLLBACK,
 *                 retries and per-probe ordering
 *   db_sql.c      the SQL text of the ingest path (staging DDL, the one
 *                 ingest statement) and the COPY text serialisation of a Result
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
#include "pgconn.h"
#include "strbuf.h"
#include "tlswatch.pb-c.h"

/* Number of latency buckets the ingest statement builds; must equal
 * array_length(tw_latency_bounds(), 1) in the schema (checked at connect). */
#define DB_LATENCY_BUCKETS 20

#define DB_TASK_TIMEOUT_MS 120000

/* ------------------------------------------------------------ SQL (db_sql.c) */

/* "CREATE TEMP TABLE IF NOT EXISTS staging (..) ON COMMIT DELETE ROWS". */
const char *db_sql_staging_ddl(void);
/* "COPY staging (..) FROM STDIN". */
const char *db_sql_copy(void);
/* The one ingest statement, followed by "; COMMIT" (one round trip): returns
 * rows (probe_id, inserted), then COMMIT's status. Built once; NULL when out
 * of memory. */
const char *db_sql_ingest(void);

/* Appends one COPY text row for r (probe_id/region/version override the
 * Result's). Returns 0, or -1 when r cannot be stored (no seq, seq beyond
 * bigint, missing required field): the whole batch is then refused. */
int db_copy_result(struct strbuf *b, const Tlswatch__Result *r, const char *probe_id,
		   const char *region, const char *version, int64_t received_unix_ms)
	__attribute__((warn_unused_result));
/* The same for a row of the spool epoch `epoch` ("" for db_copy_result). */
int db_copy_result_epoch(struct strbuf *b, const Tlswatch__Result *r, const char *probe_id,
			 const char *epoch, const char *region, const char *version,
			 int64_t received_unix_ms) __attribute__((warn_unused_result));

/* ------------------------------------------------------------ jobs */

enum db_job_kind {
	J_INGEST,   /* a batch: COPY + ingest statement */
	J_SEEN,     /* db_probe_seen upsert */
	J_LAST_SEQ, /* db_last_seq lookup */
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
	struct db_job *copy_job; /* COPY cursor */
	size_t copy_off;
	bool failed, committed;  /* the task's first error (kept through ROLLBACK) */
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
