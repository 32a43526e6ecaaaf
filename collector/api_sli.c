/*
 * api_sli.c - GET /api/v1/slis (docs/api.md): the SLIs M1-M6 and M9 from the
 * rollups over a window, optionally grouped, filtered by region, service,
 * target, profile and labels. The read is store_sli.c (sli.c's statement).
 */
#include "api_req.h"
#include "api_json.h"
#include "api_params.h"
#include "store_sli.h"

#include <stdlib.h>
#include <string.h>

#define MIN_MS 60000LL
#define DAY_MS 86400000LL

/* A filter: absent (NULL) or a non-empty value. */
static int filter(struct api_req *r, const char *name, const char **out)
{
	if (api_param_str(r, name, out) < 0)
		return -1;
	if (*out && !**out)
		return api_param_fail(r, name, "must not be empty");
	return 0;
}

/* Labels {"k":"v",...} as the selector's key and value arrays (pointing
 * into j, which the caller keeps until the statement is built). */
static int labels_of(json_t *j, struct slo_selector *sel)
{
	size_t n = json_object_size(j), i = 0;
	if (n == 0)
		return 0;
	sel->label_keys = calloc(n, sizeof *sel->label_keys);
	sel->label_values = calloc(n, sizeof *sel->label_values);
	if (!sel->label_keys || !sel->label_values)
		return -1;
	const char *k;
	json_t *v;
	json_object_foreach(j, k, v) {
		sel->label_keys[i] = (char *)k;
		sel->label_values[i++] = (char *)json_string_value(v);
	}
	sel->nlabels = i;
	return 0;
}

static int selector(struct api_req *r, struct slo_selector *sel, json_t **labels)
{
	const char *region, *service, *profile, *target;
	char *ltext = NULL;
	*labels = NULL;
	memset(sel, 0, sizeof *sel);
	if (filter(r, "region", &region) < 0 || filter(r, "service", &service) < 0 ||
	    filter(r, "profile", &profile) < 0 || filter(r, "target", &target) < 0 ||
	    api_param_labels(r, &ltext) < 0)
		return -1;
	if (target) {
		char *host = NULL;
		int port = 0;
		if (api_split_target(target, &host, &port) < 0)
			return api_param_fail(r, "target", "expected host or host:port, got \"%.64s\"",
					      target);
		free(host);
	}
	sel->region = (char *)region;
	sel->service = (char *)service;
	sel->profile = (char *)profile;
	sel->target = (char *)target;
	if (ltext) {
		*labels = json_loads(ltext, 0, NULL);
		free(ltext);
		if (!*labels || labels_of(*labels, sel) < 0)
			return api_param_fail(r, "label", "out of memory");
	}
	return 0;
}

static void selector_free(struct slo_selector *sel, json_t *labels)
{
	free(sel->label_keys);
	free(sel->label_values);
	json_decref(labels);
}

void api_slis(struct api_req *r)
{
	static const char *const groups[] = { "target", "service", "region", "profile", NULL };
	static const enum sli_group gval[] = { SLI_GROUP_TARGET, SLI_GROUP_SERVICE, SLI_GROUP_REGION,
					       SLI_GROUP_PROFILE };
	struct store_sli_req rq = { .now_ms = r->now_ms,
				    .minute_retention_ms = r->api->minute_retention_ms };
	json_t *labels = NULL;
	int g = -1;
	if (api_param_duration(r, "window", 3600000LL, 5 * MIN_MS, 90 * DAY_MS, &rq.window_ms) < 0 ||
	    api_param_str(r, "window", &rq.window) < 0 ||
	    api_param_enum(r, "group_by", groups, -1, &g) < 0 ||
	    selector(r, &rq.sel, &labels) < 0) {
		selector_free(&rq.sel, labels);
		api_reply_bad(r);
		return;
	}
	if (!rq.window)
		rq.window = "1h";
	rq.group = g < 0 ? SLI_GROUP_NONE : gval[g];
	/* the statement is built here: nothing of r is needed after this call */
	store_sli_start(r->api->store, &rq, api_reply_answer, r);
	selector_free(&rq.sel, labels);
}
