/*
 * web.c - serves the embedded dashboard files (see web.h). The lookup is
 * an exact match of a base name against the table scripts/embed-web.py
 * generated, so no request path ever reaches the file system.
 */
#include "web.h"

#include <stdio.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

const struct web_asset *web_find(const char *name)
{
	for (size_t i = 0; i < web_assets_count; i++)
		if (strcmp(web_assets[i].name, name) == 0)
			return &web_assets[i];
	return NULL;
}

/* True when an If-None-Match header lists etag (or is "*"). The header is a
 * comma-separated list of entity tags, possibly weak (W/"..."): a weak match
 * is enough for a GET (RFC 9110 13.1.2). */
static bool etag_matches(const char *inm, const char *etag)
{
	size_t elen = strlen(etag);
	const char *p = inm;
	while (*p) {
		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		if (*p == '*')
			return true;
		if (p[0] == 'W' && p[1] == '/')
			p += 2;
		if (strncmp(p, etag, elen) == 0 &&
		    (p[elen] == '\0' || p[elen] == ',' || p[elen] == ' ' || p[elen] == '\t'))
			return true;
		while (*p && *p != ',')
			p++;
	}
	return false;
}

bool web_serve(struct evhttp_request *req, const char *path)
{
	const char *name;
	if (strcmp(path, "/") == 0 || strcmp(path, "/index.html") == 0)
		name = "index.html";
	else if (strncmp(path, "/assets/", 8) == 0)
		name = path + 8;
	else
		return false;
	const struct web_asset *a = web_find(name);
	if (!a)
		return false;

	struct evkeyvalq *hdr = evhttp_request_get_output_headers(req);
	evhttp_add_header(hdr, "Content-Type", a->ctype);
	evhttp_add_header(hdr, "ETag", a->etag);
	evhttp_add_header(hdr, "Cache-Control", "no-cache");
	evhttp_add_header(hdr, "Content-Security-Policy", WEB_CSP);
	evhttp_add_header(hdr, "X-Content-Type-Options", "nosniff");
	evhttp_add_header(hdr, "Referrer-Policy", "no-referrer");
	evhttp_add_header(hdr, "X-Frame-Options", "DENY");

	const char *inm = evhttp_find_header(evhttp_request_get_input_headers(req),
					     "If-None-Match");
	if (inm && etag_matches(inm, a->etag)) {
		evhttp_send_reply(req, 304, "Not Modified", NULL);
		return true;
	}
	if (evhttp_request_get_command(req) == EVHTTP_REQ_HEAD) {
		/* evhttp sends whatever body it is given, HEAD or not: the
		 * length the GET would have, and nothing */
		char len[32];
		snprintf(len, sizeof len, "%zu", a->len);
		evhttp_add_header(hdr, "Content-Length", len);
		evhttp_send_reply(req, 200, "OK", NULL);
		return true;
	}
	struct evbuffer *body = evbuffer_new();
	/* the embedded bytes are static: referenced, never copied */
	if (!body || evbuffer_add_reference(body, a->data, a->len, NULL, NULL) != 0) {
		if (body)
			evbuffer_free(body);
		evhttp_send_error(req, 500, "Internal Server Error");
		return true;
	}
	evhttp_send_reply(req, 200, "OK", body);
	evbuffer_free(body);
	return true;
}
