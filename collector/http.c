/*
 * http.c - the collector's HTTP routing: /healthz, /readyz and /metrics (see
 * http.h). What /metrics says is rendered by metrics_proc.c (build, process),
 * metrics_self.c (the collector's own counters) and metrics.c (the
 * per-target snapshot).
 */
#include "http.h"
#include "accept_backoff.h"
#include "api.h"
#include "tlsutil.h"
#include "cmd.h"
#include "db.h"
#include "ingest.h"
#include "metrics.h"
#include "metrics_proc.h"
#include "metrics_self.h"
#include "log.h"
#include "twtime.h"
#include "web.h"

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

struct http_srv {
	struct evhttp *http;
	struct evhttp_bound_socket *sock;
	struct accept_backoff *backoff;  /* pauses accepting at the descriptor limit */
	struct event *sweep;            /* HTTP_SRV_SWEEP_MS, persistent */
	struct event *sweep_now;        /* the same, once, for the cap: activating
					 * the persistent one would push its next
					 * run a period later each time */
	struct http_client *clients;    /* every connection evhttp was given */
	unsigned nclients;
	unsigned long long clients_cut; /* told to time out: the cap or the deadline */
	struct log_ratelimit cap_rl;
	struct ingest *ing;
	struct db_pool *db;
	struct notifier *notifier;      /* NULL: no notify file */
	struct evaluator *evaluator;    /* NULL: alerting off */
	struct metrics *metrics;        /* NULL: no per-target series */
	unsigned port;
	struct api *api;                /* NULL: no /api/ (owned) */
	SSL_CTX *tls;                   /* NULL: plain HTTP (owned) */
};

void http_srv_set_api(struct http_srv *h, struct api *api)
{
	h->api = api;
}

int http_srv_set_tls(struct http_srv *h, const char *cert_file, const char *key_file, char *err,
		     size_t errlen)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	if (!ctx || SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1) {
		char e[256];
		snprintf(err, errlen, "http.tls: %s", tlsutil_err_drain(e, sizeof e));
		SSL_CTX_free(ctx);
		return -1;
	}
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
	if (tlsutil_use_identity(ctx, cert_file, key_file, err, errlen) != 0) {
		SSL_CTX_free(ctx);
		return -1;
	}
	SSL_CTX_free(h->tls);
	h->tls = ctx;
	return 0;
}

void http_srv_set_alerting(struct http_srv *h, struct evaluator *ev, struct notifier *nt)
{
	h->evaluator = ev;
	h->notifier = nt;
}

void http_srv_set_metrics(struct http_srv *h, struct metrics *m)
{
	h->metrics = m;
}

/* Build and process first, then the collector's own series, then the
 * per-target snapshot: all from memory, nothing here waits. */
static void render_metrics(const struct http_srv *h, struct evbuffer *b)
{
	metrics_proc_render(b, CMD_COLLECTOR_VERSION);
	metrics_self_render(b, h->ing, h->db, h->evaluator, h->notifier);
	if (h->metrics)
		metrics_render(h->metrics, b);
}

char *http_srv_metrics_text(const struct http_srv *h)
{
	struct evbuffer *b = evbuffer_new();
	if (!b)
		return NULL;
	render_metrics(h, b);
	size_t n = evbuffer_get_length(b);
	char *s = malloc(n + 1);
	if (s) {
		evbuffer_remove(b, s, n);
		s[n] = '\0';
	}
	evbuffer_free(b);
	return s;
}

/* ---- handlers ---- */

static void reply_text(struct evhttp_request *req, int code, const char *reason,
		       const char *ctype, struct evbuffer *body)
{
	struct evkeyvalq *hdr = evhttp_request_get_output_headers(req);
	evhttp_add_header(hdr, "Content-Type", ctype);
	evhttp_add_header(hdr, "Cache-Control", "no-store");
	evhttp_send_reply(req, code, reason, body);
}

