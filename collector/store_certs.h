/*
 * store_certs.h - the read behind GET /api/v1/certificates: the leaf
 * certificate inventory (sql/001_init.sql certificates) with where and when
 * each was served (certificate_sightings; service and labels from the
 * targets table), soonest expiry first. PostgreSQL builds each row's JSON
 * (the Certificate schema of collector/openapi.json).
 *
 * Keyset pagination on (not_after, fingerprint): the cursor is
 * "<not_after in Unix microseconds>.<fingerprint>" of the page's last row
 * (a certificate without not_after sorts last).
 *
 * Ownership: requests borrow their strings; JSON returned is the caller's.
 */
#ifndef TW_STORE_CERTS_H
#define TW_STORE_CERTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include <libpq-fe.h>

#include "store.h"
#include "store_stmt.h"

struct store_certs_req {
	int64_t now_ms;
	bool have_expiring;
	int64_t expiring_within_ms;  /* not_after < now + it (expired ones included) */
	const char *issuer;          /* case-insensitive substring; NULL: any */
	const char *service;         /* served by a target of this service; NULL: any */
	unsigned limit;              /* 1..1000 */
	const char *cursor;          /* NULL: the first page; checked by store_certs_cursor_ok */
};

/* Whether s is a cursor this module made. */
bool store_certs_cursor_ok(const char *s);
void store_certs_stmt(const struct store_certs_req *rq, struct store_stmt *st);
/* {"items": [...], "next_cursor": ...}; NULL with err set. */
json_t *store_certs_json(const struct store_certs_req *rq, const PGresult *res, char *err,
			 size_t errlen);

/* The read as a store operation (store.h); rq is copied. Out of memory
 * before the operation exists: cb is called at once. */
void store_certs_start(struct store *s, const struct store_certs_req *rq, store_cb cb, void *arg);

#endif
