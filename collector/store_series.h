/*
 * store_series.h - one target's success ratio and p95 handshake time over
 * time, per region and per profile (store_series.c), for the drill-down
 * charts: the TargetSeries schema of collector/openapi.json. From rollup_1m
 * when the step is under an hour, else from rollup_1h through tw_rollup_1h_live (step a multiple of
 * an hour). Every step of [from, to) is in each series, empty ones with
 * attempts 0 and null ratio and p95.
 */
#ifndef TW_STORE_SERIES_H
#define TW_STORE_SERIES_H

#include "store.h"

#define STORE_SERIES_MAX_POINTS 1000

struct store_series_q {
	const char *host;
	int port;
	const char *sni;          /* NULL: the SNI seen last; "" = none */
	int64_t from_ms, to_ms;   /* from: a multiple of step_ms */
	int64_t step_ms;          /* >= 1 minute; a multiple of 1 h when >= 1 h */
	const char *window, *step;/* as the answer names them */
};
/* STORE_NOT_FOUND when the target has no targets row. */
void store_series(struct store *s, const struct store_series_q *q, store_cb cb, void *arg);

#endif
