/*
 * notify.c - the delivery worker of notify.h.
 *
 * Two halves on one libevent loop:
 *
 *   the database side: one libpq connection in non-blocking mode (as in
 *   db.c: PQconnectStartParams/PQconnectPoll, then PQsendQueryParams,
 *   PQflush on EV_WRITE, PQconsumeInput/PQisBusy/PQgetResult on EV_READ),
 *   running a FIFO of single-statement operations (struct op). Every
 *   statement is atomic on its own, so there is never a transaction open
 *   across round trips, and an operation interrupted by a broken connection
 *   is simply sent again after the reconnect (each one is written to be safe
 *   to repeat).
 *
 *   the HTTP side: a libcurl multi handle whose sockets and timer are libevent
 *   events (CURLMOPT_SOCKETFUNCTION creates/changes/frees one event per
 *   socket, CURLMOPT_TIMERFUNCTION arms one timer; both call
 *   curl_multi_socket_action). One struct xfer per request.
 *
 * The cycle (every delivery.poll_interval, or at once after a reconnect):
 *   ROUTE_SELECT  SELECT unrouted outbox rows (ORDER BY id LIMIT batch);
 *                 the sinks of each are chosen here, in C, by notify.yaml
 *   ROUTE_APPLY   one statement: UPDATE outbox SET routed_at = now() WHERE
 *                 routed_at IS NULL (row-locks; a concurrent notifier that
 *                 routed the same rows first makes this match nothing) and
 *                 INSERT the deliveries of the rows it did update,
 *                 idempotency key 'tw-' || outbox id || '-' || sink
 *                 (ON CONFLICT DO NOTHING as a second guard). Repeated while
 *                 full batches come back (at most ROUTE_ROUNDS per cycle).
 *   CLAIM         UPDATE .. SET locked_until = now() + lease WHERE id IN
 *                 (SELECT .. pending, due, not leased .. FOR UPDATE SKIP
 *                 LOCKED LIMIT room) RETURNING the delivery and its outbox
 *                 row; locked_until doubles as the lease token.
 *   then one request per claimed delivery; when it ends, RECORD:
 *                 INSERT the attempt and UPDATE the delivery (attempts + 1,
 *                 state, next_attempt_at, locked_until = NULL) WHERE the
 *                 lease is still ours - one statement. Repeating it after an
 *                 ambiguous connection loss changes nothing (the attempt
 *                 insert checks (delivery_id, at); the lease no longer matches).
 *
 * Exactly once per state change: a delivery is sent only by the holder of
 * its lease, and the lease (default: twice the longest sink timeout + 30 s)
 * outlives any request, so two collectors never send the same delivery at
 * the same time. A delivery is sent again only after a failed attempt
 * (retry) or when its holder died before recording the outcome - both times
 * with the same idempotency key (webhook-id, PagerDuty dedup_key,
 * Alertmanager label set), which is what receivers deduplicate on.
 *
 * Alertmanager's endsAt (notify_sinks.c builds it): Alertmanager resolves
 * by itself an alert whose endsAt has passed, and one posted without endsAt
 * after resolve_timeout (5 min) - it expects clients to re-send firing
 * alerts. We send one trigger per state change and do not re-send, so a
 * trigger carries endsAt = now + hold (sink option, default 90 days: longer
 * than any alert should fire) and the resolve carries endsAt = the time it
 * resolved, which ends the alert at once. The cost: if a resolve is lost
 * for good (failed delivery, visible in notification_deliveries and
 * /metrics), Alertmanager shows the alert until hold runs out; and an
 * Alertmanager restart (it keeps no alerts on disk) forgets firing alerts
 * until their next state change.
 */
#define _GNU_SOURCE  /* asprintf */
#include "notify.h"
#include "notify_config.h"
#include "notify_sinks.h"
#include "log.h"
#include "twtime.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>
#include <libpq-fe.h>

#define CONNECT_TIMEOUT_MS 15000
#define QUERY_TIMEOUT_MS   60000
#define RECONNECT_MIN_MS   250
#define RECONNECT_MAX_MS   10000
#define COUNT_EVERY_MS     5000
#define ROUTE_ROUNDS       10
#define MAX_SINKS_PER_ROW  64
#define RESP_KEEP          300   /* bytes of a response body kept for last_error */
#define ERRLOG_EVERY_MS    60000
#define MAX_PARAMS         9

/* ------------------------------------------------------------ types */

enum op_kind {
	OP_ROUTE_SELECT,
	OP_ROUTE_APPLY,
	OP_CLAIM,
	OP_RECORD,
	OP_COUNT,
};
static const char *const op_names[] = { "route", "route", "claim", "record", "count" };

struct op {
	struct op *next;
	enum op_kind kind;
	int nparams;
	char *params[MAX_PARAMS];   /* owned; NULL = SQL NULL */
	/* OP_ROUTE_APPLY: rows selected; OP_RECORD: outcome for stats and logs */
	unsigned selected;
	enum sink_verdict verdict;
	char *what;                 /* OP_RECORD: "tw-12-pd to sink pd (host)" for logs */
};

enum pg_state {
	PG_DOWN,       /* no PGconn; the timer fires the next connect (backoff) */
	PG_CONNECTING, /* PQconnectPoll in progress; the timer is the connect deadline */
	PG_SETUP,      /* session settings being applied */
	PG_IDLE,       /* up, no operation; EV_READ armed to notice a closed socket */
	PG_BUSY,       /* running the head operation; the timer is its deadline */
};
static const char *const pg_state_names[] = { "down", "connecting", "setup", "idle", "busy" };

struct sockev {
	struct sockev *next, *prev;
	struct event *ev;
	curl_socket_t fd;
};

struct xfer {
	struct xfer *next, *prev;
	struct notifier *n;
	CURL *easy;
	struct curl_slist *hdrs;
	struct sink_msg msg;
	const struct notify_sink_cfg *sink;
	int64_t delivery_id;
	char *key;              /* idempotency key */
	char *lease;            /* locked_until as text: the lease token */
	unsigned attempts;      /* attempts before this one */
	double age_ms;          /* delivery age at the claim (database clock) */
	double claimed_mono;
	int64_t started_wall_ms;
	double started_mono;
	char errbuf[CURL_ERROR_SIZE];
	char retry_after[72];
	bool have_retry_after;
	char resp[RESP_KEEP + 1];
	size_t resp_len;
};

