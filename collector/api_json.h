/*
 * api_json.h - how the API answers: every reply is application/json with
 * Cache-Control: no-store, and every error has the body
 * {"error": {"parameter": ..., "message": ...}} (docs/api.md). Each
 * api_reply_* sends the answer and frees the request (r is gone after it);
 * a request whose client went away is freed by libevent without sending.
 */
#ifndef TW_API_JSON_H
#define TW_API_JSON_H

#include "api_req.h"

#include <jansson.h>

/* Sends body (taken; NULL: 500 "out of memory") with code. */
void api_reply_json(struct api_req *r, int code, json_t *body);
/* An error body; param may be NULL. */
void api_reply_error(struct api_req *r, int code, const char *param, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* 400 for the first bad parameter recorded by api_params.h. */
void api_reply_bad(struct api_req *r);
/* A reply without a body (204). */
void api_reply_empty(struct api_req *r, int code);
/* A store_cb: OK -> 200 with the json, NOT_FOUND -> 404, UNAVAILABLE and
 * CANCELLED -> 503, ERROR -> 500; arg is the api_req. */
void api_reply_answer(void *arg, struct store_answer *a);
/* Like api_reply_answer with code for STORE_OK (201 for a create). */
void api_reply_answer_code(struct api_req *r, struct store_answer *a, int code);

/* Frees r without answering (the router uses it after evhttp_send_error). */
void api_req_free(struct api_req *r);

#endif
