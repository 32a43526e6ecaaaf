/*
 * notify_outbox.c - the notifier's cycle (notify_int.h): every
 * delivery.poll_interval, or at once after a reconnect,
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
 *   then one HTTP request per claimed delivery (notify_http.c); when it
 *   ends, RECORD:
 *                 INSERT the attempt and UPDATE the delivery (attempts + 1,
 *                 state, next_attempt_at, locked_until = NULL) WHERE the
 *                 lease is still ours - one statement. Repeating it after an
 *                 ambiguous connection loss changes nothing (the attempt
 *                 insert checks (delivery_id, at); the lease no longer matches).
 *
 * Secrets (routing keys, webhook secrets, Slack URLs, header values) are
 * never logged: log lines name the sink and the URL's host.
 */
#define _GNU_SOURCE  /* vasprintf */
#include "notify_int.h"
#include "log.h"
#include "strbuf.h"
#include "twtime.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#define COUNT_EVERY_MS     5000
#define ROUTE_ROUNDS       10
#define MAX_SINKS_PER_ROW  64

static const char *const op_names[] = { "route", "route", "claim", "record", "count" };

/* One claimed delivery being sent. */
struct notify_xfer {
	struct notify_xfer *next, *prev;
	struct notifier *n;
	struct sink_msg msg;
	const struct notify_sink_cfg *sink;
	int64_t delivery_id;
	char *key;              /* idempotency key */
	char *lease;            /* locked_until as text: the lease token */
	unsigned attempts;      /* attempts before this one */
	double age_ms;          /* delivery age at the claim (database clock) */
	double claimed_mono;
	int64_t started_wall_ms;
};

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

/* ------------------------------------------------------------ SQL */

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

const char *notify_op_sql(enum notify_op_kind k)
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

/* ------------------------------------------------------------ one delivery */

static void xfer_unlink(struct notifier *n, struct notify_xfer *x)
{
	if (x->prev)
		x->prev->next = x->next;
	else if (n->xfers == x)
		n->xfers = x->next;
	if (x->next)
		x->next->prev = x->prev;
	x->next = x->prev = NULL;
}

static void xfer_free(struct notify_xfer *x)
{
	if (!x)
		return;
	if (x->n)
		xfer_unlink(x->n, x);
	notify_sink_msg_free(&x->msg);
	free(x->key);
	free(x->lease);
	free(x);
}

void notify_outbox_free_xfers(struct notifier *n)
{
	while (n->xfers)
		xfer_free(n->xfers);
}

/* Printable, one line, bounded: for last_error (never logged). */
static void clean_text(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = ' ';
}

