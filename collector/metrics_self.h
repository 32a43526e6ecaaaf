/*
 * metrics_self.h - the collector's own series on /metrics (listener, ingest,
 * database pool, evaluator, notifier, per-probe spool counters), rendered
 * from in-memory counters.
 *
 * Ownership: every object is borrowed for the call; ev and nt may be NULL
 * (alerting off, no notify file): their families are then left out.
 */
#ifndef TW_COL_METRICS_SELF_H
#define TW_COL_METRICS_SELF_H

#include <event2/buffer.h>

struct ingest;
struct db_pool;
struct evaluator;
struct notifier;

void metrics_self_render(struct evbuffer *b, const struct ingest *ing, const struct db_pool *db,
			 struct evaluator *ev, const struct notifier *nt);

#endif
