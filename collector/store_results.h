/*
 * store_results.h - raw results, newest first, keyset-paginated
 * (store_results.c): the ResultList schema of collector/openapi.json. A
 * page with more rows after it adds "_next": [started_at (Unix us), probe_id, seq] of
 * its last item (store_targets.h explains "_next").
 */
#ifndef TW_STORE_RESULTS_H
#define TW_STORE_RESULTS_H

#include "store.h"

struct store_results_q {
	int64_t since_ms, until_ms;     /* [since, until) on started_at */
	const char *host;               /* NULL: any */
	int port;                       /* 0: any */
	const char *sni, *region, *profile, *outcome, *probe_id;  /* NULL: any; sni "" = none */
	/* cursor: rows after (started_at in Unix microseconds, probe_id, seq)
	 * in the order (both numbers as digits); NULL: first page */
	const char *after_started, *after_probe, *after_seq;
	int limit;
};

void store_results(struct store *s, const struct store_results_q *q, store_cb cb, void *arg);

#endif