struct notifier {
	struct event_base *base;
	char *conninfo;
	struct notify_config *cfg;

	/* database */
	enum pg_state state;
	PGconn *pg;
	int fd;
	struct event *rev, *wev, *pgtimer;
	bool rd_on, wr_on, in_io;
	unsigned backoff_ms;
	bool ever_up;
	struct op *oph, *opt;       /* queue; the head runs while PG_BUSY */
	PGresult *last;             /* last tuples/command result of the head op */
	bool op_failed;
	char op_err[256];

	/* cycle */
	struct event *tick, *kick;
	bool cycle_busy;
	unsigned route_rounds;
	double next_count;
	double last_errlog;
	char last_err[256];

	/* HTTP */
	CURLM *multi;
	struct event *curl_timer;
	struct sockev *socks;
	struct xfer *xfers;
	unsigned in_flight;
	bool curl_inited;

	uint64_t rng;
	struct notifier_stats st;
};

static void pg_io(struct notifier *n);
static void pg_start(struct notifier *n);
static void op_finished(struct notifier *n, struct op *op, PGresult *r, const char *err);
static void cycle_start(struct notifier *n);

/* ------------------------------------------------------------ small helpers */

static double rnd01(struct notifier *n)
{
	/* xorshift64*: jitter only, not security */
	n->rng ^= n->rng >> 12;
	n->rng ^= n->rng << 25;
	n->rng ^= n->rng >> 27;
	return (double)((n->rng * 2685821657736338717ull) >> 11) / 9007199254740992.0;
}

static void timer_in(struct event *ev, double ms)
{
	if (ms < 0)
		ms = 0;
	struct timeval tv = { (time_t)(ms / 1000), (suseconds_t)((long long)ms % 1000 * 1000) };
	event_add(ev, &tv);
}

static void errcopy(char *dst, size_t cap, const char *src)
{
	snprintf(dst, cap, "%s", src && *src ? src : "unknown error");
	dst[strcspn(dst, "\n")] = '\0';
}

/* Logs a database-side problem, the same message at most once a minute. */
static void warn_limited(struct notifier *n, const char *what, const char *err)
{
	char msg[sizeof n->last_err];
	snprintf(msg, sizeof msg, "%s: %s", what, err);
	double now = tw_mono_ms();
	if (strcmp(msg, n->last_err) == 0 && now - n->last_errlog < ERRLOG_EVERY_MS)
		return;
	snprintf(n->last_err, sizeof n->last_err, "%s", msg);
	n->last_errlog = now;
	log_warn("notify: %s", msg);
}

static char *xstrdup_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *xstrdup_printf(const char *fmt, ...)
{
	va_list ap;
	char *s = NULL;
	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	return s;
}

/* ------------------------------------------------------------ operations */

static const char SQL_SETUP[] =
	"SET statement_timeout = '30s'; SET TimeZone = 'UTC'; SET DateStyle = 'ISO'";

static const char SQL_ROUTE_SELECT[] =
	"SELECT id, action, severity, payload::text FROM notification_outbox "
	"WHERE routed_at IS NULL ORDER BY id LIMIT $1::integer";

static const char SQL_ROUTE_APPLY[] =
	"WITH o AS (UPDATE notification_outbox SET routed_at = now() "
	"           WHERE id = ANY($1::bigint[]) AND routed_at IS NULL RETURNING id), "
	"ins AS (INSERT INTO notification_deliveries (outbox_id, sink, idempotency_key) "
	"        SELECT u.oid, u.sink, 'tw-' || u.oid || '-' || u.sink "
	"        FROM unnest($2::bigint[], $3::text[]) AS u(oid, sink) JOIN o ON o.id = u.oid "
	"        ON CONFLICT DO NOTHING RETURNING 1) "
	"SELECT (SELECT count(*) FROM o), (SELECT count(*) FROM ins)";

static const char SQL_CLAIM[] =
	"WITH c AS (SELECT id FROM notification_deliveries "
	"           WHERE state = 'pending' AND next_attempt_at <= now() "
	"             AND (locked_until IS NULL OR locked_until < now()) "
	"           ORDER BY next_attempt_at, id LIMIT $1::integer FOR UPDATE SKIP LOCKED) "
	"UPDATE notification_deliveries d "
	"SET locked_until = now() + make_interval(secs => $2::double precision / 1000) "
	"FROM c, notification_outbox o WHERE d.id = c.id AND o.id = d.outbox_id "
	"RETURNING d.id, d.sink, d.idempotency_key, d.attempts, "
	"  extract(epoch FROM now() - d.created_at) * 1000, o.action, o.payload::text, "
	"  d.locked_until::text";

/* $1 delivery, $2 attempt start (unix ms), $3 HTTP status, $4 error,
 * $5 duration ms, $6 Retry-After ms, $7 new state, $8 delay ms, $9 lease. */
static const char SQL_RECORD[] =
	"WITH a AS (INSERT INTO notification_attempts "
	"             (delivery_id, at, http_status, error, duration_ms, retry_after_ms) "
	"           SELECT $1::bigint, to_timestamp($2::double precision / 1000), $3::integer, "
	"                  $4::text, $5::double precision, $6::bigint "
	"           WHERE NOT EXISTS (SELECT 1 FROM notification_attempts "
	"                             WHERE delivery_id = $1::bigint "
	"                               AND at = to_timestamp($2::double precision / 1000)) "
	"           RETURNING 1) "
	"UPDATE notification_deliveries SET attempts = attempts + 1, state = $7::text, "
	"  next_attempt_at = CASE WHEN $7::text = 'pending' "
	"    THEN now() + make_interval(secs => $8::double precision / 1000) "
	"    ELSE next_attempt_at END, "
	"  locked_until = NULL, last_status = $3::integer, last_error = $4::text, "
	"  delivered_at = CASE WHEN $7::text = 'delivered' THEN now() ELSE delivered_at END "
	"WHERE id = $1::bigint AND locked_until = $9::timestamptz "
	"RETURNING attempts";

static const char SQL_COUNT[] =
	"SELECT count(*) FROM notification_deliveries WHERE state = 'pending'";

