/*
 * web.h - the dashboard's static files, served by the collector's HTTP
 * listener (collector/http.c routes here):
 *
 *   GET /               index.html
 *   GET /assets/NAME    any other embedded file (app.js, app.css, ...)
 *
 * The files live in collector/web/ and are compiled into the binary by
 * scripts/embed-web.py (build/gen/web_assets.c), so a collector needs no
 * files at run time and serves exactly the dashboard it was built with.
 * The page itself reads everything else from the JSON API (/api/v1/). The
 * files hold no data, so they need no token even when reads do
 * (http.read_token_file): the page then asks for the read token once and
 * sends it with its API requests (kept in the tab's sessionStorage).
 *
 * Every answer carries: Content-Type from the file's extension; a strong
 * ETag (a conditional GET with If-None-Match gets 304 and no body);
 * Cache-Control "no-cache" (the browser keeps a copy but revalidates, so a
 * new collector build is picked up at the next load); a strict
 * Content-Security-Policy (default-src 'self', no inline script or style,
 * no framing); X-Content-Type-Options: nosniff; Referrer-Policy: no-referrer.
 *
 * Ownership: web_assets is static data. web_serve borrows the request and,
 * when it returns true, has answered it (evhttp_send_reply).
 */
#ifndef TW_COL_WEB_H
#define TW_COL_WEB_H

#include <stdbool.h>
#include <stddef.h>

struct evhttp_request;

struct web_asset {
	const char *name;   /* base name: "index.html", "app.js" */
	const char *ctype;  /* Content-Type */
	const char *etag;   /* quoted, strong */
	size_t len;
	const char *data;   /* len bytes (not NUL-terminated in meaning) */
};

extern const struct web_asset web_assets[];
extern const size_t web_assets_count;

/* The Content-Security-Policy every dashboard answer carries. */
#define WEB_CSP "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " \
		"connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; " \
		"frame-ancestors 'none'"

/* The embedded file called name, NULL when there is none. */
const struct web_asset *web_find(const char *name);

/* Answers a GET or HEAD of "/" or "/assets/NAME" and returns true; returns
 * false (nothing sent) for any other path or an unknown NAME, so the caller
 * answers it (404). */
bool web_serve(struct evhttp_request *req, const char *path);

#endif
