/*
 * api_slo.c - GET /api/v1/slos (docs/api.md): each SLO of the collector's
 * SLO file with its attainment, error budget remaining and burn rates
 * (store_slo.c).
 */
#include "api_req.h"
#include "api_json.h"
#include "store_slo.h"

void api_slos(struct api_req *r)
{
	store_slo_start(r->api->store, r->api->slo, r->now_ms, r->api->minute_retention_ms,
			api_reply_answer, r);
}