static const char *op_sql(enum op_kind k)
{
	switch (k) {
	case OP_ROUTE_SELECT: return SQL_ROUTE_SELECT;
	case OP_ROUTE_APPLY: return SQL_ROUTE_APPLY;
	case OP_CLAIM: return SQL_CLAIM;
	case OP_RECORD: return SQL_RECORD;
	case OP_COUNT: return SQL_COUNT;
	}
	return "";
}

static void op_free(struct op *op)
{
	if (!op)
		return;
	for (int i = 0; i < op->nparams; i++)
		free(op->params[i]);
	free(op->what);
	free(op);
}

static struct op *op_new(enum op_kind k)
{
	struct op *op = calloc(1, sizeof *op);
	if (op)
		op->kind = k;
	return op;
}

/* Sets parameter i (a copy; NULL stays SQL NULL). -1 when out of memory. */
static int op_param(struct op *op, int i, const char *v)
{
	if (v && !(op->params[i] = strdup(v)))
		return -1;
	if (i + 1 > op->nparams)
		op->nparams = i + 1;
	return 0;
}

static int op_paramf(struct op *op, int i, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int op_paramf(struct op *op, int i, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = vasprintf(&op->params[i], fmt, ap);
	va_end(ap);
	if (r < 0) {
		op->params[i] = NULL;
		return -1;
	}
	if (i + 1 > op->nparams)
		op->nparams = i + 1;
	return 0;
}

static void pg_send_head(struct notifier *n);

static void op_submit(struct notifier *n, struct op *op)
{
	op->next = NULL;
	if (n->opt)
		n->opt->next = op;
	else
		n->oph = op;
	n->opt = op;
	if (n->state == PG_IDLE)
		pg_send_head(n);
}

/* ------------------------------------------------------------ database connection */

static void pg_set_state(struct notifier *n, enum pg_state s)
{
	if (n->state == s)
		return;
	log_debug("notify: db %s -> %s", pg_state_names[n->state], pg_state_names[s]);
	n->state = s;
	n->st.db_up = s == PG_IDLE || s == PG_BUSY;
}

static void pg_drop_events(struct notifier *n)
{
	if (n->rev)
		event_free(n->rev);
	if (n->wev)
		event_free(n->wev);
	n->rev = n->wev = NULL;
	n->rd_on = n->wr_on = false;
	n->fd = -1;
}

static void on_pg_io(evutil_socket_t fd, short what, void *arg);

static int pg_watch(struct notifier *n, bool rd, bool wr)
{
	int fd = PQsocket(n->pg);
	if (fd < 0)
		return -1;
	if (fd != n->fd || !n->rev) {
		pg_drop_events(n);
		n->rev = event_new(n->base, fd, EV_READ | EV_PERSIST, on_pg_io, n);
		n->wev = event_new(n->base, fd, EV_WRITE | EV_PERSIST, on_pg_io, n);
		if (!n->rev || !n->wev)
			return -1;
		n->fd = fd;
	}
	if (rd != n->rd_on) {
		if ((rd ? event_add(n->rev, NULL) : event_del(n->rev)) < 0)
			return -1;
		n->rd_on = rd;
	}
	if (wr != n->wr_on) {
		if ((wr ? event_add(n->wev, NULL) : event_del(n->wev)) < 0)
			return -1;
		n->wr_on = wr;
	}
	return 0;
}

/* The connection is unusable: close it and reconnect with backoff. The
 * operation that was running stays at the head of the queue and is sent
 * again on the next connection. */
static void pg_fail(struct notifier *n, const char *why)
{
	char reason[256];
	errcopy(reason, sizeof reason, why);
	if (n->state == PG_CONNECTING || n->state == PG_SETUP)
		warn_limited(n, "database connect failed", reason);
	else
		log_warn("notify: database connection lost: %s", reason);
	if (n->last) {
		PQclear(n->last);
		n->last = NULL;
	}
	pg_drop_events(n);
	PQfinish(n->pg);
	n->pg = NULL;
	pg_set_state(n, PG_DOWN);
	unsigned d = n->backoff_ms;
	d = d - d / 5 + (unsigned)(rnd01(n) * (d / 5 * 2 + 1));
	timer_in(n->pgtimer, d);
	n->backoff_ms = n->backoff_ms * 2 > RECONNECT_MAX_MS ? RECONNECT_MAX_MS : n->backoff_ms * 2;
}

/* Server notices ("terminating connection due to administrator command")
 * go to our log, not straight to stderr. */
static void pg_notice(void *arg, const char *msg)
{
	char m[256];
	(void)arg;
	errcopy(m, sizeof m, msg);
	log_debug("notify: database notice: %s", m);
}

static void pg_start(struct notifier *n)
{
	const char *keys[] = { "dbname", "fallback_application_name", "client_encoding", NULL };
	const char *vals[] = { n->conninfo, "tlswatch-notifier", "UTF8", NULL };
	n->pg = PQconnectStartParams(keys, vals, 1);
	if (!n->pg || PQstatus(n->pg) == CONNECTION_BAD) {
		pg_set_state(n, PG_CONNECTING);
		pg_fail(n, n->pg ? PQerrorMessage(n->pg) : "out of memory");
		return;
	}
	PQsetNoticeProcessor(n->pg, pg_notice, NULL);
	pg_set_state(n, PG_CONNECTING);
	timer_in(n->pgtimer, CONNECT_TIMEOUT_MS);
	if (pg_watch(n, false, true) < 0)
		pg_fail(n, "cannot watch the socket");
}

static bool pg_send(struct notifier *n, const char *sql, int np, char *const *params)
{
	int ok = np ? PQsendQueryParams(n->pg, sql, np, NULL, (const char *const *)params, NULL,
					NULL, 0)
		    : PQsendQuery(n->pg, sql);
	if (!ok) {
		pg_fail(n, PQerrorMessage(n->pg));
		return false;
	}
	n->op_failed = false;
	n->op_err[0] = '\0';
	if (n->last) {
		PQclear(n->last);
		n->last = NULL;
	}
	timer_in(n->pgtimer, QUERY_TIMEOUT_MS);
	return true;
}

static void pg_send_head(struct notifier *n)
{
	struct op *op = n->oph;
	if (!op || n->state != PG_IDLE)
		return;
	pg_set_state(n, PG_BUSY);
	if (pg_send(n, op_sql(op->kind), op->nparams, op->params) && !n->in_io)
		pg_io(n);
}

/* The head operation's results are all in. */
static void pg_op_done(struct notifier *n)
{
	event_del(n->pgtimer);
	if (n->state == PG_SETUP) {
		if (n->op_failed) {
			pg_fail(n, n->op_err);
			return;
		}
		n->backoff_ms = RECONNECT_MIN_MS;
		log_info("notify: database connection up%s", n->ever_up ? " again" : "");
		n->ever_up = true;
		pg_set_state(n, PG_IDLE);
		n->last_err[0] = '\0';
		pg_send_head(n);      /* an operation interrupted by the loss goes first */
		if (!n->cycle_busy)
			event_active(n->kick, EV_TIMEOUT, 0);
		return;
	}
	struct op *op = n->oph;
	n->oph = op->next;
	if (!n->oph)
		n->opt = NULL;
	PGresult *r = n->last;
	n->last = NULL;
	bool failed = n->op_failed;
	char err[sizeof n->op_err];
	memcpy(err, n->op_err, sizeof err);
	pg_set_state(n, PG_IDLE);
	op_finished(n, op, failed ? NULL : r, failed ? err : NULL);
	if (r)
		PQclear(r);
	op_free(op);
	pg_send_head(n);
}

/* Moves the running query forward as far as it goes without blocking. */
static void pg_io(struct notifier *n)
{
	n->in_io = true;
	while (n->state == PG_BUSY || n->state == PG_SETUP) {
		int f = PQflush(n->pg);
		if (f < 0) {
			pg_fail(n, PQerrorMessage(n->pg));
			break;
		}
		if (pg_watch(n, true, f > 0) < 0) {
			pg_fail(n, "cannot watch the socket");
			break;
		}
		if (PQisBusy(n->pg))
			break;
		PGresult *r = PQgetResult(n->pg);
		if (!r) {
			if (PQstatus(n->pg) == CONNECTION_BAD) {
				pg_fail(n, PQerrorMessage(n->pg));
				break;
			}
			pg_op_done(n);
			continue;
		}
		switch (PQresultStatus(r)) {
		case PGRES_TUPLES_OK:
		case PGRES_COMMAND_OK:
			if (n->last)
				PQclear(n->last);
			n->last = r;
			r = NULL;
			break;
		case PGRES_FATAL_ERROR:
			if (!n->op_failed)
				errcopy(n->op_err, sizeof n->op_err, PQresultErrorMessage(r));
			n->op_failed = true;
			break;
		case PGRES_COPY_IN:
		case PGRES_COPY_OUT:
		case PGRES_COPY_BOTH:
			PQclear(r);
			pg_fail(n, "unexpected COPY");
			n->in_io = false;
			return;
		default:
			break;
		}
		if (r)
			PQclear(r);
	}
	n->in_io = false;
}

static void on_pg_io(evutil_socket_t fd, short what, void *arg)
{
	struct notifier *n = arg;
	(void)fd;
	(void)what;
	switch (n->state) {
	case PG_CONNECTING:
		switch (PQconnectPoll(n->pg)) {
		case PGRES_POLLING_READING:
			if (pg_watch(n, true, false) < 0)
				pg_fail(n, "cannot watch the socket");
			return;
		case PGRES_POLLING_WRITING:
			if (pg_watch(n, false, true) < 0)
				pg_fail(n, "cannot watch the socket");
			return;
		case PGRES_POLLING_OK:
			break;
		default:
			pg_fail(n, PQerrorMessage(n->pg));
			return;
		}
		if (PQsetnonblocking(n->pg, 1) != 0 || pg_watch(n, true, false) < 0) {
			pg_fail(n, "cannot make the connection non-blocking");
			return;
		}
		pg_set_state(n, PG_SETUP);
		if (pg_send(n, SQL_SETUP, 0, NULL))
			pg_io(n);
		return;
	case PG_SETUP:
	case PG_BUSY:
		if ((what & EV_READ) && !PQconsumeInput(n->pg)) {
			pg_fail(n, PQerrorMessage(n->pg));
			return;
		}
		pg_io(n);
		return;
	case PG_IDLE:
		/* nothing expected: the server closed, or a notice */
		if (!PQconsumeInput(n->pg) || PQstatus(n->pg) == CONNECTION_BAD) {
			pg_fail(n, PQerrorMessage(n->pg));
			return;
		}
		PGnotify *nt;
		while ((nt = PQnotifies(n->pg)))
			PQfreemem(nt);
		return;
	case PG_DOWN:
		return;
	}
}

static void on_pg_timer(evutil_socket_t fd, short what, void *arg)
{
	struct notifier *n = arg;
	(void)fd;
	(void)what;
	switch (n->state) {
	case PG_DOWN:
		pg_start(n);
		return;
	case PG_CONNECTING:
		pg_fail(n, "connect timed out");
		return;
	case PG_SETUP:
	case PG_BUSY:
		pg_fail(n, "query timed out");
		return;
	case PG_IDLE:
		return;
	}
}

/* ------------------------------------------------------------ HTTP (libcurl multi on libevent) */

static void xfer_done(struct notifier *n, struct xfer *x, CURLcode res);

static void check_multi(struct notifier *n)
{
	CURLMsg *m;
	int left;
	while ((m = curl_multi_info_read(n->multi, &left))) {
		if (m->msg != CURLMSG_DONE)
			continue;
		struct xfer *x = NULL;
		curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&x);
		CURLcode res = m->data.result;
		if (x)
			xfer_done(n, x, res);
	}
}

