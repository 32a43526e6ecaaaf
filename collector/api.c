/*
 * api.c - the API's router (see api.h): one table of method + path
 * pattern -> handler, the request limits, the token check, 404 and 405.
 */
#include "api.h"
#include "api_req.h"
#include "api_json.h"
#include "api_params.h"
#include "log.h"
#include "twtime.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include <event2/buffer.h>

/* collector/openapi.json, embedded by scripts/embed-file.py (Makefile) */
extern const char api_openapi_json[];
extern const size_t api_openapi_json_len;

#define LIST "limit cursor "

/*
 * Every endpoint: one row. A new endpoint is one row here, its handler
 * (declared in api_req.h, defined in its own api_<name>.c) and its store
 * operation (store_<name>.c); its parameters and response schema go into
 * collector/openapi.json and docs/api.md, and tests/integration/test_api.c
 * validates the live answers against that schema. `params` lists every
 * query parameter the endpoint takes: any other is answered 400, so a typo
 * never silently widens a query. The order matters only between patterns
 * that match the same path (first match wins).
 */
static const struct api_route ROUTES[] = {
	{ EVHTTP_REQ_GET, "/api/v1/openapi.json", false, api_openapi, "" },
	{ EVHTTP_REQ_GET, "/api/v1/regions", false, api_regions, "" },
	{ EVHTTP_REQ_GET, "/api/v1/services", false, api_services, "" },
	{ EVHTTP_REQ_GET, "/api/v1/targets", false, api_targets, LIST "service label region" },
	{ EVHTTP_REQ_GET, "/api/v1/targets/{}", false, api_target, "sni failures" },
	{ EVHTTP_REQ_GET, "/api/v1/targets/{}/series", false, api_target_series,
	  "sni window step" },
	{ EVHTTP_REQ_GET, "/api/v1/grid", false, api_grid, "window service label" },
	{ EVHTTP_REQ_GET, "/api/v1/results", false, api_results,
	  LIST "target sni region profile outcome probe_id since until" },
	/* SLIs, SLOs, alerts, certificates, probes, maintenance: below this line */
	{ EVHTTP_REQ_GET, "/api/v1/slis", false, api_slis,
	  "window group_by region service target profile label" },
	{ EVHTTP_REQ_GET, "/api/v1/slos", false, api_slos, "" },
	{ EVHTTP_REQ_GET, "/api/v1/alerts", false, api_alerts, LIST "state since service region" },
	{ EVHTTP_REQ_GET, "/api/v1/alerts/{}", false, api_alert, "" },
	{ EVHTTP_REQ_GET, "/api/v1/certificates", false, api_certificates,
	  LIST "expiring_within issuer service" },
	{ EVHTTP_REQ_GET, "/api/v1/probes", false, api_probes, "" },
	{ EVHTTP_REQ_GET, "/api/v1/maintenance", false, api_maintenance, "all" },
	{ EVHTTP_REQ_POST, "/api/v1/maintenance", true, api_maintenance_create, "" },
	{ EVHTTP_REQ_DELETE, "/api/v1/maintenance/{}", true, api_maintenance_delete, "" },
};

#define NROUTES (sizeof ROUTES / sizeof ROUTES[0])

/* ------------------------------------------------------------ matching */

/* Does path match pattern? The {} segments are copied (URL-decoded) into
 * args when args is not NULL. -1: a {} segment does not decode. */
static int match(const char *pattern, const char *path, char **args)
{
	int nargs = 0;
	const char *p = pattern, *s = path;
	while (*p && *s) {
		if (p[0] == '{' && p[1] == '}') {
			const char *end = strchr(s, '/');
			size_t n = end ? (size_t)(end - s) : strlen(s);
			if (n == 0)
				return 0;
			if (args && nargs < API_MAX_ARGS) {
				char *raw = strndup(s, n);
				size_t dlen = 0;
				char *dec = raw ? evhttp_uridecode(raw, 0, &dlen) : NULL;
				free(raw);
				/* %00 would cut the value short: refused */
				if (!dec || !*dec || strlen(dec) != dlen) {
					free(dec);
					return -1;
				}
				args[nargs] = dec;
			}
			nargs++;
			p += 2;
			s += n;
			continue;
		}
		if (*p != *s)
			return 0;
		p++;
		s++;
	}
	return *p == '\0' && *s == '\0';
}

static const char *method_name(enum evhttp_cmd_type m)
{
	switch (m) {
	case EVHTTP_REQ_GET: return "GET";
	case EVHTTP_REQ_POST: return "POST";
	case EVHTTP_REQ_PUT: return "PUT";
	case EVHTTP_REQ_DELETE: return "DELETE";
	case EVHTTP_REQ_HEAD: return "HEAD";
	case EVHTTP_REQ_PATCH: return "PATCH";
	case EVHTTP_REQ_OPTIONS: return "OPTIONS";
	default: return "?";
	}
}

