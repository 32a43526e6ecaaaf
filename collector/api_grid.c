/*
 * api_grid.c - GET /api/v1/grid (docs/api.md): the regional health grid,
 * the same store operation as `tlswatch-collector status` (store_grid.h).
 */
#include "api_req.h"
#include "api_json.h"
#include "api_params.h"
#include "store_grid.h"

#include <stdlib.h>

void api_grid(struct api_req *r)
{
	struct store_grid_q q = { 0 };
	char *labels = NULL;
	int w;
	if (api_param_enum(r, "window", store_grid_windows, 1, &w) < 0 ||
	    api_param_str(r, "service", &q.service) < 0 || api_param_labels(r, &labels) < 0) {
		free(labels);
		api_reply_bad(r);
		return;
	}
	q.labels_json = labels;
	if (store_grid_window(&q, store_grid_windows[w], r->now_ms, r->api->minute_retention_ms) < 0) {
		free(labels);
		api_reply_error(r, 500, "window", "no such grid window");
		return;
	}
	store_grid(r->api->store, &q, api_reply_answer, r);
	free(labels);
}
