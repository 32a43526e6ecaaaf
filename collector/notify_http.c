/*
 * notify_http.c - see notify_http.h.
 */
#include "notify_http.h"
#include "log.h"
#include "twtime.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

struct sockev {
	struct sockev *next, *prev;
	struct event *ev;
	curl_socket_t fd;
};

/* One request. */
struct hreq {
	struct hreq *next, *prev;
	CURL *easy;
	struct curl_slist *hdrs;
	notify_http_cb cb;
	void *arg;
	double started_mono;
	char errbuf[CURL_ERROR_SIZE];
	char retry_after[72];
	bool have_retry_after;
	char resp[NOTIFY_HTTP_BODY_KEEP + 1];
	size_t resp_len;
};

struct notify_http {
	struct event_base *base;
	CURLM *multi;
	struct event *timer;
	struct sockev *socks;
	struct hreq *reqs;
	unsigned in_flight;
	bool curl_inited;
};

static void timer_in(struct event *ev, long ms)
{
	if (ms < 0)
		ms = 0;
	struct timeval tv = { (time_t)(ms / 1000), (suseconds_t)(ms % 1000 * 1000) };
	event_add(ev, &tv);
}

static void req_unlink(struct notify_http *h, struct hreq *q)
{
	if (q->prev)
		q->prev->next = q->next;
	else if (h->reqs == q)
		h->reqs = q->next;
	if (q->next)
		q->next->prev = q->prev;
	q->next = q->prev = NULL;
}

static void req_free(struct hreq *q)
{
	if (!q)
		return;
	if (q->easy)
		curl_easy_cleanup(q->easy);
	curl_slist_free_all(q->hdrs);
	free(q);
}

/* A request ended: its callback, then it is gone. */
static void req_done(struct notify_http *h, struct hreq *q, CURLcode res)
{
	struct notify_http_result r = { 0 };
	curl_multi_remove_handle(h->multi, q->easy);
	req_unlink(h, q);
	h->in_flight--;
	r.duration_ms = twtime_mono_ms() - q->started_mono;
	if (res == CURLE_OK) {
		r.transport_ok = true;
		curl_easy_getinfo(q->easy, CURLINFO_RESPONSE_CODE, &r.status);
	} else {
		r.curl_error = curl_easy_strerror(res);
		r.error = q->errbuf[0] ? q->errbuf : r.curl_error;
	}
	r.body = q->resp;
	r.body_len = q->resp_len;
	r.retry_after = q->have_retry_after ? q->retry_after : NULL;
	q->cb(q->arg, &r);
	req_free(q);
}

static void check_multi(struct notify_http *h)
{
	CURLMsg *m;
	int left;
	while ((m = curl_multi_info_read(h->multi, &left))) {
		if (m->msg != CURLMSG_DONE)
			continue;
		struct hreq *q = NULL;
		curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&q);
		CURLcode res = m->data.result;
		if (q)
			req_done(h, q, res);
	}
}

