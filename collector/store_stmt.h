/*
 * store_stmt.h - one statement of an API read or write, built before it is
 * sent: its SQL text and its parameters ($1..$n, never literals), so the
 * same statement runs on the event loop (pgconn_submit) or blocking
 * (PQexecParams, the benchmark and the CLI). The store_* modules of the
 * API's endpoints (store_sli.c, store_slo.c, store_alerts.c, store_certs.c,
 * store_probes.c, store_maint.c) build them and decode their results.
 *
 * Ownership: the struct owns its SQL text and parameter copies; free with
 * store_stmt_free(). A zeroed struct is empty and valid.
 */
#ifndef TW_STORE_STMT_H
#define TW_STORE_STMT_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>
#include <libpq-fe.h>

#include "sli.h"
#include "store.h"
#include "strbuf.h"

struct store_stmt {
	struct strbuf sql;
	struct sli_params p;       /* parameters, numbered in order of sli_params_add */
};

/* Appends a parameter and "$n" for it to the SQL (NULL = SQL NULL). */
void store_stmt_param(struct store_stmt *s, const char *v);
/* Building ran out of memory (or parameters): the statement must not run. */
bool store_stmt_failed(const struct store_stmt *s);
void store_stmt_free(struct store_stmt *s);

/* Column col of row i parsed as JSON (the rows whose JSON PostgreSQL
 * built); NULL with err set when it is not JSON. */
json_t *store_stmt_row_json(const PGresult *res, int i, int col, char *err, size_t errlen);

/* {"items": [column 0 of each row, as JSON]}. With limit > 0 the statement
 * asked for limit + 1 rows (keyset pages): the first limit are the items,
 * and "next_cursor" is "C1.C2" (columns 1 and 2, the keyset) of the last
 * item when there was one more row, else null. NULL with err set. */
json_t *store_stmt_items_json(const PGresult *res, unsigned limit, char *err, size_t errlen);

/* ---- a store operation of one statement (store.h) ----
 *
 * Built before it is queued (the op owns a copy of every value, so nothing
 * of the HTTP request is needed once it has started), answered by its
 * decode function: JSON for STORE_OK, or NULL with *status and err set
 * (e.g. STORE_NOT_FOUND). */
struct store_stmt_op {
	struct store_op op;        /* first: a store_op */
	struct store_stmt st;
	json_t *(*decode)(struct store_stmt_op *o, PGresult *res, enum store_status *status,
			  char *err, size_t errlen);
	void (*cleanup)(struct store_stmt_op *o);   /* the embedding struct's own fields; may be NULL */
};

/* A zeroed op of size bytes (>= sizeof(struct store_stmt_op)); NULL on ENOMEM. */
void *store_stmt_op_new(size_t size);
/* Queues o (taken in every case; a statement that failed to build is
 * answered STORE_ERROR "out of memory"). */
void store_stmt_op_start(struct store *s, struct store_stmt_op *o, store_cb cb, void *arg);
/* Makes st op's next statement: 0, or -1 (too many parameters, ENOMEM). */
int store_stmt_load(struct store_op *op, const struct store_stmt *st);

/* RFC 3339 UTC with milliseconds, as every timestamp of the API. */
#define STORE_TS(col) "to_char((" col ") AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"

#endif
