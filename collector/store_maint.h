/*
 * store_maint.h - the statements behind GET/POST /api/v1/maintenance and
 * DELETE /api/v1/maintenance/{id} (sql/002_alerts.sql maintenance_windows;
 * the same table and semantics as `tlswatch-collector maintenance`, maint.c:
 * a window matches an alert when every non-NULL selector field matches,
 * tw_in_maintenance() in sql/003_slo.sql). PostgreSQL builds each row's JSON
 * (the Maintenance schema of collector/openapi.json).
 *
 * Ownership: a window borrows its strings; JSON returned is the caller's.
 */
#ifndef TW_STORE_MAINT_H
#define TW_STORE_MAINT_H

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>
#include <libpq-fe.h>

#include "maint.h"
#include "store.h"
#include "store_stmt.h"

/* Windows that have not ended at now (all: every one), soonest start first. */
void store_maint_list_stmt(int64_t now_ms, bool all, struct store_stmt *st);
/* {"items": [...]}; NULL with err set. */
json_t *store_maint_list_json(const PGresult *res, char *err, size_t errlen);

/* Inserts w (validated by the caller: ends after it starts, reason set);
 * the result's one row is the new window. */
void store_maint_create_stmt(int64_t now_ms, const struct maint_window *w, struct store_stmt *st);
/* The created window; NULL with err set. */
json_t *store_maint_created_json(const PGresult *res, char *err, size_t errlen);

/* Deletes window id; the result has one row when it existed, none when not. */
void store_maint_delete_stmt(int64_t id, struct store_stmt *st);

/* As store operations (store.h). Out of memory before the operation
 * exists: cb is called at once. Delete answers {"id": id} or
 * STORE_NOT_FOUND. */
void store_maint_list_start(struct store *s, int64_t now_ms, bool all, store_cb cb, void *arg);
void store_maint_create_start(struct store *s, int64_t now_ms, const struct maint_window *w,
			      store_cb cb, void *arg);
void store_maint_delete_start(struct store *s, int64_t id, store_cb cb, void *arg);

#endif
