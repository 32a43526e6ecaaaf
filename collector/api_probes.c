/*
 * api_probes.c - GET /api/v1/probes (docs/api.md): every probe with its
 * last heartbeat's figures and whether it is silent by the probe_silent
 * rule of the SLO file (store_probes.c).
 */
#include "api_req.h"
#include "api_json.h"
#include "slo_config.h"
#include "store_probes.h"

/* alerts.probe_silent.intervals' default (slo_config.c) without an SLO file */
#define DEFAULT_SILENT_INTERVALS 3

void api_probes(struct api_req *r)
{
	const struct slo_config *slo = r->api->slo;
	unsigned iv = slo ? slo->alerts.probe_silent.intervals : DEFAULT_SILENT_INTERVALS;
	store_probes_start(r->api->store, r->now_ms, iv, api_reply_answer, r);
}
