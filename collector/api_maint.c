/*
 * api_maint.c - maintenance windows over HTTP (docs/api.md):
 *   GET    /api/v1/maintenance        windows not yet ended (?all=true: every one)
 *   POST   /api/v1/maintenance        create (write token; the router checks it)
 *   DELETE /api/v1/maintenance/{id}   delete (write token)
 * The same table and semantics as `tlswatch-collector maintenance`
 * (maint.h); the statements are store_maint.c's.
 *
 * A POST body is one JSON object (MaintenanceCreate in openapi.json):
 * `reason` (non-empty) and exactly one of `ends_at` / `duration`;
 * `starts_at` defaults to now; selectors `service`, `target` (host:port),
 * `region`, `labels` ({"k": "v"}); `created_by`. Every other field, a
 * wrong type or an impossible window is a 400 naming the field.
 */
#include "api_req.h"
#include "api_json.h"
#include "api_params.h"
#include "cmd.h"
#include "hostport.h"
#include "maint.h"
#include "slo_config.h"
#include "store_maint.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

void api_maintenance(struct api_req *r)
{
	bool all;
	if (api_param_bool(r, "all", false, &all) < 0) {
		api_reply_bad(r);
		return;
	}
	store_maint_list_start(r->api->store, r->now_ms, all, api_reply_answer, r);
}

/* A string field: absent (NULL), or a string (else 400 naming it). */
static int str_field(struct api_req *r, json_t *body, const char *name, const char **out)
{
	json_t *v = json_object_get(body, name);
	*out = NULL;
	if (!v)
		return 0;
	if (!json_is_string(v))
		return api_param_fail(r, name, "expected a string");
	*out = json_string_value(v);
	if (!**out)
		return api_param_fail(r, name, "must not be empty");
	return 0;
}

/* A time field: RFC 3339 or Unix milliseconds (a string, or a number). */
static int time_field(struct api_req *r, json_t *body, const char *name, bool *have, int64_t *ms)
{
	json_t *v = json_object_get(body, name);
	*have = v != NULL;
	if (!v)
		return 0;
	if (json_is_integer(v)) {
		*ms = json_integer_value(v);
		return 0;
	}
	const char *s = json_string_value(v);
	if (s) {
		char *end;
		errno = 0;
		long long x = strtoll(s, &end, 10);
		if (*s >= '0' && *s <= '9' && !*end && !errno) {
			*ms = x;
			return 0;
		}
		if (strcmp(s, "now") != 0 && cmd_parse_time(s, ms) == 0)
			return 0;
	}
	return api_param_fail(r, name, "expected an RFC 3339 time like 2026-12-05T00:00:00Z or "
			      "Unix milliseconds");
}

/* The body into w (pointing into body); 0, or -1 with the bad field recorded. */
static int parse_body(struct api_req *r, json_t *body, struct maint_window *w)
{
	static const char *const known[] = { "starts_at", "ends_at", "duration", "service", "target",
					     "region", "labels", "reason", "created_by", NULL };
	const char *key, *dur;
	json_t *v;
	json_object_foreach(body, key, v) {
		bool ok = false;
		for (size_t i = 0; known[i] && !ok; i++)
			ok = strcmp(known[i], key) == 0;
		if (!ok)
			return api_param_fail(r, key, "unknown field (known: starts_at, ends_at, "
					      "duration, service, target, region, labels, reason, "
					      "created_by)");
	}
	bool have_start, have_end;
	if (str_field(r, body, "reason", &w->reason) < 0 ||
	    str_field(r, body, "service", &w->service) < 0 ||
	    str_field(r, body, "target", &w->target) < 0 ||
	    str_field(r, body, "region", &w->region) < 0 ||
	    str_field(r, body, "created_by", &w->created_by) < 0 ||
	    str_field(r, body, "duration", &dur) < 0 ||
	    time_field(r, body, "starts_at", &have_start, &w->starts_ms) < 0 ||
	    time_field(r, body, "ends_at", &have_end, &w->ends_ms) < 0)
		return -1;
	if (!w->reason)
		return api_param_fail(r, "reason", "required: why the window exists");
	if (w->target) {
		char host[256], err[128];
		unsigned port;
		if (hostport_parse(w->target, host, sizeof host, &port, 0, err, sizeof err) < 0 ||
		    port == 0)
			return api_param_fail(r, "target", "expected host:port, got \"%.64s\"", w->target);
	}
	json_t *labels = json_object_get(body, "labels");
	if (labels) {
		if (!json_is_object(labels))
			return api_param_fail(r, "labels", "expected an object of strings {\"k\": \"v\"}");
		json_object_foreach(labels, key, v)
			if (!json_is_string(v) || !*key)
				return api_param_fail(r, "labels", "label \"%.64s\": expected a string value",
						      key);
		w->labels = labels;
	}
	if (!have_start)
		w->starts_ms = r->now_ms;
	if (have_end == (dur != NULL))
		return api_param_fail(r, have_end ? "duration" : "ends_at",
				      "give exactly one of ends_at and duration");
	if (dur) {
		int64_t d;
		if (slo_parse_duration_ms(dur, &d) < 0 || d <= 0 || d > 3650 * 86400000LL)
			return api_param_fail(r, "duration", "expected a duration like 90m, 2h or 1d, "
					      "got \"%.64s\"", dur);
		w->ends_ms = w->starts_ms + d;
	}
	if (w->ends_ms <= w->starts_ms)
		return api_param_fail(r, "ends_at", "the window must end after it starts");
	return 0;
}

static void created(void *arg, struct store_answer *a)
{
	struct api_req *r = arg;
	if (a->status == STORE_OK) {
		char loc[64];
		json_t *id = json_object_get(a->json, "id");
		snprintf(loc, sizeof loc, "/api/v1/maintenance/%lld",
			 (long long)json_integer_value(id));
		evhttp_add_header(evhttp_request_get_output_headers(r->req), "Location", loc);
	}
	api_reply_answer_code(r, a, 201);
}

void api_maintenance_create(struct api_req *r)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(r->req);
	size_t len = evbuffer_get_length(in);
	unsigned char *p = len ? evbuffer_pullup(in, (ssize_t)len) : NULL;
	json_error_t je;
	json_t *body = p ? json_loadb((const char *)p, len, 0, &je) : NULL;
	struct maint_window w = { 0 };
	if (!body) {
		api_param_fail(r, "body", len ? "not JSON: %s (line %d, column %d)"
					      : "expected a JSON object", je.text, je.line, je.column);
		goto bad;
	}
	if (!json_is_object(body)) {
		api_param_fail(r, "body", "expected a JSON object");
		goto bad;
	}
	if (parse_body(r, body, &w) < 0)
		goto bad;
	/* the statement holds copies: body can go */
	store_maint_create_start(r->api->store, r->now_ms, &w, created, r);
	json_decref(body);
	return;
bad:
	json_decref(body);
	api_reply_bad(r);
}

static void deleted(void *arg, struct store_answer *a)
{
	struct api_req *r = arg;
	if (a->status == STORE_OK) {
		json_decref(a->json);
		a->json = NULL;
		api_reply_empty(r, 204);
		return;
	}
	api_reply_answer(r, a);
}

void api_maintenance_delete(struct api_req *r)
{
	char *end;
	errno = 0;
	long long id = strtoll(r->arg[0], &end, 10);
	if (!r->arg[0][0] || *end || errno || id < 1) {
		api_param_fail(r, "id", "expected a window id (a positive integer), got \"%.64s\"",
			       r->arg[0]);
		api_reply_bad(r);
		return;
	}
	store_maint_delete_start(r->api->store, id, deleted, r);
}