static void on_sock(evutil_socket_t fd, short what, void *arg)
{
	struct notify_http *h = arg;
	int running = 0;
	int act = ((what & EV_READ) ? CURL_CSELECT_IN : 0) | ((what & EV_WRITE) ? CURL_CSELECT_OUT : 0);
	curl_multi_socket_action(h->multi, fd, act, &running);
	check_multi(h);
	if (running <= 0)
		event_del(h->timer);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct notify_http *h = arg;
	int running = 0;
	(void)fd;
	(void)what;
	curl_multi_socket_action(h->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	check_multi(h);
}

static void sockev_free(struct notify_http *h, struct sockev *se)
{
	if (se->prev)
		se->prev->next = se->next;
	else
		h->socks = se->next;
	if (se->next)
		se->next->prev = se->prev;
	if (se->ev)
		event_free(se->ev);
	free(se);
}

/* CURLMOPT_SOCKETFUNCTION: one event per socket, changed to what curl wants. */
static int sock_cb(CURL *e, curl_socket_t s, int what, void *userp, void *socketp)
{
	struct notify_http *h = userp;
	struct sockev *se = socketp;
	(void)e;
	if (what == CURL_POLL_REMOVE) {
		if (se)
			sockev_free(h, se);
		curl_multi_assign(h->multi, s, NULL);
		return 0;
	}
	if (!se) {
		if (!(se = calloc(1, sizeof *se)))
			return -1;
		se->fd = s;
		se->next = h->socks;
		if (h->socks)
			h->socks->prev = se;
		h->socks = se;
		curl_multi_assign(h->multi, s, se);
	}
	short kind = (short)(((what & CURL_POLL_IN) ? EV_READ : 0) |
			     ((what & CURL_POLL_OUT) ? EV_WRITE : 0) | EV_PERSIST);
	if (se->ev)
		event_free(se->ev);
	se->ev = event_new(h->base, s, kind, on_sock, h);
	if (!se->ev || event_add(se->ev, NULL) < 0)
		return -1;
	return 0;
}

/* CURLMOPT_TIMERFUNCTION: one timer for the whole multi handle. */
static int timer_cb(CURLM *m, long timeout_ms, void *userp)
{
	struct notify_http *h = userp;
	(void)m;
	if (timeout_ms < 0)
		event_del(h->timer);
	else
		timer_in(h->timer, timeout_ms);
	return 0;
}

static size_t hdr_cb(char *buf, size_t size, size_t nitems, void *arg)
{
	struct hreq *q = arg;
	size_t len = size * nitems;
	if (len >= 5 && strncmp(buf, "HTTP/", 5) == 0) {
		/* a new response (after 100 Continue, say): forget the previous one's */
		q->have_retry_after = false;
		q->resp_len = 0;
		q->resp[0] = '\0';
		return len;
	}
	if (len > 12 && strncasecmp(buf, "retry-after:", 12) == 0) {
		size_t n = len - 12;
		if (n >= sizeof q->retry_after)
			n = sizeof q->retry_after - 1;
		memcpy(q->retry_after, buf + 12, n);
		q->retry_after[n] = '\0';
		q->have_retry_after = true;
	}
	return len;
}

static size_t body_cb(char *buf, size_t size, size_t nmemb, void *arg)
{
	struct hreq *q = arg;
	size_t len = size * nmemb;
	size_t room = NOTIFY_HTTP_BODY_KEEP - q->resp_len;
	size_t k = len < room ? len : room;
	memcpy(q->resp + q->resp_len, buf, k);
	q->resp_len += k;
	q->resp[q->resp_len] = '\0';
	return len;
}

int notify_http_post(struct notify_http *h, const char *url, char *const *headers,
		     size_t nheaders, const char *body, size_t body_len, unsigned timeout_ms,
		     notify_http_cb cb, void *arg)
{
	struct hreq *q = calloc(1, sizeof *q);
	if (!q || !cb)
		goto fail;
	q->cb = cb;
	q->arg = arg;
	q->started_mono = twtime_mono_ms();
	CURL *e = q->easy = curl_easy_init();
	bool ok = e != NULL;
	struct curl_slist *sl = NULL;
	const char *base_hdrs[] = { "Content-Type: application/json", "Expect:",
				    "User-Agent: tlswatch-notifier", "Accept: */*" };
	for (size_t i = 0; ok && i < sizeof base_hdrs / sizeof base_hdrs[0]; i++)
		ok = (sl = curl_slist_append(q->hdrs, base_hdrs[i])) != NULL && (q->hdrs = sl);
	for (size_t i = 0; ok && i < nheaders; i++)
		ok = (sl = curl_slist_append(q->hdrs, headers[i])) != NULL && (q->hdrs = sl);
	unsigned t = timeout_ms;
	ok = ok &&
	     curl_easy_setopt(e, CURLOPT_URL, url) == CURLE_OK &&
#if LIBCURL_VERSION_NUM >= 0x075500
	     curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https") == CURLE_OK &&
#else
	     curl_easy_setopt(e, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS)) == CURLE_OK &&
#endif
	     curl_easy_setopt(e, CURLOPT_POST, 1L) == CURLE_OK &&
	     curl_easy_setopt(e, CURLOPT_POSTFIELDS, body) == CURLE_OK &&
	     curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len) == CURLE_OK &&
	     curl_easy_setopt(e, CURLOPT_HTTPHEADER, q->hdrs) == CURLE_OK &&
	     curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)t) == CURLE_OK &&
	     curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)(t < 10000 ? t : 10000)) == CURLE_OK &&
	     curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L) == CURLE_OK &&
	     curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L) == CURLE_OK &&
	     curl_easy_setopt(e, CURLOPT_PRIVATE, (char *)q) == CURLE_OK &&
	     curl_easy_setopt(e, CURLOPT_ERRORBUFFER, q->errbuf) == CURLE_OK &&
	     curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, hdr_cb) == CURLE_OK &&
	     curl_easy_setopt(e, CURLOPT_HEADERDATA, q) == CURLE_OK &&
	     curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, body_cb) == CURLE_OK &&
	     curl_easy_setopt(e, CURLOPT_WRITEDATA, q) == CURLE_OK;
	if (!ok || curl_multi_add_handle(h->multi, e) != CURLM_OK)
		goto fail;
	q->next = h->reqs;
	if (h->reqs)
		h->reqs->prev = q;
	h->reqs = q;
	h->in_flight++;
	return 0;
fail:
	req_free(q);
	return -1;
}

unsigned notify_http_in_flight(const struct notify_http *h)
{
	return h ? h->in_flight : 0;
}

struct notify_http *notify_http_new(struct event_base *base, char *err, size_t errlen)
{
	struct notify_http *h = calloc(1, sizeof *h);
	if (!h) {
		snprintf(err, errlen, "notify: out of memory");
		return NULL;
	}
	h->base = base;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		snprintf(err, errlen, "notify: libcurl initialisation failed");
		free(h);
		return NULL;
	}
	h->curl_inited = true;
	if (!(h->timer = evtimer_new(base, on_timer, h)) || !(h->multi = curl_multi_init()) ||
	    curl_multi_setopt(h->multi, CURLMOPT_SOCKETFUNCTION, sock_cb) != CURLM_OK ||
	    curl_multi_setopt(h->multi, CURLMOPT_SOCKETDATA, h) != CURLM_OK ||
	    curl_multi_setopt(h->multi, CURLMOPT_TIMERFUNCTION, timer_cb) != CURLM_OK ||
	    curl_multi_setopt(h->multi, CURLMOPT_TIMERDATA, h) != CURLM_OK) {
		snprintf(err, errlen, "notify: out of memory setting up libcurl");
		notify_http_free(h);
		return NULL;
	}
	return h;
}

void notify_http_free(struct notify_http *h)
{
	if (!h)
		return;
	struct hreq *q;
	while ((q = h->reqs)) {
		req_unlink(h, q);
		if (h->multi)
			curl_multi_remove_handle(h->multi, q->easy);
		req_free(q);
	}
	if (h->multi)
		curl_multi_cleanup(h->multi);
	while (h->socks)
		sockev_free(h, h->socks);
	if (h->timer)
		event_free(h->timer);
	if (h->curl_inited)
		curl_global_cleanup();
	free(h);
}
