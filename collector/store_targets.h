/*
 * store_targets.h - the store's operations on target endpoints
 * (store_targets.c): regions, services, the target list and one target's
 * detail. Each answers with the JSON of its schema in collector/openapi.json
 * (RegionList, ServiceList, TargetList, TargetDetail). A list that has
 * more rows adds "_next": [host, port, sni] of its last item, which the
 * handler turns into next_cursor (and removes).
 *
 * Query strings are copied; the caller's may go away after the call.
 */
#ifndef TW_STORE_TARGETS_H
#define TW_STORE_TARGETS_H

#include "store.h"

/* The regions of the probes table (every result comes from a probe). */
void store_regions(struct store *s, int64_t now_ms, store_cb cb, void *arg);
void store_services(struct store *s, store_cb cb, void *arg);

struct store_targets_q {
	const char *service;       /* NULL: any */
	const char *labels_json;   /* {"k":"v"} every pair must match; NULL: any */
	const char *region;        /* NULL: any; else probed by it in the last 24 h */
	const char *after_host;    /* keyset cursor: rows after (host, port, sni); NULL: first page */
	int after_port;
	const char *after_sni;
	int limit;
	int64_t now_ms;
};
void store_targets(struct store *s, const struct store_targets_q *q, store_cb cb, void *arg);

struct store_target_q {
	const char *host;
	int port;
	const char *sni;           /* NULL: the SNI seen last; "" = none */
	int failures;              /* recent failures to list */
	int64_t now_ms;
};
/* STORE_NOT_FOUND "no target \"host:port\"" when it has no targets row. */
void store_target(struct store *s, const struct store_target_q *q, store_cb cb, void *arg);

#endif