static void handle(struct evhttp_request *req, void *arg)
{
	struct http_srv *h = arg;
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
	const char *path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));
	if (!path)
		path = "/";
	/* the JSON API answers its own methods, limits and errors (api.c) */
	if (h->api && strncmp(path, "/api/", 5) == 0) {
		api_handle(h->api, req);
		return;
	}
	if (cmd != EVHTTP_REQ_GET && cmd != EVHTTP_REQ_HEAD) {
		evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", "GET, HEAD");
		evhttp_send_error(req, 405, "Method Not Allowed");
		return;
	}
	if (web_serve(req, path))
		return;  /* the dashboard: / and /assets/ (web.h) */
	struct evbuffer *body = evbuffer_new();
	if (!body) {
		evhttp_send_error(req, 500, "Internal Server Error");
		return;
	}
	if (strcmp(path, "/healthz") == 0) {
		evbuffer_add_printf(body, "ok\n");
		reply_text(req, 200, "OK", "text/plain; charset=utf-8", body);
	} else if (strcmp(path, "/readyz") == 0) {
		struct ingest_stats is;
		ingest_get_stats(h->ing, &is);
		bool dbok = db_is_ready(h->db);
		if (dbok && is.listening) {
			evbuffer_add_printf(body, "ready\n");
			reply_text(req, 200, "OK", "text/plain; charset=utf-8", body);
		} else {
			evbuffer_add_printf(body, "not ready:%s%s\n",
					    dbok ? "" : " database not ready (no connection up or "
							"schema not migrated)",
					    is.listening ? "" : " not listening for probes (shutting down)");
			reply_text(req, 503, "Service Unavailable", "text/plain; charset=utf-8", body);
		}
	} else if (strcmp(path, "/metrics") == 0) {
		render_metrics(h, body);
		reply_text(req, 200, "OK", "text/plain; version=0.0.4; charset=utf-8", body);
	} else {
		evbuffer_add_printf(body, "not found\n");
		reply_text(req, 404, "Not Found", "text/plain; charset=utf-8", body);
	}
	evbuffer_free(body);
}

/*
 * One HTTP client connection. evhttp (libevent 2.1) has no connection cap
 * and its timeout restarts with every byte, so a client that trickles a
 * request holds its descriptor for ever. evhttp asks us for each incoming
 * connection's bufferevent (evhttp_set_bevcb): we make it, keep a reference
 * and list it. A sweep every HTTP_SRV_SWEEP_MS drops the reference of those
 * evhttp has freed (bufferevent_free clears the callbacks; our reference
 * keeps the object readable until then, so the descriptor closes up to one
 * sweep late) and tells evhttp that a connection older than
 * HTTP_SRV_DEADLINE_S - or the oldest, at once, when a new one is beyond
 * HTTP_SRV_MAX_CLIENTS - timed
 * out: its own event callback, as if the socket had, and it drops the
 * connection.
 */
#define HTTP_SRV_SWEEP_MS 1000

struct http_client {
	struct bufferevent *bev;        /* evhttp's; we hold one reference */
	double deadline_ms;             /* monotonic */
	struct http_client *next;
};

static void sweep(evutil_socket_t fd, short what, void *arg)
{
	struct http_srv *h = arg;
	double now = twtime_mono_ms();
	struct http_client **p = &h->clients;
	while (*p) {
		struct http_client *cl = *p;
		bufferevent_event_cb eventcb = NULL;
		void *cbarg = NULL;
		bufferevent_getcb(cl->bev, NULL, NULL, &eventcb, &cbarg);
		if (!eventcb) {
			*p = cl->next;
			h->nclients--;
			bufferevent_decref(cl->bev);
			free(cl);
			continue;
		}
		if (now >= cl->deadline_ms) {
			/* told again each sweep until evhttp lets go of it */
			h->clients_cut++;
			eventcb(cl->bev, BEV_EVENT_READING | BEV_EVENT_TIMEOUT, cbarg);
		}
		p = &cl->next;
	}
}

