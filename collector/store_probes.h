/*
 * store_probes.h - the read behind GET /api/v1/probes (sql/001_init.sql
 * probes, sql/006_probe_spool.sql): each probe's last seen, version, clock
 * offset, spool depth, drops and overdue slots, and whether it is silent by
 * the probe_silent rule's definition (collector/rules_probe.c: last_seen
 * older than intervals x the probe's interval, the smallest interval_ms of
 * its last 1000 results, RULES_DEFAULT_INTERVAL_MS when none). PostgreSQL
 * builds each row's JSON (the Probe schema of collector/openapi.json).
 */
#ifndef TW_STORE_PROBES_H
#define TW_STORE_PROBES_H

#include <stdint.h>
#include <jansson.h>
#include <libpq-fe.h>

#include "store.h"
#include "store_stmt.h"

/* intervals: alerts.probe_silent.intervals (slo_config.h), 0 = 1. */
void store_probes_stmt(int64_t now_ms, unsigned intervals, struct store_stmt *st);
/* {"items": [...]}; NULL with err set. */
json_t *store_probes_json(const PGresult *res, char *err, size_t errlen);

/* The read as a store operation (store.h). Out of memory before the
 * operation exists: cb is called at once. */
void store_probes_start(struct store *s, int64_t now_ms, unsigned intervals, store_cb cb,
			void *arg);

#endif
