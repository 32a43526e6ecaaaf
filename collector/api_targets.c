/*
 * api_targets.c - GET /api/v1/regions, /services, /targets,
 * /targets/{target} and /targets/{target}/series (docs/api.md).
 */
#include "api_req.h"
#include "api_json.h"
#include "api_params.h"
#include "slo_config.h"
#include "store_series.h"
#include "store_targets.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MIN_MS  60000LL
#define HOUR_MS 3600000LL
#define DAY_MS  86400000LL

void api_regions(struct api_req *r)
{
	store_regions(r->api->store, r->now_ms, api_reply_answer, r);
}

void api_services(struct api_req *r)
{
	store_services(r->api->store, api_reply_answer, r);
}

void api_targets(struct api_req *r)
{
	struct store_targets_q q = { .now_ms = r->now_ms };
	char *labels = NULL, **cur = NULL;
	if (api_param_str(r, "service", &q.service) < 0 || api_param_str(r, "region", &q.region) < 0 ||
	    api_param_labels(r, &labels) < 0 || api_param_limit(r, &q.limit) < 0 ||
	    api_param_cursor(r, 3, &cur) < 0) {
		free(labels);
		api_reply_bad(r);
		return;
	}
	q.labels_json = labels;
	if (cur) {
		char *end;
		long port = strtol(cur[1], &end, 10);
		if (*end || port < 0 || port > 65535) {
			api_cursor_free(cur, 3);
			free(labels);
			api_param_fail(r, "cursor", "malformed cursor (pass next_cursor as it is)");
			api_reply_bad(r);
			return;
		}
		q.after_host = cur[0];
		q.after_port = (int)port;
		q.after_sni = cur[2];
	}
	store_targets(r->api->store, &q, api_reply_list, r);
	api_cursor_free(cur, 3);
	free(labels);
}

/* The {target} path segment as host and port; 400 when it is not host:port. */
static int target_arg(struct api_req *r, char **host, int *port)
{
	if (api_split_target(r->arg[0], host, port) < 0 || *port == 0) {
		free(*host);
		*host = NULL;
		return api_param_fail(r, "target", "expected host:port (URL-encoded), got \"%.200s\"",
				      r->arg[0]);
	}
	return 0;
}

void api_target(struct api_req *r)
{
	struct store_target_q q = { .now_ms = r->now_ms };
	char *host = NULL;
	long long failures;
	if (target_arg(r, &host, &q.port) < 0 || api_param_str(r, "sni", &q.sni) < 0 ||
	    api_param_uint(r, "failures", 20, 0, 100, &failures) < 0) {
		free(host);
		api_reply_bad(r);
		return;
	}
	q.host = host;
	q.failures = (int)failures;
	store_target(r->api->store, &q, api_reply_answer, r);
	free(host);
}

/* window / 60 rounded up to a step a chart reads well */
static int64_t default_step(int64_t window_ms)
{
	static const int64_t steps[] = { MIN_MS, 5 * MIN_MS, 15 * MIN_MS, HOUR_MS, 6 * HOUR_MS,
					 DAY_MS };
	int64_t want = window_ms / 60;
	for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++)
		if (steps[i] >= want)
			return steps[i];
	return DAY_MS;
}

void api_target_series(struct api_req *r)
{
	struct store_series_q q = { 0 };
	char *host = NULL, wbuf[24], sbuf[24];
	int64_t window, step;
	const char *step_s = NULL;
	if (target_arg(r, &host, &q.port) < 0 || api_param_str(r, "sni", &q.sni) < 0 ||
	    api_param_duration(r, "window", DAY_MS, 5 * MIN_MS, 90 * DAY_MS, &window) < 0 ||
	    api_param_str(r, "step", &step_s) < 0 ||
	    api_param_duration(r, "step", default_step(window), MIN_MS, 90 * DAY_MS, &step) < 0)
		goto bad;
	if (step % MIN_MS != 0 || (step >= HOUR_MS && step % HOUR_MS != 0)) {
		api_param_fail(r, "step", "expected whole minutes under an hour, whole hours from "
			       "1h on, got \"%.64s\"", step_s ? step_s : "?");
		goto bad;
	}
	q.step_ms = step;
	q.to_ms = r->now_ms;
	q.from_ms = (r->now_ms - window) / step * step;
	if ((q.to_ms - q.from_ms + step - 1) / step > STORE_SERIES_MAX_POINTS) {
		api_param_fail(r, "step", "window / step gives more than %d points: take a larger "
			       "step", STORE_SERIES_MAX_POINTS);
		goto bad;
	}
	q.host = host;
	q.window = slo_format_duration(window, wbuf, sizeof wbuf);
	q.step = slo_format_duration(step, sbuf, sizeof sbuf);
	store_series(r->api->store, &q, api_reply_answer, r);
	free(host);
	return;
bad:
	free(host);
	api_reply_bad(r);
}