/* 400 naming the first query parameter the route does not take. */
static int check_params(struct api_req *r)
{
	for (struct evkeyval *kv = r->query.tqh_first; kv; kv = kv->next.tqe_next) {
		const char *list = r->route->params;
		size_t kl = strlen(kv->key);
		bool ok = false;
		for (const char *w = list; *w;) {
			size_t n = strcspn(w, " ");
			if (n == kl && strncmp(w, kv->key, n) == 0)
				ok = true;
			w += n;
			while (*w == ' ')
				w++;
		}
		if (!ok)
			return api_param_fail(r, kv->key, "unknown parameter%s%s",
					      *list ? "; this endpoint takes: " : " (this endpoint takes none)",
					      list);
	}
	return 0;
}

/* ------------------------------------------------------------ dispatch */

void api_handle(struct api *api, struct evhttp_request *req)
{
	struct api_req *r = calloc(1, sizeof *r);
	if (!r) {
		evhttp_send_error(req, 500, "Internal Server Error");
		return;
	}
	r->api = api;
	r->req = req;
	r->now_ms = twtime_wall_ms();
	TAILQ_INIT(&r->query);
	const char *uri = evhttp_request_get_uri(req);
	const struct evhttp_uri *u = evhttp_request_get_evhttp_uri(req);
	const char *path = u ? evhttp_uri_get_path(u) : NULL;
	if (!uri || strlen(uri) > API_MAX_URL) {
		api_reply_error(r, 414, NULL, "request URL over %d bytes", API_MAX_URL);
		return;
	}
	if (evbuffer_get_length(evhttp_request_get_input_buffer(req)) > API_MAX_BODY) {
		api_reply_error(r, 413, NULL, "request body over %d bytes", API_MAX_BODY);
		return;
	}
	if (!path)
		path = "/";
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
	char allow[64] = "";
	const struct api_route *route = NULL;
	for (size_t i = 0; i < NROUTES; i++) {
		if (match(ROUTES[i].pattern, path, NULL) != 1)
			continue;
		if (ROUTES[i].method == cmd) {
			route = &ROUTES[i];
			break;
		}
		if (!strstr(allow, method_name(ROUTES[i].method)))
			snprintf(allow + strlen(allow), sizeof allow - strlen(allow), "%s%s",
				 allow[0] ? ", " : "", method_name(ROUTES[i].method));
	}
	if (!route && allow[0]) {
		evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", allow);
		api_reply_error(r, 405, NULL, "method %s not allowed; allowed: %s", method_name(cmd),
				allow);
		return;
	}
	if (!route) {
		api_reply_error(r, 404, NULL, "no such endpoint: %.200s", path);
		return;
	}
	r->route = route;
	if (match(route->pattern, path, r->arg) < 0) {
		api_reply_error(r, 400, "path", "a path segment is not valid URL encoding");
		return;
	}
	/* the OpenAPI document is public: a client needs it to learn the rest */
	if (route->handler != api_openapi) {
		enum api_auth_result ar = api_auth_check(&api->auth, req, route->write);
		if (ar != API_AUTH_OK) {
			evhttp_add_header(evhttp_request_get_output_headers(req), "WWW-Authenticate",
					  "Bearer realm=\"tlswatch\"");
			api_reply_error(r, 401, NULL, "%s",
					ar == API_AUTH_DISABLED ? "writes are disabled: no write token is "
								  "configured (http.token_file)"
					: ar == API_AUTH_MISSING ? "a bearer token is required"
								 : "wrong token");
			return;
		}
	}
	const char *q = evhttp_uri_get_query(u);
	if (q && evhttp_parse_query_str(q, &r->query) != 0) {
		api_reply_error(r, 400, "query", "the query string is not valid URL encoding");
		return;
	}
	if (check_params(r) < 0) {
		api_reply_bad(r);
		return;
	}
	route->handler(r);
}

void api_openapi(struct api_req *r)
{
	json_error_t e;
	json_t *doc = json_loadb(api_openapi_json, api_openapi_json_len, 0, &e);
	if (!doc) {
		api_reply_error(r, 500, NULL, "the embedded OpenAPI document does not parse: %s",
				e.text);
		return;
	}
	api_reply_json(r, 200, doc);
}

/* ------------------------------------------------------------ object */

struct api *api_new(struct event_base *base, const struct api_opts *o, char *err, size_t errlen)
{
	struct api *api = calloc(1, sizeof *api);
	if (!api) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	api->base = base;
	api->slo = o->slo;
	api->minute_retention_ms = (int64_t)o->minute_retention_days * 86400000LL;
	if (api_auth_load(&api->auth, o->token_file, o->read_token_file, err, errlen) < 0) {
		free(api);
		return NULL;
	}
	struct store_opts so = { .conninfo = o->conninfo, .name = "api store" };
	if (!(api->store = store_new(base, &so, err, errlen))) {
		api_free(api);
		return NULL;
	}
	log_info("api: /api/v1: writes %s, reads %s",
		 api->auth.write_token ? "need the write token" : "disabled (no write token)",
		 api->auth.read_token ? "need a token" : "open");
	return api;
}

void api_free(struct api *api)
{
	if (!api)
		return;
	store_free(api->store);  /* answers what still waits: 503 */
	api_auth_clear(&api->auth);
	free(api);
}