static void on_sock(evutil_socket_t fd, short what, void *arg)
{
	struct notifier *n = arg;
	int running = 0;
	int act = ((what & EV_READ) ? CURL_CSELECT_IN : 0) | ((what & EV_WRITE) ? CURL_CSELECT_OUT : 0);
	curl_multi_socket_action(n->multi, fd, act, &running);
	check_multi(n);
	if (running <= 0)
		event_del(n->curl_timer);
}

static void on_curl_timer(evutil_socket_t fd, short what, void *arg)
{
	struct notifier *n = arg;
	int running = 0;
	(void)fd;
	(void)what;
	curl_multi_socket_action(n->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	check_multi(n);
}

static void sockev_free(struct notifier *n, struct sockev *se)
{
	if (se->prev)
		se->prev->next = se->next;
	else
		n->socks = se->next;
	if (se->next)
		se->next->prev = se->prev;
	if (se->ev)
		event_free(se->ev);
	free(se);
}

/* CURLMOPT_SOCKETFUNCTION: one event per socket, changed to what curl wants. */
static int sock_cb(CURL *e, curl_socket_t s, int what, void *userp, void *socketp)
{
	struct notifier *n = userp;
	struct sockev *se = socketp;
	(void)e;
	if (what == CURL_POLL_REMOVE) {
		if (se)
			sockev_free(n, se);
		curl_multi_assign(n->multi, s, NULL);
		return 0;
	}
	if (!se) {
		if (!(se = calloc(1, sizeof *se)))
			return -1;
		se->fd = s;
		se->next = n->socks;
		if (n->socks)
			n->socks->prev = se;
		n->socks = se;
		curl_multi_assign(n->multi, s, se);
	}
	short kind = (short)(((what & CURL_POLL_IN) ? EV_READ : 0) |
			     ((what & CURL_POLL_OUT) ? EV_WRITE : 0) | EV_PERSIST);
	if (se->ev)
		event_free(se->ev);
	se->ev = event_new(n->base, s, kind, on_sock, n);
	if (!se->ev || event_add(se->ev, NULL) < 0)
		return -1;
	return 0;
}

/* CURLMOPT_TIMERFUNCTION: one timer for the whole multi handle. */
static int timer_cb(CURLM *m, long timeout_ms, void *userp)
{
	struct notifier *n = userp;
	(void)m;
	if (timeout_ms < 0)
		event_del(n->curl_timer);
	else
		timer_in(n->curl_timer, (double)timeout_ms);
	return 0;
}

static size_t hdr_cb(char *buf, size_t size, size_t nitems, void *arg)
{
	struct xfer *x = arg;
	size_t len = size * nitems;
	if (len >= 5 && strncmp(buf, "HTTP/", 5) == 0) {
		/* a new response (after 100 Continue, say): forget the previous one's */
		x->have_retry_after = false;
		x->resp_len = 0;
		return len;
	}
	if (len > 12 && strncasecmp(buf, "retry-after:", 12) == 0) {
		size_t n = len - 12;
		if (n >= sizeof x->retry_after)
			n = sizeof x->retry_after - 1;
		memcpy(x->retry_after, buf + 12, n);
		x->retry_after[n] = '\0';
		x->have_retry_after = true;
	}
	return len;
}

static size_t body_cb(char *buf, size_t size, size_t nmemb, void *arg)
{
	struct xfer *x = arg;
	size_t len = size * nmemb;
	size_t room = RESP_KEEP - x->resp_len;
	size_t k = len < room ? len : room;
	memcpy(x->resp + x->resp_len, buf, k);
	x->resp_len += k;
	x->resp[x->resp_len] = '\0';
	return len;
}

static void xfer_unlink(struct notifier *n, struct xfer *x)
{
	if (x->prev)
		x->prev->next = x->next;
	else if (n->xfers == x)
		n->xfers = x->next;
	if (x->next)
		x->next->prev = x->prev;
	x->next = x->prev = NULL;
}

static void xfer_free(struct xfer *x)
{
	if (!x)
		return;
	if (x->easy)
		curl_easy_cleanup(x->easy);
	curl_slist_free_all(x->hdrs);
	sink_msg_free(&x->msg);
	free(x->key);
	free(x->lease);
	free(x);
}

/* Printable, one line, bounded: for last_error (never logged). */
static void clean_text(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = ' ';
}

/* Queues the RECORD of one finished (or impossible) attempt and frees x. */
static void record(struct notifier *n, struct xfer *x, long status, const char *error,
		   double duration_ms, int64_t retry_after_ms, bool retry_after_given)
{
	const struct notify_config *c = n->cfg;
	enum sink_verdict v = error && !status ? SINK_RETRY : sink_classify(status);
	unsigned attempts = x->attempts + 1;
	int64_t delay = 0;
	char why[512];

	snprintf(why, sizeof why, "%s", error ? error : "");
	if (x->sink == NULL || (error && status < 0)) {
		v = SINK_FAILED;  /* cannot be sent at all: no sink, or a bad payload */
		status = 0;
	} else if (v == SINK_RETRY) {
		delay = sink_backoff_ms(attempts, c->retry_initial_ms, c->retry_max_ms, c->jitter,
					rnd01(n));
		if (retry_after_given && retry_after_ms > delay)
			delay = retry_after_ms;
		double age_next = x->age_ms + (tw_mono_ms() - x->claimed_mono) + (double)delay;
		if (c->max_attempts && attempts >= c->max_attempts) {
			v = SINK_FAILED;
			snprintf(why + strlen(why), sizeof why - strlen(why), "%sgiving up after %u "
				 "attempts (retry.max_attempts)", why[0] ? "; " : "", attempts);
		} else if (age_next > (double)c->max_age_ms) {
			v = SINK_FAILED;
			snprintf(why + strlen(why), sizeof why - strlen(why), "%sgiving up: the next "
				 "attempt would be past retry.max_age", why[0] ? "; " : "");
		}
	}
	const char *state = v == SINK_DELIVERED ? "delivered" : v == SINK_FAILED ? "failed" : "pending";

	struct op *op = op_new(OP_RECORD);
	if (!op) {
		log_error("notify: out of memory recording %s; its lease will expire and it will "
			  "be sent again", x->key);
		xfer_free(x);
		return;
	}
	int bad = 0;
	bad |= op_paramf(op, 0, "%lld", (long long)x->delivery_id);
	bad |= op_paramf(op, 1, "%lld", (long long)x->started_wall_ms);
	if (status > 0)
		bad |= op_paramf(op, 2, "%ld", status);
	else
		bad |= op_param(op, 2, NULL);
	bad |= op_param(op, 3, why[0] ? why : NULL);
	bad |= op_paramf(op, 4, "%.3f", duration_ms);
	if (retry_after_given)
		bad |= op_paramf(op, 5, "%lld", (long long)retry_after_ms);
	else
		bad |= op_param(op, 5, NULL);
	bad |= op_param(op, 6, state);
	bad |= op_paramf(op, 7, "%lld", (long long)delay);
	bad |= op_param(op, 8, x->lease);
	op->verdict = v;
	op->what = xstrdup_printf("%s to sink %s (host %s)", x->key,
				  x->sink ? x->sink->name : "?", x->sink ? x->sink->host : "?");
	if (bad || !op->what) {
		log_error("notify: out of memory recording %s", x->key);
		op_free(op);
		xfer_free(x);
		return;
	}
	/* the log line: sink name and host, never the URL, a body or a secret */
	char desc[300];
	if (status > 0)
		snprintf(desc, sizeof desc, "HTTP %ld", status);
	else
		snprintf(desc, sizeof desc, "%.290s", error ? error : "error");
	if (v == SINK_DELIVERED)
		log_info("notify: delivered %s: %s, attempt %u", op->what, desc, attempts);
	else if (v == SINK_RETRY)
		log_warn("notify: %s: %s; attempt %u, next in %lld ms%s", op->what, desc, attempts,
			 (long long)delay, retry_after_given ? " (Retry-After)" : "");
	else
		log_error("notify: %s failed for good after attempt %u: %s%s", op->what, attempts,
			  desc, status > 0 && sink_classify(status) == SINK_FAILED
			  ? " (not retried)" : strstr(why, "giving up") ? " (giving up)" : "");
	xfer_free(x);
	op_submit(n, op);
}

static void xfer_done(struct notifier *n, struct xfer *x, CURLcode res)
{
	long status = 0;
	char err[400] = "";
	curl_multi_remove_handle(n->multi, x->easy);
	xfer_unlink(n, x);
	n->in_flight--;
	double dur = tw_mono_ms() - x->started_mono;
	if (res == CURLE_OK)
		curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
	int64_t ra = 0;
	bool ra_ok = x->have_retry_after &&
		     sink_retry_after_ms(x->retry_after, tw_wall_ms(), &ra) == 0;
	if (res != CURLE_OK) {
		snprintf(err, sizeof err, "%s", x->errbuf[0] ? x->errbuf : curl_easy_strerror(res));
		/* the URL may hold a secret (Slack's path): never pass it on */
		if (strstr(err, x->msg.url) || strchr(err, '/'))
			snprintf(err, sizeof err, "%s (host %s)", curl_easy_strerror(res), x->sink->host);
		status = 0;
	} else if (sink_classify(status) != SINK_DELIVERED) {
		clean_text(x->resp);
		snprintf(err, sizeof err, "HTTP %ld%s%.*s", status, x->resp_len ? ": " : "",
			 (int)x->resp_len, x->resp);
	}
	record(n, x, status, err[0] ? err : NULL, dur, ra, ra_ok);
}

/* Sends one claimed delivery. Takes key/lease/payload copies. */
static void xfer_start(struct notifier *n, int64_t id, const char *sink_name, const char *key,
		       unsigned attempts, double age_ms, const char *action, const char *payload,
		       const char *lease)
{
	struct xfer *x = calloc(1, sizeof *x);
	char err[256];
	if (!x || !(x->key = strdup(key)) || !(x->lease = strdup(lease))) {
		log_error("notify: out of memory starting %s", key);
		xfer_free(x);
		return;
	}
	x->n = n;
	x->delivery_id = id;
	x->attempts = attempts;
	x->age_ms = age_ms;
	x->claimed_mono = tw_mono_ms();
	x->started_wall_ms = tw_wall_ms();
	x->started_mono = x->claimed_mono;
	for (size_t i = 0; i < n->cfg->nsinks; i++)
		if (strcmp(n->cfg->sinks[i].name, sink_name) == 0)
			x->sink = &n->cfg->sinks[i];
	if (!x->sink) {
		snprintf(err, sizeof err, "sink \"%.64s\" is not in notify.yaml", sink_name);
		record(n, x, -1, err, 0, 0, false);
		return;
	}
	if (sink_build(x->sink, action, payload, key, x->started_wall_ms, &x->msg, err,
		       sizeof err) < 0) {
		record(n, x, -1, err, 0, 0, false);
		return;
	}
	CURL *e = x->easy = curl_easy_init();
	bool ok = e != NULL;
	struct curl_slist *h = NULL;
	const char *base_hdrs[] = { "Content-Type: application/json", "Expect:",
				    "User-Agent: tlswatch-notifier", "Accept: */*" };
	for (size_t i = 0; ok && i < sizeof base_hdrs / sizeof base_hdrs[0]; i++)
		ok = (h = curl_slist_append(x->hdrs, base_hdrs[i])) != NULL && (x->hdrs = h);
	for (size_t i = 0; ok && i < x->msg.nheaders; i++)
		ok = (h = curl_slist_append(x->hdrs, x->msg.headers[i])) != NULL && (x->hdrs = h);
	unsigned t = x->sink->timeout_ms;
	ok = ok &&
	     curl_easy_setopt(e, CURLOPT_URL, x->msg.url) == CURLE_OK &&
#if LIBCURL_VERSION_NUM >= 0x075500
	     curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https") == CURLE_OK &&
#else
	     curl_easy_setopt(e, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS)) == CURLE_OK &&
#endif
	     curl_easy_setopt(e, CURLOPT_POST, 1L) == CURLE_OK &&
	     curl_easy_setopt(e, CURLOPT_POSTFIELDS, x->msg.body) == CURLE_OK &&
	     curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)x->msg.body_len) == CURLE_OK &&
	     curl_easy_setopt(e, CURLOPT_HTTPHEADER, x->hdrs) == CURLE_OK &&
	     curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)t) == CURLE_OK &&
	     curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)(t < 10000 ? t : 10000)) == CURLE_OK &&
	     curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L) == CURLE_OK &&
	     curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L) == CURLE_OK &&
	     curl_easy_setopt(e, CURLOPT_PRIVATE, (char *)x) == CURLE_OK &&
	     curl_easy_setopt(e, CURLOPT_ERRORBUFFER, x->errbuf) == CURLE_OK &&
	     curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, hdr_cb) == CURLE_OK &&
	     curl_easy_setopt(e, CURLOPT_HEADERDATA, x) == CURLE_OK &&
	     curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, body_cb) == CURLE_OK &&
	     curl_easy_setopt(e, CURLOPT_WRITEDATA, x) == CURLE_OK;
	if (!ok || curl_multi_add_handle(n->multi, e) != CURLM_OK) {
		/* counts as a network-side failure: retried */
		record(n, x, 0, "cannot set up the HTTP request", 0, 0, false);
		return;
	}
	x->next = n->xfers;
	if (n->xfers)
		n->xfers->prev = x;
	n->xfers = x;
	n->in_flight++;
	log_debug("notify: sending %s to sink %s (%s, host %s), attempt %u", key,
		  x->sink->name, notify_sink_type_name(x->sink->type), x->sink->host, attempts + 1);
}