static struct bufferevent *client_new(struct event_base *base, void *arg)
{
	struct http_srv *h = arg;
	struct http_client *cl = calloc(1, sizeof *cl);
	if (!cl)
		return NULL;  /* evhttp makes a bufferevent itself: served, not tracked */
	SSL *ssl = h->tls ? SSL_new(h->tls) : NULL;
	if (h->tls && !ssl) {
		free(cl);
		return NULL;
	}
	/* with http.tls every connection is HTTPS: the handshake runs inside
	 * the bufferevent, evhttp sees the plaintext */
	cl->bev = ssl ? bufferevent_openssl_socket_new(base, -1, ssl, BUFFEREVENT_SSL_ACCEPTING,
						       BEV_OPT_CLOSE_ON_FREE)
		      : bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
	if (!cl->bev) {
		free(cl);
		return NULL;
	}
	bufferevent_incref(cl->bev);
	cl->deadline_ms = twtime_mono_ms() + HTTP_SRV_DEADLINE_S * 1000.0;
	cl->next = h->clients;
	h->clients = cl;
	if (++h->nclients > HTTP_SRV_MAX_CLIENTS) {
		/* Over the cap: the oldest still open goes (the list is newest
		 * first), so slow clients cannot lock out a quick /healthz. */
		struct http_client *oldest = NULL;
		for (struct http_client *o = cl->next; o; o = o->next) {
			bufferevent_event_cb eventcb = NULL;
			bufferevent_getcb(o->bev, NULL, NULL, &eventcb, NULL);
			if (eventcb && o->deadline_ms > 0)
				oldest = o;
		}
		if (oldest) {
			oldest->deadline_ms = 0;
			event_active(h->sweep_now, EV_TIMEOUT, 0);
		}
		log_every(&h->cap_rl, 10000, TWLOG_WARN,
			  "http: %u clients open, the cap is %u: closing the oldest", h->nclients,
			  HTTP_SRV_MAX_CLIENTS);
	}
	return cl->bev;
}

struct http_srv *http_srv_new(struct event_base *base, const char *host, unsigned port,
			      struct ingest *ing, struct db_pool *db, char *err, size_t errlen)
{
	struct http_srv *h = calloc(1, sizeof *h);
	if (!h || !(h->http = evhttp_new(base))) {
		snprintf(err, errlen, "out of memory");
		free(h);
		return NULL;
	}
	h->ing = ing;
	h->db = db;
	struct timeval stv = { HTTP_SRV_SWEEP_MS / 1000, (HTTP_SRV_SWEEP_MS % 1000) * 1000 };
	if (!(h->sweep = event_new(base, -1, EV_PERSIST, sweep, h)) ||
	    !(h->sweep_now = event_new(base, -1, 0, sweep, h)) ||
	    event_add(h->sweep, &stv) != 0) {
		snprintf(err, errlen, "out of memory");
		http_srv_free(h);
		return NULL;
	}
	evhttp_set_allowed_methods(h->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD | EVHTTP_REQ_POST |
				   EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE | EVHTTP_REQ_OPTIONS);
	evhttp_set_max_headers_size(h->http, 16384);
	evhttp_set_max_body_size(h->http, 65536);
	/* evhttp's timeout is per read and write: a client that trickles a
	 * request a byte at a time holds a descriptor for as long as it keeps
	 * each gap under it, so it is short */
	evhttp_set_timeout(h->http, HTTP_SRV_IO_TIMEOUT_S);
	evhttp_set_gencb(h->http, handle, h);
	evhttp_set_bevcb(h->http, client_new, h);
	h->sock = evhttp_bind_socket_with_handle(h->http, host, (ev_uint16_t)port);
	if (!h->sock) {
		int e = EVUTIL_SOCKET_ERROR();
		snprintf(err, errlen, "cannot listen for HTTP on %s port %u: %s", host, port,
			 evutil_socket_error_to_string(e));
		http_srv_free(h);
		return NULL;
	}
	h->backoff = accept_backoff_new(base, evhttp_bound_socket_get_listener(h->sock),
					"http listener");
	if (!h->backoff) {
		snprintf(err, errlen, "out of memory");
		http_srv_free(h);
		return NULL;
	}
	struct sockaddr_storage ss;
	socklen_t sl = sizeof ss;
	if (getsockname(evhttp_bound_socket_get_fd(h->sock), (struct sockaddr *)&ss, &sl) == 0)
		h->port = ss.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
						   : ntohs(((struct sockaddr_in *)&ss)->sin_port);
	return h;
}

unsigned http_srv_port(const struct http_srv *h)
{
	return h->port;
}

void http_srv_free(struct http_srv *h)
{
	if (!h)
		return;
	accept_backoff_free(h->backoff);
	/* before evhttp_free: answers the requests still waiting for the database */
	api_free(h->api);
	if (h->http)
		evhttp_free(h->http);
	while (h->clients) {
		struct http_client *cl = h->clients;
		h->clients = cl->next;
		bufferevent_decref(cl->bev);
		free(cl);
	}
	if (h->sweep)
		event_free(h->sweep);
	if (h->sweep_now)
		event_free(h->sweep_now);
	SSL_CTX_free(h->tls);
	free(h);
}
