/*
 * notify_http.h - HTTP POSTs for the notifier: a libcurl multi handle
 * driven by the collector's libevent loop (CURLMOPT_SOCKETFUNCTION keeps
 * one event per socket, CURLMOPT_TIMERFUNCTION one timer; both end in
 * curl_multi_socket_action). One callback per request, with its status,
 * curl's error, the start of the body and Retry-After.
 *
 * Ownership: notify_http_post() copies the URL and the header lines (libcurl
 * and our slist); the body is NOT copied and must stay valid until the
 * request's callback. notify_http_free() (never from inside one of its
 * callbacks) cancels requests in flight without calling their callbacks.
 * notify_http_new() calls curl_global_init(), notify_http_free()
 * curl_global_cleanup() (reference counted by libcurl >= 7.84).
 */
#ifndef TW_NOTIFY_HTTP_H
#define TW_NOTIFY_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <event2/event.h>

#define NOTIFY_HTTP_BODY_KEEP 300 /* bytes of a response body kept */

struct notify_http;

struct notify_http_result {
	bool transport_ok;       /* an HTTP answer came (status is set) */
	long status;             /* HTTP status; 0 without an answer */
	const char *error;       /* !transport_ok: curl's message (it may name the URL) */
	const char *curl_error;  /* !transport_ok: curl_easy_strerror(): never a URL */
	const char *body;        /* the first NOTIFY_HTTP_BODY_KEEP bytes, NUL-terminated */
	size_t body_len;
	const char *retry_after; /* the Retry-After value, or NULL */
	double duration_ms;
};

typedef void (*notify_http_cb)(void *arg, const struct notify_http_result *r);

struct notify_http *notify_http_new(struct event_base *base, char *err, size_t errlen)
	__attribute__((warn_unused_result));
void notify_http_free(struct notify_http *h);

/* Starts a POST of body (Content-Type: application/json) with extra header
 * lines ("Name: value"). 0, or -1 when the request could not be set up (no
 * callback then). cb runs from the loop, never inside this call. */
int notify_http_post(struct notify_http *h, const char *url, char *const *headers,
		     size_t nheaders, const char *body, size_t body_len, unsigned timeout_ms,
		     notify_http_cb cb, void *arg) __attribute__((warn_unused_result));

unsigned notify_http_in_flight(const struct notify_http *h);

#endif