/* ------------------------------------------------------------ the cycle */

static void cycle_end(struct notifier *n)
{
	n->cycle_busy = false;
	if (tw_mono_ms() >= n->next_count) {
		n->next_count = tw_mono_ms() + COUNT_EVERY_MS;
		struct op *op = op_new(OP_COUNT);
		if (op)
			op_submit(n, op);
	}
}

static void claim_step(struct notifier *n)
{
	unsigned room = n->cfg->max_in_flight > n->in_flight ? n->cfg->max_in_flight - n->in_flight : 0;
	if (room > n->cfg->batch)
		room = n->cfg->batch;
	if (room == 0) {
		cycle_end(n);
		return;
	}
	struct op *op = op_new(OP_CLAIM);
	if (!op || op_paramf(op, 0, "%u", room) < 0 || op_paramf(op, 1, "%u", n->cfg->lease_ms) < 0) {
		op_free(op);
		cycle_end(n);
		return;
	}
	op_submit(n, op);
}

static void route_select(struct notifier *n)
{
	struct op *op = op_new(OP_ROUTE_SELECT);
	if (!op || op_paramf(op, 0, "%u", n->cfg->batch) < 0) {
		op_free(op);
		cycle_end(n);
		return;
	}
	op_submit(n, op);
}

static void cycle_start(struct notifier *n)
{
	if (n->cycle_busy || !(n->state == PG_IDLE || n->state == PG_BUSY))
		return;
	n->cycle_busy = true;
	n->route_rounds = 0;
	route_select(n);
}