/* Queues the RECORD of one finished (or impossible) attempt and frees x. */
static void record(struct notifier *n, struct notify_xfer *x, long status, const char *error,
		   double duration_ms, int64_t retry_after_ms, bool retry_after_given)
{
	const struct notify_config *c = n->cfg;
	enum sink_verdict v = error && !status ? SINK_RETRY : notify_sink_classify(status);
	unsigned attempts = x->attempts + 1;
	int64_t delay = 0;
	char why[512];

	snprintf(why, sizeof why, "%s", error ? error : "");
	if (x->sink == NULL || (error && status < 0)) {
		v = SINK_FAILED;  /* cannot be sent at all: no sink, or a bad payload */
		status = 0;
	} else if (v == SINK_RETRY) {
		delay = notify_sink_backoff_ms(attempts, c->retry_initial_ms, c->retry_max_ms, c->jitter,
					notify_rnd01(n));
		if (retry_after_given && retry_after_ms > delay)
			delay = retry_after_ms;
		double age_next = x->age_ms + (twtime_mono_ms() - x->claimed_mono) + (double)delay;
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

	struct notify_op *op = notify_op_new(OP_RECORD);
	if (!op) {
		log_error("notify: out of memory recording %s; its lease will expire and it will "
			  "be sent again", x->key);
		xfer_free(x);
		return;
	}
	int bad = 0;
	bad |= notify_op_paramf(op, 0, "%lld", (long long)x->delivery_id);
	bad |= notify_op_paramf(op, 1, "%lld", (long long)x->started_wall_ms);
	if (status > 0)
		bad |= notify_op_paramf(op, 2, "%ld", status);
	else
		bad |= notify_op_param(op, 2, NULL);
	bad |= notify_op_param(op, 3, why[0] ? why : NULL);
	bad |= notify_op_paramf(op, 4, "%.3f", duration_ms);
	if (retry_after_given)
		bad |= notify_op_paramf(op, 5, "%lld", (long long)retry_after_ms);
	else
		bad |= notify_op_param(op, 5, NULL);
	bad |= notify_op_param(op, 6, state);
	bad |= notify_op_paramf(op, 7, "%lld", (long long)delay);
	bad |= notify_op_param(op, 8, x->lease);
	op->verdict = v;
	op->what = xstrdup_printf("%s to sink %s (host %s)", x->key,
				  x->sink ? x->sink->name : "?", x->sink ? x->sink->host : "?");
	if (bad || !op->what) {
		log_error("notify: out of memory recording %s", x->key);
		notify_op_free(op);
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
			  desc, status > 0 && notify_sink_classify(status) == SINK_FAILED
			  ? " (not retried)" : strstr(why, "giving up") ? " (giving up)" : "");
	xfer_free(x);
	notify_op_submit(n, op);
}

/* notify_http_cb: the attempt is over. */
static void xfer_done(void *arg, const struct notify_http_result *res)
{
	struct notify_xfer *x = arg;
	long status = 0;
	char err[400] = "";
	int64_t ra = 0;
	bool ra_ok = res->retry_after && notify_sink_retry_after_ms(res->retry_after, twtime_wall_ms(), &ra) == 0;
	if (!res->transport_ok) {
		snprintf(err, sizeof err, "%s", res->error);
		/* the URL may hold a secret (Slack's path): never pass it on */
		if (strstr(err, x->msg.url) || strchr(err, '/'))
			snprintf(err, sizeof err, "%s (host %s)", res->curl_error, x->sink->host);
	} else {
		status = res->status;
		if (notify_sink_classify(status) != SINK_DELIVERED) {
			char body[NOTIFY_HTTP_BODY_KEEP + 1];
			snprintf(body, sizeof body, "%s", res->body);
			clean_text(body);
			snprintf(err, sizeof err, "HTTP %ld%s%s", status, body[0] ? ": " : "", body);
		}
	}
	record(x->n, x, status, err[0] ? err : NULL, res->duration_ms, ra, ra_ok);
}

/* Sends one claimed delivery. Takes key/lease/payload copies. */
static void xfer_start(struct notifier *n, int64_t id, const char *sink_name, const char *key,
		       unsigned attempts, double age_ms, const char *action, const char *payload,
		       const char *lease)
{
	struct notify_xfer *x = calloc(1, sizeof *x);
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
	x->claimed_mono = twtime_mono_ms();
	x->started_wall_ms = twtime_wall_ms();
	for (size_t i = 0; i < n->cfg->nsinks; i++)
		if (strcmp(n->cfg->sinks[i].name, sink_name) == 0)
			x->sink = &n->cfg->sinks[i];
	if (!x->sink) {
		snprintf(err, sizeof err, "sink \"%.64s\" is not in notify.yaml", sink_name);
		record(n, x, -1, err, 0, 0, false);
		return;
	}
	if (notify_sink_build(x->sink, action, payload, key, x->started_wall_ms, &x->msg, err,
		       sizeof err) < 0) {
		record(n, x, -1, err, 0, 0, false);
		return;
	}
	x->next = n->xfers;
	if (n->xfers)
		n->xfers->prev = x;
	n->xfers = x;
	if (notify_http_post(n->http, x->msg.url, x->msg.headers, x->msg.nheaders, x->msg.body,
			     x->msg.body_len, x->sink->timeout_ms, xfer_done, x) < 0) {
		/* counts as a network-side failure: retried */
		record(n, x, 0, "cannot set up the HTTP request", 0, 0, false);
		return;
	}
	log_debug("notify: sending %s to sink %s (%s, host %s), attempt %u", key,
		  x->sink->name, notify_sink_type_name(x->sink->type), x->sink->host, attempts + 1);
}

/* ------------------------------------------------------------ the cycle */

static void cycle_end(struct notifier *n)
{
	n->cycle_busy = false;
	if (twtime_mono_ms() >= n->next_count) {
		n->next_count = twtime_mono_ms() + COUNT_EVERY_MS;
		struct notify_op *op = notify_op_new(OP_COUNT);
		if (op)
			notify_op_submit(n, op);
	}
}

static void claim_step(struct notifier *n)
{
	unsigned room = n->cfg->max_in_flight > notify_http_in_flight(n->http)
			? n->cfg->max_in_flight - notify_http_in_flight(n->http) : 0;
	if (room > n->cfg->batch)
		room = n->cfg->batch;
	if (room == 0) {
		cycle_end(n);
		return;
	}
	struct notify_op *op = notify_op_new(OP_CLAIM);
	if (!op || notify_op_paramf(op, 0, "%u", room) < 0 || notify_op_paramf(op, 1, "%u", n->cfg->lease_ms) < 0) {
		notify_op_free(op);
		cycle_end(n);
		return;
	}
	notify_op_submit(n, op);
}

static void route_select(struct notifier *n)
{
	struct notify_op *op = notify_op_new(OP_ROUTE_SELECT);
	if (!op || notify_op_paramf(op, 0, "%u", n->cfg->batch) < 0) {
		notify_op_free(op);
		cycle_end(n);
		return;
	}
	notify_op_submit(n, op);
}

void notify_cycle_start(struct notifier *n)
{
	if (n->cycle_busy || !pgconn_is_up(n->pg))
		return;
	n->cycle_busy = true;
	n->route_rounds = 0;
	route_select(n);
}

/* Routes the selected rows: builds the ROUTE_APPLY statement's arrays. */
static void route_rows(struct notifier *n, PGresult *r)
{
	int rows = PQntuples(r);
	if (rows == 0) {
		claim_step(n);
		return;
	}
	struct strbuf ids = { 0 }, oids = { 0 }, sinks = { 0 };
	strbuf_puts(&ids, "{");
	strbuf_puts(&oids, "{");
	strbuf_puts(&sinks, "{");
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
		strbuf_puts(&ids, i ? "," : "");
		strbuf_puts(&ids, id);
		for (size_t j = 0; j < k; j++, ndel++) {
			strbuf_puts(&oids, ndel ? "," : "");
			strbuf_puts(&oids, id);
			strbuf_puts(&sinks, ndel ? ",\"" : "\"");
			strbuf_puts(&sinks, n->cfg->sinks[out[j]].name); /* [A-Za-z0-9_.-] only */
			strbuf_puts(&sinks, "\"");
		}
	}
	strbuf_puts(&ids, "}");
	strbuf_puts(&oids, "}");
	strbuf_puts(&sinks, "}");
	struct notify_op *op = notify_op_new(OP_ROUTE_APPLY);
	if (!op || ids.oom || oids.oom || sinks.oom || notify_op_param(op, 0, ids.p) < 0 ||
	    notify_op_param(op, 1, oids.p) < 0 || notify_op_param(op, 2, sinks.p) < 0) {
		log_error("notify: out of memory routing the outbox");
		notify_op_free(op);
		cycle_end(n);
	} else {
		op->selected = (unsigned)rows;
		notify_op_submit(n, op);
	}
	strbuf_free(&ids);
	strbuf_free(&oids);
	strbuf_free(&sinks);
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

void notify_op_finished(struct notifier *n, struct notify_op *op, PGresult *r, const char *err)
{
	if (err) {
		notify_warn_limited(n, op_names[op->kind], err);
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
