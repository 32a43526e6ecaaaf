/*
 * maint.h - maintenance windows (sql/002_alerts.sql maintenance_windows):
 * created, listed and deleted by `tlswatch-collector maintenance` (and later
 * the HTTP API). The evaluator never calls these: alerts.c asks
 * tw_in_maintenance() (sql/003_slo.sql) whether an alert is inside a window.
 *
 * Blocking, on the caller's session, each statement its own transaction.
 * Ownership: every pointer is borrowed for the call. Errors: -1 with err set
 * (no trailing newline).
 */
#ifndef TW_MAINT_H
#define TW_MAINT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <jansson.h>
#include <libpq-fe.h>

struct maint_window {
	int64_t id;
	int64_t starts_ms, ends_ms;
	const char *service, *target, *region, *reason, *created_by;  /* NULL: any */
	const json_t *labels;      /* object or NULL */
};

/* Inserts w; *id gets the new window's id. */
int maint_create(PGconn *conn, const struct maint_window *w, int64_t *id, char *err, size_t errlen);
/* Prints the windows ending after now (all when all is true) as a table or JSON lines. */
int maint_list(PGconn *conn, int64_t now_ms, bool all, bool json, FILE *out, char *err,
	       size_t errlen);
/* 0 deleted, 1 no such window, -1 error. */
int maint_delete(PGconn *conn, int64_t id, char *err, size_t errlen);

#endif
