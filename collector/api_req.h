/*
 * api_req.h - what the files of the API (api*.c) share and nobody else
 * includes: the api object, one request in flight, the route table's row
 * and every endpoint handler.
 *
 * A handler gets a struct api_req whose path arguments and query are
 * decoded and whose query parameters are all in the route's list (the
 * router answered 400 otherwise). It must end, now or from a store
 * callback, in exactly one api_reply_* (api_json.h), which sends the answer
 * and frees the request: after it, r is gone.
 */
#ifndef TW_API_REQ_H
#define TW_API_REQ_H

#include "api_auth.h"
#include "store.h"

#include <stdbool.h>
#include <stdint.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#define API_MAX_URL      8192
#define API_MAX_BODY     65536
#define API_MAX_ARGS     2
#define API_DEFAULT_LIMIT 100
#define API_MAX_LIMIT    1000

struct slo_config;

struct api {
	struct event_base *base;
	struct store *store;
	struct api_auth auth;
	const struct slo_config *slo;
	int64_t minute_retention_ms;
};

struct api_route;

struct api_req {
	struct api *api;
	struct evhttp_request *req;
	const struct api_route *route;
	char *arg[API_MAX_ARGS];      /* the {} path segments, URL-decoded */
	struct evkeyvalq query;       /* decoded; repeated keys kept */
	int64_t now_ms;               /* wall clock when the request arrived */
	/* the first bad parameter (api_params.h), answered by api_reply_bad */
	char bad_param[64];
	char bad_msg[256];
};

typedef void (*api_handler_fn)(struct api_req *r);

struct api_route {
	enum evhttp_cmd_type method;
	const char *pattern;          /* "/api/v1/targets/{}/series": {} = one segment */
	bool write;                   /* needs the write token */
	api_handler_fn handler;
	const char *params;           /* allowed query parameters, space-separated */
};

/* api_targets.c */
void api_regions(struct api_req *r);
void api_services(struct api_req *r);
void api_targets(struct api_req *r);
void api_target(struct api_req *r);
void api_target_series(struct api_req *r);
/* api_grid.c */
void api_grid(struct api_req *r);
/* api_results.c */
void api_results(struct api_req *r);
/* api.c */
void api_openapi(struct api_req *r);
/* api_sli.c, api_slo.c, api_alerts.c, api_certs.c, api_probes.c, api_maint.c */
void api_slis(struct api_req *r);
void api_slos(struct api_req *r);
void api_alerts(struct api_req *r);
void api_alert(struct api_req *r);
void api_certificates(struct api_req *r);
void api_probes(struct api_req *r);
void api_maintenance(struct api_req *r);
void api_maintenance_create(struct api_req *r);
void api_maintenance_delete(struct api_req *r);

#endif
