/*
 * db_int.h - internals shared by the db_*.c files (not for other modules).
 *
 *   db_sql.c      the SQL text of the ingest path (staging DDL, the one
 *                 ingest statement) and the COPY text serialisation of a Result
 *   db_schema.c   blocking migrate and partition maintenance
 *   db.c          the asynchronous connection pool and its job queue
 */
#ifndef TW_DB_INT_H
#define TW_DB_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <libpq-fe.h>

#include "tlswatch.pb-c.h"

/* Growable byte buffer; after an allocation failure `oom` stays set and
 * appends are ignored, so callers check once at the end. */
struct db_buf {
	char *p;
	size_t len, cap;
	bool oom;
};

void db_buf_put(struct db_buf *b, const void *s, size_t n);
void db_buf_puts(struct db_buf *b, const char *s);
void db_buf_printf(struct db_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void db_buf_free(struct db_buf *b);

/* Number of latency buckets the ingest statement builds; must equal
 * array_length(tw_latency_bounds(), 1) in the schema (checked at connect). */
#define DB_LATENCY_BUCKETS 20

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
int db_copy_result(struct db_buf *b, const Tlswatch__Result *r, const char *probe_id,
		   const char *region, const char *version, int64_t received_unix_ms)
	__attribute__((warn_unused_result));

/* PQconnectdbParams/PQconnectStartParams keywords: the user's conninfo
 * expanded plus our fallback_application_name and client_encoding. */
void db_conn_params(const char *conninfo, const char *keys[5], const char *vals[5]);

#endif