/* Growable text for array literals. */
struct sbuf {
	char *p;
	size_t len, cap;
	bool oom;
};

static void sb_add(struct sbuf *b, const char *s)
{
	size_t k = strlen(s);
	if (b->oom)
		return;
	if (b->len + k + 1 > b->cap) {
		size_t nc = b->cap ? b->cap * 2 : 256;
		while (nc < b->len + k + 1)
			nc *= 2;
		char *np = realloc(b->p, nc);
		if (!np) {
			b->oom = true;
			return;
		}
		b->p = np;
		b->cap = nc;
	}
	memcpy(b->p + b->len, s, k + 1);
	b->len += k;
}

/* Routes the selected rows: builds the ROUTE_APPLY statement's arrays. */
static void route_rows(struct notifier *n, PGresult *r)
{
	int rows = PQntuples(r);
	if (rows == 0) {
		claim_step(n);
		return;
	}
	struct sbuf ids = { 0 }, oids = { 0 }, sinks = { 0 };
	sb_add(&ids, "{");
	sb_add(&oids, "{");
	sb_add(&sinks, "{");
	size_t ndel = 0;
	for (int i = 0; i < rows; i++) {
		const char *id = PQgetvalue(r, i, 0), *sev = PQgetvalue(r, i, 2);
		json_t *p = json_loads(PQgetvalue(r, i, 3), 0, NULL);
		const char *rule = NULL, *svc = NULL, *reg = NULL;
		const char *lk[64], *lv[64];
		char numbuf[64][32];
		size_t nl = 0;
		if (json_is_object(p)) {
			json_t *v;
			const char *k;
			rule = json_string_value(json_object_get(p, "rule"));
			svc = json_string_value(json_object_get(p, "service"));
			reg = json_string_value(json_object_get(p, "region_group"));
			json_object_foreach(json_object_get(p, "labels"), k, v) {
				if (nl == 64)
					break;
				if (json_is_string(v)) {
					lk[nl] = k;
					lv[nl++] = json_string_value(v);
				} else if (json_is_integer(v)) {
					snprintf(numbuf[nl], sizeof numbuf[nl], "%lld",
						 (long long)json_integer_value(v));
					lk[nl] = k;
					lv[nl] = numbuf[nl];
					nl++;
				}
			}
		}
		size_t out[MAX_SINKS_PER_ROW];
		size_t k = notify_route_match(n->cfg, sev, rule, svc, reg, lk, lv, nl, out,
					      MAX_SINKS_PER_ROW);
		if (k == 0)
			log_info("notify: outbox %s (%s %s): no route matches; not sent", id,
				 PQgetvalue(r, i, 1), rule ? rule : "?");
		json_decref(p);
		sb_add(&ids, i ? "," : "");
		sb_add(&ids, id);
		for (size_t j = 0; j < k; j++, ndel++) {
			sb_add(&oids, ndel ? "," : "");
			sb_add(&oids, id);
			sb_add(&sinks, ndel ? ",\"" : "\"");
			sb_add(&sinks, n->cfg->sinks[out[j]].name); /* [A-Za-z0-9_.-] only */
			sb_add(&sinks, "\"");
		}
	}
	sb_add(&ids, "}");
	sb_add(&oids, "}");
	sb_add(&sinks, "}");
	struct op *op = op_new(OP_ROUTE_APPLY);
	if (!op || ids.oom || oids.oom || sinks.oom || op_param(op, 0, ids.p) < 0 ||
	    op_param(op, 1, oids.p) < 0 || op_param(op, 2, sinks.p) < 0) {
		log_error("notify: out of memory routing the outbox");
		op_free(op);
		cycle_end(n);
	} else {
		op->selected = (unsigned)rows;
		op_submit(n, op);
	}
	free(ids.p);
	free(oids.p);
	free(sinks.p);
}

