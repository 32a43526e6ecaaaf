/*
 * api_certs.c - GET /api/v1/certificates (docs/api.md): the leaf
 * certificates seen, soonest expiry first, with where and when each was
 * served; filters expiring_within, issuer, service; keyset pages
 * (store_certs.c).
 */
#include "api_req.h"
#include "api_json.h"
#include "api_params.h"
#include "store_certs.h"

#define DAY_MS 86400000LL

void api_certificates(struct api_req *r)
{
	struct store_certs_req rq = { .now_ms = r->now_ms };
	const char *exp;
	int limit;
	if (api_param_str(r, "expiring_within", &exp) < 0 ||
	    (exp && api_param_duration(r, "expiring_within", 0, 0, 3650 * DAY_MS,
				       &rq.expiring_within_ms) < 0) ||
	    api_param_str(r, "issuer", &rq.issuer) < 0 ||
	    api_param_str(r, "service", &rq.service) < 0 || api_param_limit(r, &limit) < 0 ||
	    api_param_str(r, "cursor", &rq.cursor) < 0)
		goto bad;
	if (rq.cursor && !store_certs_cursor_ok(rq.cursor)) {
		api_param_fail(r, "cursor", "not a cursor of this list (pass next_cursor back as it is)");
		goto bad;
	}
	rq.have_expiring = exp != NULL;
	rq.limit = (unsigned)limit;
	store_certs_start(r->api->store, &rq, api_reply_answer, r);
	return;
bad:
	api_reply_bad(r);
}
