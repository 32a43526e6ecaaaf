/*
 * api.h - the collector's JSON API under /api/v1 (docs/api.md; the contract
 * is collector/openapi.json, embedded in the binary and served at
 * /api/v1/openapi.json). http.c hands every request whose path starts with
 * /api/ to api_handle(); the router (api.c) matches method and path against
 * one table, checks the limits and the token (api_auth.c), and calls the
 * endpoint's handler (api_*.c), which reads through the store (store.h) and
 * answers with api_json.h's helpers. Nothing here blocks the loop.
 *
 * Ownership: api_new copies what it keeps of the options (tokens are wiped
 * when freed); slo is borrowed and must outlive the api. api_free answers
 * every request still waiting for the database (503) before it returns, so
 * it must run before the evhttp object is freed. Names are prefixed api_.
 */
#ifndef TW_API_H
#define TW_API_H

#include <stddef.h>
#include <event2/event.h>
#include <event2/http.h>

struct api;
struct slo_config;

struct api_opts {
	const char *conninfo;          /* required: the store's own session */
	const char *token_file;        /* write token; NULL: env TLSWATCH_API_TOKEN */
	const char *read_token_file;   /* read token; NULL: env TLSWATCH_API_READ_TOKEN */
	const struct slo_config *slo;  /* the SLOs of /slos; NULL: none */
	unsigned minute_retention_days;/* how long rollup_1m is kept (sli_window); 0 = forever */
};

/* NULL with a one-line reason (a token file unreadable or too open, out of
 * memory, bad conninfo). */
struct api *api_new(struct event_base *base, const struct api_opts *o, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* Answers req (now or later, always exactly once). */
void api_handle(struct api *api, struct evhttp_request *req);

void api_free(struct api *api);

#endif
