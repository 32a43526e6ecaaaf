/*
 * store_grid.h - the regional health grid (store_grid.c): rows are target
 * endpoints, columns regions, each cell attempts, successes, success ratio,
 * p95 handshake ms, a status and the failing profiles with their top
 * outcome ("legacy: protocol_version 12/12"). From the rollups. The one code
 * path behind GET /api/v1/grid, `tlswatch-collector status` and the
 * dashboard's grid; the answer is the Grid schema of collector/openapi.json.
 *
 * Answers of the 1h, 24h and 7d windows are reused for 10, 30 and 60 s
 * (store_cache_put): `to` in the answer says when it was computed.
 *
 * Cell status: ok when the success ratio is >= 0.99; degraded when some
 * profile fails while another fully succeeds, or the ratio is >= 0.9;
 * failing otherwise.
 */
#ifndef TW_STORE_GRID_H
#define TW_STORE_GRID_H

#include "store.h"

/* The windows the grid offers, NULL-terminated: 5m 1h 24h 7d. */
extern const char *const store_grid_windows[];

struct store_grid_q {
	const char *window;        /* one of store_grid_windows */
	int64_t from_ms, to_ms;
	const char *service;       /* NULL: every service */
	const char *labels_json;   /* {"k":"v"}: every pair must match; NULL: any */
};

/* Fills q's window and times for `window` ending at now_ms (sli_window's
 * rounding with rollup_1m's retention). -1 when window is not one of
 * store_grid_windows. */
int store_grid_window(struct store_grid_q *q, const char *window, int64_t now_ms,
		      int64_t minute_retention_ms);

/* The grid's statement for the window [from_ms, to_ms) (malloc'd, NULL when
 * out of memory); $1 service, $2 labels (jsonb), either NULL. */
char *store_grid_sql(int64_t from_ms, int64_t to_ms);

void store_grid(struct store *s, const struct store_grid_q *q, store_cb cb, void *arg);

#endif
