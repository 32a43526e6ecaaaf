/*
 * store_alerts.h - the reads behind GET /api/v1/alerts and
 * GET /api/v1/alerts/{id} (sql/002_alerts.sql, 003_slo.sql): each row's JSON
 * is built by PostgreSQL (the Alert, AlertEvent and Delivery schemas of
 * collector/openapi.json), so decoding is parsing.
 *
 * The list is newest change first: an alert's last change is
 * coalesce(resolved_at, firing_since, pending_since) (its lifecycle only
 * moves forward); ties by id, descending. Keyset pagination on (change, id):
 * the cursor is "<change in Unix microseconds>.<id>" of the page's last row,
 * so rows that change while a client pages never make a page repeat one.
 *
 * Ownership: requests borrow their strings; JSON returned is the caller's.
 */
#ifndef TW_STORE_ALERTS_H
#define TW_STORE_ALERTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include <libpq-fe.h>

#include "store.h"
#include "store_stmt.h"

struct store_alerts_req {
	const char *state;       /* "firing", "pending", "resolved" or NULL: all */
	bool have_since;
	int64_t since_ms;        /* last change at or after it */
	const char *service;     /* NULL: any */
	const char *region;      /* region_group; NULL: any */
	unsigned limit;          /* 1..1000 */
	bool have_cursor;
	int64_t cursor_us, cursor_id;
};

/* "<us>.<id>" -> cursor fields; -1 when it is not one. */
int store_alerts_cursor_parse(const char *s, int64_t *us, int64_t *id);

void store_alerts_list_stmt(const struct store_alerts_req *rq, struct store_stmt *st);
/* {"items": [...], "next_cursor": ...}; NULL with err set. */
json_t *store_alerts_list_json(const struct store_alerts_req *rq, const PGresult *res, char *err,
			       size_t errlen);

void store_alerts_get_stmt(int64_t id, struct store_stmt *st);
/* The AlertDetail; *found false (and NULL) when there is no such alert;
 * NULL with err set on a bad row. */
json_t *store_alerts_get_json(const PGresult *res, bool *found, char *err, size_t errlen);

/* The reads as store operations (store.h); rq is copied. Out of memory
 * before the operation exists: cb is called at once. The one-alert read
 * answers STORE_NOT_FOUND for an unknown id. */
void store_alerts_list_start(struct store *s, const struct store_alerts_req *rq, store_cb cb,
			     void *arg);
void store_alerts_get_start(struct store *s, int64_t id, store_cb cb, void *arg);

#endif