static void claimed_rows(struct notifier *n, PGresult *r)
{
	int rows = PQntuples(r);
	for (int i = 0; i < rows; i++) {
		int64_t id = strtoll(PQgetvalue(r, i, 0), NULL, 10);
		unsigned attempts = (unsigned)strtoul(PQgetvalue(r, i, 3), NULL, 10);
		double age = strtod(PQgetvalue(r, i, 4), NULL);
		xfer_start(n, id, PQgetvalue(r, i, 1), PQgetvalue(r, i, 2), attempts, age,
			   PQgetvalue(r, i, 5), PQgetvalue(r, i, 6), PQgetvalue(r, i, 7));
	}
	cycle_end(n);
}

static void op_finished(struct notifier *n, struct op *op, PGresult *r, const char *err)
{
	if (err) {
		warn_limited(n, op_names[op->kind], err);
		if (op->kind == OP_RECORD)
			log_error("notify: could not record %s (%s); its lease will expire and it "
				  "will be sent again", op->what ? op->what : "?", err);
		if (op->kind != OP_RECORD && op->kind != OP_COUNT)
			cycle_end(n);
		return;
	}
	switch (op->kind) {
	case OP_ROUTE_SELECT:
		route_rows(n, r);
		return;
	case OP_ROUTE_APPLY: {
		long long routed = r && PQntuples(r) == 1 ? strtoll(PQgetvalue(r, 0, 0), NULL, 10) : 0;
		long long made = r && PQntuples(r) == 1 ? strtoll(PQgetvalue(r, 0, 1), NULL, 10) : 0;
		n->st.routed += (uint64_t)routed;
		if (routed)
			log_debug("notify: routed %lld outbox row(s) into %lld deliveries", routed, made);
		if (op->selected >= n->cfg->batch && ++n->route_rounds < ROUTE_ROUNDS)
			route_select(n);
		else
			claim_step(n);
		return;
	}
	case OP_CLAIM:
		claimed_rows(n, r);
		return;
	case OP_RECORD:
		n->st.attempts++;
		if (!r || PQntuples(r) == 0) {
			log_warn("notify: %s: the lease had expired before the outcome was recorded "
				 "(attempt recorded, state left to the new holder)", op->what);
			return;
		}
		if (op->verdict == SINK_DELIVERED)
			n->st.delivered++;
		else if (op->verdict == SINK_FAILED)
			n->st.failed++;
		else
			n->st.retries++;
		return;
	case OP_COUNT:
		if (r && PQntuples(r) == 1)
			n->st.pending = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
		return;
	}
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	cycle_start(arg);
}

