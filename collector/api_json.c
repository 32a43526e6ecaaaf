/*
 * api_json.c - the API's replies (see api_json.h).
 */
#include "api_json.h"
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

static const char *reason(int code)
{
	switch (code) {
	case 200: return "OK";
	case 201: return "Created";
	case 204: return "No Content";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 413: return "Payload Too Large";
	case 414: return "URI Too Long";
	case 503: return "Service Unavailable";
	default: return code >= 500 ? "Internal Server Error" : "Error";
	}
}

void api_req_free(struct api_req *r)
{
	if (!r)
		return;
	for (int i = 0; i < API_MAX_ARGS; i++)
		free(r->arg[i]);
	evhttp_clear_headers(&r->query);
	free(r);
}

static void send_body(struct api_req *r, int code, const char *text, size_t len)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(r->req);
	evhttp_add_header(h, "Cache-Control", "no-store");
	struct evbuffer *b = NULL;
	if (text) {
		evhttp_add_header(h, "Content-Type", "application/json");
		if (!(b = evbuffer_new()) || evbuffer_add(b, text, len) != 0) {
			if (b)
				evbuffer_free(b);
			evhttp_send_error(r->req, 500, "Internal Server Error");
			api_req_free(r);
			return;
		}
	}
	evhttp_send_reply(r->req, code, reason(code), b);
	if (b)
		evbuffer_free(b);
	api_req_free(r);
}

void api_reply_json(struct api_req *r, int code, json_t *body)
{
	char *text = body ? json_dumps(body, JSON_COMPACT | JSON_REAL_PRECISION(10)) : NULL;
	if (body)
		json_decref(body);
	if (!text) {
		send_body(r, 500, "{\"error\":{\"message\":\"out of memory\"}}", 38);
		return;
	}
	size_t n = strlen(text);
	/* a newline, so `curl` output ends cleanly in a terminal */
	char *t2 = realloc(text, n + 2);
	if (t2) {
		text = t2;
		text[n++] = '\n';
		text[n] = '\0';
	}
	send_body(r, code, text, n);
	free(text);
}

void api_reply_error(struct api_req *r, int code, const char *param, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	json_t *e = json_pack("{s:s}", "message", msg);
	if (e && param)
		json_object_set_new(e, "parameter", json_string(param));
	api_reply_json(r, code, e ? json_pack("{s:o}", "error", e) : NULL);
}

void api_reply_bad(struct api_req *r)
{
	api_reply_error(r, 400, r->bad_param[0] ? r->bad_param : NULL, "%s",
			r->bad_msg[0] ? r->bad_msg : "bad request");
}

void api_reply_empty(struct api_req *r, int code)
{
	send_body(r, code, NULL, 0);
}

void api_reply_answer_code(struct api_req *r, struct store_answer *a, int code)
{
	switch (a->status) {
	case STORE_OK:
		api_reply_json(r, code, a->json);
		a->json = NULL;
		break;
	case STORE_NOT_FOUND:
		api_reply_error(r, 404, NULL, "%s", a->err ? a->err : "not found");
		break;
	case STORE_UNAVAILABLE:
	case STORE_CANCELLED:
		api_reply_error(r, 503, NULL, "%s", a->err ? a->err : "database unavailable");
		break;
	case STORE_ERROR:
	default:
		log_warn("api: %s: %s", evhttp_request_get_uri(r->req), a->err ? a->err : "error");
		api_reply_error(r, 500, NULL, "%s", a->err ? a->err : "internal error");
		break;
	}
}

void api_reply_answer(void *arg, struct store_answer *a)
{
	api_reply_answer_code(arg, a, 200);
}
