/*
 * http_fetch.c - see http_fetch.h. libevent reports a failed request in two
 * calls: the error callback (why: a body over the cap, a timeout, ...),
 * then the done callback with the request or NULL; the answer is given in
 * the second.
 */
#include "http_fetch.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

struct http_fetch {
	struct evhttp_connection *conn;
	struct evhttp_uri *uri;
	size_t max_body;
	http_fetch_cb cb;
	void *arg;
	bool done;                       /* answered, or freed */
	bool failed;                     /* the error callback ran */
	enum evhttp_request_error error; /* its reason */
};

static void on_http_error(enum evhttp_request_error e, void *arg)
{
	struct http_fetch *f = arg;
	f->error = e;
	f->failed = true;
}

static void on_http_done(struct evhttp_request *req, void *arg)
{
	struct http_fetch *f = arg;
	char why[120];
	if (f->done)
		return;
	f->done = true;
	if (f->failed && f->error == EVREQ_HTTP_DATA_TOO_LONG) {
		snprintf(why, sizeof why, "response larger than %zu bytes", f->max_body);
		f->cb(NULL, 0, why, f->arg);
		return;
	}
	int code = !f->failed && req ? evhttp_request_get_response_code(req) : 0;
	if (code == 0) {
		f->cb(NULL, 0, "connection failed", f->arg);
		return;
	}
	if (code != 200) {
		snprintf(why, sizeof why, "HTTP %d", code);
		f->cb(NULL, 0, why, f->arg);
		return;
	}
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	size_t n = evbuffer_get_length(in);
	if (n > f->max_body) {
		/* libevent enforces the cap; this keeps it true whatever it does */
		snprintf(why, sizeof why, "response larger than %zu bytes", f->max_body);
		f->cb(NULL, 0, why, f->arg);
		return;
	}
	unsigned char *body = n ? evbuffer_pullup(in, -1) : NULL;
	if (!body) {
		f->cb(NULL, 0, "empty HTTP body", f->arg);
		return;
	}
	f->cb(body, n, NULL, f->arg);
}

struct http_fetch *http_fetch_start(struct event_base *base, struct evdns_base *dns,
				    const char *url, const char *what,
				    const struct http_fetch_post *post, size_t max_body,
				    double timeout_ms, http_fetch_cb cb, void *arg, char *err,
				    size_t errlen)
{
	struct http_fetch *f = calloc(1, sizeof *f);
	struct evhttp_request *hreq = NULL;
	if (!f) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	f->cb = cb;
	f->arg = arg;
	f->max_body = max_body;
	f->uri = evhttp_uri_parse(url);
	const char *scheme = f->uri ? evhttp_uri_get_scheme(f->uri) : NULL;
	const char *host = f->uri ? evhttp_uri_get_host(f->uri) : NULL;
	if (!scheme || strcmp(scheme, "http") != 0 || !host || !*host) {
		snprintf(err, errlen, "unusable %s URL \"%.80s\"", what, url);
		goto fail;
	}
	int port = evhttp_uri_get_port(f->uri);
	const char *path = evhttp_uri_get_path(f->uri);
	f->conn = evhttp_connection_base_new(base, dns, host, (unsigned short)(port > 0 ? port : 80));
	if (!f->conn) {
		snprintf(err, errlen, "cannot create an HTTP connection to %s", host);
		goto fail;
	}
	struct timeval tv = { (time_t)(timeout_ms / 1000),
			      (suseconds_t)((long)(timeout_ms * 1000) % 1000000) };
	evhttp_connection_set_timeout_tv(f->conn, &tv);
	evhttp_connection_set_retries(f->conn, 0);
	/* libevent stops reading (and fails the request) past these, whether
	 * the body comes with a Content-Length or chunked */
	evhttp_connection_set_max_body_size(f->conn, (ev_ssize_t)max_body);
	evhttp_connection_set_max_headers_size(f->conn, 16 * 1024);
	hreq = evhttp_request_new(on_http_done, f);
	if (!hreq) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	evhttp_request_set_error_cb(hreq, on_http_error);
	struct evkeyvalq *h = evhttp_request_get_output_headers(hreq);
	if (evhttp_add_header(h, "Host", host) != 0 ||
	    evhttp_add_header(h, "Connection", "close") != 0 ||
	    (post && (evhttp_add_header(h, "Content-Type", post->content_type) != 0 ||
		      evhttp_add_header(h, "Accept", post->accept) != 0 ||
		      evbuffer_add(evhttp_request_get_output_buffer(hreq), post->body,
				   post->len) != 0))) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	/* evhttp_make_request owns hreq from here, even on failure */
	if (evhttp_make_request(f->conn, hreq, post ? EVHTTP_REQ_POST : EVHTTP_REQ_GET,
				path && *path ? path : "/") != 0) {
		hreq = NULL;
		snprintf(err, errlen, "cannot send the request to %s %.80s", what, url);
		goto fail;
	}
	return f;
fail:
	if (hreq)
		evhttp_request_free(hreq);
	http_fetch_free(f);
	return NULL;
}

void http_fetch_free(struct http_fetch *f)
{
	if (!f)
		return;
	f->done = true;
	if (f->conn)
		evhttp_connection_free(f->conn);
	if (f->uri)
		evhttp_uri_free(f->uri);
	free(f);
}
