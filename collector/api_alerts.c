/*
 * api_alerts.c - GET /api/v1/alerts and GET /api/v1/alerts/{id}
 * (docs/api.md): alerts newest change first, filtered by state, since,
 * service and region, keyset-paginated; one alert with its events and
 * deliveries (store_alerts.c).
 */
#include "api_req.h"
#include "api_json.h"
#include "api_params.h"
#include "store_alerts.h"

#include <errno.h>
#include <stdlib.h>

void api_alerts(struct api_req *r)
{
	static const char *const states[] = { "firing", "pending", "resolved", "all", NULL };
	struct store_alerts_req rq = { 0 };
	const char *since, *cursor;
	int state, limit;
	if (api_param_enum(r, "state", states, 0, &state) < 0 ||
	    api_param_str(r, "since", &since) < 0 ||
	    (since && api_param_time(r, "since", 0, &rq.since_ms) < 0) ||
	    api_param_str(r, "service", &rq.service) < 0 ||
	    api_param_str(r, "region", &rq.region) < 0 || api_param_limit(r, &limit) < 0 ||
	    api_param_str(r, "cursor", &cursor) < 0)
		goto bad;
	if (cursor && store_alerts_cursor_parse(cursor, &rq.cursor_us, &rq.cursor_id) < 0) {
		api_param_fail(r, "cursor", "not a cursor of this list (pass next_cursor back as it is)");
		goto bad;
	}
	rq.have_cursor = cursor != NULL;
	rq.have_since = since != NULL;
	rq.state = state == 3 ? NULL : states[state];
	rq.limit = (unsigned)limit;
	store_alerts_list_start(r->api->store, &rq, api_reply_answer, r);
	return;
bad:
	api_reply_bad(r);
}

void api_alert(struct api_req *r)
{
	char *end;
	errno = 0;
	long long id = strtoll(r->arg[0], &end, 10);
	if (!r->arg[0][0] || *end || errno || id < 1) {
		api_param_fail(r, "id", "expected an alert id (a positive integer), got \"%.64s\"",
			       r->arg[0]);
		api_reply_bad(r);
		return;
	}
	store_alerts_get_start(r->api->store, id, api_reply_answer, r);
}
