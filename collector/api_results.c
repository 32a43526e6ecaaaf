/*
 * api_results.c - GET /api/v1/results (docs/api.md): raw results, newest
 * first, keyset pagination with an opaque cursor.
 */
#include "api_req.h"
#include "api_json.h"
#include "api_params.h"
#include "store_results.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define DAY_MS 86400000LL

static bool digits(const char *s)
{
	size_t n = strspn(s, "0123456789");
	return n > 0 && n <= 18 && s[n] == '\0';
}

void api_results(struct api_req *r)
{
	struct store_results_q q = { 0 };
	const char *target = NULL;
	char *host = NULL, **cur = NULL;
	if (api_param_str(r, "target", &target) < 0 || api_param_str(r, "sni", &q.sni) < 0 ||
	    api_param_str(r, "region", &q.region) < 0 || api_param_str(r, "profile", &q.profile) < 0 ||
	    api_param_str(r, "outcome", &q.outcome) < 0 ||
	    api_param_str(r, "probe_id", &q.probe_id) < 0 || api_param_limit(r, &q.limit) < 0 ||
	    api_param_time(r, "until", r->now_ms, &q.until_ms) < 0 ||
	    api_param_time(r, "since", q.until_ms - DAY_MS, &q.since_ms) < 0 ||
	    api_param_cursor(r, 3, &cur) < 0)
		goto bad;
	if (q.since_ms >= q.until_ms) {
		api_param_fail(r, "since", "must be before until");
		goto bad;
	}
	if (q.until_ms - q.since_ms > 90 * DAY_MS) {
		api_param_fail(r, "since", "since..until spans more than 90 days");
		goto bad;
	}
	if (target && api_split_target(target, &host, &q.port) < 0) {
		api_param_fail(r, "target", "expected host or host:port, got \"%.200s\"", target);
		goto bad;
	}
	q.host = host;
	if (cur) {
		/* the cursor's fields go to the database as parameters; a seq
		 * that is not a number would be a 500, so it is checked here */
		if (!digits(cur[0]) || !digits(cur[2])) {
			api_param_fail(r, "cursor", "malformed cursor (pass next_cursor as it is)");
			goto bad;
		}
		q.after_started = cur[0];
		q.after_probe = cur[1];
		q.after_seq = cur[2];
	}
	store_results(r->api->store, &q, api_reply_list, r);
	api_cursor_free(cur, 3);
	free(host);
	return;
bad:
	api_cursor_free(cur, 3);
	free(host);
	api_reply_bad(r);
}
