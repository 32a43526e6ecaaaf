/*
 * http_fetch.h - one plain-http request on the probe's event loop, for what
 * the checks fetch from the URLs in certificates: CRLs (crl_check.c, GET),
 * OCSP responses (ocsp_check.c, POST) and caIssuers certificates (aia_fetch.c).
 * libevent's evhttp client: no retries, one timeout for connect and
 * response, the body capped by libevent itself (max_body, also when it
 * comes chunked), headers capped at 16 KiB, "Connection: close".
 *
 * Ownership: http_fetch_start() returns a handle the caller frees with
 * http_fetch_free() - never inside its own callback (libevent still uses
 * the connection after it returns): from the next event, or when the
 * owner goes. Freeing before the callback cancels it (no callback).
 */
#ifndef TW_HTTP_FETCH_H
#define TW_HTTP_FETCH_H

#include <stddef.h>
#include <event2/event.h>
#include <event2/dns.h>

struct http_fetch;

/* The answer, once: body (status 200, len >= 1; valid during the call
 * only), or NULL with why ("connection failed", "HTTP 404", "response
 * larger than N bytes", "empty HTTP body"). */
typedef void (*http_fetch_cb)(const unsigned char *body, size_t len, const char *why, void *arg);

/* What a POST sends; NULL for a GET. */
struct http_fetch_post {
	const char *content_type;
	const char *accept;
	const unsigned char *body;
	size_t len;
};

/* Starts the request of url (http:// only; what names it in errors: "CRL",
 * "OCSP responder", ...). NULL with err set when the URL is unusable or out
 * of memory (no callback then). */
struct http_fetch *http_fetch_start(struct event_base *base, struct evdns_base *dns,
				    const char *url, const char *what,
				    const struct http_fetch_post *post, size_t max_body,
				    double timeout_ms, http_fetch_cb cb, void *arg, char *err,
				    size_t errlen);
void http_fetch_free(struct http_fetch *f);

#endif