/* ------------------------------------------------------------ public */

struct notifier *notifier_new_config(struct event_base *base, const char *conninfo,
				     struct notify_config *cfg, char *err, size_t errlen)
{
	struct notifier *n = NULL;
	if (!base || !conninfo || !cfg) {
		snprintf(err, errlen, "notify: no event base, conninfo or config");
		notify_config_free(cfg);
		return NULL;
	}
	if (!(n = calloc(1, sizeof *n))) {
		notify_config_free(cfg);
		goto oom;
	}
	n->base = base;
	n->cfg = cfg;
	n->fd = -1;
	n->backoff_ms = RECONNECT_MIN_MS;
	n->st.pending = -1;
	n->rng = (uint64_t)tw_wall_ms() ^ ((uint64_t)getpid() << 32) ^ (uint64_t)(uintptr_t)n;
	if (!n->rng)
		n->rng = 88172645463325252ull;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		snprintf(err, errlen, "notify: libcurl initialisation failed");
		notifier_free(n);
		return NULL;
	}
	n->curl_inited = true;
	if (!(n->conninfo = strdup(conninfo)) ||
	    !(n->pgtimer = evtimer_new(base, on_pg_timer, n)) ||
	    !(n->tick = event_new(base, -1, EV_PERSIST, on_tick, n)) ||
	    !(n->kick = event_new(base, -1, 0, on_tick, n)) ||
	    !(n->curl_timer = evtimer_new(base, on_curl_timer, n)) ||
	    !(n->multi = curl_multi_init()))
		goto oom;
	curl_multi_setopt(n->multi, CURLMOPT_SOCKETFUNCTION, sock_cb);
	curl_multi_setopt(n->multi, CURLMOPT_SOCKETDATA, n);
	curl_multi_setopt(n->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
	curl_multi_setopt(n->multi, CURLMOPT_TIMERDATA, n);
	timer_in(n->tick, cfg->poll_interval_ms);
	for (size_t i = 0; i < cfg->nsinks; i++)
		log_info("notify: sink %s: %s, host %s, timeout %u ms", cfg->sinks[i].name,
			 notify_sink_type_name(cfg->sinks[i].type), cfg->sinks[i].host,
			 cfg->sinks[i].timeout_ms);
	pg_start(n);
	return n;
oom:
	snprintf(err, errlen, "notify: out of memory");
	notifier_free(n);
	return NULL;
}

struct notifier *notifier_new(struct event_base *base, const char *conninfo,
			      const char *notify_file, char *err, size_t errlen)
{
	struct notify_config *cfg = notify_config_load(notify_file, err, errlen);
	if (!cfg)
		return NULL;
	return notifier_new_config(base, conninfo, cfg, err, errlen);
}

void notifier_free(struct notifier *n)
{
	if (!n)
		return;
	struct xfer *x;
	while ((x = n->xfers)) {
		xfer_unlink(n, x);
		if (n->multi)
			curl_multi_remove_handle(n->multi, x->easy);
		xfer_free(x);
	}
	if (n->multi)
		curl_multi_cleanup(n->multi);
	while (n->socks)
		sockev_free(n, n->socks);
	struct op *op;
	while ((op = n->oph)) {
		n->oph = op->next;
		op_free(op);
	}
	if (n->last)
		PQclear(n->last);
	pg_drop_events(n);
	if (n->pg)
		PQfinish(n->pg);
	if (n->pgtimer)
		event_free(n->pgtimer);
	if (n->tick)
		event_free(n->tick);
	if (n->kick)
		event_free(n->kick);
	if (n->curl_timer)
		event_free(n->curl_timer);
	if (n->conninfo) {
		memset(n->conninfo, 0, strlen(n->conninfo));
		free(n->conninfo);
	}
	notify_config_free(n->cfg);
	if (n->curl_inited)
		curl_global_cleanup();
	free(n);
}

void notifier_get_stats(const struct notifier *n, struct notifier_stats *st)
{
	*st = n->st;
	st->in_flight = n->in_flight;
}

void notifier_kick(struct notifier *n)
{
	if (n)
		event_active(n->kick, EV_TIMEOUT, 0);
}
