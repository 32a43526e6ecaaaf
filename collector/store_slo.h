/*
 * store_slo.h - the reads behind GET /api/v1/slos: for each configured SLO
 * (slo_config.h) its attainment and error budget over its window and the
 * burn rate over each of its rules' windows, all from sli.c's statement
 * (sli_query_sql with the SLO's selector, one window at a time: the one
 * definition of a window), and whether each rule's alert is firing.
 *
 * A read is a sequence of statements on one connection: the firing alerts
 * first, then one per (SLO, distinct window). The caller loops
 *     while ((rc = store_slo_next(run, &st)) == 1) { run st; store_slo_feed(run, res) }
 * and then takes the JSON with store_slo_json(). Events and bad events are
 * burn.c's (availability: attempts, failures; latency: timed handshakes
 * and those not under threshold_ms); burn rates and the budget use
 * burn_rate() and burn_budget_remaining(), but a window without events is
 * null here, never 0 or 100 %.
 *
 * Ownership: the run borrows cfg (it must outlive the run) and owns the
 * rest; free with store_slo_free().
 */
#ifndef TW_STORE_SLO_H
#define TW_STORE_SLO_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include <libpq-fe.h>

#include "slo_config.h"
#include "store.h"
#include "store_stmt.h"

struct store_slo_run;

/* NULL on ENOMEM. cfg NULL: no SLOs configured (an empty list). */
struct store_slo_run *store_slo_new(const struct slo_config *cfg, int64_t now_ms,
				    int64_t minute_retention_ms);
/* 1: *st holds the next statement to run (the caller frees it); 0: done;
 * -1: out of memory. */
int store_slo_next(struct store_slo_run *r, struct store_stmt *st);
/* The result of the statement store_slo_next gave last. -1 with err. */
int store_slo_feed(struct store_slo_run *r, const PGresult *res, char *err, size_t errlen);
/* {"items": [Slo]} (NULL on ENOMEM). */
json_t *store_slo_json(const struct store_slo_run *r);
void store_slo_free(struct store_slo_run *r);

/* The whole read as one store operation (store.h): cb gets {"items": ...}.
 * cfg is borrowed (it must outlive the operation). Out of memory before
 * the operation exists: cb is called at once. */
void store_slo_start(struct store *s, const struct slo_config *cfg, int64_t now_ms,
		     int64_t minute_retention_ms, store_cb cb, void *arg);

#endif
